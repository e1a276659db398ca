"""ShelfNet18-lw: shared-weights S-blocks, three levels at stride 8, the authors' aux heads."""

from __future__ import annotations

import torch

import ffseg
from ffseg.models.shelfnet import SBlock


def test_sblock_applies_one_conv_twice() -> None:
    block = SBlock(4).eval()
    calls: list[int] = []
    block.conv1.register_forward_hook(lambda m, i, o: calls.append(1))
    with torch.inference_mode():
        block(torch.randn(1, 4, 8, 8))
    assert len(calls) == 2
    assert sum(isinstance(m, torch.nn.Conv2d) for m in block.modules()) == 1


def test_three_levels_and_aux_heads() -> None:
    model = ffseg.create_model("shelfnet", num_classes=3).eval()
    with torch.no_grad():
        out = model.forward_train(torch.randn(1, 3, 128, 160))
    assert out.logits.shape == (1, 3, 16, 20)
    shapes = {a.name: tuple(a.logits.shape) for a in out.aux}
    assert shapes == {"aux16": (1, 3, 8, 10), "aux32": (1, 3, 4, 5)}
    assert [m.out_channels for m in (model.trans1[0], model.trans2[0], model.trans3[0])] == [
        64,
        128,
        256,
    ]
