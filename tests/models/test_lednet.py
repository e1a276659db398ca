"""LEDNet: SS-nbt split/shuffle, the dilation sequence, the APN's class branches, params."""

from __future__ import annotations

import torch

import ffseg
from ffseg.deploy.flops import count_params
from ffseg.models.lednet import SSnbt


def test_dilations_branch_order_and_params() -> None:
    model = ffseg.create_model("lednet")
    deep = [m for m in model.encoder.stage3 if isinstance(m, SSnbt)]
    assert [m.left[1].conv_v.dilation[0] for m in deep] == [1, 2, 5, 9, 2, 5, 9, 17]
    assert next(iter(deep[0].left[0])) is deep[0].left[0].conv_v  # 3x1 first on the left half
    assert next(iter(deep[0].right[0])) is deep[0].right[0].conv_h  # 1x3 first on the right
    assert count_params(model) < 1e6  # paper: "less than 1M parameters"


def test_ssnbt_shuffles_the_two_halves() -> None:
    block = SSnbt(8).eval()
    for body in (block.left, block.right):
        for p in body.parameters():
            torch.nn.init.zeros_(p)  # bodies output 0: out = shuffle(relu(x))
    x = torch.arange(8.0).view(1, 8, 1, 1).expand(1, 8, 2, 2)
    with torch.no_grad():
        out = block(x)
    assert out[0, :, 0, 0].tolist() == [0.0, 4.0, 1.0, 5.0, 2.0, 6.0, 3.0, 7.0]


def test_reset_classifier_resizes_both_apn_branches() -> None:
    model = ffseg.create_model("lednet").eval()
    model.reset_classifier(5)
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 5, 8, 8)
