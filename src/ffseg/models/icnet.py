"""ICNet: Image Cascade Network (Zhao et al., ECCV 2018, arXiv:1704.08545), ResNet-18 variant.

Three branches share one ResNet encoder (torchvision key names, ``encoder.*``):

* high resolution: the full image through three stride-2 conv-BN-ReLU layers (1/8, 64 ch.);
* medium: the image at 1/2 through the stem, ``layer1`` and ``layer2`` (1/16 of the input);
* low: those features downsampled by 2 through ``layer3`` and ``layer4`` (dilated 2 and 4, as
  in PSPNet) and a pyramid pooling module (bins 1/2/3/6 summed, as ICNet) at 1/32.

Cascade feature fusion (CFF) units merge low + medium (1/16) and then + high (1/8), 128
channels; the result is upsampled x2 and classified at 1/4 (``output_stride=4``). Cascade label
guidance adds the CFF units' auxiliary classifiers (1/16 and 1/8) to training only, with the
paper's weights 0.4 and 0.4 (main output 1.0).

The paper uses ResNet-50 (26.55 M with its width choices); like the zoo's reference this
variant uses ResNet-18: 12.24 M against the reference's 12.42 M (-1.4 %). Adaptive pooling to
fixed bins makes ONNX export static-shape only.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
from torch import nn

from ffseg.classes import CITYSCAPES_CLASSES
from ffseg.layers import ConvBNAct, resize_to
from ffseg.layers.init import kaiming_init_
from ffseg.layers.pyramid import PyramidPooling
from ffseg.models._base import AuxOutput, PretrainedCfg, SegOutput
from ffseg.models._registry import register_model
from ffseg.models.resnet import ResNetEncoder, build_backbone

__all__ = ["CascadeFeatureFusion", "ICNet", "dilate_stage"]

PAPER = (
    "Zhao et al., ICNet for Real-Time Semantic Segmentation on High-Resolution Images, ECCV 2018"
)
LICENSE = "ffseg implementation: Apache-2.0 (no official weights bundled)"


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

    Also returns the auxiliary classifier's logits on the upsampled ``low`` features.
    """

    def __init__(self, low: int, high: int, cout: int, num_classes: int) -> None:
        super().__init__()
        self.low = ConvBNAct(low, cout, 3, dilation=2, act=None)
        self.high = ConvBNAct(high, cout, 1, act=None)
        self.relu = nn.ReLU(inplace=True)
        self.classifier = nn.Conv2d(low, num_classes, 1)

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        up = resize_to(low, high.shape[-2:], "bilinear")
        return self.relu(self.low(up) + self.high(high)), up

    def aux(self, up: torch.Tensor) -> torch.Tensor:
        """Auxiliary logits (cascade label guidance) from the upsampled low input."""
        return self.classifier(up)


class ICNet(nn.Module):
    """ICNet on a ResNet encoder (see the module docstring)."""

    encoder_prefix = "encoder."

    def __init__(
        self,
        backbone: str = "resnet18",
        num_classes: int = 19,
        channels: int = 128,
        aux_weights: tuple[float, float] = (0.4, 0.4),
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.aux_weights = aux_weights
        self.encoder = build_backbone(backbone)
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
        self.cff_low = CascadeFeatureFusion(c32, c8, channels, num_classes)
        self.cff_high = CascadeFeatureFusion(channels, 64, channels, num_classes)
        self.classifier = nn.Conv2d(channels, num_classes, 1)
        self.pretrained_cfg = PretrainedCfg(
            architecture="icnet",
            num_classes=num_classes,
            output_stride=4,
            classifier="classifier",
            paper=PAPER,
            license=LICENSE,
            family="icnet",
            onnx_dynamic_shapes=False,
            min_input_size=(64, 64),
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
        w16, w8 = self.aux_weights
        aux = [
            AuxOutput("cff_1_16", self.cff_low.aux(up_low), w16, "seg"),
            AuxOutput("cff_1_8", self.cff_high.aux(up_mid), w8, "seg"),
        ]
        return SegOutput(self._head(y), aux)

    def feature_encoder(self) -> ResNetEncoder:
        """The (dilated) ResNet encoder (shares this model's weights) for ``features_only``."""
        return self.encoder


@register_model
def icnet(**kwargs: Any) -> ICNet:
    """ICNet with a ResNet-18 encoder (the paper's ResNet-50 model: 69.5 Cityscapes test)."""
    model = ICNet("resnet18", **kwargs)
    model.pretrained_cfg = model.pretrained_cfg.replace(
        classes=CITYSCAPES_CLASSES if model.num_classes == 19 else None,
    )
    return model
