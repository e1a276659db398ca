"""MiniNet: the authors' parameter count, the separable factorised module and the stride-64 context."""

from __future__ import annotations

import torch

import ffseg
from ffseg.deploy.flops import count_params
from ffseg.models.mininet import FactorizedModule


def test_params_match_authors_graph() -> None:
    with torch.device("meta"):
        model = ffseg.create_model("mininet")
    assert count_params(model) == 3_062_736  # Shathe/MiniNet-v2 Mininet.py, MiniNet, 19 classes


def test_module_is_separable_factorised_and_dilated_along_the_width() -> None:
    module = FactorizedModule(96, dilation=4)
    dw = [m for m in module.modules() if isinstance(m, torch.nn.Conv2d) and m.groups == 96]
    assert [c.kernel_size for c in dw] == [(1, 3), (3, 1), (3, 1), (1, 3)]
    assert [c.dilation for c in dw] == [(1, 1), (1, 1), (1, 1), (1, 4)]
    assert all(c.bias is None for c in dw)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in module.modules())


def test_narrowing_module_adds_the_first_input_channels() -> None:
    module = FactorizedModule(8, 4).eval()
    x = torch.randn(1, 8, 6, 6)
    with torch.no_grad():
        r = module.conv2(module.conv1(x))
        expected = torch.selu(module.conv4(module.conv3(torch.selu(r))) + r + x[:, :4])
        torch.testing.assert_close(module(x), expected)


def test_context_reaches_stride_64() -> None:
    with torch.device("meta"):
        model = ffseg.create_model("mininet").eval()
        d5 = model.branch2_down(torch.empty(1, 96, 4, 4))
        deepest = model.branch2[:1](d5)
        out = model(torch.empty(1, 3, 80, 112))  # not multiples of 64: cut to fit
    assert deepest.shape == (1, 386, 1, 1)  # stride 16 -> 64
    assert out.shape == (1, 19, 80, 112)
