"""Latency benchmarks: models x input sizes x backends x precisions, plus machine peak.

Protocol (DESIGN §6): eval mode, ``inference_mode``, batch norms folded (except the ``raw``
reference backend), warm-up runs then ``runs`` timed runs; median and p90 latency, images/s,
params, GMACs at the stated input, achieved GFLOP/s and its share of the measured 3x3-conv
peak, and each backend's max-abs difference and argmax agreement against raw eager fp32.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import logging
import os
import platform
import statistics
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ffseg._io import remove_stale_temp_files
from ffseg._version import __version__
from ffseg.deploy.export import export_onnx
from ffseg.deploy.flops import count_macs, count_params
from ffseg.deploy.fuse import prepare_for_inference
from ffseg.deploy.model_info import check_input_size, input_size_of, model_name
from ffseg.deploy.ort import ort_session
from ffseg.deploy.quantize import quantize_onnx
from ffseg.deploy.runtime import time_fn, torch_threads
from ffseg.engine.precision import resolve_precision
from ffseg.layers import resize_to
from ffseg.models import PretrainedCfg, create_model, list_models, load_model, resolve_name
from ffseg.models._smp import is_smp_name

__all__ = [
    "BACKENDS",
    "PRECISIONS",
    "VALID_PRECISIONS",
    "BenchResult",
    "ImageSource",
    "benchmark_artifact",
    "benchmark_model",
    "benchmark_models",
    "content_key",
    "expand_model_names",
    "load_bench_model",
    "machine_info",
    "measure_peak",
    "time_fn",
]

log = logging.getLogger(__name__)

#: raw = plain eager PyTorch without BN folding (the reference); the others fold BN first.
BACKENDS = ("raw", "eager", "channels_last", "compile", "onnxruntime", "openvino")
PRECISIONS = ("fp32", "bf16", "fp16", "int8")
#: The precisions each backend runs (fp16 also needs CUDA).
VALID_PRECISIONS = {
    "raw": ("fp32", "bf16", "fp16"),
    "eager": ("fp32", "bf16", "fp16"),
    "channels_last": ("fp32", "bf16", "fp16"),
    "compile": ("fp32", "bf16", "fp16"),
    "onnxruntime": ("fp32", "int8"),
    "openvino": ("fp32", "int8"),
}
#: Random calibration batches used for int8 when no real images are given.
RANDOM_IMAGES = 8
#: The opset of the ONNX files bench exports (part of their cache key).
ONNX_OPSET = 18


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


def _percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def machine_info(threads: int | None = None) -> dict[str, Any]:
    """CPU/GPU name, thread count and library versions."""
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
        "ffseg": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
    }
    for mod in ("onnxruntime", "onnx", "openvino"):
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
    channels_last, the fastest layout for oneDNN/cuDNN). fp16 is skipped without CUDA.
    """
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with torch_threads(threads):
        return _measure_peak(device, runs, dtypes, gemm_size, conv_hw, conv_channels)


def _measure_peak(
    device: str,
    runs: int,
    dtypes: Sequence[str],
    gemm_size: int,
    conv_hw: tuple[int, int],
    conv_channels: int,
) -> dict[str, float]:
    out: dict[str, float] = {}
    for name in dtypes:
        if name == "fp16" and device == "cpu":
            continue
        dtype = resolve_precision(name, device).dtype
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


def load_bench_model(
    name: str | None, weights: str | os.PathLike[str] | None = None, num_classes: int | None = None
) -> nn.Module:
    """A model in eval mode for timing: ``weights`` (a checkpoint file or a saved folder), or
    random weights with the model's He-style initialisation when its constructor offers one
    (an ``init`` argument), so random activations keep realistic magnitudes instead of decaying
    into denormals."""
    if weights is not None:
        return load_model(weights, name=name, num_classes=num_classes).eval()
    if name is None:
        raise ValueError("a model name is needed without weights (pass --model NAME)")
    with torch.device("meta"):
        probe = create_model(name, num_classes=num_classes)
    kwargs = {"init": "kaiming"} if "init" in inspect.signature(type(probe)).parameters else {}
    return create_model(name, num_classes=num_classes, **kwargs).eval()


def expand_model_names(patterns: Sequence[str]) -> list[str]:
    """Canonical names for names, aliases and fnmatch patterns (in order, without repeats)."""
    names: list[str] = []
    for pattern in patterns:
        wildcard = any(c in pattern for c in "*?[")
        if is_smp_name(pattern):  # smp:<Arch>:<encoder> names are checked when built
            found = [pattern]
        else:
            found = list_models(pattern) if wildcard else [resolve_name(pattern)]
        if not found:
            raise ValueError(f"no model matches {pattern!r}; see `ffseg list`")
        names += [n for n in found if n not in names]
    return names


#: ``images(split, (H, W), cfg)`` -> normalised ``[1, 3, H, W]`` images of a dataset split.
ImageSource = Callable[[str, tuple[int, int], PretrainedCfg], list[torch.Tensor]]


def benchmark_models(
    names: Sequence[str | None],
    sizes: Sequence[Sequence[int] | None] = (None,),
    *,
    weights: str | os.PathLike[str] | None = None,
    num_classes: int | None = None,
    images: ImageSource | None = None,
    **options: Any,
) -> list[BenchResult]:
    """:func:`benchmark_model` for every model (:func:`load_bench_model`) at every size.

    A name may be ``None`` when ``weights`` is a ``save_pretrained`` folder. ``sizes`` default
    to each model's native input size; ``images`` gives real images: ``val``
    ones for the accuracy columns and ``train`` ones for int8 calibration. ``options`` go to
    :func:`benchmark_model`.
    """
    if weights is not None and len(names) > 1:
        raise ValueError("--weights applies to a single model; pass one --model")
    results: list[BenchResult] = []
    for name in names:
        model = load_bench_model(name, weights, num_classes)
        for size in sizes or (None,):
            hw = input_size_of(model, size)
            compare = calibration = None
            if images is not None:
                compare = images("val", hw, model.pretrained_cfg)
                calibration = [t.numpy() for t in images("train", hw, model.pretrained_cfg)]
            results += benchmark_model(
                model, hw, compare_inputs=compare, calibration=calibration, **options
            )
    return results


def benchmark_artifact(
    path: str | os.PathLike[str],
    input_size: Sequence[int] | None = None,
    *,
    batch: int = 1,
    runs: int = 50,
    warmup: int = 5,
    threads: int | None = None,
) -> BenchResult:
    """Latency of an exported artifact (ONNX, OpenVINO IR, ``.pt2``, TorchScript; see
    :func:`ffseg.deploy.artifacts.load_artifact`) as it runs, at ``input_size`` (default: its
    sidecar's). The backend column is the artifact's kind, the precision its sidecar's."""
    from ffseg.deploy.artifacts import artifact_kind, load_artifact

    with torch_threads(threads) as n_threads:
        model = load_artifact(path, threads=n_threads)
        h, w = input_size or model.pretrained_cfg.input_size[1:]
        meta = getattr(model, "meta", {})
        precision = "int8" if "quantization" in meta else meta.get("precision", "fp32")
        res = BenchResult(model_name(model), h, w, batch, artifact_kind(path), precision, n_threads)
        x = torch.randn(batch, 3, h, w, generator=torch.Generator().manual_seed(0))
        with torch.inference_mode():
            times = time_fn(lambda: model(x), runs, warmup)
    res.runs, res.median_ms = len(times), statistics.median(times)
    res.p90_ms = _percentile(times, 90)
    res.images_per_s = batch * 1000.0 / res.median_ms
    return res


@dataclass(frozen=True)
class _Setup:
    """What every runner of one benchmark shares."""

    x: torch.Tensor  # the timed input
    threads: int
    workdir: Path  # exported / quantized ONNX files
    calibration: Sequence[np.ndarray] | None


Runner = Callable[[torch.Tensor], torch.Tensor]


def _build_runner(model: nn.Module, backend: str, precision: str, setup: _Setup) -> Runner:
    if backend == "onnxruntime":
        return _onnx_runner(model, precision, setup)
    if backend == "openvino":
        from ffseg.deploy.openvino import openvino_runner

        calibration = partial(_calibration, setup)  # only called for int8
        x, threads, workdir = setup.x, setup.threads, setup.workdir
        return openvino_runner(
            model, precision, x, threads=threads, workdir=workdir, calibration=calibration
        )
    if precision == "int8":
        raise RuntimeError(
            "int8 runs through ONNX Runtime or OpenVINO (backend onnxruntime/openvino)"
        )
    device = setup.x.device
    dtype = resolve_precision(precision, device).dtype
    channels_last = backend in ("channels_last", "compile")
    prepared = prepare_for_inference(
        model, fold_bn=backend != "raw", channels_last=channels_last, dtype=dtype, device=device
    )
    fn: Runner = torch.compile(prepared, dynamic=False) if backend == "compile" else prepared
    memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def run(inp: torch.Tensor) -> torch.Tensor:
        return fn(inp.to(device, dtype).contiguous(memory_format=memory_format))

    return run


def content_key(model: nn.Module, *extra: object) -> str:
    """A short digest of the model's weights (every state-dict tensor's name, dtype, shape and
    bytes) and ``extra``: the cache key of exported files, so other weights never reuse one."""
    digest = hashlib.sha256(repr(extra).encode())
    for name, tensor in model.state_dict().items():
        t = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{t.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def _onnx_runner(model: nn.Module, precision: str, setup: _Setup) -> Runner:
    x = setup.x
    size = (int(x.shape[-2]), int(x.shape[-1]))
    key = content_key(model, size, int(x.shape[0]), ONNX_OPSET)
    fp32 = setup.workdir / f"{model_name(model)}_{size[0]}x{size[1]}_b{x.shape[0]}_{key}.onnx"
    if not fp32.is_file():
        export_onnx(model, fp32, size, batch=x.shape[0], opset=ONNX_OPSET, sidecar=False)
    path = fp32
    if precision == "int8":
        calibration = _calibration(setup)
        digest = hashlib.sha256(b"".join(a.tobytes() for a in calibration)).hexdigest()[:12]
        path = fp32.with_name(f"{fp32.stem}_int8_{digest}.onnx")
        if not path.is_file():
            quantize_onnx(fp32, path, calibration, per_channel=True)
    provider = "cuda" if x.device.type == "cuda" else "cpu"
    session = ort_session(path, threads=setup.threads, provider=provider)

    def run(inp: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(session.run(None, {"input": inp.cpu().numpy()})[0])

    return run


def _calibration(setup: _Setup) -> list[np.ndarray]:
    arrays = setup.calibration
    if not arrays:
        log.warning("int8 calibration on random inputs: pass real images for real ranges")
        gen = np.random.default_rng(0)
        shape = setup.x.shape
        arrays = [gen.standard_normal(shape, dtype=np.float32) for _ in range(RANDOM_IMAGES)]
    return [_fit(a, setup.x.shape) for a in arrays]


def _fit(array: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Resize/repeat a ``[1,3,h,w]`` array to ``shape`` (calibration at the benchmark size)."""
    t = torch.from_numpy(np.asarray(array, dtype=np.float32))
    if t.dim() == 3:
        t = t.unsqueeze(0)
    if tuple(t.shape[-2:]) != tuple(shape[-2:]):
        t = resize_to(t, tuple(shape[-2:]), "bilinear_half")
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
    device: str | torch.device = "cpu",
    peak_gflops: float | None = None,
    compare_inputs: Sequence[torch.Tensor] | None = None,
    calibration: Sequence[np.ndarray] | None = None,
    workdir: str | os.PathLike[str] | None = None,
) -> list[BenchResult]:
    """Benchmark one model at ``input_size`` ``(H, W)`` for every backend x precision.

    Combinations that cannot run (e.g. bf16 on ONNX Runtime, int8 in eager, fp16 without CUDA)
    are skipped silently; failures of valid combinations are recorded in ``BenchResult.error``.
    ``compare_inputs`` are normalised images (``[3,H,W]`` or ``[1,3,H,W]``, e.g. real CamVid
    images) used for the accuracy columns; default one random input. ``threads`` applies
    during the call only.
    """
    check_input_size(model, input_size)
    for backend in backends:
        if backend not in VALID_PRECISIONS:
            raise ValueError(f"unknown backend {backend!r}; choose from {BACKENDS}")
    for precision in precisions:
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; choose from {PRECISIONS}")
    device = torch.device(device)
    combos = [
        (b, p)
        for b in backends
        for p in precisions
        if p in VALID_PRECISIONS[b] and (p != "fp16" or device.type == "cuda")
    ]
    with torch_threads(threads) as n_threads, contextlib.ExitStack() as stack:
        wd = Path(workdir) if workdir else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        wd.mkdir(parents=True, exist_ok=True)
        remove_stale_temp_files(wd)  # killed writes of an earlier bench
        x = torch.randn(batch, 3, *input_size, generator=torch.Generator().manual_seed(0))
        setup = _Setup(x.to(device), n_threads, wd, calibration)
        results = _run_all(model.eval(), combos, setup, compare_inputs, runs, warmup, peak_gflops)
    base = next((r for r in results if (r.backend, r.precision) == ("raw", "fp32")), None)
    for r in results:
        if base is not None and not base.error and not r.error:
            r.speedup_vs_raw = base.median_ms / r.median_ms
    return results


def _run_all(
    model: nn.Module,
    combos: list[tuple[str, str]],
    setup: _Setup,
    compare_inputs: Sequence[torch.Tensor] | None,
    runs: int,
    warmup: int,
    peak_gflops: float | None,
) -> list[BenchResult]:
    x = setup.x
    name, (batch, _, h, w) = model_name(model), x.shape
    inputs = [x]
    if compare_inputs:
        inputs = [
            torch.from_numpy(_fit(np.asarray(c), x.shape)).to(x.device) for c in compare_inputs
        ]
    params = count_params(model) / 1e6
    macs = count_macs(model, (h, w), batch) / 1e9
    with torch.inference_mode():
        references = [model.float().to(x.device)(inp).float().cpu() for inp in inputs]
    results = []
    for backend, precision in combos:
        res = BenchResult(name, h, w, batch, backend, precision, setup.threads)
        res.params_m, res.gmacs = params, macs
        try:
            run = _build_runner(model, backend, precision, setup)
            with torch.inference_mode():
                times = time_fn(lambda run=run: run(x), runs, warmup)
                outs = [run(inp).float().cpu() for inp in inputs]
            _fill(res, times, references, outs, peak_gflops)
        except Exception as exc:  # recorded, not fatal: one backend may be unavailable
            log.warning("%s %s/%s failed: %s", name, backend, precision, exc)
            res.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        results.append(res)
        log.info("%s %dx%d %s/%s: median %.1f ms", name, h, w, backend, precision, res.median_ms)
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
