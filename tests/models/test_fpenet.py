"""FPENet: parameter count and the FPE block's hierarchical dilated pyramid."""

from __future__ import annotations

import torch

import ffseg
from ffseg.deploy.flops import count_params
from ffseg.models.fpenet import FPEBlock


def test_params_match_paper() -> None:
    with torch.device("meta"):
        model = ffseg.create_model("fpenet")
    assert round(count_params(model) / 1e6, 1) == 0.4  # paper: 0.4 M (one decimal)


def test_fpe_block_dilations_and_hierarchical_sum() -> None:
    block = FPEBlock(32, 32, expansion=4).eval()
    assert [conv[0].dilation for conv in block.pyramid] == [(1, 1), (2, 2), (4, 4), (8, 8)]
    assert block.group == 32 and block.residual
    x = torch.randn(1, 32, 16, 16)
    with torch.no_grad():
        groups = block.expand(x).split(32, dim=1)
        outs = [conv(g) for conv, g in zip(block.pyramid, groups)]
        summed = torch.cat([sum(outs[: i + 1]) for i in range(4)], dim=1)
        expected = torch.relu(block.project(summed) + x)
        torch.testing.assert_close(block(x), expected)
