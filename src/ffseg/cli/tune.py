"""``ffseg tune``: an Optuna search over recipe keys and the FFNet design space (docs/TUNING.md).

Start the same command on several machines or processes (same ``--study`` and ``--storage``) to
share a study; run it again to continue one.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ffseg.cli._args import add_input_size_arg, add_precision_arg, add_set_arg, int_in, positive_int
from ffseg.deploy.bench import BACKENDS
from ffseg.deploy.extras import require_extra

__all__ = ["register", "run_tune"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "tune",
        help="search recipe keys / FFNet architectures with Optuna (mIoU, optionally latency)",
        description="Search the keys of SPACE.yaml around RECIPE; each trial is a run folder "
        "under OUT/STUDY/trials. Workers with the same --study and --storage share the study.",
    )
    p.add_argument("--config", "-c", required=True, metavar="RECIPE", help="recipe to tune")
    p.add_argument("--space", required=True, metavar="SPACE.yaml", help="the search space")
    p.add_argument(
        "--trials",
        type=positive_int,
        required=True,
        metavar="N",
        help="trials in the study (all workers)",
    )
    p.add_argument(
        "--storage",
        metavar="URL",
        help="Optuna storage URL (postgresql://...), or a journal file (journal:PATH or *.log) "
        "on a shared disk (default: OUT/STUDY/study.db)",
    )
    p.add_argument("--study", metavar="NAME", help="study name (default: the recipe's train.name)")
    p.add_argument(
        "--objectives",
        default="miou",
        choices=("miou", "miou,latency"),
        metavar="miou[,latency]",
        help="miou (TPE, pruning) or miou,latency (NSGA-II, Pareto front)",
    )
    p.add_argument(
        "--pruner", default="median", choices=("median", "hyperband", "none"), help="pruner"
    )
    p.add_argument("--out", default="studies", metavar="DIR", help="parent of the study folder")
    p.add_argument(
        "--latency-backend", default="eager", choices=BACKENDS, help="backend timed for latency"
    )
    add_precision_arg(p, choices=("fp32", "bf16", "fp16", "int8"))
    add_input_size_arg(
        p, "latency input size (default: the recipe's data.crop_size)", size_alias=False
    )
    p.add_argument(
        "--reference",
        action="append",
        default=[],
        metavar="NAME=MIOU",
        help="a model drawn on the Pareto plot at its measured latency (repeatable)",
    )
    add_set_arg(p, " for every trial")
    p.add_argument(
        "--seed", type=int_in(0, 2**32 - 1), default=None, help="sampler seed (default: random)"
    )
    p.add_argument(
        "--heartbeat",
        type=positive_int,
        default=60,
        metavar="S",
        help="worker heartbeat in seconds",
    )
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.set_defaults(func=run_tune)


def _references(items: list[str]) -> list[tuple[str, float]]:
    refs = []
    for item in items:
        name, sep, value = item.partition("=")
        try:
            refs.append((name.strip(), float(value)))
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise ValueError(
                f"--reference {item!r}: write NAME=MIOU, e.g. ffnet40s_bbb_mobile=0.61"
            )
    return refs


def run_tune(args: argparse.Namespace) -> int:
    require_extra("tune", "optuna", purpose="ffseg tune")
    from ffseg.tune import LatencySpec, tune

    latency = LatencySpec(
        backend=args.latency_backend,
        precision=args.precision,
        size=tuple(args.input_size) if args.input_size else None,
    )
    try:
        result = _tune(args, tune, latency)
    except KeyboardInterrupt:
        print(
            "ffseg tune: interrupted; the stopped trial is queued again: run the same command "
            "to continue the study",
            file=sys.stderr,
        )
        return 130
    if result.completed == 0:
        print(
            f"ffseg tune: error: no trial of study {result.study_name} completed; the failures "
            f"are listed above, their tracebacks in {result.log_file}",
            file=sys.stderr,
        )
        return 1
    print(f"study {result.study_name}: {result.trials_run} trial(s) run by this worker")
    for best in result.best:
        values = ", ".join(f"{k}={v:.4g}" for k, v in zip(result.objectives, best["values"]))
        print(f"  best trial {best['number']}: {values}  {best['params']}")
    for path in result.recipes:
        print(f"  recipe: {path}")
    print(f"  trials table: {result.trials_csv}")
    for path in result.plots:
        print(f"  plot: {path}")
    return 0


def _tune(args: argparse.Namespace, tune: Any, latency: Any) -> Any:
    return tune(
        args.config,
        args.space,
        trials=args.trials,
        study=args.study,
        storage=args.storage,
        objectives=args.objectives,
        pruner=args.pruner,
        out=args.out,
        latency=latency,
        references=_references(args.reference),
        overrides=args.overrides,
        seed=args.seed,
        heartbeat_s=args.heartbeat,
        plots=not args.no_plots,
        emit=print,
    )
