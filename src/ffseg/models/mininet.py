"""MiniNet (Alonso, Riazuelo, Murillo, Enhancing V-SLAM Keyframe Selection with an Efficient
ConvNet for Semantic Analysis, ICRA 2019).

Encoder: four depthwise-separable 3x3/2 convs (12, 24, 48, 96 channels, stride 16). Context, at
stride 16, in two branches: (1) four factorised depthwise residual modules with dilation 1, 2,
4, 8; (2) a separable conv /2 to 192, a module, a separable conv /2 to 384 (stride 64), two
modules, a transposed conv back to 192, a module, concatenated with the branch's input and
upsampled by a transposed conv to 96. A module is two depthwise factorised pairs (1x3 -> 3x1,
then 3x1 -> 1x3, dilated, SELU between), the second pair's output added to the first's, dropout
0.25, plus the input, SELU. Decoder: the two branches and the stride-16 features concatenated,
upsampled (transposed 3x3/2 conv, BN, SELU) to 96, a module, a 1x1 conv to 48, then three
upsamplings each after concatenating the encoder feature of the same stride (skip), the last
to the classes at full resolution (``output_stride`` 1; its transposed conv is the classifier).
Each upsampled map is cut to the size of the map it meets, so any input size works (a
strided conv rounds odd sizes up).

SELU is used everywhere; no activation on the logits. The stride-64 width is 384.

Parameters (19 classes): 1.404 M; reference 1.407 M (-0.3 %, not located: the issue #24 audit
found SELU, not ReLU, in that graph too). The 3.1 M in the zoo table is a
secondary figure that could not be checked against the paper, whose layer table is not
available here; we follow the reference's layout.

Published: 40.7 Cityscapes test mIoU (secondary, unchecked: not stored).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import torch
from torch import nn

from ffseg.layers import conv1x1, full_conv, kaiming_init_
from ffseg.layers.lightweight import DSConvBNAct
from ffseg.models._base import FeatureInfo, SegModel
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import zoo_cfg

__all__ = ["MiniNet", "MiniNetEncoder"]

PAPER = (
    "Alonso, Riazuelo, Murillo, Enhancing V-SLAM Keyframe Selection with an Efficient ConvNet "
    "for Semantic Analysis, ICRA 2019"
)

Act = nn.SELU


def _dw_pair(
    channels: int, dilation: int, horizontal_first: bool, act_after: bool
) -> nn.Sequential:
    """Depthwise 1x3 and 3x1 convs (dilated, no bias) with SELU between (and after)."""
    kernels = [(1, 3), (3, 1)] if horizontal_first else [(3, 1), (1, 3)]
    layers: list[nn.Module] = []
    for i, (kh, kw) in enumerate(kernels):
        pad = (dilation * (kh // 2), dilation * (kw // 2))
        layers.append(
            nn.Conv2d(channels, channels, (kh, kw), 1, pad, dilation, groups=channels, bias=False)
        )
        if i == 0 or act_after:
            layers.append(Act())
    return nn.Sequential(*layers)


class FactorizedModule(nn.Module):
    """``SELU(x + dropout(y1 + pair2(y1)))`` with ``y1 = pair1(x)``: depthwise factorised."""

    def __init__(self, channels: int, dilation: int = 1, dropout: float = 0.25) -> None:
        super().__init__()
        self.pair1 = _dw_pair(channels, dilation, horizontal_first=True, act_after=True)
        self.pair2 = _dw_pair(channels, dilation, horizontal_first=False, act_after=False)
        self.drop = nn.Dropout(dropout)
        self.act = Act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pair1(x)
        return self.act(x + self.drop(y + self.pair2(y)))


def up(cin: int, cout: int) -> nn.Sequential:
    """Transposed 3x3/2 conv (bias) -> BN -> SELU: exactly twice the size."""
    return nn.Sequential(full_conv(cin, cout, 3, 2, bias=True), nn.BatchNorm2d(cout), Act())


def crop_to(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``x`` cut to the height and width of ``like`` (an x2 upsampling of an odd size is one
    row or column too large; a no-op otherwise)."""
    return x[:, :, : like.shape[-2], : like.shape[-1]]


def separable(cin: int, cout: int) -> DSConvBNAct:
    """Depthwise 3x3/2 -> BN -> SELU -> 1x1 -> BN -> SELU."""
    return DSConvBNAct(cin, cout, 3, 2, act=Act, dw_act=Act)


class MiniNetEncoder(nn.Module):
    """Four separable downsamplings: features at strides 2, 4, 8, 16 (12, 24, 48, 96 ch)."""

    def __init__(self, widths: Sequence[int] = (12, 24, 48, 96)) -> None:
        super().__init__()
        chans = [3, *widths]
        self.downs = nn.ModuleList(separable(a, b) for a, b in pairwise(chans))
        self.feature_info = [
            FeatureInfo(c, 2 ** (i + 1), f"downs.{i}") for i, c in enumerate(widths)
        ]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for down in self.downs:
            x = down(x)
            feats.append(x)
        return feats


class MiniNet(SegModel):
    """MiniNet: separable encoder, two context branches, skip-concatenating decoder."""

    classifier_path = "cls"

    def __init__(self, num_classes: int = 19) -> None:
        super().__init__(num_classes)
        self.encoder = MiniNetEncoder()
        self.branch1 = nn.Sequential(*(FactorizedModule(96, d) for d in (1, 2, 4, 8)))
        self.branch2_down = separable(96, 192)
        self.branch2 = nn.Sequential(
            FactorizedModule(192),
            separable(192, 384),
            FactorizedModule(384),
            FactorizedModule(384),
            up(384, 192),
        )
        self.branch2_out = FactorizedModule(192)
        self.branch2_up = up(2 * 192, 96)
        self.up4 = nn.Sequential(up(3 * 96, 96), FactorizedModule(96), conv1x1(96, 48))
        self.up3 = up(2 * 48, 24)
        self.up2 = up(2 * 24, 12)
        self.cls = full_conv(2 * 12, num_classes, 3, 2, bias=True)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at the input resolution (stride 1)."""
        d1, d2, d3, d4 = self.encoder(x)
        d5 = self.branch2_down(d4)
        b2 = self.branch2_out(crop_to(self.branch2(d5), d5))
        b2 = crop_to(self.branch2_up(torch.cat([b2, d5], dim=1)), d4)
        y = crop_to(self.up4(torch.cat([self.branch1(d4), b2, d4], dim=1)), d3)
        y = crop_to(self.up3(torch.cat([y, d3], dim=1)), d2)
        y = crop_to(self.up2(torch.cat([y, d2], dim=1)), d1)
        return crop_to(self.cls(torch.cat([y, d1], dim=1)), x)


default_cfgs = {
    "mininet": zoo_cfg(family="mininet", paper=PAPER, output_stride=1, min_input_size=(64, 64))
}


@register_model
def mininet(**kwargs: Any) -> MiniNet:
    """MiniNet (ICRA 2019), the reference re-implementation's layout (1.40 M params)."""
    return build_model(MiniNet, "mininet", **kwargs)
