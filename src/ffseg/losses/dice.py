"""Soft Dice loss (multi-class, softmax) and binary Dice on probabilities."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ffseg.losses._utils import resize_logits

__all__ = ["DiceLoss", "binary_dice_loss"]


class DiceLoss(nn.Module):
    """``1 - mean_c (2 |P_c ∩ Y_c| + s) / (|P_c| + |Y_c| + s)`` over classes present in the batch.

    ``P`` are softmax probabilities (logits resized to the mask); ignored pixels count nowhere.
    """

    def __init__(self, ignore_index: int = 255, smooth: float = 1.0) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        self.smooth = smooth

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = resize_logits(logits, target.shape[-2:])
        num_classes = logits.shape[1]
        valid = (target != self.ignore_index).unsqueeze(1)
        safe = target.masked_fill(~valid.squeeze(1), 0)
        onehot = F.one_hot(safe, num_classes).permute(0, 3, 1, 2).to(logits.dtype) * valid
        probs = logits.softmax(1) * valid
        dims = (0, 2, 3)
        inter = (probs * onehot).sum(dims)
        total = probs.sum(dims) + onehot.sum(dims)
        dice = (2 * inter + self.smooth) / (total + self.smooth)
        present = onehot.sum(dims) > 0
        if not present.any():
            return logits.sum() * 0.0
        return 1.0 - dice[present].mean()


def binary_dice_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor | None = None,
    smooth: float = 1.0,
) -> torch.Tensor:
    """Dice loss of ``sigmoid(logits)`` against a binary ``target`` (same shape), per sample."""
    probs = logits.sigmoid()
    if valid is not None:
        probs, target = probs * valid, target * valid
    dims = tuple(range(1, probs.ndim))
    inter = (probs * target).sum(dims)
    total = probs.sum(dims) + target.sum(dims)
    return (1 - (2 * inter + smooth) / (total + smooth)).mean()
