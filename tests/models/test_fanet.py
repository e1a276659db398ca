"""FANet (strided first stage, reference count) and torchvision weights for all ResNet models."""

from __future__ import annotations

import pytest
import torch
import torchvision

import ffseg
from ffseg.deploy.flops import count_params


def test_fanet18_params_within_2_percent_of_reference() -> None:
    with torch.device("meta"):
        model = ffseg.create_model("fanet18")
    assert abs(count_params(model) / 1e6 - 12.26) / 12.26 < 0.02


# Every group-I model with a ResNet encoder (FANet's stride-2 first stage included).
RESNET_MODELS = [
    ("fanet18", "resnet18"),
    ("fanet50", "resnet50"),
    ("bisenetv1", "resnet18"),
    ("swiftnet", "resnet18"),
    ("icnet", "resnet18"),
    ("linknet", "resnet18"),
    ("shelfnet", "resnet18"),
    ("farseenet", "resnet18"),
]


@pytest.mark.parametrize("name, tv_name", RESNET_MODELS)
def test_torchvision_checkpoint_loads_into_encoder(name: str, tv_name: str, tmp_path) -> None:
    reference = getattr(torchvision.models, tv_name)(weights=None)
    path = tmp_path / f"{tv_name}.pth"
    torch.save(reference.state_dict(), path)
    model = ffseg.create_model(name, pretrained_backbone=path)
    state = model.state_dict()
    for key, value in reference.state_dict().items():
        if not key.startswith("fc."):
            assert torch.equal(state[model.encoder_prefix + key], value), key
    encoder = ffseg.create_model(name, features_only=True)
    assert len(encoder.feature_info) == 4


def test_backbone_choice() -> None:
    with torch.device("meta"):
        model = ffseg.create_model("fanet18", backbone="resnet134")
        reference = ffseg.create_model("fanet134")
    assert count_params(model) == count_params(reference)
    assert model.pretrained_cfg.model_args == {"backbone": "resnet134"}
    with pytest.raises(ValueError, match="unknown fanet backbone 'resnet22s'; choose one of"):
        ffseg.create_model("fanet18", backbone="resnet22s")


def test_strided_first_stage_and_features_only() -> None:
    x = torch.randn(1, 3, 128, 128)
    enc = ffseg.create_model("fanet18", features_only=True).eval()
    with torch.inference_mode():
        feats = enc(x)
    assert [f.shape[-1] for f in feats] == [16, 8, 4, 2]
    assert [i.reduction for i in enc.feature_info] == [8, 16, 32, 64]
    plain = ffseg.create_model("fanet18", first_stage_stride=1).eval()
    assert plain.pretrained_cfg.output_stride == 4
    with torch.inference_mode():
        assert plain(x).shape == (1, 19, 32, 32)
