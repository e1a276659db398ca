"""ENet: the paper's bottleneck sequence, its unpooling decoder and parameter count."""

from __future__ import annotations

import torch

import ffseg
from ffseg.deploy.flops import count_params
from ffseg.layers.asymmetric import FactorizedConv
from ffseg.models.enet import STAGE_PATTERN


def test_stage_pattern_and_params() -> None:
    model = ffseg.create_model("enet")
    modes = [b.mode for b in model.encoder.stage2]
    dilations = [b.main[0].dilation[0] for b in model.encoder.stage2 if b.mode == "dilated"]
    assert modes == ["down"] + [m for m, _ in STAGE_PATTERN] and dilations == [2, 4, 8, 16]
    assert [m for m, _ in STAGE_PATTERN].count("asym") == 2
    assert isinstance(model.encoder.stage3[2].main, FactorizedConv)
    assert model.encoder.stage3[2].main.conv_v.kernel_size == (5, 1)
    assert abs(count_params(model) / 0.37e6 - 1) < 0.05  # paper: 0.37 M


def test_unpooling_restores_encoder_positions() -> None:
    model = ffseg.create_model("enet", num_classes=3).eval()
    block = model.stage5[0]
    x = torch.randn(1, 64, 8, 8)
    _, idx = torch.nn.functional.max_pool2d(torch.randn(1, 16, 16, 16), 2, 2, return_indices=True)
    with torch.no_grad():
        out, _ = block(x, idx)
    assert out.shape == (1, 16, 16, 16)
