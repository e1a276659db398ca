"""What every export shares: the output wrapper, the verification against PyTorch and its report.

An exporter saves its artifact with :func:`export_verified`, which writes under a temporary name,
runs the reloaded artifact on every verification input against the wrapped PyTorch model and
renames it into place only when all agree: a file that did not verify never looks complete.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ffseg._io import atomic_write
from ffseg.deploy.fuse import prepare_for_inference
from ffseg.deploy.model_info import check_input_size
from ffseg.deploy.ties import count_near_ties
from ffseg.layers import resize_to

__all__ = [
    "DEFAULT_MIN_AGREEMENT",
    "EXTRA_VERIFY_OFFSET",
    "FORMAT_LABELS",
    "OUTPUT_KINDS",
    "ExportReport",
    "ExportVerificationError",
    "SegmentationExportWrapper",
    "compare_outputs",
    "export_verified",
    "prepare_wrapper",
    "verify_inputs",
]

OUTPUT_KINDS = ("logits", "probs", "argmax")
#: A dynamic export is also verified at ``(H + offset, max(offset, W - offset))`` (batch 1) and
#: ``(H + 2 offset, W + offset)`` (batch + 1): three sizes and two batch sizes prove the graph
#: is not specialised to the example input.
EXTRA_VERIFY_OFFSET = 64
#: Required share of pixels whose argmax matches PyTorch's.
DEFAULT_MIN_AGREEMENT = 0.999
#: Random verification inputs drawn at most for a model with argmax switches (see ``ties``).
MAX_REDRAWS = 8
#: Display name of each export format.
FORMAT_LABELS = {
    "onnx": "ONNX",
    "torchscript": "TorchScript",
    "torch.export": "torch.export",
    "openvino": "OpenVINO",
}


class ExportVerificationError(RuntimeError):
    """An exported artifact does not reproduce the PyTorch model's outputs."""


class SegmentationExportWrapper(nn.Module):
    """``model`` plus the chosen output: raw logits, softmax probabilities or argmax labels.

    With ``resize_to_input`` the logits are bilinearly resized (``align_corners=False``) to the
    input's height and width before the softmax / argmax (segmentation models only).
    """

    def __init__(self, model: nn.Module, output: str = "logits", resize_to_input: bool = False):
        super().__init__()
        if output not in OUTPUT_KINDS:
            raise ValueError(f"output must be one of {OUTPUT_KINDS}, got {output!r}")
        self.model = model
        self.output = output
        self.resize_to_input = resize_to_input

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.model(x)
        if self.resize_to_input and y.dim() == 4:
            y = resize_to(y, x.shape[-2:], "bilinear_half")
        if self.output == "probs":
            return y.softmax(dim=1)
        if self.output == "argmax":
            return y.argmax(dim=1)
        return y


@dataclass
class ExportReport:
    """Where an artifact was written and how well it matched PyTorch."""

    path: str
    format: str
    max_abs_diff: float
    argmax_agreement: float
    checked_shapes: list[list[int]] = field(default_factory=list)
    sidecar: str | None = None
    input_size: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One line: what was written and how well it matched PyTorch."""
        h, w = self.input_size or ("?", "?")
        line = (
            f"wrote {self.path} ({self.format}, input {h}x{w}): verified on "
            f"{len(self.checked_shapes)} input(s), max abs diff {self.max_abs_diff:.3g}, "
            f"argmax agreement {self.argmax_agreement:.4%}"
        )
        return line + (f"; sidecar {self.sidecar}" if self.sidecar else "")


def compare_outputs(reference: np.ndarray, candidate: np.ndarray) -> tuple[float, float]:
    """``(max abs difference, argmax agreement)`` of two outputs (logits/probs or labels)."""
    if reference.shape != candidate.shape:
        raise ExportVerificationError(
            f"output shape {tuple(candidate.shape)} differs from PyTorch's {tuple(reference.shape)}"
        )
    if np.issubdtype(reference.dtype, np.integer):
        agree = float((reference == candidate).mean())
        return float(reference.astype(np.int64).__sub__(candidate).__abs__().max()), agree
    diff = float(np.abs(reference.astype(np.float64) - candidate.astype(np.float64)).max())
    if reference.ndim >= 2:
        agree = float((reference.argmax(1) == candidate.argmax(1)).mean())
    else:
        agree = 1.0
    return diff, agree


def prepare_wrapper(
    model: nn.Module, output: str, resize_to_input: bool, input_size: tuple[int, int]
) -> SegmentationExportWrapper:
    check_input_size(model, input_size)
    folded = prepare_for_inference(model.float().cpu(), fold_bn=True)
    return SegmentationExportWrapper(folded, output, resize_to_input).eval()


def _check(
    name: str,
    path: Path,
    checks: list[tuple[np.ndarray, np.ndarray]],
    output: str,
    rtol: float,
    min_agreement: float,
) -> tuple[float, float]:
    worst_diff, worst_agree = 0.0, 1.0
    for reference, candidate in checks:
        diff, agree = compare_outputs(reference, candidate)
        scale = max(1.0, float(np.abs(reference).max())) if output != "argmax" else 0.0
        ok_diff = output == "argmax" or diff <= rtol * scale
        if not ok_diff or agree < min_agreement:
            raise ExportVerificationError(
                f"{name} export {path} does not match PyTorch on input {tuple(reference.shape)}: "
                f"max abs diff {diff:.3g} (allowed {rtol * scale:.3g}), argmax agreement "
                f"{agree:.4%} (required {min_agreement:.2%}). The file was not written; try "
                f"another opset, a static export (no --dynamic) or report the model."
            )
        worst_diff, worst_agree = max(worst_diff, diff), min(worst_agree, agree)
    return worst_diff, worst_agree


def verify_inputs(
    input_size: tuple[int, int],
    batch: int,
    dynamic: bool,
    images: Sequence[torch.Tensor] | None,
    switches: nn.Module | None = None,
) -> list[torch.Tensor]:
    """Random inputs (and ``images``) to verify an export on; for a model with argmax switches
    (``switches``), random inputs are redrawn until its poolings have no near-tie."""
    gen = torch.Generator().manual_seed(0)
    h, w = input_size

    def draw(*shape: int) -> torch.Tensor:
        x = torch.randn(*shape, generator=gen)
        for _ in range(MAX_REDRAWS if switches is not None else 0):
            if not count_near_ties(switches, x):
                break
            x = torch.randn(*shape, generator=gen)
        return x

    inputs = [draw(batch, 3, h, w)]
    if dynamic:  # three sizes and two batch sizes
        off = EXTRA_VERIFY_OFFSET
        inputs.append(draw(1, 3, h + off, max(off, w - off)))
        inputs.append(draw(batch + 1, 3, h + 2 * off, w + off))
    for img in images or ():
        img = img if img.dim() == 4 else img.unsqueeze(0)
        if not dynamic and tuple(img.shape[-2:]) != (h, w):
            img = resize_to(img, (h, w), "bilinear_half")
        inputs.append(img.float())
    return inputs


def export_verified(
    fmt: str,
    path: Path,
    wrapper: nn.Module,
    inputs: Sequence[torch.Tensor],
    save: Callable[[str], None],
    load: Callable[[str], Callable[[torch.Tensor], np.ndarray]],
    *,
    output: str,
    rtol: float,
    min_agreement: float = DEFAULT_MIN_AGREEMENT,
    before_replace: Callable[[], None] | None = None,
) -> ExportReport:
    """Save with ``save(tmp)``, run ``load(tmp)`` on every input against ``wrapper``, and move
    the file into place only when all agree (a file that failed never looks complete).

    ``before_replace()`` runs once all agree, just before the rename: a format whose artifact
    has a companion file (OpenVINO's ``.bin``) puts it in place there.
    """
    checks: list[tuple[np.ndarray, np.ndarray]] = []
    worst: list[float] = []

    def write(tmp: str) -> None:
        save(tmp)
        run = load(tmp)
        with torch.no_grad():
            for x in inputs:
                checks.append((wrapper(x).numpy(), run(x)))
        worst.extend(_check(FORMAT_LABELS[fmt], path, checks, output, rtol, min_agreement))
        if before_replace is not None:
            before_replace()

    atomic_write(path, write)
    shapes = [list(reference.shape) for reference, _ in checks]
    size = [int(v) for v in inputs[0].shape[-2:]]
    return ExportReport(str(path), fmt, worst[0], worst[1], shapes, input_size=size)
