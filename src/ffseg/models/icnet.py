"""ICNet: Image Cascade Network (Zhao et al., ECCV 2018, arXiv:1704.08545), ResNet-18 variant.

Three branches share one ResNet encoder (torchvision key names, ``encoder.*``):

* high resolution: the full image through three stride-2 conv-BN-ReLU layers (1/8, 64 ch.);
* medium: the image at 1/2 through the stem, ``layer1`` and ``layer2`` (1/16 of the input);
* low: those features downsampled by 2 through ``layer3`` and ``layer4`` (dilated 2 and 4, as
  in PSPNet) and a pyramid pooling module (bins 1/2/3/6 summed, as ICNet) at 1/32.

Cascade feature fusion (CFF) units merge low + medium (1/16) and then + high (1/8), 128
channels; the result is upsampled x2 and classified at 1/4 (``output_stride=4``). Cascade label
guidance adds the CFF units' auxiliary classifiers (1/16 and 1/8, ``aux_heads``) to training
only, both with the paper's weight 0.4 (``aux_weight``; main output 1.0).

The paper uses ResNet-50 (26.55 M with its width choices); like the zoo's reference this
variant uses ResNet-18: 12.24 M against the reference's 12.42 M (-1.4 %). ``backbone=`` takes
the paper's ``"resnet50"`` (with this variant's widths, not the paper's), ``"resnet34"`` or
``"resnet101"``. Adaptive pooling to fixed bins makes ONNX export static-shape only.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, kaiming_init_, resize_to
from ffseg.layers.pyramid import PyramidPooling
from ffseg.models._base import AuxOutput, SegModel, SegOutput
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import zoo_cfg
from ffseg.models.resnet import build_backbone

__all__ = ["BACKBONES", "CascadeFeatureFusion", "ICNet", "dilate_stage"]

PAPER = (
    "Zhao et al., ICNet for Real-Time Semantic Segmentation on High-Resolution Images, ECCV 2018"
)
#: Encoders ``backbone=`` accepts (torchvision ResNets).
BACKBONES = ("resnet18", "resnet34", "resnet50", "resnet101")


def dilate_stage(stage: nn.Module, dilation: int) -> None:
    """Replace a ResNet stage's stride by ``dilation`` (in place; keys and shapes unchanged)."""
    for m in stage.modules():
        if isinstance(m, nn.Conv2d):
            m.stride = (1, 1)
            if m.kernel_size == (3, 3):
                m.dilation = (dilation, dilation)
                m.padding = (dilation, dilation)


def _half(x: torch.Tensor) -> torch.Tensor:
    return resize_to(x, (x.shape[-2] // 2, x.shape[-1] // 2), "bilinear")


class CascadeFeatureFusion(nn.Module):
    """CFF: upsample ``low`` x2 -> dilated 3x3 conv-BN; ``high`` -> 1x1 conv-BN; sum, ReLU.

    Also returns the upsampled ``low`` features, the input of the unit's auxiliary classifier
    (cascade label guidance, in ``ICNet.aux_heads``).
    """

    def __init__(self, low: int, high: int, cout: int) -> None:
        super().__init__()
        self.low = ConvBNAct(low, cout, 3, dilation=2, act=None)
        self.high = ConvBNAct(high, cout, 1, act=None)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        up = resize_to(low, high.shape[-2:], "bilinear")
        return self.relu(self.low(up) + self.high(high)), up


class ICNet(SegModel):
    """ICNet on a ResNet encoder (see the module docstring)."""

    classifier_path = "classifier"
    supports_dynamic_shapes = False

    def __init__(
        self,
        backbone: str = "resnet18",
        num_classes: int = 19,
        channels: int = 128,
        aux_weight: float = 0.4,
    ) -> None:
        super().__init__(num_classes)
        self.aux_weight = aux_weight
        self.encoder = build_backbone(backbone, family="icnet", choices=BACKBONES)
        dilate_stage(self.encoder.layer3, 2)
        dilate_stage(self.encoder.layer4, 4)
        self.encoder.feature_info = [  # the dilated stages stay at 1/8
            replace(f, reduction=min(f.reduction, 8)) for f in self.encoder.feature_info
        ]
        _, c8, _, c32 = self.encoder.out_channels
        self.high = nn.Sequential(
            ConvBNAct(3, 32, 3, 2), ConvBNAct(32, 32, 3, 2), ConvBNAct(32, 64, 3, 2)
        )
        self.ppm = PyramidPooling(c32, c32, bins=(1, 2, 3, 6), reduce=False)
        self.cff_low = CascadeFeatureFusion(c32, c8, channels)
        self.cff_high = CascadeFeatureFusion(channels, 64, channels)
        self.classifier = nn.Conv2d(channels, num_classes, 1)
        self.aux_heads = nn.ModuleDict(
            {
                "cff_1_16": nn.Conv2d(c32, num_classes, 1),
                "cff_1_8": nn.Conv2d(channels, num_classes, 1),
            }
        )
        kaiming_init_(self)

    def _branches(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        enc = self.encoder
        medium = enc.layer2(enc.layer1(enc.forward_stem(_half(x))))
        low = self.ppm(enc.layer4(enc.layer3(_half(medium))))
        return self.high(x), medium, low

    def _head(self, fused: torch.Tensor) -> torch.Tensor:
        size = (2 * fused.shape[-2], 2 * fused.shape[-1])
        return self.classifier(resize_to(fused, size, "bilinear"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at 1/4 of the input size."""
        high, medium, low = self._branches(x)
        y, _ = self.cff_low(low, medium)
        y, _ = self.cff_high(y, high)
        return self._head(y)

    def forward_train(self, x: torch.Tensor) -> SegOutput:
        """Main logits (1/4) plus cascade label guidance at 1/16 and 1/8."""
        high, medium, low = self._branches(x)
        y, up_low = self.cff_low(low, medium)
        y, up_mid = self.cff_high(y, high)
        aux = [
            AuxOutput(name, self.aux_heads[name](up), self.aux_weight, "seg")
            for name, up in (("cff_1_16", up_low), ("cff_1_8", up_mid))
        ]
        return SegOutput(self._head(y), aux)


default_cfgs = {"icnet": zoo_cfg(family="icnet", paper=PAPER, output_stride=4)}


@register_model
def icnet(**kwargs: Any) -> ICNet:
    """ICNet with a ResNet-18 encoder (the paper's ResNet-50 model: 69.5 Cityscapes test)."""
    return build_model(ICNet, "icnet", dict(backbone="resnet18"), **kwargs)
