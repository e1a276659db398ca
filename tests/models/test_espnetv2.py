"""ESPNetv2: the EESP dilation rule, the level widths and the paper's parameter count."""

from __future__ import annotations

import torch

import ffseg
from ffseg.deploy.flops import count_params
from ffseg.models.espnetv2 import eesp_dilations


def test_eesp_dilations_follow_the_receptive_field_limit() -> None:
    assert eesp_dilations(4, 13) == [1, 2, 3, 4]
    assert eesp_dilations(4, 7) == [1, 1, 2, 3]  # 9x9 exceeds the limit: back to 3x3


def test_levels_params_and_aux() -> None:
    model = ffseg.create_model("espnetv2")
    info = [(i.num_chs, i.reduction) for i in model.encoder.feature_info]
    assert info == [(32, 2), (128, 4), (256, 8), (512, 16)]
    assert abs(count_params(model) / 1.25e6 - 1) < 0.01
    with torch.no_grad():
        out = model.eval().forward_train(torch.randn(1, 3, 64, 64))
    assert out.logits.shape[-1] == 32 and [(a.name, a.logits.shape[-1]) for a in out.aux] == [
        ("aux_l3", 8)
    ]
