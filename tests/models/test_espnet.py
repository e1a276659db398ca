"""ESPNet: the ESP module's split and dilations, the variants' strides and the paper count."""

from __future__ import annotations

import torch

import ffseg
from ffseg.deploy.flops import count_params
from ffseg.models.espnet import ESPBlock


def test_esp_block_split_dilations_and_stride() -> None:
    block = ESPBlock(64, 64)
    assert block.reduce.out_channels == 12 and block.residual
    assert [b.dilation[0] for b in block.branches] == [1, 2, 4, 8, 16]
    assert [b.out_channels for b in block.branches] == [16, 12, 12, 12, 12]
    down = ESPBlock(19, 64, stride=2)
    assert down.reduce.kernel_size == (3, 3) and not down.residual
    assert down(torch.randn(1, 19, 16, 16)).shape == (1, 64, 8, 8)


def test_params_match_paper() -> None:
    assert abs(count_params(ffseg.create_model("espnet")) / 0.364e6 - 1) < 0.01


def test_variant_strides_and_reinforcement() -> None:
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert ffseg.create_model("espnet", num_classes=3).eval()(x).shape == (1, 3, 64, 64)
        assert ffseg.create_model("espnet_a").eval()(x).shape[-1] == 8
    channels = {
        n: [i.num_chs for i in ffseg.create_model(n).encoder.feature_info]
        for n in ("espnet_a", "espnet_b", "espnet_c")
    }
    assert channels == {
        "espnet_a": [16, 64, 128],
        "espnet_b": [16, 128, 256],
        "espnet_c": [19, 131, 256],
    }


def test_reset_classifier_rebuilds_the_class_space_decoder() -> None:
    model = ffseg.create_model("espnet").eval()
    model.reset_classifier(7)
    assert model.decoder.up3.in_channels == 7 and model.cls.out_channels == 7
    assert count_params(model) == count_params(ffseg.create_model("espnet", num_classes=7))
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 7, 64, 64)
