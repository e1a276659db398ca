"""BiSeNet (V1): Bilateral Segmentation Network (Yu et al., ECCV 2018, arXiv:1808.00897).

* Spatial path: three stride-2 conv-BN-ReLU layers (7x7, 3x3, 3x3; 64 channels) and a 1x1
  projection to 128 channels, giving rich spatial detail at 1/8.
* Context path: a ResNet-18 (torchvision key names, ``encoder.*``); global average pooling of
  the 1/32 features provides global context; attention refinement modules (ARM) on the 1/32
  and 1/16 features, each added to the upsampled coarser context and refined by a 3x3 conv.
* Feature fusion module (FFM) merges both paths (256 channels) and a 3x3 conv + 1x1 classifier
  predicts at 1/8 (``output_stride=8``).

Two auxiliary heads on the context path (1/16 and 1/32 features) supervise training with the
paper's weight alpha = 1 (:meth:`BiSeNetV1.forward_train` only). With ResNet-18 the
network has 13.39 M parameters against the reference's
13.32 M (+0.5 %). ``create_model("bisenetv1", backbone="resnet101")`` builds the paper's
ResNet-101 context path (:data:`BACKBONES`): 47.57 M parameters with its auxiliary heads. BiSeNet
V2 is a different network (:mod:`ffseg.models.bisenetv2`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, kaiming_init_, resize_to
from ffseg.layers.fusion import AttentionRefinementModule, FeatureFusionModule, SegHead
from ffseg.models._base import AuxOutput, SegModel, SegOutput
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import Reported, zoo_cfg
from ffseg.models.resnet import build_backbone

__all__ = ["BACKBONES", "BiSeNetV1", "ContextPath", "SpatialPath"]

PAPER = (
    "Yu et al., BiSeNet: Bilateral Segmentation Network for Real-time Semantic Segmentation, "
    "ECCV 2018"
)

#: The paper's ResNet context paths (its third encoder, Xception39, is not implemented).
BACKBONES = ("resnet18", "resnet101")


class SpatialPath(nn.Sequential):
    """Three stride-2 conv-BN-ReLU layers and a 1x1 projection: 1/8 resolution, ``cout``."""

    def __init__(self, cout: int = 128, width: int = 64) -> None:
        super().__init__(
            ConvBNAct(3, width, 7, 2),
            ConvBNAct(width, width, 3, 2),
            ConvBNAct(width, width, 3, 2),
            ConvBNAct(width, cout, 1),
        )


class ContextPath(nn.Module):
    """Global context + ARMs on the encoder's 1/16 and 1/32 features (``c16``, ``c32`` channels).

    Returns the refined features at 1/8 (for the fusion) and at 1/16.
    """

    def __init__(self, c16: int, c32: int, channels: int = 128) -> None:
        super().__init__()
        self.global_context = ConvBNAct(c32, channels, 1)
        self.arm32 = nn.Sequential(ConvBNAct(c32, channels, 3), AttentionRefinementModule(channels))
        self.arm16 = nn.Sequential(ConvBNAct(c16, channels, 3), AttentionRefinementModule(channels))
        self.refine32 = ConvBNAct(channels, channels, 3)
        self.refine16 = ConvBNAct(channels, channels, 3)

    def forward(self, f16: torch.Tensor, f32: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        context = self.global_context(f32.mean(dim=(2, 3), keepdim=True))
        y32 = self.refine32(resize_to(self.arm32(f32) + context, f16.shape[-2:], "nearest"))
        y16 = self.arm16(f16) + y32
        size8 = (2 * f16.shape[-2], 2 * f16.shape[-1])
        y16 = self.refine16(resize_to(y16, size8, "nearest"))
        return y16, y32


class BiSeNetV1(SegModel):
    """BiSeNet with a ResNet context path (see the module docstring)."""

    size_divisor = 16  # its downsampling needs H and W divisible by 16

    def __init__(
        self,
        backbone: str = "resnet18",
        num_classes: int = 19,
        channels: int = 128,
        aux_weight: float = 1.0,
    ) -> None:
        super().__init__(num_classes)
        self.aux_weight = aux_weight
        self.spatial = SpatialPath(channels)
        self.encoder = build_backbone(backbone, family="bisenet", choices=BACKBONES)
        self.context = ContextPath(*self.encoder.out_channels[2:], channels)
        self.ffm = FeatureFusionModule(2 * channels, 2 * channels, kernel_size=1, reduction=4)
        self.head = SegHead(2 * channels, 2 * channels, num_classes)
        self.aux_heads = nn.ModuleDict(
            {name: SegHead(channels, channels // 2, num_classes) for name in ("aux16", "aux32")}
        )
        kaiming_init_(self)

    def _features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        _, _, f16, f32 = self.encoder(x)
        y16, y32 = self.context(f16, f32)
        return self.ffm(self.spatial(x), y16), y16, y32

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at 1/8 of the input size."""
        return self.head(self._features(x)[0])

    def forward_train(self, x: torch.Tensor) -> SegOutput:
        """Main logits plus the two context-path auxiliary heads (1/8 and 1/16 resolution)."""
        fused, y16, y32 = self._features(x)
        aux = [
            AuxOutput(name, self.aux_heads[name](y), self.aux_weight, "seg")
            for name, y in (("aux16", y16), ("aux32", y32))
        ]
        return SegOutput(self.head(fused), aux)


default_cfgs = {
    "bisenetv1": zoo_cfg(
        family="bisenet",
        paper=PAPER,
        output_stride=8,
        published={
            "cityscapes_test_miou": Reported(
                74.7, "768x1536 input, single scale", "BiSeNet paper, Cityscapes test (ResNet-18)"
            )
        },
    )
}


@register_model
def bisenetv1(**kwargs: Any) -> BiSeNetV1:
    """BiSeNet with ResNet-18 (paper: 74.7 Cityscapes test mIoU); ``backbone=`` one of BACKBONES."""
    return build_model(BiSeNetV1, "bisenetv1", dict(backbone="resnet18"), **kwargs)
