"""STDC networks (Fan et al., Rethinking BiSeNet For Real-time Semantic Segmentation, CVPR 2021).

The STDC encoder stacks "Short-Term Dense Concatenate" modules: four convs whose widths halve
(M/2, M/4, M/8, M/8) and whose outputs are concatenated to M channels; a stride-2 module strides
its second conv and average-pools the first conv's output before concatenation. STDC1 has
2/2/2 modules in stages 3-5, STDC2 4/5/3; stages 3-5 have 256/512/1024 channels.

The segmentation network follows the paper's BiSeNet-style decoder: attention refinement modules
(ARM) on stages 4 and 5 plus a global-average-pool context, 1x1 projections to 256 channels,
a feature fusion module (FFM) with stage 3 at stride 8, and a 3x3 conv + 1x1 seg head that
predicts at stride 8: ``forward`` returns stride-8 logits (``output_stride=8``); the paper's
final bilinear x8 upsampling to the input size is left to ffseg's evaluator and loss. The
detail head (a 3x3 conv + 1x1 conv to one channel on stage 3, trained against Laplacian
boundaries) runs only in ``forward_train`` (``AuxOutput(kind="detail", weight=1.0)``).
``backbone=`` is ``"stdc1"`` or ``"stdc2"`` (the variants pick their own).

Parameters (19 classes, inference graph without the detail head): stdc1 7.789 M (reference
7.79 M), stdc2 11.820 M (reference 11.82 M); the detail head adds 0.148 M for training only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, kaiming_init_, resize_to
from ffseg.layers.fusion import AttentionRefinementModule, FeatureFusionModule, SegHead
from ffseg.models._base import AuxOutput, FeatureInfo, PretrainedCfg, SegModel, SegOutput
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import zoo_cfg

__all__ = ["STDC_DEPTHS", "STDCEncoder", "STDCModule", "STDCSeg", "stdc_encoder"]

PAPER = "Fan et al., Rethinking BiSeNet For Real-time Semantic Segmentation (STDC), CVPR 2021"
#: Modules per stage 3-5 of each STDC encoder (the names ``backbone=`` accepts).
STDC_DEPTHS = {"stdc1": (2, 2, 2), "stdc2": (4, 5, 3)}


class STDCModule(nn.Module):
    """Short-Term Dense Concatenate module with 4 blocks (widths M/2, M/4, M/8, M/8)."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        if cout % 8:
            raise ValueError(f"STDC module width must be divisible by 8, got {cout}")
        self.block1 = ConvBNAct(cin, cout // 2, 1)
        self.block2 = ConvBNAct(cout // 2, cout // 4, 3, stride)
        self.block3 = ConvBNAct(cout // 4, cout // 8, 3)
        self.block4 = ConvBNAct(cout // 8, cout // 8, 3)
        self.skip = nn.AvgPool2d(3, 2, 1) if stride == 2 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.block1(x)
        x2 = self.block2(x1)
        x3 = self.block3(x2)
        x4 = self.block4(x3)
        return torch.cat([self.skip(x1), x2, x3, x4], dim=1)


class STDCEncoder(nn.Module):
    """STDC1/STDC2 encoder returning 5 features at strides 2, 4, 8, 16, 32."""

    def __init__(self, depths: Sequence[int], widths: Sequence[int] = (256, 512, 1024)) -> None:
        super().__init__()
        self.stage1 = ConvBNAct(3, 32, 3, 2)
        self.stage2 = ConvBNAct(32, 64, 3, 2)
        cin = 64
        for i, (depth, width) in enumerate(zip(depths, widths), start=3):
            blocks = [STDCModule(cin, width, 2)]
            blocks += [STDCModule(width, width) for _ in range(depth - 1)]
            self.add_module(f"stage{i}", nn.Sequential(*blocks))
            cin = width
        channels = (32, 64, *widths)
        self.feature_info = [
            FeatureInfo(c, 2 ** (i + 1), f"stage{i + 1}") for i, c in enumerate(channels)
        ]
        self.out_channels = list(channels)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for i in range(1, 6):
            x = getattr(self, f"stage{i}")(x)
            feats.append(x)
        return feats


def stdc_encoder(name: str, family: str) -> STDCEncoder:
    """The STDC encoder ``name`` (``"stdc1"`` / ``"stdc2"``) for ``family``'s ``backbone=``."""
    if name.lower() not in STDC_DEPTHS:
        raise ValueError(
            f"unknown {family} backbone {name!r}; choose one of {', '.join(STDC_DEPTHS)}"
        )
    return STDCEncoder(STDC_DEPTHS[name.lower()])


class STDCSeg(SegModel):
    """STDC segmentation network (stride-8 logits; detail head in ``forward_train``)."""

    encoder_attr = "backbone"

    def __init__(self, backbone: str = "stdc1", num_classes: int = 19, width: int = 256) -> None:
        super().__init__(num_classes)
        self.backbone = stdc_encoder(backbone, "stdc")
        c8, c16, c32 = self.backbone.out_channels[2:]
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.arm32 = AttentionRefinementModule(c32)
        self.arm16 = AttentionRefinementModule(c16)
        self.proj32 = ConvBNAct(c32, width, 1)
        self.proj16 = ConvBNAct(c16, width, 1)
        self.ffm = FeatureFusionModule(c8 + width, 128)
        self.head = SegHead(128, 128, num_classes)
        self.aux_heads = nn.ModuleDict({"detail": SegHead(c8, 64, 1)})
        kaiming_init_(self)

    def _decode(self, feats: list[torch.Tensor]) -> torch.Tensor:
        x8, x16, x32 = feats[2:]
        ctx = self.proj32(self.arm32(x32) + self.pool(x32))
        x = self.proj16(self.arm16(x16)) + resize_to(ctx, x16.shape[-2:], "bilinear")
        x = resize_to(x, x8.shape[-2:], "bilinear")
        return self.head(self.ffm(x8, x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at stride 8."""
        return self._decode(self.backbone(x))

    def forward_train(self, x: torch.Tensor) -> SegOutput:
        """Logits plus the detail head's boundary logits (stride 8, one channel)."""
        feats = self.backbone(x)
        detail = self.aux_heads["detail"](feats[2])
        aux = [AuxOutput("detail", detail, weight=1.0, kind="detail")]
        return SegOutput(self._decode(feats), aux)


def _cfg(**published: float) -> PretrainedCfg:
    return zoo_cfg(family="stdc", paper=PAPER, output_stride=8, published=published)


default_cfgs = {
    "stdc1": _cfg(cityscapes_val_miou=74.5, cityscapes_test_miou=75.3),
    "stdc2": _cfg(cityscapes_val_miou=77.0, cityscapes_test_miou=76.8),
}


@register_model
def stdc1(**kwargs: Any) -> STDCSeg:
    """STDC1-Seg (paper, "Seg75" at 768x1536: 74.5 val / 75.3 test mIoU)."""
    return build_model(STDCSeg, "stdc1", dict(backbone="stdc1"), **kwargs)


@register_model
def stdc2(**kwargs: Any) -> STDCSeg:
    """STDC2-Seg (paper, "Seg75" at 768x1536: 77.0 val / 76.8 test mIoU)."""
    return build_model(STDCSeg, "stdc2", dict(backbone="stdc2"), **kwargs)
