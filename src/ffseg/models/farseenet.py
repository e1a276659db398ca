"""FarSee-Net (Zhang et al., ICRA 2020, arXiv:2003.03913): cascaded factorized ASPP and
feature-space super-resolution.

A ResNet-18 front-end (torchvision key names, ``encoder.*``) gives high-level (1/32) and
low-level (1/16) features. The cascaded factorized ASPP (CF-ASPP) back-end:

1. a factorized ASPP on the high-level features: a 1x1 branch and three branches of
   ``1x1 conv -> depthwise 3x3 atrous conv`` (rates 6, 12, 18), 256 channels each;
2. feature-space super-resolution: a 1x1 conv + pixel shuffle (sub-pixel convolution) lifts the
   concatenation to 1/16, where it is concatenated with the low-level features (1x1 to 48 ch.);
3. a second factorized ASPP (rates 6, 12; 128 channels per branch), a 1x1 and a 3x3 conv
   (512 ch.), and a final sub-pixel convolution (x4) that outputs class scores at 1/4
   (``output_stride=4``).

The paper builds on ResNet-18 and notes that CF-ASPP "can be plugged into any feature extraction
CNN"; ``create_model("farseenet", backbone=...)`` takes any torchvision ResNet
(:data:`BACKBONES`). Parameters: 16.75 M with ResNet-18 (reference 16.75 M).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, kaiming_init_
from ffseg.layers.lightweight import DWConvBNAct
from ffseg.models._base import SegModel
from ffseg.models._builder import attach_cfg, build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import zoo_cfg
from ffseg.models.resnet import build_backbone

__all__ = ["BACKBONES", "FactorizedASPP", "FarSeeNet", "SubPixelUp"]

PAPER = (
    "Zhang et al., FarSee-Net: Real-Time Semantic Segmentation by Efficient Multi-scale Context "
    "Aggregation and Feature Space Super-resolution, ICRA 2020"
)

#: Front-ends: the paper's ResNet-18 and the other torchvision ResNets.
BACKBONES = ("resnet18", "resnet34", "resnet50", "resnet101")


class FactorizedASPP(nn.Module):
    """ASPP whose atrous branches are ``1x1 conv -> depthwise atrous 3x3`` (concatenated)."""

    def __init__(self, cin: int, channels: int, rates: Sequence[int], with_1x1: bool = True):
        super().__init__()
        branches: list[nn.Module] = [ConvBNAct(cin, channels, 1)] if with_1x1 else []
        branches += [
            nn.Sequential(ConvBNAct(cin, channels, 1), DWConvBNAct(channels, dilation=r))
            for r in rates
        ]
        self.branches = nn.ModuleList(branches)
        self.out_channels = channels * len(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class SubPixelUp(nn.Sequential):
    """Sub-pixel convolution: 1x1 conv to ``cout * scale^2`` channels, then pixel shuffle.

    ``in_channels`` / ``out_channels`` / ``scale`` describe the whole unit (``cout`` outputs).
    """

    def __init__(self, cin: int, cout: int, scale: int) -> None:
        super().__init__(
            nn.Conv2d(cin, cout * scale * scale, 1, bias=False), nn.PixelShuffle(scale)
        )
        self.in_channels, self.out_channels, self.scale = cin, cout, scale


class FarSeeNet(SegModel):
    """FarSee-Net on a ResNet front-end (see the module docstring)."""

    size_divisor = 32  # its downsampling needs H and W divisible by 32

    classifier_path = "classifier"  # a SubPixelUp: the conv + pixel shuffle to class scores

    def __init__(
        self,
        backbone: str = "resnet18",
        num_classes: int = 19,
        channels: int = 256,
        low_channels: int = 48,
    ) -> None:
        super().__init__(num_classes)
        self.encoder = build_backbone(backbone, family="farseenet", choices=BACKBONES)
        c16, c32 = self.encoder.out_channels[2:]
        self.aspp_high = FactorizedASPP(c32, channels, (6, 12, 18))
        self.sr_high = SubPixelUp(self.aspp_high.out_channels, 2 * channels, 2)
        self.low = ConvBNAct(c16, low_channels, 1)
        self.aspp_low = FactorizedASPP(2 * channels + low_channels, channels // 2, (6, 12))
        self.fuse = nn.Sequential(
            ConvBNAct(self.aspp_low.out_channels, 2 * channels, 1),
            ConvBNAct(2 * channels, 2 * channels, 3),
        )
        self.classifier = SubPixelUp(2 * channels, num_classes, 4)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at 1/4 of the input size."""
        _, _, f16, f32 = self.encoder(x)
        y = torch.cat([self.sr_high(self.aspp_high(f32)), self.low(f16)], dim=1)
        return self.classifier(self.fuse(self.aspp_low(y)))

    def reset_classifier(self, num_classes: int) -> None:
        """A fresh sub-pixel classifier (its conv predicts ``num_classes`` x scale^2 values)."""
        old = self.classifier
        ref = old[0].weight
        new = SubPixelUp(old.in_channels, num_classes, old.scale)
        self.classifier = new.to(ref.device, ref.dtype)
        self.num_classes = num_classes
        if hasattr(self, "pretrained_cfg"):
            attach_cfg(self, self.pretrained_cfg)


default_cfgs = {"farseenet": zoo_cfg(family="farseenet", paper=PAPER, output_stride=4)}


@register_model
def farseenet(**kwargs: Any) -> FarSeeNet:
    """FarSee-Net with a ResNet-18 front-end; ``backbone=`` one of BACKBONES."""
    return build_model(FarSeeNet, "farseenet", dict(backbone="resnet18"), **kwargs)
