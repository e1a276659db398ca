"""Starting a run for :func:`ffseg.engine.train.fit`: the checked recipe (new or resumed), the
restored state, the pre-flight evaluation, the budget's reserve, the run's length and the line
that describes it."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Subset

from ffseg.config import (
    Config,
    apply_overrides,
    config_from_dict,
    resume_changes,
    validate_config,
)
from ffseg.data.samplers import DistributedEvalSampler
from ffseg.data.views import Transformed
from ffseg.engine.budget import Budget, estimate_final_seconds
from ffseg.engine.build import build_criterion, check_names_from_disk
from ffseg.engine.checkpoint import CHECKPOINT, TrainParts, load_run, restore_run_state
from ffseg.engine.data import TrainData
from ffseg.engine.distributed import DistInfo, world_size
from ffseg.engine.ema import ModelEMA
from ffseg.engine.optim import (
    add_trainable_groups,
    build_optimizer,
    build_scheduler,
    reset_schedule,
)
from ffseg.engine.precision import Precision
from ffseg.engine.state import TrainState
from ffseg.engine.task import Task
from ffseg.models import name_of_build

__all__ = [
    "bar_label",
    "build_training",
    "check_evaluation",
    "class_uniform_share",
    "describe",
    "long_run_warning",
    "preflight",
    "progress_label",
    "reserve_final_evaluation",
    "resolve_recipe",
    "restore",
    "resume_config",
    "run_length",
    "trainable_criterion_part",
]

log = logging.getLogger(__name__)


def describe(
    cfg: Config, data: TrainData, total: int, ipe: int, budget: Budget, precision: str
) -> str:
    """The run's opening log line; ``precision`` is ``train.amp`` resolved for the device."""
    n_train, n_val = len(data.train), len(data.val or [])  # type: ignore[arg-type]
    planned = f"{total} iterations ({math.ceil(total / ipe)} epochs x {ipe})"
    length = (
        f"a budget of {cfg.train.max_minutes:g} min or {planned}, whichever comes first "
        f"(LR by wall clock, {budget.reserve:.1f} s kept for the final evaluation)"
        if budget.enabled
        else planned
    )
    shown_precision = f"{precision} (train.amp=auto)" if cfg.train.amp == "auto" else precision
    return (
        f"training {name_of_build(cfg.model.name, cfg.model.kwargs)} on {cfg.data.name} ({n_train} train / {n_val} val images, "
        f"{data.num_classes} classes): {length}, batch {cfg.data.batch_size} x "
        f"{world_size()} process(es), precision {shown_precision}"
    )


def run_length(cfg: Config, ipe: int) -> int:
    """The run's length in iterations: ``train.iters``, else ``train.epochs`` epochs. Under a
    budget (``train.max_minutes``) it is a cap: the run stops at whichever comes first."""
    return cfg.train.iters or cfg.train.epochs * ipe


def progress_label(state: TrainState, budget: Budget, total: int, ipe: int) -> str:
    """Where a run stands, for log lines: ``epoch e/E  iter i/N``, or under a budget the
    epoch, the iteration and the budget used and left (no projected totals)."""
    if not budget.enabled:
        return f"epoch {state.epoch}/{math.ceil(total / ipe)}  iter {state.iteration}/{total}"
    used, seconds = budget.now, budget.seconds or 0.0  # the last tick: no extra clock read
    return (
        f"epoch {state.epoch}  iter {state.iteration}  budget {used / 60:.1f}/{seconds / 60:g} "
        f"min ({max(seconds - used, 0.0) / 60:.1f} min left)"
    )


def bar_label(epoch: int, budget: Budget, total: int, ipe: int) -> str:
    """The progress bar's title: ``epoch e/E``, or under a budget ``epoch e`` and the time."""
    if not budget.enabled:
        return f"epoch {epoch + 1}/{math.ceil(total / ipe)}"
    return f"epoch {epoch + 1} ({budget.now / 60:.1f}/{(budget.seconds or 0) / 60:g} min)"


#: A run planned longer than this without a budget says so at its start.
LONG_RUN_S = 3600.0


def long_run_warning(cfg: Config, step_s: float, done: int, total: int) -> str | None:
    """A warning when ``total - done`` more iterations at ``step_s`` seconds each (measured)
    take over an hour and the recipe has no budget; else ``None``."""
    left_s = step_s * max(total - done, 0)
    if cfg.train.max_minutes is not None or left_s <= LONG_RUN_S:
        return None
    return (
        f"this run will take about {left_s / 3600:.1f} h on this device ({total - done} more "
        f"iterations at {step_s:.2f} s measured each); set a time budget with --set "
        "train.max_minutes=N, or fewer iterations with train.iters / train.epochs"
    )


def class_uniform_share(cfg: Config, budget: Budget, iteration: int, total: int) -> float:
    """This epoch's share of class-centred crops (0 once training passed ``class_uniform_off_at``)."""
    progress = budget.fraction() if budget.enabled else iteration / total
    return cfg.data.class_uniform if progress < cfg.data.class_uniform_off_at else 0.0


def reserve_final_evaluation(
    budget: Budget, task: Task, data: TrainData, val_tf: Any, model: nn.Module, dist_info: DistInfo
) -> None:
    """Under a budget: time a few validation samples to keep time for the final evaluation."""
    if not budget.enabled:
        return
    cfg = task.cfg
    budget.reserve = estimate_final_seconds(
        lambda loader: task.evaluate(model, loader, False),
        data.val,
        val_tf,
        dist_info,
        models=2 if cfg.train.ema else 1,
        overlays=cfg.log.overlays,
    )
    warning = budget.reserve_warning()
    if warning and dist_info.is_main:
        log.warning(warning)


def resume_config(
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


def check_evaluation(
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


def resolve_recipe(
    cfg: Config | None, resume: str | Path | None, overrides: Iterable[str]
) -> tuple[Config, Path | None, dict[str, Any] | None, list[str]]:
    """The validated recipe, the run folder and checkpoint to resume, and the resume changes."""
    run_dir, ckpt = load_run(resume) if resume is not None else (None, None)
    changes: list[str] = []
    if ckpt is not None and run_dir is not None:
        cfg, changes = resume_config(cfg, overrides, run_dir, ckpt)
    elif overrides:
        cfg = apply_overrides(cfg, overrides) if cfg is not None else None
    if cfg is None:
        raise ValueError("fit needs a recipe (cfg) or a run folder to resume")
    return validate_config(cfg), run_dir, ckpt, changes


def restore(
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


def trainable_criterion_part(criterion: nn.Module, dist_info: DistInfo) -> nn.Module | None:
    """The part of the criterion that trains with the model (a feature-KD adapter), or None.

    It is not wrapped by DDP, so under ``torch.distributed`` its gradients are averaged over
    ranks by gradient hooks (every rank runs the same backward)."""
    part = getattr(criterion, "feature", None)
    if part is None or not dist_info.distributed:
        return part
    world = dist_info.world_size
    for param in part.parameters():
        param.register_hook(lambda grad: _averaged(grad, world))
    return part


def _averaged(grad: torch.Tensor, world: int) -> torch.Tensor:
    grad = grad.clone()
    torch.distributed.all_reduce(grad)
    return grad / world


def build_training(
    cfg: Config,
    model: nn.Module,
    data: TrainData,
    precision: Precision,
    total_iters: int,
    budget: Budget,
    dist_info: DistInfo,
) -> tuple[TrainParts, nn.Module]:
    """Optimizer, LR schedule (per iteration, or by ``budget``'s clock), EMA, GradScaler and
    the criterion (with its teacher and any trained feature-KD adapter, which joins the
    optimizer)."""
    optimizer = build_optimizer(model, cfg.optim)
    by_clock = budget.fraction if budget.enabled else None
    scheduler = build_scheduler(optimizer, cfg.sched, total_iters, by_clock)
    ema = ModelEMA(model, cfg.train.ema_decay, cfg.train.ema_warmup) if cfg.train.ema else None
    device = dist_info.device
    criterion = build_criterion(cfg, data, device, precision.autocast_dtype, model)
    adapter = trainable_criterion_part(criterion, dist_info)
    if add_trainable_groups(optimizer, adapter, cfg.optim):  # the schedule covers its groups
        scheduler = build_scheduler(optimizer, cfg.sched, total_iters, by_clock)
    scaler = torch.amp.GradScaler(device.type, enabled=precision.use_grad_scaler)
    return TrainParts(model, optimizer, scheduler, scaler, ema, adapter), criterion


def preflight(
    task: Task, data: TrainData, val_tf: Any, model: nn.Module, dist_info: DistInfo, budget: Budget
) -> None:
    """Before the run folder exists: evaluate the first validation sample(s) and, under a
    budget, time a few to reserve the final evaluation's time (torch's RNG is left as found)."""
    rng = torch.get_rng_state()
    check_evaluation(task, data, val_tf, model, dist_info)
    reserve_final_evaluation(budget, task, data, val_tf, model, dist_info)
    torch.set_rng_state(rng)
