"""SwiftNet (single scale): In Defense of Pre-trained ImageNet Architectures for Real-time
Semantic Segmentation of Road-driving Images (Oršić et al., CVPR 2019, arXiv:1903.08469).

A ResNet-18 encoder (torchvision key names, ``encoder.*``), spatial pyramid pooling on the
1/32 features (:class:`~ffseg.layers.pyramid.SpatialPyramidPooling`, grids 8/4/2/1 following
the input aspect ratio, 128 channels), and a light upsampling path: three modules, each adding
a 1x1 lateral projection of an encoder stage (1/16, 1/8, 1/4) to the bilinearly upsampled
coarser features and blending with a 3x3 conv, all with 128 channels and pre-activation
BN-ReLU-Conv units. A BN-ReLU-1x1 classifier predicts at 1/4 (``output_stride=4``).

``backbone=`` picks another ImageNet encoder: the paper's second one, ``"mobilenetv2"`` (its
last four levels feed the decoder), or a deeper torchvision ResNet (``"resnet34"``,
``"resnet50"``, ``"resnet101"``).

Parameters: 11.81 M (paper: 11.8 M; reference: 11.95 M, -1.2 %). Adaptive pooling to fixed
grids makes ONNX export static-shape only, and the grids' aspect ratio, read from the input as a
Python number, makes a ``torch.jit.trace`` valid only at the traced size.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ffseg.layers import kaiming_init_, resize_to
from ffseg.layers.pyramid import BNActConv, SpatialPyramidPooling
from ffseg.models._base import SegModel
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import Reported, zoo_cfg
from ffseg.models.mobilenetv2 import MobileNetV2Encoder
from ffseg.models.resnet import build_backbone

__all__ = ["BACKBONES", "SwiftNet", "UpsampleModule"]

PAPER = (
    "Oršić et al., In Defense of Pre-trained ImageNet Architectures for Real-time Semantic "
    "Segmentation of Road-driving Images, CVPR 2019"
)
#: Encoders ``backbone=`` accepts (ImageNet encoders with torchvision key names).
BACKBONES = ("resnet18", "resnet34", "resnet50", "resnet101", "mobilenetv2")


class UpsampleModule(nn.Module):
    """Upsample the coarse input, add a 1x1 lateral projection of the skip, blend with 3x3."""

    def __init__(self, skip_channels: int, channels: int = 128) -> None:
        super().__init__()
        self.lateral = BNActConv(skip_channels, channels, 1)
        self.blend = BNActConv(channels, channels, 3)

    def forward(self, coarse: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        skip = self.lateral(skip)
        return self.blend(skip + resize_to(coarse, skip.shape[-2:], "bilinear_half"))


class SwiftNet(SegModel):
    """Single-scale SwiftNet on an ImageNet encoder (see the module docstring)."""

    classifier_path = "head.2"
    supports_dynamic_shapes = False
    supports_torchscript = False

    def __init__(
        self, backbone: str = "resnet18", num_classes: int = 19, channels: int = 128
    ) -> None:
        super().__init__(num_classes)
        if backbone.lower() not in BACKBONES:
            raise ValueError(
                f"unknown swiftnet backbone {backbone!r}; choose one of {', '.join(BACKBONES)}"
            )
        self.encoder = (
            MobileNetV2Encoder() if backbone.lower() == "mobilenetv2" else build_backbone(backbone)
        )
        c4, c8, c16, c32 = self.encoder.out_channels[-4:]
        self.spp = SpatialPyramidPooling(c32, channels, channels // 4, channels)
        self.up = nn.ModuleList(UpsampleModule(c, channels) for c in (c16, c8, c4))
        self.head = BNActConv(channels, num_classes, 1, bias=True)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at 1/4 of the input size."""
        f4, f8, f16, f32 = self.encoder(x)[-4:]
        y = self.spp(f32)
        for module, skip in zip(self.up, (f16, f8, f4)):
            y = module(y, skip)
        return self.head(y)


_AT = "1024x2048, single scale"
_SRC = "SwiftNet paper, Cityscapes table (SwiftNetRN-18)"

default_cfgs = {
    "swiftnet": zoo_cfg(
        family="swiftnet",
        paper=PAPER,
        output_stride=4,
        published={
            "cityscapes_val_miou": Reported(75.4, _AT, _SRC),
            "cityscapes_test_miou": Reported(75.5, _AT, _SRC),
        },
    ),
}


@register_model
def swiftnet(**kwargs: Any) -> SwiftNet:
    """SwiftNet-RN18 single scale (paper: 75.4 Cityscapes val / 75.5 test mIoU)."""
    return build_model(SwiftNet, "swiftnet", dict(backbone="resnet18"), **kwargs)
