"""EDANet (Lo, Hang, Chan, Lin, Efficient Dense Modules of Asymmetric Convolution for Real-Time
Semantic Segmentation, ACM MM Asia 2019, arXiv 1809.06323).

Paper Table 1: downsampling blocks 3 -> 15 and 15 -> 60 (a strided 3x3 conv concatenated with a
2x2 max pool), EDA block 1 (5 EDA modules, dilations 1, 1, 1, 2, 2; 60 -> 260 channels), a
downsampling block 260 -> 130 (the strided conv alone, as the width shrinks), EDA block 2
(8 modules, dilations 2, 2, 4, 4, 8, 8, 16, 16; 130 -> 450) and a 1x1 projection to the classes
at stride 8; the paper upsamples x8 bilinearly (``output_stride`` 8; upsampling left to ffseg).

An EDA module is densely connected: a 1x1 conv to the growth rate k = 40 (BN, ReLU), a 3x1 + 1x3
pair (BN, ReLU after the pair), the same pair dilated, spatial dropout 0.02, and its output is
concatenated in front of its input. The convs carry biases, as in the PyTorch
re-implementation the authors' README names (wpf535236337/pytorch_EDANet; the authors withheld
their own code and publish layer lists). Logits from the 1x1 projection with bias, no
activation on them; dropout only inside the EDA modules.

Parameters (19 classes): 689,485; 8.83 GMACs at 1x3x512x1024; stage by stage equal to that
re-implementation (tests/golden/zoo2_stages.json); paper 0.68 M (+1.4 %).

Published: 67.3 class mIoU on the Cityscapes test set (paper abstract, 512x1024 input).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, kaiming_init_
from ffseg.layers.asymmetric import FactorizedConv, PoolConcatDown
from ffseg.models._base import SegModel
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import Reported, zoo_cfg
from ffseg.models.erfnet import StageEncoder

__all__ = ["EDAModule", "EDANet", "EDANetEncoder"]

PAPER = (
    "Lo, Hang, Chan, Lin, Efficient Dense Modules of Asymmetric Convolution for Real-Time "
    "Semantic Segmentation, ACM MM Asia 2019"
)

#: Dilations of the modules in EDA blocks 1 and 2 (paper Table 1).
BLOCK1_DILATIONS = (1, 1, 1, 2, 2)
BLOCK2_DILATIONS = (2, 2, 4, 4, 8, 8, 16, 16)


class EDAModule(nn.Module):
    """1x1 conv to ``growth``, two factorised pairs (the second dilated), concat with input."""

    def __init__(self, cin: int, dilation: int, growth: int = 40, dropout: float = 0.02) -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvBNAct(cin, growth, 1, bias=True),
            FactorizedConv(growth, bias=True),
            FactorizedConv(growth, dilation=dilation, bias=True),
            nn.Dropout2d(dropout),
        )
        self.out_channels = cin + growth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.body(x), x], 1)


def _eda_block(cin: int, dilations: tuple[int, ...], growth: int) -> nn.Sequential:
    modules = []
    for d in dilations:
        modules.append(EDAModule(cin, d, growth))
        cin += growth
    return nn.Sequential(*modules)


class EDANetEncoder(StageEncoder):
    """Downsampling and EDA blocks: features at strides 2, 4 and 8 (15, 260, 450 channels)."""

    def __init__(self, growth: int = 40) -> None:
        mid = 60 + growth * len(BLOCK1_DILATIONS)
        super().__init__(
            PoolConcatDown(3, 15, bias=True),
            nn.Sequential(
                PoolConcatDown(15, 60, bias=True), *_eda_block(60, BLOCK1_DILATIONS, growth)
            ),
            nn.Sequential(
                PoolConcatDown(mid, 130, bias=True), *_eda_block(130, BLOCK2_DILATIONS, growth)
            ),
            channels=(15, mid, 130 + growth * len(BLOCK2_DILATIONS)),
        )


class EDANet(SegModel):
    """EDANet: dense asymmetric-convolution encoder, 1x1 projection at stride 8."""

    size_divisor = 8  # its downsampling needs H and W divisible by 8

    classifier_path = "cls"

    def __init__(self, num_classes: int = 19) -> None:
        super().__init__(num_classes)
        self.encoder = EDANetEncoder()
        self.cls = nn.Conv2d(self.encoder.out_channels, num_classes, 1)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at stride 8."""
        return self.cls(self.encoder(x)[-1])


default_cfgs = {
    "edanet": zoo_cfg(
        family="edanet",
        paper=PAPER,
        output_stride=8,
        min_input_size=(64, 64),
        published={
            "cityscapes_test_miou": Reported(67.3, "512x1024 input, single scale", "paper abstract")
        },
    )
}


@register_model
def edanet(**kwargs: Any) -> EDANet:
    """EDANet (paper: 0.68 M params, 67.3 Cityscapes test mIoU)."""
    return build_model(EDANet, "edanet", **kwargs)
