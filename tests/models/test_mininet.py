"""MiniNet: parameter count, the factorised depthwise module and the stride-64 context."""

from __future__ import annotations

import torch

import ffseg
from ffseg.deploy.flops import count_params
from ffseg.models.mininet import FactorizedModule


def test_params_match_reference() -> None:
    with torch.device("meta"):
        model = ffseg.create_model("mininet")
    assert abs(count_params(model) / 1.407e6 - 1) < 0.01  # reference (width 386): 1.407 M


def test_module_is_depthwise_factorised_and_dilated() -> None:
    module = FactorizedModule(96, dilation=4)
    convs = [m for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(1, 3), (3, 1), (3, 1), (1, 3)]
    assert all(c.groups == 96 and c.bias is None for c in convs)
    assert [c.dilation for c in convs] == [(4, 4)] * 4


def test_context_reaches_stride_64() -> None:
    with torch.device("meta"):
        model = ffseg.create_model("mininet").eval()
        d4 = torch.empty(1, 96, 4, 4)
        deepest = model.branch2[:2](model.branch2_down(d4))
        out = model(torch.empty(1, 3, 80, 112))  # not multiples of 64: cut to fit
    assert deepest.shape == (1, 384, 1, 1)  # stride 16 -> 64
    assert out.shape == (1, 19, 80, 112)
