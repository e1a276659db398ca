"""Lite-HRNet: the paper's parameter counts and the conditional channel weighting block."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

import ffseg
from ffseg.deploy.flops import count_params
from ffseg.models.lite_hrnet import ConditionalChannelWeighting, CrossResolutionWeighting


@pytest.mark.parametrize(("name", "paper"), [("lite_hrnet18", 1.1e6), ("lite_hrnet30", 1.8e6)])
def test_params_match_paper(name: str, paper: float) -> None:
    with torch.device("meta"):
        model = ffseg.create_model(name)
    assert abs(count_params(model) / paper - 1) < 0.03  # documented: +2.8 % / -2.0 %


def test_block_passes_half_the_channels_through_the_shuffle() -> None:
    block = ConditionalChannelWeighting([40, 80], ratio=8).eval()
    xs = [torch.randn(1, 40, 16, 16), torch.randn(1, 80, 8, 8)]
    with torch.no_grad():
        out = block(xs)
    for x, y in zip(xs, out):  # shuffle of [kept, weighted]: kept halves on even channels
        assert y.shape == x.shape
        assert torch.equal(y[:, 0::2], x[:, : x.shape[1] // 2])


def test_cross_resolution_pooling_equals_adaptive_pooling_at_multiples_of_32() -> None:
    crw = CrossResolutionWeighting([20, 40, 80], ratio=8).eval()
    xs = [torch.randn(1, 20, 16, 24), torch.randn(1, 40, 8, 12), torch.randn(1, 80, 4, 6)]
    with torch.no_grad():
        pooled = [F.adaptive_avg_pool2d(x, (4, 6)) for x in xs]
        weights = crw.conv2(crw.conv1(torch.cat(pooled, 1))).split([20, 40, 80], 1)
        expected = [x * F.interpolate(w, size=x.shape[-2:]) for x, w in zip(xs, weights)]
        for got, want in zip(crw(xs), expected):
            torch.testing.assert_close(got, want)
