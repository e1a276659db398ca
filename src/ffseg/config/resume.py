"""Which recipe keys a resumed run may change (``ffseg train --resume RUN --set k=v``).

A resumed run continues from its checkpoint exactly; only keys that do not change what the
checkpoint means may differ: paths, the learning rate and the schedule's shape and length,
loader workers, logging, evaluation frequency and checkpointing.
"""

from __future__ import annotations

from typing import Any

from ffseg.config.load import config_to_dict
from ffseg.config.schema import Config, ConfigError

__all__ = ["RESUMABLE_KEYS", "resume_changes"]

#: Keys (or whole sections ending in ``.*``) a resumed run may change.
RESUMABLE_KEYS: tuple[str, ...] = (
    "data.root",
    "data.workers",
    "data.cache",
    "optim.lr",
    "optim.grad_clip",
    "sched.warmup_iters",
    "sched.warmup_factor",
    "sched.power",
    "sched.min_lr_ratio",
    "sched.warmup_fraction",
    "train.epochs",
    "train.iters",
    "train.max_minutes",
    "train.ckpt_every",
    "train.eval_every",
    "train.output_dir",
    "train.name",
    "train.device",
    "train.dist_timeout_s",
    "eval.batch_size",
    "log.*",
)


def _allowed(key: str) -> bool:
    return any(key == k or (k.endswith(".*") and key.startswith(k[:-1])) for k in RESUMABLE_KEYS)


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict) and not prefix:  # sections only; mappings stay values
            out.update(_flatten(value, f"{key}."))
        else:
            out[prefix + key] = value
    return out


def resume_changes(stored: Config, new: Config, source: str = "--resume") -> list[str]:
    """``"key: old -> new"`` for every key ``new`` changes; raises :class:`ConfigError` naming
    the keys a resumed run may not change, with the allowed list."""
    old_values, new_values = _flatten(config_to_dict(stored)), _flatten(config_to_dict(new))
    changed = [k for k in new_values if new_values[k] != old_values.get(k)]
    refused = [k for k in changed if not _allowed(k)]
    if refused:
        shown = ", ".join(f"{k}={new_values[k]!r} (run has {old_values.get(k)!r})" for k in refused)
        raise ConfigError(
            f"{source}: a resumed run cannot change {shown}; keys it may change: "
            f"{', '.join(RESUMABLE_KEYS)}. Start a new run (without --resume) to change others, "
            "e.g. with model.pretrained=RUN/best.safetensors."
        )
    return [f"{k}: {old_values.get(k)!r} -> {new_values[k]!r}" for k in changed]
