"""DABNet: DAB module branches, block-2 dilations, input-injection widths and parameters."""

from __future__ import annotations

import torch

import ffseg
from ffseg.deploy.flops import count_params


def test_dab_modules_and_params() -> None:
    model = ffseg.create_model("dabnet")
    enc = model.encoder
    assert [m.context.conv_v.dilation[0] for m in enc.block2] == [4, 4, 8, 8, 16, 16]
    assert [m.context.conv_v.dilation[0] for m in enc.block1] == [2, 2, 2]
    dab = enc.block1[0]
    assert dab.local.conv_v.groups == dab.local.conv_h.groups == 32  # depthwise, half width
    assert abs(count_params(model) / 0.76e6 - 1) < 0.02  # paper: 0.76 M


def test_input_injection_widths() -> None:
    encoder = ffseg.create_model("dabnet").encoder.eval()
    with torch.no_grad():
        feats = encoder(torch.randn(1, 3, 64, 64))
    assert [tuple(f.shape[1:]) for f in feats] == [(35, 32, 32), (131, 16, 16), (259, 8, 8)]
