"""SegNet (Badrinarayanan, Kendall, Cipolla, SegNet: A Deep Convolutional Encoder-Decoder
Architecture for Image Segmentation, IEEE TPAMI 2017, arXiv 1511.00561).

The encoder is the 13 convolutions of VGG16 with batch norm, in five stages each ending with a
2x2 max-pooling that also returns its indices ("pooling indices"). The decoder mirrors it: each
stage upsamples with max-unpooling at the stored indices (no learned upsampling), then 3x3
conv-BN-ReLU layers densify the sparse maps (512 x3 | 512, 512, 256 | 256, 256, 128 | 128, 64 |
64), and a 3x3 conv gives the class scores at full resolution (``output_stride`` 1).

The encoder's ``features`` uses torchvision's ``vgg16_bn`` layout and key names (convs with
biases), so ``pretrained_backbone=`` loads a torchvision ``vgg16_bn`` state dict, as the paper
initialises from ImageNet VGG16. The decoder's convs carry biases too, as in the authors'
Caffe model (alexgkendall/SegNet-Tutorial, Models/segnet_train.prototxt).

Export: max-pooling with indices and max-unpooling export to ONNX (``MaxPool`` with indices,
``MaxUnpool``) with dynamic height/width and match ONNX Runtime (checked at 96x160 and 72x104
from a 64x96 export). Each unpooling restores the exact size its pooling saw, so sizes that
are not multiples of 32 work too (a row or column dropped by pooling comes back as zeros);
``min_input_size`` is 32x32.

Parameters (19 classes): 29,453,971; 325.5 GMACs at 1x3x512x1024; stage by stage equal to the
authors' Caffe model (its last conv set to 19 outputs). Paper 29.5 M (-0.2 %); the reference
re-implementation's 29.48 M graph adds a full-resolution conv (issue #24 audit: ffseg 5.6 %
fewer MACs). No activation on the logits, no dropout.

``segnet_basic`` is the paper's smaller SegNet-Basic as the authors' segnet_basic prototxt
builds it: local response normalisation of the image (size 5), four 7x7 conv (bias)-BN-ReLU +
2x2 max-pooling stages of 64 channels, four unpooling + 7x7 conv (bias)-BN stages without ReLU
and a 1x1 classifier with bias; 1,417,107 parameters (19 classes), equal per stage.

Published: CamVid test 55.6 mIoU (11 classes, 360x480). The paper reports no Cityscapes test
number; the benchmark-server entries quoted elsewhere (56.1 / 57.0) are not the authors'
publication, so none is stored.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, kaiming_init_
from ffseg.layers.resample import max_unpool2x2
from ffseg.models._base import FeatureInfo, SegModel
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import Reported, zoo_cfg

__all__ = ["SegNet", "SegNetBasic", "SegNetDecoder", "VGG16BNEncoder"]

PAPER = (
    "Badrinarayanan, Kendall, Cipolla, SegNet: A Deep Convolutional Encoder-Decoder "
    "Architecture for Image Segmentation, IEEE TPAMI 2017"
)

#: VGG16 stages: output channels of each conv, every stage ends with a 2x2 max-pooling
VGG16_STAGES: tuple[tuple[int, ...], ...] = (
    (64, 64),
    (128, 128),
    (256, 256, 256),
    (512, 512, 512),
    (512, 512, 512),
)
#: decoder stages, deepest first: output channels of each 3x3 conv-BN-ReLU after the unpooling
DECODER_STAGES: tuple[tuple[int, ...], ...] = (
    (512, 512, 512),
    (512, 512, 256),
    (256, 256, 128),
    (128, 64),
    (64,),
)

#: SegNet-Basic: four single-conv stages of 64 channels (7x7 kernels), encoder and decoder alike
BASIC_STAGES: tuple[tuple[int, ...], ...] = ((64,), (64,), (64,), (64,))

Switches = list[tuple[torch.Tensor, torch.Size]]


class VGG16BNEncoder(nn.Module):
    """VGG16-BN convolutions (torchvision key names ``features.N``) pooling with indices.

    :meth:`forward` returns the pooled stage outputs (strides 2 to 32);
    :meth:`forward_switches` also returns each pooling's indices and input size. ``stages`` and
    ``kernel_size`` give other conv-BN-ReLU stacks the same layout (SegNet-Basic).
    """

    def __init__(
        self, stages: tuple[tuple[int, ...], ...] = VGG16_STAGES, kernel_size: int = 3
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for stage in stages:
            for cout in stage:
                layers += [
                    nn.Conv2d(cin, cout, kernel_size, padding=kernel_size // 2),
                    nn.BatchNorm2d(cout),
                    nn.ReLU(inplace=True),
                ]
                cin = cout
            layers.append(nn.MaxPool2d(2, 2, return_indices=True))
        self.features = nn.Sequential(*layers)
        self.feature_info = [
            FeatureInfo(stage[-1], 2 ** (i + 1), "features") for i, stage in enumerate(stages)
        ]

    def forward_switches(self, x: torch.Tensor) -> tuple[list[torch.Tensor], Switches]:
        """Pooled stage outputs and, per pooling, its indices and the size it pooled."""
        outs: list[torch.Tensor] = []
        switches: Switches = []
        for layer in self.features:
            if isinstance(layer, nn.MaxPool2d):
                size = x.shape[-2:]
                x, indices = layer(x)
                outs.append(x)
                switches.append((indices, size))
            else:
                x = layer(x)
        return outs, switches

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.forward_switches(x)[0]


class SegNetDecoder(nn.Module):
    """Max-unpooling at the encoder's indices, then conv-BN(-ReLU) layers, per stage."""

    def __init__(
        self,
        cin: int = 512,
        stages: tuple[tuple[int, ...], ...] = DECODER_STAGES,
        kernel_size: int = 3,
        relu: bool = True,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for stage in stages:
            convs: list[nn.Module] = []
            for cout in stage:
                act = nn.ReLU if relu else None
                convs.append(ConvBNAct(cin, cout, kernel_size, bias=True, act=act))
                cin = cout
            layers.append(nn.Sequential(*convs))
        self.stages = nn.ModuleList(layers)
        self.out_channels = cin

    def forward(self, x: torch.Tensor, switches: Switches) -> torch.Tensor:
        for stage, (indices, size) in zip(self.stages, reversed(switches)):
            x = stage(max_unpool2x2(x, indices, size))
        return x


class SegNet(SegModel):
    """SegNet: VGG16-BN encoder, pooling-indices decoder, full-resolution 3x3 classifier."""

    classifier_path = "cls"
    argmax_switches = True

    def __init__(self, num_classes: int = 19) -> None:
        super().__init__(num_classes)
        self.encoder = VGG16BNEncoder()
        self.decoder = SegNetDecoder(VGG16_STAGES[-1][-1])
        self.cls = nn.Conv2d(self.decoder.out_channels, num_classes, 3, padding=1)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at the input resolution (stride 1)."""
        feats, switches = self.encoder.forward_switches(x)
        return self.cls(self.decoder(feats[-1], switches))


class SegNetBasic(SegModel):
    """SegNet-Basic: local response normalisation of the image, four 7x7 conv-BN-ReLU + pool
    stages (64 channels), four unpool + 7x7 conv-BN stages, a 1x1 classifier."""

    classifier_path = "cls"
    argmax_switches = True

    def __init__(self, num_classes: int = 19) -> None:
        super().__init__(num_classes)
        self.norm = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75)
        self.encoder = VGG16BNEncoder(BASIC_STAGES, kernel_size=7)
        self.decoder = SegNetDecoder(64, BASIC_STAGES, kernel_size=7, relu=False)
        self.cls = nn.Conv2d(64, num_classes, 1)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at the input resolution (stride 1)."""
        feats, switches = self.encoder.forward_switches(self.norm(x))
        return self.cls(self.decoder(feats[-1], switches))


default_cfgs = {
    "segnet": zoo_cfg(
        family="segnet",
        paper=PAPER,
        output_stride=1,
        min_input_size=(32, 32),
        published={
            "camvid_test_miou": Reported(
                55.6, "360x480, 11 classes", "SegNet paper (arXiv 1511.00561), CamVid table"
            )
        },
    ),
    "segnet_basic": zoo_cfg(family="segnet", paper=PAPER, output_stride=1, min_input_size=(32, 32)),
}


@register_model
def segnet(**kwargs: Any) -> SegNet:
    """SegNet with a VGG16-BN encoder (paper: 29.5 M params, CamVid test 55.6 mIoU)."""
    return build_model(SegNet, "segnet", **kwargs)


@register_model
def segnet_basic(**kwargs: Any) -> SegNetBasic:
    """SegNet-Basic, the paper's smaller SegNet (the authors' segnet_basic prototxt)."""
    return build_model(SegNetBasic, "segnet_basic", **kwargs)
