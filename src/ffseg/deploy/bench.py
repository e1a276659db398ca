"""Latency benchmarks: models x input sizes x backends x precisions, plus machine peak.

Protocol (DESIGN §6): eval mode, ``inference_mode``, batch norms folded (except the ``raw``
reference backend), warm-up runs then ``runs`` timed runs; median and p90 latency, images/s,
params, GMACs at the stated input, achieved GFLOP/s and its share of the measured 3x3-conv
peak, and each backend's max-abs difference and argmax agreement against raw eager fp32.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ffseg.deploy.flops import count_macs, count_params
from ffseg.deploy.fuse import prepare_for_inference

__all__ = [
    "BACKENDS",
    "PRECISIONS",
    "BenchResult",
    "benchmark_model",
    "machine_info",
    "measure_peak",
    "pareto_plot",
    "results_markdown",
    "time_fn",
    "write_results",
]

log = logging.getLogger(__name__)

#: raw = plain eager PyTorch without BN folding (the reference); the others fold BN first.
BACKENDS = ("raw", "eager", "channels_last", "compile", "onnxruntime")
PRECISIONS = ("fp32", "bf16", "fp16", "int8")


@dataclass
class BenchResult:
    """One measured configuration (``error`` set when it could not run)."""

    model: str
    height: int
    width: int
    batch: int
    backend: str
    precision: str
    threads: int
    median_ms: float = float("nan")
    p90_ms: float = float("nan")
    images_per_s: float = float("nan")
    params_m: float = float("nan")
    gmacs: float = float("nan")
    gflops_per_s: float = float("nan")
    peak_share: float = float("nan")
    max_abs_diff: float = float("nan")
    argmax_agreement: float = float("nan")
    speedup_vs_raw: float = float("nan")
    runs: int = 0
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def time_fn(fn: Callable[[], Any], runs: int = 50, warmup: int = 5) -> list[float]:
    """Wall-clock milliseconds of ``runs`` calls of ``fn`` after ``warmup`` calls."""
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - start) * 1000.0)
    return times


def _percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def machine_info(threads: int | None = None) -> dict[str, Any]:
    """CPU/GPU name, thread count and library versions."""
    import ffseg

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    info: dict[str, Any] = {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "threads": threads or torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "ffseg": ffseg.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
    }
    for mod in ("onnxruntime", "onnx"):
        with contextlib.suppress(ImportError):
            info[mod] = __import__(mod).__version__
    return info


@torch.inference_mode()
def measure_peak(
    threads: int | None = None,
    runs: int = 20,
    dtypes: Sequence[str] = ("fp32", "bf16"),
    *,
    gemm_size: int = 2048,
    conv_hw: tuple[int, int] = (128, 256),
    conv_channels: int = 256,
) -> dict[str, float]:
    """This machine's achievable GFLOP/s: a 2048^3 GEMM and a 3x3 conv (256->256, 128x256).

    Keys ``gemm_<dtype>`` and ``conv3x3_<dtype>`` (GFLOP/s, best of ``runs``; the conv is
    channels_last, the fastest layout for oneDNN/cuDNN).
    """
    if threads:
        torch.set_num_threads(threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    out: dict[str, float] = {}
    for name in dtypes:
        dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[name]
        if dtype == torch.float16 and device == "cpu":
            continue
        n = gemm_size
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        best = min(time_fn(lambda a=a, b=b: torch.mm(a, b), runs, 3))
        out[f"gemm_{name}"] = 2 * n**3 / (best / 1000) / 1e9
        c, (h, w) = conv_channels, conv_hw
        conv = nn.Conv2d(c, c, 3, padding=1, bias=False).to(device, dtype).eval()
        conv = conv.to(memory_format=torch.channels_last)
        x = torch.randn(1, c, h, w, device=device, dtype=dtype)
        x = x.contiguous(memory_format=torch.channels_last)
        best = min(time_fn(lambda conv=conv, x=x: conv(x), runs, 3))
        macs = c * c * 9 * h * w
        out[f"conv3x3_{name}"] = 2 * macs / (best / 1000) / 1e9
    return out


def _model_name(model: nn.Module) -> str:
    return getattr(model, "model_args", {}).get("name", type(model).__name__)


def _build_runner(
    model: nn.Module,
    backend: str,
    precision: str,
    x: torch.Tensor,
    threads: int,
    workdir: Path,
    calibration: Sequence[np.ndarray] | None,
) -> Callable[[torch.Tensor], torch.Tensor]:
    device = x.device
    if precision == "fp16" and device.type != "cuda":
        raise RuntimeError("fp16 needs CUDA here (CPU fp16 kernels are slow or missing)")
    if backend == "onnxruntime":
        return _onnx_runner(model, precision, x, threads, workdir, calibration)
    if precision == "int8":
        raise RuntimeError("int8 runs through ONNX Runtime only (backend onnxruntime)")
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    channels_last = backend in ("channels_last", "compile")
    prepared = prepare_for_inference(
        model, fold_bn=backend != "raw", channels_last=channels_last, dtype=dtype, device=device
    )
    fn: Callable[[torch.Tensor], torch.Tensor] = prepared
    if backend == "compile":
        fn = torch.compile(prepared, dynamic=False)
    elif backend not in ("raw", "eager", "channels_last"):
        raise ValueError(f"unknown backend {backend!r}; choose from {BACKENDS}")

    def run(inp: torch.Tensor) -> torch.Tensor:
        inp = inp.to(device, dtype)
        if channels_last:
            inp = inp.contiguous(memory_format=torch.channels_last)
        return fn(inp)

    return run


def _onnx_runner(
    model: nn.Module,
    precision: str,
    x: torch.Tensor,
    threads: int,
    workdir: Path,
    calibration: Sequence[np.ndarray] | None,
) -> Callable[[torch.Tensor], torch.Tensor]:
    from ffseg.deploy.export import export_onnx
    from ffseg.deploy.ort import ort_session

    if precision not in ("fp32", "int8"):
        raise RuntimeError(f"onnxruntime backend runs fp32 and int8, not {precision}")
    size = tuple(x.shape[-2:])
    fp32 = workdir / f"{_model_name(model)}_{size[0]}x{size[1]}_b{x.shape[0]}.onnx"
    if not fp32.is_file():
        export_onnx(model, fp32, size, batch=x.shape[0], sidecar=False)  # type: ignore[arg-type]
    path = fp32
    if precision == "int8":
        from ffseg.deploy.quantize import quantize_onnx

        path = fp32.with_name(fp32.stem + "_int8.onnx")
        if not path.is_file():
            if not calibration:
                log.warning("int8 calibration on random inputs: pass real images for real ranges")
                gen = np.random.default_rng(0)
                calibration = [gen.standard_normal(x.shape, dtype=np.float32) for _ in range(8)]
            calib = [_fit(c, x.shape) for c in calibration]
            quantize_onnx(fp32, path, calib, per_channel=True)
    provider = "cuda" if x.device.type == "cuda" else "cpu"
    session = ort_session(path, threads=threads, provider=provider)

    def run(inp: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(session.run(None, {"input": inp.cpu().numpy()})[0])

    return run


def _fit(array: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Resize/repeat a ``[1,3,h,w]`` array to ``shape`` (calibration at the benchmark size)."""
    t = torch.from_numpy(np.asarray(array, dtype=np.float32))
    if t.dim() == 3:
        t = t.unsqueeze(0)
    if tuple(t.shape[-2:]) != tuple(shape[-2:]):
        t = torch.nn.functional.interpolate(t, size=tuple(shape[-2:]), mode="bilinear")
    return t[:1].expand(shape[0], -1, -1, -1).contiguous().numpy()


def benchmark_model(
    model: nn.Module,
    input_size: tuple[int, int],
    *,
    batch: int = 1,
    backends: Sequence[str] = ("raw", "eager", "channels_last", "onnxruntime"),
    precisions: Sequence[str] = ("fp32", "bf16", "int8"),
    runs: int = 50,
    warmup: int = 5,
    threads: int | None = None,
    device: str = "cpu",
    peak_gflops: float | None = None,
    compare_inputs: Sequence[torch.Tensor] | None = None,
    calibration: Sequence[np.ndarray] | None = None,
    workdir: str | os.PathLike[str] | None = None,
) -> list[BenchResult]:
    """Benchmark one model at ``input_size`` ``(H, W)`` for every backend x precision.

    Combinations that cannot run (e.g. bf16 on ONNX Runtime, int8 in eager) are skipped
    silently; failures of valid combinations are recorded in ``BenchResult.error``.
    ``compare_inputs`` are normalised images (``[3,H,W]`` or ``[1,3,H,W]``, e.g. real CamVid
    images) used for the accuracy columns; default one random input.
    """
    from ffseg.inference import check_input_size

    check_input_size(model, input_size)
    threads = threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    model = model.eval()
    name = _model_name(model)
    h, w = input_size
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, h, w, generator=gen).to(device)
    inputs = [x]
    if compare_inputs:
        inputs = [torch.from_numpy(_fit(np.asarray(c), x.shape)).to(device) for c in compare_inputs]
    params = count_params(model) / 1e6
    macs = count_macs(model, input_size, batch) / 1e9
    with torch.inference_mode():
        references = [model.float().to(device)(inp).float().cpu() for inp in inputs]
    results: list[BenchResult] = []
    valid = {
        "raw": ("fp32", "bf16", "fp16"),
        "eager": ("fp32", "bf16", "fp16"),
        "channels_last": ("fp32", "bf16", "fp16"),
        "compile": ("fp32", "bf16", "fp16"),
        "onnxruntime": ("fp32", "int8"),
    }
    tmp = tempfile.TemporaryDirectory() if workdir is None else contextlib.nullcontext(workdir)
    with tmp as wd:
        wd_path = Path(wd)
        wd_path.mkdir(parents=True, exist_ok=True)
        for backend in backends:
            if backend not in valid:
                raise ValueError(f"unknown backend {backend!r}; choose from {BACKENDS}")
            for precision in precisions:
                if precision not in PRECISIONS:
                    raise ValueError(f"unknown precision {precision!r}; choose from {PRECISIONS}")
                if precision not in valid[backend]:
                    continue
                if precision == "fp16" and device != "cuda":
                    continue
                res = BenchResult(name, h, w, batch, backend, precision, threads)
                res.params_m, res.gmacs = params, macs
                try:
                    run = _build_runner(model, backend, precision, x, threads, wd_path, calibration)
                    with torch.inference_mode():
                        times = time_fn(lambda run=run: run(x), runs, warmup)
                        outs = [run(inp).float().cpu() for inp in inputs]
                    _fill(res, times, references, outs, peak_gflops)
                except Exception as exc:  # recorded, not fatal: one backend may be unavailable
                    log.warning("%s %s/%s failed: %s", name, backend, precision, exc)
                    res.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                results.append(res)
                log.info(
                    "%s %dx%d %s/%s: median %.1f ms", name, h, w, backend, precision, res.median_ms
                )
    raw = {r.precision: r for r in results if r.backend == "raw" and not r.error}
    base = raw.get("fp32")
    for r in results:
        if base is not None and not r.error:
            r.speedup_vs_raw = base.median_ms / r.median_ms
    return results


def _fill(
    res: BenchResult,
    times: list[float],
    references: list[torch.Tensor],
    outs: list[torch.Tensor],
    peak: float | None,
) -> None:
    res.runs = len(times)
    res.median_ms = statistics.median(times)
    res.p90_ms = _percentile(times, 90)
    res.images_per_s = res.batch * 1000.0 / res.median_ms
    res.gflops_per_s = 2 * res.gmacs / (res.median_ms / 1000.0)
    if peak:
        res.peak_share = res.gflops_per_s / peak
    diffs, agree = [], []
    for ref, out in zip(references, outs):
        diffs.append(float((ref - out).abs().max()))
        if ref.dim() >= 2:
            agree.append(float((ref.argmax(1) == out.argmax(1)).float().mean()))
    res.max_abs_diff = max(diffs)
    res.argmax_agreement = float(np.mean(agree)) if agree else float("nan")


# ----------------------------------------------------------------------------- output
_COLUMNS = [f.name for f in fields(BenchResult)]


def results_markdown(results: Sequence[BenchResult]) -> str:
    """A markdown table of results (errors in the last column)."""
    head = [
        "model", "input", "backend", "prec", "median ms", "p90 ms", "img/s", "params M",
        "GMACs", "GFLOP/s", "% peak", "speedup", "max abs diff", "argmax agree", "note",
    ]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def f(v: float, fmt: str) -> str:
        return "" if v != v else format(v, fmt)  # NaN -> empty

    for r in results:
        row = [
            r.model, f"{r.batch}x{r.height}x{r.width}", r.backend, r.precision,
            f(r.median_ms, ".1f"), f(r.p90_ms, ".1f"), f(r.images_per_s, ".2f"),
            f(r.params_m, ".2f"), f(r.gmacs, ".1f"), f(r.gflops_per_s, ".1f"),
            f(r.peak_share * 100, ".0f"), f(r.speedup_vs_raw, ".2f") + ("x" if r.speedup_vs_raw == r.speedup_vs_raw else ""),
            f(r.max_abs_diff, ".2e"), f(r.argmax_agreement * 100, ".2f"), r.error,
        ]  # fmt: skip
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def write_results(
    results: Sequence[BenchResult],
    path: str | os.PathLike[str],
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write results as ``.csv``, ``.json`` or ``.md`` (by suffix), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=_COLUMNS)
        writer.writeheader()
        for r in results:
            writer.writerow(r.to_dict())
        text = buf.getvalue()
    elif suffix == ".json":
        text = json.dumps({"meta": meta or {}, "results": [r.to_dict() for r in results]}, indent=2)
    elif suffix == ".md":
        info = "\n".join(f"- {k}: {v}" for k, v in (meta or {}).items())
        text = (info + "\n\n" if info else "") + results_markdown(results) + "\n"
    else:
        raise ValueError(f"results file must end in .csv, .json or .md, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def pareto_plot(
    results: Sequence[BenchResult],
    path: str | os.PathLike[str],
    miou: dict[str, float],
    *,
    title: str = "",
) -> Path:
    """Latency (best backend per model) vs mIoU as a PNG, the Pareto front joined by a line.

    ``miou`` maps model names to mIoU (e.g. ``pretrained_cfg.published`` or a results file);
    models without one are left out.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    best: dict[str, float] = {}
    for r in results:
        if not r.error and r.model in miou:
            best[r.model] = min(best.get(r.model, float("inf")), r.median_ms)
    if not best:
        raise ValueError("no benchmarked model has an mIoU to plot (pass --miou-file)")
    points = sorted((lat, miou[m], m) for m, lat in best.items())
    front, top = [], -float("inf")
    for lat, acc, _name in points:
        if acc > top:
            front.append((lat, acc))
            top = acc
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.scatter([p[0] for p in points], [p[1] for p in points])
    for lat, acc, name in points:
        ax.annotate(name, (lat, acc), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.plot([p[0] for p in front], [p[1] for p in front], "r--", label="Pareto front")
    ax.set_xlabel("latency, ms (median, best backend)")
    ax.set_ylabel("mIoU")
    ax.set_title(title or "latency vs mIoU")
    ax.grid(alpha=0.3)
    ax.legend()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)
    return path
