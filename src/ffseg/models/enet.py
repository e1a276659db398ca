"""ENet (Paszke, Chaurasia, Kim, Culurciello, ENet: A Deep Neural Network Architecture for
Real-Time Semantic Segmentation, arXiv 1606.02147, 2016).

Paper Table 1: an initial block (a strided 3x3 conv to 13 channels concatenated with a 2x2 max
pool: 16 channels at stride 2), stage 1 (a downsampling bottleneck to 64 channels + 4
bottlenecks), stages 2 and 3 at 128 channels and stride 8 (stage 2 opens with a downsampling
bottleneck; both then run regular, dilated 2, asymmetric 5, dilated 4, regular, dilated 8,
asymmetric 5, dilated 16), and a small decoder: an upsampling bottleneck to 64 + 2 bottlenecks,
an upsampling bottleneck to 16 + 1 bottleneck, and a 2x2 transposed conv to the classes at full
resolution (``output_stride`` 1).

A bottleneck (paper Fig. 2b) is a 1x1 projection to a quarter of the output channels, a main
conv (3x3, dilated 3x3, or an asymmetric 1x5 + 5x1 pair), a 1x1 expansion with BN, spatial
dropout (0.01 in stage 1, 0.1 in stages 2-3, none in the decoder) and a residual sum, with BN + PReLU after every conv but the
last. The downsampling bottleneck projects with a 2x2 stride-2 conv and its shortcut is a 2x2
max pool zero-padded to the output channels; the upsampling bottleneck's shortcut is a 1x1 conv
+ BN and a max-unpooling at the indices of the matching downsampling, and its main conv is a
3x3 stride-2 transposed conv. As in the authors' Torch code (e-lab/ENet-training,
train/models/encoder.lua and decoder.lua), the encoder uses per-channel PReLU and the decoder
ReLU, the internal width is a quarter of the block's output channels, and only the initial
block's conv, each bottleneck's main conv (for the asymmetric pair its second, 5x1 conv) and
the final transposed conv carry biases.

Export: max-pooling with indices and max-unpooling export to ONNX (``MaxPool`` with indices,
``MaxUnpool``); inputs must be multiples of 8 (``min_input_size`` 64x64 for the tests).

Parameters (19 classes): 364,311; 3.92 GMACs at 1x3x512x1024; stage by stage equal to the
authors' Torch graph (encoder without its encoder-only classifier, plus decoder; their BNs use
eps 1e-3, ffseg's 1e-5). Paper 0.37 M (-1.5 %); the reference re-implementation (issue #24
audit) ends in a 1x1 conv and bilinear upsampling instead of the final transposed conv. No
activation on the logits.

Published: CamVid test 51.3 class mIoU (paper Table 4, 480x360); Cityscapes test 58.3 class mIoU
(paper Table 3, evaluated on the benchmark server).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ffseg.layers import full_conv, kaiming_init_
from ffseg.layers.asymmetric import FactorizedConv, PoolConcatDown
from ffseg.layers.resample import max_unpool2x2
from ffseg.models._base import FeatureInfo, SegModel
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import Reported, zoo_cfg

__all__ = ["ENet", "ENetBottleneck", "ENetEncoder"]

PAPER = (
    "Paszke et al., ENet: A Deep Neural Network Architecture for Real-Time Semantic "
    "Segmentation, arXiv 1606.02147, 2016"
)

#: Stages 2 and 3: (kind, dilation) per bottleneck; "asym" is the 5x1 + 1x5 pair.
STAGE_PATTERN = (
    ("regular", 1),
    ("dilated", 2),
    ("asym", 1),
    ("dilated", 4),
    ("regular", 1),
    ("dilated", 8),
    ("asym", 1),
    ("dilated", 16),
)


def _act(channels: int, decoder: bool) -> nn.Module:
    return nn.ReLU() if decoder else nn.PReLU(channels)


def _conv_bn_act(conv: nn.Module, channels: int, decoder: bool) -> nn.Sequential:
    return nn.Sequential(conv, nn.BatchNorm2d(channels), _act(channels, decoder))


class ENetBottleneck(nn.Module):
    """ENet bottleneck: ``mode`` is "regular", "dilated", "asym", "down" or "up"."""

    def __init__(
        self,
        cin: int,
        cout: int | None = None,
        mode: str = "regular",
        dilation: int = 1,
        dropout: float = 0.1,
        decoder: bool = False,
    ) -> None:
        super().__init__()
        cout = cout or cin
        mid = cout // 4
        self.mode = mode
        stride = 2 if mode == "down" else 1
        self.project = _conv_bn_act(nn.Conv2d(cin, mid, stride, stride, bias=False), mid, decoder)
        if mode == "asym":
            self.main = FactorizedConv(
                mid,
                kernel_size=5,
                bias="second",
                act=lambda: _act(mid, decoder),
                horizontal_first=True,
            )
        elif mode == "up":
            self.main = _conv_bn_act(full_conv(mid, mid, 3, 2, bias=True), mid, decoder)
        else:
            conv = nn.Conv2d(mid, mid, 3, 1, dilation, dilation, bias=True)
            self.main = _conv_bn_act(conv, mid, decoder)
        self.expand = nn.Sequential(nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.drop = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        if mode == "up":
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.pad = cout - cin if mode == "down" else 0
        self.act = _act(cout, decoder)

    def forward(
        self, x: torch.Tensor, indices: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Output and, for "down", the max-pool indices (for "up", pass them in)."""
        branch = self.drop(self.expand(self.main(self.project(x))))
        if self.mode == "down":
            x, indices = F.max_pool2d(x, 2, 2, return_indices=True)
            x = F.pad(x, (0, 0, 0, 0, 0, self.pad))
        elif self.mode == "up":
            if indices is None:
                raise ValueError("an ENet upsampling bottleneck needs the pooling indices")
            x = max_unpool2x2(self.shortcut(x), indices, branch.shape[-2:])
        return self.act(x + branch), indices


class ENetEncoder(nn.Module):
    """Initial block and stages 1-3: features at strides 2, 4 and 8 (16, 64, 128 channels)."""

    def __init__(self) -> None:
        super().__init__()
        self.initial = PoolConcatDown(3, 16, bias=True, act=lambda: nn.PReLU(16))
        self.stage1 = nn.ModuleList(
            [ENetBottleneck(16, 64, "down", dropout=0.01)]
            + [ENetBottleneck(64, dropout=0.01) for _ in range(4)]
        )
        pattern = [ENetBottleneck(128, 128, mode, d) for mode, d in STAGE_PATTERN]
        self.stage2 = nn.ModuleList([ENetBottleneck(64, 128, "down"), *pattern])
        self.stage3 = nn.ModuleList([ENetBottleneck(128, 128, m, d) for m, d in STAGE_PATTERN])
        self.feature_info = [
            FeatureInfo(16, 2, "initial"),
            FeatureInfo(64, 4, "stage1"),
            FeatureInfo(128, 8, "stage3"),
        ]
        self.out_channels = 128

    def forward_with_indices(
        self, x: torch.Tensor
    ) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
        """Features and the pooling indices of the two downsampling bottlenecks."""
        feats = [self.initial(x)]
        indices: list[torch.Tensor | None] = []
        x = feats[0]
        for stage in (self.stage1, self.stage2, self.stage3):
            for i, block in enumerate(stage):
                x, idx = block(x)
                if i == 0 and block.mode == "down":
                    indices.append(idx)
            if stage is not self.stage2:
                feats.append(x)
        return feats, indices

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.forward_with_indices(x)[0]


class ENet(SegModel):
    """ENet: the bottleneck encoder, a two-stage unpooling decoder and full-resolution logits."""

    size_divisor = 8  # its downsampling needs H and W divisible by 8

    classifier_path = "cls"
    argmax_switches = True

    def __init__(self, num_classes: int = 19) -> None:
        super().__init__(num_classes)
        self.encoder = ENetEncoder()
        self.stage4 = nn.ModuleList(
            [ENetBottleneck(128, 64, "up", dropout=0.0, decoder=True)]
            + [ENetBottleneck(64, dropout=0.0, decoder=True) for _ in range(2)]
        )
        self.stage5 = nn.ModuleList(
            [
                ENetBottleneck(64, 16, "up", dropout=0.0, decoder=True),
                ENetBottleneck(16, dropout=0.0, decoder=True),
            ]
        )
        self.cls = full_conv(16, num_classes, kernel_size=2, stride=2, bias=True)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at full resolution (stride 1)."""
        feats, (idx1, idx2) = self.encoder.forward_with_indices(x)
        x = feats[-1]
        for stage, indices in ((self.stage4, idx2), (self.stage5, idx1)):
            for block in stage:
                x, _ = block(x, indices if block.mode == "up" else None)
        return self.cls(x)


default_cfgs = {
    "enet": zoo_cfg(
        family="enet",
        paper=PAPER,
        output_stride=1,
        min_input_size=(64, 64),
        published={
            "cityscapes_test_miou": Reported(
                58.3, "1024x512 input, benchmark server", "paper Table 3 (class IoU)"
            ),
            "camvid_test_miou": Reported(51.3, "480x360, 11 classes", "paper Table 4"),
        },
    )
}


@register_model
def enet(**kwargs: Any) -> ENet:
    """ENet (paper: 0.37 M params, 58.3 Cityscapes test / 51.3 CamVid test mIoU)."""
    return build_model(ENet, "enet", **kwargs)
