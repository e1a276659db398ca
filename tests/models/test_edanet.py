"""EDANet: dense growth (k = 40), the dilation sequence and the parameter count."""

from __future__ import annotations

import torch

import ffseg
from ffseg.deploy.flops import count_params
from ffseg.models.edanet import EDAModule


def test_dense_growth_dilations_and_params() -> None:
    model = ffseg.create_model("edanet")
    modules = [m for m in model.encoder.stage3 if isinstance(m, EDAModule)]
    assert [m.body[2].conv_v.dilation[0] for m in modules] == [2, 2, 4, 4, 8, 8, 16, 16]
    assert [m.out_channels for m in modules][::4] == [170, 330]
    assert abs(count_params(model) / 0.68e6 - 1) < 0.02  # paper: 0.68 M


def test_eda_module_keeps_its_input() -> None:
    module = EDAModule(8, dilation=2, growth=4).eval()
    x = torch.randn(1, 8, 16, 16)
    with torch.no_grad():
        out = module(x)
    assert out.shape == (1, 12, 16, 16) and torch.equal(out[:, 4:], x)
