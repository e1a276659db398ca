"""The training loop: :func:`fit` runs a recipe end to end, :func:`train_one_epoch` one epoch.

Plain functions in the style of torchvision's references. ``fit`` checks the whole recipe,
builds data, model, optimizer, schedule, loss (with the distillation teacher) and EMA, restores
a checkpoint when resuming, then alternates epochs, evaluations and checkpoints; the run folder
``<output_dir>/<name>/`` holds ``config.yaml``, ``last.pt`` (resumable), ``best.safetensors``,
``summary.csv``, TensorBoard events (``tb/``) and prediction overlays. Nothing is written
before everything that can fail cheaply has been built.

Resuming is exact: data order comes from ``DistributedSampler(seed, epoch)``, augmentations
are seeded per (epoch, sample), and ``last.pt`` stores every RNG state and the position in the
epoch, so ``k`` iterations + resume + ``N - k`` iterations equal ``N`` straight iterations.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ffseg._io import atomic_write_json, check_no_symlinks, remove_stale_temp_files
from ffseg.config import (
    Config,
    config_to_dict,
)
from ffseg.engine.budget import Budget
from ffseg.engine.build import (
    build_student,
    place_model,
    run_model_config,
    training_module,
)
from ffseg.engine.calibrate import CALIBRATION, calibrated
from ffseg.engine.checkpoint import (
    CHECKPOINT,
    NonFiniteWeightsError,
    RunCheckpoint,
    TrainParts,
)
from ffseg.engine.curves import ResultsPlot
from ffseg.engine.data import (
    build_data,
    iters_per_epoch,
    train_loader,
    val_loader,
    worker_error_cause,
)
from ffseg.engine.distributed import (
    RankProgress,
    all_ranks_true,
    cleanup_distributed,
    from_rank0,
    init_distributed,
    sync_buffers,
)
from ffseg.engine.logger import TENSORBOARD, RunLogger
from ffseg.engine.overlays import OVERLAY_DIR
from ffseg.engine.precision import resolve_precision
from ffseg.engine.runfolder import RunLock, claim_run_dir, discard_unstarted
from ffseg.engine.setup import (
    bar_label,
    build_training,
    class_uniform_share,
    describe,
    long_run_warning,
    preflight,
    progress_label,
    resolve_recipe,
    restore,
    run_length,
)
from ffseg.engine.state import TrainState, deterministic_algorithms, seed_everything
from ffseg.engine.step import NonFiniteLossError, train_one_epoch
from ffseg.engine.stops import StopRequests, TrainingInterrupted
from ffseg.engine.task import EMA_SUFFIX, Task, make_task, preprocessing

__all__ = [
    "FitResult",
    "NonFiniteLossError",
    "TrainState",
    "TrainingInterrupted",
    "fit",
    "train_one_epoch",
]

log = logging.getLogger(__name__)

#: After this many iterations (the first ones are slower) a long run without budget says so.
LONG_RUN_CHECK_AT = 3


@dataclass
class FitResult:
    """What :func:`fit` returns."""

    run_dir: Path
    best_score: float  # best validation score of the run (model or EMA); -1 if never evaluated
    score_name: str  # "miou" (segmentation) or "top1" (classification)
    metrics: dict[str, Any]  # the last evaluation of the trained weights ({} if none)
    iterations: int
    seconds: float
    overlays: list[Path]
    num_classes: int
    model: nn.Module  # the trained weights (not the EMA)
    train_seconds: float = 0.0  # wall time spent in training steps (data loading included)
    budget_seconds: float | None = None  # train.max_minutes in seconds (None: no budget)

    @property
    def train_share(self) -> float | None:
        """Share of the budget spent training (``None`` without ``train.max_minutes``)."""
        return None if not self.budget_seconds else self.train_seconds / self.budget_seconds

    @property
    def score(self) -> float | None:
        """The last evaluation's score (``metrics[score_name]``), ``None`` if never evaluated."""
        value = self.metrics.get(self.score_name)
        return None if value is None else float(value)


# ----------------------------------------------------------------------------- fit


@dataclass
class _StepHook:
    """What :func:`fit` does after every iteration: count, log, mid-epoch checkpoint
    (``train.ckpt_every``), the caller's ``on_step``, and the budget (returns True: stop)."""

    state: TrainState
    logger: RunLogger
    checkpoint: RunCheckpoint
    budget: Budget
    iters_per_epoch: int
    epoch: int
    cfg: Config
    on_step: Callable[[TrainState], None] | None
    stops: StopRequests
    progress: RankProgress
    device: torch.device
    total_iters: int = 0
    first_iteration: int = 0  # where this process started (a resumed run's iteration)
    results: ResultsPlot | None = None

    def __call__(self, scalars: dict[str, float]) -> bool:
        state = self.state
        state.iteration += 1
        state.last = scalars
        self.progress.publish(state.iteration)  # names this rank if it later goes silent
        self.budget.write_s = self.checkpoint.write_s
        budget_reached = self.budget.tick()
        state.elapsed_s = self.budget.now
        self.logger.log_step(scalars, state.iteration)
        if self.results is not None and state.iteration % self.logger.log_every == 0:
            self.results.add_step(state.iteration, scalars["loss"], scalars["lr"])
        if state.iteration == self.first_iteration + LONG_RUN_CHECK_AT:  # warmed-up steps
            warning = long_run_warning(
                self.cfg, self.budget.step_s, state.iteration, self.total_iters
            )
            if warning:
                self.logger.warning(warning)
        at_epoch_end = state.iteration % self.iters_per_epoch == 0
        if at_epoch_end:
            state.epoch = self.epoch + 1
        every = self.cfg.train.ckpt_every
        if every and state.iteration % every == 0 and not at_epoch_end:
            self.checkpoint.save(state)
        if self.on_step is not None:
            self.on_step(state)
        no_stop = torch.tensor(self.stops.signum is None, device=self.device)
        stop_asked = not all_ranks_true(no_stop)
        return budget_reached or stop_asked


def _evaluate(
    task: Task, parts: TrainParts, loader: Any, progress: bool
) -> tuple[dict[str, Any], dict[str, float]]:
    """Metrics of the model and the summary row's scores (with the EMA's score if any)."""
    metrics = task.evaluate(parts.model, loader, progress)
    keys = (task.score_name, *task.summary_keys)
    scores = {k: float(metrics[k]) for k in keys if k in metrics}
    if parts.ema is not None:
        ema_metrics = task.evaluate(parts.ema.module, loader, False)
        scores[task.score_name + EMA_SUFFIX] = float(ema_metrics[task.score_name])
    return metrics, scores


def _keep_best(
    scores: dict[str, float], name: str, parts: TrainParts, state: TrainState, saver: RunCheckpoint
) -> None:
    """Record the better of model and EMA (the model on ties) when it beats the run's best, and
    save its weights as ``best.safetensors``."""
    source, score = "model", scores[name]
    if parts.ema is not None and scores[name + EMA_SUFFIX] > score:
        source, score = "ema", scores[name + EMA_SUFFIX]
    if not score > state.best_score:  # NaN never counts as better
        return
    state.best_score = score
    best = parts.ema.module if source == "ema" and parts.ema is not None else parts.model
    saver.save_best(
        best, {"iteration": str(state.iteration), "score": f"{score:.6f}", "source": source}
    )


def _stopped(exc: RuntimeError, state: TrainState, ckpt_path: Path) -> NonFiniteLossError:
    kept = ckpt_path.exists()
    where = f"the last good checkpoint {ckpt_path} is kept" if kept else "no checkpoint yet"
    return NonFiniteLossError(
        f"training stopped at epoch {state.epoch + 1}, iteration {state.iteration + 1}: {exc}; "
        f"{where}. Lower optim.lr, set optim.grad_clip, check the data, or use "
        f"train.amp=none; then continue with e.g. ffseg train --resume {ckpt_path.parent} "
        "--set optim.lr=<lower> (see docs/TRAINING.md for the keys a resume may change)."
    )


def _epoch_row(
    state: TrainState, result: dict[str, float], optimizer: torch.optim.Optimizer
) -> dict[str, float]:
    """The epoch's line of ``summary.csv`` before evaluation."""
    return {
        "epoch": float(state.epoch),
        "iteration": float(state.iteration),
        "train_loss": result.get("loss", math.nan),
        "lr": optimizer.param_groups[0]["lr"],
        "img_s": result["img_s"],
    }


def fit(
    cfg: Config | None = None,
    *,
    resume: str | Path | None = None,
    overrides: Iterable[str] = (),
    on_step: Callable[[TrainState], None] | None = None,
    on_evaluate: Callable[[TrainState, dict[str, float]], None] | None = None,
) -> FitResult:
    """Train a recipe; returns a :class:`FitResult`.

    Args:
        cfg: the recipe. When resuming it is optional: by default the run continues with the
            recipe stored in its checkpoint (which may only name registered models).
        resume: a run folder (or its ``last.pt``); the run continues exactly where it stopped.
        overrides: ``key=value`` changes for a resumed run, limited to
            :data:`ffseg.config.RESUMABLE_KEYS` (e.g. ``train.epochs=12`` extends a run).
        on_step: called after every iteration (and any checkpoint it triggers) with the state.
        on_evaluate: called after every evaluation (checkpoint and scores saved) with the state
            and the epoch's row of scores; an exception it raises (e.g. a pruned trial) ends
            the run with everything up to that evaluation on disk.

    SIGINT / SIGTERM stop at the next step boundary: ``last.pt`` is written and
    :class:`TrainingInterrupted` raised (its message says how to resume).
    """
    start = time.perf_counter()
    cfg, run_dir, ckpt, changes = resolve_recipe(cfg, resume, overrides)
    dist_info = init_distributed(cfg.train.device, timeout_s=cfg.train.dist_timeout_s)
    with ExitStack() as cleanup:
        cleanup.callback(cleanup_distributed)
        main = dist_info.is_main
        if run_dir is not None:  # refuse a run another process is training, before any work
            cleanup.enter_context(RunLock(run_dir, enabled=main))
        cleanup.enter_context(deterministic_algorithms(cfg.train.deterministic))
        device = dist_info.device
        precision = resolve_precision(cfg.train.amp, device, what="train.amp")
        seed_everything(cfg.train.seed + dist_info.rank)
        # build: whatever can fail does so before the run folder exists
        data = build_data(cfg)
        cfg, calibration = calibrated(cfg, data, precision, dist_info, start)
        if calibration is not None and calibration.rebuild_data:
            data = build_data(cfg)
        task = make_task(cfg, data, device, precision.autocast_dtype)
        model = place_model(build_student(cfg, data.num_classes), cfg, dist_info)
        train_tf, val_tf = task.transforms(preprocessing(model))
        ipe = iters_per_epoch(data, cfg, dist_info.world_size)
        total_iters = run_length(cfg, ipe)
        budget = Budget(cfg.train.max_minutes, start)
        parts, criterion = build_training(
            cfg, model, data, precision, total_iters, budget, dist_info
        )
        optimizer, ema = parts.optimizer, parts.ema
        preflight(task, data, val_tf, model, dist_info, budget)
        state = restore(ckpt, parts, dist_info.rank, changes, cfg, run_dir)
        budget.resume(state.elapsed_s)
        # the run folder (new runs: created atomically, then locked), then the loop
        if run_dir is None:
            name = claim_run_dir(cfg.train.output_dir, cfg.train.name) if main else None
            run_dir = Path(from_rank0(str(name)))
            if main:
                cleanup.push(discard_unstarted(run_dir, CHECKPOINT))
            cleanup.enter_context(RunLock(run_dir, enabled=main))
        if main:
            for folder in (TENSORBOARD, OVERLAY_DIR):  # refused before any step is spent
                check_no_symlinks(run_dir, folder)
            remove_stale_temp_files(run_dir, recursive=True)
            if calibration is not None and calibration.timings:  # what the choice was made from
                atomic_write_json(run_dir / CALIBRATION, calibration.to_dict())
        logger = RunLogger(run_dir, cfg, enabled=main, purge_step=state.iteration or None)
        cleanup.enter_context(logger)
        model_config = run_model_config(model, cfg, data)
        saver = RunCheckpoint(
            run_dir / CHECKPOINT, parts, config_to_dict(cfg), dist_info, model_config
        )
        run_epoch = functools.partial(
            train_one_epoch, training_module(model, cfg, dist_info), criterion, optimizer,
            parts.scheduler, device=device, scaler=parts.scaler, ema=ema, grad_clip=cfg.optim.grad_clip,
            autocast_dtype=precision.autocast_dtype, channels_last=cfg.model.channels_last,
        )  # fmt: skip
        val = val_loader(data, val_tf, cfg, dist_info)
        results = ResultsPlot(run_dir, task.score_name, enabled=main)
        stops = cleanup.enter_context(StopRequests())
        progress = cleanup.enter_context(RankProgress(dist_info, cfg.train.dist_timeout_s).watch())
        logger.info(describe(cfg, data, total_iters, ipe, budget, precision.name))
        metrics: dict[str, Any] = {}
        first_iteration = state.iteration
        budget.mark()
        try:
            while state.iteration < total_iters:
                epoch, skip = state.epoch, state.iteration - state.epoch * ipe
                steps = min(ipe - skip, total_iters - state.iteration)
                logger.start_epoch(bar_label(epoch, budget, total_iters, ipe), skip, steps)
                hook = _StepHook(
                    state, logger, saver, budget, ipe, epoch, cfg, on_step, stops, progress,
                    device, total_iters, first_iteration, results,
                )  # fmt: skip
                share = class_uniform_share(cfg, budget, epoch * ipe, total_iters)
                loader = train_loader(data, train_tf, cfg, dist_info, epoch, skip, share)
                result = run_epoch(loader=loader, max_steps=steps, on_step=hook)
                state.train_s += result["seconds"]
                logger.end_epoch()
                sync_buffers(model)  # BN statistics averaged over ranks (no-op in one process)
                if state.iteration % ipe == 0:
                    state.epoch = max(state.epoch, epoch + 1)
                if stops.signum is not None:
                    saver.save(state)
                    raise TrainingInterrupted(stops.signum, run_dir, state.iteration)
                row = _epoch_row(state, result, optimizer)
                done = budget.reached or state.iteration >= total_iters
                periodic = not budget.enabled and state.epoch % cfg.train.eval_every == 0
                evaluate_now = val is not None and (done or periodic)
                if evaluate_now:  # the epoch's work is on disk before evaluation can fail
                    saver.save(state)
                    metrics, scores = _evaluate(task, parts, val, logger.show_progress)
                    row.update(scores)
                    logger.log_scalars(task.scalars(metrics, scores), state.iteration)
                    _keep_best(scores, task.score_name, parts, state, saver)
                row["seconds"] = time.perf_counter() - start
                state.history.append(row)
                state.elapsed_s = budget.elapsed()
                logger.log_epoch(
                    row, progress_label(state, budget, total_iters, ipe), task.score_name
                )
                saver.save(state)
                logger.write_summary(state.history)
                results.update(state.history)
                if evaluate_now and on_evaluate is not None:
                    on_evaluate(state, row)
                if budget.reached:
                    break
        except (NonFiniteLossError, NonFiniteWeightsError) as exc:
            raise _stopped(exc, state, run_dir / CHECKPOINT) from None
        except Exception as exc:  # a data-loader worker's error: its original one line
            cause = worker_error_cause(exc)
            if cause is None:
                raise
            raise cause from None
        results.update(state.history, final=True)
        best = ema.module if ema is not None else model
        overlays = task.overlays(best, val_tf, run_dir, cfg.log.overlays) if main else []
        if main and metrics and (table := task.table(metrics)):
            log.info("final validation:\n%s", table)
        logger.info("%d iterations; %s", state.iteration, budget.report(state.train_s))
        return FitResult(
            run_dir, state.best_score, task.score_name, metrics, state.iteration,
            time.perf_counter() - start, overlays, data.num_classes, model,
            state.train_s, budget.seconds,
        )  # fmt: skip
