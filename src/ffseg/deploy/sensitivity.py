"""Where INT8 loses accuracy: a per-node sensitivity report for ONNX Runtime QDQ quantization.

The graph is calibrated once; then every quantizable node (and every op type as a group, e.g.
all ``Resize`` nodes) is left in float in turn while the rest is quantized, and the outputs are
compared with the fp32 graph on a few images (argmax agreement and relative logit error). A
node whose exclusion recovers much agreement is one to keep in float
(``ffseg quantize --exclude-node``). The all-int8 graph is also run with ONNX Runtime's
slower U8U8 kernels (``session.x64quantprecision``): if that alone recovers the accuracy, the
loss is the 16-bit saturation of U8S8 products on x86 CPUs without VNNI, not the quantization
grid (fixed by ``reduce_range``, i.e. 7-bit weights).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ffseg.deploy.ort import ort_session
from ffseg.deploy.quantize import (
    CALIBRATION_METHODS,
    prepare_for_quantization,
    quantize_prepared,
)

__all__ = [
    "COMPUTE_OPS",
    "PRECISE_KERNELS",
    "Agreement",
    "SensitivityReport",
    "SensitivityRow",
    "layer_sensitivity",
    "quantizable_nodes",
]

log = logging.getLogger(__name__)

#: Op types reported one node at a time (reshapes, activations fused into convs etc. are not).
COMPUTE_OPS = (
    "Conv",
    "ConvTranspose",
    "Gemm",
    "MatMul",
    "Add",
    "Mul",
    "Concat",
    "Resize",
    "AveragePool",
    "GlobalAveragePool",
    "MaxPool",
    "Sigmoid",
    "Softmax",
    "BatchNormalization",  # left unfolded after a pre-activation (BN-ReLU-Conv) or an Add
    "InstanceNormalization",
    "LayerNormalization",
)
#: ONNX Runtime session entry selecting the non-saturating U8U8 kernels on x86 without VNNI.
PRECISE_KERNELS = {"session.x64quantprecision": "1"}


@dataclass
class Agreement:
    """A graph's outputs against the fp32 graph's on the same images."""

    agreement: float  # fraction of output pixels with the same argmax class
    rel_error: float  # sum |out - fp32| / sum |fp32|


@dataclass
class SensitivityRow:
    """The graph quantized except ``nodes`` (one node, or every node of one op type)."""

    name: str
    op_type: str
    nodes: list[str]
    agreement: float
    rel_error: float
    gain: float  # agreement recovered vs all-int8, in percentage points


@dataclass
class SensitivityReport:
    """What :func:`layer_sensitivity` measured, most helpful exclusion first."""

    images: int
    all_int8: Agreement
    precise_kernels: Agreement
    rows: list[SensitivityRow]
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self, top: int = 15) -> str:
        """The baseline, the saturation check and the ``top`` most sensitive nodes."""
        base, precise = self.all_int8, self.precise_kernels
        lines = [
            f"sensitivity on {self.images} images ({_settings_text(self.settings)}), outputs "
            "compared with fp32:",
            f"  all int8:                     agreement {base.agreement * 100:6.2f} %, "
            f"rel error {base.rel_error:.4f}",
            f"  all int8, U8U8 kernels:       agreement {precise.agreement * 100:6.2f} %, "
            f"rel error {precise.rel_error:.4f}",
        ]
        if precise.agreement - base.agreement > 0.01:
            lines.append(
                "  -> the default U8S8 kernels saturate on this CPU (no VNNI): quantize with "
                "reduce_range (the default; not --no-reduce-range)"
            )
        lines.append(
            f"{'left in float':40s} {'op':>12s} {'agree %':>8s} {'gain':>7s} {'rel err':>8s}"
        )
        for row in self.rows[:top]:
            lines.append(
                f"{_clip(row.name, 40):40s} {row.op_type:>12s} {row.agreement * 100:8.2f} "
                f"{row.gain:+7.2f} {row.rel_error:8.4f}"
            )
        if len(self.rows) > top:
            lines.append(f"... {len(self.rows) - top} more rows in the JSON report")
        return "\n".join(lines)


def _clip(name: str, width: int) -> str:
    """``name`` cut to ``width`` from the left: exported node names differ at their end."""
    return name if len(name) <= width else "..." + name[-(width - 3) :]


def _settings_text(settings: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in settings.items())


def quantizable_nodes(
    path: str | os.PathLike[str], ops: Sequence[str] = COMPUTE_OPS
) -> list[tuple[str, str]]:
    """``(name, op_type)`` of the nodes of ``path`` whose op type is in ``ops``, in graph order."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    return [(n.name, n.op_type) for n in graph.node if n.op_type in ops and n.name]


def _outputs(path: Path, images: Sequence[np.ndarray], threads: int | None, **kw: Any) -> list:
    session = ort_session(path, threads=threads, **kw)
    name = session.get_inputs()[0].name
    return [session.run(None, {name: np.ascontiguousarray(x, np.float32)})[0] for x in images]


def _compare(outs: list[np.ndarray], ref: list[np.ndarray]) -> Agreement:
    same = total = 0
    diff = norm = 0.0
    for out, r in zip(outs, ref, strict=True):
        if r.ndim == 4 and r.shape[1] > 1:  # logits / probabilities: compare class maps
            same += int((out.argmax(1) == r.argmax(1)).sum())
            total += r.shape[0] * r.shape[2] * r.shape[3]
        else:  # an argmax export already is the class map
            same += int((out == r).sum())
            total += r.size
        diff += float(np.abs(out.astype(np.float64) - r).sum())
        norm += float(np.abs(r.astype(np.float64)).sum())
    return Agreement(same / max(total, 1), diff / max(norm, 1e-12))


def layer_sensitivity(
    fp32_path: str | os.PathLike[str],
    calibration: Sequence[np.ndarray],
    images: Sequence[np.ndarray],
    *,
    per_channel: bool = True,
    reduce_range: bool = True,
    method: str = "minmax",
    ops: Sequence[str] = COMPUTE_OPS,
    threads: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SensitivityReport:
    """Leave each node of ``ops`` (and each op type as a group) in float in turn; compare the
    outputs with fp32 on ``images`` (normalised ``[1,3,H,W]`` arrays, like ``calibration``).

    Costs one calibration plus, per row, one quantization and ``len(images)`` int8 runs.
    ``progress(done, total)`` is called after each row.
    """
    fp32_path = Path(fp32_path)
    if not fp32_path.is_file():
        raise FileNotFoundError(f"ONNX model not found: {fp32_path} (create it with ffseg export)")
    if method not in CALIBRATION_METHODS:
        raise ValueError(f"calibration method must be one of {CALIBRATION_METHODS}, got {method!r}")
    if not calibration or not images:
        raise ValueError("sensitivity needs at least one calibration and one comparison image")
    settings = dict(per_channel=per_channel, reduce_range=reduce_range, method=method)
    with tempfile.TemporaryDirectory(prefix="ffseg-sensitivity-") as scratch:
        tmp = Path(scratch)
        prepped = prepare_for_quantization(fp32_path, tmp / "prepped.onnx")
        cache = tmp / "calibration.json"
        ref = _outputs(fp32_path, images, threads)

        def measure(exclude: Sequence[str], calib: Sequence[np.ndarray] | None = None) -> Path:
            out = tmp / "variant.onnx"
            quantize_prepared(
                prepped, out, calib, exclude_nodes=exclude, calibration_cache=cache, **settings
            )
            return out

        all_int8 = measure([], calibration)
        base = _compare(_outputs(all_int8, images, threads), ref)
        precise = _compare(_outputs(all_int8, images, threads, config=PRECISE_KERNELS), ref)
        nodes = quantizable_nodes(prepped, ops)
        groups: dict[str, list[str]] = {}
        for name, op in nodes:
            groups.setdefault(op, []).append(name)
        variants = [(name, op, [name]) for name, op in nodes]
        variants += [(f"all {op} ({len(ns)})", op, ns) for op, ns in groups.items() if len(ns) > 1]
        rows = []
        for i, (name, op, exclude) in enumerate(variants):
            got = _compare(_outputs(measure(exclude), images, threads), ref)
            gain = (got.agreement - base.agreement) * 100
            rows.append(SensitivityRow(name, op, exclude, got.agreement, got.rel_error, gain))
            if progress:
                progress(i + 1, len(variants))
    rows.sort(key=lambda r: (-r.gain, r.rel_error))
    return SensitivityReport(len(images), base, precise, rows, settings)
