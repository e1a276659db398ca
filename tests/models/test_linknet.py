"""LinkNet: parameter count and full-resolution output."""

from __future__ import annotations

import torch

import ffseg
from ffseg.deploy.flops import count_params


def test_params_within_2_percent_of_reference() -> None:
    with torch.device("meta"):
        model = ffseg.create_model("linknet")
    assert abs(count_params(model) / 1e6 - 11.54) / 11.54 < 0.02


def test_output_at_input_resolution() -> None:
    model = ffseg.create_model("linknet", num_classes=2).eval()
    with torch.inference_mode():
        assert model(torch.randn(1, 3, 96, 160)).shape == (1, 2, 96, 160)
