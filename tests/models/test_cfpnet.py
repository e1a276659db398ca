"""CFPNet: the CFP module's pyramid (dilations, channel split) and the paper's count."""

from __future__ import annotations

import torch

import ffseg
from ffseg.deploy.flops import count_params
from ffseg.models.cfpnet import CFPModule, cfp_dilations


def test_cfp_module_pyramid() -> None:
    assert cfp_dilations(16) == [1, 5, 9, 17] and cfp_dilations(2) == [1, 1, 2, 3]
    module = CFPModule(128, 8)
    chain = module.pyramid[3]
    assert [p.conv_v.out_channels for p in chain] == [8, 8, 16]  # C/16, C/16, C/8
    assert chain[0].conv_v.dilation == (9, 1) and chain[0].conv_h.dilation == (1, 9)
    assert module(torch.randn(1, 128, 16, 16)).shape == (1, 128, 16, 16)


def test_params_match_paper() -> None:
    model = ffseg.create_model("cfpnet")
    assert (len(model.encoder.stage1), len(model.encoder.stage2)) == (2, 6)
    assert abs(count_params(model) / 0.55e6 - 1) < 0.01
