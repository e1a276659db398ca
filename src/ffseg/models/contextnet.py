"""ContextNet (Poudel et al., ContextNet: Exploring Context and Detail for Semantic Segmentation
in Real-time, BMVC 2018), the paper's ContextNet-14 (``cn14``: context branch at 1/4 input).

Two branches meet at stride 8:

* the detail branch runs on the full-resolution image: a 3x3/2 conv (32) and three
  depthwise-separable 3x3 convs (64 /2, 128 /2, 128), stride 8;
* the context branch runs on the image bilinearly downsampled x4: a 3x3/2 conv (32) and
  MobileNetV2 bottlenecks (expansion t, channels c, repeats n, stride s): (1, 32, 1, 1),
  (6, 32, 1, 1), (6, 48, 3, 2), (6, 64, 3, 2), (6, 96, 2, 1), (6, 128, 2, 1), stride 32 w.r.t.
  the input.

Feature fusion upsamples the context x4, applies a depthwise 3x3 conv and a 1x1 conv-BN, adds a
1x1 conv-BN of the detail feature and a ReLU; the classifier is two depthwise-separable convs
and a 1x1 conv at stride 8 (``output_stride`` 8; the paper's final bilinear upsampling is left
to ffseg).

Parameters (19 classes): 875,219; 1.68 GMACs at 1x3x512x1024. Params per output stride:
s2 928, s4 2,528, s8 124,179 (the detail branch's end, the context branch's first layers, the
fusion and the classifier: 0.98 GMACs), s16 88,800, s32 658,784. No authors' code exists; the
layer list is the paper's, with the detail branch ending at stride 8. The 0.85 M figure is a
third-party table's (+3.0 %, not located). A widely used re-implementation keeps its detail
branch at stride 2 and runs fusion and classifier there (11.55 GMACs, measured by the issue #24
audit): that graph is not the paper's and is not followed. Dropout 0.1 before the 1x1
classifier (training only); no activation on the logits.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ffseg.layers import ConvBNAct, kaiming_init_, resize_to
from ffseg.layers.lightweight import DSConvBNAct, DWConvBNAct, InvertedResidual
from ffseg.models._base import FeatureInfo, SegModel
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import Reported, zoo_cfg

__all__ = ["ContextNet", "ContextNetEncoder"]

PAPER = (
    "Poudel et al., ContextNet: Exploring Context and Detail for Semantic Segmentation in "
    "Real-time, BMVC 2018"
)

#: Context-branch bottlenecks: (expansion t, channels c, repeats n, stride s).
BOTTLENECKS = (
    (1, 32, 1, 1),
    (6, 32, 1, 1),
    (6, 48, 3, 2),
    (6, 64, 3, 2),
    (6, 96, 2, 1),
    (6, 128, 2, 1),
)


class ContextNetEncoder(nn.Module):
    """Detail branch (stride 8, 128 ch) and context branch (stride 32, 128 ch)."""

    def __init__(self, context_scale: float = 0.25) -> None:
        super().__init__()
        self.context_scale = context_scale
        self.detail = nn.Sequential(
            ConvBNAct(3, 32, 3, 2),
            DSConvBNAct(32, 64, 3, 2),
            DSConvBNAct(64, 128, 3, 2),
            DSConvBNAct(128, 128),
        )
        layers: list[nn.Module] = [ConvBNAct(3, 32, 3, 2)]
        cin = 32
        for t, c, n, s in BOTTLENECKS:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t, act=nn.ReLU))
                cin = c
        self.context = nn.Sequential(*layers)
        self.feature_info = [FeatureInfo(128, 8, "detail"), FeatureInfo(128, 32, "context")]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        small = F.interpolate(
            x, scale_factor=self.context_scale, mode="bilinear", align_corners=False
        )
        return [self.detail(x), self.context(small)]


class ContextNet(SegModel):
    """ContextNet-14: two branches, feature fusion and a stride-8 classifier."""

    classifier_path = "cls"

    def __init__(self, num_classes: int = 19, dropout: float = 0.1) -> None:
        super().__init__(num_classes)
        self.encoder = ContextNetEncoder()
        self.fuse_context = nn.Sequential(
            DWConvBNAct(128, 128, 3), ConvBNAct(128, 128, 1, act=None)
        )
        self.fuse_detail = ConvBNAct(128, 128, 1, act=None)
        self.fuse_act = nn.ReLU(inplace=True)
        self.classifier = nn.Sequential(DSConvBNAct(128, 128), DSConvBNAct(128, 128))
        self.drop = nn.Dropout(dropout)
        self.cls = nn.Conv2d(128, num_classes, 1)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at stride 8."""
        detail, context = self.encoder(x)
        up = self.fuse_context(resize_to(context, detail.shape[-2:], "bilinear_half"))
        fused = self.fuse_act(self.fuse_detail(detail) + up)
        return self.cls(self.drop(self.classifier(fused)))


default_cfgs = {
    "contextnet": zoo_cfg(
        family="contextnet",
        paper=PAPER,
        output_stride=8,
        published={
            "cityscapes_test_miou": Reported(
                66.1, "1024x2048, Cityscapes test server", "paper abstract"
            )
        },
    )
}


@register_model
def contextnet(**kwargs: Any) -> ContextNet:
    """ContextNet-14 (paper: 66.1 mIoU on Cityscapes test at 1024x2048)."""
    return build_model(ContextNet, "contextnet", **kwargs)
