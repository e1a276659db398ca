"""MobileNetV2 encoder (Sandler et al., CVPR 2018) with torchvision-compatible key names.

``MobileNetV2Encoder.features`` mirrors ``torchvision.models.mobilenet_v2().features[:18]``
(the final 1x1 conv to 1280 channels and the classifier are not part of the encoder), so a
torchvision ImageNet checkpoint initialises it through ``pretrained_backbone=path``. Five
features are returned, at strides 2, 4, 8, 16 and 32 (16, 24, 32, 96, 320 channels).
"""

from __future__ import annotations

from torch import nn

from ffseg.layers.conv_bn_act import ConvBNAct
from ffseg.layers.lightweight import InvertedResidual
from ffseg.models._features import TappedSequential

__all__ = ["MOBILENETV2_SETTINGS", "MobileNetV2Encoder"]

#: (expansion t, channels c, repeats n, stride s) of the paper's Table 2.
MOBILENETV2_SETTINGS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
_OUT_INDICES = (1, 3, 6, 13, 17)  # last block of each resolution


class MobileNetV2Encoder(TappedSequential):
    """MobileNetV2 (width 1.0) ``features[:18]`` returning 5 feature maps."""

    def __init__(self) -> None:
        layers: list[nn.Module] = [ConvBNAct(3, 32, 3, 2, act=nn.ReLU6)]
        cin = 32
        for t, c, n, s in MOBILENETV2_SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        super().__init__(nn.Sequential(*layers), _OUT_INDICES, (16, 24, 32, 96, 320))
