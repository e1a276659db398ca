"""Fast-SCNN: the paper's parameter count and its two auxiliary heads."""

from __future__ import annotations

import torch

import ffseg
from ffseg.deploy.flops import count_params


def test_params_match_paper() -> None:
    model = ffseg.create_model("fastscnn")
    params = count_params(model) - count_params(model.aux_heads)
    assert abs(params / 1.11e6 - 1) < 0.03  # paper 1.11 M; documented +2.5 %


def test_aux_heads() -> None:
    model = ffseg.create_model("fastscnn").eval()
    with torch.no_grad():
        out = model.forward_train(torch.randn(1, 3, 128, 128))
    assert [(a.name, a.weight, a.logits.shape[-1]) for a in out.aux] == [
        ("aux_ltd", 0.4, 16),
        ("aux_gfe", 0.4, 4),
    ]


def test_features_only() -> None:
    encoder = ffseg.create_model("fastscnn", features_only=True).eval()
    with torch.no_grad():
        feats = encoder(torch.randn(1, 3, 128, 128))
    assert [(f.shape[1], 128 // f.shape[-1]) for f in feats] == [
        (i.num_chs, i.reduction) for i in encoder.feature_info
    ]
