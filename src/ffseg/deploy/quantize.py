"""INT8 post-training static quantization through ONNX Runtime (QDQ, per-channel weights).

Calibration activations come from any ffseg dataset (or any iterable of normalised images);
``evaluate_onnx`` measures mIoU of an ONNX model on a labelled split so accuracy can be compared
before and after quantization.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "calibration_arrays",
    "evaluate_onnx",
    "find_boundary_convs",
    "labelled_arrays",
    "quantize_onnx",
]

log = logging.getLogger(__name__)


def labelled_arrays(
    dataset: str,
    root: str | os.PathLike[str] | None,
    split: str,
    input_size: tuple[int, int],
    mean: Sequence[float],
    std: Sequence[float],
    limit: int | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(image [1,3,H,W] float32 normalised, mask [H,W] int64)`` pairs at ``input_size``."""
    from ffseg.data import build_dataset, eval_transforms

    ds = build_dataset(dataset, root, split, transforms=eval_transforms(mean, std, input_size))
    n = len(ds) if limit is None else min(limit, len(ds))
    for i in range(n):
        image, mask = ds[i]
        yield image.unsqueeze(0).numpy().astype(np.float32), np.asarray(mask, dtype=np.int64)


def calibration_arrays(
    dataset: str,
    root: str | os.PathLike[str] | None,
    input_size: tuple[int, int],
    mean: Sequence[float],
    std: Sequence[float],
    *,
    split: str = "train",
    num: int = 32,
) -> list[np.ndarray]:
    """``num`` normalised ``[1,3,H,W]`` calibration images of a dataset split."""
    return [x for x, _ in labelled_arrays(dataset, root, split, input_size, mean, std, num)]


class _Reader:
    """An ``onnxruntime.quantization.CalibrationDataReader`` over arrays."""

    def __init__(self, name: str, arrays: Iterable[np.ndarray]) -> None:
        self.name = name
        self._it = iter(arrays)

    def get_next(self) -> dict[str, np.ndarray] | None:
        item = next(self._it, None)
        return None if item is None else {self.name: np.ascontiguousarray(item, np.float32)}

    def rewind(self) -> None:  # pragma: no cover - used by some calibrators only
        raise NotImplementedError


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
    methods = {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }
    if method not in methods:
        raise ValueError(f"calibration method must be one of {sorted(methods)}, got {method!r}")
    arrays = list(calibration)
    if not arrays:
        raise ValueError("no calibration images: pass a dataset with at least one image")
    first, last = find_boundary_convs(fp32_path)
    exclude = [n for n, flag in ((first, exclude_first_conv), (last, exclude_classifier)) if flag]
    int8_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=int8_path.parent) as tmpdir:
        prepped = Path(tmpdir) / "prepped.onnx"
        try:
            quant_pre_process(str(fp32_path), str(prepped), skip_symbolic_shape=True)
        except Exception as exc:  # pre-processing is an optimisation; quantize the raw graph
            log.warning("onnxruntime quant_pre_process failed (%s); quantizing as is", exc)
            prepped = fp32_path
        out = Path(tmpdir) / "int8.onnx"
        import onnx

        input_name = onnx.load(str(prepped), load_external_data=False).graph.input[0].name
        quantize_static(
            str(prepped),
            str(out),
            _Reader(input_name, arrays),
            quant_format=QuantFormat.QDQ,
            per_channel=per_channel,
            reduce_range=reduce_range,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=methods[method],
            nodes_to_exclude=exclude,
        )
        os.replace(out, int8_path)
    for src, dst in ((fp32_path.with_suffix(".json"), int8_path.with_suffix(".json")),):
        if src.is_file() and src != dst:  # the sidecar applies unchanged, plus the quant note
            import json

            meta = json.loads(src.read_text())
            meta["quantization"] = {
                "format": "QDQ", "activations": "uint8", "weights": "int8",
                "per_channel": per_channel, "method": method, "calibration_images": len(arrays),
                "excluded_nodes": exclude,
            }  # fmt: skip
            tmp = dst.with_name(f".{dst.name}.tmp")
            tmp.write_text(json.dumps(meta, indent=2) + "\n")
            os.replace(tmp, dst)
    return int8_path


def evaluate_onnx(
    session: Any,
    samples: Iterable[tuple[np.ndarray, np.ndarray]],
    num_classes: int,
    ignore_index: int = 255,
) -> dict[str, Any]:
    """mIoU etc. (``ffseg.metrics.ConfusionMatrix.compute()``) of an ONNX session on samples.

    Outputs (logits, probabilities or labels) are resized to the mask size before comparing.
    """
    from ffseg.metrics import ConfusionMatrix

    cm = ConfusionMatrix(num_classes, ignore_index)
    name = session.get_inputs()[0].name
    n = 0
    for image, mask in samples:
        out = torch.from_numpy(session.run(None, {name: image})[0])
        target = torch.from_numpy(mask)
        if out.dim() == 4:
            if out.shape[-2:] != target.shape[-2:]:
                out = F.interpolate(out.float(), target.shape[-2:], mode="bilinear")
            pred = out.argmax(1)[0]
        else:
            pred = out[0]
            if pred.shape != target.shape:
                pred = F.interpolate(pred[None, None].float(), target.shape, mode="nearest")[0, 0]
        cm.update(pred.long(), target)
        n += 1
    result = cm.compute()
    result["num_images"] = n
    return result
