"""ESNet (Wang, Zhou, Wu, ESNet: An Efficient Symmetric Network for Real-time Semantic
Segmentation, PRCV 2019, arXiv 1906.09826).

Paper Table 1, a nearly symmetric encoder-decoder: a downsampler (strided 3x3 conv concatenated
with a 2x2 max pool) to 16 channels, 3 factorised convolution units (FCU, 3x3 kernels); a
downsampler to 64, 2 FCUs with 5x5 kernels; a downsampler to 128, 3 parallel FCUs (PFCU); then
a transposed-conv upsampler to 64 + 2 FCUs (5x5), an upsampler to 16 + 2 FCUs (3x3), and a 2x2
transposed conv to the classes at full resolution (``output_stride`` 1).

An FCU is a residual pair of factorised ``k x 1`` + ``1 x k`` convs (ERFNet's non-bottleneck-1D
with kernel ``k``). A PFCU factorises once (3x1 + 1x3, BN, ReLU), then splits into three
parallel dilated factorised pairs (dilations 2, 5, 9; each with BN and spatial dropout 0.3),
sums them with the input and applies ReLU. Encoder FCUs use spatial dropout 0.03.

Parameters (19 classes): 1,660,607. Compared stage by stage with the authors' code
(xiaoyufenfei/ESNet, model/ESNet.py) at 1x3x512x1024: conv MACs equal at every output stride
(24.05 GMACs in all) and params equal at s1, s2 and s4; at s8 ffseg has 1,222,976 against
1,221,440 (+0.13 %), kept on purpose: each PFCU branch here has its own BatchNorm, where the
authors call one BN module (``bn2``) on all three branches, which mixes their statistics and
cannot be folded into the convs (3 PFCUs x 512 = 1,536 params). The authors' ESNet also builds
an encoder-only 1x1 classifier (2,451 params) that the full network never calls; without it
their graph has 1,659,071. Paper: "nearly 1.6 M". Logits: the 2x2 transposed conv at full
resolution, no activation on them. Dropout: spatial (``Dropout2d``) 0.03 in the encoder FCUs,
0.3 in the PFCU branches, none in the decoder.

Published: 70.7 class mIoU on the Cityscapes test set, the paper's test-set comparison as listed
by Papers with Code (the PDF table itself could not be checked here).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ffseg.layers import full_conv, kaiming_init_
from ffseg.layers.asymmetric import FactorizedConv, FactorizedResidual, PoolConcatDown
from ffseg.models._base import SegModel
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import Reported, zoo_cfg
from ffseg.models.erfnet import StageEncoder

__all__ = ["ESNet", "ESNetEncoder", "ParallelFCU"]

PAPER = (
    "Wang, Zhou, Wu, ESNet: An Efficient Symmetric Network for Real-time Semantic "
    "Segmentation, PRCV 2019"
)


class ParallelFCU(nn.Module):
    """One factorised pair, then three parallel dilated pairs summed with the input."""

    def __init__(
        self, channels: int, dilations: tuple[int, ...] = (2, 5, 9), dropout: float = 0.3
    ) -> None:
        super().__init__()
        self.reduce = FactorizedConv(channels, bias=True, mid="act")
        self.branches = nn.ModuleList(
            nn.Sequential(
                FactorizedConv(channels, dilation=d, bias=True, mid="act", act=None),
                nn.Dropout2d(dropout),
            )
            for d in dilations
        )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.reduce(x)
        out = x
        for branch in self.branches:
            out = out + branch(y)
        return self.act(out)


def _fcus(channels: int, kernel_size: int, n: int, dropout: float) -> list[nn.Module]:
    return [FactorizedResidual(channels, kernel_size, dropout=dropout) for _ in range(n)]


def _upsampler(cin: int, cout: int) -> nn.Sequential:
    """3x3 transposed conv (x2, with bias) -> BN -> ReLU."""
    return nn.Sequential(full_conv(cin, cout, 3, 2, bias=True), nn.BatchNorm2d(cout), nn.ReLU())


class ESNetEncoder(StageEncoder):
    """Downsamplers, FCUs and PFCUs: features at strides 2, 4 and 8 (16, 64, 128 channels)."""

    def __init__(self) -> None:
        super().__init__(
            nn.Sequential(PoolConcatDown(3, 16, bias=True), *_fcus(16, 3, 3, 0.03)),
            nn.Sequential(PoolConcatDown(16, 64, bias=True), *_fcus(64, 5, 2, 0.03)),
            nn.Sequential(
                PoolConcatDown(64, 128, bias=True), *(ParallelFCU(128) for _ in range(3))
            ),
            channels=(16, 64, 128),
        )


class ESNet(SegModel):
    """ESNet: symmetric FCU encoder-decoder with parallel dilated units, full-resolution logits."""

    size_divisor = 8  # its downsampling needs H and W divisible by 8

    classifier_path = "cls"

    def __init__(self, num_classes: int = 19) -> None:
        super().__init__(num_classes)
        self.encoder = ESNetEncoder()
        self.decoder = nn.Sequential(
            _upsampler(128, 64), *_fcus(64, 5, 2, 0.0), _upsampler(64, 16), *_fcus(16, 3, 2, 0.0)
        )
        self.cls = full_conv(16, num_classes, kernel_size=2, stride=2, bias=True)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at full resolution (stride 1)."""
        return self.cls(self.decoder(self.encoder(x)[-1]))


default_cfgs = {
    "esnet": zoo_cfg(
        family="esnet",
        paper=PAPER,
        output_stride=1,
        min_input_size=(64, 64),
        published={
            "cityscapes_test_miou": Reported(
                70.7,
                "1024x512 input, single scale",
                "paper test-set comparison (via Papers with Code)",
            )
        },
    )
}


@register_model
def esnet(**kwargs: Any) -> ESNet:
    """ESNet (paper: nearly 1.6 M params)."""
    return build_model(ESNet, "esnet", **kwargs)
