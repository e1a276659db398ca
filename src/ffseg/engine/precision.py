"""The one precision mapping: a name (``fp32``/``bf16``/``fp16``/``auto``) to what torch needs.

Used by training (autocast + GradScaler), evaluation, ``ffseg val/predict/bench`` and export.
CPU: ``bf16`` autocast (``auto`` = fp32, ffseg's CPU default; pass ``bf16`` explicitly).
CUDA: ``fp16`` with a GradScaler, or ``bf16`` (``auto`` = bf16 where supported, else fp16).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["PRECISIONS", "Precision", "resolve_precision"]

#: Accepted names; ``none`` is a synonym of ``fp32`` kept for recipes.
PRECISIONS = ("fp32", "bf16", "fp16", "auto", "none")

_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Precision:
    """A resolved precision: its name, the tensor dtype, the autocast dtype and GradScaler use."""

    name: str  # fp32 | bf16 | fp16
    dtype: torch.dtype
    autocast_dtype: torch.dtype | None  # None: no autocast (fp32)
    use_grad_scaler: bool


def resolve_precision(
    name: str, device: torch.device | str, *, what: str = "precision"
) -> Precision:
    """Resolve ``name`` for ``device``; ``what`` names the setting in error messages."""
    device = torch.device(device)
    key = str(name).lower()
    if key in ("none", "off", "false"):
        key = "fp32"
    if key not in _DTYPES and key != "auto":
        raise ValueError(f"{what} must be one of fp32, bf16, fp16, auto; got {name!r}")
    if device.type == "cuda":
        bf16_ok = torch.cuda.is_bf16_supported()
        if key == "auto":
            key = "bf16" if bf16_ok else "fp16"
        if key == "bf16" and not bf16_ok:
            raise ValueError(f"{what}=bf16 but this GPU has no bf16 support; use fp16")
    else:
        if key == "auto":
            key = "fp32"
        if key == "fp16":
            raise ValueError(f"{what}=fp16 needs a CUDA GPU; on CPU use bf16 (or fp32)")
    dtype = _DTYPES[key]
    autocast = None if key == "fp32" else dtype
    return Precision(key, dtype, autocast, key == "fp16" and device.type == "cuda")
