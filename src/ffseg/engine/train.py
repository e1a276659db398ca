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
import itertools
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
from torch.utils.data import Subset

from ffseg._io import remove_stale_temp_files
from ffseg.config import (
    Config,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    resume_changes,
    validate_config,
)
from ffseg.data.samplers import DistributedEvalSampler
from ffseg.data.views import Transformed
from ffseg.engine.build import (
    build_criterion,
    build_student,
    check_names_from_disk,
    place_model,
    run_model_config,
    training_module,
)
from ffseg.engine.checkpoint import (
    CHECKPOINT,
    NonFiniteWeightsError,
    RunCheckpoint,
    TrainParts,
    load_run,
    restore_run_state,
)
from ffseg.engine.data import TrainData, build_data, iters_per_epoch, train_loader, val_loader
from ffseg.engine.distributed import (
    DistInfo,
    all_ranks_true,
    cleanup_distributed,
    from_rank0,
    init_distributed,
    sync_buffers,
    world_size,
)
from ffseg.engine.ema import ModelEMA
from ffseg.engine.logger import RunLogger
from ffseg.engine.optim import build_optimizer, build_scheduler, reset_schedule
from ffseg.engine.precision import resolve_precision
from ffseg.engine.runfolder import RunLock, claim_run_dir
from ffseg.engine.state import Deadline, TrainState, deterministic_algorithms, seed_everything
from ffseg.engine.stops import StopRequests, TrainingInterrupted
from ffseg.engine.task import EMA_SUFFIX, Task, make_task, preprocessing
from ffseg.models import AuxOutput, SegOutput

__all__ = [
    "FitResult",
    "NonFiniteLossError",
    "TrainState",
    "TrainingInterrupted",
    "fit",
    "train_one_epoch",
]

log = logging.getLogger(__name__)


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


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

    @property
    def score(self) -> float | None:
        """The last evaluation's score (``metrics[score_name]``), ``None`` if never evaluated."""
        value = self.metrics.get(self.score_name)
        return None if value is None else float(value)


# ----------------------------------------------------------------------------- one epoch


def _in_fp32(output: SegOutput) -> SegOutput:
    """The logits of every head in float32 (the loss is computed outside autocast)."""
    aux = [AuxOutput(a.name, a.logits.float(), a.weight, a.kind) for a in output.aux]
    return SegOutput(logits=output.logits.float(), aux=aux)


def _update_weights(
    loss: torch.Tensor,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    grad_clip: float | None,
) -> None:
    """Backward, optional global-norm clipping, optimizer step (a disabled scaler is a no-op)."""
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    if grad_clip:
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    scaler.step(optimizer)
    scaler.update()


def train_one_epoch(
    model: nn.Module,
    criterion: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    device: torch.device,
    *,
    scaler: torch.amp.GradScaler | None = None,
    ema: ModelEMA | None = None,
    grad_clip: float | None = None,
    max_steps: int | None = None,
    autocast_dtype: torch.dtype | None = None,
    channels_last: bool = False,
    on_step: Callable[[dict[str, float]], bool] | None = None,
) -> dict[str, float]:
    """Train over ``loader`` (at most ``max_steps`` batches); returns the mean loss terms,
    ``steps`` and ``img_s``.

    ``model(images)`` returns a :class:`SegOutput` (see :func:`ffseg.engine.build.training_module`)
    computed under autocast ``autocast_dtype``; ``criterion(output, targets, images)`` returns
    ``(loss, terms)`` in fp32. ``ema`` averages ``model``'s weights after each step.
    ``on_step(scalars)`` sees every step's scalars and ends the epoch by returning True. Raises
    :class:`NonFiniteLossError` (on every rank) before touching the weights if the loss is not
    finite.
    """
    model.train()
    scaler = scaler or torch.amp.GradScaler(device.type, enabled=False)
    sums: dict[str, float] = {}
    steps = images_seen = 0
    start = time.perf_counter()
    for images, targets in itertools.islice(loader, max_steps):
        t0 = time.perf_counter()
        images = images.to(device, non_blocking=True)
        targets = targets.to(device, non_blocking=True)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            output = model(images)
        loss, terms = criterion(_in_fp32(output), targets, images)
        if not all_ranks_true(torch.isfinite(loss.detach())):
            shown = ", ".join(f"{k}={float(v):.4g}" for k, v in terms.items())
            raise NonFiniteLossError(f"loss is {float(loss.detach())} ({shown})")
        _update_weights(loss, model, optimizer, scaler, grad_clip)
        scheduler.step()
        if ema is not None:
            ema.update_parameters(model)
        steps += 1
        images_seen += images.shape[0]
        scalars = {"loss": float(loss.detach()), **{k: float(v) for k, v in terms.items()}}
        for k, v in scalars.items():
            sums[k] = sums.get(k, 0.0) + v
        scalars["lr"] = optimizer.param_groups[0]["lr"]
        scalars["img_s"] = images.shape[0] * world_size() / max(time.perf_counter() - t0, 1e-9)
        if on_step is not None and on_step(scalars):
            break
    result = {k: v / max(steps, 1) for k, v in sums.items()}
    elapsed = max(time.perf_counter() - start, 1e-9)
    return {**result, "steps": float(steps), "img_s": images_seen * world_size() / elapsed}


# ----------------------------------------------------------------------------- fit


@dataclass
class _StepHook:
    """What :func:`fit` does after every iteration: count, log, mid-epoch checkpoint
    (``train.ckpt_every``), the caller's ``on_step``, and the time limit (returns True: stop)."""

    state: TrainState
    logger: RunLogger
    checkpoint: RunCheckpoint
    deadline: Deadline
    iters_per_epoch: int
    epoch: int
    cfg: Config
    on_step: Callable[[TrainState], None] | None
    stops: StopRequests
    device: torch.device

    def __call__(self, scalars: dict[str, float]) -> bool:
        state = self.state
        state.iteration += 1
        state.last = scalars
        self.logger.log_step(scalars, state.iteration)
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
        return self.deadline.expired() or stop_asked


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


def _describe(cfg: Config, data: TrainData, total: int, ipe: int, world: int, device: Any) -> str:
    n_train, n_val = len(data.train), len(data.val or [])  # type: ignore[arg-type]
    return (
        f"training {cfg.model.name} on {cfg.data.name} ({n_train} train / {n_val} val images, "
        f"{data.num_classes} classes): {total} iterations ({math.ceil(total / ipe)} epochs x "
        f"{ipe}), batch {cfg.data.batch_size} x {world} process(es), device {device}, "
        f"precision {cfg.train.amp}"
    )


def _resume_config(
    cfg: Config | None, overrides: Iterable[str], run_dir: Path, ckpt: dict[str, Any]
) -> tuple[Config, list[str]]:
    """The recipe of a resumed run: the stored one (checked as data from disk) or the user's
    ``cfg``, with ``overrides``; only :data:`ffseg.config.RESUMABLE_KEYS` may differ."""
    source = f"{run_dir / CHECKPOINT} (stored recipe)"
    stored = config_from_dict(ckpt["config"], source)
    if cfg is None:
        check_names_from_disk(stored, source)
        cfg = stored
    cfg = apply_overrides(cfg, overrides, "--resume --set") if overrides else cfg
    return cfg, resume_changes(stored, cfg, f"--resume {run_dir}")


def _check_evaluation(
    task: Task, data: TrainData, val_tf: Any, model: nn.Module, dist_info: DistInfo
) -> None:
    """Evaluate the first validation sample(s) now (one per rank), so a bad val image or eval
    setting fails before training rather than after an epoch."""
    if data.val is None or len(data.val) == 0:  # type: ignore[arg-type]
        return
    first = range(min(dist_info.world_size, len(data.val)))  # type: ignore[arg-type]
    dataset = Transformed(Subset(data.val, first), val_tf)
    sampler = DistributedEvalSampler(dataset, dist_info.world_size, dist_info.rank)
    loader = torch.utils.data.DataLoader(dataset, batch_size=1, sampler=sampler)
    try:
        task.evaluate(model, loader, False)
    except Exception as exc:
        raise ValueError(
            f"validation fails on its first sample ({type(exc).__name__}: {exc}); checked before "
            "training so no epoch is lost. Fix the validation data (data.root, data.val_split) "
            "or the eval.* settings, or set data.val_split='' to train without validation."
        ) from exc


def _resolve_recipe(
    cfg: Config | None, resume: str | Path | None, overrides: Iterable[str]
) -> tuple[Config, Path | None, dict[str, Any] | None, list[str]]:
    """The validated recipe, the run folder and checkpoint to resume, and the resume changes."""
    run_dir, ckpt = load_run(resume) if resume is not None else (None, None)
    changes: list[str] = []
    if ckpt is not None and run_dir is not None:
        cfg, changes = _resume_config(cfg, overrides, run_dir, ckpt)
    elif overrides:
        cfg = apply_overrides(cfg, overrides) if cfg is not None else None
    if cfg is None:
        raise ValueError("fit needs a recipe (cfg) or a run folder to resume")
    return validate_config(cfg), run_dir, ckpt, changes


def _restore(
    ckpt: dict[str, Any] | None,
    parts: TrainParts,
    rank: int,
    changes: list[str],
    cfg: Config,
    run_dir: Path | None,
) -> TrainState:
    """A fresh state, or the checkpoint's (with a reset schedule when the resume changed it)."""
    if ckpt is None:
        return TrainState()
    state = restore_run_state(ckpt, parts, rank)
    if changes:
        reset_schedule(parts.optimizer, parts.scheduler, cfg.optim.lr)
    log.info("resumed %s at epoch %d, iteration %d", run_dir, state.epoch, state.iteration)
    for change in changes:
        log.info("resume changes %s", change)
    return state


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
) -> FitResult:
    """Train a recipe; returns a :class:`FitResult`.

    Args:
        cfg: the recipe. When resuming it is optional: by default the run continues with the
            recipe stored in its checkpoint (which may only name registered models).
        resume: a run folder (or its ``last.pt``); the run continues exactly where it stopped.
        overrides: ``key=value`` changes for a resumed run, limited to
            :data:`ffseg.config.RESUMABLE_KEYS` (e.g. ``train.epochs=12`` extends a run).
        on_step: called after every iteration (and any checkpoint it triggers) with the state.

    SIGINT / SIGTERM stop at the next step boundary: ``last.pt`` is written and
    :class:`TrainingInterrupted` raised (its message says how to resume).
    """
    start = time.perf_counter()
    cfg, run_dir, ckpt, changes = _resolve_recipe(cfg, resume, overrides)
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
        task = make_task(cfg, data, device, precision.autocast_dtype)
        model = place_model(build_student(cfg, data.num_classes), cfg, dist_info)
        train_tf, val_tf = task.transforms(preprocessing(model))
        ipe = iters_per_epoch(data, cfg, dist_info.world_size)
        total_iters = cfg.train.iters or cfg.train.epochs * ipe
        epochs = math.ceil(total_iters / ipe)
        optimizer = build_optimizer(model, cfg.optim)
        scheduler = build_scheduler(optimizer, cfg.sched, total_iters)
        ema = ModelEMA(model, cfg.train.ema_decay, cfg.train.ema_warmup) if cfg.train.ema else None
        scaler = torch.amp.GradScaler(device.type, enabled=precision.use_grad_scaler)
        parts = TrainParts(model, optimizer, scheduler, scaler, ema)
        criterion = build_criterion(cfg, data, device, precision.autocast_dtype)
        rng = torch.get_rng_state()
        _check_evaluation(task, data, val_tf, model, dist_info)
        torch.set_rng_state(rng)
        state = _restore(ckpt, parts, dist_info.rank, changes, cfg, run_dir)
        # the run folder (new runs: created atomically, then locked), then the loop
        if run_dir is None:
            name = claim_run_dir(cfg.train.output_dir, cfg.train.name) if main else None
            run_dir = Path(from_rank0(str(name)))
            cleanup.enter_context(RunLock(run_dir, enabled=main))
        if main:
            remove_stale_temp_files(run_dir)
        logger = RunLogger(run_dir, cfg, enabled=main, purge_step=state.iteration or None)
        cleanup.enter_context(logger)
        model_config = run_model_config(model, cfg, data)
        saver = RunCheckpoint(
            run_dir / CHECKPOINT, parts, config_to_dict(cfg), dist_info, model_config
        )
        run_epoch = functools.partial(
            train_one_epoch, training_module(model, cfg, dist_info), criterion, optimizer,
            scheduler, device=device, scaler=scaler, ema=ema, grad_clip=cfg.optim.grad_clip,
            autocast_dtype=precision.autocast_dtype, channels_last=cfg.model.channels_last,
        )  # fmt: skip
        val = val_loader(data, val_tf, cfg, dist_info)
        deadline = Deadline(cfg.train.max_minutes, start)
        stops = cleanup.enter_context(StopRequests())
        logger.info(_describe(cfg, data, total_iters, ipe, dist_info.world_size, device))
        metrics: dict[str, Any] = {}
        try:
            while state.iteration < total_iters:
                epoch, skip = state.epoch, state.iteration - state.epoch * ipe
                steps = min(ipe - skip, total_iters - state.iteration)
                logger.start_epoch(epoch, epochs, skip, steps)
                hook = _StepHook(
                    state, logger, saver, deadline, ipe, epoch, cfg, on_step, stops, device
                )
                loader = train_loader(data, train_tf, cfg, dist_info, epoch, skip)
                result = run_epoch(loader=loader, max_steps=steps, on_step=hook)
                logger.end_epoch()
                sync_buffers(model)  # BN statistics averaged over ranks (no-op in one process)
                if state.iteration % ipe == 0:
                    state.epoch = max(state.epoch, epoch + 1)
                if stops.signum is not None:
                    saver.save(state)
                    raise TrainingInterrupted(stops.signum, run_dir, state.iteration)
                row = _epoch_row(state, result, optimizer)
                done = deadline.reached or state.iteration >= total_iters
                evaluate_now = val is not None and (done or state.epoch % cfg.train.eval_every == 0)
                if evaluate_now:  # the epoch's work is on disk before evaluation can fail
                    saver.save(state)
                    metrics, scores = _evaluate(task, parts, val, logger.show_progress)
                    row.update(scores)
                    logger.log_scalars(task.scalars(metrics, scores), state.iteration)
                    _keep_best(scores, task.score_name, parts, state, saver)
                row["seconds"] = time.perf_counter() - start
                state.history.append(row)
                logger.log_epoch(row, epochs, total_iters, task.score_name)
                saver.save(state)
                logger.write_summary(state.history)
                if deadline.reached:
                    logger.info("train.max_minutes reached at iteration %d", state.iteration)
                    break
        except (NonFiniteLossError, NonFiniteWeightsError) as exc:
            raise _stopped(exc, state, run_dir / CHECKPOINT) from None
        best = ema.module if ema is not None else model
        overlays = task.overlays(best, val_tf, run_dir, cfg.log.overlays) if main else []
        if main and metrics and (table := task.table(metrics)):
            log.info("final validation:\n%s", table)
        return FitResult(
            run_dir, state.best_score, task.score_name, metrics, state.iteration,
            time.perf_counter() - start, overlays, data.num_classes, model,
        )  # fmt: skip
