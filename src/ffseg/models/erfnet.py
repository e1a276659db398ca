"""ERFNet (Romera et al., ERFNet: Efficient Residual Factorized ConvNet for Real-time Semantic
Segmentation, IEEE T-ITS 2018).

Paper Table 1: an encoder of downsampler blocks (a strided 3x3 conv concatenated with a 2x2 max
pool; 3 -> 16 -> 64 -> 128 channels) and "non-bottleneck-1D" residual blocks (5 at 64 channels,
then 2 x dilations 2, 4, 8, 16 at 128), and a small decoder of transposed-conv upsamplers
(128 -> 64 -> 16) each followed by two non-bottleneck-1D blocks, ending in a 2x2 transposed conv
to the classes at full resolution (``output_stride`` 1). A non-bottleneck-1D block is two
factorised 3x1 + 1x3 conv pairs (biases, ReLU in between, BN after each pair; the second pair
dilated), spatial dropout (0.03 at 64 channels, 0.3 at 128, none in the decoder) and a
residual ReLU.

Parameters (19 classes): 2,064,191. Compared stage by stage with the authors' code
(Eromera/erfnet_pytorch, train/erfnet.py) at 1x3x512x1024: params and conv MACs equal at every
output stride (s1 1,235 / 0.16 G, s2 16,060 / 1.15 G, s4 428,656 / 12.10 G, s8 1,618,240 /
13.19 G; 26.60 GMACs in all). The authors' encoder also builds a 1x1 classifier (2,451 params)
that only their encoder-only training calls; it is not built here. Logits: the 2x2 transposed
conv at full resolution, no activation on them. Dropout: spatial (``Dropout2d``) in the encoder
blocks only. BatchNorm uses PyTorch's default epsilon instead of the authors' 1e-3 (no effect
on the count or the graph).

Published: 68.0 class mIoU on the Cityscapes test set trained from scratch (the T-ITS paper;
the 66.3 often quoted is the earlier IV 2017 conference version, and 69.7 the T-ITS model with
an ImageNet-pretrained encoder).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ffseg.layers import full_conv, kaiming_init_
from ffseg.layers.asymmetric import FactorizedResidual, PoolConcatDown
from ffseg.models._base import FeatureInfo, SegModel
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import Reported, zoo_cfg

__all__ = ["ERFNet", "ERFNetEncoder", "StageEncoder"]

PAPER = (
    "Romera et al., ERFNet: Efficient Residual Factorized ConvNet for Real-time Semantic "
    "Segmentation, IEEE T-ITS 2018"
)


class StageEncoder(nn.Module):
    """Stages ``stage1``, ``stage2``, ... run in sequence, each halving the resolution; returns
    every stage's output (strides 2, 4, 8, ...). ERFNet's encoder layout, shared by ESNet,
    LEDNet, EDANet and FDDWNet."""

    def __init__(self, *stages: nn.Module, channels: tuple[int, ...]) -> None:
        super().__init__()
        for i, stage in enumerate(stages, 1):
            self.add_module(f"stage{i}", stage)
        self.feature_info = [FeatureInfo(c, 2**i, f"stage{i}") for i, c in enumerate(channels, 1)]
        self.out_channels = channels[-1]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for stage in self.children():
            x = stage(x)
            feats.append(x)
        return feats


class ERFNetEncoder(StageEncoder):
    """Downsamplers and non-bottleneck-1D blocks: features at strides 2, 4 and 8."""

    def __init__(self, dilations: tuple[int, ...] = (2, 4, 8, 16), repeats: int = 2) -> None:
        super().__init__(
            PoolConcatDown(3, 16, bias=True),
            nn.Sequential(
                PoolConcatDown(16, 64, bias=True),
                *(FactorizedResidual(64, dropout=0.03) for _ in range(5)),
            ),
            nn.Sequential(
                PoolConcatDown(64, 128, bias=True),
                *(
                    FactorizedResidual(128, dilation=d, dropout=0.3)
                    for _ in range(repeats)
                    for d in dilations
                ),
            ),
            channels=(16, 64, 128),
        )


class ERFNet(SegModel):
    """ERFNet: factorised residual encoder, transposed-conv decoder, full-resolution logits."""

    size_divisor = 8  # its downsampling needs H and W divisible by 8

    classifier_path = "cls"

    def __init__(self, num_classes: int = 19) -> None:
        super().__init__(num_classes)
        self.encoder = ERFNetEncoder()
        self.decoder = nn.Sequential(
            _upsampler(128, 64),
            FactorizedResidual(64),
            FactorizedResidual(64),
            _upsampler(64, 16),
            FactorizedResidual(16),
            FactorizedResidual(16),
        )
        self.cls = full_conv(16, num_classes, kernel_size=2, stride=2, bias=True)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at full resolution (stride 1)."""
        return self.cls(self.decoder(self.encoder(x)[-1]))


def _upsampler(cin: int, cout: int) -> nn.Sequential:
    """ERFNet's upsampler: 3x3 transposed conv (x2, with bias) -> BN -> ReLU."""
    return nn.Sequential(full_conv(cin, cout, 3, 2, bias=True), nn.BatchNorm2d(cout), nn.ReLU())


default_cfgs = {
    "erfnet": zoo_cfg(
        family="erfnet",
        paper=PAPER,
        output_stride=1,
        min_input_size=(64, 64),
        published={
            "cityscapes_test_miou": Reported(
                68.0,
                "1024x512 input, single scale, trained from scratch",
                "T-ITS paper, Cityscapes test-set comparison",
            )
        },
    )
}


@register_model
def erfnet(**kwargs: Any) -> ERFNet:
    """ERFNet (paper: 68.0 Cityscapes test mIoU from scratch)."""
    return build_model(ERFNet, "erfnet", **kwargs)
