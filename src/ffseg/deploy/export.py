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

import glob
import os
import time
from pathlib import Path
from typing import Any

from torch import nn

from ffseg._io import STALE_AFTER_S, TEMP_SUFFIX
from ffseg.deploy.export_common import (
    EXTRA_VERIFY_OFFSET,
    FORMAT_LABELS,
    OUTPUT_KINDS,
    ExportReport,
    ExportVerificationError,
    SegmentationExportWrapper,
    compare_outputs,
)
from ffseg.deploy.export_onnx import (
    EXPORT_DYNAMIC_RANGE,
    MIN_OPSET,
    check_opset,
    export_onnx,
    max_onnx_opset,
)
from ffseg.deploy.export_program import export_program
from ffseg.deploy.export_torchscript import export_torchscript
from ffseg.deploy.sidecar import sidecar_dict, write_sidecar

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
