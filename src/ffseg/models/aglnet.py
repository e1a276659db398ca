"""AGLNet (Zhou et al., AGLNet: Towards real-time semantic segmentation of self-driving images
via attention-guided lightweight network, Applied Soft Computing 2020).

Encoder (LEDNet-style): a downsampling unit (strided 3x3 conv-BN-ReLU to ``cout - cin``
channels concatenated with a 3x3/2 max pool) to 32 + 3 split-shuffle non-bottleneck (SS-nbt)
units; a downsampling unit to 64 + 2 SS-nbt; a downsampling unit to 128 + 8 SS-nbt with
dilations 1, 2, 5, 9, 2, 5, 9, 17 (stride 8). An SS-nbt unit splits the channels in two halves,
runs two factorised 3x1/1x3 pairs (the second dilated) on each (the right half starting with
the 1x3 conv), concatenates, adds the input, applies a ReLU and shuffles the channels.

Decoder: the factorised attention pyramid module (FAPM) multiplies the stride-8 feature by a
one-channel pyramid attention (1xk/2 then kx1 conv-BN-ReLU for k = 7, 5, 3, upsampled and summed
top-down, then a 1x1 conv to the channel count) and adds a global-average-pooled 1x1 branch.
Two global attention upsample modules (GAUM) then fuse with the stride-4 and stride-2 features:
the high-level map is upsampled by a 3x3/2 transposed conv-BN-ReLU, multiplied by the
spatially-attended low-level map (1x1 conv to one channel, sigmoid), re-weighted by a channel
attention (global pool, 1x1 conv, sigmoid) and added to the upsampled map. A 1x1 classifier at
stride 2 ends the net (``output_stride`` 2; the final bilinear x2 is left to ffseg).

The authors' code (named by the zoo table) is not available to check; layer facts follow the
widely used re-implementation. Deviation: its GAUM multiplies the channel-attended map by the
fused map a second time (squaring it), which looks unintended; here the channel attention
re-weights the fused map once (the paper's full text could not be checked). Parameters are
unaffected.

Parameters (19 classes): 1,024,351 (reference re-implementation 1.02 M, +0.4 %). The paper
states 1.12 M (-8.5 %): the 0.1 M difference cannot be located without the authors' code (the
stored copy of the repository named by the zoo table holds no AGLNet), so the reference's layer
widths are kept rather than guessed. The abstract's CamVid figure (69.4 mIoU) is not stored:
its evaluation resolution could not be established.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, conv1x1, full_conv, kaiming_init_, resize_to
from ffseg.layers.lightweight import channel_shuffle
from ffseg.models._base import FeatureInfo, SegModel
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import Reported, zoo_cfg

__all__ = ["FAPM", "GAUM", "AGLNet", "AGLNetEncoder", "SSnbt"]

PAPER = (
    "Zhou et al., AGLNet: Towards real-time semantic segmentation of self-driving images via "
    "attention-guided lightweight network, Applied Soft Computing 2020"
)

#: Dilations of the eight stride-8 SS-nbt units.
STAGE3_DILATIONS = (1, 2, 5, 9, 2, 5, 9, 17)


class _Down(nn.Module):
    """``[conv3x3/2-BN-ReLU (cout - cin ch), maxpool3x3/2]``."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = ConvBNAct(cin, cout - cin, 3, 2)
        self.pool = nn.MaxPool2d(3, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.conv(x), self.pool(x)], dim=1)


def _branch(channels: int, dilation: int, vertical_first: bool) -> nn.Sequential:
    """Two factorised pairs: conv -> ReLU -> conv-BN-ReLU, the second pair dilated."""
    layers: list[nn.Module] = []
    for d in (1, dilation):
        k1, k2 = ((3, 1), (1, 3)) if vertical_first else ((1, 3), (3, 1))
        p1 = (d * (k1[0] // 2), d * (k1[1] // 2))
        p2 = (d * (k2[0] // 2), d * (k2[1] // 2))
        layers += [
            nn.Conv2d(channels, channels, k1, 1, p1, d),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, k2, 1, p2, d, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
        ]
    return nn.Sequential(*layers)


class SSnbt(nn.Module):
    """Split-shuffle non-bottleneck unit (two factorised halves, residual, channel shuffle)."""

    def __init__(self, channels: int, dilation: int = 1) -> None:
        super().__init__()
        half = channels // 2
        self.left = _branch(half, dilation, vertical_first=True)
        self.right = _branch(half, dilation, vertical_first=False)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left, right = x.chunk(2, dim=1)
        y = self.act(x + torch.cat([self.left(left), self.right(right)], dim=1))
        return channel_shuffle(y)


class AGLNetEncoder(nn.Module):
    """Three LEDNet-style stages: features at strides 2 (32), 4 (64) and 8 (128)."""

    def __init__(self) -> None:
        super().__init__()
        self.stage1 = nn.Sequential(_Down(3, 32), *(SSnbt(32) for _ in range(3)))
        self.stage2 = nn.Sequential(_Down(32, 64), *(SSnbt(64) for _ in range(2)))
        self.stage3 = nn.Sequential(_Down(64, 128), *(SSnbt(128, d) for d in STAGE3_DILATIONS))
        self.feature_info = [
            FeatureInfo(32, 2, "stage1"),
            FeatureInfo(64, 4, "stage2"),
            FeatureInfo(128, 8, "stage3"),
        ]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        f1 = self.stage1(x)
        f2 = self.stage2(f1)
        return [f1, f2, self.stage3(f2)]


def _rect_cbr(cin: int, cout: int, kernel: tuple[int, int], stride: int = 1) -> nn.Sequential:
    """``kh x kw`` conv (stride on both axes, "same" padding) -> BN -> ReLU."""
    pad = (kernel[0] // 2, kernel[1] // 2)
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, pad, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class FAPM(nn.Module):
    """Factorised attention pyramid module: ``x * pyramid_attention(x) + global_branch(x)``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.down = nn.ModuleList(
            _rect_cbr(channels if k == 7 else 1, 1, (1, k), 2) for k in (7, 5, 3)
        )
        self.side = nn.ModuleList(_rect_cbr(1, 1, (k, 1)) for k in (7, 5, 3))
        self.expand = conv1x1(1, channels)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.glob = conv1x1(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sides, y = [], x
        for down, side in zip(self.down, self.side):
            y = down(y)
            sides.append(side(y))
        att = sides[-1]
        for side in reversed(sides[:-1]):
            att = resize_to(att, side.shape[-2:], "bilinear") + side
        att = self.expand(resize_to(att, x.shape[-2:], "bilinear"))
        return x * att + self.glob(self.pool(x))


class GAUM(nn.Module):
    """Global attention upsample: ``up + (up * sa(low)) * ca(up * sa(low))``."""

    def __init__(self, low_channels: int, high_channels: int) -> None:
        super().__init__()
        self.up = nn.Sequential(
            full_conv(high_channels, low_channels, 3, 2, bias=True),
            nn.BatchNorm2d(low_channels),
            nn.ReLU(inplace=True),
        )
        self.spatial = conv1x1(low_channels, 1)
        self.channel = nn.Sequential(nn.AdaptiveAvgPool2d(1), conv1x1(low_channels, low_channels))

    def forward(self, high: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
        up = self.up(high)
        fused = up * (low * torch.sigmoid(self.spatial(low)))
        return up + fused * torch.sigmoid(self.channel(fused))


class AGLNet(SegModel):
    """AGLNet: LEDNet-style encoder, FAPM, two GAUMs and a stride-2 classifier."""

    size_divisor = 8  # its downsampling needs H and W divisible by 8

    classifier_path = "cls"

    def __init__(self, num_classes: int = 19) -> None:
        super().__init__(num_classes)
        self.encoder = AGLNetEncoder()
        self.fapm = FAPM(128)
        self.gaum4 = GAUM(64, 128)
        self.gaum2 = GAUM(32, 64)
        self.cls = nn.Conv2d(32, num_classes, 1)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at stride 2."""
        f1, f2, f3 = self.encoder(x)
        return self.cls(self.gaum2(self.gaum4(self.fapm(f3), f2), f1))


default_cfgs = {
    "aglnet": zoo_cfg(
        family="aglnet",
        paper=PAPER,
        output_stride=2,
        published={
            "cityscapes_test_miou": Reported(
                71.3,
                "1024x2048 labels, Cityscapes test server (input size not in the abstract)",
                "paper abstract",
            ),
        },
    )
}


@register_model
def aglnet(**kwargs: Any) -> AGLNet:
    """AGLNet (paper: 71.3 mIoU on Cityscapes test with 1.12 M parameters)."""
    return build_model(AGLNet, "aglnet", **kwargs)
