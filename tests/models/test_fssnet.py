"""FSSNet: parameter count, stride sequence and the dilated stage."""

from __future__ import annotations

import torch

import ffseg
from ffseg.deploy.flops import count_params


def test_params_match_paper() -> None:
    with torch.device("meta"):
        model = ffseg.create_model("fssnet")
    assert abs(count_params(model) / 0.2e6 - 1) < 0.02  # paper: 0.2 M


def test_strides_and_dilations() -> None:
    with torch.device("meta"):
        model = ffseg.create_model("fssnet")
        feats = model.encoder(torch.empty(1, 3, 64, 64))
    assert [(f.shape[1], 64 // f.shape[-1]) for f in feats] == [
        (16, 2),
        (64, 4),
        (128, 8),
        (128, 8),
    ]
    dilations = [block.body[1][0].dilation[0] for block in model.encoder.dilated]
    assert dilations == [2, 5, 9, 2, 5, 9]
