"""MiniNet-v2: parameter count, dilation pattern and the multi-dilation module."""

from __future__ import annotations

import torch

import ffseg
from ffseg.deploy.flops import count_params
from ffseg.models.mininetv2 import MultiDilationDSConv


def test_params_match_paper() -> None:
    with torch.device("meta"):
        model = ffseg.create_model("mininetv2")
    assert abs(count_params(model) / 0.5e6 - 1) < 0.02  # paper (secondary): 0.5 M


def test_dilation_pattern() -> None:
    with torch.device("meta"):
        blocks = ffseg.create_model("mininetv2").encoder.blocks128
    dilations = [1 if b.dilated is None else b.dilated[0].dilation[0] for b in blocks]
    assert dilations == [1, 2, 1, 4, 1, 8, 1, 16, 1, 1, 1, 2, 1, 4, 1, 8]


def test_dilated_module_adds_both_depthwise_paths() -> None:
    block = MultiDilationDSConv(8, dilation=4).eval()
    x = torch.randn(1, 8, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(block(x), block.pw(block.dw(x) + block.dilated(x)))
