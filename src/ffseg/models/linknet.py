"""LinkNet (Chaurasia & Culurciello, VCIP 2017, arXiv:1707.03718).

A ResNet-18 encoder (torchvision key names, ``encoder.*``) and four decoder blocks, each
``1x1 conv (m -> m/4) -> 3x3 full (transposed) conv, x2 -> 1x1 conv (m/4 -> n)`` with BN-ReLU,
whose output is added to the encoder features of the same resolution ("links"); the first
decoder block keeps the 1/4 resolution because ResNet's first stage is not strided. A final
block (3x3 full conv x2, 3x3 conv, 2x2 full conv x2) predicts at the input resolution
(``output_stride=1``).

Parameters: 11.54 M (paper 11.5 M, reference 11.54 M).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ffseg.classes import CITYSCAPES_CLASSES
from ffseg.layers import ConvBNAct
from ffseg.layers.init import kaiming_init_
from ffseg.models._base import PretrainedCfg, SegOutput
from ffseg.models._registry import register_model
from ffseg.models.resnet import ResNetEncoder, build_backbone

__all__ = ["DecoderBlock", "LinkNet", "full_conv"]

PAPER = (
    "Chaurasia & Culurciello, LinkNet: Exploiting Encoder Representations for Efficient "
    "Semantic Segmentation, VCIP 2017"
)
LICENSE = "ffseg implementation: Apache-2.0 (no official weights bundled)"


def full_conv(cin: int, cout: int, kernel_size: int = 3, stride: int = 2, bias: bool = False):
    """A transposed ("full") convolution that multiplies the resolution by ``stride`` exactly."""
    padding = (kernel_size - 1) // 2
    extra = stride + 2 * padding - kernel_size  # output_padding so that out = stride * in
    return nn.ConvTranspose2d(cin, cout, kernel_size, stride, padding, extra, bias=bias)


class DecoderBlock(nn.Sequential):
    """LinkNet decoder block: 1x1 (m -> m/4), 3x3 full conv (x``stride``), 1x1 (m/4 -> n)."""

    def __init__(self, cin: int, cout: int, stride: int = 2) -> None:
        mid = cin // 4
        up: nn.Module = (
            nn.Sequential(
                full_conv(mid, mid, 3, stride), nn.BatchNorm2d(mid), nn.ReLU(inplace=True)
            )
            if stride > 1
            else ConvBNAct(mid, mid, 3)
        )
        super().__init__(ConvBNAct(cin, mid, 1), up, ConvBNAct(mid, cout, 1))


class LinkNet(nn.Module):
    """LinkNet on a ResNet encoder (see the module docstring)."""

    encoder_prefix = "encoder."

    def __init__(self, backbone: str = "resnet18", num_classes: int = 19) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.encoder = build_backbone(backbone)
        c = self.encoder.out_channels
        self.decoders = nn.ModuleList(
            DecoderBlock(c[i], c[i - 1] if i else c[0], 2 if i else 1) for i in (3, 2, 1, 0)
        )
        self.final = nn.Sequential(
            full_conv(c[0], 32),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            ConvBNAct(32, 32, 3),
            full_conv(32, num_classes, 2, 2, bias=True),
        )
        self.pretrained_cfg = PretrainedCfg(
            architecture="linknet",
            num_classes=num_classes,
            output_stride=1,
            classifier="final.4",
            paper=PAPER,
            license=LICENSE,
            family="linknet",
            min_input_size=(32, 32),
        )
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at the input resolution."""
        feats = self.encoder(x)
        y = feats[3]
        for i, decoder in enumerate(self.decoders):
            y = decoder(y)
            if i < 3:
                y = y + feats[2 - i]
        return self.final(y)

    def forward_train(self, x: torch.Tensor) -> SegOutput:
        """Training outputs: LinkNet has no auxiliary heads."""
        return SegOutput(self(x))

    def feature_encoder(self) -> ResNetEncoder:
        """The ResNet encoder (shares this model's weights) for ``features_only``."""
        return self.encoder


@register_model
def linknet(**kwargs: Any) -> LinkNet:
    """LinkNet with ResNet-18 (paper: 76.4 Cityscapes class IoU at 1024x512)."""
    model = LinkNet("resnet18", **kwargs)
    model.pretrained_cfg = model.pretrained_cfg.replace(
        classes=CITYSCAPES_CLASSES if model.num_classes == 19 else None,
    )
    return model
