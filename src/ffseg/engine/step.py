"""One epoch of training steps: :func:`train_one_epoch` (forward under autocast, fp32 loss,
backward, optional clipping, optimizer, schedule, EMA), shared by :func:`ffseg.engine.train.fit`
and the timed steps of :mod:`ffseg.engine.calibrate`."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable

import torch
from torch import nn

from ffseg.engine.distributed import all_ranks_true, world_size
from ffseg.engine.ema import ModelEMA
from ffseg.models import AuxOutput, SegOutput

__all__ = ["NonFiniteLossError", "train_one_epoch"]


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


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
    ``steps``, ``img_s`` and ``seconds`` (wall time of the epoch, data loading included).

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
    img_s = images_seen * world_size() / elapsed
    return {**result, "steps": float(steps), "img_s": img_s, "seconds": elapsed}
