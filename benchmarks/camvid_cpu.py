"""Train a recommended CPU recipe on CamVid from scratch for a fixed wall-clock budget.

Estimates the time per iteration from a few timed steps, sets ``train.iters`` so the LR
schedule ends inside the budget (``train.max_minutes`` is a hard stop), trains, evaluates on
CamVid val (101 images) and writes val mIoU + per-class IoU to docs/benchmarks/training.md.

    python benchmarks/camvid_cpu.py --minutes 30
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import environment, write_section

from ffseg.classes import CAMVID_CLASSES
from ffseg.config import RECIPES_DIR, find_recipe, load_config
from ffseg.engine.build import build_student
from ffseg.engine.precision import resolve_precision
from ffseg.engine.train import fit
from ffseg.metrics import format_table

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = "ffnet22s_dbbb_mobile_camvid-180x240_cpu"  # a packaged recipe (ffseg recipes)


def seconds_per_iter(cfg, steps: int = 3) -> float:
    """Median wall time of a training step (fwd + bwd + AdamW) on random data of the recipe."""
    model = build_student(cfg, len(CAMVID_CLASSES))
    if cfg.model.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters())
    dtype = resolve_precision(cfg.train.amp, "cpu", what="train.amp").autocast_dtype
    x = torch.randn(cfg.data.batch_size, 3, *cfg.data.crop_size)
    times = []
    for _ in range(steps + 1):
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            loss = model(x).float().mean()
        loss.backward()
        opt.step()
        opt.zero_grad()
        times.append(time.perf_counter() - t)
    return sorted(times[1:])[len(times[1:]) // 2]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=DEFAULT, help="a recipe name or YAML file")
    p.add_argument("--minutes", type=float, default=30.0, help="wall-clock budget")
    p.add_argument("--root", default=str(ROOT.parent / "shared" / "datasets" / "camvid"))
    p.add_argument("--output-dir", default=str(ROOT / "runs"))
    p.add_argument("--set", dest="overrides", action="append", default=[])
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    overrides = [
        f"data.root={args.root}",
        f"train.output_dir={args.output_dir}",
        "log.progress=false",
        *args.overrides,
    ]
    cfg = load_config(args.config, overrides)
    sec = seconds_per_iter(cfg)
    # keep ~15% of the budget for evaluations and loading
    iters = max(10, int(args.minutes * 60 * 0.85 / sec))
    cfg = load_config(
        args.config, [*overrides, f"train.iters={iters}", f"train.max_minutes={args.minutes}"]
    )
    print(f"estimated {sec:.2f} s/iteration -> train.iters={iters}")
    result = fit(cfg)
    metrics = result.metrics
    table = format_table(metrics, CAMVID_CLASSES)
    print(table)
    command = "python benchmarks/camvid_cpu.py " + " ".join(sys.argv[1:])
    recipe = find_recipe(args.config)
    shown = recipe.stem if recipe.parent == RECIPES_DIR else args.config
    body = f"""## CamVid from scratch on CPU, fixed wall-clock budget (`benchmarks/camvid_cpu.py`)

Recipe `{shown}`
({cfg.model.name} {cfg.model.kwargs or ""}), budget {args.minutes:g} min, from scratch (no
ImageNet weights), trained {result.iterations} iterations of batch {cfg.data.batch_size} in
{result.seconds / 60:.1f} min, evaluated on CamVid val (101 images{", resized to " + str(list(cfg.eval.resize)) if cfg.eval.resize else ""}).
This is a baseline to push up, far from published CamVid numbers (which use ImageNet
pre-training and GPU-days).

| metric | value |
|---|---|
| val mIoU | {metrics["miou"] * 100:.2f} |
| val aAcc | {metrics["aacc"] * 100:.2f} |
| best mIoU during the run | {result.best_score * 100:.2f} |

```
{table}
```

{environment()}
- command: `{command}`
"""
    print(f"wrote {write_section('camvid_cpu', body)}")


if __name__ == "__main__":
    main()
