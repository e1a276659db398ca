"""Exponential moving average of weights (and BN buffers) with a warm-up of the decay."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

__all__ = ["ModelEMA"]


class ModelEMA(AveragedModel):
    """``ema = d * ema + (1 - d) * w`` after every step, ``d = decay * (1 - exp(-n / warmup))``.

    A :class:`torch.optim.swa_utils.AveragedModel` (``use_buffers=True``) so BN statistics are
    averaged too; ``state_dict`` carries the update count. ``ema.module`` is the averaged model.
    ``update_parameters`` pairs tensors by order, so it also takes a wrapper with exactly the
    model's parameters and buffers (DDP, ``torch.compile``, the engine's ``TrainForward``).
    """

    def __init__(self, model: nn.Module, decay: float = 0.999, warmup: int = 100) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.warmup = max(1, warmup)
        super().__init__(model, multi_avg_fn=self._average, use_buffers=True)

    def current_decay(self, n: int) -> float:
        return self.decay * (1.0 - math.exp(-n / self.warmup))

    @torch.no_grad()
    def _average(
        self, ema: list[torch.Tensor], current: list[torch.Tensor], num_averaged: torch.Tensor
    ) -> None:
        d = self.current_decay(int(num_averaged))
        floats = [(e, c) for e, c in zip(ema, current) if e.is_floating_point()]
        if floats:
            torch._foreach_lerp_([e for e, _ in floats], [c for _, c in floats], 1.0 - d)
        for e, c in zip(ema, current):
            if not e.is_floating_point():
                e.copy_(c)
