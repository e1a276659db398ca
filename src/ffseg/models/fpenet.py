"""FPENet (Liu, Yin, Feature Pyramid Encoding Network for Real-time Semantic Segmentation,
BMVC 2019, arXiv 1909.08599).

Encoder (paper Table 1): a 3x3/2 conv to 16 channels and one feature pyramid encoding (FPE)
block (expansion 1) at stride 2; an FPE block /2 to 32 channels then ``p - 1 = 2`` more
(stride 4, expansion 4); an FPE block /2 to 64 channels then ``q - 1 = 8`` more (stride 8,
expansion 4). The FPE block expands with a 1x1 conv, splits the channels into ``K = 4`` groups,
filters them with depthwise 3x3 convs of dilation 1, 2, 4, 8, adds each group's output to the
next group's ("hierarchical" sum), concatenates, projects with a 1x1 conv and adds the input
when the shapes agree. The decoder has two mutual embedding upsampling (MEU) modules: 1x1 convs
bring the low- and high-level maps to a common width; the channel mean of the low-level map
gives a spatial attention (1x1 conv, sigmoid) that weights the upsampled high-level map, the
pooled high-level map gives a channel attention (1x1 conv, sigmoid) that weights the low-level
map; the two are added. MEU(stride 4, stride 8) -> 64, MEU(stride 2, that) -> 32, then a 1x1
classifier at stride 2; the paper's final bilinear x2 is left to ffseg (``output_stride`` 2).

The attention convs have a bias and no BN (BN on a 1x1 pooled map fails at batch size 1).

Parameters (19 classes): 0.362 M. The paper states 0.4 M to one decimal (0.36 M rounds to
it); the reference re-implementation has 0.362 M (ours -0.03 %: no BN in the attentions).

Published: 68.0 Cityscapes test mIoU (the paper's own figure; a widely copied table says 70.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, kaiming_init_, resize_to
from ffseg.layers.lightweight import DWConvBNAct
from ffseg.models._base import FeatureInfo, SegModel
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import Reported, zoo_cfg

__all__ = ["FPEBlock", "FPENet", "FPENetEncoder"]

PAPER = "Liu, Yin, Feature Pyramid Encoding Network for Real-time Semantic Segmentation, BMVC 2019"


class FPEBlock(nn.Module):
    """1x1 expand, ``len(dilations)`` depthwise 3x3 groups summed hierarchically, 1x1 project."""

    def __init__(
        self,
        cin: int,
        cout: int,
        expansion: int,
        stride: int = 1,
        dilations: Sequence[int] = (1, 2, 4, 8),
    ) -> None:
        super().__init__()
        wide = cout * expansion
        self.group = wide // len(dilations)
        self.expand = ConvBNAct(cin, wide, 1)
        self.pyramid = nn.ModuleList(
            DWConvBNAct(self.group, self.group, 3, stride, d) for d in dilations
        )
        self.project = ConvBNAct(wide, cout, 1, act=None)
        self.residual = stride == 1 and cin == cout
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        groups = self.expand(x).split(self.group, dim=1)
        outs: list[torch.Tensor] = []
        for conv, g in zip(self.pyramid, groups):
            y = conv(g)
            outs.append(y if not outs else y + outs[-1])
        y = self.project(torch.cat(outs, dim=1))
        return self.act(y + x) if self.residual else self.act(y)


def _stage(cin: int, cout: int, blocks: int, expansion: int) -> nn.Sequential:
    layers = [FPEBlock(cin, cout, expansion, 2)]
    layers += [FPEBlock(cout, cout, expansion) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class FPENetEncoder(nn.Module):
    """The three FPE stages: features at strides 2, 4 and 8 (16, 32, 64 channels)."""

    def __init__(self, p: int = 3, q: int = 9, expansion: int = 4) -> None:
        super().__init__()
        self.stage1 = nn.Sequential(ConvBNAct(3, 16, 3, 2), FPEBlock(16, 16, 1))
        self.stage2 = _stage(16, 32, p, expansion)
        self.stage3 = _stage(32, 64, q, expansion)
        self.feature_info = [
            FeatureInfo(16, 2, "stage1"),
            FeatureInfo(32, 4, "stage2"),
            FeatureInfo(64, 8, "stage3"),
        ]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x1 = self.stage1(x)
        x2 = self.stage2(x1)
        return [x1, x2, self.stage3(x2)]


class MEU(nn.Module):
    """Mutual embedding upsampling: spatial attention from the low level weights the upsampled
    high level, channel attention from the high level weights the low level; summed."""

    def __init__(self, low: int, high: int, cout: int) -> None:
        super().__init__()
        self.low = ConvBNAct(low, cout, 1)
        self.high = ConvBNAct(high, cout, 1)
        self.spatial = nn.Sequential(nn.Conv2d(1, 1, 1), nn.Sigmoid())
        self.channel = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(cout, cout, 1), nn.Sigmoid()
        )

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        low, high = self.low(low), self.high(high)
        spatial = self.spatial(low.mean(dim=1, keepdim=True))
        up = resize_to(high, low.shape[-2:], "bilinear")
        return low * self.channel(high) + up * spatial


class FPENet(SegModel):
    """FPENet: FPE encoder, two MEU modules and a 1x1 classifier at stride 2."""

    classifier_path = "cls"

    def __init__(self, num_classes: int = 19, p: int = 3, q: int = 9) -> None:
        super().__init__(num_classes)
        self.encoder = FPENetEncoder(p, q)
        self.meu2 = MEU(32, 64, 64)
        self.meu1 = MEU(16, 64, 32)
        self.cls = nn.Conv2d(32, num_classes, 1)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at stride 2."""
        x1, x2, x3 = self.encoder(x)
        return self.cls(self.meu1(x1, self.meu2(x2, x3)))


default_cfgs = {
    "fpenet": zoo_cfg(
        family="fpenet",
        paper=PAPER,
        output_stride=2,
        min_input_size=(8, 8),
        published={
            "cityscapes_test_miou": Reported(
                68.0,
                "1024x2048 benchmark evaluation (the network's input size not checked here)",
                "paper abstract",
            )
        },
    )
}


@register_model
def fpenet(**kwargs: Any) -> FPENet:
    """FPENet, p = 3, q = 9 (paper: 0.4 M params, 68.0 Cityscapes test mIoU)."""
    return build_model(FPENet, "fpenet", **kwargs)
