"""Optimizers with per-group weight decay and LR schedules (poly, cosine, linear), per iteration
or by the elapsed share of a wall-clock budget."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

__all__ = [
    "add_trainable_groups",
    "budget_lr_factor",
    "build_optimizer",
    "build_scheduler",
    "decay_factor",
    "lr_factor",
    "param_groups",
    "reset_schedule",
]


def param_groups(
    model: nn.Module,
    weight_decay: float,
    norm_bias_decay: bool = False,
    backbone_lr_mult: float = 1.0,
) -> list[dict[str, Any]]:
    """Split parameters into (encoder | rest) x (decay | no decay) groups.

    Norm-layer weights and all biases get no weight decay unless ``norm_bias_decay``; encoder
    parameters (under ``model.encoder_prefix``) get ``lr_mult = backbone_lr_mult``.
    """
    prefix = getattr(model, "encoder_prefix", "backbone_model.")
    norm_types = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)
    no_decay: set[str] = set()
    for mod_name, module in model.named_modules():
        for p_name, _ in module.named_parameters(recurse=False):
            full = f"{mod_name}.{p_name}" if mod_name else p_name
            if isinstance(module, norm_types) or p_name == "bias":
                no_decay.add(full)
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        key = (name.startswith(prefix), name in no_decay and not norm_bias_decay)
        groups.setdefault(key, []).append(p)
    out = []
    for (is_backbone, skip_decay), params in sorted(groups.items()):
        out.append(
            {
                "params": params,
                "weight_decay": 0.0 if skip_decay else weight_decay,
                "lr_mult": backbone_lr_mult if is_backbone else 1.0,
            }
        )
    return out


def build_optimizer(model: nn.Module, cfg: Any) -> torch.optim.Optimizer:
    """SGD, AdamW or RMSprop from a :class:`ffseg.config.OptimConfig`."""
    groups = param_groups(model, cfg.weight_decay, cfg.norm_bias_decay, cfg.backbone_lr_mult)
    for g in groups:
        g["lr"] = cfg.lr * g["lr_mult"]
    name = cfg.name.lower()
    if name == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps)
    if name == "rmsprop":
        return torch.optim.RMSprop(
            groups, lr=cfg.lr, alpha=cfg.alpha, eps=cfg.eps, momentum=cfg.momentum
        )
    raise ValueError(f"optim.name must be sgd, adamw or rmsprop; got {cfg.name!r}")


def add_trainable_groups(
    optimizer: torch.optim.Optimizer, module: nn.Module | None, cfg: Any
) -> bool:
    """Add the trainable parameters of ``module`` (e.g. a feature-distillation adapter, which
    is not part of the model) to ``optimizer`` as their own groups; returns whether any were
    added (a scheduler built before must then be rebuilt)."""
    if module is None or not any(p.requires_grad for p in module.parameters()):
        return False
    for group in param_groups(module, cfg.weight_decay, cfg.norm_bias_decay):
        optimizer.add_param_group({**group, "lr": cfg.lr * group["lr_mult"]})
    return True


def _warmup(alpha: float, cfg: Any) -> float:
    return cfg.warmup_factor * (1 - alpha) + alpha


def decay_factor(progress: float, cfg: Any) -> float:
    """LR multiplier after warm-up at ``progress`` in [0, 1]: poly / cosine / linear (to zero)
    / constant, floored at ``min_lr_ratio``."""
    progress = min(max(progress, 0.0), 1.0)
    name = cfg.name.lower()
    if name == "poly":
        factor = (1 - progress) ** cfg.power
    elif name == "cosine":
        factor = 0.5 * (1 + math.cos(math.pi * progress))
    elif name == "linear":
        factor = 1 - progress
    elif name == "constant":
        factor = 1.0
    else:
        raise ValueError(f"sched.name must be poly, cosine, linear or constant; got {cfg.name!r}")
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * factor


def lr_factor(it: int, total: int, cfg: Any) -> float:
    """LR multiplier at iteration ``it`` of ``total``: linear warm-up, then the decay."""
    warmup = min(cfg.warmup_iters, max(total - 1, 0))
    if it < warmup:
        return _warmup(it / warmup, cfg)
    return decay_factor((it - warmup) / max(1, total - warmup), cfg)


def budget_lr_factor(fraction: float, cfg: Any) -> float:
    """LR multiplier at ``fraction`` of a wall-clock budget's training window: linear warm-up
    over the first ``sched.warmup_fraction``, then the decay over the rest."""
    warmup = cfg.warmup_fraction
    if fraction < warmup:
        return _warmup(fraction / warmup, cfg)
    return decay_factor((fraction - warmup) / (1 - warmup), cfg)


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    cfg: Any,
    total_iters: int,
    fraction: Callable[[], float] | None = None,
) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` to call once per iteration (its lambda is not pickled into checkpoints).

    With ``fraction`` (a budget's :meth:`~ffseg.engine.budget.Budget.fraction`) the LR follows
    the elapsed share of the budget, or the share of ``total_iters`` done when that is larger
    (a budget capped by ``train.iters``/``train.epochs`` ends its decay at whichever comes first).
    """
    if fraction is not None:
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            lambda it: budget_lr_factor(max(fraction(), min(it / max(total_iters, 1), 1.0)), cfg),
        )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: lr_factor(it, total_iters, cfg))


def reset_schedule(
    optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LambdaLR, lr: float
) -> None:
    """After a resume that changed ``optim.lr`` or the schedule: base LR ``lr`` (times each
    group's ``lr_mult``) and the current LR from the new schedule at the current iteration."""
    for group, factor in zip(optimizer.param_groups, scheduler.lr_lambdas, strict=True):
        group["initial_lr"] = lr * group.get("lr_mult", 1.0)
        group["lr"] = group["initial_lr"] * factor(scheduler.last_epoch)
    scheduler.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
    scheduler._last_lr = [g["lr"] for g in optimizer.param_groups]  # what get_last_lr() shows
