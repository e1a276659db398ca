"""DDRNet: Deep Dual-resolution Networks (Hong et al., 2021, arXiv:2101.06085).

Two branches after stage 2: a high-resolution branch kept at 1/8 and a low-resolution branch
going down to 1/64, exchanging information through bilateral fusions (low -> high: 1x1 conv
+ BN + upsampling; high -> low: strided 3x3 conv(s) + BN). The low branch ends in a DAPPM
(:class:`~ffseg.layers.pyramid.DAPPM`); its output is upsampled and added to the high branch,
and a segmentation head predicts at 1/8 (``output_stride=8``). An auxiliary head on the high
branch after stage 3 runs only in :meth:`DDRNet.forward_train` (loss weight 0.4, as the paper).

This is the paper's exact variant, so parameter counts follow the paper (5.7 / 20.1 / 32.3 M)
rather than the zoo's reference re-implementation (5.54 / 21.84 / 33.75 M), which changes the
DAPPM and head widths. Differences to the paper table (under 2 %) come from the auxiliary
head, counted here because it is part of the trained model. The two stem convs have biases, as
in the authors' code, so their released checkpoints load through a key converter; the forward
pass equals theirs (36.28 / 143.1 / 281.1 GMACs at 1024x2048).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, conv3x3, kaiming_init_, resize_to
from ffseg.layers.multires import StridedConvChain
from ffseg.layers.pyramid import DAPPM, BNActConv
from ffseg.models._base import AuxOutput, FeatureInfo, PretrainedCfg, SegModel, SegOutput
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import Reported, zoo_cfg
from ffseg.models.resnet import BasicBlock, Bottleneck

__all__ = ["DDRNet", "DDRNetEncoder", "DualResolutionStage", "SegmentHead"]

PAPER = (
    "Hong et al., Deep Dual-resolution Networks for Real-time and Accurate Semantic "
    "Segmentation of Road Scenes, arXiv:2101.06085, 2021"
)


class _Basic(BasicBlock):
    """A ResNet basic block whose final ReLU can be left out (DDRNet's last block per stage)."""

    def __init__(self, cin: int, width: int, stride: int = 1, last_relu: bool = True) -> None:
        super().__init__(cin, width, stride)
        self.last_relu = last_relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out)) + shortcut
        return self.relu(out) if self.last_relu else out


class _Bottleneck(Bottleneck):
    """DDRNet's bottleneck (expansion 2, no final ReLU) ending each branch."""

    expansion = 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.bn3(self.conv3(out)) + shortcut


def _stage(cin: int, width: int, depth: int, stride: int = 1) -> nn.Sequential:
    blocks = [_Basic(cin, width, stride, last_relu=depth > 1)]
    blocks += [_Basic(width, width, 1, last_relu=i < depth - 1) for i in range(1, depth)]
    return nn.Sequential(*blocks)


class DualResolutionStage(nn.Module):
    """One low/high-resolution stage pair followed by a bilateral fusion.

    ``down_steps`` strided 3x3 convs take the high branch to the low branch's resolution.
    """

    def __init__(
        self, low_in: int, low_out: int, high: int, depth: int, low_stride: int, down_steps: int
    ) -> None:
        super().__init__()
        self.low = _stage(low_in, low_out, depth, low_stride)
        self.high = _stage(high, high, depth)
        self.compression = ConvBNAct(low_out, high, 1, act=None)
        self.down = StridedConvChain((high, *[2 * high] * (down_steps - 1), low_out))
        self.relu = nn.ReLU()

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        low = self.low(self.relu(low))
        high = self.high(self.relu(high))
        fused_low = low + self.down(self.relu(high))
        up = resize_to(self.compression(self.relu(low)), high.shape[-2:], "bilinear_half")
        return fused_low, high + up


class SegmentHead(nn.Sequential):
    """DDRNet's head: BN-ReLU-conv3x3 -> BN-ReLU-conv1x1 (with bias) to the classes."""

    def __init__(self, cin: int, mid: int, num_classes: int) -> None:
        super().__init__(BNActConv(cin, mid, 3), BNActConv(mid, num_classes, 1, bias=True))


class DDRNetEncoder(nn.Module):
    """The dual-resolution trunk: returns ``[stage1 (1/4), stage2 (1/8), high, low_context]``.

    ``high`` is the 1/8 high-resolution branch before the final fusion and ``low_context`` the
    DAPPM output upsampled to 1/8; the segmentation head consumes their sum.
    """

    def __init__(
        self,
        planes: int,
        depths: Sequence[int],
        stage3_parts: int,
        spp_planes: int,
    ) -> None:
        super().__init__()
        p = planes
        d1, d2, d3, d4 = depths
        self.stem = nn.Sequential(
            conv3x3(3, p, 2, bias=True),
            nn.BatchNorm2d(p),
            nn.ReLU(inplace=True),
            conv3x3(p, p, 2, bias=True),
            nn.BatchNorm2d(p),
            nn.ReLU(inplace=True),
        )
        self.layer1 = _stage(p, p, d1)
        self.layer2 = _stage(p, 2 * p, d2, 2)
        per_part = d3 // stage3_parts
        self.stage3 = nn.ModuleList(  # only the first part halves the low branch
            DualResolutionStage(4 * p if i else 2 * p, 4 * p, 2 * p, per_part, 1 if i else 2, 1)
            for i in range(stage3_parts)
        )
        self.stage4 = DualResolutionStage(4 * p, 8 * p, 2 * p, d4, 2, 2)
        self.layer5_high = _Bottleneck(2 * p, 2 * p)
        self.layer5_low = _Bottleneck(8 * p, 8 * p, 2)
        self.spp = DAPPM(16 * p, spp_planes, 4 * p)
        self.relu = nn.ReLU()
        self.feature_info = [
            FeatureInfo(p, 4, "layer1"),
            FeatureInfo(2 * p, 8, "layer2"),
            FeatureInfo(4 * p, 8, "layer5_high"),
            FeatureInfo(4 * p, 8, "spp"),
        ]
        self.out_channels = [f.num_chs for f in self.feature_info]

    def forward_all(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The four features and the high branch after stage 3 (the auxiliary head's input)."""
        f1 = self.layer1(self.stem(x))
        f2 = self.layer2(self.relu(f1))
        low, high = f2, f2
        for part in self.stage3:
            low, high = part(low, high)
        aux_in = high
        low, high = self.stage4(low, high)
        high = self.layer5_high(self.relu(high))
        low = self.spp(self.layer5_low(self.relu(low)))
        low = resize_to(low, high.shape[-2:], "bilinear_half")
        return [f1, f2, high, low], aux_in

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.forward_all(x)[0]


class DDRNet(SegModel):
    """DDRNet-23-slim / 23 / 39 (see the module docstring)."""

    classifier_path = "head.1.2"

    def __init__(
        self,
        planes: int = 32,
        depths: Sequence[int] = (2, 2, 2, 2),
        stage3_parts: int = 1,
        spp_planes: int = 128,
        head_planes: int = 64,
        num_classes: int = 19,
        aux_weight: float = 0.4,
    ) -> None:
        super().__init__(num_classes)
        self.aux_weight = aux_weight
        self.encoder = DDRNetEncoder(planes, depths, stage3_parts, spp_planes)
        self.aux_heads = nn.ModuleDict({"aux": SegmentHead(2 * planes, head_planes, num_classes)})
        self.head = SegmentHead(4 * planes, head_planes, num_classes)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at 1/8 of the input size."""
        feats = self.encoder(x)
        return self.head(feats[2] + feats[3])

    def forward_train(self, x: torch.Tensor) -> SegOutput:
        """Main logits plus the auxiliary head on the stage-3 high-resolution branch."""
        feats, aux_in = self.encoder.forward_all(x)
        aux = AuxOutput("aux", self.aux_heads["aux"](aux_in), self.aux_weight, "seg")
        return SegOutput(self.head(feats[2] + feats[3]), [aux])


def _cfg(**published: Reported) -> PretrainedCfg:
    return zoo_cfg(family="ddrnet", paper=PAPER, output_stride=8, published=published)


_AT = "1024x2048, single scale"
_SRC = "DDRNet paper, Cityscapes comparison table"

default_cfgs = {
    "ddrnet23_slim": _cfg(cityscapes_val_miou=Reported(77.8, _AT, _SRC)),
    "ddrnet23": _cfg(cityscapes_val_miou=Reported(79.5, _AT, _SRC)),
    "ddrnet39": _cfg(cityscapes_test_miou=Reported(80.4, _AT, _SRC)),
}


@register_model
def ddrnet23_slim(**kwargs: Any) -> DDRNet:
    """DDRNet-23-slim (planes 32, head 64); paper: 5.7 M params."""
    return build_model(
        DDRNet,
        "ddrnet23_slim",
        dict(planes=32, depths=(2, 2, 2, 2), spp_planes=128, head_planes=64),
        **kwargs,
    )


@register_model
def ddrnet23(**kwargs: Any) -> DDRNet:
    """DDRNet-23 (planes 64, head 128); paper: 20.1 M params."""
    return build_model(
        DDRNet,
        "ddrnet23",
        dict(planes=64, depths=(2, 2, 2, 2), spp_planes=128, head_planes=128),
        **kwargs,
    )


@register_model
def ddrnet39(**kwargs: Any) -> DDRNet:
    """DDRNet-39 (depths 3-4-6-3, stage 3 in two fused halves, head 256); paper: 32.3 M."""
    return build_model(
        DDRNet,
        "ddrnet39",
        dict(planes=64, depths=(3, 4, 6, 3), stage3_parts=2, spp_planes=128, head_planes=256),
        **kwargs,
    )
