"""Encoders made of one ``nn.Sequential`` whose outputs are tapped at given indices."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ffseg.models._base import FeatureInfo

__all__ = ["TappedSequential"]


class TappedSequential(nn.Module):
    """``features`` (a ``nn.Sequential``) returning the outputs of the layers at ``out_indices``.

    Output ``i`` has ``channels[i]`` channels at reduction ``2 ** (i + 1)`` (each tap halves the
    resolution of the one before); ``feature_info`` and ``out_channels`` describe them.
    """

    def __init__(
        self, features: nn.Sequential, out_indices: Sequence[int], channels: Sequence[int]
    ) -> None:
        super().__init__()
        if len(out_indices) != len(channels):
            raise ValueError(f"{len(out_indices)} out_indices but {len(channels)} channels")
        self.features = features
        self.out_indices = tuple(out_indices)
        self.feature_info = [
            FeatureInfo(c, 2 ** (i + 1), f"features.{idx}")
            for i, (c, idx) in enumerate(zip(channels, out_indices))
        ]
        self.out_channels = list(channels)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.out_indices:
                feats.append(x)
        return feats
