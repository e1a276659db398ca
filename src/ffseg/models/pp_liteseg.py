"""PP-LiteSeg (Peng et al., PP-LiteSeg: A Superior Real-Time Semantic Segmentation Model, 2022).

STDC1 (``pp_liteseg_t``) or STDC2 (``pp_liteseg_b``) encoder from :mod:`ffseg.models.stdc`;
a Simple Pyramid Pooling Module (SPPM: average pools to 1x1, 2x2, 4x4, 1x1 conv-BN-ReLU each,
upsampled and *summed*, then a 3x3 conv-BN-ReLU) on the stride-32 feature; a Flexible and
Lightweight Decoder whose channels shrink as resolution grows, fusing stride-16 and stride-8
features through Unified Attention Fusion Modules with spatial attention (UAFM); a 3x3 conv +
1x1 seg head at stride 8, followed in the paper by a fixed bilinear x8 upsampling (so
``output_stride`` is 8). Training adds seg heads on the stride-32 and stride-16 decoder outputs
(the paper trains all three with weight 1).

SPPM's pooling to fixed bins makes ONNX export static-shape only. ``backbone=`` is ``"stdc1"``
or ``"stdc2"`` (the variants pick their own).

Parameters (19 classes, inference graph without the aux heads): pp_liteseg_t 6.700 M
(reference 6.33 M, +5.9 %), pp_liteseg_b 10.897 M (reference 10.56 M, +3.2 %). This is the
paper's variant: UAFM projects the low-level feature with a 3x3 conv-BN-ReLU and SPPM uses 128
intermediate channels with BN, as the paper describes; the reference re-implementation projects
with a bias-free 1x1 conv and uses 256 SPPM channels, which lands on different totals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, kaiming_init_, resize_to
from ffseg.layers.fusion import UAFM, SegHead
from ffseg.models._base import AuxOutput, PretrainedCfg, SegModel, SegOutput
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import zoo_cfg
from ffseg.models.stdc import stdc_encoder

__all__ = ["SPPM", "PPLiteSeg"]

PAPER = (
    "Peng et al., PP-LiteSeg: A Superior Real-Time Semantic Segmentation Model, arXiv 2204.02681"
)


class SPPM(nn.Module):
    """Simple pyramid pooling: pooled branches are summed (not concatenated), then a 3x3 conv."""

    def __init__(self, cin: int, mid: int, cout: int, bins: Sequence[int] = (1, 2, 4)) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(b), ConvBNAct(cin, mid, 1)) for b in bins
        )
        self.out = ConvBNAct(mid, cout, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        y = sum(resize_to(branch(x), size, "bilinear_half") for branch in self.branches)
        return self.out(y)


class PPLiteSeg(SegModel):
    """PP-LiteSeg: STDC encoder, SPPM, two spatial UAFMs, stride-8 logits."""

    encoder_attr = "backbone"
    supports_dynamic_shapes = False

    def __init__(
        self,
        backbone: str = "stdc1",
        decoder_channels: Sequence[int] = (128, 64, 32),
        num_classes: int = 19,
        sppm_channels: int = 128,
    ) -> None:
        super().__init__(num_classes)
        self.backbone = stdc_encoder(backbone, "pp_liteseg")
        c8, c16, c32 = self.backbone.out_channels[2:]
        d32, d16, d8 = decoder_channels
        self.sppm = SPPM(c32, sppm_channels, d32)
        self.fuse16 = UAFM(c16, d32, d16)
        self.fuse8 = UAFM(c8, d16, d8)
        self.head = SegHead(d8, 64, num_classes)
        self.aux_heads = nn.ModuleDict(
            {"aux32": SegHead(d32, 64, num_classes), "aux16": SegHead(d16, 64, num_classes)}
        )
        kaiming_init_(self)

    def _decode(self, x: torch.Tensor) -> list[torch.Tensor]:
        _, _, x8, x16, x32 = self.backbone(x)
        y32 = self.sppm(x32)
        y16 = self.fuse16(y32, x16)
        y8 = self.fuse8(y16, x8)
        return [y8, y16, y32]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at stride 8."""
        return self.head(self._decode(x)[0])

    def forward_train(self, x: torch.Tensor) -> SegOutput:
        """Logits plus seg heads on the stride-16 and stride-32 decoder outputs (weight 1)."""
        y8, y16, y32 = self._decode(x)
        aux = [
            AuxOutput("aux16", self.aux_heads["aux16"](y16), weight=1.0),
            AuxOutput("aux32", self.aux_heads["aux32"](y32), weight=1.0),
        ]
        return SegOutput(self.head(y8), aux)


def _cfg(**published: float) -> PretrainedCfg:
    return zoo_cfg(
        family="pp_liteseg",
        paper=PAPER,
        output_stride=8,
        min_input_size=(128, 128),
        published=published,
    )


default_cfgs = {
    "pp_liteseg_t": _cfg(cityscapes_val_miou=73.1, cityscapes_test_miou=72.0),
    "pp_liteseg_b": _cfg(cityscapes_val_miou=75.3, cityscapes_test_miou=73.9),
}


@register_model
def pp_liteseg_t(**kwargs: Any) -> PPLiteSeg:
    """PP-LiteSeg-T (STDC1; paper at 512x1024: 73.1 val / 72.0 test mIoU)."""
    return build_model(
        PPLiteSeg, "pp_liteseg_t", dict(backbone="stdc1", decoder_channels=(128, 64, 32)), **kwargs
    )


@register_model
def pp_liteseg_b(**kwargs: Any) -> PPLiteSeg:
    """PP-LiteSeg-B (STDC2; paper at 512x1024: 75.3 val / 73.9 test mIoU)."""
    return build_model(
        PPLiteSeg, "pp_liteseg_b", dict(backbone="stdc2", decoder_channels=(128, 96, 64)), **kwargs
    )
