"""RegSeg: parameter target, dilated D blocks keep resolution, encoder features."""

from __future__ import annotations

import torch

import ffseg
from ffseg.deploy.flops import count_params
from ffseg.models.regseg import DBlock


def test_params_match_paper_and_reference() -> None:
    params = count_params(ffseg.create_model("regseg"))
    assert abs(params / 3.34e6 - 1) < 0.02 and abs(params / 3.37e6 - 1) < 0.02


def test_dilated_block_keeps_shape_and_uses_both_rates() -> None:
    block = DBlock(256, 256, 1, (1, 14)).eval()
    x = torch.randn(1, 256, 16, 16)
    with torch.no_grad():
        assert block(x).shape == x.shape
    assert [b[0].dilation for b in block.branches] == [(1, 1), (14, 14)]


def test_features_only() -> None:
    encoder = ffseg.create_model("regseg", features_only=True).eval()
    with torch.no_grad():
        feats = encoder(torch.randn(1, 3, 64, 64))
    assert [(f.shape[1], 64 // f.shape[-1]) for f in feats] == [
        (i.num_chs, i.reduction) for i in encoder.feature_info
    ]
