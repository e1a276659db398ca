"""ICNet: parameter count, cascade label guidance, dilated encoder features."""

from __future__ import annotations

import pytest
import torch

import ffseg
from ffseg.deploy.flops import count_params


def test_params_within_2_percent_of_reference() -> None:
    with torch.device("meta"):
        model = ffseg.create_model("icnet")
    assert abs(count_params(model) / 1e6 - 12.42) / 12.42 < 0.02


def test_cascade_label_guidance() -> None:
    model = ffseg.create_model("icnet", num_classes=3).train()
    out = model.forward_train(torch.randn(2, 3, 128, 128))
    assert out.logits.shape == (2, 3, 32, 32)
    assert [a.logits.shape[-1] for a in out.aux] == [8, 16]  # 1/16 and 1/8
    assert [a.weight for a in out.aux] == pytest.approx([0.4, 0.4])
    assert [a.name for a in out.aux] == list(model.aux_heads)


def test_features_only_reports_dilated_strides() -> None:
    enc = ffseg.create_model("icnet", features_only=True).eval()
    with torch.inference_mode():
        feats = enc(torch.randn(1, 3, 64, 64))
    assert [64 // f.shape[-1] for f in feats] == [i.reduction for i in enc.feature_info]
