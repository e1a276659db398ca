"""CGNet: the CG block's branches, the stage depths and the paper's parameter count."""

from __future__ import annotations

import torch

import ffseg
from ffseg.deploy.flops import count_params
from ffseg.models.cgnet import CGBlock


def test_cg_block_local_and_surrounding_branches() -> None:
    block = CGBlock(64, 64, dilation=2, reduction=8)
    assert block.f_loc.groups == block.f_sur.groups == 32
    assert (block.f_loc.dilation, block.f_sur.dilation) == ((1, 1), (2, 2))
    assert block.f_glo.fc1.out_channels == 8
    down = CGBlock(35, 64, dilation=2, reduction=8, down=True)
    assert down(torch.randn(1, 35, 16, 16)).shape == (1, 64, 8, 8)


def test_depths_and_paper_count() -> None:
    model = ffseg.create_model("cgnet")
    assert (len(model.encoder.stage2), len(model.encoder.stage3)) == (2, 20)
    assert len(ffseg.create_model("cgnet_m3n15").encoder.stage3) == 14
    assert count_params(model) < 0.5e6  # paper: "less than 0.5 M parameters"
