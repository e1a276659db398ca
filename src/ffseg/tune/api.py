"""``ffseg.tune(...)``: run (or join, or continue) a study and write its results.

Every worker of a study runs the same call (same recipe, space, study name and storage); each
draws trials until the study holds ``trials`` of them, then refreshes the study folder's
``trials.csv``, best recipe(s) and plots.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ffseg.config import Config, apply_overrides, load_config, validate_config
from ffseg.deploy.extras import require_extra
from ffseg.tune.latency import LatencyCache, LatencySpec
from ffseg.tune.objective import CLASSES_ATTR, OBJECTIVES, RUN_DIR_ATTR, TrialObjective
from ffseg.tune.report import (
    TRIALS_CSV,
    Reference,
    write_best_recipes,
    write_plots,
    write_trials_csv,
)
from ffseg.tune.space import SearchSpace, load_space
from ffseg.tune.study import (
    FileHeartbeat,
    Progress,
    create_pruner,
    log_to_file,
    open_storage,
    open_study,
    run_worker,
)

__all__ = ["TUNE_LOG", "TuneResult", "parse_objectives", "tune"]

#: The study folder's log file: Optuna's lines and every failed trial's traceback.
TUNE_LOG = "tune.log"

log = logging.getLogger(__name__)


@dataclass
class TuneResult:
    """What :func:`tune` returns (the study folder holds the same, on disk)."""

    study_name: str
    study_dir: Path
    storage: str
    objectives: list[str]
    trials_run: int  # by this call
    best: list[dict[str, Any]]  # number, values, params, run_dir (one, or the Pareto set)
    recipes: list[Path]  # best.yaml, or pareto/trial_NNNN.yaml
    trials_csv: Path
    plots: list[Path] = field(default_factory=list)
    study: Any = None  # the optuna.Study
    log_file: Path | None = None  # Optuna's log and failed trials' tracebacks

    @property
    def completed(self) -> int:
        """Trials of the study that completed (all workers)."""
        from optuna.trial import TrialState

        return len(self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def parse_objectives(objectives: str | Sequence[str]) -> list[str]:
    """``"miou"`` or ``"miou,latency"`` (or a list) checked against :data:`OBJECTIVES`."""
    names = objectives.split(",") if isinstance(objectives, str) else list(objectives)
    names = [n.strip() for n in names if n.strip()]
    bad = [n for n in names if n not in OBJECTIVES]
    if bad or not names or names[0] != "miou" or len(set(names)) != len(names):
        raise ValueError(
            f"objectives {','.join(names) or '(none)'!r} are not valid; use miou or miou,latency"
        )
    return names


def _study_name(name: str | None, cfg: Config) -> str:
    name = name or cfg.train.name
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise ValueError(
            f"study name {name!r} must be letters, digits, '.', '_' or '-' (it names a folder)"
        )
    return name


def _load(config: Config | str | Path, overrides: Iterable[str]) -> Config:
    if not isinstance(config, Config):
        return load_config(config, overrides)
    overrides = list(overrides)
    return validate_config(apply_overrides(config, overrides) if overrides else config)


def _summaries(study: Any, multi: bool) -> list[dict[str, Any]]:
    try:
        best = study.best_trials if multi else [study.best_trial]
    except ValueError:
        return []
    return [
        {
            "number": t.number,
            "values": list(t.values),
            "params": dict(t.params),
            "run_dir": t.user_attrs.get(RUN_DIR_ATTR),
        }
        for t in sorted(best, key=lambda t: t.number)
    ]


def _measure_references(
    references: Iterable[Reference | tuple[str, float]], cache: LatencyCache, size: Any, n: int
) -> list[Reference]:
    out = []
    for ref in references:
        if isinstance(ref, Reference):
            out.append(ref)
        else:
            name, miou = ref
            out.append(Reference(name, float(miou), cache.get(name, size, num_classes=n)))
    return out


def tune(
    config: Config | str | Path,
    space: SearchSpace | str | Path,
    *,
    trials: int,
    study: str | None = None,
    storage: str | None = None,
    objectives: str | Sequence[str] = "miou",
    pruner: str | Any = "median",
    out: str | Path = "studies",
    latency: LatencySpec | None = None,
    references: Iterable[Reference | tuple[str, float]] = (),
    overrides: Iterable[str] = (),
    seed: int | None = None,
    heartbeat_s: int = 60,
    max_retry: int = 3,
    plots: bool = True,
    emit: Callable[[str], None] | None = None,
) -> TuneResult:
    """Search ``space`` around the recipe ``config`` for ``trials`` trials (study total).

    Args:
        config: a recipe (``Config``, YAML file or packaged recipe name); ``overrides`` apply.
        space: a :class:`SearchSpace` or its YAML file (checked against the recipe).
        trials: how many trials the study holds when done, over all its workers.
        study: the study name (default: the recipe's ``train.name``); its folder is
            ``out/<study>``.
        storage: ``None`` (SQLite file in the study folder), an Optuna storage URL
            (``postgresql://...``) or a journal file (``journal:PATH`` / ``*.log``).
        objectives: ``"miou"`` or ``"miou,latency"`` (NSGA-II; no pruning).
        pruner: ``median``, ``hyperband``, ``none`` or an Optuna pruner.
        latency: how latency is measured (default eager fp32 at the recipe's crop size).
        references: models drawn on the Pareto plot: :class:`Reference` or ``(name, miou)``
            (latency measured like the trials').
        heartbeat_s: a worker silent for twice this long is considered dead; its trial is
            retried (up to ``max_retry`` times).
        emit: where progress lines go (default: the ``ffseg.tune`` logger).
    """
    require_extra("tune", "optuna", purpose="ffseg tune")
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if trials < 1:
            raise ValueError(f"trials is {trials}; give a positive number of trials")
        names = parse_objectives(objectives)
        cfg = _load(config, overrides)
        if isinstance(space, SearchSpace):
            space.check(cfg)
        else:
            space = load_space(space, cfg)
        study_name = _study_name(study, cfg)
        study_dir = Path(out) / study_name
        study_dir.mkdir(parents=True, exist_ok=True)
        multi = len(names) > 1
        cache = LatencyCache(study_dir / "latency", latency or LatencySpec()) if multi else None
        handle = open_storage(storage, study_dir, heartbeat_s=heartbeat_s, max_retry=max_retry)
        the_study = open_study(
            study_name,
            handle,
            [OBJECTIVES[n] for n in names],
            pruner=create_pruner(pruner, trials) if not multi else optuna.pruners.NopPruner(),
            seed=seed,
            n_trials=trials,
        )
        objective = TrialObjective(cfg, space, study_dir, names, cache)
        beat = None
        if isinstance(handle, optuna.storages.JournalStorage):
            beat = FileHeartbeat(study_dir / "heartbeats", heartbeat_s, max_retry)
        log_file = study_dir / TUNE_LOG
        progress = Progress(trials, names, emit or log.info, log_file)
        optuna.logging.set_verbosity(optuna.logging.INFO)
        with log_to_file(log_file):
            ran = run_worker(
                the_study, objective, trials, callbacks=[progress], file_heartbeat=beat
            )
        csv_path = write_trials_csv(the_study, study_dir / TRIALS_CSV, names)
        recipes = write_best_recipes(
            the_study, study_dir, objective.recipe, multi, cfg.train.output_dir
        )
        drawn: list[Path] = []
        if plots:
            refs = []
            if multi and cache is not None:
                size = cache.spec.size or tuple(cfg.data.crop_size)
                done = [t for t in the_study.trials if CLASSES_ATTR in t.user_attrs]
                n = done[0].user_attrs[CLASSES_ATTR] if done else cfg.model.num_classes
                refs = _measure_references(references, cache, size, n)
            drawn = write_plots(the_study, study_dir, names, refs)
        return TuneResult(
            study_name=study_name,
            study_dir=study_dir,
            storage=storage or f"sqlite:///{study_dir / 'study.db'}",
            objectives=names,
            trials_run=ran,
            best=_summaries(the_study, multi),
            recipes=recipes,
            trials_csv=csv_path,
            plots=drawn,
            study=the_study,
            log_file=log_file,
        )
