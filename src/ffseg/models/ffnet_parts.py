"""The pieces of an FFNet ("Fuss-Free Network") besides its ResNet encoder.

Module and attribute names follow the official release exactly (``head.layers.0.adapter_conv``,
``fam_32_sm``, ``last_layer``, ``smoothing.weight`` ...) so that official checkpoints load with
``strict=True``. Letters: up-head ``A``/``B``/``C`` fix the adapter and up-branch widths; seg head
``A``/``B``/``C`` the final conv layout; ``X`` is the ImageNet classification head.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ffseg.layers import ConvBNAct, resize_to
from ffseg.models.resnet import Bottleneck

__all__ = [
    "ADAPTER_WIDTHS",
    "SEG_HEADS",
    "UP_BRANCH_WIDTHS",
    "AdapterConv",
    "ClassificationHead",
    "ConvBNReLU",
    "GaussianDownsample",
    "SegmentationHead",
    "UpBranch",
    "UpsampleCat",
    "gaussian_kernel_5x5",
]

#: Adapter output widths (one 1x1 ConvBNReLU per encoder level), by up-head letter.
ADAPTER_WIDTHS = {"A": (64, 128, 256, 512), "B": (64, 128, 128, 256), "C": (128, 128, 128, 128)}
#: Up-branch output widths (s4, s8, s16, s32), by up-head letter.
UP_BRANCH_WIDTHS = {"A": (128, 128, 128, 128), "B": (96, 96, 64, 32), "C": (128, 16, 16, 16)}
#: Segmentation heads: (hidden width, kernel of the final classifier conv), by letter.
SEG_HEADS = {"A": (512, 1), "B": (256, 3), "C": (128, 1)}


class ConvBNReLU(nn.Module):
    """``k x k`` conv (stride 1, same padding, no bias) -> BN -> ReLU, stored as ``layers``."""

    def __init__(self, cin: int, cout: int, kernel_size: int) -> None:
        super().__init__()
        self.layers = ConvBNAct(cin, cout, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class AdapterConv(nn.Module):
    """One 1x1 ConvBNReLU per encoder level, mapping encoder widths to the up-head's widths."""

    def __init__(self, in_channels: Sequence[int], out_channels: Sequence[int]) -> None:
        super().__init__()
        self.adapter_conv = nn.ModuleList(
            ConvBNReLU(cin, cout, 1) for cin, cout in zip(in_channels, out_channels)
        )

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        return [conv(f) for conv, f in zip(self.adapter_conv, feats)]


class UpBranch(nn.Module):
    """FPN-like top-down path: each coarser sum is upsampled and added to the next finer level.

    The 1x1 "up" convs act on the sums, the 3x3 "sm" convs produce the four outputs.
    """

    def __init__(self, in_channels: Sequence[int], out_channels: Sequence[int], mode: str) -> None:
        super().__init__()
        b4, b8, b16, b32 = in_channels
        o4, o8, o16, o32 = out_channels
        self.mode = mode
        self.fam_32_sm = ConvBNReLU(b32, o32, 3)
        self.fam_32_up = ConvBNReLU(b32, b16, 1)
        self.fam_16_sm = ConvBNReLU(b16, o16, 3)
        self.fam_16_up = ConvBNReLU(b16, b8, 1)
        self.fam_8_sm = ConvBNReLU(b8, o8, 3)
        self.fam_8_up = ConvBNReLU(b8, b4, 1)
        self.fam_4 = ConvBNReLU(b4, o4, 3)
        self.out_channels = list(out_channels)

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        f4, f8, f16, f32 = feats
        s32 = self.fam_32_sm(f32)
        x16 = resize_to(self.fam_32_up(f32), f16.shape[-2:], self.mode) + f16
        s16 = self.fam_16_sm(x16)
        x8 = resize_to(self.fam_16_up(x16), f8.shape[-2:], self.mode) + f8
        s8 = self.fam_8_sm(x8)
        x4 = resize_to(self.fam_8_up(x8), f4.shape[-2:], self.mode) + f4
        s4 = self.fam_4(x4)
        return [s4, s8, s16, s32]


class UpsampleCat(nn.Module):
    """Resize every level to the finest one and concatenate ``[s4, s8, s16, s32]``."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        size = feats[0].shape[-2:]
        return torch.cat([feats[0]] + [resize_to(f, size, self.mode) for f in feats[1:]], dim=1)


class SegmentationHead(nn.Module):
    """3x3 conv (bias) -> BN -> ReLU -> classifier conv (bias); no upsampling."""

    def __init__(self, cin: int, num_classes: int, letter: str) -> None:
        super().__init__()
        hidden, k = SEG_HEADS[letter]
        self.last_layer = nn.Sequential(
            nn.Conv2d(cin, hidden, 3, padding=1, bias=True),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, num_classes, k, padding=k // 2, bias=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last_layer(x)


class ClassificationHead(nn.Module):
    """Multi-scale ImageNet head: bottleneck expansions, strided merges, pooling, linear.

    Returns ``(B, num_classes)`` for every batch size (the official code squeezed batch 1 away)
    and applies dropout (``dropout_rate``) before the classifier in training only.
    """

    HEAD_CHANNELS = (128, 256, 512, 1024)

    def __init__(
        self, in_channels: Sequence[int], num_classes: int, dropout_rate: float | None = None
    ) -> None:
        super().__init__()
        hc = self.HEAD_CHANNELS
        self.expansion_layers = nn.ModuleList(
            Bottleneck(cin, cout // Bottleneck.expansion, projection_first=True)
            for cin, cout in zip(in_channels, hc)
        )
        self.downsampling_layers = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(hc[i], hc[i + 1], 3, stride=2, padding=1, bias=True),
                nn.BatchNorm2d(hc[i + 1]),
                nn.ReLU(inplace=True),
            )
            for i in range(len(hc) - 1)
        )
        self.final_layer = nn.Sequential(
            nn.Conv2d(hc[-1], 2048, 1, bias=True), nn.BatchNorm2d(2048), nn.ReLU(inplace=True)
        )
        self.dropout = nn.Dropout(dropout_rate) if dropout_rate else nn.Identity()
        self.classifier = nn.Linear(2048, num_classes)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        y = self.expansion_layers[0](feats[0])
        for i, down in enumerate(self.downsampling_layers):
            y = self.expansion_layers[i + 1](feats[i + 1]) + down(y)
        y = self.final_layer(y)
        y = F.adaptive_avg_pool2d(y, 1).flatten(1)
        return self.classifier(self.dropout(y))


def gaussian_kernel_5x5(sigma: float = 0.7) -> torch.Tensor:
    """The fixed anti-aliasing kernel of the ``_pre_down`` FFNets, shape ``(5, 5)``, float32.

    Equals filtering a 5x5 delta image with a radius-3 Gaussian under half-sample reflection
    (the taps beyond the window fold back), separably, axis 0 first, rounding to float32 after
    each axis exactly as the official weights were made.
    """
    radius = 3
    taps = [math.exp(-0.5 * k * k / sigma**2) for k in range(-radius, radius + 1)]
    total = sum(taps)
    taps = [t / total for t in taps]

    def reflect(i: int, n: int = 5) -> int:  # half-sample symmetric: d c b a | a b c d | d c b a
        while i < 0 or i >= n:
            i = -i - 1 if i < 0 else 2 * n - i - 1
        return i

    # response of a 1-D delta at index 2, in float64, folding the taps that fall outside
    profile = [0.0] * 5
    for i in range(5):
        acc = 0.0
        for k in range(-radius, radius + 1):
            if reflect(i + k) == 2:
                acc += taps[k + radius]
        profile[i] = acc
    p64 = torch.tensor(profile, dtype=torch.float64)
    rows = p64.to(torch.float32).to(torch.float64)  # result of the first pass, stored in float32
    return (rows[:, None] * p64[None, :]).to(torch.float32)


class GaussianDownsample(nn.Module):
    """Reflect-pad the height by 1, then a fixed depthwise 5x5 Gaussian with stride 2, no padding.

    The kernel is a persistent buffer ``weight`` ``(3, 1, 5, 5)``: it is part of the state_dict
    (official checkpoints contain it) and untouched by weight initialisation.
    """

    def __init__(self, channels: int = 3) -> None:
        super().__init__()
        kernel = gaussian_kernel_5x5()
        self.register_buffer("weight", kernel.expand(channels, 1, 5, 5).clone())
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (0, 0, 1, 1), mode="reflect")
        return F.conv2d(x, self.weight.to(x.dtype), stride=2, groups=self.channels)
