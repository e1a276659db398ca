"""Spatial attention blocks shared by the zoo.

* :class:`FastAttention`: FANet's linear-cost spatial attention (Hu et al. 2020).

BiSeNet's ARM / FFM live in :mod:`ffseg.layers.fusion`, squeeze-and-excitation in
:mod:`ffseg.layers.lightweight`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ffseg.layers.conv_bn_act import ConvBNAct

__all__ = ["FastAttention"]


class FastAttention(nn.Module):
    """FANet's fast attention: ``y = Q^ (K^T V) / n`` with L2-normalised queries and keys.

    Changing the order of the products makes the cost linear in the number of pixels ``n``
    (cosine-similarity attention needs no softmax). Query, key and value are 3x3 conv-BN maps
    of ``channels``; the attended map goes through a 3x3 conv-BN-ReLU and is added to the value.
    """

    def __init__(self, cin: int, channels: int = 32) -> None:
        super().__init__()
        self.query = ConvBNAct(cin, channels, 3, act=None)
        self.key = ConvBNAct(cin, channels, 3, act=None)
        self.value = ConvBNAct(cin, channels, 3, act=None)
        self.out = ConvBNAct(channels, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.query(x), self.key(x), self.value(x)
        b, c, h, w = v.shape
        q = F.normalize(q.flatten(2), dim=1)  # (B, C, n)
        k = F.normalize(k.flatten(2), dim=1)
        context = torch.bmm(k, v.flatten(2).transpose(1, 2))  # (B, C, C): K V^T
        y = torch.bmm(context.transpose(1, 2), q) / (h * w)  # (B, C, n)
        return self.out(y.view(b, c, h, w)) + v
