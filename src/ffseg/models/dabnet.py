"""DABNet (Li, Yun, Kim, Kim, DABNet: Depth-wise Asymmetric Bottleneck for Real-time Semantic
Segmentation, BMVC 2019, arXiv 1907.11357).

Paper Table 1: an initial block of three 3x3 conv-BN-PReLU layers (32 channels, the first with
stride 2); DAB block 1 (a downsampling block to 64 channels, 3 DAB modules with dilation 2) and
DAB block 2 (a downsampling block to 128, 6 DAB modules with dilations 4, 4, 8, 8, 16, 16).
After each stage its output is concatenated with the stage input and the input image
average-pooled to the same size (input injection; 3 + 32, 3 + 64 + 64, 3 + 128 + 128 channels),
then BN + PReLU. A 1x1 conv classifies at stride 8 and the paper upsamples x8 bilinearly
(``output_stride`` 8; the upsampling is left to ffseg). The downsampling block is ENet's (a
strided 3x3 conv concatenated with a 2x2 max pool when the channels grow, else the conv alone).

A DAB module (paper Fig. 2): BN + PReLU, a 3x3 conv halving the channels, then two depthwise
factorised branches summed (3x1 + 1x3, and the same dilated), each conv followed by BN +
per-channel PReLU, then BN + PReLU, a 1x1 conv back to the input width and a residual sum.

Parameters (19 classes): 756,643; paper 0.76 M. Compared stage by stage with the authors' code
(Reagan1311/DABNet, model/DABNet.py) at 1x3x512x1024: params and conv MACs equal at every
output stride (s2 19,689 / 2.53 G, s4 74,616 / 2.35 G, s8 662,338 / 5.34 G; 10.22 GMACs). No
dropout; the 1x1 classifier has no bias and no activation follows it; logits at stride 8 (the
authors' forward ends with the bilinear x8 upsampling that ffseg's evaluator and loss apply).

Published: 70.1 class mIoU on the Cityscapes test set (paper abstract, 512x1024 input).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ffseg.layers import ConvBNAct, kaiming_init_
from ffseg.layers.asymmetric import FactorizedConv, PoolConcatDown
from ffseg.models._base import FeatureInfo, SegModel
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import Reported, zoo_cfg

__all__ = ["DABModule", "DABNet", "DABNetEncoder"]

PAPER = (
    "Li, Yun, Kim, Kim, DABNet: Depth-wise Asymmetric Bottleneck for Real-time Semantic "
    "Segmentation, BMVC 2019"
)

#: Dilations of the DAB modules in block 2 (paper Table 1).
BLOCK2_DILATIONS = (4, 4, 8, 8, 16, 16)


def _prelu(channels: int) -> Callable[[], nn.Module]:
    """A factory of per-channel PReLUs (DABNet's activation everywhere)."""
    return lambda: nn.PReLU(channels)


def _bn_prelu(channels: int) -> nn.Sequential:
    return nn.Sequential(nn.BatchNorm2d(channels), nn.PReLU(channels))


class DABModule(nn.Module):
    """Depth-wise asymmetric bottleneck: 3x3 reduce, two depthwise factorised branches, 1x1."""

    def __init__(self, channels: int, dilation: int = 1) -> None:
        super().__init__()
        half = channels // 2
        self.pre = _bn_prelu(channels)
        self.reduce = ConvBNAct(channels, half, 3, act=_prelu(half))
        branch = dict(groups=half, mid="bn_act", act=_prelu(half))
        self.local = FactorizedConv(half, **branch)
        self.context = FactorizedConv(half, dilation=dilation, **branch)
        self.post = _bn_prelu(half)
        self.expand = nn.Conv2d(half, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.reduce(self.pre(x))
        return x + self.expand(self.post(self.local(y) + self.context(y)))


class DABNetEncoder(nn.Module):
    """Initial block and the two DAB blocks with input injection: strides 2, 4, 8."""

    def __init__(self, block1: int = 3, block2: tuple[int, ...] = BLOCK2_DILATIONS) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            ConvBNAct(3, 32, 3, 2, act=_prelu(32)),
            ConvBNAct(32, 32, 3, act=_prelu(32)),
            ConvBNAct(32, 32, 3, act=_prelu(32)),
        )
        self.norm1 = _bn_prelu(35)
        self.down1 = PoolConcatDown(35, 64, act=_prelu(64))
        self.block1 = nn.Sequential(*(DABModule(64, 2) for _ in range(block1)))
        self.norm2 = _bn_prelu(131)
        self.down2 = PoolConcatDown(131, 128, act=_prelu(128))
        self.block2 = nn.Sequential(*(DABModule(128, d) for d in block2))
        self.norm3 = _bn_prelu(259)
        self.feature_info = [
            FeatureInfo(35, 2, "norm1"),
            FeatureInfo(131, 4, "norm2"),
            FeatureInfo(259, 8, "norm3"),
        ]
        self.out_channels = 259

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        img2 = F.avg_pool2d(x, 3, 2, 1)
        img4 = F.avg_pool2d(img2, 3, 2, 1)
        img8 = F.avg_pool2d(img4, 3, 2, 1)
        s2 = self.norm1(torch.cat([self.stem(x), img2], 1))
        d4 = self.down1(s2)
        s4 = self.norm2(torch.cat([self.block1(d4), d4, img4], 1))
        d8 = self.down2(s4)
        return [s2, s4, self.norm3(torch.cat([self.block2(d8), d8, img8], 1))]


class DABNet(SegModel):
    """DABNet: DAB-module encoder with input injection and a 1x1 classifier at stride 8."""

    size_divisor = 8  # its downsampling needs H and W divisible by 8

    classifier_path = "cls"

    def __init__(self, num_classes: int = 19) -> None:
        super().__init__(num_classes)
        self.encoder = DABNetEncoder()
        self.cls = nn.Conv2d(self.encoder.out_channels, num_classes, 1, bias=False)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at stride 8."""
        return self.cls(self.encoder(x)[-1])


default_cfgs = {
    "dabnet": zoo_cfg(
        family="dabnet",
        paper=PAPER,
        output_stride=8,
        min_input_size=(64, 64),
        published={
            "cityscapes_test_miou": Reported(70.1, "512x1024 input, single scale", "paper abstract")
        },
    )
}


@register_model
def dabnet(**kwargs: Any) -> DABNet:
    """DABNet (paper: 0.76 M params, 70.1 Cityscapes test mIoU)."""
    return build_model(DABNet, "dabnet", **kwargs)
