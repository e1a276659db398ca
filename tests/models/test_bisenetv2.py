"""BiSeNet V2: parameter target and the four booster heads."""

from __future__ import annotations

import torch

import ffseg
from ffseg.deploy.flops import count_params


def test_params_match_reference_within_2_percent() -> None:
    model = ffseg.create_model("bisenetv2")
    params = count_params(model) - count_params(model.aux_heads)
    assert abs(params / 2.27e6 - 1) < 0.02


def test_booster_heads_strides_and_weights() -> None:
    model = ffseg.create_model("bisenetv2", num_classes=4).eval()
    with torch.no_grad():
        out = model.forward_train(torch.randn(1, 3, 128, 128))
    assert out.logits.shape == (1, 4, 16, 16)
    sizes = [a.logits.shape[-1] for a in out.aux]
    assert sizes == [32, 16, 8, 4]  # strides 4, 8, 16, 32
    assert all(a.weight == 1.0 and a.kind == "seg" for a in out.aux)


def test_features_only_is_the_semantic_branch() -> None:
    encoder = ffseg.create_model("bisenetv2", features_only=True).eval()
    with torch.no_grad():
        feats = encoder(torch.randn(1, 3, 64, 64))
    assert [(f.shape[1], 64 // f.shape[-1]) for f in feats] == [
        (i.num_chs, i.reduction) for i in encoder.feature_info
    ]
