"""Cross-entropy with ignore index and class weights, and its OHEM variant."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ffseg.losses._utils import resize_logits

__all__ = ["CrossEntropyLoss", "OhemCrossEntropyLoss"]


def _weights(class_weights: Sequence[float] | None) -> torch.Tensor | None:
    return None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32)


class CrossEntropyLoss(nn.Module):
    """Pixel-wise cross-entropy; logits are resized to the mask; ``ignore_index`` is skipped.

    Also accepts classification logits ``(B, C)`` with targets ``(B,)``.
    """

    def __init__(
        self,
        ignore_index: int = 255,
        class_weights: Sequence[float] | None = None,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.register_buffer("weight", _weights(class_weights), persistent=False)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if logits.ndim == 4:
            logits = resize_logits(logits, target.shape[-2:])
        weight = None if self.weight is None else self.weight.to(logits.dtype)
        loss = F.cross_entropy(
            logits,
            target,
            weight=weight,
            ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing,
        )
        if not (target != self.ignore_index).any():  # all pixels ignored: 0, not NaN
            return logits.sum() * 0.0
        return loss


class OhemCrossEntropyLoss(nn.Module):
    """Online hard example mining: average the loss over the hardest pixels only.

    A pixel is hard when the predicted probability of its true class is below ``thresh``; at
    least ``min_kept`` pixels (per batch) are kept, taking the lowest probabilities first.
    """

    def __init__(
        self,
        ignore_index: int = 255,
        class_weights: Sequence[float] | None = None,
        thresh: float = 0.7,
        min_kept: int = 100_000,
    ) -> None:
        super().__init__()
        if not 0.0 < thresh <= 1.0:
            raise ValueError(f"OHEM thresh must be in (0, 1], got {thresh}")
        self.ignore_index = ignore_index
        self.thresh = thresh
        self.min_kept = max(1, int(min_kept))
        self.register_buffer("weight", _weights(class_weights), persistent=False)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = resize_logits(logits, target.shape[-2:])
        weight = None if self.weight is None else self.weight.to(logits.dtype)
        pixel_loss = F.cross_entropy(
            logits, target, weight=weight, ignore_index=self.ignore_index, reduction="none"
        ).flatten()
        valid = (target != self.ignore_index).flatten()
        if not valid.any():
            return logits.sum() * 0.0
        with torch.no_grad():
            safe = target.clone()
            safe[safe == self.ignore_index] = 0
            prob = logits.detach().float().softmax(1).gather(1, safe.unsqueeze(1)).flatten()
            prob = prob.masked_fill(~valid, 2.0)  # never selected
            n_valid = int(valid.sum())
            k = min(self.min_kept, n_valid)
            threshold = self.thresh
            if k > 0:
                kth = prob.kthvalue(k).values.item()
                threshold = max(threshold, kth)
            keep = prob <= threshold
        return pixel_loss[keep].mean()
