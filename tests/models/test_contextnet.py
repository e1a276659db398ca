"""ContextNet: the two branches' resolutions and the paper's parameter count."""

from __future__ import annotations

import torch

import ffseg
from ffseg.deploy.flops import count_params


def test_branches_meet_at_stride_8() -> None:
    model = ffseg.create_model("contextnet").eval()
    with torch.no_grad():
        detail, context = model.encoder(torch.randn(1, 3, 128, 256))
    assert detail.shape[-2:] == (16, 32) and context.shape[-2:] == (4, 8)
    assert len(model.encoder.context) == 1 + 12  # stem + 12 bottlenecks (paper Table 1)


def test_params_match_paper() -> None:
    assert abs(count_params(ffseg.create_model("contextnet")) / 0.85e6 - 1) < 0.05
