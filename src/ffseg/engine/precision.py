"""The one precision mapping: a name (``fp32``/``bf16``/``fp16``/``auto``) to what torch needs.

Used by training (autocast + GradScaler), evaluation, ``ffseg val/predict/bench`` and export.
CPU: ``bf16`` autocast (``auto`` = bf16 where the CPU computes bf16 natively, AVX512-BF16 or
AMX, else fp32: emulated bf16 is several times slower than fp32).
CUDA: ``fp16`` with a GradScaler, or ``bf16`` (``auto`` = bf16 where supported, else fp16).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import torch

__all__ = ["PRECISIONS", "Precision", "cpu_has_native_bf16", "resolve_precision"]

log = logging.getLogger(__name__)

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


@functools.cache
def cpu_has_native_bf16() -> bool:
    """True where this CPU has bf16 instructions (AVX512-BF16 or AMX), which make bf16 autocast
    2-3x faster than fp32; without them oneDNN emulates bf16, several times slower than fp32."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


@functools.cache
def _warn_emulated_bf16(what: str) -> None:
    log.warning(
        "%s=bf16 on a CPU without bf16 instructions (AVX512-BF16 or AMX; this one: %s): bf16 is "
        "emulated and runs several times slower than fp32; prefer fp32 here (train.amp=auto "
        "picks bf16 only where the CPU has them)",
        what,
        torch.backends.cpu.get_cpu_capability(),
    )


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
            key = "bf16" if cpu_has_native_bf16() else "fp32"
        elif key == "bf16" and not cpu_has_native_bf16():
            _warn_emulated_bf16(what)
        if key == "fp16":
            raise ValueError(f"{what}=fp16 needs a CUDA GPU; on CPU use bf16 (or fp32)")
    dtype = _DTYPES[key]
    autocast = None if key == "fp32" else dtype
    return Precision(key, dtype, autocast, key == "fp16" and device.type == "cuda")
