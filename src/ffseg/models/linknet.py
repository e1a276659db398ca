"""LinkNet (Chaurasia & Culurciello, VCIP 2017, arXiv:1707.03718).

A ResNet-18 encoder (torchvision key names, ``encoder.*``) and four decoder blocks, each
``1x1 conv (m -> m/4) -> 3x3 full (transposed) conv, x2 -> 1x1 conv (m/4 -> n)`` with BN-ReLU,
whose output is added to the encoder features of the same resolution ("links"); the first
decoder block keeps the 1/4 resolution because ResNet's first stage is not strided. A final
block (3x3 full conv x2, 3x3 conv, 2x2 full conv x2) predicts at the input resolution
(``output_stride=1``). ``backbone=`` takes a deeper torchvision ResNet (``"resnet34"``,
``"resnet50"``, ``"resnet101"``); the decoder widths follow its stage widths.

Parameters: 11.54 M (paper 11.5 M, reference 11.54 M).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, FullConvBNAct, full_conv, kaiming_init_
from ffseg.models._base import SegModel
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import zoo_cfg
from ffseg.models.resnet import build_backbone

__all__ = ["BACKBONES", "DecoderBlock", "LinkNet"]

PAPER = (
    "Chaurasia & Culurciello, LinkNet: Exploiting Encoder Representations for Efficient "
    "Semantic Segmentation, VCIP 2017"
)
#: Encoders ``backbone=`` accepts (torchvision ResNets).
BACKBONES = ("resnet18", "resnet34", "resnet50", "resnet101")


class DecoderBlock(nn.Sequential):
    """LinkNet decoder block: 1x1 (m -> m/4), 3x3 full conv (x``stride``), 1x1 (m/4 -> n)."""

    def __init__(self, cin: int, cout: int, stride: int = 2) -> None:
        mid = cin // 4
        up = FullConvBNAct(mid, mid, stride) if stride > 1 else ConvBNAct(mid, mid, 3)
        super().__init__(ConvBNAct(cin, mid, 1), up, ConvBNAct(mid, cout, 1))


class LinkNet(SegModel):
    """LinkNet on a ResNet encoder (see the module docstring)."""

    size_divisor = 32  # its downsampling needs H and W divisible by 32

    classifier_path = "final.2"

    def __init__(self, backbone: str = "resnet18", num_classes: int = 19) -> None:
        super().__init__(num_classes)
        self.encoder = build_backbone(backbone, family="linknet", choices=BACKBONES)
        c = self.encoder.out_channels
        self.decoders = nn.ModuleList(
            DecoderBlock(c[i], c[i - 1] if i else c[0], 2 if i else 1) for i in (3, 2, 1, 0)
        )
        self.final = nn.Sequential(
            FullConvBNAct(c[0], 32),
            ConvBNAct(32, 32, 3),
            full_conv(32, num_classes, 2, 2, bias=True),
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


default_cfgs = {
    "linknet": zoo_cfg(family="linknet", paper=PAPER, output_stride=1, min_input_size=(32, 32)),
}


@register_model
def linknet(**kwargs: Any) -> LinkNet:
    """LinkNet with ResNet-18 (the paper's model)."""
    return build_model(LinkNet, "linknet", dict(backbone="resnet18"), **kwargs)
