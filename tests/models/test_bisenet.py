"""BiSeNet V1: reference parameter count, the context-path auxiliary heads, its backbones."""

from __future__ import annotations

import pytest
import torch

import ffseg
from ffseg.deploy.flops import count_params


def test_params_within_2_percent_of_reference() -> None:
    with torch.device("meta"):
        model = ffseg.create_model("bisenetv1")
    assert abs(count_params(model) / 1e6 - 13.32) / 13.32 < 0.02


def test_aux_heads_only_in_training() -> None:
    model = ffseg.create_model("bisenetv1", num_classes=4).train()
    out = model.forward_train(torch.randn(2, 3, 128, 192))
    assert out.logits.shape == (2, 4, 16, 24)
    assert [a.name for a in out.aux] == ["aux16", "aux32"]
    assert [a.weight for a in out.aux] == pytest.approx([1.0, 1.0])
    assert [a.logits.shape[-2:] for a in out.aux] == [(16, 24), (8, 12)]


def test_backbone_choice() -> None:
    with torch.device("meta"):
        model = ffseg.create_model("bisenetv1", backbone="resnet101")
    assert model.encoder.out_channels[-1] == 2048
    assert model.pretrained_cfg.model_args == {"backbone": "resnet101"}
    with pytest.raises(ValueError, match="choose one of resnet18, resnet101"):
        ffseg.create_model("bisenetv1", backbone="resnet34")
