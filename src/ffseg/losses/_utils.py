"""Helpers shared by the losses: resizing logits to the mask (models never upsample)."""

from __future__ import annotations

import torch

from ffseg.layers import resize_to

__all__ = ["resize_logits"]


def resize_logits(logits: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """Bilinearly resize ``(B, C, h, w)`` logits to ``size`` (no-op when already that size)."""
    if tuple(logits.shape[-2:]) == tuple(size):
        return logits
    return resize_to(logits, size, "bilinear_half")
