"""Light-weight convolution blocks: depthwise(-separable) convs and inverted residuals.

:class:`InvertedResidual` keeps torchvision's MobileNetV2 key layout (``conv.0.0``, ``conv.0.1``,
..., the last projection as ``conv.N`` + ``conv.N+1``) so torchvision checkpoints load directly.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ffseg.layers.conv_bn_act import ConvBNAct

__all__ = ["DSConvBNAct", "DWConvBNAct", "InvertedResidual", "SEBlock", "channel_shuffle"]

Act = Callable[[], nn.Module] | None


def channel_shuffle(x: torch.Tensor, groups: int = 2) -> torch.Tensor:
    """ShuffleNet channel shuffle: interleave the channels of ``groups`` groups."""
    b, c, h, w = x.shape
    return x.reshape(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)


class DWConvBNAct(ConvBNAct):
    """Depthwise ``k x k`` conv -> BN -> activation (``cout`` a multiple of ``cin``)."""

    def __init__(
        self,
        cin: int,
        cout: int | None = None,
        kernel_size: int = 3,
        stride: int = 1,
        dilation: int = 1,
        act: Act = nn.ReLU,
    ) -> None:
        super().__init__(
            cin, cout or cin, kernel_size, stride, groups=cin, dilation=dilation, act=act
        )


class DSConvBNAct(nn.Sequential):
    """Depthwise-separable conv: depthwise ``k x k`` -> BN -> act -> pointwise -> BN -> act.

    ``dw_act`` controls the activation after the depthwise conv (Fast-SCNN uses one, Xception
    blocks do not).
    """

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel_size: int = 3,
        stride: int = 1,
        dilation: int = 1,
        act: Act = nn.ReLU,
        dw_act: Act = nn.ReLU,
    ) -> None:
        super().__init__(
            DWConvBNAct(cin, cin, kernel_size, stride, dilation, act=dw_act),
            ConvBNAct(cin, cout, 1, act=act),
        )


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expansion -> 3x3 depthwise -> linear 1x1 projection (+ identity).

    The expansion is omitted for ``expand_ratio == 1`` (as in MobileNetV2's first block).
    """

    def __init__(
        self,
        cin: int,
        cout: int,
        stride: int = 1,
        expand_ratio: float = 6,
        dilation: int = 1,
        act: Callable[[], nn.Module] = nn.ReLU6,
    ) -> None:
        super().__init__()
        hidden = round(cin * expand_ratio)
        self.use_res_connect = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvBNAct(cin, hidden, 1, act=act))
        layers += [
            ConvBNAct(hidden, hidden, 3, stride, groups=hidden, dilation=dilation, act=act),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)
        self.out_channels = cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return x + out if self.use_res_connect else out


class SEBlock(nn.Module):
    """Squeeze-and-excitation: global average pool -> 1x1 -> ReLU -> 1x1 -> sigmoid -> scale."""

    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.fc2(self.act(self.fc1(self.pool(x))))
        return x * torch.sigmoid(w)
