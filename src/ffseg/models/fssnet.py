"""FSSNet (Zhang et al., Fast Semantic Segmentation for Scene Perception, IEEE TII 2019).

An ENet-style encoder-decoder with PReLU activations. Encoder: the initial block (a 3x3/2 conv
to 13 channels concatenated with a max-pooling of the input, 16 channels, stride 2); a
downsampling block to 64 channels (stride 4); four factorised residual blocks (1x1 reduce to a
quarter, 1x3 and 3x1 convs, 1x1 expand, identity shortcut); a downsampling block to 128
channels (stride 8); six dilated residual blocks (3x3 dilation 2, 5, 9, 2, 5, 9). A
downsampling block adds a main path (2x2/2 conv to a quarter, 3x3 conv, 1x1 conv) to a pooled
path (3x3/2 max-pooling, 1x1 conv). Decoder: an upsampling block to 64 channels (a transposed
3x3/2 conv bottleneck added to the 1x1-projected, bilinearly upsampled sum of its input and
the encoder feature of the same resolution), two residual blocks, the same to 16 channels, two
residual blocks, and a transposed 3x3/2 conv to the classes at full resolution
(``output_stride`` 1).

The final transposed conv is the classifier (with a bias; the reference adds BN + PReLU after
it). Layer widths and dilations follow the reference re-implementation, the paper gives no
per-layer table here to check them against.

Parameters (19 classes): 0.199 M; paper 0.2 M (-0.3 %), reference 0.20 M (within 1 %: no
BN between the 1x3 and 3x1 convs, no BN + PReLU after the classifier).

Published: 58.8 Cityscapes test mIoU (a secondary source: not checked against the paper, so
not stored).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, full_conv, kaiming_init_, resize_to
from ffseg.layers.asymmetric import FactorizedConv, PoolConcatDown
from ffseg.models._base import FeatureInfo, SegModel
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import zoo_cfg

__all__ = ["FSSNet", "FSSNetEncoder"]

PAPER = "Zhang et al., Fast Semantic Segmentation for Scene Perception, IEEE TII 2019"

Act = nn.PReLU


class Residual(nn.Module):
    """``PReLU(x + body(x))`` for a bottleneck ``body``: 1x1 to a quarter, a middle, 1x1 back."""

    def __init__(self, channels: int, middle: nn.Module) -> None:
        super().__init__()
        hid = channels // 4
        self.body = nn.Sequential(
            ConvBNAct(channels, hid, 1, act=Act), middle, ConvBNAct(hid, channels, 1, act=None)
        )
        self.act = Act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))


def factorized_block(channels: int) -> Residual:
    """Residual bottleneck around a 1x3 then 3x1 conv pair."""
    hid = channels // 4
    return Residual(channels, FactorizedConv(hid, hid, 3, act=Act, horizontal_first=True))


def dilated_block(channels: int, dilation: int = 1) -> Residual:
    """Residual bottleneck around a dilated 3x3 conv."""
    hid = channels // 4
    return Residual(channels, ConvBNAct(hid, hid, 3, dilation=dilation, act=Act))


class Downsample(nn.Module):
    """Main path (2x2/2 conv, 3x3 conv, 1x1 conv) + pooled path (3x3/2 max-pool, 1x1 conv)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        hid = cout // 4
        self.main = nn.Sequential(
            ConvBNAct(cin, hid, 2, 2, act=Act),
            ConvBNAct(hid, hid, 3, act=Act),
            ConvBNAct(hid, cout, 1, act=None),
        )
        self.pool = nn.Sequential(nn.MaxPool2d(3, 2, 1), ConvBNAct(cin, cout, 1, act=None))
        self.act = Act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.main(x) + self.pool(x))


class Upsample(nn.Module):
    """Transposed-conv bottleneck + 1x1-projected, bilinearly upsampled (input + skip)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        hid = cin // 4
        self.deconv = nn.Sequential(
            ConvBNAct(cin, hid, 1, act=Act),
            full_conv(hid, hid, 3, 2),
            nn.BatchNorm2d(hid),
            Act(),
            ConvBNAct(hid, cout, 1, act=None),
        )
        self.project = ConvBNAct(cin, cout, 1, act=None)
        self.act = Act()

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = self.deconv(x)
        return self.act(up + resize_to(self.project(x + skip), up.shape[-2:], "bilinear"))


class FSSNetEncoder(nn.Module):
    """Initial block, factorised stage (stride 4, 64 ch), dilated stage (stride 8, 128 ch)."""

    def __init__(self, dilations: Sequence[int] = (2, 5, 9, 2, 5, 9)) -> None:
        super().__init__()
        self.initial = PoolConcatDown(3, 16, act=Act)
        self.down1 = Downsample(16, 64)
        self.factorized = nn.Sequential(*(factorized_block(64) for _ in range(4)))
        self.down2 = Downsample(64, 128)
        self.dilated = nn.Sequential(*(dilated_block(128, d) for d in dilations))
        self.feature_info = [
            FeatureInfo(16, 2, "initial"),
            FeatureInfo(64, 4, "down1"),
            FeatureInfo(128, 8, "down2"),
            FeatureInfo(128, 8, "dilated"),
        ]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x0 = self.initial(x)
        d1 = self.down1(x0)
        d2 = self.down2(self.factorized(d1))
        return [x0, d1, d2, self.dilated(d2)]


class FSSNet(SegModel):
    """FSSNet: ENet-style encoder, two skip-adding upsampling stages, transposed-conv classifier."""

    size_divisor = 8  # its downsampling needs H and W divisible by 8

    classifier_path = "cls"

    def __init__(self, num_classes: int = 19) -> None:
        super().__init__(num_classes)
        self.encoder = FSSNetEncoder()
        self.up2 = Upsample(128, 64)
        self.decoder2 = nn.Sequential(dilated_block(64), dilated_block(64))
        self.up1 = Upsample(64, 16)
        self.decoder1 = nn.Sequential(dilated_block(16), dilated_block(16))
        self.cls = full_conv(16, num_classes, 3, 2, bias=True)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at the input resolution (stride 1)."""
        _, d1, d2, x = self.encoder(x)
        x = self.decoder2(self.up2(x, d2))
        x = self.decoder1(self.up1(x, d1))
        return self.cls(x)


default_cfgs = {
    "fssnet": zoo_cfg(family="fssnet", paper=PAPER, output_stride=1, min_input_size=(8, 8))
}


@register_model
def fssnet(**kwargs: Any) -> FSSNet:
    """FSSNet (paper: 0.2 M params)."""
    return build_model(FSSNet, "fssnet", **kwargs)
