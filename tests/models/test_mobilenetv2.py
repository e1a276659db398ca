"""MobileNetV2 encoder (LiteSeg, CANet): torchvision key compatibility, features, params."""

from __future__ import annotations

import pytest
import torch
import torchvision

import ffseg
from ffseg.deploy.flops import count_params

TARGETS = {"liteseg": 4.29e6, "canet": 4.77e6}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_params_match_reference_within_2_percent(name: str) -> None:
    assert abs(count_params(ffseg.create_model(name)) / TARGETS[name] - 1) < 0.02


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_torchvision_checkpoint_loads_as_backbone(name: str, tmp_path) -> None:
    torch.manual_seed(1)
    reference = torchvision.models.mobilenet_v2(weights=None).eval()
    path = tmp_path / "mobilenet_v2.pth"
    torch.save(reference.state_dict(), path)  # includes features.18 and the classifier
    model = ffseg.create_model(name, pretrained_backbone=path).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ours = model.feature_encoder()(x)[-1]
        theirs = reference.features[:18](x)
    torch.testing.assert_close(ours, theirs)


def test_features_only() -> None:
    encoder = ffseg.create_model("liteseg", features_only=True).eval()
    with torch.no_grad():
        feats = encoder(torch.randn(1, 3, 64, 64))
    assert [(f.shape[1], 64 // f.shape[-1]) for f in feats] == [
        (i.num_chs, i.reduction) for i in encoder.feature_info
    ]
