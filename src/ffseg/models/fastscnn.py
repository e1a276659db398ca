"""Fast-SCNN (Poudel et al., Fast-SCNN: Fast Semantic Segmentation Network, BMVC 2019).

Paper Table 1: learning to downsample (3x3/2 conv 32, depthwise-separable 3x3/2 convs 48 and 64;
stride 8), a global feature extractor of inverted-residual bottlenecks (expansion 6: 64 x3 /2,
96 x3 /2, 128 x3) with a pyramid pooling module (bins 1, 2, 3, 6), a feature fusion module
(the stride-32 path upsampled x4, a depthwise 3x3 conv with dilation 4 and a 1x1 conv, added to
a 1x1 conv of the stride-8 path) and a classifier of two depthwise-separable convs and a 1x1
conv at stride 8, then the paper's fixed bilinear x8 upsampling (``output_stride`` 8).
Training adds seg heads after learning-to-downsample and the global feature extractor with
weight 0.4, as in the paper.

Pooling to fixed bins (:class:`~ffseg.layers.pyramid.PyramidPooling`) makes ONNX export
static-shape only (``FastSCNN.supports_dynamic_shapes`` is False).

Parameters (19 classes, inference graph without the aux heads): 1.138 M, the paper's exact
variant (paper 1.11 M, +2.5 %); the reference re-implementation (1.02 M) has 2 instead of 3
96-channel bottlenecks.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, kaiming_init_, resize_to
from ffseg.layers.fusion import SegHead
from ffseg.layers.lightweight import DSConvBNAct, DWConvBNAct, InvertedResidual
from ffseg.layers.pyramid import PyramidPooling
from ffseg.models._base import AuxOutput, FeatureInfo, SegModel, SegOutput
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import Reported, zoo_cfg

__all__ = ["FastSCNN", "FastSCNNEncoder"]

PAPER = "Poudel et al., Fast-SCNN: Fast Semantic Segmentation Network, BMVC 2019"


class FastSCNNEncoder(nn.Module):
    """Learning to downsample + global feature extractor: features at strides 8 and 32.

    The bottlenecks are inverted residuals with expansion 6 and the pyramid pooling module pools
    to bins 1, 2, 3, 6. Also the ``features_only`` net.
    """

    def __init__(self) -> None:
        super().__init__()
        self.downsample = nn.Sequential(
            ConvBNAct(3, 32, 3, 2), DSConvBNAct(32, 48, 3, 2), DSConvBNAct(48, 64, 3, 2)
        )
        blocks: list[nn.Module] = []
        cin = 64
        for cout, n, stride in ((64, 3, 2), (96, 3, 2), (128, 3, 1)):
            for i in range(n):
                blocks.append(InvertedResidual(cin, cout, stride if i == 0 else 1, 6, act=nn.ReLU))
                cin = cout
        self.bottlenecks = nn.Sequential(*blocks)
        self.ppm = PyramidPooling(128, 128, resize_mode="bilinear_half")
        self.feature_info = [FeatureInfo(64, 8, "downsample"), FeatureInfo(128, 32, "ppm")]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        high = self.downsample(x)
        return [high, self.ppm(self.bottlenecks(high))]


class FastSCNN(SegModel):
    """Fast-SCNN with its two training-time auxiliary heads."""

    classifier_path = "cls"
    supports_dynamic_shapes = False

    def __init__(self, num_classes: int = 19, dropout: float = 0.1) -> None:
        super().__init__(num_classes)
        self.encoder = FastSCNNEncoder()
        self.fuse_high = ConvBNAct(64, 128, 1, act=None)
        self.fuse_low = nn.Sequential(
            DWConvBNAct(128, 128, 3, dilation=4), ConvBNAct(128, 128, 1, act=None)
        )
        self.fuse_act = nn.ReLU(inplace=True)
        self.classifier = nn.Sequential(DSConvBNAct(128, 128), DSConvBNAct(128, 128))
        self.drop = nn.Dropout(dropout)
        self.cls = nn.Conv2d(128, num_classes, 1)
        self.aux_heads = nn.ModuleDict(
            {"aux_ltd": SegHead(64, 32, num_classes), "aux_gfe": SegHead(128, 32, num_classes)}
        )
        kaiming_init_(self)

    def _run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        high, low = self.encoder(x)
        up = self.fuse_low(resize_to(low, high.shape[-2:], "bilinear_half"))
        fused = self.fuse_act(self.fuse_high(high) + up)
        return self.cls(self.drop(self.classifier(fused))), high, low

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at stride 8."""
        return self._run(x)[0]

    def forward_train(self, x: torch.Tensor) -> SegOutput:
        """Logits plus aux heads after learning-to-downsample and the global extractor (0.4)."""
        logits, high, low = self._run(x)
        aux = [
            AuxOutput("aux_ltd", self.aux_heads["aux_ltd"](high), weight=0.4),
            AuxOutput("aux_gfe", self.aux_heads["aux_gfe"](low), weight=0.4),
        ]
        return SegOutput(logits, aux)


_AT = "1024x2048, single scale"
_SRC = "Fast-SCNN paper, Cityscapes tables"

default_cfgs = {
    "fastscnn": zoo_cfg(
        family="fastscnn",
        paper=PAPER,
        output_stride=8,
        min_input_size=(128, 128),
        published={
            "cityscapes_val_miou": Reported(68.6, _AT, _SRC),
            "cityscapes_test_miou": Reported(68.0, _AT, _SRC),
        },
    )
}


@register_model
def fastscnn(**kwargs: Any) -> FastSCNN:
    """Fast-SCNN (paper: 68.6 val mIoU, 68.0 test, from scratch at 1024x2048)."""
    return build_model(FastSCNN, "fastscnn", **kwargs)
