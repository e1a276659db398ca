"""Losses for ``AuxOutput`` kinds ``"detail"`` (STDC detail guidance) and ``"boundary"``.

Both derive binary edge targets from the segmentation mask: a Laplacian of the label map at
strides 1, 2 and 4 (upsampled back, combined by union) marks pixels next to a label change, as
in STDC's detail aggregation (with a fixed union instead of its learned 1x1 fusion). Auxiliary
logits ``(B, 1, h, w)`` are resized to the mask size first.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ffseg.losses._utils import resize_logits
from ffseg.losses.dice import binary_dice_loss

__all__ = ["BoundaryLoss", "DetailLoss", "mask_edges"]

_LAPLACIAN = torch.tensor([[-1.0, -1.0, -1.0], [-1.0, 8.0, -1.0], [-1.0, -1.0, -1.0]])


@torch.no_grad()
def mask_edges(mask: torch.Tensor, strides: tuple[int, ...] = (1, 2, 4)) -> torch.Tensor:
    """Binary edge map ``(B, 1, H, W)`` (float 0/1) of an integer mask ``(B, H, W)``."""
    labels = mask.unsqueeze(1).float()
    kernel = _LAPLACIAN.to(labels.device).view(1, 1, 3, 3)
    h, w = mask.shape[-2:]
    edges = torch.zeros_like(labels, dtype=torch.bool)
    for s in strides:
        response = F.conv2d(labels, kernel, stride=s, padding=1).abs() > 0.1
        if s > 1:
            response = F.interpolate(response.float(), size=(h, w), mode="nearest") > 0.5
        edges |= response
    return edges.float()


class DetailLoss(nn.Module):
    """STDC detail loss: binary cross-entropy + Dice against :func:`mask_edges` targets."""

    def __init__(self, ignore_index: int = 255, bce_weight: float = 1.0, dice_weight: float = 1.0):
        super().__init__()
        self.ignore_index = ignore_index
        self.bce_weight = bce_weight
        self.dice_weight = dice_weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = resize_logits(logits, target.shape[-2:]).float()
        edges = mask_edges(target)
        valid = (target != self.ignore_index).unsqueeze(1).float()
        bce = F.binary_cross_entropy_with_logits(logits, edges, reduction="none")
        bce = (bce * valid).sum() / valid.sum().clamp_min(1.0)
        dice = binary_dice_loss(logits, edges, valid)
        return self.bce_weight * bce + self.dice_weight * dice


class BoundaryLoss(nn.Module):
    """Class-balanced binary cross-entropy on edge targets (boundary heads, e.g. PIDNet)."""

    def __init__(self, ignore_index: int = 255) -> None:
        super().__init__()
        self.ignore_index = ignore_index

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = resize_logits(logits, target.shape[-2:]).float()
        edges = mask_edges(target)
        valid = (target != self.ignore_index).unsqueeze(1).float()
        pos = (edges * valid).sum()
        neg = ((1 - edges) * valid).sum()
        total = (pos + neg).clamp_min(1.0)
        weight = torch.where(edges > 0, neg / total, pos / total) * valid
        bce = F.binary_cross_entropy_with_logits(logits, edges, weight=weight, reduction="sum")
        return bce / valid.sum().clamp_min(1.0)
