"""MiniNet-v2: the authors' parameter count, dilation pattern and residual separable modules."""

from __future__ import annotations

import torch

import ffseg
from ffseg.deploy.flops import count_params
from ffseg.models.mininetv2 import MultiDilationDSConv


def test_params_match_authors_graph() -> None:
    with torch.device("meta"):
        model = ffseg.create_model("mininetv2")
    assert count_params(model) == 517_137  # Shathe/MiniNet-v2 evaluate_time_pytorch.py, Net(19)


def test_dilation_pattern_and_second_depthwise_path() -> None:
    with torch.device("meta"):
        blocks = ffseg.create_model("mininetv2").encoder.blocks128
    assert all(b.dilated is not None and b.dw[0].dilation == (1, 1) for b in blocks)
    dilations = [b.dilated[0].dilation[0] for b in blocks]
    assert dilations == [1, 2, 1, 4, 1, 8, 1, 16, 1, 1, 1, 2, 1, 4, 1, 8]


def test_multi_dilation_module_is_residual_over_both_depthwise_paths() -> None:
    block = MultiDilationDSConv(8, dilation=4, multi=True).eval()
    x = torch.randn(1, 8, 16, 16)
    with torch.no_grad():
        expected = torch.relu(x + block.pw(block.dw(x) + block.dilated(x)))
        torch.testing.assert_close(block(x), expected)
