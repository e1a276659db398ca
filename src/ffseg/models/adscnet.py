"""ADSCNet (Wang et al., ADSCNet: asymmetric depthwise separable convolution for semantic
segmentation in real-time, Applied Intelligence 2020).

The ADSC module is an asymmetric depthwise-separable convolution: a depthwise 3x1 conv-BN-ReLU6,
a 1x1 conv, a depthwise 1x3 conv-BN-ReLU6 and a 1x1 conv, added to the input; with stride 2
the first conv is strided and its output is concatenated with a 3x3/2 average pool of the input
(channels double). The dense dilated convolution connection (DDCC) at stride 8 chains four
(average pool k x k / 1 -> ADSC module with dilation k) units, k = 3, 5, 9, 13, each fed by a
1x1 conv of the concatenation of the input and all previous units; a 1x1 conv fuses all five.

Network: 3x3/2 conv-BN-ReLU6 (32); ADSC 32 (x1), ADSC 32, ADSC /2 (64), ADSC 64 (x4); ADSC /2
(128); DDCC; decoder: 3x3/2 transposed conv-BN-ReLU (64) + ADSC, add x4; ADSC + transposed conv
(32), add x1; ADSC + a 3x3/2 transposed conv to class scores at full resolution
(``output_stride`` 1). No authors' code is known; layer facts follow the paper's figure as read
by the widely used re-implementation. The final transposed conv is the classifier (with bias): no
activation on the logits. The issue #24 audit measured the re-implementation's graph 134
parameters away from this one; the cause is not located here (no stage-by-stage source).

Parameters (19 classes): 509,139 (reference re-implementation 0.51 M, -0.2 %; the paper states
no count that could be checked).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, FullConvBNAct, conv1x1, full_conv, kaiming_init_
from ffseg.models._base import FeatureInfo, SegModel
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import Reported, zoo_cfg

__all__ = ["DDCC", "ADSCModule", "ADSCNet", "ADSCNetEncoder"]

PAPER = (
    "Wang et al., ADSCNet: asymmetric depthwise separable convolution for semantic "
    "segmentation in real-time, Applied Intelligence 2020"
)

#: DDCC pooling / dilation sizes.
DDCC_RATES = (3, 5, 9, 13)


def _dw(channels: int, kernel: tuple[int, int], stride: int, dilation: int) -> nn.Sequential:
    pad = (dilation * (kernel[0] - 1) // 2, dilation * (kernel[1] - 1) // 2)
    return nn.Sequential(
        nn.Conv2d(channels, channels, kernel, stride, pad, dilation, channels, bias=False),
        nn.BatchNorm2d(channels),
        nn.ReLU6(inplace=True),
    )


class ADSCModule(nn.Module):
    """Asymmetric depthwise-separable conv; residual (stride 1) or pool-concat (stride 2)."""

    def __init__(self, channels: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _dw(channels, (3, 1), stride, dilation),
            conv1x1(channels, channels),
            _dw(channels, (1, 3), 1, dilation),
            conv1x1(channels, channels),
        )
        self.pool = nn.AvgPool2d(3, 2, 1) if stride == 2 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.pool is None else torch.cat([y, self.pool(x)], dim=1)


class DDCC(nn.Module):
    """Dense dilated convolution connection: densely fed (pool k -> ADSC dilation k) units."""

    def __init__(self, channels: int, rates: tuple[int, ...] = DDCC_RATES) -> None:
        super().__init__()
        self.reduce = nn.ModuleList(
            nn.Identity() if i == 0 else conv1x1((i + 1) * channels, channels)
            for i in range(len(rates))
        )
        self.units = nn.ModuleList(
            nn.Sequential(nn.AvgPool2d(k, 1, k // 2), ADSCModule(channels, dilation=k))
            for k in rates
        )
        self.fuse = conv1x1((len(rates) + 1) * channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for reduce, unit in zip(self.reduce, self.units):
            feats.append(unit(reduce(torch.cat(feats, dim=1) if len(feats) > 1 else x)))
        return self.fuse(torch.cat(feats, dim=1))


class ADSCNetEncoder(nn.Module):
    """Stem, ADSC stages and the DDCC: features at strides 2 (32), 4 (64) and 8 (128)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = ConvBNAct(3, 32, 3, 2, act=nn.ReLU6)
        self.stage1 = ADSCModule(32)
        self.stage2 = nn.Sequential(ADSCModule(32), ADSCModule(32, 2), ADSCModule(64))
        self.stage3 = nn.Sequential(ADSCModule(64, 2), DDCC(128))
        self.feature_info = [
            FeatureInfo(32, 2, "stage1"),
            FeatureInfo(64, 4, "stage2"),
            FeatureInfo(128, 8, "stage3"),
        ]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        f1 = self.stage1(self.stem(x))
        f2 = self.stage2(f1)
        return [f1, f2, self.stage3(f2)]


class ADSCNet(SegModel):
    """ADSCNet: encoder with DDCC and a transposed-conv decoder to full resolution."""

    size_divisor = 8  # its downsampling needs H and W divisible by 8

    classifier_path = "cls"

    def __init__(self, num_classes: int = 19) -> None:
        super().__init__(num_classes)
        self.encoder = ADSCNetEncoder()
        self.up1 = nn.Sequential(FullConvBNAct(128, 64), ADSCModule(64))
        self.up2 = nn.Sequential(ADSCModule(64), FullConvBNAct(64, 32))
        self.refine = ADSCModule(32)
        self.cls = full_conv(32, num_classes, 3, 2, bias=True)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at full resolution."""
        f1, f2, f3 = self.encoder(x)
        y = self.up2(self.up1(f3) + f2) + f1
        return self.cls(self.refine(y))


default_cfgs = {
    "adscnet": zoo_cfg(
        family="adscnet",
        paper=PAPER,
        output_stride=1,
        published={
            "cityscapes_test_miou": Reported(
                67.5,
                "1024x2048 labels; split and input size not in the abstract (third-party tables: test)",
                "paper abstract",
            )
        },
    )
}


@register_model
def adscnet(**kwargs: Any) -> ADSCNet:
    """ADSCNet (paper: 67.5 mIoU on Cityscapes)."""
    return build_model(ADSCNet, "adscnet", **kwargs)
