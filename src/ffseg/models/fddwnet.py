"""FDDWNet (Liu, Zhou, Qiang, Kang, Wu, Zheng, FDDWNet: A Lightweight Convolutional Neural
Network for Real-time Semantic Segmentation, ICASSP 2020, arXiv 1911.00632).

Paper Table 1 (layer facts checked against the first author's public code, lj107024/FDDWNet):
downsampling units 3 -> 16 -> 64 (a strided 3x3 conv concatenated with a 2x2 max pool, BN,
ReLU6), 5 EERM units at 64 channels (stride 4), a downsampling unit to 128 and 16 EERM units
at stride 8 with dilations 1, 2, 5, 9 (twice) and 2, 5, 9, 17 (twice). The decoder upsamples
with 3x3 transposed convs (BN, ReLU6): 128 -> 64, summed with an EERM of the stride-4 features
(ReLU6) and refined by 2 EERMs; 64 -> 16, summed with a transposed-conv upsampling (64 -> 16)
of the stride-4 features followed by an EERM (ReLU6), refined by 2 EERMs; a 2x2 transposed conv
gives the classes at full resolution (``output_stride`` 1). These skip branches are the
"multiple branches of skipped connections" of the abstract.

An EERM (efficient extremely residual module) is two factorised dilated depth-wise separable
convolutions (FDDWC): depthwise 3x1 -> BN -> depthwise 1x3 -> BN -> pointwise 1x1 -> BN, ReLU6
after the first and on the residual sum; the second FDDWC is dilated. Spatial dropout 0.03 at
64 channels, 0.3 at 128, none in the decoder. Convs carry biases as in the authors' code.

Logits from the final transposed conv with bias, no activation on them.

Parameters (19 classes): 807,951; 9.06 GMACs at 1x3x512x1024; stage by stage equal to the
authors' code (lj107024/FDDWNet model/FDDWNet.py; tests/golden/zoo2_stages.json), whose BNs
use eps 1e-3 (ffseg's default 1e-5). Paper 0.8 M (+1.0 %), reference count 0.77 M.

Published: none stored. The 71.5 Cityscapes test mIoU quoted by third-party tables (zoo.md:
"secondary") could not be checked against the paper's own table here, so it is left out.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, full_conv, kaiming_init_
from ffseg.layers.asymmetric import FactorizedConv, PoolConcatDown
from ffseg.models._base import SegModel
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import zoo_cfg
from ffseg.models.erfnet import StageEncoder

__all__ = ["EERM", "FDDWNet", "FDDWNetEncoder"]

PAPER = (
    "Liu et al., FDDWNet: A Lightweight Convolutional Neural Network for Real-time Semantic "
    "Segmentation, ICASSP 2020"
)

#: Dilations of the 16 EERM units at stride 8 (paper Table 1).
DEEP_DILATIONS = (1, 2, 5, 9) * 2 + (2, 5, 9, 17) * 2


def _fddwc(channels: int, dilation: int, act: bool) -> nn.Sequential:
    """Factorised dilated depth-wise separable conv: dw kx1 -> BN -> dw 1xk -> BN -> 1x1 -> BN."""
    return nn.Sequential(
        FactorizedConv(channels, dilation=dilation, groups=channels, bias=True, mid="bn", act=None),
        ConvBNAct(channels, channels, 1, bias=True, act=nn.ReLU6 if act else None),
    )


class EERM(nn.Module):
    """Two FDDWCs (the second dilated) in a residual with ReLU6."""

    def __init__(self, channels: int, dilation: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _fddwc(channels, 1, act=True),
            _fddwc(channels, dilation, act=False),
            nn.Dropout2d(dropout) if dropout > 0 else nn.Identity(),
        )
        self.act = nn.ReLU6(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))


def _upsampler(cin: int, cout: int) -> nn.Sequential:
    """3x3 transposed conv (x2, with bias) -> BN -> ReLU6."""
    return nn.Sequential(full_conv(cin, cout, 3, 2, bias=True), nn.BatchNorm2d(cout), nn.ReLU6())


class FDDWNetEncoder(StageEncoder):
    """Downsampling units and EERMs: features at strides 2, 4 and 8 (16, 64, 128 channels)."""

    def __init__(self) -> None:
        super().__init__(
            PoolConcatDown(3, 16, bias=True, act=nn.ReLU6),
            nn.Sequential(
                PoolConcatDown(16, 64, bias=True, act=nn.ReLU6),
                *(EERM(64, 1, 0.03) for _ in range(5)),
            ),
            nn.Sequential(
                PoolConcatDown(64, 128, bias=True, act=nn.ReLU6),
                *(EERM(128, d, 0.3) for d in DEEP_DILATIONS),
            ),
            channels=(16, 64, 128),
        )


class FDDWNet(SegModel):
    """FDDWNet: EERM encoder, decoder with two skip branches from stride 4, full resolution."""

    size_divisor = 8  # its downsampling needs H and W divisible by 8

    classifier_path = "cls"

    def __init__(self, num_classes: int = 19) -> None:
        super().__init__(num_classes)
        self.encoder = FDDWNetEncoder()
        self.up8 = _upsampler(128, 64)
        self.skip4 = EERM(64)
        self.refine4 = nn.Sequential(EERM(64), EERM(64))
        self.up4 = _upsampler(64, 16)
        self.skip2 = nn.Sequential(_upsampler(64, 16), EERM(16))
        self.refine2 = nn.Sequential(EERM(16), EERM(16))
        self.act = nn.ReLU6()
        self.cls = full_conv(16, num_classes, kernel_size=2, stride=2, bias=True)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at full resolution (stride 1)."""
        _, s4, s8 = self.encoder(x)
        y = self.refine4(self.act(self.up8(s8) + self.skip4(s4)))
        y = self.refine2(self.act(self.up4(y) + self.skip2(s4)))
        return self.cls(y)


default_cfgs = {
    "fddwnet": zoo_cfg(
        family="fddwnet",
        paper=PAPER,
        output_stride=1,
        min_input_size=(64, 64),
    )
}


@register_model
def fddwnet(**kwargs: Any) -> FDDWNet:
    """FDDWNet (paper: 0.8 M params)."""
    return build_model(FDDWNet, "fddwnet", **kwargs)
