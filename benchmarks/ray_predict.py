"""Images/s of ``ffseg predict`` (one process, all cores) against ``ffseg predict --ray`` (a
local Ray instance, N one-thread workers) on the same folder; writes docs/benchmarks/ray.md.

Both run the same Segmenter and write the same files; plain predict's model is built before
the clock starts, Ray's figure includes the workers' start-up (reported apart as well). Rounds
alternate plain and Ray so a load change on a shared machine hits both.

    python benchmarks/ray_predict.py --source ../shared/datasets/camvid/val --num-images 48
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from _report import environment, load_note

import ffseg
from ffseg._io import atomic_write_text
from ffseg.inference import Segmenter, load_image
from ffseg.inference.files import segment_images
from ffseg.inference.ray_predict import list_images, predict_dataset

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "ray.md"


def plain(segmenter: Segmenter, images: list[Path], threads: int) -> float:
    """Images/s of plain predict's loop (``segment_images``) into a fresh folder."""
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        segment_images(segmenter, images, out)
        return len(images) / (time.perf_counter() - start)


def on_ray(
    segmenter: Segmenter, images: list[Path], workers: int, per_task: int
) -> tuple[float, float, float]:
    """Images/s of the Ray job (start-up included), after its first batch, and start-up s."""
    with tempfile.TemporaryDirectory() as out:
        result = predict_dataset(segmenter, images, out, workers=workers, images_per_task=per_task)
    assert result.written == len(images), result
    return result.images_per_s, result.steady_images_per_s, result.startup_s


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", default="../shared/datasets/camvid/val")
    p.add_argument("--num-images", type=int, default=48, help="the first N images of --source")
    p.add_argument("--model", default="ffnet40s_bbb_mobile")
    p.add_argument("--num-classes", type=int, default=11)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--images-per-task", type=int, default=4)
    p.add_argument("--size", type=int, nargs=2, help="resize images to H W first (both paths)")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--out", type=Path, default=DOC)
    args = p.parse_args(argv)

    import ray

    images = list_images(args.source)[: args.num_images]
    model = ffseg.create_model(args.model, num_classes=args.num_classes, init="kaiming").eval()
    segmenter = Segmenter(model, size=tuple(args.size) if args.size else None)
    env = environment()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    start = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
    ray_init_s = time.perf_counter() - start
    ray.data.DataContext.get_current().enable_progress_bars = False
    plain_rates, ray_rates, steady_rates, startups = [], [], [], []
    for i in range(args.rounds):
        plain_rates.append(plain(segmenter, images, threads=args.workers))
        total, steady, startup = on_ray(segmenter, images, args.workers, args.images_per_task)
        ray_rates.append(total)
        steady_rates.append(steady)
        startups.append(startup)
        print(
            f"round {i}: plain {plain_rates[-1]:.2f} images/s, ray {total:.2f} images/s "
            f"({steady:.2f} after start-up of {startup:.1f} s)",
            flush=True,
        )
    ray.shutdown()

    best_plain, best_ray, best_steady = max(plain_rates), max(ray_rates), max(steady_rates)
    shape = load_image(images[0]).shape
    resized = f", resized to {args.size[0]}x{args.size[1]} for the network" if args.size else ""
    command = shlex.join([Path(sys.executable).name, "benchmarks/ray_predict.py", *sys.argv[1:]])
    text = f"""# Ray batch inference against plain `ffseg predict`

Written by `benchmarks/ray_predict.py`:

    {command}

{len(images)} images of {args.source} ({shape[0]}x{shape[1]}), `{args.model}` (random
weights, {args.num_classes} classes), label masks only{resized}. Plain predict: one process,
the model built before the clock starts, {args.workers} torch threads. Ray: a local instance
with {args.workers} CPUs, {args.workers} one-thread workers
(`predict_dataset(..., workers={args.workers}, images_per_task={args.images_per_task})`), the
workers' start-up (a new process importing torch and ffseg, receiving the model) inside the
job's time; `ray.init` itself took {ray_init_s:.1f} s and is not counted. Best of
{args.rounds} alternating rounds (all rounds below).

| path | images/s | vs plain |
|---|---:|---:|
| `ffseg predict` | {best_plain:.2f} | 100 % |
| `ffseg predict --ray`, whole job | {best_ray:.2f} | {100 * best_ray / best_plain:.0f} % |
| `ffseg predict --ray`, after the first batch | {best_steady:.2f} | {100 * best_steady / best_plain:.0f} % |

Rounds: plain {", ".join(f"{r:.2f}" for r in plain_rates)}; Ray whole job
{", ".join(f"{r:.2f}" for r in ray_rates)}; Ray after the first batch
{", ".join(f"{r:.2f}" for r in steady_rates)}; Ray start-up until the first batch was done
{", ".join(f"{s:.1f}" for s in startups)} s (median {statistics.median(startups):.1f} s).

Machine:
{env}
- ray {ray.__version__}

{load_note(load, os.cpu_count() or 1, "absolute rates are pessimistic and noisy, and the workers' start-up (importing torch) is much slower than on an idle machine.")}
The rate after the first batch shows the engine's own overhead; the whole-job rate approaches
it as the job grows (a fixed start-up of a few seconds per job).
"""
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
