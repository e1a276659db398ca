"""DDRNet: paper parameter counts, auxiliary head, features_only."""

from __future__ import annotations

import pytest
import torch

import ffseg
from ffseg.deploy.flops import count_params

# The paper's counts (M): DDRNet is implemented as published (see the model docstring).
PAPER_PARAMS = {"ddrnet23_slim": 5.7, "ddrnet23": 20.1, "ddrnet39": 32.3}


@pytest.mark.parametrize("name", sorted(PAPER_PARAMS))
def test_params_within_2_percent_of_paper(name: str) -> None:
    with torch.device("meta"):
        model = ffseg.create_model(name)
    params = count_params(model) / 1e6
    assert abs(params - PAPER_PARAMS[name]) / PAPER_PARAMS[name] < 0.02, params


def test_aux_head_and_features_only() -> None:
    model = ffseg.create_model("ddrnet23_slim", num_classes=5).train()
    x = torch.randn(2, 3, 128, 192)
    out = model.forward_train(x)
    assert out.logits.shape == (2, 5, 16, 24)
    [aux] = out.aux
    assert aux.kind == "seg" and aux.weight == pytest.approx(0.4)
    assert aux.logits.shape == (2, 5, 16, 24)
    enc = ffseg.create_model("ddrnet23_slim", features_only=True).eval()
    with torch.inference_mode():
        feats = enc(x)
    assert [f.shape[1] for f in feats] == [i.num_chs for i in enc.feature_info]
    assert [x.shape[-1] // f.shape[-1] for f in feats] == [i.reduction for i in enc.feature_info]
