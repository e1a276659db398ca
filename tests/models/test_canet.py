"""CANet: full-resolution logits and the class-score layers that reset_classifier replaces."""

from __future__ import annotations

import torch

import ffseg


def test_reset_classifier_replaces_every_class_layer() -> None:
    model = ffseg.create_model("canet").eval()
    model.reset_classifier(5)
    assert model.get_classifier().out_channels == 5
    assert model.head[1].num_features == 5 and model.cls.out_channels == 5
    with torch.inference_mode():
        assert model(torch.randn(1, 3, 64, 96)).shape == (1, 5, 64, 96)
