"""FarSee-Net: parameter count, sub-pixel output resolution and classifier, backbones."""

from __future__ import annotations

import pytest
import torch

import ffseg
from ffseg.deploy.flops import count_params


def test_params_within_2_percent_of_reference() -> None:
    with torch.device("meta"):
        model = ffseg.create_model("farseenet")
    assert abs(count_params(model) / 1e6 - 16.75) / 16.75 < 0.02


def test_sub_pixel_output_at_quarter_resolution() -> None:
    model = ffseg.create_model("farseenet", num_classes=5).eval()
    with torch.inference_mode():
        assert model(torch.randn(1, 3, 64, 128)).shape == (1, 5, 16, 32)


def test_reset_classifier_keeps_the_sub_pixel_layout() -> None:
    model = ffseg.create_model("farseenet").eval()
    model.reset_classifier(5)
    assert model.get_classifier().out_channels == 5
    assert model.get_classifier()[0].out_channels == 5 * 16
    assert model.num_classes == 5 and model.pretrained_cfg.classes is None
    with torch.inference_mode():
        assert model(torch.randn(1, 3, 64, 128)).shape == (1, 5, 16, 32)


def test_backbone_choice() -> None:
    with torch.device("meta"):
        model = ffseg.create_model("farseenet", backbone="resnet50")
    assert model.encoder.out_channels[-1] == 2048
    with pytest.raises(ValueError, match="choose one of resnet18, resnet34, resnet50, resnet101"):
        ffseg.create_model("farseenet", backbone="mobilenetv2")
