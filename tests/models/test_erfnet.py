"""ERFNet: the paper's layer table (strides, channels, dilations) and parameter count."""

from __future__ import annotations

import torch

import ffseg
from ffseg.deploy.flops import count_params
from ffseg.layers.asymmetric import FactorizedResidual


def test_encoder_table_and_params() -> None:
    model = ffseg.create_model("erfnet")
    blocks = [m for m in model.encoder.stage3 if isinstance(m, FactorizedResidual)]
    assert [b.body[1].conv_v.dilation[0] for b in blocks] == [2, 4, 8, 16, 2, 4, 8, 16]
    assert sum(isinstance(m, FactorizedResidual) for m in model.encoder.stage2) == 5
    assert abs(count_params(model) / 2.06e6 - 1) < 0.01  # third-party table: 2.06 M


def test_features_and_full_resolution_logits() -> None:
    model = ffseg.create_model("erfnet", num_classes=4).eval()
    with torch.no_grad():
        feats = model.encoder(torch.randn(1, 3, 32, 48))
        out = model(torch.randn(1, 3, 32, 48))
    assert [tuple(f.shape[1:]) for f in feats] == [(16, 16, 24), (64, 8, 12), (128, 4, 6)]
    assert out.shape == (1, 4, 32, 48)
