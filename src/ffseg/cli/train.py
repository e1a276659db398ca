"""``ffseg train`` (any recipe, also under ``torchrun``) and ``ffseg demo`` (no data needed)."""

from __future__ import annotations

import argparse
import os
import sys

import yaml

from ffseg.cli._args import add_set_arg
from ffseg.config import config_to_dict, load_config
from ffseg.engine.train import FitResult, TrainingInterrupted, fit

__all__ = ["DEMO_RECIPE", "register", "run_demo", "run_train"]

#: The packaged recipe ``ffseg demo`` trains (and ``ffseg train`` without ``--config``).
DEMO_RECIPE = "demo"

#: How the CLI names a task's score.
SCORE_LABELS = {"miou": "mIoU", "top1": "top-1"}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a recipe (works the same under torchrun)",
        description="Train from a recipe. Multi-GPU / multi-node: "
        "torchrun --nproc-per-node N -m ffseg train --config RECIPE",
    )
    p.add_argument(
        "--config",
        "-c",
        default=None,
        metavar="RECIPE",
        help="a packaged recipe name (see `ffseg recipes`) or a YAML file "
        f"(default: {DEMO_RECIPE}; with --resume: the recipe stored in the run)",
    )
    _common(p)
    p.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue runs/<name> exactly from last.pt; --set may change the keys listed in "
        "docs/TRAINING.md (e.g. --set train.epochs=N extends a finished run; default: none)",
    )
    p.add_argument("--print-config", action="store_true", help="print the resolved recipe and exit")
    p.set_defaults(func=run_train)

    p = subparsers.add_parser(
        "demo",
        help="train a small FFNet on synthetic scenes (~2 min on CPU), print mIoU, save overlays",
    )
    _common(p)
    p.set_defaults(func=run_demo)


def _common(p: argparse.ArgumentParser) -> None:
    add_set_arg(p)
    p.add_argument("--output-dir", help="parent folder of the run folder (train.output_dir)")
    p.add_argument("--name", help="run name (train.name)")


def _cli_overrides(args: argparse.Namespace) -> list[str]:
    extra = list(args.overrides)
    if args.output_dir:
        extra.append(f"train.output_dir={args.output_dir}")
    if args.name:
        extra.append(f"train.name={args.name}")
    return extra


def _is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def run_train(args: argparse.Namespace) -> int:
    try:
        result = _fit(args)
    except TrainingInterrupted as exc:
        if _is_main():
            print(f"ffseg train: {exc}", file=sys.stderr)
        return exc.exit_code
    if result is None:
        return 0
    if _is_main():
        _report(result)
    return 0


def _fit(args: argparse.Namespace) -> FitResult | None:
    """Resume (the stored recipe, or ``--config`` if given, plus allowed ``--set`` changes) or
    train a recipe; ``None`` after ``--print-config``."""
    overrides = _cli_overrides(args)
    if args.resume and args.config is None:
        return fit(resume=args.resume, overrides=overrides)
    cfg = load_config(args.config or DEMO_RECIPE, overrides)
    if args.print_config:
        print(yaml.safe_dump(config_to_dict(cfg), sort_keys=False), end="")
        return None
    return fit(cfg, resume=args.resume)


def _report(result: FitResult) -> None:
    if result.score is not None:
        label = SCORE_LABELS.get(result.score_name, result.score_name)
        print(f"val {label}: {result.score * 100:.2f}  (best {result.best_score * 100:.2f})")
    print(f"run folder: {result.run_dir}  ({result.iterations} iterations, {result.seconds:.0f} s)")


def run_demo(args: argparse.Namespace) -> int:
    cfg = load_config(DEMO_RECIPE, _cli_overrides(args))
    result = fit(cfg)
    if not _is_main():
        return 0
    metrics = result.metrics
    model = cfg.model.name.rpartition(":")[2]
    if "backbone" in cfg.model.kwargs:
        model += f"({cfg.model.kwargs['backbone']})"
    print()
    print(
        f"ffseg demo: {model} on SyntheticScenes ({result.num_classes} classes), "
        f"{result.iterations} iterations in {result.seconds:.0f} s"
    )
    chance = _chance_miou(result.num_classes)
    print(
        f"  val mIoU  {metrics['miou'] * 100:5.1f}   (chance ~{chance * 100:.1f}: random guessing)"
    )
    print(f"  val aAcc  {metrics['aacc'] * 100:5.1f}")
    print(f"  run folder: {result.run_dir}")
    for path in result.overlays:
        print(f"  overlay: {path}")
    return 0


def _chance_miou(num_classes: int) -> float:
    """mIoU of uniform random guessing on balanced classes: IoU = 1 / (2K - 1)."""
    return 1.0 / (2 * num_classes - 1)
