"""Counting multiply-accumulates with ``torch.utils.flop_counter`` (no extra dependency)."""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["count_macs", "count_params"]


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (learnable tensors only; BN running statistics are not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@torch.no_grad()
def count_macs(model: nn.Module, input_size: tuple[int, int], batch: int = 1) -> int:
    """Multiply-accumulates of convolutions and matmuls for one ``(H, W)`` forward pass.

    Runs on the ``meta`` device (shapes only, no compute): a copy of the model is moved there,
    so counting a 100M-parameter model at 1024x2048 takes well under a second. Batch norm,
    activations, pooling, additions and resizing are not counted (the usual convention).
    """
    meta_model = model if _on_meta(model) else copy.deepcopy(model).to("meta")
    meta_model.eval()
    x = torch.empty(batch, 3, *input_size, device="meta")
    counter = FlopCounterMode(display=False)
    with counter:
        meta_model(x)
    return counter.get_total_flops() // 2


def _on_meta(model: nn.Module) -> bool:
    tensor = next(model.parameters(), None)
    return tensor is not None and tensor.device.type == "meta"
