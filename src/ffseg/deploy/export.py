"""Export to ONNX (verified in ONNX Runtime), TorchScript and ``torch.export``, plus a sidecar.

Every export folds batch norms first, wraps the model so the artifact returns ``logits``,
``probs`` or ``argmax`` (optionally resized to the input size), writes under a temporary name,
checks the artifact against PyTorch and only then renames it into place: a file that did not
verify never looks complete.
"""

from __future__ import annotations

import glob
import logging
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ffseg._io import STALE_AFTER_S, TEMP_SUFFIX, atomic_write, atomic_write_json
from ffseg._version import __version__
from ffseg.classes import palette_for
from ffseg.deploy.fuse import prepare_for_inference
from ffseg.deploy.model_info import (
    check_input_size,
    has_argmax_switches,
    input_size_of,
    model_name,
    supports_dynamic_shapes,
)
from ffseg.deploy.ort import ort_session
from ffseg.deploy.ties import count_near_ties
from ffseg.layers import resize_to

__all__ = [
    "EXPORT_DYNAMIC_RANGE",
    "EXPORT_FORMATS",
    "EXTRA_VERIFY_OFFSET",
    "MIN_OPSET",
    "OUTPUT_KINDS",
    "ExportReport",
    "ExportVerificationError",
    "SegmentationExportWrapper",
    "check_opset",
    "compare_outputs",
    "export_model",
    "export_onnx",
    "export_program",
    "export_torchscript",
    "max_onnx_opset",
    "remove_stale_temps",
    "sidecar_dict",
    "write_sidecar",
]

log = logging.getLogger(__name__)

OUTPUT_KINDS = ("logits", "probs", "argmax")
#: The oldest ONNX opset ffseg exports (the resize and pooling operators it relies on).
MIN_OPSET = 17
#: Dynamic ONNX exports accept batches up to ``batch`` and heights/widths in ``[min, max]``.
EXPORT_DYNAMIC_RANGE = {"batch": 64, "min": 32, "max": 8192}
#: A dynamic export is also verified at ``(H + offset, max(offset, W - offset))``: a second,
#: different size proves the graph is not specialised to the example input.
EXTRA_VERIFY_OFFSET = 64
#: Required share of pixels whose argmax matches PyTorch's.
DEFAULT_MIN_AGREEMENT = 0.999
#: Random verification inputs drawn at most for a model with argmax switches (see ``ties``).
MAX_REDRAWS = 8
_LABELS = {"onnx": "ONNX", "torchscript": "TorchScript", "torch.export": "torch.export"}
#: Artifact format by file suffix.
EXPORT_FORMATS = {
    ".onnx": "onnx",
    ".ts": "torchscript",
    ".pt": "torchscript",
    ".pt2": "torch.export",
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


def _prepare(
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


def _verify_inputs(
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
    if dynamic:
        off = EXTRA_VERIFY_OFFSET
        inputs.append(draw(1, 3, h + off, max(off, w - off)))
    for img in images or ():
        img = img if img.dim() == 4 else img.unsqueeze(0)
        if not dynamic and tuple(img.shape[-2:]) != (h, w):
            img = resize_to(img, (h, w), "bilinear_half")
        inputs.append(img.float())
    return inputs


def _export_verified(
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
) -> ExportReport:
    """Save with ``save(tmp)``, run ``load(tmp)`` on every input against ``wrapper``, and move
    the file into place only when all agree (a file that failed never looks complete)."""
    checks: list[tuple[np.ndarray, np.ndarray]] = []
    worst: list[float] = []

    def write(tmp: str) -> None:
        save(tmp)
        run = load(tmp)
        with torch.no_grad():
            for x in inputs:
                checks.append((wrapper(x).numpy(), run(x)))
        worst.extend(_check(_LABELS[fmt], path, checks, output, rtol, min_agreement))

    atomic_write(path, write)
    shapes = [list(reference.shape) for reference, _ in checks]
    size = [int(v) for v in inputs[0].shape[-2:]]
    return ExportReport(str(path), fmt, worst[0], worst[1], shapes, input_size=size)


def _onnx_runner(path: Path, tmp: str) -> Callable[[torch.Tensor], np.ndarray]:
    session = ort_session(tmp)

    def run(x: torch.Tensor) -> np.ndarray:
        try:
            return session.run(None, {"input": x.numpy()})[0]
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ExportVerificationError(
                f"ONNX Runtime failed to run {path} on input {tuple(x.shape)}: {exc}. "
                "The file was not written."
            ) from exc

    return run


def remove_stale_temps(path: str | os.PathLike[str], older_than_s: float = STALE_AFTER_S) -> int:
    """Delete the temp files killed writes of ``path`` left beside it (those of the artifact,
    its sidecar and quantize's ``<stem>_fp32.onnx`` + sidecar), older than ``older_than_s``."""
    path = Path(path)
    if not path.parent.is_dir():
        return 0
    fp32 = path.with_name(f"{path.stem}_fp32.onnx")
    names = {path.name, path.with_suffix(".json").name, fp32.name, fp32.with_suffix(".json").name}
    removed, now = 0, time.time()
    for name in names:  # atomic_write's temp names: .<name>.<random>.tmp
        for tmp in path.parent.glob(f".{glob.escape(name)}.*{TEMP_SUFFIX}"):
            try:
                if (
                    tmp.is_file()
                    and not tmp.is_symlink()
                    and now - tmp.stat().st_mtime > older_than_s
                ):
                    tmp.unlink()
                    removed += 1
            except OSError:
                continue
    return removed


def max_onnx_opset(dynamo: bool = True) -> int:
    """The newest opset the installed exporter writes: the ``torch.export``-based one
    (``dynamo``) or the TorchScript-based one, capped by what the installed ``onnx`` knows."""
    from torch.onnx import _constants

    top = _constants.ONNX_MAX_OPSET if dynamo else _constants.ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET
    try:
        import onnx

        top = min(top, onnx.defs.onnx_opset_version())
    except ImportError:  # pragma: no cover - the export extra is checked before exporting
        pass
    return int(top)


def check_opset(opset: int, dynamo: bool = True) -> None:
    """Refuse an opset the installed exporter cannot write (instead of writing another)."""
    top = max_onnx_opset(dynamo)
    if not MIN_OPSET <= opset <= top:
        which = "torch.export-based" if dynamo else "TorchScript-based (--legacy-exporter)"
        raise ValueError(
            f"--opset {opset} is outside what the installed {which} ONNX exporter writes "
            f"({MIN_OPSET}-{top}); pass --opset between {MIN_OPSET} and {top}"
        )


def _written_opset(path: Path) -> int | None:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return next((int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")), None)


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    input_size: tuple[int, int] | None = None,
    *,
    batch: int = 1,
    output: str = "logits",
    resize_to_input: bool = False,
    dynamic: bool = False,
    opset: int = 18,
    dynamo: bool = True,
    verify_images: Sequence[torch.Tensor] | None = None,
    rtol: float = 1e-4,
    min_agreement: float = DEFAULT_MIN_AGREEMENT,
    sidecar: bool = True,
) -> ExportReport:
    """Export ``model`` to ONNX at ``input_size`` ``(H, W)`` and verify it in ONNX Runtime.

    Args:
        input_size: default ``pretrained_cfg.input_size``.
        output: ``"logits"``, ``"probs"`` or ``"argmax"`` (int64 labels).
        resize_to_input: resize logits to the input size inside the graph.
        dynamic: dynamic height/width (and batch) within :data:`EXPORT_DYNAMIC_RANGE`; only for
            models whose ``supports_dynamic_shapes`` is true. Verified at two sizes.
        opset: ONNX opset (>= 17).
        dynamo: use the ``torch.export``-based exporter (else the TorchScript-based one).
        verify_images: normalised real images ``[3,H,W]``/``[B,3,H,W]`` to verify on, in
            addition to a random input.
        rtol: allowed max abs difference relative to ``max(1, max |reference|)``.
        min_agreement: required argmax agreement.

    Raises:
        ExportVerificationError: the exported graph does not reproduce PyTorch (nothing written).
    """
    check_opset(opset, dynamo)
    size = input_size_of(model, input_size)
    if dynamic and not supports_dynamic_shapes(model):
        raise ValueError(
            f"model {model_name(model)} does not support dynamic ONNX shapes "
            "(supports_dynamic_shapes is False); export without --dynamic"
        )
    path = Path(path)
    wrapper = _prepare(model, output, resize_to_input, size)
    example = torch.randn(batch, 3, *size)
    switches = wrapper if has_argmax_switches(model) else None
    inputs = [
        x if dynamic or x.shape[0] == batch else x[:1].expand(batch, -1, -1, -1).contiguous()
        for x in _verify_inputs(size, batch, dynamic, verify_images, switches)
    ]
    report = _export_verified(
        "onnx",
        path,
        wrapper,
        inputs,
        lambda tmp: _onnx_export(wrapper, example, Path(tmp), opset, dynamic, dynamo),
        partial(_onnx_runner, path),
        output=output,
        rtol=rtol,
        min_agreement=min_agreement,
    )
    if sidecar:
        options = dict(output=output, resize_to_input=resize_to_input, dynamic=dynamic)
        written = write_sidecar(model, path, size, verification=report, opset=opset, **options)
        report.sidecar = str(written)
    diff, agree = report.max_abs_diff, report.argmax_agreement
    log.info("wrote %s (max abs diff %.3g, argmax agreement %.4f)", path, diff, agree)
    return report


def _onnx_export(
    wrapper: nn.Module, example: torch.Tensor, path: Path, opset: int, dynamic: bool, dynamo: bool
) -> None:
    names = dict(input_names=["input"], output_names=["output"], opset_version=opset)
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        if dynamo:
            shapes = None
            if dynamic:
                dim, limits = torch.export.Dim, EXPORT_DYNAMIC_RANGE
                side = dict(min=limits["min"], max=limits["max"])
                batch_dim = dim("batch", max=limits["batch"])
                shapes = {"x": {0: batch_dim, 2: dim("height", **side), 3: dim("width", **side)}}
            program = torch.onnx.export(
                wrapper,
                (example,),
                None,
                dynamo=True,
                dynamic_shapes=shapes,
                verbose=False,
                external_data=False,
                **names,
            )
            program.save(str(path), external_data=False)
        else:
            axes = None
            if dynamic:
                axes = {"input": {0: "batch", 2: "height", 3: "width"}, "output": {0: "batch"}}
            torch.onnx.export(
                wrapper, (example,), str(path), dynamo=False, dynamic_axes=axes, **names
            )
    written = _written_opset(path)
    if written != opset:
        raise ValueError(
            f"--opset {opset}: the installed exporter wrote opset {written} instead (it could not "
            f"convert this model); pass --opset {written} or update torch and onnxscript"
        )


def export_torchscript(
    model: nn.Module,
    path: str | os.PathLike[str],
    input_size: tuple[int, int] | None = None,
    *,
    output: str = "logits",
    resize_to_input: bool = False,
    rtol: float = 1e-4,
) -> ExportReport:
    """Trace the folded model with ``torch.jit.trace``, verify it and save it atomically."""
    size = input_size_of(model, input_size)
    wrapper = _prepare(model, output, resize_to_input, size)
    x = torch.randn(1, 3, *size)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(wrapper, x, check_trace=False)

    def load(tmp: str) -> Callable[[torch.Tensor], np.ndarray]:
        module = torch.jit.load(tmp)
        return lambda t: module(t).numpy()

    save = partial(torch.jit.save, traced)
    with warnings.catch_warnings():  # torch.jit.save / load announce their deprecation
        warnings.simplefilter("ignore", FutureWarning)
        return _export_verified(
            "torchscript", Path(path), wrapper, [x], save, load, output=output, rtol=rtol
        )


def export_program(
    model: nn.Module,
    path: str | os.PathLike[str],
    input_size: tuple[int, int] | None = None,
    *,
    output: str = "logits",
    resize_to_input: bool = False,
    rtol: float = 1e-4,
) -> ExportReport:
    """Save a ``torch.export`` program (``.pt2``) of the folded model, verified after reload."""
    size = input_size_of(model, input_size)
    wrapper = _prepare(model, output, resize_to_input, size)
    x = torch.randn(1, 3, *size)
    with torch.no_grad():
        program = torch.export.export(wrapper, (x,))

    def load(tmp: str) -> Callable[[torch.Tensor], np.ndarray]:
        module = torch.export.load(tmp).module()
        return lambda t: module(t).numpy()

    save = partial(torch.export.save, program)
    return _export_verified(
        "torch.export", Path(path), wrapper, [x], save, load, output=output, rtol=rtol
    )


def sidecar_dict(
    model: nn.Module,
    input_size: tuple[int, int],
    *,
    output: str = "logits",
    resize_to_input: bool = False,
    dynamic: bool = False,
    opset: int | None = None,
) -> dict[str, Any]:
    """Everything needed to run an exported model: preprocessing, classes, palette, output."""
    cfg = getattr(model, "pretrained_cfg", None)
    num_classes = int(getattr(model, "num_classes", None) or (cfg.num_classes if cfg else 0))
    classes = list(cfg.classes) if cfg is not None and cfg.classes else None
    if classes is not None and len(classes) != num_classes:
        classes = None
    return {
        "model": cfg.architecture if cfg is not None else None,
        "model_args": dict(cfg.model_args) if cfg is not None else {},
        "task": cfg.task if cfg else "segmentation",
        "input_name": "input",
        "input_layout": "NCHW float32 RGB, (x / 255 - mean) / std",
        "input_size": list(input_size),
        "dynamic_shapes": dynamic,
        "min_input_size": list(cfg.min_input_size) if cfg else [32, 32],
        "mean": list(cfg.mean) if cfg else None,
        "std": list(cfg.std) if cfg else None,
        "output_name": "output",
        "output": output,
        "output_stride": 1 if resize_to_input else (cfg.output_stride if cfg else None),
        "resize_to_input": resize_to_input,
        "num_classes": num_classes,
        "classes": classes,
        "palette": [list(c) for c in palette_for(cfg, num_classes)],
        "dataset": cfg.dataset if cfg else None,
        "opset": opset,
        "bn_folded": True,
        "versions": {"ffseg": __version__, "torch": torch.__version__},
    }


def write_sidecar(
    model: nn.Module,
    artifact: str | os.PathLike[str],
    input_size: tuple[int, int],
    *,
    verification: ExportReport | None = None,
    **kwargs: Any,
) -> Path:
    """Write ``<artifact stem>.json`` next to the artifact (atomically); returns its path."""
    data = sidecar_dict(model, input_size, **kwargs)
    if verification is not None:
        data["verification"] = {
            "max_abs_diff": verification.max_abs_diff,
            "argmax_agreement": verification.argmax_agreement,
            "checked_shapes": verification.checked_shapes,
        }
    return atomic_write_json(Path(artifact).with_suffix(".json"), data)


def export_model(
    model: nn.Module,
    path: str | os.PathLike[str],
    input_size: tuple[int, int] | None = None,
    *,
    format: str | None = None,
    output: str = "logits",
    resize_to_input: bool = False,
    rtol: float = 1e-4,
    **onnx_options: Any,
) -> ExportReport:
    """Export to the format ``format`` names (default: from the suffix, see
    :data:`EXPORT_FORMATS`); ``onnx_options`` (``batch``, ``dynamic``, ``opset``, ``dynamo``,
    ``verify_images``) go to :func:`export_onnx` and are ignored by the other formats."""
    fmt = format or EXPORT_FORMATS.get(Path(path).suffix.lower())
    if fmt not in _LABELS:
        raise ValueError(
            f"cannot tell the export format of {path} ({format=}); use a name ending in "
            f"{', '.join(EXPORT_FORMATS)} or format= one of {sorted(_LABELS)}"
        )
    common = dict(output=output, resize_to_input=resize_to_input, rtol=rtol)
    if fmt == "onnx":
        return export_onnx(model, path, input_size, **common, **onnx_options)
    exporter = export_torchscript if fmt == "torchscript" else export_program
    return exporter(model, path, input_size, **common)
