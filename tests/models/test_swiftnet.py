"""SwiftNet: parameter count, aspect-ratio-aware pyramid pooling."""

from __future__ import annotations

import torch

import ffseg
from ffseg.deploy.flops import count_params
from ffseg.layers.pyramid import SpatialPyramidPooling


def test_params_within_2_percent_of_reference() -> None:
    with torch.device("meta"):
        model = ffseg.create_model("swiftnet")
    assert abs(count_params(model) / 1e6 - 11.95) / 11.95 < 0.02


def test_pyramid_grids_follow_aspect_ratio() -> None:
    spp = SpatialPyramidPooling(16, mid=8, level=4, cout=8, grids=(4, 2)).eval()
    seen: list[tuple[int, int]] = []
    spp.levels[0].register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape[-2:])))
    with torch.inference_mode():
        out = spp(torch.randn(1, 16, 8, 16))
    assert out.shape == (1, 8, 8, 16)
    assert seen == [(4, 8)]  # a 1:2 input pools to a 4x8 grid
