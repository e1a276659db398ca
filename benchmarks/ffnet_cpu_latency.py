"""CPU latency of FFNet mobile models: every backend and precision, vs the performance targets.

Writes docs/benchmarks/deploy.md (plus .csv/.json next to it) with the machine, threads, library
versions, the exact command and one table per run; prints the table as it goes.

    python benchmarks/ffnet_cpu_latency.py --threads 2 --runs 50

OMP_WAIT_POLICY defaults to PASSIVE here (set before torch is imported): on a shared CPU,
spinning OpenMP workers make 2-thread PyTorch up to 20x slower; ONNX Runtime follows the same
policy (no intra-op spinning).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import math
import sys
from pathlib import Path

import torch

from ffseg._io import atomic_write_text
from ffseg.data import build_dataset, eval_transforms
from ffseg.deploy.bench import (
    BenchResult,
    ImageSource,
    benchmark_models,
    machine_info,
    measure_peak,
)
from ffseg.deploy.report import results_markdown, write_results
from ffseg.deploy.runtime import flushed_denormals, torch_threads
from ffseg.deploy.samples import first_images
from ffseg.models import PretrainedCfg

ROOT = Path(__file__).resolve().parents[1]
CAMVID = ROOT.parent / "shared" / "datasets" / "camvid"
#: (model, (H, W)) — the performance targets of issue 5, at their native resolutions
TARGETS = [("ffnet40s_bbb_mobile", (512, 1024)), ("ffnet78s_dbbb_mobile", (1024, 2048))]


def summarise(results: list[BenchResult], peak: float) -> list[str]:
    """One line per model: how far each target is met."""
    lines = []
    for model in dict.fromkeys(r.model for r in results):
        rs = [r for r in results if r.model == model and not r.error]
        raw = next((r for r in rs if r.backend == "raw" and r.precision == "fp32"), None)
        if raw is None:
            continue
        fp32 = [r for r in rs if r.precision == "fp32" and r.backend != "raw"]
        fp32_ok = [r for r in fp32 if r.max_abs_diff <= 1e-4 * max(1.0, 1.0)]
        best = min(fp32_ok or fp32, key=lambda r: r.median_ms, default=None)
        bf16 = [r for r in rs if r.precision == "bf16" and r.argmax_agreement >= 0.99]
        int8 = [r for r in rs if r.precision == "int8" and r.argmax_agreement >= 0.98]
        red = min(bf16 + int8, key=lambda r: r.median_ms, default=None)
        red_any = min(
            (r for r in rs if r.precision in ("bf16", "int8")),
            key=lambda r: r.median_ms,
            default=None,
        )
        line = f"- **{model} {raw.height}x{raw.width}**: raw eager fp32 {raw.median_ms:.0f} ms"
        if best is not None:
            line += (
                f"; best fp32 = {best.backend} {best.median_ms:.0f} ms, **{best.speedup_vs_raw:.2f}x**"
                f" (target 1.5x, max abs diff {best.max_abs_diff:.1e}), {best.gflops_per_s:.0f} "
                f"GFLOP/s = **{best.gflops_per_s / peak:.0%} of the 3x3-conv peak** (target 60%)"
            )
        if red is not None:
            line += (
                f"; best reduced precision meeting its agreement bar = {red.backend}/{red.precision} "
                f"{red.median_ms:.0f} ms, **{red.speedup_vs_raw:.2f}x** (target 3x, agreement "
                f"{red.argmax_agreement:.2%})"
            )
        elif red_any is not None:
            line += (
                f"; no reduced-precision path met its agreement bar; fastest {red_any.backend}/"
                f"{red_any.precision} {red_any.median_ms:.0f} ms ({red_any.speedup_vs_raw:.2f}x, "
                f"agreement {red_any.argmax_agreement:.2%})"
            )
        lines.append(line)
    return lines


def camvid_images(num: int) -> ImageSource | None:
    """``num`` CamVid images of a split, normalised for a model (``None`` without CamVid)."""
    if not (CAMVID / "val.txt").is_file():
        return None

    def images(split: str, size: tuple[int, int], cfg: PretrainedCfg) -> list[torch.Tensor]:
        tf = eval_transforms(cfg.mean, cfg.std, size)
        return first_images(build_dataset("camvid", CAMVID, split, transforms=tf), num)

    return images


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument(
        "--backends", nargs="+", default=["raw", "eager", "channels_last", "compile", "onnxruntime"]
    )
    p.add_argument("--precisions", nargs="+", default=["fp32", "bf16", "int8"])
    p.add_argument("--models", nargs="+", default=None, help="model:HxW (default: the targets)")
    p.add_argument("--num-images", type=int, default=8, help="CamVid val images compared")
    p.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "deploy.md"))
    p.add_argument("--note", default="", help="free text added under the table")
    args = p.parse_args()
    with torch_threads(args.threads), flushed_denormals():
        return run(args)


def run(args: argparse.Namespace) -> int:
    """Measure every target, rewriting the results files after each model."""
    targets = TARGETS
    if args.models:
        targets = []
        for spec in args.models:
            name, _, size = spec.partition(":")
            targets.append((name, tuple(int(v) for v in size.split("x"))))
    meta = machine_info(args.threads)
    meta["command"] = "python " + " ".join(sys.argv)
    meta["OMP_WAIT_POLICY"] = os.environ.get("OMP_WAIT_POLICY")
    meta["peak_gflops"] = peaks = measure_peak(args.threads)
    meta["weights"] = "random (He init), BN statistics default; denormals flushed in every backend"
    meta["data"] = (
        f"accuracy columns: {args.num_images} CamVid val images; "
        f"int8 calibration: {args.num_images} CamVid train images"
    )
    print(json.dumps(meta, indent=2))
    peak = peaks["conv3x3_fp32"]
    out = Path(args.out)
    results: list[BenchResult] = []
    images = camvid_images(args.num_images)
    for name, hw in targets:
        results += benchmark_models(
            [name],
            [hw],
            images=images,
            backends=args.backends,
            precisions=args.precisions,
            runs=args.runs,
            warmup=args.warmup,
            threads=args.threads,
            peak_gflops=peak,
        )
        table = results_markdown(results)
        print(table, flush=True)
        write_results(results, out.with_suffix(".csv"), meta)
        write_results(results, out.with_suffix(".json"), meta)
        peak_line = ", ".join(f"{k} {v:.1f}" for k, v in peaks.items())
        info = "\n".join(f"- {k}: `{v}`" for k, v in meta.items() if k != "peak_gflops")
        body = [
            "# Deploy benchmarks (CPU)",
            "",
            "Generated by `benchmarks/ffnet_cpu_latency.py`. Batch 1, median/p90 over the timed runs, "
            "BN folded in every backend except `raw` (plain eager PyTorch fp32, the reference for "
            "speed-ups and accuracy columns). Accuracy columns compare each backend with raw eager "
            "fp32 on real CamVid val images resized to the input size. % peak = achieved GFLOP/s "
            "(2 x MACs / median) over the measured 3x3-conv fp32 peak.",
            "",
            info,
            f"- measured peak GFLOP/s: {peak_line}",
            "",
            "## Targets",
            "",
            *summarise(results, peak),
            "",
            "## Results",
            "",
            table,
            "",
            args.note,
            "",
        ]
        atomic_write_text(out, "\n".join(body))
        if any(math.isnan(r.median_ms) for r in results if not r.error):
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
