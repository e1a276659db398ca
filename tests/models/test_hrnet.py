"""HRNetV2: the paper's parameter count and the four-branch encoder."""

from __future__ import annotations

import torch

import ffseg
from ffseg.deploy.flops import count_params


def test_w48_params_within_2_percent_of_paper() -> None:
    with torch.device("meta"):
        model = ffseg.create_model("hrnetv2_w48")
    assert abs(count_params(model) / 1e6 - 65.9) / 65.9 < 0.02


def test_features_only_branches() -> None:
    enc = ffseg.create_model("hrnetv2_w18", features_only=True).eval()
    with torch.inference_mode():
        feats = enc(torch.randn(1, 3, 128, 192))
    assert [f.shape[1] for f in feats] == [18, 36, 72, 144]
    assert [192 // f.shape[-1] for f in feats] == [i.reduction for i in enc.feature_info]
