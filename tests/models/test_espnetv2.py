"""ESPNetv2: the EESP dilation rule, the level widths, the EdgeNets decoder and its class width."""

from __future__ import annotations

import pytest
import torch

import ffseg
from ffseg.deploy.flops import count_params
from ffseg.models.espnetv2 import _PyramidPool, eesp_dilations


def test_eesp_dilations_follow_the_receptive_field_limit() -> None:
    assert eesp_dilations(4, 13) == [1, 2, 3, 4]
    assert eesp_dilations(4, 7) == [1, 1, 2, 3]  # 9x9 exceeds the limit: back to 3x3


def test_levels_params_and_stride_two_logits() -> None:
    model = ffseg.create_model("espnetv2").eval()
    info = [(i.num_chs, i.reduction) for i in model.encoder.feature_info]
    assert info == [(32, 2), (128, 4), (256, 8), (512, 16)]
    assert count_params(model) == 787_488  # the authors' 787,968 less 480 never-called PReLUs
    with torch.no_grad():
        out = model.forward_train(torch.randn(1, 3, 64, 96))
    assert out.logits.shape == (1, 19, 32, 48) and out.aux == []


@pytest.mark.parametrize(("classes", "width"), [(19, 9), (40, 16), (3, 1), (1, 1)])
def test_pyramid_width_follows_the_class_count(classes: int, width: int) -> None:
    with torch.device("meta"):
        model = ffseg.create_model("espnetv2", num_classes=classes)
    assert {p.project[0].out_channels for p in model.decoder} == {width}
    assert model.get_classifier().out_channels == classes


def test_pyramid_pool_keeps_the_size_of_odd_and_tiny_maps() -> None:
    block = _PyramidPool(8, 4, 6).eval()
    for size in ((3, 5), (7, 11)):
        with torch.no_grad():
            assert block(torch.randn(1, 8, *size)).shape == (1, 6, *size)
