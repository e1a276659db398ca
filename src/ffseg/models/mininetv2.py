"""MiniNet-v2 (Alonso, Riazuelo, Murillo, MiniNet: An Efficient Semantic Segmentation ConvNet
for Real-Time Robotic Applications, IEEE T-RO 2020).

Two downsampling units (a 3x3/2 conv concatenated with a 2x2 max-pooling, then BN and ReLU: 16
then 64 channels, stride 4), ten residual separable modules at 64 channels, a downsampling unit
to 128 (stride 8) and sixteen multi-dilation residual separable modules at 128 with dilations
1, 2, 1, 4, 1, 8, 1, 16, 1, 1, 1, 2, 1, 4, 1, 8 and spatial dropout 0.25. A module is a
depthwise 3x3 conv-BN-ReLU (multi-dilation: plus a second depthwise 3x3 conv-BN-ReLU of the same
input, dilated, even when the dilation is 1, added to it), a 1x1 conv-BN, the input added and a
ReLU. The decoder upsamples with a transposed 3x3/2 conv (with bias)-BN-ReLU to 64, adds a
second, independent pair of downsampling units applied to the image (the "refinement" path,
stride 4), runs four modules at 64 and a transposed 3x3/2 conv with bias to the classes (the
classifier, stride 2, no activation on the logits); the final bilinear resize to the input is
left to ffseg (``output_stride`` 2).

This is the authors' PyTorch graph (Shathe/MiniNet-v2, evaluate_time_pytorch.py, ``Net(19)``),
stage by stage: 517,137 parameters, 6.40 GMACs at 1x3x512x1024 (tests/golden/zoo2_stages.json).
Their last transposed conv has no padding and gives 2H+1 x 2W+1 logits that they resize to the
input; ffseg's gives exactly 2H x 2W (same weights and MACs). Their BNs use eps 1e-3 (ffseg's
1e-5). Paper 0.5 M (secondary, +3.4 %).

Published: 70.5 Cityscapes test mIoU (secondary, unchecked: not stored).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, FullConvBNAct, full_conv, kaiming_init_
from ffseg.layers.asymmetric import PoolConcatDown
from ffseg.layers.lightweight import DWConvBNAct
from ffseg.models._base import FeatureInfo, SegModel
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import zoo_cfg

__all__ = ["MiniNetV2", "MiniNetV2Encoder", "MultiDilationDSConv"]

PAPER = (
    "Alonso, Riazuelo, Murillo, MiniNet: An Efficient Semantic Segmentation ConvNet for "
    "Real-Time Robotic Applications, IEEE T-RO 2020"
)

#: dilations of the sixteen stride-8 modules
DILATIONS = (1, 2, 1, 4, 1, 8, 1, 16, 1, 1, 1, 2, 1, 4, 1, 8)


class MultiDilationDSConv(nn.Module):
    """Residual separable module: depthwise 3x3-BN-ReLU (dilated by ``dilation``), 1x1 conv-BN,
    dropout, the input added, ReLU.

    ``multi`` adds a second depthwise 3x3-BN-ReLU of the same input to the first before the
    1x1 conv: then the first is undilated and the second dilated by ``dilation`` (also when it
    is 1, as in the authors' code).
    """

    def __init__(
        self, channels: int, dilation: int = 1, multi: bool = False, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.dw = DWConvBNAct(channels, channels, 3, dilation=1 if multi else dilation)
        self.dilated = DWConvBNAct(channels, channels, 3, dilation=dilation) if multi else None
        self.pw = ConvBNAct(channels, channels, 1, act=None)
        self.drop = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dw(x)
        if self.dilated is not None:
            y = y + self.dilated(x)
        return self.act(x + self.drop(self.pw(y)))


def _downsampling(widths: Sequence[int]) -> nn.Sequential:
    chans = [3, *widths]
    return nn.Sequential(*(PoolConcatDown(a, b) for a, b in pairwise(chans)))


class MiniNetV2Encoder(nn.Module):
    """Downsampling units and modules: features at strides 4 (64 ch) and 8 (128 ch)."""

    def __init__(self, dilations: Sequence[int] = DILATIONS) -> None:
        super().__init__()
        self.down = _downsampling((16, 64))
        self.blocks64 = nn.Sequential(*(MultiDilationDSConv(64) for _ in range(10)))
        self.down3 = PoolConcatDown(64, 128)
        self.blocks128 = nn.Sequential(
            *(MultiDilationDSConv(128, d, multi=True, dropout=0.25) for d in dilations)
        )
        self.feature_info = [FeatureInfo(64, 4, "blocks64"), FeatureInfo(128, 8, "blocks128")]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x4 = self.blocks64(self.down(x))
        return [x4, self.blocks128(self.down3(x4))]


class MiniNetV2(SegModel):
    """MiniNet-v2: multi-dilation separable encoder, refinement path, transposed-conv decoder."""

    size_divisor = 8  # its downsampling needs H and W divisible by 8

    classifier_path = "cls"

    def __init__(self, num_classes: int = 19) -> None:
        super().__init__(num_classes)
        self.encoder = MiniNetV2Encoder()
        self.refine = _downsampling((16, 64))
        self.up = FullConvBNAct(128, 64, bias=True)
        self.blocks = nn.Sequential(*(MultiDilationDSConv(64) for _ in range(4)))
        self.cls = full_conv(64, num_classes, 3, 2, bias=True)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at stride 2."""
        deep = self.encoder(x)[-1]
        return self.cls(self.blocks(self.up(deep) + self.refine(x)))


default_cfgs = {
    "mininetv2": zoo_cfg(family="mininetv2", paper=PAPER, output_stride=2, min_input_size=(8, 8))
}


@register_model
def mininetv2(**kwargs: Any) -> MiniNetV2:
    """MiniNet-v2 (T-RO 2020; paper: 0.5 M params)."""
    return build_model(MiniNetV2, "mininetv2", **kwargs)
