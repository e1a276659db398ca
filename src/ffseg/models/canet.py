"""CANet (Tang et al., Cross Attention Network for Semantic Segmentation, ICIP 2019).

Two branches: a shallow spatial branch (three 3x3/2 conv-BN-ReLU, 64/128/256 channels, stride 8)
and a context branch on MobileNetV2 (:mod:`ffseg.models.mobilenetv2`, torchvision keys) whose
stride-32 feature is brought to stride 8 by two transposed-conv-BN-ReLU steps, the first
concatenated with the stride-16 feature. The feature cross attention (FCA) module fuses the
concatenated branches with a 3x3 conv-BN-ReLU and re-weights the result with a spatial
attention map computed from the spatial branch (3x3 conv-BN, sigmoid) and a channel attention
vector computed from the context branch (shared FC on max- and average-pooled features, summed,
sigmoid), plus a residual. A 3x3 conv-BN-ReLU maps to classes and a learned x8 transposed
convolution (the final layer) restores full resolution, so ``output_stride`` is 1.
No auxiliary heads.

Parameters (19 classes): 4.785 M (reference 4.77 M, +0.3 %; paper 4.8 M).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ffseg.classes import CITYSCAPES_CLASSES
from ffseg.layers.conv_bn_act import ConvBNAct
from ffseg.layers.init import kaiming_init_
from ffseg.models._base import PretrainedCfg, SegOutput
from ffseg.models._registry import register_model
from ffseg.models.mobilenetv2 import MobileNetV2Encoder

__all__ = ["CANet", "FeatureCrossAttention", "UpConvBNAct"]

CANET_PAPER = "Tang et al., Cross Attention Network for Semantic Segmentation, ICIP 2019"


class UpConvBNAct(nn.Sequential):
    """x2 transposed conv (3x3, output padding 1) -> BN -> ReLU."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.ConvTranspose2d(cin, cout, 3, 2, 1, output_padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class FeatureCrossAttention(nn.Module):
    """FCA: fuse both branches, spatial attention from one, channel attention from the other."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fuse = ConvBNAct(2 * channels, channels, 3)
        self.spatial = ConvBNAct(channels, 1, 3, act=nn.Sigmoid)
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.max_pool = nn.AdaptiveMaxPool2d(1)
        self.fc = nn.Conv2d(channels, channels, 1)

    def forward(self, spatial: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        x = self.fuse(torch.cat([spatial, context], dim=1))
        channel = torch.sigmoid(self.fc(self.avg_pool(context)) + self.fc(self.max_pool(context)))
        return x + x * self.spatial(spatial) * channel


class CANet(nn.Module):
    """CANet with a MobileNetV2 context branch (full-resolution logits)."""

    def __init__(self, num_classes: int = 19) -> None:
        super().__init__()
        self.spatial = nn.Sequential(
            ConvBNAct(3, 64, 3, 2), ConvBNAct(64, 128, 3, 2), ConvBNAct(128, 256, 3, 2)
        )
        self.backbone = MobileNetV2Encoder()
        c16, c32 = self.backbone.out_channels[3:]
        self.up32 = UpConvBNAct(c32, 192)
        self.up16 = UpConvBNAct(192 + c16, 256)
        self.fca = FeatureCrossAttention(256)
        self.head = ConvBNAct(256, num_classes, 3)
        self.cls = nn.ConvTranspose2d(num_classes, num_classes, 16, 8, 4)
        self.num_classes = num_classes
        self.encoder_prefix = "backbone."
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at the input resolution."""
        s = self.spatial(x)
        feats = self.backbone(x)
        c = self.up16(torch.cat([self.up32(feats[4]), feats[3]], dim=1))
        return self.cls(self.head(self.fca(s, c)))

    def forward_train(self, x: torch.Tensor) -> SegOutput:
        """CANet has no auxiliary heads."""
        return SegOutput(self(x))

    def feature_encoder(self) -> MobileNetV2Encoder:
        """The MobileNetV2 encoder (shared modules) for ``features_only``."""
        return self.backbone


@register_model
def canet(**kwargs: Any) -> CANet:
    """CANet with a MobileNetV2 context branch (no published number recorded here)."""
    model = CANet(**kwargs)
    model.pretrained_cfg = PretrainedCfg(
        architecture="canet",
        num_classes=model.num_classes,
        input_size=(3, 1024, 2048),
        output_stride=1,
        classes=CITYSCAPES_CLASSES if model.num_classes == 19 else None,
        license="ffseg implementation (Apache-2.0), written from the paper; no official weights.",
        paper=CANET_PAPER,
        family="canet",
        classifier="cls",
        min_input_size=(64, 64),
    )
    return model
