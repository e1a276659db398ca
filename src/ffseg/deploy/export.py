"""Export to ONNX (verified in ONNX Runtime), TorchScript and ``torch.export``, plus a sidecar.

Every export folds batch norms first, wraps the model so the artifact returns ``logits``,
``probs`` or ``argmax`` (optionally resized to the input size), writes under a temporary name,
checks the artifact against PyTorch and only then renames it into place: a file that did not
verify never looks complete.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ffseg.deploy.fuse import prepare_for_inference

__all__ = [
    "OUTPUT_KINDS",
    "ExportReport",
    "ExportVerificationError",
    "SegmentationExportWrapper",
    "compare_outputs",
    "export_onnx",
    "export_program",
    "export_torchscript",
    "sidecar_dict",
    "write_sidecar",
]

log = logging.getLogger(__name__)

OUTPUT_KINDS = ("logits", "probs", "argmax")


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
            y = F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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


def _atomic_target(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    return Path(tmp)


def _prepare(
    model: nn.Module, output: str, resize_to_input: bool, input_size: tuple[int, int]
) -> SegmentationExportWrapper:
    from ffseg.inference import check_input_size

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
    input_size: tuple[int, int], batch: int, dynamic: bool, images: Sequence[torch.Tensor] | None
) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    h, w = input_size
    inputs = [torch.randn(batch, 3, h, w, generator=gen)]
    if dynamic:  # a second, different size proves the graph is not specialised
        inputs.append(torch.randn(1, 3, h + 64, max(64, w - 64), generator=gen))
    for img in images or ():
        img = img if img.dim() == 4 else img.unsqueeze(0)
        if not dynamic and tuple(img.shape[-2:]) != (h, w):
            img = F.interpolate(img, size=(h, w), mode="bilinear", align_corners=False)
        inputs.append(img.float())
    return inputs


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
    min_agreement: float = 0.999,
    sidecar: bool = True,
) -> ExportReport:
    """Export ``model`` to ONNX at ``input_size`` ``(H, W)`` and verify it in ONNX Runtime.

    Args:
        input_size: default ``pretrained_cfg.input_size``.
        output: ``"logits"``, ``"probs"`` or ``"argmax"`` (int64 labels).
        resize_to_input: resize logits to the input size inside the graph.
        dynamic: dynamic height/width (and batch); only for models whose
            ``pretrained_cfg.onnx_dynamic_shapes`` is true. Verified at two sizes.
        opset: ONNX opset (>= 17).
        dynamo: use the ``torch.export``-based exporter (else the TorchScript-based one).
        verify_images: normalised real images ``[3,H,W]``/``[B,3,H,W]`` to verify on, in
            addition to a random input.
        rtol: allowed max abs difference relative to ``max(1, max |reference|)``.
        min_agreement: required argmax agreement.

    Raises:
        ExportVerificationError: the exported graph does not reproduce PyTorch (nothing written).
    """
    from ffseg.deploy.ort import ort_session

    if opset < 17:
        raise ValueError(f"opset must be >= 17, got {opset}")
    cfg = getattr(model, "pretrained_cfg", None)
    input_size = tuple(input_size or (cfg.input_size[1:] if cfg else (512, 512)))  # type: ignore[assignment]
    if dynamic and cfg is not None and not cfg.onnx_dynamic_shapes:
        raise ValueError(
            f"model {getattr(model, 'model_args', {}).get('name', '?')} does not support dynamic "
            "ONNX shapes (pretrained_cfg.onnx_dynamic_shapes is False); export without --dynamic"
        )
    path = Path(path)
    wrapper = _prepare(model, output, resize_to_input, input_size)  # type: ignore[arg-type]
    example = torch.randn(batch, 3, *input_size)
    tmp = _atomic_target(path)
    try:
        _onnx_export(wrapper, example, tmp, opset, dynamic, dynamo)
        session = ort_session(tmp)
        checks = []
        for x in _verify_inputs(input_size, batch, dynamic, verify_images):  # type: ignore[arg-type]
            if not dynamic and x.shape[0] != batch:
                x = x[:1].expand(batch, -1, -1, -1).contiguous()
            with torch.inference_mode():
                reference = wrapper(x).numpy()
            try:
                candidate = session.run(None, {"input": x.numpy()})[0]
            except Exception as exc:
                raise ExportVerificationError(
                    f"ONNX Runtime failed to run {path} on input {tuple(x.shape)}: {exc}. "
                    "The file was not written."
                ) from exc
            checks.append((reference, candidate))
        diff, agree = _check("ONNX", path, checks, output, rtol, min_agreement)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    report = ExportReport(str(path), "onnx", diff, agree, [list(r.shape) for r, _ in checks])
    if sidecar:
        report.sidecar = str(
            write_sidecar(
                model, path, input_size, output=output, resize_to_input=resize_to_input,
                dynamic=dynamic, opset=opset, verification=report,
            )
        )  # fmt: skip
    log.info("wrote %s (max abs diff %.3g, argmax agreement %.4f)", path, diff, agree)
    return report


def _onnx_export(
    wrapper: nn.Module, example: torch.Tensor, path: Path, opset: int, dynamic: bool, dynamo: bool
) -> None:
    out_name = ["output"]
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        if dynamo:
            shapes = None
            if dynamic:
                dim = torch.export.Dim
                shapes = {"x": {0: dim("batch", max=64), 2: dim("height", min=32, max=8192),
                                3: dim("width", min=32, max=8192)}}  # fmt: skip
            program = torch.onnx.export(
                wrapper, (example,), None, dynamo=True, opset_version=opset,
                input_names=["input"], output_names=out_name, dynamic_shapes=shapes,
                verbose=False, external_data=False,
            )  # fmt: skip
            program.save(str(path), external_data=False)
        else:
            axes = None
            if dynamic:
                axes = {"input": {0: "batch", 2: "height", 3: "width"}, "output": {0: "batch"}}
            torch.onnx.export(
                wrapper, (example,), str(path), dynamo=False, opset_version=opset,
                input_names=["input"], output_names=out_name, dynamic_axes=axes,
            )  # fmt: skip


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
    cfg = getattr(model, "pretrained_cfg", None)
    input_size = tuple(input_size or cfg.input_size[1:])  # type: ignore[union-attr,assignment]
    wrapper = _prepare(model, output, resize_to_input, input_size)  # type: ignore[arg-type]
    x = torch.randn(1, 3, *input_size)
    path = Path(path)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(wrapper, x, check_trace=False)
        reference = wrapper(x).numpy()
        tmp = _atomic_target(path)
        try:
            torch.jit.save(traced, str(tmp))
            candidate = torch.jit.load(str(tmp))(x).numpy()
            diff, agree = _check("TorchScript", path, [(reference, candidate)], output, rtol, 0.999)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return ExportReport(str(path), "torchscript", diff, agree, [list(reference.shape)])


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
    cfg = getattr(model, "pretrained_cfg", None)
    input_size = tuple(input_size or cfg.input_size[1:])  # type: ignore[union-attr,assignment]
    wrapper = _prepare(model, output, resize_to_input, input_size)  # type: ignore[arg-type]
    x = torch.randn(1, 3, *input_size)
    path = Path(path)
    with torch.no_grad():
        program = torch.export.export(wrapper, (x,))
        reference = wrapper(x).numpy()
    tmp = _atomic_target(path)
    try:
        torch.export.save(program, str(tmp))
        with torch.no_grad():
            candidate = torch.export.load(str(tmp)).module()(x).numpy()
        diff, agree = _check("torch.export", path, [(reference, candidate)], output, rtol, 0.999)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return ExportReport(str(path), "torch.export", diff, agree, [list(reference.shape)])


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
    import ffseg
    from ffseg.inference import palette_for

    cfg = getattr(model, "pretrained_cfg", None)
    num_classes = int(getattr(model, "num_classes", None) or (cfg.num_classes if cfg else 0))
    classes = list(cfg.classes) if cfg is not None and cfg.classes else None
    if classes is not None and len(classes) != num_classes:
        classes = None
    return {
        "model": getattr(model, "model_args", {}).get("name"),
        "model_args": {k: v for k, v in getattr(model, "model_args", {}).items() if k != "name"},
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
        "versions": {"ffseg": ffseg.__version__, "torch": torch.__version__},
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
    target = Path(artifact).with_suffix(".json")
    tmp = _atomic_target(target)
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, target)
    return target
