"""AGLNet: the SS-nbt unit, the stage-3 dilations, the attention modules' shapes."""

from __future__ import annotations

import torch

import ffseg
from ffseg.deploy.flops import count_params
from ffseg.models.aglnet import FAPM, GAUM, SSnbt


def test_ss_nbt_factorised_halves_and_shuffle() -> None:
    unit = SSnbt(32, dilation=5)
    assert unit.left[0].kernel_size == (3, 1) and unit.right[0].kernel_size == (1, 3)
    assert unit.left[5].dilation == (5, 5) and unit.left[0].in_channels == 16
    x = torch.zeros(1, 32, 8, 8)
    x[:, 0] = 1.0  # with zero weights the unit is ReLU(x) then a channel shuffle
    for p in unit.parameters():
        torch.nn.init.zeros_(p)
    with torch.no_grad():
        out = unit.eval()(x)
    assert out[:, 0].eq(1).all() and out[:, 1:].eq(0).all()


def test_stage3_dilations_and_decoder_shapes() -> None:
    model = ffseg.create_model("aglnet")
    assert [u.left[5].dilation[0] for u in model.encoder.stage3[1:]] == [1, 2, 5, 9, 2, 5, 9, 17]
    with torch.no_grad():
        assert FAPM(16)(torch.randn(1, 16, 16, 16)).shape == (1, 16, 16, 16)
        fused = GAUM(8, 16)(torch.randn(1, 16, 8, 8), torch.randn(1, 8, 16, 16))
    assert fused.shape == (1, 8, 16, 16)
    assert abs(count_params(model) / 1.02e6 - 1) < 0.02  # reference; paper 1.12 M, see docstring
