"""STDC1/STDC2: parameter targets, the training-only detail head, the encoder on its own."""

from __future__ import annotations

import pytest
import torch

import ffseg
from ffseg.deploy.flops import count_params

# Inference-graph parameters (19 classes, detail head excluded) of the reference re-implementation.
TARGETS = {"stdc1": 7.79e6, "stdc2": 11.82e6}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_params_match_reference_within_2_percent(name: str) -> None:
    model = ffseg.create_model(name)
    params = count_params(model) - count_params(model.aux_heads)
    assert abs(params / TARGETS[name] - 1) < 0.02


def test_detail_head_only_in_forward_train() -> None:
    model = ffseg.create_model("stdc1").eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        out = model.forward_train(x)
        logits = model(x)
    assert torch.equal(out.logits, logits)
    (detail,) = out.aux
    assert (detail.name, detail.kind, detail.weight) == ("detail", "detail", 1.0)
    assert detail.logits.shape == (1, 1, 8, 12)


def test_features_only_matches_feature_info() -> None:
    encoder = ffseg.create_model("stdc2", features_only=True).eval()
    with torch.no_grad():
        feats = encoder(torch.randn(1, 3, 64, 64))
    assert [f.shape[1] for f in feats] == [i.num_chs for i in encoder.feature_info]
    assert [64 // f.shape[-1] for f in feats] == [i.reduction for i in encoder.feature_info]


def test_encoder_checkpoint_initialises_backbone(tmp_path) -> None:
    source = ffseg.create_model("stdc1", features_only=True)
    path = tmp_path / "stdc1_encoder.pt"
    torch.save(source.state_dict(), path)
    model = ffseg.create_model("stdc1", pretrained_backbone=path)
    for key, value in source.state_dict().items():
        assert torch.equal(model.backbone.state_dict()[key], value), key
