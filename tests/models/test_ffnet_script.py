"""Graph capture of FFNets: TorchScript tracing gives the same outputs (one model per family)."""

from __future__ import annotations

import pytest
import torch

import ffseg


@pytest.mark.parametrize(
    "name",
    [
        "ffnet18_daaa",  # GPU small, stem A
        "ffnet34_abb",  # GPU large, stem A
        "ffnet50_aaa",  # bottleneck encoder
        "ffnet40s_bcc_mobile_pre_down",  # S family, mobile, pre-downsampling
        "ffnet46n_cbb",  # N family (3 stages)
        "ffnet46ns_ccc_mobile",  # NS family
        "ffnet40s_bbx_mobile",  # ImageNet classifier
    ],
)
def test_trace_matches_eager(name: str) -> None:
    model = ffseg.create_model(name).eval()
    x = torch.randn(1, 3, 96, 128)
    with torch.no_grad():
        traced = torch.jit.trace(model, x)
        torch.testing.assert_close(traced(x), model(x), rtol=1e-5, atol=1e-5)
        other = torch.randn(2, 3, 128, 160)  # another size: no shape was frozen into the trace
        torch.testing.assert_close(traced(other), model(other), rtol=1e-5, atol=1e-5)
