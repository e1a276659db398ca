"""ONNX export, verified in ONNX Runtime (static or dynamic batch/height/width)."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ffseg.deploy.export_common import (
    DEFAULT_MIN_AGREEMENT,
    ExportReport,
    ExportVerificationError,
    export_verified,
    prepare_wrapper,
    verify_inputs,
)
from ffseg.deploy.extras import require_extra
from ffseg.deploy.model_info import (
    has_argmax_switches,
    input_size_of,
    model_name,
    supports_dynamic_shapes,
)
from ffseg.deploy.ort import ort_session
from ffseg.deploy.sidecar import write_sidecar

__all__ = [
    "EXPORT_DYNAMIC_RANGE",
    "FP16_MIN_AGREEMENT",
    "FP16_RTOL",
    "MIN_OPSET",
    "check_opset",
    "export_onnx",
    "max_onnx_opset",
]

log = logging.getLogger(__name__)

#: Dynamic ONNX exports accept batches up to ``batch`` and heights/widths in ``[min, max]``.
EXPORT_DYNAMIC_RANGE = {"batch": 64, "min": 32, "max": 8192}
#: Verification of a float16 export: max abs diff relative to the largest logit, argmax
#: agreement (float16 rounding flips near-ties).
FP16_RTOL = 1e-2
FP16_MIN_AGREEMENT = 0.99


#: The oldest ONNX opset ffseg exports (the resize and pooling operators it relies on).
MIN_OPSET = 17


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
    fp16: bool = False,
    simplify: bool = False,
) -> ExportReport:
    """Export ``model`` to ONNX at ``input_size`` ``(H, W)`` and verify it in ONNX Runtime.

    Args:
        input_size: default ``pretrained_cfg.input_size``.
        output: ``"logits"``, ``"probs"`` or ``"argmax"`` (int64 labels).
        resize_to_input: resize logits to the input size inside the graph.
        dynamic: dynamic height/width (and batch) within :data:`EXPORT_DYNAMIC_RANGE`; only for
            models whose ``supports_dynamic_shapes`` is true. Verified at three sizes and two
            batch sizes.
        opset: ONNX opset (>= 17).
        dynamo: use the ``torch.export``-based exporter (else the TorchScript-based one).
        verify_images: normalised real images ``[3,H,W]``/``[B,3,H,W]`` to verify on, in
            addition to a random input.
        rtol: allowed max abs difference relative to ``max(1, max |reference|)``.
        min_agreement: required argmax agreement.
        fp16: store weights and compute in float16 (for GPUs) with float32 inputs and outputs;
            verified on the CPU within :data:`FP16_RTOL` and :data:`FP16_MIN_AGREEMENT`.
        simplify: run the onnxslim graph simplification (verified like any export).

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
    wrapper = prepare_wrapper(model, output, resize_to_input, size)
    example = torch.randn(batch, 3, *size)
    switches = wrapper if has_argmax_switches(model) else None
    inputs = [
        x if dynamic or x.shape[0] == batch else x[:1].expand(batch, -1, -1, -1).contiguous()
        for x in verify_inputs(size, batch, dynamic, verify_images, switches)
    ]
    report = export_verified(
        "onnx",
        path,
        wrapper,
        inputs,
        partial(_save, wrapper, example, opset, dynamic, dynamo, simplify, fp16),
        partial(_onnx_runner, path),
        output=output,
        rtol=max(rtol, FP16_RTOL) if fp16 else rtol,
        min_agreement=min(min_agreement, FP16_MIN_AGREEMENT) if fp16 else min_agreement,
    )
    if sidecar:
        options = dict(output=output, resize_to_input=resize_to_input, dynamic=dynamic)
        options.update(precision="fp16" if fp16 else "fp32", simplified=simplify)
        written = write_sidecar(model, path, size, verification=report, opset=opset, **options)
        report.sidecar = str(written)
    diff, agree = report.max_abs_diff, report.argmax_agreement
    log.info("wrote %s (max abs diff %.3g, argmax agreement %.4f)", path, diff, agree)
    return report


def _save(
    wrapper: nn.Module,
    example: torch.Tensor,
    opset: int,
    dynamic: bool,
    dynamo: bool,
    simplify: bool,
    fp16: bool,
    tmp: str,
) -> None:
    _onnx_export(wrapper, example, Path(tmp), opset, dynamic, dynamo)
    if simplify or fp16:
        _transform(Path(tmp), simplify, fp16)


def _transform(path: Path, simplify: bool, fp16: bool) -> None:
    """Simplify the graph with onnxslim and/or convert it to float16 (float32 inputs/outputs)."""
    import onnx

    graph = onnx.load(str(path))
    if simplify:
        require_extra("export", "onnxslim", purpose="ONNX export with --simplify")
        import onnxslim

        graph = onnxslim.slim(graph)
    if fp16:
        from onnxruntime.transformers.float16 import convert_float_to_float16

        graph = convert_float_to_float16(graph, keep_io_types=True)
    onnx.save(graph, str(path))


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
