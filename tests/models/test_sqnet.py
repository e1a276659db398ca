"""SQNet: its last bypass refinement already outputs class maps, so a new class count
rebuilds it together with the transposed-conv classifier."""

from __future__ import annotations

import torch

import ffseg


def test_reset_classifier_rebuilds_the_class_map_refinement() -> None:
    model = ffseg.create_model("sqnet").eval()
    model.reset_classifier(5)
    with torch.inference_mode():
        out = model(torch.randn(1, 3, 64, 96))
    assert out.shape == (1, 5, 64, 96)
    assert model.refine2.fuse[0].out_channels == 5 and model.get_classifier().in_channels == 5
    assert model.pretrained_cfg.num_classes == 5 and model.pretrained_cfg.classes is None
