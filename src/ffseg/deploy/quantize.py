"""INT8 post-training static quantization through ONNX Runtime (QDQ, per-channel weights).

Calibration images are passed in (normalised ``[1,3,H,W]`` arrays, e.g. from an ffseg dataset
built by the caller); :func:`quantize_and_compare` also measures mIoU (with
:func:`ffseg.engine.evaluate.evaluate` over :class:`ffseg.deploy.ort.OnnxModel`) and latency
before and after, on a labelled loader the caller builds.
"""

from __future__ import annotations

import logging
import os
import statistics
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import DataLoader

from ffseg._io import atomic_write, atomic_write_json
from ffseg.deploy.ort import OnnxModel, read_sidecar
from ffseg.deploy.runtime import time_fn
from ffseg.engine.evaluate import InferenceSpec, evaluate

__all__ = [
    "CALIBRATION_METHODS",
    "QuantizeComparison",
    "QuantizeResult",
    "find_boundary_convs",
    "quantize_and_compare",
    "quantize_onnx",
]

log = logging.getLogger(__name__)

CALIBRATION_METHODS = ("minmax", "entropy", "percentile")


class _Reader:
    """An ``onnxruntime.quantization.CalibrationDataReader`` over arrays."""

    def __init__(self, name: str, arrays: Iterable[np.ndarray]) -> None:
        self.name = name
        self._it = iter(arrays)

    def get_next(self) -> dict[str, np.ndarray] | None:
        item = next(self._it, None)
        return None if item is None else {self.name: np.ascontiguousarray(item, np.float32)}


def find_boundary_convs(path: str | os.PathLike[str]) -> tuple[str | None, str | None]:
    """Names of the first and the last ``Conv`` node of an ONNX graph (stem and classifier)."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    convs = [node.name for node in graph.node if node.op_type == "Conv"]
    return (convs[0], convs[-1]) if convs else (None, None)


def quantize_onnx(
    fp32_path: str | os.PathLike[str],
    int8_path: str | os.PathLike[str],
    calibration: Iterable[np.ndarray],
    *,
    per_channel: bool = True,
    exclude_first_conv: bool = False,
    exclude_classifier: bool = False,
    method: str = "minmax",
    reduce_range: bool = False,
) -> Path:
    """Quantize ``fp32_path`` to INT8 QDQ (uint8 activations, int8 weights) at ``int8_path``.

    ``calibration`` yields normalised ``[1,3,H,W]`` float32 arrays. ``method`` is ``"minmax"``,
    ``"entropy"`` or ``"percentile"``. The first conv (stem) and/or the classifier conv can be
    kept in float. The file is written under a temporary name and renamed when complete.
    """
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_static,
    )

    fp32_path, int8_path = Path(fp32_path), Path(int8_path)
    if not fp32_path.is_file():
        raise FileNotFoundError(f"ONNX model not found: {fp32_path} (create it with ffseg export)")
    if method not in CALIBRATION_METHODS:
        raise ValueError(f"calibration method must be one of {CALIBRATION_METHODS}, got {method!r}")
    methods = {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }
    arrays = list(calibration)
    if not arrays:
        raise ValueError("no calibration images: pass a dataset with at least one image")
    first, last = find_boundary_convs(fp32_path)
    exclude = [n for n, flag in ((first, exclude_first_conv), (last, exclude_classifier)) if flag]
    import onnx

    with tempfile.TemporaryDirectory(prefix="ffseg-quantize-") as scratch:
        prepped = Path(scratch) / "prepped.onnx"
        try:
            quant_pre_process(str(fp32_path), str(prepped), skip_symbolic_shape=True)
        except Exception as exc:  # pre-processing is an optimisation; quantize the raw graph
            log.warning("onnxruntime quant_pre_process failed (%s); quantizing as is", exc)
            prepped = fp32_path
        input_name = onnx.load(str(prepped), load_external_data=False).graph.input[0].name
        atomic_write(
            int8_path,
            lambda tmp: quantize_static(
                str(prepped),
                tmp,
                _Reader(input_name, arrays),
                quant_format=QuantFormat.QDQ,
                per_channel=per_channel,
                reduce_range=reduce_range,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=methods[method],
                nodes_to_exclude=exclude,
            ),
        )
    sidecar = fp32_path.with_suffix(".json")
    if sidecar.is_file() and sidecar != int8_path.with_suffix(".json"):
        meta = read_sidecar(fp32_path)  # applies unchanged, plus the quantization note
        meta["quantization"] = {
            "format": "QDQ",
            "activations": "uint8",
            "weights": "int8",
            "per_channel": per_channel,
            "method": method,
            "calibration_images": len(arrays),
            "excluded_nodes": exclude,
        }
        atomic_write_json(int8_path.with_suffix(".json"), meta)
    return int8_path


@dataclass
class QuantizeResult:
    """Accuracy and latency of one ONNX file."""

    path: str
    miou: float
    aacc: float
    num_images: int
    median_ms: float


@dataclass
class QuantizeComparison:
    """fp32 vs int8: what :func:`quantize_and_compare` measured."""

    fp32: QuantizeResult
    int8: QuantizeResult
    input_size: list[int]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """A small table plus the speed-up and the mIoU change."""
        lines = [f"{'':6s} {'mIoU':>8s} {'aAcc':>8s} {'median ms':>10s}"]
        for key, r in (("fp32", self.fp32), ("int8", self.int8)):
            lines.append(f"{key:6s} {r.miou * 100:8.2f} {r.aacc * 100:8.2f} {r.median_ms:10.1f}")
        speedup = self.fp32.median_ms / self.int8.median_ms
        change = (self.int8.miou - self.fp32.miou) * 100
        lines.append(
            f"speed-up {speedup:.2f}x, mIoU change {change:+.2f} points; wrote {self.int8.path}"
        )
        return "\n".join(lines)


def _measure(
    path: Path, loader: DataLoader, example: np.ndarray, runs: int, threads: int | None
) -> QuantizeResult:
    model = OnnxModel(path, threads=threads)
    metrics = evaluate(model, loader, model.num_classes, spec=InferenceSpec.for_model(model))
    times = time_fn(lambda: model.session.run(None, {"input": example}), runs, warmup=3)
    return QuantizeResult(
        str(path), metrics["miou"], metrics["aacc"], metrics["num_images"], statistics.median(times)
    )


def quantize_and_compare(
    fp32_path: str | os.PathLike[str],
    int8_path: str | os.PathLike[str],
    calibration: Sequence[np.ndarray],
    val_loader: DataLoader,
    *,
    runs: int = 20,
    threads: int | None = None,
    **options: Any,
) -> QuantizeComparison:
    """Quantize ``fp32_path`` (with its sidecar) to ``int8_path``, then measure both files.

    ``calibration``: normalised ``[1,3,H,W]`` arrays; ``val_loader``: labelled, normalised
    batches for mIoU; ``runs``: timed runs for the median latency; ``options`` go to
    :func:`quantize_onnx` (``per_channel``, ``method``, ``exclude_first_conv``, ...).
    """
    fp32_path, int8_path = Path(fp32_path), Path(int8_path)
    quantize_onnx(fp32_path, int8_path, calibration, **options)
    example = np.ascontiguousarray(calibration[0], np.float32)
    return QuantizeComparison(
        fp32=_measure(fp32_path, val_loader, example, runs, threads),
        int8=_measure(int8_path, val_loader, example, runs, threads),
        input_size=list(read_sidecar(fp32_path)["input_size"]),
    )
