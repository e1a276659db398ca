"""One trial = one normal run folder trained with :func:`ffseg.engine.train.fit`.

The trial's recipe is the study's recipe with the sampled values (:class:`SearchSpace.apply`),
trained into ``<study>/trials/trial_NNNN``. With one objective (val mIoU) every evaluation is
reported to Optuna and a pruned trial stops right after it (its run folder keeps everything up
to that evaluation). With two (mIoU up, latency down) the latency of the trained architecture
comes from the study's :class:`LatencyCache`. A retried trial (its worker was killed) resumes
the run folder of the trial it retries when that folder holds a checkpoint.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ffseg.config import Config, apply_overrides
from ffseg.engine.checkpoint import BEST, CHECKPOINT, MODEL_CONFIG
from ffseg.engine.train import FitResult, TrainingInterrupted, fit
from ffseg.tune.latency import LatencyCache
from ffseg.tune.space import SearchSpace

__all__ = ["OBJECTIVES", "TrialObjective", "WorkerInterrupted", "retried_from"]

log = logging.getLogger(__name__)

#: The objectives a study may optimise, with their direction.
OBJECTIVES = {"miou": "maximize", "latency": "minimize"}
RUN_DIR_ATTR = "run_dir"
LATENCY_ATTR = "latency_ms"
CLASSES_ATTR = "num_classes"
ERROR_ATTR = "error"  # a failed trial's one-line error
DISK_ATTR = "disk_bytes"  # what a finished trial's run folder keeps on disk

#: What a finished trial's run folder drops: the resumable state (optimizer and all) always,
#: the weights too when it was pruned. It keeps its recipe, summary.csv and results.png.
DROPPED_WHEN_DONE = (CHECKPOINT,)
DROPPED_WHEN_PRUNED = (CHECKPOINT, BEST, MODEL_CONFIG)
RETRY_ATTR = "retry_of"  # set by ffseg on trials re-queued after an interrupted or stale worker


class WorkerInterrupted(KeyboardInterrupt):
    """A signal stopped the worker; the trial's run folder holds a resumable checkpoint."""


def retried_from(trial: Any) -> int | None:
    """The number of the trial ``trial`` retries (Optuna's retry callback or ffseg's), if any.

    ``trial`` is a ``FrozenTrial`` or a running ``Trial`` (whose attributes live in storage)."""
    if not hasattr(trial, "system_attrs"):
        trial = trial.study._storage.get_trial(trial._trial_id)
    number = trial.system_attrs.get("failed_trial")
    if number is None:
        number = trial.user_attrs.get(RETRY_ATTR)
    return None if number is None else int(number)


def trial_name(number: int) -> str:
    return f"trial_{number:04d}"


def _trim(trial: Any, run_dir: Path, names: Sequence[str]) -> None:
    """Remove ``names`` from a finished trial's run folder; record what it keeps on disk."""
    for name in names:
        (run_dir / name).unlink(missing_ok=True)
    kept = sum(p.stat().st_size for p in run_dir.rglob("*") if p.is_file() and not p.is_symlink())
    trial.set_user_attr(DISK_ATTR, kept)


@dataclass
class TrialObjective:
    """The callable Optuna optimises: train one trial, return its objective value(s)."""

    base: Config
    space: SearchSpace
    study_dir: Path
    objectives: Sequence[str]
    latency: LatencyCache | None = None

    @property
    def runs_dir(self) -> Path:
        return self.study_dir / "trials"

    def recipe(self, values: dict[str, Any], number: int) -> Config:
        """The recipe of trial ``number`` with the sampled ``values``."""
        cfg = self.space.apply(self.base, values, f"trial {number}")
        return apply_overrides(
            cfg,
            [f"train.output_dir={self.runs_dir}", f"train.name={trial_name(number)}"],
            f"trial {number}",
        )

    def __call__(self, trial: Any) -> float | tuple[float, float]:
        values = self.space.suggest(trial)
        origin = retried_from(trial)
        number = trial.number if origin is None else origin
        cfg = self.recipe(values, number)
        resume = self.runs_dir / trial_name(number)
        resume = resume if origin is not None and (resume / CHECKPOINT).is_file() else None
        if resume is not None:
            log.info("trial %d retries trial %d: resuming %s", trial.number, origin, resume)
        trial.set_user_attr(RUN_DIR_ATTR, str(resume or self.runs_dir / trial_name(number)))
        run_dir = resume or self.runs_dir / trial_name(number)
        try:
            result = fit(cfg, resume=resume, on_evaluate=self._reporter(trial))
        except TrainingInterrupted as exc:
            raise WorkerInterrupted(str(exc)) from exc
        except Exception as exc:
            import optuna

            if isinstance(exc, optuna.TrialPruned):
                _trim(trial, run_dir, DROPPED_WHEN_PRUNED)
            else:
                lines = (str(exc).strip() or type(exc).__name__).splitlines()
                trial.set_user_attr(ERROR_ATTR, f"{type(exc).__name__}: {lines[0]}")
            raise
        trial.set_user_attr(RUN_DIR_ATTR, str(result.run_dir))
        trial.set_user_attr(CLASSES_ATTR, result.num_classes)
        _trim(trial, result.run_dir, DROPPED_WHEN_DONE)
        score = self._score(result)
        if len(self.objectives) == 1:
            return score
        return score, self._latency(cfg, result, trial)

    def _reporter(self, trial: Any) -> Any:
        if len(self.objectives) > 1:  # Optuna prunes single-objective studies only
            return None
        import optuna

        def report(state: Any, row: dict[str, float]) -> None:
            score = row.get("miou", row.get("top1"))
            if score is None or not math.isfinite(score):
                return
            trial.report(float(score), step=int(state.iteration))
            if trial.should_prune():
                raise optuna.TrialPruned(
                    f"pruned at iteration {state.iteration} (score {score:.4f})"
                )

        return report

    @staticmethod
    def _score(result: FitResult) -> float:
        if result.best_score < 0 or not math.isfinite(result.best_score):
            raise RuntimeError(
                f"trial run {result.run_dir} was never evaluated; give the recipe a validation "
                "split (data.val_split) so trials can be compared"
            )
        return float(result.best_score)

    def _latency(self, cfg: Config, result: FitResult, trial: Any) -> float:
        assert self.latency is not None
        size = self.latency.spec.size or tuple(cfg.data.crop_size)
        ms = self.latency.get(
            cfg.model.name,
            (int(size[0]), int(size[1])),
            kwargs=dict(cfg.model.kwargs),
            num_classes=result.num_classes,
            model=result.model,
        )
        trial.set_user_attr(LATENCY_ATTR, ms)
        return ms
