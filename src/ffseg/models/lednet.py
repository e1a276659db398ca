"""LEDNet (Wang et al., LEDNet: A Lightweight Encoder-Decoder Network for Real-Time Semantic
Segmentation, ICIP 2019, arXiv 1905.02423).

Paper Table 1: an encoder of downsampling units (a strided 3x3 conv concatenated with a 2x2 max
pool) and split-shuffle-non-bottleneck (SS-nbt) units: 3 -> 32, 3 SS-nbt; -> 64, 2 SS-nbt;
-> 128, 8 SS-nbt with dilations 1, 2, 5, 9, 2, 5, 9, 17 (stride 8). An SS-nbt splits its input
into two halves, runs two factorised pairs on each (3x1 then 1x3 on one half, 1x3 then 3x1 on
the other; ReLU between the convs, BN after each pair, the second pair dilated), concatenates
them, adds the input, applies ReLU and shuffles the channels of the two halves. Spatial dropout:
0.03 at 32/64 channels, 0.3 at 128.

The decoder is the attention pyramid network (APN): 3x3 / 5x5 / 7x7 stride-2 convs (each BN +
ReLU, one channel) build a three-level pyramid of the encoder output whose levels are
upsampled and summed coarse to fine into a one-channel attention map; it multiplies a 1x1
conv of the encoder output to the classes, and a global-average-pooling branch (1x1 conv to the
classes) is added. The APN's convs carry BN + ReLU as in the authors' code. The paper then
upsamples x8 bilinearly: logits are at stride 8 (``output_stride`` 8), upsampling is left to
ffseg. The pyramid's extra 3x3 refinement at the coarsest level and the 5x5 / 7x7 convs at the
finer levels follow the authors' code, as full (not factorised) kernels as the paper draws them.

Parameters (19 classes): 922,821. Compared stage by stage with the authors' code
(xiaoyufenfei/LEDNet, train/lednet.py, with 19 classes where it hard-codes 20) at
1x3x512x1024: params and conv MACs equal at every output stride (s2 20,076, s4 59,552, s8
834,297, the pyramid's s16 / s32 / s64 convs 6,327 / 56 / 24, the pooled branch 2,489; 11.21
GMACs). The attention pyramid holds 11,385 params. The authors' encoder also builds a 1x1
classifier (2,451 params) that only encoder-only training calls; it is not built here. Paper:
"< 1 M" (0.94 M in the zoo table). The logits are non-negative, as in the authors' code: the 1x1
class conv and the pooled branch end in BN + ReLU, and the attention map they are multiplied by
also ends in BN + ReLU. Dropout: spatial (``Dropout2d``) 0.03 / 0.3 in the encoder only.

Published: 70.6 class mIoU on the Cityscapes test set (the paper's test-set comparison, 1024x512 input).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, kaiming_init_, resize_to
from ffseg.layers.asymmetric import PoolConcatDown, factorized_body
from ffseg.layers.lightweight import channel_shuffle
from ffseg.models._base import SegModel
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import Reported, zoo_cfg
from ffseg.models.erfnet import StageEncoder

__all__ = ["APN", "LEDNet", "LEDNetEncoder", "SSnbt"]

PAPER = (
    "Wang et al., LEDNet: A Lightweight Encoder-Decoder Network for Real-Time Semantic "
    "Segmentation, ICIP 2019"
)

#: Dilations of the eight SS-nbt units at 128 channels (paper Table 1).
DEEP_DILATIONS = (1, 2, 5, 9, 2, 5, 9, 17)


class SSnbt(nn.Module):
    """Split-shuffle-non-bottleneck: two half-width factorised bodies, residual, shuffle."""

    def __init__(self, channels: int, dilation: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        half = channels // 2
        self.left = factorized_body(half, dilation=dilation)
        self.right = factorized_body(half, dilation=dilation, horizontal_first=True)
        self.drop = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        out = torch.cat([self.drop(self.left(a)), self.drop(self.right(b))], 1)
        out = self.act(x + out)
        return channel_shuffle(out)


class LEDNetEncoder(StageEncoder):
    """Downsampling units and SS-nbt units: features at strides 2, 4 and 8 (32, 64, 128)."""

    def __init__(self) -> None:
        super().__init__(
            nn.Sequential(
                PoolConcatDown(3, 32, bias=True), *(SSnbt(32, 1, 0.03) for _ in range(3))
            ),
            nn.Sequential(
                PoolConcatDown(32, 64, bias=True), *(SSnbt(64, 1, 0.03) for _ in range(2))
            ),
            nn.Sequential(
                PoolConcatDown(64, 128, bias=True), *(SSnbt(128, d, 0.3) for d in DEEP_DILATIONS)
            ),
            channels=(32, 64, 128),
        )


class APN(nn.Module):
    """Attention pyramid network: pyramid attention x 1x1 conv, plus a global-pooling branch."""

    def __init__(self, cin: int, num_classes: int) -> None:
        super().__init__()
        self.pool_branch = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), ConvBNAct(cin, num_classes, 1, bias=True)
        )
        self.mid = ConvBNAct(cin, num_classes, 1, bias=True)
        self.down1 = ConvBNAct(cin, 1, 7, 2, bias=True)
        self.down2 = ConvBNAct(1, 1, 5, 2, bias=True)
        self.down3 = nn.Sequential(ConvBNAct(1, 1, 3, 2, bias=True), ConvBNAct(1, 1, 3, bias=True))
        self.conv2 = ConvBNAct(1, 1, 5, bias=True)
        self.conv1 = ConvBNAct(1, 1, 7, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.down1(x)
        x2 = self.down2(x1)
        x3 = self.down3(x2)
        att = self.conv2(x2) + resize_to(x3, x2.shape[-2:], "bilinear")
        att = self.conv1(x1) + resize_to(att, x1.shape[-2:], "bilinear")
        att = resize_to(att, x.shape[-2:], "bilinear")
        pooled = self.pool_branch(x).expand(-1, -1, x.shape[-2], x.shape[-1])
        return self.mid(x) * att + pooled


class LEDNet(SegModel):
    """LEDNet: SS-nbt encoder and attention pyramid decoder, logits at stride 8."""

    size_divisor = 8  # its downsampling needs H and W divisible by 8

    classifier_path = "apn.mid.0"

    def __init__(self, num_classes: int = 19) -> None:
        super().__init__(num_classes)
        self.encoder = LEDNetEncoder()
        self.apn = APN(128, num_classes)
        kaiming_init_(self)

    def class_layer_paths(self) -> list[str]:
        """Both class-count branches of the APN (1x1 conv and its BN, pooled and direct)."""
        return ["apn.mid.0", "apn.mid.1", "apn.pool_branch.1.0", "apn.pool_branch.1.1"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at stride 8."""
        return self.apn(self.encoder(x)[-1])


default_cfgs = {
    "lednet": zoo_cfg(
        family="lednet",
        paper=PAPER,
        output_stride=8,
        min_input_size=(64, 64),
        published={
            "cityscapes_test_miou": Reported(
                70.6, "1024x512 input, single scale", "paper, Cityscapes test-set comparison"
            )
        },
    )
}


@register_model
def lednet(**kwargs: Any) -> LEDNet:
    """LEDNet (paper: < 1 M params, 70.6 Cityscapes test mIoU)."""
    return build_model(LEDNet, "lednet", **kwargs)
