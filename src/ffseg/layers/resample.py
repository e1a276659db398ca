"""Resizing feature maps to an explicit target size."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["resize_to"]


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
