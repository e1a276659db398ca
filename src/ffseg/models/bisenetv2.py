"""BiSeNet V2 (Yu et al., BiSeNet V2: Bilateral Network with Guided Aggregation, IJCV 2021).

* Detail branch: 3 stages of 3x3 conv-BN-ReLU (64, 64, 128 channels; 2, 3, 3 convs, the first of
  each stage strided), stride 8.
* Semantic branch: stem block (3x3/2 conv, then a conv branch 1x1 + 3x3/2 and a 3x3/2 max-pool
  branch, concatenated and fused by a 3x3 conv), gather-and-expansion (GE) layers with expansion
  6 (16 -> 32 -> 64 -> 128 channels, stride 32) and a context embedding block (global average
  pool + BN, 1x1 conv-BN-ReLU, broadcast add, 3x3 conv).
* Bilateral guided aggregation: each branch guides the other at both resolutions through sigmoid
  gates, the two products are summed at stride 8 and fused by a 3x3 conv-BN-ReLU.
* Seg head (3x3 conv-BN-ReLU + 1x1) at stride 8; the paper ends with a fixed bilinear x8
  upsampling (``output_stride`` 8). Four booster heads on the semantic branch (stem, stages 3,
  4 and 5) run only in ``forward_train`` with weight 1.0 (the paper's alpha).

Parameters (19 classes, inference graph without the booster heads): 2.308 M (reference 2.27 M,
+1.7 %); the booster heads add 0.287 M for training only. No authors' code exists: the
branches and the aggregation equal the most used re-implementation exactly, but the seg head's
width (128 channels) is an assumption (the paper does not state it).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, kaiming_init_, resize_to
from ffseg.layers.fusion import SegHead
from ffseg.layers.lightweight import DWConvBNAct
from ffseg.models._base import AuxOutput, FeatureInfo, SegModel, SegOutput
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import Reported, zoo_cfg

__all__ = [
    "BiSeNetV2",
    "ContextEmbedding",
    "GatherExpansion",
    "GuidedAggregation",
    "SemanticBranch",
    "StemBlock",
]

PAPER = (
    "Yu et al., BiSeNet V2: Bilateral Network with Guided Aggregation for Real-time Semantic "
    "Segmentation, IJCV 2021"
)


class StemBlock(nn.Module):
    """Semantic-branch stem: stride 4, two downsampling paths concatenated."""

    def __init__(self, cout: int = 16) -> None:
        super().__init__()
        self.conv = ConvBNAct(3, cout, 3, 2)
        self.left = nn.Sequential(ConvBNAct(cout, cout // 2, 1), ConvBNAct(cout // 2, cout, 3, 2))
        self.right = nn.MaxPool2d(3, 2, 1)
        self.fuse = ConvBNAct(2 * cout, cout, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return self.fuse(torch.cat([self.left(x), self.right(x)], dim=1))


class GatherExpansion(nn.Module):
    """GE layer: 3x3 conv, depthwise expansion (x6), linear 1x1 projection, residual."""

    def __init__(self, cin: int, cout: int, stride: int = 1, expand: int = 6) -> None:
        super().__init__()
        mid = cin * expand
        layers: list[nn.Module] = [
            ConvBNAct(cin, cin, 3),
            DWConvBNAct(cin, mid, 3, stride, act=None),
        ]
        if stride == 2:
            layers.append(DWConvBNAct(mid, mid, 3, act=None))
        layers.append(ConvBNAct(mid, cout, 1, act=None))
        self.body = nn.Sequential(*layers)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                DWConvBNAct(cin, cin, 3, stride, act=None), ConvBNAct(cin, cout, 1, act=None)
            )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


class ContextEmbedding(nn.Module):
    """CE block: global average pool -> BN -> 1x1 conv-BN-ReLU, broadcast add, 3x3 conv."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.bn = nn.BatchNorm2d(channels)
        self.gap_conv = ConvBNAct(channels, channels, 1)
        self.out = ConvBNAct(channels, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(x + self.gap_conv(self.bn(self.pool(x))))


class GuidedAggregation(nn.Module):
    """Bilateral guided aggregation of the detail (stride 8) and semantic (stride 32) features."""

    def __init__(self, channels: int = 128) -> None:
        super().__init__()
        c = channels
        self.detail_keep = nn.Sequential(DWConvBNAct(c, act=None), nn.Conv2d(c, c, 1, bias=False))
        self.detail_down = nn.Sequential(
            ConvBNAct(c, c, 3, 2, act=None), nn.AvgPool2d(3, 2, 1, ceil_mode=False)
        )
        self.semantic_up = ConvBNAct(c, c, 3, act=None)
        self.semantic_keep = nn.Sequential(DWConvBNAct(c, act=None), nn.Conv2d(c, c, 1, bias=False))
        self.out = ConvBNAct(c, c, 3)

    def forward(self, detail: torch.Tensor, semantic: torch.Tensor) -> torch.Tensor:
        size = detail.shape[-2:]
        gate_up = torch.sigmoid(resize_to(self.semantic_up(semantic), size, "bilinear_half"))
        high = self.detail_keep(detail) * gate_up
        low = self.detail_down(detail) * torch.sigmoid(self.semantic_keep(semantic))
        return self.out(high + resize_to(low, size, "bilinear_half"))


class SemanticBranch(nn.Module):
    """Stem and GE stages 3-5: features at strides 4, 8, 16, 32 (also the ``features_only`` net)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = StemBlock(16)
        self.stage3 = nn.Sequential(GatherExpansion(16, 32, 2), GatherExpansion(32, 32))
        self.stage4 = nn.Sequential(GatherExpansion(32, 64, 2), GatherExpansion(64, 64))
        self.stage5 = nn.Sequential(
            GatherExpansion(64, 128, 2), *(GatherExpansion(128, 128) for _ in range(3))
        )
        self.feature_info = [
            FeatureInfo(16, 4, "stem"),
            FeatureInfo(32, 8, "stage3"),
            FeatureInfo(64, 16, "stage4"),
            FeatureInfo(128, 32, "stage5"),
        ]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        s2 = self.stem(x)
        s3 = self.stage3(s2)
        s4 = self.stage4(s3)
        return [s2, s3, s4, self.stage5(s4)]


class BiSeNetV2(SegModel):
    """BiSeNet V2 with booster (auxiliary) heads for training."""

    encoder_attr = "semantic"

    def __init__(self, num_classes: int = 19, head_channels: int = 128) -> None:
        super().__init__(num_classes)
        self.detail = nn.Sequential(
            ConvBNAct(3, 64, 3, 2),
            ConvBNAct(64, 64, 3),
            ConvBNAct(64, 64, 3, 2),
            ConvBNAct(64, 64, 3),
            ConvBNAct(64, 64, 3),
            ConvBNAct(64, 128, 3, 2),
            ConvBNAct(128, 128, 3),
            ConvBNAct(128, 128, 3),
        )
        self.semantic = SemanticBranch()
        self.context = ContextEmbedding(128)
        self.bga = GuidedAggregation(128)
        self.head = SegHead(128, head_channels, num_classes)
        self.aux_heads = nn.ModuleDict(
            {
                f"aux{i}": SegHead(f.num_chs, head_channels, num_classes)
                for i, f in enumerate(self.semantic.feature_info, start=2)
            }
        )
        kaiming_init_(self)

    def _run(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        feats = self.semantic(x)
        logits = self.head(self.bga(self.detail(x), self.context(feats[-1])))
        return logits, feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at stride 8."""
        return self._run(x)[0]

    def forward_train(self, x: torch.Tensor) -> SegOutput:
        """Logits plus the four booster heads (weight 1.0 each)."""
        logits, feats = self._run(x)
        aux = [
            AuxOutput(name, head(f), weight=1.0)
            for (name, head), f in zip(self.aux_heads.items(), feats)
        ]
        return SegOutput(logits, aux)


_AT = "512x1024 input, single scale"
_SRC = "BiSeNet V2 paper, Cityscapes comparison table"

default_cfgs = {
    "bisenetv2": zoo_cfg(
        family="bisenetv2",
        paper=PAPER,
        output_stride=8,
        published={
            "cityscapes_val_miou": Reported(73.4, _AT, _SRC),
            "cityscapes_test_miou": Reported(72.6, _AT, _SRC),
        },
    )
}


@register_model
def bisenetv2(**kwargs: Any) -> BiSeNetV2:
    """BiSeNet V2 (paper: 73.4 val mIoU / 72.6 test at 512x1024, trained from scratch)."""
    return build_model(BiSeNetV2, "bisenetv2", **kwargs)
