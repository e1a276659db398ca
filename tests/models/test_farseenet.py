"""FarSee-Net: parameter count and sub-pixel output resolution."""

from __future__ import annotations

import torch

import ffseg
from ffseg.deploy.flops import count_params


def test_params_within_2_percent_of_reference() -> None:
    with torch.device("meta"):
        model = ffseg.create_model("farseenet")
    assert abs(count_params(model) / 1e6 - 16.75) / 16.75 < 0.02


def test_sub_pixel_output_at_quarter_resolution() -> None:
    model = ffseg.create_model("farseenet", num_classes=5).eval()
    with torch.inference_mode():
        assert model(torch.randn(1, 3, 64, 128)).shape == (1, 5, 16, 32)
