"""Near-ties in index-keeping max-pooling, which export verification avoids."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ffseg.deploy.ties import count_near_ties


class _Functional(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, 2, 2, return_indices=True)[0]


class _Module(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(2, 2, return_indices=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)[0]


def _windows(*values: tuple[float, float, float, float]) -> torch.Tensor:
    """One 2x2 window per given 4-tuple, side by side."""
    x = torch.zeros(1, 1, 2, 2 * len(values))
    for k, (a, b, c, d) in enumerate(values):
        x[0, 0, :, 2 * k : 2 * k + 2] = torch.tensor([[a, b], [c, d]])
    return x


def test_a_window_within_rounding_of_its_runner_up_is_a_near_tie() -> None:
    x = _windows(
        (1.0, 1.0 + 2**-20, 0.0, 0.0),  # near-tie: a relative gap of ~1e-6
        (1.0, 1.0, 0.0, 0.0),  # exact tie: every backend takes the first
        (0.0, 0.0, 0.0, 0.0),  # zeros: unpooling writes 0 wherever it lands
        (1.0, 0.5, 0.0, 0.0),  # clear maximum
    )
    for model in (_Functional(), _Module()):
        assert count_near_ties(model, x) == 1
    assert count_near_ties(_Functional(), _windows((1.0, 0.5, 0.0, 0.0))) == 0


def test_pooling_without_indices_is_not_counted() -> None:
    x = _windows((1.0, 1.0 + 2**-20, 0.0, 0.0))
    assert count_near_ties(nn.MaxPool2d(2, 2), x) == 0
