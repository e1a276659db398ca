"""CANet (Tang et al., Cross Attention Network for Semantic Segmentation, ICIP 2019).

Two branches: a shallow spatial branch (three 3x3/2 conv-BN-ReLU, 64/128/256 channels, stride 8)
and a context branch on MobileNetV2 (:mod:`ffseg.models.mobilenetv2`, torchvision keys) whose
stride-32 feature is brought to stride 8 by two transposed-conv-BN-ReLU steps, the first
concatenated with the stride-16 feature. The feature cross attention (FCA) module fuses the
concatenated branches with a 3x3 conv-BN-ReLU and re-weights the result with a spatial
attention map computed from the spatial branch (3x3 conv-BN, sigmoid) and a channel attention
vector computed from the context branch (shared FC on max- and average-pooled features, summed,
sigmoid), plus a residual. A 3x3 conv-BN-ReLU maps to classes and a learned x8 transposed
convolution (the final layer) restores full resolution, so ``output_stride`` is 1.
No auxiliary heads.

Parameters (19 classes): 4.785 M (reference 4.77 M, +0.3 %; paper 4.8 M).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, kaiming_init_
from ffseg.models._base import SegModel
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import zoo_cfg
from ffseg.models.mobilenetv2 import MobileNetV2Encoder

__all__ = ["CANet", "FeatureCrossAttention", "UpConvBNAct"]

PAPER = "Tang et al., Cross Attention Network for Semantic Segmentation, ICIP 2019"


class UpConvBNAct(nn.Sequential):
    """x2 transposed conv (3x3, output padding 1) -> BN -> ReLU."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.ConvTranspose2d(cin, cout, 3, 2, 1, output_padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class FeatureCrossAttention(nn.Module):
    """FCA: fuse both branches, spatial attention from one, channel attention from the other."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fuse = ConvBNAct(2 * channels, channels, 3)
        self.spatial = ConvBNAct(channels, 1, 3, act=nn.Sigmoid)
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.max_pool = nn.AdaptiveMaxPool2d(1)
        self.fc = nn.Conv2d(channels, channels, 1)

    def forward(self, spatial: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        x = self.fuse(torch.cat([spatial, context], dim=1))
        channel = torch.sigmoid(self.fc(self.avg_pool(context)) + self.fc(self.max_pool(context)))
        return x + x * self.spatial(spatial) * channel


def _upsample_x8(num_classes: int) -> nn.ConvTranspose2d:
    """The learned x8 upsampling of the class scores (kernel 16, stride 8, padding 4)."""
    return nn.ConvTranspose2d(num_classes, num_classes, 16, 8, 4)


class CANet(SegModel):
    """CANet with a MobileNetV2 context branch (full-resolution logits).

    The class scores come from ``head`` (3x3 conv-BN-ReLU; ``head.0`` is the classifier conv)
    and are upsampled by the learned ``cls`` deconvolution.
    """

    size_divisor = 32  # its downsampling needs H and W divisible by 32

    encoder_attr = "backbone"
    classifier_path = "head.0"

    def __init__(self, num_classes: int = 19) -> None:
        super().__init__(num_classes)
        self.spatial = nn.Sequential(
            ConvBNAct(3, 64, 3, 2), ConvBNAct(64, 128, 3, 2), ConvBNAct(128, 256, 3, 2)
        )
        self.backbone = MobileNetV2Encoder()
        c16, c32 = self.backbone.out_channels[3:]
        self.up32 = UpConvBNAct(c32, 192)
        self.up16 = UpConvBNAct(192 + c16, 256)
        self.fca = FeatureCrossAttention(256)
        self.head = ConvBNAct(256, num_classes, 3)
        self.cls = _upsample_x8(num_classes)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at the input resolution."""
        s = self.spatial(x)
        feats = self.backbone(x)
        c = self.up16(torch.cat([self.up32(feats[4]), feats[3]], dim=1))
        return self.cls(self.head(self.fca(s, c)))

    def class_layer_paths(self) -> list[str]:
        """The head's conv and BN and the learned x8 upsampling of the class scores."""
        return [self.classifier_path, "head.1", "cls"]

    def reset_classifier(self, num_classes: int) -> None:
        """Fresh class-score layers: the head's conv and BN and the x8 deconvolution."""
        super().reset_classifier(num_classes)
        ref = self.get_classifier().weight
        self.head[1] = nn.BatchNorm2d(num_classes).to(ref.device, ref.dtype)
        self.cls = _upsample_x8(num_classes).to(ref.device, ref.dtype)


default_cfgs = {"canet": zoo_cfg(family="canet", paper=PAPER, output_stride=1)}


@register_model
def canet(**kwargs: Any) -> CANet:
    """CANet with a MobileNetV2 context branch (no published number recorded here)."""
    return build_model(CANet, "canet", **kwargs)
