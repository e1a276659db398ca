"""RegSeg (Gao, Rethinking Dilated Convolution for Real-time Semantic Segmentation, 2021).

The encoder stacks "D blocks" (RegNet Y blocks whose grouped 3x3 conv, group width 16, is split
into two halves with their own dilation rates): a 3x3/2 stem with 32 channels, one block of 48
at stride 4, three of 128 at stride 8 and, at stride 16, a strided block of 256 followed by 12
dilated blocks with rates (1,1), (1,2), (1,4) x4, (1,14) x6 and a final 320-channel block with
(1,14). Each block: 1x1 conv-BN-ReLU, dilated grouped 3x3 conv(s)-BN-ReLU, squeeze-excitation
(1/4 of the block's input channels), 1x1 conv-BN, residual (average pool 2x2 + 1x1 conv-BN when
strided), ReLU. The paper's "decoder26" fuses strides 16, 8 and 4 and classifies at stride 4
(``output_stride`` 4; the paper then upsamples x4 bilinearly). No auxiliary heads.

Parameters (19 classes): 3.335 M (paper 3.34 M; reference 3.37 M, -1.0 %: it sizes
squeeze-excitation from the output instead of the input channels).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, kaiming_init_, resize_to
from ffseg.layers.lightweight import SEBlock
from ffseg.models._base import FeatureInfo, SegModel
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import Reported, zoo_cfg

__all__ = ["DBlock", "RegSeg", "RegSegEncoder"]

PAPER = "Gao, Rethinking Dilated Convolution for Real-time Semantic Segmentation, arXiv 2111.09957"
STRIDE16_DILATIONS = ((1, 1), (1, 2)) + ((1, 4),) * 4 + ((1, 14),) * 6


class DBlock(nn.Module):
    """RegSeg D block (dilated Y block) with group width 16."""

    def __init__(
        self,
        cin: int,
        cout: int,
        stride: int = 1,
        dilations: tuple[int, int] = (1, 1),
        group_width: int = 16,
        se_ratio: float = 0.25,
    ) -> None:
        super().__init__()
        self.conv1 = ConvBNAct(cin, cout, 1)
        if stride == 1 and dilations[0] != dilations[1]:
            half = cout // 2
            self.split = half
            self.branches = nn.ModuleList(
                ConvBNAct(half, half, 3, groups=half // group_width, dilation=d) for d in dilations
            )
        else:
            self.split = 0
            self.conv2 = ConvBNAct(cout, cout, 3, stride, groups=cout // group_width)
        self.se = SEBlock(cout, int(cin * se_ratio))
        self.conv3 = ConvBNAct(cout, cout, 1, act=None)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            pool = nn.AvgPool2d(2, 2, ceil_mode=True) if stride == 2 else nn.Identity()
            self.shortcut = nn.Sequential(pool, ConvBNAct(cin, cout, 1, act=None))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(x)
        if self.split:
            a, b = torch.split(y, [self.split, y.shape[1] - self.split], dim=1)
            y = torch.cat([self.branches[0](a), self.branches[1](b)], dim=1)
        else:
            y = self.conv2(y)
        y = self.conv3(self.se(y))
        return self.act(y + self.shortcut(x))


class RegSegEncoder(nn.Module):
    """RegSeg encoder returning features at strides 4, 8 and 16 (48, 128, 320 channels)."""

    def __init__(self, dilations: Sequence[tuple[int, int]] = STRIDE16_DILATIONS) -> None:
        super().__init__()
        self.stem = ConvBNAct(3, 32, 3, 2)
        self.stage4 = DBlock(32, 48, 2)
        self.stage8 = nn.Sequential(DBlock(48, 128, 2), DBlock(128, 128), DBlock(128, 128))
        blocks = [DBlock(128, 256, 2)] + [DBlock(256, 256, 1, d) for d in dilations]
        blocks.append(DBlock(256, 320, 1, dilations[-1]))
        self.stage16 = nn.Sequential(*blocks)
        self.feature_info = [
            FeatureInfo(48, 4, "stage4"),
            FeatureInfo(128, 8, "stage8"),
            FeatureInfo(320, 16, "stage16"),
        ]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x4 = self.stage4(self.stem(x))
        x8 = self.stage8(x4)
        return [x4, x8, self.stage16(x8)]


class RegSeg(SegModel):
    """RegSeg with the paper's decoder26 (stride-4 logits)."""

    encoder_attr = "backbone"
    classifier_path = "cls"

    def __init__(self, num_classes: int = 19) -> None:
        super().__init__(num_classes)
        self.backbone = RegSegEncoder()
        self.head16 = ConvBNAct(320, 128, 1)
        self.head8 = ConvBNAct(128, 128, 1)
        self.head4 = ConvBNAct(48, 8, 1)
        self.conv8 = ConvBNAct(128, 64, 3)
        self.conv4 = ConvBNAct(64 + 8, 64, 3)
        self.cls = nn.Conv2d(64, num_classes, 1)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at stride 4."""
        x4, x8, x16 = self.backbone(x)
        y = self.head8(x8) + resize_to(self.head16(x16), x8.shape[-2:], "bilinear_half")
        y = resize_to(self.conv8(y), x4.shape[-2:], "bilinear_half")
        return self.cls(self.conv4(torch.cat([self.head4(x4), y], dim=1)))


default_cfgs = {
    "regseg": zoo_cfg(
        family="regseg",
        paper=PAPER,
        output_stride=4,
        published={
            "cityscapes_val_miou": Reported(
                78.23,
                "1024x2048, single scale; mean of three runs (77.76 / 78.85 / 78.07)",
                "RegSeg authors' repository README",
            ),
            "cityscapes_test_miou": Reported(78.3, "1024x2048, single scale", "RegSeg abstract"),
        },
    ),
}


@register_model
def regseg(**kwargs: Any) -> RegSeg:
    """RegSeg (authors: 78.23 val mIoU, mean of three runs; 78.3 test; from scratch)."""
    return build_model(RegSeg, "regseg", **kwargs)
