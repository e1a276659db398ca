"""CFPNet (Lou & Loew, CFPNet: Channel-wise Feature Pyramid for Real-Time Semantic Segmentation,
ICIP 2021).

The channel-wise feature pyramid (CFP) module pre-activates its input (BN + PReLU), reduces it
with a 3x3 conv-BN-PReLU to ``C/4`` channels and runs four feature-pyramid channels in parallel,
with dilations 1, ``d/4 + 1``, ``d/2 + 1`` and ``d + 1``. Each channel chains three factorised
depthwise pairs (3x1 then 1x3, each conv followed by BN + PReLU) producing ``C/16``, ``C/16``
and ``C/8`` channels, concatenated to ``C/4``. The four channels are summed hierarchically
(HFF: 1, 1+2, 1+2+3, 1+2+3+4), concatenated back to ``C``, BN + PReLU, a 1x1 conv and the
input is added.

Network: three 3x3 conv-BN-PReLU (32, the first stride 2) + the image average-pooled to 1/2;
a downsampling block (strided 3x3 conv concatenated with a 2x2 max pool, BN + PReLU) to 64 and
``n`` CFP modules (dilation 2); the stage's first and last outputs + the image at 1/4 (131);
a downsampling block to 128 (a strided 3x3 conv alone: its 131 inputs leave nothing to
concatenate) and ``m`` CFP modules (dilations 4, 4, 8, 8, 16, 16); the stage's
first and last outputs + the image at 1/8 (259, BN + PReLU) and a 1x1 classifier at stride 8
(``output_stride`` 8; the final bilinear upsampling is left to ffseg).

Parameters (19 classes): 551,331 with the paper's ``n = 2``, ``m = 6`` (paper: 0.55 M). Compared
stage by stage with the authors' code (AngeLouCN/CFPNet, model/CFPNet.py, Cityscapes
dilations 4, 4, 8, 8, 16, 16) at 1x3x512x1024: params and conv MACs equal at every output
stride (s2 19,689 / 2.53 G, s4 39,032 / 1.21 G, s8 492,610 / 3.95 G; 7.68 GMACs). The 0.27 M
reference count of the zoo table is a re-implementation's, about half the authors' graph, and
is not followed. No dropout; the 1x1 classifier has no bias and no activation follows it; the
authors' forward ends with the bilinear x8 upsampling that ffseg's evaluator and loss apply.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from torch import nn

from ffseg.layers import kaiming_init_
from ffseg.layers.asymmetric import FactorizedConv, PoolConcatDown
from ffseg.models._base import FeatureInfo, SegModel
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import Reported, zoo_cfg
from ffseg.models.espnet import BNPReLU, conv_bn_prelu

__all__ = ["CFPModule", "CFPNet", "CFPNetEncoder"]

PAPER = (
    "Lou & Loew, CFPNet: Channel-wise Feature Pyramid for Real-Time Semantic Segmentation, "
    "ICIP 2021"
)


def _pair(cin: int, cout: int, groups: int, dilation: int) -> FactorizedConv:
    """Factorised depthwise 3x1 -> BN-PReLU -> 1x3 -> BN-PReLU."""
    return FactorizedConv(
        cin, cout, 3, dilation=dilation, groups=groups, mid="bn_act", act=partial(nn.PReLU, cout)
    )


def cfp_dilations(d: int) -> list[int]:
    """Dilations of the four feature-pyramid channels of a CFP module with rate ``d``."""
    return [1, d // 4 + 1, d // 2 + 1, d + 1]


class CFPModule(nn.Module):
    """Channel-wise feature pyramid module (pre-activated, residual)."""

    def __init__(self, channels: int, d: int) -> None:
        super().__init__()
        c4, c8, c16 = channels // 4, channels // 8, channels // 16
        self.pre = BNPReLU(channels)
        self.reduce = conv_bn_prelu(channels, c4, 3)
        self.pyramid = nn.ModuleList(
            nn.ModuleList(
                [
                    _pair(c4, c16, c16, rate),
                    _pair(c16, c16, c16, rate),
                    _pair(c16, c8, c16, rate),
                ]
            )
            for rate in cfp_dilations(d)
        )
        self.post = BNPReLU(channels)
        self.project = nn.Conv2d(channels, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.reduce(self.pre(x))
        total: torch.Tensor | None = None
        fused = []
        for chain in self.pyramid:
            outs, z = [], y
            for pair in chain:
                z = pair(z)
                outs.append(z)
            level = torch.cat(outs, dim=1)
            total = level if total is None else total + level
            fused.append(total)
        return x + self.project(self.post(torch.cat(fused, dim=1)))


class CFPNetEncoder(nn.Module):
    """Stem and the two CFP stages with input injection: strides 2 (35), 4 (131), 8 (259)."""

    def __init__(self, n: int = 2, m: int = 6) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            conv_bn_prelu(3, 32, 3, 2), conv_bn_prelu(32, 32), conv_bn_prelu(32, 32)
        )
        self.pool = nn.AvgPool2d(3, 2, 1)
        self.stem_out = BNPReLU(35)
        self.down1 = PoolConcatDown(35, 64, act=partial(nn.PReLU, 64))
        self.stage1 = nn.Sequential(*(CFPModule(64, 2) for _ in range(n)))
        self.stage1_out = BNPReLU(131)
        self.down2 = PoolConcatDown(131, 128, act=partial(nn.PReLU, 128))
        rates = (4, 4, 8, 8, 16, 16)
        self.stage2 = nn.Sequential(*(CFPModule(128, rates[i % 6]) for i in range(m)))
        self.stage2_out = BNPReLU(259)
        self.feature_info = [
            FeatureInfo(35, 2, "stem_out"),
            FeatureInfo(131, 4, "stage1_out"),
            FeatureInfo(259, 8, "stage2_out"),
        ]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        img2 = self.pool(x)
        img4 = self.pool(img2)
        f1 = self.stem_out(torch.cat([self.stem(x), img2], dim=1))
        down = self.down1(f1)
        f2 = self.stage1_out(torch.cat([self.stage1(down), down, img4], dim=1))
        down = self.down2(f2)
        f3 = self.stage2_out(torch.cat([self.stage2(down), down, self.pool(img4)], dim=1))
        return [f1, f2, f3]


class CFPNet(SegModel):
    """CFPNet: the encoder and a 1x1 classifier at stride 8."""

    size_divisor = 8  # its downsampling needs H and W divisible by 8

    classifier_path = "cls"

    def __init__(self, num_classes: int = 19, n: int = 2, m: int = 6) -> None:
        super().__init__(num_classes)
        self.encoder = CFPNetEncoder(n, m)
        self.cls = nn.Conv2d(259, num_classes, 1, bias=False)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at stride 8."""
        return self.cls(self.encoder(x)[-1])


default_cfgs = {
    "cfpnet": zoo_cfg(
        family="cfpnet",
        paper=PAPER,
        output_stride=8,
        published={
            "cityscapes_test_miou": Reported(
                70.1,
                "1024x2048 labels, Cityscapes test server (input size not in the abstract)",
                "paper abstract",
            )
        },
    )
}


@register_model
def cfpnet(**kwargs: Any) -> CFPNet:
    """CFPNet (n = 2, m = 6; paper: 70.1 mIoU on Cityscapes test with 0.55 M parameters)."""
    return build_model(CFPNet, "cfpnet", **kwargs)
