"""SQNet (Treml et al., Speeding up Semantic Segmentation for Autonomous Driving, NIPS-W 2016).

A SqueezeNet 1.1 encoder (:mod:`ffseg.models.squeezenet`, torchvision keys, ELU activations as
in the paper) to stride 16; a parallel dilated convolution layer (four 3x3 convs with dilation
1, 2, 4, 8 from 512 to 128 channels, summed); then three rounds of x2 transposed-conv upsampling
each followed by a bypass refinement module (a 3x3 conv on the encoder feature of the same
resolution, concatenated with the upsampled feature and fused by a 3x3 conv), the last one
producing class maps at stride 2, and a final x2 transposed conv (the classifier) to full
resolution (``output_stride`` 1). Convs in the decoder use BN + ELU. No auxiliary heads.

ONNX export is static-shape only: the encoder's ceil-mode max-pools and the decoder's transposed
convs line up only for sizes that are multiples of 16, which ``torch.export`` cannot prove for
symbolic shapes.

Parameters (19 classes): 4.806 M (reference 4.81 M, -0.1 %; the reference adds BN to the
encoder's Fire modules, which torchvision's SqueezeNet does not have).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, FullConvBNAct, full_conv, kaiming_init_
from ffseg.layers.classifier import fresh_classifier
from ffseg.models._base import SegModel
from ffseg.models._builder import attach_cfg, build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import Reported, zoo_cfg
from ffseg.models.squeezenet import SqueezeNetEncoder

__all__ = ["BypassRefinement", "ParallelDilatedConv", "SQNet"]

PAPER = (
    "Treml et al., Speeding up Semantic Segmentation for Autonomous Driving, NIPS Workshop "
    "MLITS 2016"
)


def _elu() -> nn.Module:
    return nn.ELU(inplace=True)


class ParallelDilatedConv(nn.Module):
    """Sum of parallel 3x3 conv-BN-ELU branches with different dilations."""

    def __init__(self, cin: int, cout: int, dilations: Sequence[int] = (1, 2, 4, 8)) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            ConvBNAct(cin, cout, 3, dilation=d, act=_elu) for d in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sum(branch(x) for branch in self.branches)


class BypassRefinement(nn.Module):
    """3x3 conv on the skip feature, concatenated with the upsampled one, 3x3 conv fuse."""

    def __init__(self, skip: int, up: int, cout: int) -> None:
        super().__init__()
        self.skip = ConvBNAct(skip, skip, 3, act=_elu)
        self.fuse = ConvBNAct(skip + up, cout, 3, act=_elu)

    def forward(self, skip: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat([self.skip(skip), up], dim=1))


class SQNet(SegModel):
    """SQNet with a SqueezeNet 1.1 encoder (full-resolution logits)."""

    size_divisor = 16  # its downsampling needs H and W divisible by 16

    encoder_attr = "backbone"
    classifier_path = "cls"
    supports_dynamic_shapes = False

    def __init__(self, num_classes: int = 19) -> None:
        super().__init__(num_classes)
        self.backbone = SqueezeNetEncoder(act=_elu)
        self.pdc = ParallelDilatedConv(512, 128)
        self.up16 = FullConvBNAct(128, 128, act=_elu)
        self.refine8 = BypassRefinement(256, 128, 128)
        self.up8 = FullConvBNAct(128, 128, act=_elu)
        self.refine4 = BypassRefinement(128, 128, 64)
        self.up4 = FullConvBNAct(64, 64, act=_elu)
        self.refine2 = BypassRefinement(64, 64, num_classes)
        self.cls = full_conv(num_classes, num_classes, bias=True)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at the input resolution."""
        x2, x4, x8, x16 = self.backbone(x)
        y = self.refine8(x8, self.up16(self.pdc(x16)))
        y = self.refine4(x4, self.up8(y))
        y = self.refine2(x2, self.up4(y))
        return self.cls(y)

    def class_layer_paths(self) -> list[str]:
        """``refine2.fuse`` (it already outputs class maps) and the final classifier."""
        return ["refine2.fuse", self.classifier_path]

    def reset_classifier(self, num_classes: int) -> None:
        """Also rebuild ``refine2.fuse``: SQNet's last refinement already outputs class maps."""
        old = self.refine2.fuse[0]
        fuse = ConvBNAct(old.in_channels, num_classes, 3, act=_elu)
        kaiming_init_(fuse)
        self.refine2.fuse = fuse.to(old.weight.device, old.weight.dtype)
        self.cls = fresh_classifier(self.cls, num_classes, in_channels=num_classes)
        self.num_classes = num_classes
        if hasattr(self, "pretrained_cfg"):
            attach_cfg(self, self.pretrained_cfg)


default_cfgs = {
    "sqnet": zoo_cfg(
        family="sqnet",
        paper=PAPER,
        output_stride=1,
        published={
            "cityscapes_test_miou": Reported(59.8, "1024x2048", "SQNet paper, Cityscapes test")
        },
    ),
}


@register_model
def sqnet(**kwargs: Any) -> SQNet:
    """SQNet (paper: 59.8 Cityscapes test mIoU at 1024x2048)."""
    return build_model(SQNet, "sqnet", **kwargs)
