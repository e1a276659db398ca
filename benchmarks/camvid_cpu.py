"""Train a CamVid recipe from scratch on CPU for its wall-clock budget and report it.

The recipe's ``train.max_minutes`` (or ``--minutes``) drives the LR schedule by wall clock and
keeps time for one final evaluation (see docs/TRAINING.md). The report: val mIoU on CamVid val
(101 images) at the full 360x480 labels (logits upsampled to the label size; ``eval.resize`` is
forced off), per-class IoU, iterations, training img/s, the share of the budget spent training,
the machine, the versions and the command. It goes to docs/benchmarks/training.md (one section
per recipe) unless ``--no-doc``.

    python benchmarks/camvid_cpu.py --config camvid_15min_cpu
    python benchmarks/camvid_cpu.py --config camvid_60min_cpu
    python benchmarks/camvid_cpu.py --config camvid_15min_cpu --tag no_class_uniform \
        --set data.class_uniform=0   # an ablation, in its own section
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import environment, write_section

from ffseg.classes import CAMVID_CLASSES
from ffseg.config import RECIPES_DIR, find_recipe, load_config
from ffseg.engine.calibrate import CALIBRATION
from ffseg.engine.checkpoint import CHECKPOINT, load_checkpoint
from ffseg.engine.precision import resolve_precision
from ffseg.engine.train import FitResult, fit
from ffseg.metrics import format_table

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = "camvid_15min_cpu"  # a packaged recipe (ffseg recipes)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.2f}"


def _precision(cfg) -> str:
    """The precision the run used on this CPU (``auto`` resolved)."""
    used = resolve_precision(cfg.train.amp, "cpu").name
    return f"{used} (train.amp=auto)" if cfg.train.amp == "auto" else used


def _extras(cfg) -> str:
    """Class-uniform sampling, EMA and distillation settings, in words."""
    d, t, kd = cfg.data, cfg.train, cfg.kd
    parts = [
        f"class-uniform crops {d.class_uniform:g} (off at {d.class_uniform_off_at:g})"
        if d.class_uniform
        else "no class-uniform crops",
        f"EMA {t.ema_decay:g}" if t.ema else "no EMA",
    ]
    if kd.weight or kd.feature_weight:
        parts.append(
            f"distillation from {kd.teacher} ({kd.teacher_checkpoint}): logits {kd.weight:g}, "
            f"features {kd.feature_weight:g} at level {kd.feature_level}"
        )
    return ", ".join(parts)


def _calibration(run_dir: Path) -> str:
    """The calibration's choice and why, from the run folder ('' without calibration)."""
    path = run_dir / CALIBRATION
    if not path.is_file():
        return ""
    chosen = json.loads(path.read_text())
    return f" Calibration chose `{chosen['chosen']}`: {chosen['reason']}."


def report(result: FitResult, cfg, shown: str, command: str) -> str:
    """The markdown section of one run (``cfg``: the run's own, calibration applied)."""
    history = load_checkpoint(result.run_dir / CHECKPOINT)["state"]["history"]
    last = history[-1] if history else {}
    images = result.iterations * cfg.data.batch_size
    img_s = images / result.train_seconds if result.train_seconds else float("nan")
    budget = cfg.train.max_minutes
    share = result.train_share
    table = format_table(result.metrics, CAMVID_CLASSES) if result.metrics else "(no evaluation)"
    return f"""## CamVid from scratch on CPU: `{shown}` (`benchmarks/camvid_cpu.py`)

{cfg.model.name} {cfg.model.kwargs or ""}, from scratch (no ImageNet weights), budget
{budget:g} min (LR schedule by wall clock), crop {list(cfg.data.crop_size)}, batch
{cfg.data.batch_size}, {_precision(cfg)}, loss {cfg.loss.name}, {_extras(cfg)}. Evaluated once at the end on CamVid val
({result.metrics.get("num_images", "?")} images) at the full 360x480 labels (logits upsampled to the label size).{_calibration(result.run_dir)}

| metric | value |
|---|---|
| val mIoU, trained weights | {_pct(result.metrics.get("miou"))} |
| val mIoU, EMA weights | {_pct(last.get("miou_ema"))} |
| val aAcc (trained weights) | {_pct(result.metrics.get("aacc"))} |
| iterations | {result.iterations} |
| training img/s | {img_s:.2f} |
| wall time | {result.seconds / 60:.2f} min |
| share of the budget spent training | {"n/a" if share is None else f"{share:.1%}"} |
| final LR / base LR | {last.get("lr", float("nan")) / cfg.optim.lr:.4f} |

Per-class IoU (trained weights):

```
{table}
```

{environment()}
- command: `{command}`
"""


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=DEFAULT, help="a recipe name or YAML file")
    p.add_argument("--minutes", type=float, help="override the recipe's train.max_minutes")
    p.add_argument("--root", default=str(ROOT.parent / "shared" / "datasets" / "camvid"))
    p.add_argument("--output-dir", default=str(ROOT / "runs"))
    p.add_argument("--set", dest="overrides", action="append", default=[])
    p.add_argument("--no-doc", action="store_true", help="print only (e.g. a smoke run)")
    p.add_argument(
        "--tag", default="", help="a variant's name (e.g. an ablation): its own doc section"
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    overrides = [
        f"data.root={args.root}",
        f"train.output_dir={args.output_dir}",
        "log.progress=false",
        "eval.resize=null",  # the benchmark protocol: full 360x480 labels
        *([f"train.max_minutes={args.minutes}"] if args.minutes else []),
        *args.overrides,
    ]
    cfg = load_config(args.config, overrides)
    if cfg.train.max_minutes is None:
        p.error(f"{args.config} has no train.max_minutes; pass --minutes")
    result = fit(cfg)
    cfg = load_config(str(result.run_dir / "config.yaml"))  # as trained: calibration applied
    recipe = find_recipe(args.config)
    shown = recipe.stem if recipe.parent == RECIPES_DIR else args.config
    shown += f" ({args.tag})" if args.tag else ""
    command = "python benchmarks/camvid_cpu.py " + " ".join(sys.argv[1:] if argv is None else argv)
    body = report(result, cfg, shown, command)
    print(body)
    if not args.no_doc:
        section = f"camvid_cpu_{recipe.stem}" + (f"_{args.tag}" if args.tag else "")
        print(f"wrote {write_section(section, body)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
