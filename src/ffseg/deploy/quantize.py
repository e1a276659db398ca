"""INT8 post-training static quantization through ONNX Runtime (QDQ, per-channel weights).

Calibration images are passed in (normalised ``[1,3,H,W]`` arrays, e.g. from an ffseg dataset
built by the caller); :func:`quantize_and_compare` also measures mIoU (with
:func:`ffseg.engine.evaluate.evaluate` over :class:`ffseg.deploy.ort.OnnxModel`) and latency
before and after, on a labelled loader the caller builds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import statistics
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import DataLoader

from ffseg._io import atomic_write, atomic_write_json
from ffseg.deploy.exported import ExportedModel
from ffseg.deploy.ort import OnnxModel, read_sidecar
from ffseg.deploy.runtime import time_fn
from ffseg.engine.evaluate import InferenceSpec, evaluate

__all__ = [
    "CALIBRATION_METHODS",
    "QuantizeComparison",
    "QuantizeResult",
    "find_boundary_convs",
    "measure_exported",
    "measure_onnx",
    "prepare_for_quantization",
    "quantize_and_compare",
    "quantize_onnx",
    "quantize_prepared",
    "remove_stale_scratch",
    "scratch_dir",
]

log = logging.getLogger(__name__)

CALIBRATION_METHODS = ("minmax", "entropy", "percentile")


#: Prefix of quantize's scratch folders in the system temp folder: ``ffseg-quantize-<pid>-*``.
SCRATCH_PREFIX = "ffseg-quantize-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_stale_scratch(root: str | os.PathLike[str] | None = None) -> int:
    """Delete scratch folders that killed quantizations (their process is gone) left behind."""
    root = Path(root or tempfile.gettempdir())
    removed = 0
    for folder in root.glob(f"{SCRATCH_PREFIX}*"):
        pid = folder.name[len(SCRATCH_PREFIX) :].split("-", 1)[0]
        if folder.is_dir() and not folder.is_symlink() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


@contextlib.contextmanager
def scratch_dir() -> Iterator[Path]:
    """A private scratch folder (``ffseg-quantize-<pid>-*`` in the system temp folder) that
    also holds every temp file ONNX Runtime makes meanwhile; removed on exit, and by the next
    quantization when this process was killed."""
    remove_stale_scratch()
    with tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-") as scratch:
        previous = tempfile.tempdir
        tempfile.tempdir = scratch  # ONNX Runtime's own temp folders land inside it
        try:
            yield Path(scratch)
        finally:
            tempfile.tempdir = previous


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


def _private_copy(path: Path, target: Path) -> Path:
    """``path`` copied to ``target`` as one file (external data, if any, embedded)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    external = any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    if not external:
        return Path(shutil.copyfile(path, target))
    onnx.save(onnx.load(str(path)), str(target))
    return target


def prepare_for_quantization(
    fp32_path: str | os.PathLike[str], out_path: str | os.PathLike[str]
) -> Path:
    """ONNX Runtime's pre-processing (shape inference, graph clean-up) of ``fp32_path`` into
    ``out_path``; the node names of the result are the ones ``exclude_nodes`` refers to.

    Returns ``fp32_path`` itself when pre-processing fails (it is an optimisation only).
    """
    from onnxruntime.quantization import quant_pre_process

    try:
        quant_pre_process(str(fp32_path), str(out_path), skip_symbolic_shape=True)
    except Exception as exc:  # pre-processing is an optimisation; quantize the raw graph
        log.warning("onnxruntime quant_pre_process failed (%s); quantizing as is", exc)
        return Path(fp32_path)
    return Path(out_path)


def quantize_prepared(
    prepped: str | os.PathLike[str],
    int8_path: str | os.PathLike[str],
    calibration: Iterable[np.ndarray] | None,
    *,
    per_channel: bool = True,
    reduce_range: bool = True,
    method: str = "minmax",
    exclude_nodes: Sequence[str] = (),
    calibration_cache: str | os.PathLike[str] | None = None,
) -> Path:
    """Quantize an already pre-processed graph (:func:`prepare_for_quantization`).

    With ``calibration_cache`` the calibrated tensor ranges are saved there on the first call
    and reused (``calibration`` may then be ``None``), so several variants of one graph (e.g.
    with different ``exclude_nodes``) cost one calibration.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    methods = {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }
    input_name = onnx.load(str(prepped), load_external_data=False).graph.input[0].name
    reader = None if calibration is None else _Reader(input_name, calibration)
    return atomic_write(
        Path(int8_path),
        lambda tmp: quantize_static(
            str(prepped),
            tmp,
            reader,
            quant_format=QuantFormat.QDQ,
            per_channel=per_channel,
            reduce_range=reduce_range,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=methods[method],
            nodes_to_exclude=list(exclude_nodes),
            calibration_cache_path=calibration_cache,
        ),
    )


def quantize_onnx(
    fp32_path: str | os.PathLike[str],
    int8_path: str | os.PathLike[str],
    calibration: Iterable[np.ndarray],
    *,
    per_channel: bool = True,
    exclude_first_conv: bool = False,
    exclude_classifier: bool = False,
    exclude_nodes: Sequence[str] = (),
    method: str = "minmax",
    reduce_range: bool = True,
) -> Path:
    """Quantize ``fp32_path`` to INT8 QDQ (uint8 activations, int8 weights) at ``int8_path``.

    ``calibration`` yields normalised ``[1,3,H,W]`` float32 arrays. ``method`` is ``"minmax"``,
    ``"entropy"`` or ``"percentile"``. The first conv (stem), the classifier conv and any of
    ``exclude_nodes`` (names as in the report of :mod:`ffseg.deploy.sensitivity`) stay in float.
    ``reduce_range`` (default on) quantizes weights to 7 bits: x86 CPUs without VNNI (AVX2,
    AVX-512 without VNNI) compute uint8 x int8 products in saturating 16-bit pairs, which
    overflow with full-range weights and wreck the accuracy of trained models. The file is
    written under a temporary name and renamed when complete.
    """
    fp32_path, int8_path = Path(fp32_path), Path(int8_path)
    if not fp32_path.is_file():
        raise FileNotFoundError(f"ONNX model not found: {fp32_path} (create it with ffseg export)")
    if method not in CALIBRATION_METHODS:
        raise ValueError(f"calibration method must be one of {CALIBRATION_METHODS}, got {method!r}")
    arrays = list(calibration)
    if not arrays:
        raise ValueError("no calibration images: pass a dataset with at least one image")
    with scratch_dir() as scratch:
        # work on a copy: ONNX Runtime writes ``<input>-inferred.onnx`` next to its input
        source = _private_copy(fp32_path, scratch / "input.onnx")
        prepped = prepare_for_quantization(source, scratch / "prepped.onnx")
        first, last = find_boundary_convs(prepped)
        flagged = ((first, exclude_first_conv), (last, exclude_classifier))
        exclude = [n for n, flag in flagged if flag and n] + list(exclude_nodes)
        _check_node_names(prepped, exclude_nodes)
        options = dict(per_channel=per_channel, reduce_range=reduce_range, method=method)
        quantize_prepared(prepped, int8_path, arrays, exclude_nodes=exclude, **options)
    sidecar = fp32_path.with_suffix(".json")
    if sidecar.is_file() and sidecar != int8_path.with_suffix(".json"):
        meta = read_sidecar(fp32_path)  # applies unchanged, plus the quantization note
        meta["quantization"] = {
            "format": "QDQ",
            "activations": "uint8",
            "weights": "int8",
            "per_channel": per_channel,
            "reduce_range": reduce_range,
            "method": method,
            "calibration_images": len(arrays),
            "excluded_nodes": exclude,
        }
        atomic_write_json(int8_path.with_suffix(".json"), meta)
    return int8_path


def _check_node_names(prepped: Path, names: Sequence[str]) -> None:
    import onnx

    known = {node.name for node in onnx.load(str(prepped), load_external_data=False).graph.node}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"--exclude-node {unknown[0]!r} is not a node of the graph; take the names from "
            "`ffseg quantize --sensitivity` (its report lists every quantizable node)"
        )


@dataclass
class QuantizeResult:
    """Accuracy and latency of one exported file."""

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

    @property
    def miou_drop(self) -> float:
        """mIoU points lost by int8 (negative: int8 scored higher)."""
        return (self.fp32.miou - self.int8.miou) * 100

    def missed_target(self, max_drop: float) -> str | None:
        """A one-line warning with the figures when int8 loses more than ``max_drop`` mIoU
        points, else ``None``."""
        if self.miou_drop <= max_drop:
            return None
        return (
            f"int8 loses {self.miou_drop:.2f} mIoU points ({self.fp32.miou * 100:.2f} -> "
            f"{self.int8.miou * 100:.2f} on {self.int8.num_images} images), more than the "
            f"target {max_drop:.2f} (--max-drop); find the layers to keep in float with "
            "`ffseg quantize --sensitivity` and pass them as --exclude-node, or try "
            "--num-calib / --method"
        )

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


def measure_onnx(
    path: str | os.PathLike[str],
    loader: DataLoader,
    example: np.ndarray,
    runs: int,
    threads: int | None = None,
    config: dict[str, str] | None = None,
) -> QuantizeResult:
    """mIoU of an exported ONNX file over ``loader`` and its median latency on ``example``
    (``config``: extra ONNX Runtime session entries)."""
    return measure_exported(OnnxModel(path, threads=threads, config=config), loader, example, runs)


def measure_exported(
    model: ExportedModel, loader: Iterable[Any], example: np.ndarray, runs: int
) -> QuantizeResult:
    """mIoU of an exported model over ``loader`` (under the one input-size rule) and its
    median latency on ``example``; shared by every backend's before/after comparison."""
    metrics = evaluate(model, loader, model.num_classes, spec=InferenceSpec.for_model(model))
    times = time_fn(lambda: model.run(example), runs, warmup=3)
    return QuantizeResult(
        str(model.path),
        metrics["miou"],
        metrics["aacc"],
        metrics["num_images"],
        statistics.median(times),
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
        fp32=measure_onnx(fp32_path, val_loader, example, runs, threads),
        int8=measure_onnx(int8_path, val_loader, example, runs, threads),
        input_size=list(read_sidecar(fp32_path)["input_size"]),
    )
