"""Pieces of the multi-resolution fusions that HRNet and DDRNet share.

Both networks exchange information between parallel branches: a coarser branch reaches a finer
one through a 1x1 conv-BN and upsampling, a finer branch reaches a coarser one through a chain
of strided 3x3 conv-BN steps (:class:`StridedConvChain`).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from torch import nn

from ffseg.layers.conv_bn_act import conv3x3

__all__ = ["StridedConvChain"]


class StridedConvChain(nn.Sequential):
    """Strided 3x3 conv-BN steps through ``channels`` (ReLU between steps, none after the last).

    ``channels = (cin, mid, ..., cout)`` gives ``len(channels) - 1`` steps, each halving the
    resolution: ``conv, bn, relu, conv, bn, ...`` (children indexed in that order).
    """

    def __init__(self, channels: Sequence[int]) -> None:
        if len(channels) < 2:
            raise ValueError(f"channels needs at least (cin, cout), got {tuple(channels)}")
        layers: list[nn.Module] = []
        steps = list(pairwise(channels))
        for i, (cin, cout) in enumerate(steps):
            layers += [conv3x3(cin, cout, 2), nn.BatchNorm2d(cout)]
            if i < len(steps) - 1:
                layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)
