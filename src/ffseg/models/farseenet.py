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

Parameters: 16.75 M (reference 16.75 M).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ffseg.classes import CITYSCAPES_CLASSES
from ffseg.layers import ConvBNAct
from ffseg.layers.init import kaiming_init_
from ffseg.layers.lightweight import DWConvBNAct
from ffseg.models._base import PretrainedCfg, SegOutput
from ffseg.models._registry import register_model
from ffseg.models.resnet import ResNetEncoder, build_backbone

__all__ = ["FactorizedASPP", "FarSeeNet", "SubPixelUp"]

PAPER = (
    "Zhang et al., FarSee-Net: Real-Time Semantic Segmentation by Efficient Multi-scale Context "
    "Aggregation and Feature Space Super-resolution, ICRA 2020"
)
LICENSE = "ffseg implementation: Apache-2.0 (no official weights bundled)"


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
    """Sub-pixel convolution: 1x1 conv to ``cout * scale^2`` channels, then pixel shuffle."""

    def __init__(self, cin: int, cout: int, scale: int) -> None:
        super().__init__(
            nn.Conv2d(cin, cout * scale * scale, 1, bias=False), nn.PixelShuffle(scale)
        )


class FarSeeNet(nn.Module):
    """FarSee-Net on a ResNet front-end (see the module docstring)."""

    encoder_prefix = "encoder."

    def __init__(
        self,
        backbone: str = "resnet18",
        num_classes: int = 19,
        channels: int = 256,
        low_channels: int = 48,
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.encoder = build_backbone(backbone)
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
        self.pretrained_cfg = PretrainedCfg(
            architecture="farseenet",
            num_classes=num_classes,
            output_stride=4,
            classifier="classifier.0",
            paper=PAPER,
            license=LICENSE,
            family="farseenet",
            min_input_size=(64, 64),
        )
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at 1/4 of the input size."""
        _, _, f16, f32 = self.encoder(x)
        y = torch.cat([self.sr_high(self.aspp_high(f32)), self.low(f16)], dim=1)
        return self.classifier(self.fuse(self.aspp_low(y)))

    def forward_train(self, x: torch.Tensor) -> SegOutput:
        """Training outputs: FarSee-Net has no auxiliary heads."""
        return SegOutput(self(x))

    def feature_encoder(self) -> ResNetEncoder:
        """The ResNet front-end (shares this model's weights) for ``features_only``."""
        return self.encoder


@register_model
def farseenet(**kwargs: Any) -> FarSeeNet:
    """FarSee-Net with a ResNet-18 front-end."""
    model = FarSeeNet("resnet18", **kwargs)
    model.pretrained_cfg = model.pretrained_cfg.replace(
        classes=CITYSCAPES_CLASSES if model.num_classes == 19 else None,
    )
    return model
