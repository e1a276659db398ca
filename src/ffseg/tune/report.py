"""What a study leaves in its folder: ``trials.csv``, the best recipe(s) and plots.

``best.yaml`` (one objective) or ``pareto/trial_NNNN.yaml`` (two objectives: the Pareto set)
are complete recipes, ready for ``ffseg train --config``. Plots use Optuna's own matplotlib
plotting (history, parameter importances, Pareto front with reference models overlaid); they
are skipped with a note when matplotlib is missing or a plot has too few trials.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ffseg._io import atomic_write_bytes, atomic_write_text
from ffseg.config import Config, save_config
from ffseg.tune.objective import LATENCY_ATTR, RUN_DIR_ATTR
from ffseg.tune.study import is_surplus

__all__ = ["Reference", "write_best_recipes", "write_plots", "write_trials_csv"]

log = logging.getLogger(__name__)

TRIALS_CSV = "trials.csv"
BEST_RECIPE = "best.yaml"
PARETO_DIR = "pareto"
LABELS = {"miou": "val mIoU", "latency": "latency (ms)"}


@dataclass(frozen=True)
class Reference:
    """A model drawn on the Pareto plot: e.g. a registered FFNet trained on the same budget."""

    name: str
    miou: float
    latency_ms: float


def write_trials_csv(study: Any, path: Path, objectives: Sequence[str]) -> Path:
    """One row per trial: number, state, objective values, parameters, run folder, duration."""
    trials = [t for t in study.get_trials(deepcopy=False) if not is_surplus(t)]
    params = sorted({k for t in trials for k in t.params})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["number", "state", *objectives, *params, "latency_ms", "duration_s", "run_dir"]
    )
    for t in trials:
        values = list(t.values) if t.values else [math.nan] * len(objectives)
        duration = t.duration.total_seconds() if t.duration else math.nan
        writer.writerow(
            [
                t.number,
                t.state.name,
                *values,
                *(t.params.get(k, "") for k in params),
                t.user_attrs.get(LATENCY_ATTR, ""),
                f"{duration:.1f}",
                t.user_attrs.get(RUN_DIR_ATTR, ""),
            ]
        )
    return atomic_write_text(path, out.getvalue())


def write_best_recipes(
    study: Any,
    study_dir: Path,
    recipe: Callable[[dict[str, Any], int], Config],
    multi: bool,
    output_dir: str = "runs",
) -> list[Path]:
    """Ready-to-train recipes (``best.yaml`` or the Pareto set under ``pareto/``) whose runs go
    to ``output_dir``."""
    try:
        best = study.best_trials if multi else [study.best_trial]
    except ValueError:  # no trial finished yet
        return []
    written = []
    for t in sorted(best, key=lambda t: t.number):
        path = study_dir / (f"{PARETO_DIR}/trial_{t.number:04d}.yaml" if multi else BEST_RECIPE)
        path.parent.mkdir(parents=True, exist_ok=True)
        cfg = recipe(dict(t.params), t.number)
        cfg.train.output_dir = output_dir
        cfg.train.name = f"{study.study_name}-trial{t.number}"
        written.append(save_config(cfg, path))
    if multi:  # trials that left the Pareto set
        for old in (study_dir / PARETO_DIR).glob("trial_*.yaml"):
            if old not in written:
                old.unlink(missing_ok=True)
    return written


def _save(ax: Any, path: Path) -> Path:
    fig = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue())


def _pareto(study: Any, objectives: Sequence[str], references: Sequence[Reference]) -> Any:
    from optuna.visualization.matplotlib import plot_pareto_front

    names = [LABELS.get(o, o) for o in objectives]
    ax = plot_pareto_front(study, target_names=names)
    for ref in references:
        ax.scatter([ref.miou], [ref.latency_ms], marker="*", s=120, color="black", zorder=5)
        where = (ref.miou, ref.latency_ms)
        ax.annotate(ref.name, where, fontsize=7, xytext=(4, 4), textcoords="offset points")
    if references:
        ax.scatter([], [], marker="*", color="black", label="reference models")
        ax.legend(fontsize=7)
    return ax


#: Completed trials a parameter-importance plot needs (fewer say nothing about importance).
MIN_TRIALS_FOR_IMPORTANCE = 8
#: Completed trials a history plot needs.
MIN_TRIALS_FOR_HISTORY = 2


def write_plots(
    study: Any, study_dir: Path, objectives: Sequence[str], references: Sequence[Reference] = ()
) -> list[Path]:
    """History, parameter importances and (two objectives) the Pareto front, as PNG files."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from optuna import importance
        from optuna.visualization import matplotlib as oplt
    except ImportError as exc:
        log.info("plots skipped (%s): pip install 'ffseg[plot]'", exc)
        return []
    from optuna.trial import TrialState

    completed = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    if not completed:
        return []
    multi = len(objectives) > 1
    target = (lambda t: t.values[0]) if multi else None
    name = LABELS[objectives[0]]
    jobs: dict[str, Callable[[], Any]] = {
        "history.png": lambda: oplt.plot_optimization_history(
            study, target=target, target_name=name
        ),
        "importances.png": lambda: oplt.plot_param_importances(  # the evaluator minimises
            study,
            evaluator=getattr(importance, "PedAnovaImportanceEvaluator", lambda: None)(),
            target=lambda t: -t.values[0],
            target_name=name,
        ),
    }
    if multi:
        jobs["pareto.png"] = lambda: _pareto(study, objectives, references)
    for filename, minimum in (
        ("history.png", MIN_TRIALS_FOR_HISTORY),
        ("importances.png", MIN_TRIALS_FOR_IMPORTANCE),
    ):
        if completed < minimum:
            del jobs[filename]
            (study_dir / filename).unlink(missing_ok=True)  # a stale one would mislead
            log.info(
                "%s skipped: it needs %d completed trials, the study has %d",
                filename,
                minimum,
                completed,
            )
    written = []
    for filename, plot in jobs.items():
        try:
            with warnings.catch_warnings():  # Optuna's notes on small studies
                warnings.simplefilter("ignore", UserWarning)
                written.append(_save(plot(), study_dir / filename))
        except Exception as exc:  # e.g. too few finished trials for importances
            log.info("%s skipped: %s", filename, exc)
    return written
