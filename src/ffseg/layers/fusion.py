"""Feature fusion / attention blocks and the small segmentation head shared by the zoo.

* :class:`AttentionRefinementModule` and :class:`FeatureFusionModule` (BiSeNet, reused by STDC);
* :class:`UAFM` with spatial attention (PP-LiteSeg);
* :class:`SegHead`: conv-BN-ReLU (3x3 by default) then a 1x1 classifier (``head.cls`` is the
  final layer).
"""

from __future__ import annotations

import torch
from torch import nn

from ffseg.layers.conv_bn_act import ConvBNAct
from ffseg.layers.resample import resize_to

__all__ = ["UAFM", "AttentionRefinementModule", "FeatureFusionModule", "SegHead"]


class AttentionRefinementModule(nn.Module):
    """BiSeNet ARM: global average pool -> 1x1 conv -> BN -> sigmoid, re-weighting channels."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.attn = ConvBNAct(channels, channels, 1, act=nn.Sigmoid)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.attn(self.pool(x))


class FeatureFusionModule(nn.Module):
    """BiSeNet FFM: concat -> conv-BN-ReLU -> SE-style channel attention (x + x * a)."""

    def __init__(self, cin: int, cout: int, kernel_size: int = 3, reduction: int = 1) -> None:
        super().__init__()
        self.conv = ConvBNAct(cin, cout, kernel_size)
        mid = cout // reduction
        self.attn = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(cout, mid, 1, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, cout, 1, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, *features: torch.Tensor) -> torch.Tensor:
        x = self.conv(torch.cat(features, dim=1))
        return x + x * self.attn(x)


class UAFM(nn.Module):
    """PP-LiteSeg unified attention fusion with spatial attention.

    The low-level feature is projected by a ``low_kernel`` conv-BN-ReLU to ``high_channels``; the
    high-level one is bilinearly upsampled; ``a = sigmoid(conv([mean, max] of both))`` weights
    ``up * a + low * (1 - a)``, followed by a 3x3 conv-BN-ReLU to ``cout``.
    """

    def __init__(
        self, low_channels: int, high_channels: int, cout: int, low_kernel: int = 3
    ) -> None:
        super().__init__()
        self.low = ConvBNAct(low_channels, high_channels, low_kernel)
        self.attn = nn.Sequential(ConvBNAct(4, 2, 3), ConvBNAct(2, 1, 3, act=None))
        self.out = ConvBNAct(high_channels, cout, 3)

    def forward(self, high: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
        low = self.low(low)
        up = resize_to(high, low.shape[-2:], "bilinear_half")
        stats = [
            up.mean(1, keepdim=True),
            up.amax(1, keepdim=True),
            low.mean(1, keepdim=True),
            low.amax(1, keepdim=True),
        ]
        a = torch.sigmoid(self.attn(torch.cat(stats, dim=1)))
        return self.out(up * a + low * (1 - a))


class SegHead(nn.Sequential):
    """``kernel_size`` conv-BN-ReLU to ``mid`` channels, optional dropout, 1x1 classifier ``cls``.

    The classifier has a bias; its path inside a model is ``<head>.cls``.
    """

    def __init__(
        self,
        cin: int,
        mid: int,
        num_classes: int,
        dropout: float = 0.0,
        kernel_size: int = 3,
    ) -> None:
        super().__init__()
        self.conv = ConvBNAct(cin, mid, kernel_size)
        if dropout > 0:
            self.drop = nn.Dropout2d(dropout)
        self.cls = nn.Conv2d(mid, num_classes, 1)
