"""ADSCNet: the ADSC module's asymmetric depthwise convs, the DDCC rates, the reference count."""

from __future__ import annotations

import torch

import ffseg
from ffseg.deploy.flops import count_params
from ffseg.models.adscnet import DDCC, ADSCModule


def test_adsc_module_asymmetric_and_downsampling() -> None:
    module = ADSCModule(32, stride=2)
    assert module.body[0][0].kernel_size == (3, 1) and module.body[2][0].kernel_size == (1, 3)
    assert module.body[0][0].groups == 32
    assert module(torch.randn(1, 32, 16, 16)).shape == (1, 64, 8, 8)


def test_ddcc_rates_and_dense_inputs() -> None:
    ddcc = DDCC(16)
    assert [u[1].body[0][0].dilation for u in ddcc.units] == [(3, 3), (5, 5), (9, 9), (13, 13)]
    assert [getattr(r, "in_channels", 16) for r in ddcc.reduce] == [16, 32, 48, 64]
    assert ddcc(torch.randn(1, 16, 8, 8)).shape == (1, 16, 8, 8)


def test_params_match_reference() -> None:
    assert abs(count_params(ffseg.create_model("adscnet")) / 0.51e6 - 1) < 0.02
