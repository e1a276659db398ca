"""SqueezeNet 1.1 encoder (Iandola et al., 2016) with torchvision-compatible key names.

``SqueezeNetEncoder.features`` mirrors ``torchvision.models.squeezenet1_1().features`` (Fire
modules with ``squeeze``/``expand1x1``/``expand3x3`` convs, no batch norm), so a torchvision
ImageNet checkpoint initialises it through ``pretrained_backbone=path`` (its classifier is
ignored). Two deliberate differences that change no weight shape: the first conv is padded
(torchvision's is not) so every stride divides the input exactly, and the activation is
configurable (SQNet uses ELU). Four features are returned at strides 2, 4, 8, 16
(64, 128, 256, 512 channels).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ffseg.models._features import TappedSequential

__all__ = ["Fire", "SqueezeNetEncoder"]


class Fire(nn.Module):
    """Fire module: 1x1 squeeze, then parallel 1x1 and 3x3 expands, concatenated."""

    def __init__(
        self,
        cin: int,
        squeeze: int,
        expand1x1: int,
        expand3x3: int,
        act: Callable[[], nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(cin, squeeze, 1)
        self.squeeze_activation = act()
        self.expand1x1 = nn.Conv2d(squeeze, expand1x1, 1)
        self.expand1x1_activation = act()
        self.expand3x3 = nn.Conv2d(squeeze, expand3x3, 3, padding=1)
        self.expand3x3_activation = act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat(
            [
                self.expand1x1_activation(self.expand1x1(x)),
                self.expand3x3_activation(self.expand3x3(x)),
            ],
            dim=1,
        )


_OUT_INDICES = (1, 4, 7, 12)


class SqueezeNetEncoder(TappedSequential):
    """SqueezeNet 1.1 ``features`` returning 4 feature maps (strides 2, 4, 8, 16)."""

    def __init__(self, act: Callable[[], nn.Module] = nn.ReLU) -> None:
        features = nn.Sequential(
            nn.Conv2d(3, 64, 3, 2, padding=1),
            act(),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(64, 16, 64, 64, act),
            Fire(128, 16, 64, 64, act),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(128, 32, 128, 128, act),
            Fire(256, 32, 128, 128, act),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(256, 48, 192, 192, act),
            Fire(384, 48, 192, 192, act),
            Fire(384, 64, 256, 256, act),
            Fire(512, 64, 256, 256, act),
        )
        super().__init__(features, _OUT_INDICES, (64, 128, 256, 512))
