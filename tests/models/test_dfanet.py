"""DFANet: parameter target, odd multiples of 32, XceptionA features."""

from __future__ import annotations

import torch

import ffseg
from ffseg.deploy.flops import count_params


def test_params_match_reference_within_2_percent() -> None:
    assert abs(count_params(ffseg.create_model("dfanet")) / 3.05e6 - 1) < 0.02


def test_input_multiple_of_32_not_64() -> None:
    model = ffseg.create_model("dfanet").eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 96, 160)).shape == (1, 19, 24, 40)


def test_features_only() -> None:
    encoder = ffseg.create_model("dfanet", features_only=True).eval()
    with torch.no_grad():
        feats = encoder(torch.randn(1, 3, 64, 64))
    assert [(f.shape[1], 64 // f.shape[-1]) for f in feats] == [
        (i.num_chs, i.reduction) for i in encoder.feature_info
    ]


def test_reset_classifier_replaces_low_and_high_classifiers() -> None:
    model = ffseg.create_model("dfanet").eval()
    model.reset_classifier(5)
    assert [h.cls.out_channels for h in model.high] == [5, 5, 5]
    with torch.no_grad():
        assert model(torch.randn(1, 3, 128, 128)).shape == (1, 5, 32, 32)


def test_dfanet_b_uses_the_narrower_xception_b() -> None:
    with torch.device("meta"):
        model = ffseg.create_model("dfanet_b")
    assert [i.num_chs for i in model.encoder.feature_info] == [32, 64, 128]
    assert count_params(model) < count_params(ffseg.create_model("dfanet"))
