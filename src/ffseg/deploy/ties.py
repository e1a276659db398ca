"""Near-ties in max-pooling: inputs on which two backends may legitimately disagree.

A model that keeps pooling indices (max-unpooling: SegNet, ENet) moves values by an argmax. Where
a window's two largest values differ by about one rounding step, PyTorch and another backend
(ONNX Runtime, a BN-folded graph) may pick different positions, and the output then differs
visibly although both graphs are right. Export verification draws its random inputs so that no
such near-tie occurs; a wrong graph still fails on them.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

__all__ = ["NEAR_TIE", "count_near_ties"]

#: Relative gap below which a window's largest value and its runner-up count as a near-tie.
NEAR_TIE = 1e-5


class _NearTies(TorchFunctionMode):
    """Counts near-tied windows of every ``max_pool2d`` that returns indices."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        if getattr(func, "__name__", "") == "max_pool2d_with_indices":
            x, (top, indices) = args[0], result
            others = x.flatten(2).scatter(2, indices.flatten(2), float("-inf")).view_as(x)
            runner_up = func(others, *args[1:], **kwargs)[0]
            gap = top - runner_up
            self.count += int(((gap > 0) & (gap <= NEAR_TIE * top.abs())).sum())
        return result


def count_near_ties(model: nn.Module, x: torch.Tensor) -> int:
    """Windows of ``model(x)``'s index-keeping max-poolings whose two largest values are within
    :data:`NEAR_TIE` (relative) of each other (0 for a model without such poolings)."""
    mode = _NearTies()
    with torch.no_grad(), mode:
        model(x)
    return mode.count
