"""Range checks of every numeric recipe key: each error names the key, the value and the
allowed range, and is raised when the recipe is loaded (before anything is written)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ffseg.config.schema import Config, ConfigError

__all__ = ["RANGES", "check_ranges"]

_Rule = tuple[str, Callable[[Any], bool], str]


def _pos(v: Any) -> bool:
    return v > 0


def _nonneg(v: Any) -> bool:
    return v >= 0


def _at_least_one(v: Any) -> bool:
    return v >= 1


def _optional(rule: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or rule(v)


def _unit_open(v: Any) -> bool:
    return 0 < v < 1


def _unit_closed(v: Any) -> bool:
    return 0 <= v <= 1


def _positive_pair(v: Any) -> bool:
    return v is None or (len(v) == 2 and all(x >= 1 for x in v))


def _positive_list(v: Any) -> bool:
    return len(v) >= 1 and all(x > 0 for x in v)


#: ``(dotted key, test, allowed range in words)`` for every checked key.
RANGES: tuple[_Rule, ...] = (
    ("data.batch_size", _at_least_one, "an integer >= 1"),
    ("data.workers", lambda v: v == "auto" or v >= 0, "an integer >= 0, or auto"),
    ("data.crop_size", _positive_pair, "two integers >= 1 (height, width)"),
    ("data.scale_range", lambda v: 0 < v[0] <= v[1], "two numbers 0 < min <= max"),
    ("data.color_jitter", _optional(_nonneg), ">= 0 or null"),
    ("data.subset", _optional(_at_least_one), "an integer >= 1 or null"),
    ("data.val_subset", _optional(_at_least_one), "an integer >= 1 or null"),
    ("data.class_uniform", _unit_closed, "0 <= value <= 1 (share of class-centred crops)"),
    ("data.class_uniform_off_at", _unit_closed, "0 <= value <= 1 (fraction of training)"),
    ("model.num_classes", _optional(_at_least_one), "an integer >= 1 or null"),
    ("loss.label_smoothing", lambda v: 0 <= v < 1, "0 <= value < 1"),
    ("loss.ohem_thresh", _unit_closed, "0 <= value <= 1"),
    ("loss.ohem_min_kept", _nonneg, "an integer >= 0"),
    ("loss.rmi_weight", _nonneg, ">= 0"),
    ("loss.rmi_radius", _at_least_one, "an integer >= 1"),
    ("loss.rmi_pool", _at_least_one, "an integer >= 1"),
    ("loss.dice_weight", _nonneg, ">= 0"),
    ("loss.aux_weight_scale", _nonneg, ">= 0"),
    ("loss.class_weights", lambda v: v is None or all(x >= 0 for x in v), "numbers >= 0"),
    ("optim.lr", _pos, "> 0"),
    ("optim.momentum", lambda v: 0 <= v < 1, "0 <= value < 1"),
    ("optim.betas", lambda v: all(0 <= b < 1 for b in v), "two numbers 0 <= beta < 1"),
    ("optim.eps", _pos, "> 0"),
    ("optim.alpha", lambda v: 0 <= v < 1, "0 <= value < 1"),
    ("optim.weight_decay", _nonneg, ">= 0"),
    ("optim.backbone_lr_mult", _nonneg, ">= 0"),
    ("optim.grad_clip", _optional(_pos), "> 0, or null to disable clipping"),
    ("sched.power", _pos, "> 0"),
    ("sched.warmup_iters", _nonneg, "an integer >= 0"),
    ("sched.warmup_factor", lambda v: 0 <= v <= 1, "0 <= value <= 1"),
    ("sched.min_lr_ratio", lambda v: 0 <= v < 1, "0 <= value < 1"),
    ("sched.warmup_fraction", lambda v: 0 <= v < 1, "0 <= value < 1"),
    ("train.seed", lambda v: 0 <= v < 2**32, "an integer 0 <= seed < 2**32"),
    ("train.epochs", _at_least_one, "an integer >= 1"),
    ("train.iters", _optional(_at_least_one), "an integer >= 1, or null to use train.epochs"),
    ("train.max_minutes", _optional(_pos), "> 0 minutes, or null for no limit"),
    ("train.ema_decay", _unit_open, "0 < value < 1"),
    ("train.ema_warmup", _nonneg, "an integer >= 0"),
    ("train.eval_every", _at_least_one, "an integer >= 1 (epochs)"),
    ("train.ckpt_every", _nonneg, "an integer >= 0 (0: at epoch ends only)"),
    ("train.dist_timeout_s", _pos, "> 0 seconds"),
    ("train.name", lambda v: bool(v) and "/" not in v and v not in (".", ".."), "a folder name"),
    ("kd.temperature", _pos, "> 0"),
    ("kd.weight", _nonneg, ">= 0"),
    ("kd.feature_weight", _nonneg, ">= 0"),
    ("eval.crop_size", _positive_pair, "two integers >= 1 (height, width), or null"),
    ("eval.stride", _positive_pair, "two integers >= 1 (height, width), or null"),
    ("eval.resize", _positive_pair, "two integers >= 1 (height, width), or null"),
    ("eval.scales", _positive_list, "a non-empty list of numbers > 0"),
    ("eval.batch_size", _at_least_one, "an integer >= 1"),
    ("log.log_every", _at_least_one, "an integer >= 1"),
    ("log.overlays", _nonneg, "an integer >= 0"),
    ("calibrate.steps", _at_least_one, "an integer >= 1 (timed steps per candidate)"),
)


def _value(cfg: Config, key: str) -> Any:
    section, name = key.split(".")
    return getattr(getattr(cfg, section), name)


#: Integers beyond this overflow torch's and numpy's 64-bit counters.
INT_LIMIT = 2**63 - 1


def _finite(value: Any) -> bool:
    """No NaN or infinity, no integer that overflows 64 bits."""
    values = value if isinstance(value, list | tuple) else [value]
    return all(
        math.isfinite(v) if isinstance(v, float) else not isinstance(v, int) or abs(v) <= INT_LIMIT
        for v in values
    )


def check_ranges(cfg: Config) -> None:
    """Raise :class:`ConfigError` for the first key outside its allowed range."""
    for key, ok, allowed in RANGES:
        value = _value(cfg, key)
        try:
            good = _finite(value) and ok(value)
        except TypeError:
            good = False
        if not good:
            raise ConfigError(
                f"{key}={value!r} is out of range: allowed is {allowed}; change it in the "
                f"recipe or with --set {key}=VALUE."
            )
    if cfg.eval.mode == "slide" and cfg.eval.crop_size is None:
        raise ConfigError(
            "eval.mode='slide' needs eval.crop_size (height, width); set it or use eval.mode=whole."
        )
