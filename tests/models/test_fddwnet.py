"""FDDWNet: EERM (factorised depthwise + pointwise), dilation sequence, skip decoder, params."""

from __future__ import annotations

import torch

import ffseg
from ffseg.deploy.flops import count_params
from ffseg.models.fddwnet import EERM


def test_eerm_layout_dilations_and_params() -> None:
    model = ffseg.create_model("fddwnet")
    deep = [m for m in model.encoder.stage3 if isinstance(m, EERM)]
    assert [m.body[1][0].conv_v.dilation[0] for m in deep] == [1, 2, 5, 9] * 2 + [2, 5, 9, 17] * 2
    fddwc = deep[0].body[0]
    assert fddwc[0].conv_v.groups == fddwc[0].conv_h.groups == 128  # depthwise pair
    assert fddwc[1][0].kernel_size == (1, 1)  # then pointwise
    assert abs(count_params(model) / 0.8e6 - 1) < 0.05  # paper: 0.8 M


def test_skip_branches_from_stride_four() -> None:
    model = ffseg.create_model("fddwnet", num_classes=2).eval()
    with torch.no_grad():
        s4 = torch.randn(1, 64, 8, 8)
        assert model.skip2(s4).shape == (1, 16, 16, 16)
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 2, 64, 64)
