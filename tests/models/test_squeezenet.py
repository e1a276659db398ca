"""SqueezeNet 1.1 encoder (SQNet): torchvision key compatibility, features, params."""

from __future__ import annotations

import torch
import torchvision

import ffseg
from ffseg.deploy.flops import count_params


def test_params_match_reference_within_2_percent() -> None:
    assert abs(count_params(ffseg.create_model("sqnet")) / 4.81e6 - 1) < 0.02


def test_torchvision_checkpoint_loads_as_backbone(tmp_path) -> None:
    reference = torchvision.models.squeezenet1_1(weights=None)
    path = tmp_path / "squeezenet1_1.pth"
    torch.save(reference.state_dict(), path)  # includes the classifier
    model = ffseg.create_model("sqnet", pretrained_backbone=path)
    ours = model.backbone.features.state_dict()
    theirs = reference.features.state_dict()
    assert list(ours) == list(theirs)
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)


def test_features_only_and_full_resolution_output() -> None:
    encoder = ffseg.create_model("sqnet", features_only=True).eval()
    with torch.no_grad():
        feats = encoder(torch.randn(1, 3, 96, 160))
        out = ffseg.create_model("sqnet").eval()(torch.randn(1, 3, 96, 160))
    assert [(f.shape[1], 160 // f.shape[-1]) for f in feats] == [
        (i.num_chs, i.reduction) for i in encoder.feature_info
    ]
    assert out.shape == (1, 19, 96, 160)
