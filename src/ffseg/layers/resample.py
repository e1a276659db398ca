"""Resizing feature maps to an explicit target size."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["max_unpool2x2", "resize_to"]


def resize_to(x: torch.Tensor, size: tuple[int, int] | torch.Size, mode: str) -> torch.Tensor:
    """Resize ``x`` to spatial ``size``.

    ``mode`` is ``"bilinear"`` (``align_corners=True``), ``"bilinear_half"`` (bilinear with
    ``align_corners=False``) or ``"nearest"`` (PyTorch's legacy nearest, ``floor(dst*in/out)``).
    """
    size = tuple(size)  # no int(): keeps sizes symbolic under tracing / ONNX export
    if mode == "bilinear":
        return F.interpolate(x, size=size, mode="bilinear", align_corners=True)
    if mode == "bilinear_half":
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    if mode == "nearest":
        return F.interpolate(x, size=size, mode="nearest")
    raise ValueError(f"unknown resize mode {mode!r}; use 'bilinear', 'bilinear_half' or 'nearest'")


def max_unpool2x2(x: torch.Tensor, indices: torch.Tensor, size: torch.Size) -> torch.Tensor:
    """2x2 max-unpooling of ``x`` at the pooling's ``indices`` back to its input ``size``.

    Calls the kernel ``F.max_unpool2d`` calls, without its Python size check, which fails
    under ``torch.jit.trace`` (traced sizes are tensors); the traced graph and the ONNX export
    (``MaxUnpool``) keep the size dynamic.
    """
    return torch._C._nn.max_unpool2d(x, indices, size)
