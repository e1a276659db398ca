"""SwiftNet (single scale): In Defense of Pre-trained ImageNet Architectures for Real-time
Semantic Segmentation of Road-driving Images (Oršić et al., CVPR 2019, arXiv:1903.08469).

A ResNet-18 encoder (torchvision key names, ``encoder.*``), spatial pyramid pooling on the
1/32 features (:class:`~ffseg.layers.pyramid.SpatialPyramidPooling`, grids 8/4/2/1 following
the input aspect ratio, 128 channels), and a light upsampling path: three modules, each adding
a 1x1 lateral projection of an encoder stage (1/16, 1/8, 1/4) to the bilinearly upsampled
coarser features and blending with a 3x3 conv, all with 128 channels and pre-activation
BN-ReLU-Conv units. A BN-ReLU-1x1 classifier predicts at 1/4 (``output_stride=4``).

Parameters: 11.81 M (paper: 11.8 M; reference: 11.95 M, -1.2 %). Adaptive pooling to fixed
grids makes ONNX export static-shape only.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ffseg.classes import CITYSCAPES_CLASSES
from ffseg.layers import resize_to
from ffseg.layers.init import kaiming_init_
from ffseg.layers.pyramid import BNActConv, SpatialPyramidPooling
from ffseg.models._base import PretrainedCfg, SegOutput
from ffseg.models._registry import register_model
from ffseg.models.resnet import ResNetEncoder, build_backbone

__all__ = ["SwiftNet", "UpsampleModule"]

PAPER = (
    "Oršić et al., In Defense of Pre-trained ImageNet Architectures for Real-time Semantic "
    "Segmentation of Road-driving Images, CVPR 2019"
)
LICENSE = "ffseg implementation: Apache-2.0 (no official weights bundled)"


class UpsampleModule(nn.Module):
    """Upsample the coarse input, add a 1x1 lateral projection of the skip, blend with 3x3."""

    def __init__(self, skip_channels: int, channels: int = 128) -> None:
        super().__init__()
        self.lateral = BNActConv(skip_channels, channels, 1)
        self.blend = BNActConv(channels, channels, 3)

    def forward(self, coarse: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        skip = self.lateral(skip)
        return self.blend(skip + resize_to(coarse, skip.shape[-2:], "bilinear_half"))


class SwiftNet(nn.Module):
    """Single-scale SwiftNet on a ResNet encoder (see the module docstring)."""

    encoder_prefix = "encoder."

    def __init__(self, backbone: str = "resnet18", num_classes: int = 19, channels: int = 128):
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.encoder = build_backbone(backbone)
        c4, c8, c16, c32 = self.encoder.out_channels
        self.spp = SpatialPyramidPooling(c32, channels, channels // 4, channels)
        self.up = nn.ModuleList(UpsampleModule(c, channels) for c in (c16, c8, c4))
        self.head = BNActConv(channels, num_classes, 1, bias=True)
        self.pretrained_cfg = PretrainedCfg(
            architecture="swiftnet",
            num_classes=num_classes,
            output_stride=4,
            classifier="head.2",
            paper=PAPER,
            license=LICENSE,
            family="swiftnet",
            onnx_dynamic_shapes=False,
            min_input_size=(64, 64),
        )
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at 1/4 of the input size."""
        f4, f8, f16, f32 = self.encoder(x)
        y = self.spp(f32)
        for module, skip in zip(self.up, (f16, f8, f4)):
            y = module(y, skip)
        return self.head(y)

    def forward_train(self, x: torch.Tensor) -> SegOutput:
        """Training outputs: SwiftNet has no auxiliary heads."""
        return SegOutput(self(x))

    def feature_encoder(self) -> ResNetEncoder:
        """The ResNet encoder (shares this model's weights) for ``features_only``."""
        return self.encoder


@register_model
def swiftnet(**kwargs: Any) -> SwiftNet:
    """SwiftNet-RN18 single scale (paper: 75.4 Cityscapes val / 75.5 test mIoU)."""
    model = SwiftNet("resnet18", **kwargs)
    model.pretrained_cfg = model.pretrained_cfg.replace(
        classes=CITYSCAPES_CLASSES if model.num_classes == 19 else None,
        published={"cityscapes_val_miou": 75.4, "cityscapes_test_miou": 75.5},
    )
    return model
