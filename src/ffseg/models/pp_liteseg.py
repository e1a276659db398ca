"""PP-LiteSeg (Peng et al., PP-LiteSeg: A Superior Real-Time Semantic Segmentation Model, 2022).

The authors' PaddleSeg model: an STDC1 (``pp_liteseg_t``) or STDC2 (``pp_liteseg_b``) encoder
from :mod:`ffseg.models.stdc` (with the stride-2 depthwise "avd" convs); a Simple Pyramid
Pooling Module (SPPM: average pools to 1x1, 2x2, 4x4, a 1x1 conv-BN-ReLU with bias to 128
channels each, upsampled and *summed*, then a 3x3 conv-BN-ReLU with bias) on the stride-32
feature; and a Flexible and Lightweight Decoder of three Unified Attention Fusion Modules
(UAFM) at strides 32, 16 and 8 whose channels shrink as resolution grows (T: 128/64/32,
B: 128/96/64). A UAFM projects the encoder feature ``x`` with a 3x3 conv-BN-ReLU to the
decoder width, upsamples the decoder feature ``y``, weights ``x * a + y * (1 - a)`` with
``a = sigmoid(conv([mean x, max x, mean y, max y]))`` (spatial attention; ``pp_liteseg_t_ca``
uses the authors' channel-attention UAFM instead) and ends with a 3x3 conv-BN-ReLU. The seg
head (3x3 conv-BN-ReLU to 32 (T) / 64 (B), then a bias-free 1x1 classifier) predicts at
stride 8, followed in the paper by a fixed bilinear x8 upsampling (so ``output_stride`` is 8).
Training adds seg heads (mid 64) on the stride-16 and stride-32 decoder outputs (the paper
trains all three with weight 1).

Module names follow PaddleSeg's (``cm`` = ``ppseg_head.cm``, ``arm_list.i`` =
``ppseg_head.arm_list.i`` with ``conv_x`` / ``conv_xy_atten`` / ``conv_out``; conv-BN pairs
indexed 0 / 1; ``head`` / ``aux_heads`` = ``seg_heads.0`` / ``.1`` / ``.2``) so the released
weights load through a key rename. SPPM's pooling to fixed bins makes ONNX export static-shape
only. ``backbone=`` is ``"stdc1"`` or ``"stdc2"``.

Inference graph at 1x3x1024x2048, 19 classes: pp_liteseg_t 8.03 M params / 45.7 GMACs,
pp_liteseg_b 12.23 M / 76.9 GMACs, as the authors' model (the zoo's reference
re-implementation, 6.33 / 10.56 M, fuses at two scales only).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, kaiming_init_, resize_to
from ffseg.models._base import PretrainedCfg, SegModel, SegOutput
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import Reported, zoo_cfg
from ffseg.models.stdc import BACKBONES, ClassHead, seg_aux, stdc_encoder

__all__ = ["BACKBONES", "SPPM", "UAFM", "PPLiteSeg"]

PAPER = (
    "Peng et al., PP-LiteSeg: A Superior Real-Time Semantic Segmentation Model, arXiv 2204.02681"
)


class SPPM(nn.Module):
    """Simple pyramid pooling: pooled branches are summed (not concatenated), then a 3x3 conv."""

    def __init__(self, cin: int, mid: int, cout: int, bins: Sequence[int] = (1, 2, 4)) -> None:
        super().__init__()
        self.stages = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(b), ConvBNAct(cin, mid, 1, bias=True)) for b in bins
        )
        self.conv_out = ConvBNAct(mid, cout, 3, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        y = sum(resize_to(stage(x), size, "bilinear_half") for stage in self.stages)
        return self.conv_out(y)


class UAFM(nn.Module):
    """Unified attention fusion of encoder feature ``x`` and decoder feature ``y``.

    ``attention="spatial"``: ``a`` from the per-pixel mean and max over channels of ``x`` and
    the upsampled ``y`` (3x3 conv-BN-ReLU 4 -> 2, 3x3 conv-BN 2 -> 1). ``"channel"``: ``a``
    from the global average and max of each (1x1 conv-BN-LeakyReLU 4C -> C/2, 1x1 conv-BN
    C/2 -> C).
    """

    def __init__(self, x_ch: int, y_ch: int, cout: int, attention: str = "spatial") -> None:
        super().__init__()
        if attention not in ("spatial", "channel"):
            raise ValueError(f"unknown UAFM attention {attention!r}; use 'spatial' or 'channel'")
        self.attention = attention
        self.conv_x = ConvBNAct(x_ch, y_ch, 3)
        if attention == "spatial":
            self.conv_xy_atten = nn.Sequential(ConvBNAct(4, 2, 3), ConvBNAct(2, 1, 3, act=None))
        else:
            self.conv_xy_atten = nn.Sequential(
                ConvBNAct(4 * y_ch, y_ch // 2, 1, act=nn.LeakyReLU),
                ConvBNAct(y_ch // 2, y_ch, 1, act=None),
            )
        self.conv_out = ConvBNAct(y_ch, cout, 3)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x = self.conv_x(x)
        y = resize_to(y, x.shape[-2:], "bilinear_half")
        if self.attention == "spatial":
            stats = [x.mean(1, True), x.amax(1, True), y.mean(1, True), y.amax(1, True)]
        else:
            dims = (2, 3)
            stats = [x.mean(dims, True), y.mean(dims, True), x.amax(dims, True), y.amax(dims, True)]
        a = torch.sigmoid(self.conv_xy_atten(torch.cat(stats, dim=1)))
        return self.conv_out(x * a + y * (1 - a))


class PPLiteSeg(SegModel):
    """PP-LiteSeg: STDC encoder, SPPM, three UAFMs (strides 32, 16, 8), stride-8 logits."""

    encoder_attr = "backbone"
    supports_dynamic_shapes = False

    def __init__(
        self,
        backbone: str = "stdc1",
        decoder_channels: Sequence[int] = (32, 64, 128),
        head_channels: int = 32,
        num_classes: int = 19,
        sppm_channels: int = 128,
        attention: str = "spatial",
    ) -> None:
        super().__init__(num_classes)
        self.backbone = stdc_encoder(backbone, "pp_liteseg")
        encoder_channels = self.backbone.out_channels[2:]
        d8, d16, d32 = decoder_channels
        self.cm = SPPM(encoder_channels[-1], sppm_channels, sppm_channels)
        highs = (d16, d32, sppm_channels)
        self.arm_list = nn.ModuleList(
            UAFM(c, high, out, attention)
            for c, high, out in zip(encoder_channels, highs, decoder_channels)
        )
        self.head = ClassHead(d8, head_channels, num_classes)
        self.aux_heads = nn.ModuleDict(
            {"aux16": ClassHead(d16, 64, num_classes), "aux32": ClassHead(d32, 64, num_classes)}
        )
        kaiming_init_(self)

    def _decode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Decoder outputs at strides 8, 16, 32."""
        feats = self.backbone(x)[2:]
        y = self.cm(feats[-1])
        outs = []
        for i in reversed(range(len(feats))):
            y = self.arm_list[i](feats[i], y)
            outs.insert(0, y)
        return outs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at stride 8."""
        return self.head(self._decode(x)[0])

    def forward_train(self, x: torch.Tensor) -> SegOutput:
        """Logits plus seg heads on the stride-16 and stride-32 decoder outputs (weight 1)."""
        y8, y16, y32 = self._decode(x)
        return SegOutput(self.head(y8), seg_aux(self.aux_heads, aux16=y16, aux32=y32))


_AT = "512x1024 input, single scale"
_SRC = "PP-LiteSeg paper, Cityscapes comparison table (T1 / B1)"


def _cfg(val: float | None = None, test: float | None = None) -> PretrainedCfg:
    published = {}
    if val is not None:
        published["cityscapes_val_miou"] = Reported(val, _AT, _SRC)
    if test is not None:
        published["cityscapes_test_miou"] = Reported(test, _AT, _SRC)
    return zoo_cfg(
        family="pp_liteseg",
        paper=PAPER,
        output_stride=8,
        min_input_size=(128, 128),
        published=published,
    )


default_cfgs = {
    "pp_liteseg_t": _cfg(73.1, 72.0),
    "pp_liteseg_b": _cfg(75.3, 73.9),
    "pp_liteseg_t_ca": _cfg(),
}


@register_model
def pp_liteseg_t(**kwargs: Any) -> PPLiteSeg:
    """PP-LiteSeg-T (STDC1; paper at 512x1024: 73.1 val / 72.0 test mIoU)."""
    args = dict(backbone="stdc1", decoder_channels=(32, 64, 128), head_channels=32)
    return build_model(PPLiteSeg, "pp_liteseg_t", args, **kwargs)


@register_model
def pp_liteseg_b(**kwargs: Any) -> PPLiteSeg:
    """PP-LiteSeg-B (STDC2; paper at 512x1024: 75.3 val / 73.9 test mIoU)."""
    args = dict(backbone="stdc2", decoder_channels=(64, 96, 128), head_channels=64)
    return build_model(PPLiteSeg, "pp_liteseg_b", args, **kwargs)


@register_model
def pp_liteseg_t_ca(**kwargs: Any) -> PPLiteSeg:
    """PP-LiteSeg-T with the authors' channel-attention UAFM (no published Cityscapes score)."""
    args = dict(
        backbone="stdc1", decoder_channels=(32, 64, 128), head_channels=32, attention="channel"
    )
    return build_model(PPLiteSeg, "pp_liteseg_t_ca", args, **kwargs)
