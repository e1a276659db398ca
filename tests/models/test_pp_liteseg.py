"""PP-LiteSeg: the paper variant's parameter counts, aux heads, shared STDC encoder."""

from __future__ import annotations

import pytest
import torch

import ffseg
from ffseg.deploy.flops import count_params

# (reference count, documented relative difference of the paper variant; see pp_liteseg.py)
TARGETS = {"pp_liteseg_t": (6.33e6, 0.059), "pp_liteseg_b": (10.56e6, 0.032)}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_params_match_documented_difference(name: str) -> None:
    model = ffseg.create_model(name)
    params = count_params(model) - count_params(model.aux_heads)
    target, documented = TARGETS[name]
    assert abs(params / target - 1 - documented) < 0.005


def test_aux_heads_at_stride_16_and_32() -> None:
    model = ffseg.create_model("pp_liteseg_t", num_classes=5).eval()
    with torch.no_grad():
        out = model.forward_train(torch.randn(1, 3, 128, 128))
    assert out.logits.shape == (1, 5, 16, 16)
    shapes = {a.name: tuple(a.logits.shape) for a in out.aux}
    assert shapes == {"aux16": (1, 5, 8, 8), "aux32": (1, 5, 4, 4)}
    assert all(a.weight == 1.0 and a.kind == "seg" for a in out.aux)
    assert not model.supports_dynamic_shapes  # SPPM pools to fixed bins


def test_stdc_encoder_weights_transfer_from_stdc_seg(tmp_path) -> None:
    stdc = ffseg.create_model("stdc2")
    path = tmp_path / "stdc2.pt"
    torch.save(stdc.state_dict(), path)
    model = ffseg.create_model("pp_liteseg_b", pretrained_backbone=path)
    for key, value in stdc.backbone.state_dict().items():
        assert torch.equal(model.backbone.state_dict()[key], value), key
