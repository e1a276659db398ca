"""Where a budget run's wall time goes: the pure step rate against the end-to-end rate.

Runs a recipe (default ``camvid_15min_cpu``) for ``--iters`` iterations with ``fit`` itself,
twice per thread count:

- ``data.workers=0``: data is prepared in the main process between steps, so each step runs
  alone on the cores (its time is the **pure step**: forward_train, loss, backward, optimizer,
  scheduler) and the time between steps is the CPU cost of one batch of data (decode, augment,
  class-uniform crops, collate);
- the recipe's own data settings (``data.workers`` from the recipe unless ``--set``): the
  **end-to-end** rate, the step time while the loader works beside it, and the time the loop
  waits outside its steps. Where the recipe's setting is no loader processes (``auto`` on
  <= 2 cores) this is the same run as the first, measured once.

The first ``--skip`` iterations (warm-up, worker start) are left out of the means;
the ratio end-to-end / pure step is the loop's efficiency. Also reported: setup before the first
step, checkpoint writes and the final evaluation. Results go to docs/benchmarks/training.md.

    python benchmarks/train_overhead.py --threads 1 2
    python benchmarks/train_overhead.py --config demo --iters 6 --skip 2 --no-doc   # smoke
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import environment, write_section

from ffseg.config import load_config
from ffseg.engine.data import loader_workers
from ffseg.engine.state import TrainState
from ffseg.engine.train import fit

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class LoopTimes:
    """Per-iteration times of one ``fit`` (seconds), from its ``on_step`` callback."""

    batch: int
    steps: list[float] = field(default_factory=list)  # the step itself
    intervals: list[float] = field(default_factory=list)  # one iteration, end to end
    last: float | None = None
    first_step_at: float = 0.0
    loop_end: float = 0.0

    def on_step(self, state: TrainState) -> None:
        now = time.perf_counter()
        self.steps.append(self.batch / state.last["img_s"])
        if self.last is None:
            self.first_step_at = now
        else:
            self.intervals.append(now - self.last)
        self.last = self.loop_end = now


@dataclass
class Run:
    """One measured ``fit``."""

    workers: int
    times: LoopTimes
    wall: float
    setup: float
    after_loop: float  # final evaluation, overlays, last checkpoint

    def step(self, skip: int) -> float:
        """Mean step time inside the intervals that :meth:`interval` averages."""
        return statistics.fmean(self.times.steps[skip + 1 :])

    def interval(self, skip: int) -> float:
        return statistics.fmean(self.times.intervals[skip:])


def measure(config: str, overrides: Sequence[str], iters: int, workers: int | None) -> Run:
    extra = [f"train.iters={iters}", *([f"data.workers={workers}"] if workers is not None else [])]
    cfg = load_config(config, [*overrides, *extra])
    times = LoopTimes(cfg.data.batch_size)
    start = time.perf_counter()
    fit(cfg, on_step=times.on_step)
    end = time.perf_counter()
    return Run(
        workers=loader_workers(cfg.data.workers),
        times=times,
        wall=end - start,
        setup=times.first_step_at - start - times.steps[0],
        after_loop=end - times.loop_end,
    )


def row(threads: int, pure: Run, e2e: Run, skip: int, batch: int) -> dict[str, float]:
    pure_step = pure.step(skip)
    data_cost = pure.interval(skip) - pure_step
    interval = e2e.interval(skip)
    beside = e2e.step(skip)
    return {
        "threads": threads,
        "workers": e2e.workers,
        "pure_step_s": pure_step,
        "pure_img_s": batch / pure_step,
        "data_cpu_s": data_cost,
        "e2e_s": interval,
        "e2e_img_s": batch / interval,
        "efficiency": pure_step / interval,
        "step_under_load_s": beside,
        "outside_step_s": interval - beside,
        "setup_s": e2e.setup,
        "after_loop_s": e2e.after_loop,
    }


def table(rows: list[dict[str, float]]) -> str:
    head = (
        "| threads | workers | pure step s (img/s) | data CPU s/batch | end-to-end s/iter "
        "(img/s) | end-to-end / pure | step beside the loader s | outside the step s "
        "| setup s | final eval + save s |\n|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = [
        f"| {r['threads']:.0f} | {r['workers']:.0f} | {r['pure_step_s']:.3f} "
        f"({r['pure_img_s']:.2f}) | {r['data_cpu_s']:.3f} | {r['e2e_s']:.3f} "
        f"({r['e2e_img_s']:.2f}) | {r['efficiency']:.1%} | {r['step_under_load_s']:.3f} | "
        f"{r['outside_step_s']:.3f} | {r['setup_s']:.1f} | {r['after_loop_s']:.1f} |"
        for r in rows
    ]
    return head + "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="camvid_15min_cpu", help="a recipe name or YAML file")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--iters", type=int, default=24, help="iterations per measured run")
    p.add_argument("--skip", type=int, default=4, help="warm-up iterations left out")
    p.add_argument("--root", default=str(ROOT.parent / "shared" / "datasets" / "camvid"))
    p.add_argument("--output-dir", default="/tmp/ffseg-train-overhead")
    p.add_argument("--set", dest="overrides", action="append", default=[])
    p.add_argument("--no-doc", action="store_true")
    p.add_argument(
        "--tag", default="", help="a variant's name (e.g. data.cache=false): own section"
    )
    args = p.parse_args(argv)
    if args.iters < args.skip + 3:
        p.error("--iters must leave at least 3 iterations after --skip")
    logging.basicConfig(level=logging.WARNING)
    overrides = [
        f"train.output_dir={args.output_dir}",
        "log.progress=false",
        *([f"data.root={args.root}"] if "camvid" in args.config else []),
        *args.overrides,
    ]
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        pure = measure(args.config, overrides, args.iters, workers=0)
        recipe = load_config(args.config, overrides).data.workers
        # with no loader processes the recipe's own run is the pure run: measuring it twice
        # would only add the run-to-run noise of the step (seen: 1.84 vs 1.91 s) to the ratio
        same = loader_workers(recipe) == 0
        e2e = pure if same else measure(args.config, overrides, args.iters, workers=None)
        rows.append(row(threads, pure, e2e, args.skip, pure.times.batch))
        print(table(rows[-1:]), flush=True)
    command = "python benchmarks/train_overhead.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    shown = f"`{args.config}`" + (f" ({args.tag})" if args.tag else "")
    body = f"""## Training loop overhead: {shown} (`benchmarks/train_overhead.py`)

The pure step is measured inside `fit` with `data.workers=0` (data prepared between steps, each
step alone on the cores); end to end runs the recipe's own data settings. {args.iters}
iterations per run, the first {args.skip} left out.

{table(rows)}

{environment()}
- command: `{command}`
"""
    print(body)
    if not args.no_doc:
        section = "train_overhead_" + Path(args.config).stem + (f"_{args.tag}" if args.tag else "")
        print(f"wrote {write_section(section, body)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
