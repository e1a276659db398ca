"""ShelfNet: shared-weights S-blocks (paper) and the unshared reference variant."""

from __future__ import annotations

import torch

import ffseg
from ffseg.deploy.flops import count_params
from ffseg.models.shelfnet import SBlock


def test_unshared_variant_within_2_percent_of_reference() -> None:
    with torch.device("meta"):
        shared = ffseg.create_model("shelfnet")
        unshared = ffseg.create_model("shelfnet", shared_sblock=False)
    assert abs(count_params(unshared) / 1e6 - 16.04) / 16.04 < 0.02
    assert count_params(shared) < count_params(unshared)


def test_sblock_applies_one_conv_twice() -> None:
    block = SBlock(4).eval()
    calls: list[int] = []
    block.conv.register_forward_hook(lambda m, i, o: calls.append(1))
    with torch.inference_mode():
        block(torch.randn(1, 4, 8, 8))
    assert len(calls) == 2 and block.conv2 is None
