"""FANet: Real-time Semantic Segmentation with Fast Attention (Hu et al., RA-L 2020).

A ResNet encoder whose four stages each pass through a fast attention module
(:class:`~ffseg.layers.attention.FastAttention`, 32 channels); a top-down path upsamples and
adds coarser levels, each merged by a 3x3 conv; the four merged levels are concatenated at the
finest level and classified by a 3x3 conv-BN-ReLU + 1x1 conv.

For high-resolution inputs FANet applies an "additional spatial reduction" to the first stage;
the FFNet paper (Table 3) compares FANet with ResNet-18/34/50/101 and FFNet's basic-block
ResNet-56/134 in exactly that setting, so every variant here has a stride-2 first stage and
predicts at 1/8 (``output_stride=8``; ``first_stage_stride=1`` gives the 1/4 variant). The
strided first block of basic-block encoders uses a parameter-free 2x2 average-pool shortcut, so
the encoder keeps torchvision's key names and shapes and a torchvision ResNet checkpoint loads
with ``pretrained_backbone=path``.

Every variant is one registered name per encoder; ``create_model("fanet18", backbone=...)``
takes any of the six (:data:`BACKBONES`). Parameters: ``fanet18`` has 12.23 M against the
reference 12.26 M (-0.2 %); the paper does not state counts for the other backbones.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, kaiming_init_, resize_to
from ffseg.layers.attention import FastAttention
from ffseg.layers.fusion import SegHead
from ffseg.models._base import PretrainedCfg, SegModel
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import Reported, zoo_cfg
from ffseg.models.resnet import BasicBlock, ResNetEncoder, build_backbone

__all__ = ["BACKBONES", "FANet", "resnet_encoder"]

PAPER = "Hu et al., Real-time Semantic Segmentation with Fast Attention, IEEE RA-L 2020"

#: The paper's ResNet-18/34 and the four more encoders of the FFNet paper's Table 3.
BACKBONES = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet56", "resnet134")


def resnet_encoder(name: str, first_stage_stride: int = 1) -> ResNetEncoder:
    """A named ResNet encoder (torchvision key names for stem ``A``).

    With ``first_stage_stride=2`` a basic-block first stage gets a parameter-free average-pool
    shortcut instead of a 1x1 projection, so torchvision checkpoints still fit exactly.
    """
    encoder = build_backbone(name, first_stage_stride)
    first = encoder.layer1[0]
    if first_stage_stride == 2 and isinstance(first, BasicBlock):
        first.downsample = nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False)
    return encoder


class FANet(SegModel):
    """FANet on a named ResNet encoder (see the module docstring)."""

    def __init__(
        self,
        backbone: str = "resnet18",
        num_classes: int = 19,
        channels: int = 32,
        head_channels: int = 128,
        first_stage_stride: int = 2,
    ) -> None:
        super().__init__(num_classes)
        if backbone.lower() not in BACKBONES:
            raise ValueError(
                f"unknown fanet backbone {backbone!r}; choose one of {', '.join(BACKBONES)}"
            )
        self.output_stride = 4 * first_stage_stride
        self.encoder = resnet_encoder(backbone, first_stage_stride)
        cins = self.encoder.out_channels
        self.attention = nn.ModuleList(FastAttention(c, channels) for c in cins)
        self.merge = nn.ModuleList(ConvBNAct(channels, channels, 3) for _ in cins)
        self.head = SegHead(channels * len(cins), head_channels, num_classes)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at the first stage's resolution (1/8 by default)."""
        feats = self.encoder(x)
        merged: list[torch.Tensor] = []
        top: torch.Tensor | None = None
        for i in range(len(feats) - 1, -1, -1):
            y = self.attention[i](feats[i])
            if top is not None:
                y = y + resize_to(top, y.shape[-2:], "bilinear")
            top = self.merge[i](y)
            merged.append(top)
        size = merged[-1].shape[-2:]
        cat = torch.cat([resize_to(m, size, "bilinear") for m in reversed(merged)], dim=1)
        return self.head(cat)


def _cfg(**published: Reported) -> PretrainedCfg:
    return zoo_cfg(family="fanet", paper=PAPER, output_stride=8, published=published)


_AT = "1024x2048, single scale"
_SRC = "FANet paper, Cityscapes test comparison table"

default_cfgs = {
    "fanet18": _cfg(cityscapes_test_miou=Reported(74.4, _AT, _SRC)),
    "fanet34": _cfg(cityscapes_test_miou=Reported(75.5, _AT, _SRC)),
    "fanet50": _cfg(),
    "fanet101": _cfg(),
    "fanet56": _cfg(),
    "fanet134": _cfg(),
}


@register_model
def fanet18(**kwargs: Any) -> FANet:
    """FANet-18: ResNet-18, stride-2 first stage (paper: 74.4 Cityscapes test mIoU)."""
    return build_model(FANet, "fanet18", dict(backbone="resnet18"), **kwargs)


@register_model
def fanet34(**kwargs: Any) -> FANet:
    """FANet-34: ResNet-34, stride-2 first stage (paper: 75.5 Cityscapes test mIoU)."""
    return build_model(FANet, "fanet34", dict(backbone="resnet34"), **kwargs)


@register_model
def fanet50(**kwargs: Any) -> FANet:
    """FANet on ResNet-50 (bottleneck), stride-2 first stage (FFNet paper, Table 3)."""
    return build_model(FANet, "fanet50", dict(backbone="resnet50"), **kwargs)


@register_model
def fanet101(**kwargs: Any) -> FANet:
    """FANet on ResNet-101 (bottleneck), stride-2 first stage (FFNet paper, Table 3)."""
    return build_model(FANet, "fanet101", dict(backbone="resnet101"), **kwargs)


@register_model
def fanet56(**kwargs: Any) -> FANet:
    """FANet on FFNet's basic-block ResNet-56, stride-2 first stage (FFNet paper, Table 3)."""
    return build_model(FANet, "fanet56", dict(backbone="resnet56"), **kwargs)


@register_model
def fanet134(**kwargs: Any) -> FANet:
    """FANet on FFNet's basic-block ResNet-134, stride-2 first stage (FFNet paper, Table 3)."""
    return build_model(FANet, "fanet134", dict(backbone="resnet134"), **kwargs)
