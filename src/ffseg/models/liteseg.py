"""LiteSeg (Emara et al., LiteSeg: A Novel Lightweight ConvNet for Semantic Segmentation, 2019).

LiteSeg-MobileNet: a MobileNetV2 encoder (:mod:`ffseg.models.mobilenetv2`, torchvision keys,
stride 32), a Deeper Atrous Spatial Pyramid Pooling module (DASPP: a 1x1 branch, three 3x3
branches with dilation 3, 6, 9 and an image-pooling branch, concatenated *with the input* as a
short residual and fused by a 1x1 conv-BN-ReLU to 512 channels), and a decoder that upsamples
to stride 8, concatenates the stride-8 encoder feature and applies two 3x3 conv-BN-ReLU (256,
128) and a 1x1 classifier (``output_stride`` 8; the paper upsamples the result bilinearly).
No auxiliary heads.

Parameters (19 classes): 4.289 M (reference 4.29 M; paper 4.38 M).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, kaiming_init_, resize_to
from ffseg.models._base import SegModel
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import Reported, zoo_cfg
from ffseg.models.mobilenetv2 import MobileNetV2Encoder

__all__ = ["DASPP", "LiteSeg"]

PAPER = "Emara et al., LiteSeg: A Novel Lightweight ConvNet for Semantic Segmentation, DICTA 2019"


class DASPP(nn.Module):
    """Deeper ASPP: dilated branches + image pooling, concatenated with the input, 1x1 fuse."""

    def __init__(self, cin: int, cout: int, rates: Sequence[int] = (3, 6, 9)) -> None:
        super().__init__()
        n = len(rates) + 2
        mid = cin // n
        self.branches = nn.ModuleList(
            [ConvBNAct(cin, mid, 1)] + [ConvBNAct(cin, mid, 3, dilation=r) for r in rates]
        )
        pooled = cin - mid * (n - 1)
        self.image_pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), ConvBNAct(cin, pooled, 1))
        self.out = ConvBNAct(2 * cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x] + [branch(x) for branch in self.branches]
        feats.append(self.image_pool(x).expand(-1, -1, x.shape[-2], x.shape[-1]))
        return self.out(torch.cat(feats, dim=1))


class LiteSeg(SegModel):
    """LiteSeg with a MobileNetV2 encoder (stride-8 logits)."""

    encoder_attr = "backbone"
    classifier_path = "cls"

    def __init__(self, num_classes: int = 19) -> None:
        super().__init__(num_classes)
        self.backbone = MobileNetV2Encoder()
        c8, c32 = self.backbone.out_channels[2], self.backbone.out_channels[4]
        self.daspp = DASPP(c32, 512)
        self.decoder = nn.Sequential(ConvBNAct(512 + c8, 256, 3), ConvBNAct(256, 128, 3))
        self.cls = nn.Conv2d(128, num_classes, 1)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at stride 8."""
        feats = self.backbone(x)
        x8 = feats[2]
        y = resize_to(self.daspp(feats[4]), x8.shape[-2:], "bilinear")
        return self.cls(self.decoder(torch.cat([y, x8], dim=1)))


default_cfgs = {
    "liteseg": zoo_cfg(
        family="liteseg",
        paper=PAPER,
        output_stride=8,
        published={
            "cityscapes_test_miou": Reported(
                67.81,
                "1024x2048 test-server labels, model input size not recorded here",
                "LiteSeg paper (MobileNetV2)",
            )
        },
    ),
}


@register_model
def liteseg(**kwargs: Any) -> LiteSeg:
    """LiteSeg-MobileNet (paper: 67.81 Cityscapes test mIoU)."""
    return build_model(LiteSeg, "liteseg", **kwargs)
