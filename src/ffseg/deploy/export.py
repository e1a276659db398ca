"""Export to ONNX (verified in ONNX Runtime), OpenVINO IR, TorchScript and ``torch.export``.

One verified-export function, :func:`export_model`, picks the format from the file suffix; each
format lives in its own module (``export_onnx``, ``openvino``, ``export_torchscript``,
``export_program``), the wrapper and the verification they share in ``export_common`` and the
sidecar in ``sidecar``.
Every export folds batch norms first, wraps the model so the artifact returns ``logits``,
``probs`` or ``argmax`` (optionally resized to the input size), writes under a temporary name,
checks the artifact against PyTorch and only then renames it into place.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from torch import nn

from ffseg.deploy.export_common import (
    EXTRA_VERIFY_OFFSET,
    FORMAT_LABELS,
    OUTPUT_KINDS,
    ExportReport,
    ExportVerificationError,
    SegmentationExportWrapper,
    compare_outputs,
)
from ffseg.deploy.export_onnx import EXPORT_DYNAMIC_RANGE, export_onnx
from ffseg.deploy.export_program import export_program
from ffseg.deploy.export_torchscript import export_torchscript
from ffseg.deploy.sidecar import sidecar_dict, write_sidecar

__all__ = [
    "EXPORT_DYNAMIC_RANGE",
    "EXPORT_FORMATS",
    "EXTRA_VERIFY_OFFSET",
    "OUTPUT_KINDS",
    "ExportReport",
    "ExportVerificationError",
    "SegmentationExportWrapper",
    "compare_outputs",
    "export_model",
    "export_onnx",
    "export_program",
    "export_torchscript",
    "sidecar_dict",
    "write_sidecar",
]

#: Artifact format by file suffix.
EXPORT_FORMATS = {
    ".onnx": "onnx",
    ".ts": "torchscript",
    ".pt": "torchscript",
    ".pt2": "torch.export",
    ".xml": "openvino",
}
#: Options of :func:`export_model` each format takes besides ``output``/``resize_to_input``/``rtol``.
_FORMAT_OPTIONS = {
    "onnx": (
        *("batch", "dynamic", "opset", "dynamo", "verify_images", "min_agreement", "sidecar"),
        *("fp16", "simplify"),
    ),
    "openvino": ("batch", "dynamic", "verify_images", "min_agreement", "sidecar"),
}


def export_model(
    model: nn.Module,
    path: str | os.PathLike[str],
    input_size: tuple[int, int] | None = None,
    *,
    format: str | None = None,
    output: str = "logits",
    resize_to_input: bool = False,
    rtol: float = 1e-4,
    **options: Any,
) -> ExportReport:
    """Export to the format ``format`` names (default: from the suffix, see
    :data:`EXPORT_FORMATS`), verified, with a JSON sidecar next to the artifact.

    ``options`` (``batch``, ``dynamic``, ``opset``, ``dynamo``, ``verify_images``) go to
    :func:`export_onnx` / :func:`~ffseg.deploy.openvino.export_openvino` (those each takes) and
    are ignored by the torch formats.
    """
    fmt = format or EXPORT_FORMATS.get(Path(path).suffix.lower())
    if fmt not in FORMAT_LABELS:
        raise ValueError(
            f"cannot tell the export format of {path} ({format=}); use a name ending in "
            f"{', '.join(EXPORT_FORMATS)} or format= one of {sorted(FORMAT_LABELS)}"
        )
    common = dict(output=output, resize_to_input=resize_to_input, rtol=rtol)
    if fmt in _FORMAT_OPTIONS:
        taken = {k: v for k, v in options.items() if k in _FORMAT_OPTIONS[fmt]}
        if fmt == "onnx":
            return export_onnx(model, path, input_size, **common, **taken)
        from ffseg.deploy.openvino import export_openvino

        return export_openvino(model, path, input_size, **common, **taken)
    exporter = export_torchscript if fmt == "torchscript" else export_program
    report = exporter(model, path, input_size, **common)
    size = (report.input_size[0], report.input_size[1])
    extra = dict(output=output, resize_to_input=resize_to_input)
    report.sidecar = str(write_sidecar(model, path, size, verification=report, **extra))
    return report
