"""STDC networks (Fan et al., Rethinking BiSeNet For Real-time Semantic Segmentation, CVPR 2021).

The STDC encoder stacks "Short-Term Dense Concatenate" modules: four convs whose widths halve
(M/2, M/4, M/8, M/8) and whose outputs are concatenated to M channels. In a stride-2 module a
depthwise stride-2 3x3 conv + BN (the authors' "avd" layer) sits between the first and second
conv, and the first conv's output is average-pooled before the concatenation. STDC1 has 2/2/2
modules in stages 3-5, STDC2 4/5/3; stages 3-5 have 256/512/1024 channels.

The segmentation network is the authors' released STDC-Seg (not the BiSeNet paper's decoder):
attention refinement modules (ARM: 3x3 conv-BN-ReLU to 128, then global pool -> 1x1 conv -> BN
-> sigmoid) on stages 4 and 5, a global-pool context (1x1 conv-BN-ReLU to 128) added to the
stage-5 ARM, nearest x2 upsampling each followed by a 3x3 conv-BN-ReLU ``conv_head32`` /
``conv_head16``, a feature fusion module (FFM: 1x1 conv 384 -> 256 + channel attention) with
stage 3, and a 3x3 conv to 256 + 1x1 classifier (no bias) at stride 8. ``forward`` returns
stride-8 logits (``output_stride=8``); the final bilinear x8 upsampling is left to ffseg's
evaluator and loss. Training adds, as the authors do, two seg heads (3x3 conv to 64 + 1x1) on
the context path's stride-8 and stride-16 outputs (``aux16`` / ``aux32``, weight 1) and the
detail head (3x3 conv to 64 + 1x1 to one channel on stage 3, trained against Laplacian
boundaries, ``kind="detail"``); they run only in ``forward_train``.

Module names follow the authors' (``arm16``, ``arm32``, ``conv_avg``, ``conv_head32``,
``conv_head16``, ``ffm``; the encoder's ``stageN.i.convs.k`` / ``avd`` are their
``features.j.conv_list.k`` / ``avd_layer``; conv-BN pairs are indexed 0 / 1) so their
checkpoints load through a key rename. ``backbone=`` is ``"stdc1"`` or ``"stdc2"``.

Inference graph at 1x3x1024x2048, 19 classes: STDC1-Seg 8.28 M params / 67.5 GMACs, STDC2-Seg
12.31 M / 93.8 GMACs, as the authors' code (the training heads add 0.32 M). Both equal the
authors' model; the zoo's reference re-implementation (7.79 / 11.82 M) follows the BiSeNet
paper's decoder instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, kaiming_init_, resize_to
from ffseg.layers.fusion import FeatureFusionModule
from ffseg.models._base import AuxOutput, FeatureInfo, PretrainedCfg, SegModel, SegOutput
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import Reported, zoo_cfg

__all__ = [
    "BACKBONES",
    "STDC_DEPTHS",
    "AttentionRefinement",
    "ClassHead",
    "STDCEncoder",
    "STDCModule",
    "STDCSeg",
    "seg_aux",
    "stdc_encoder",
]

PAPER = "Fan et al., Rethinking BiSeNet For Real-time Semantic Segmentation (STDC), CVPR 2021"
#: Modules per stage 3-5 of each STDC encoder (the names ``backbone=`` accepts).
STDC_DEPTHS = {"stdc1": (2, 2, 2), "stdc2": (4, 5, 3)}
BACKBONES = tuple(STDC_DEPTHS)


class STDCModule(nn.Module):
    """Short-Term Dense Concatenate module with 4 convs (widths M/2, M/4, M/8, M/8).

    ``stride=2`` adds the depthwise stride-2 conv + BN ``avd`` after the first conv and
    average-pools the first conv's output before the concatenation.
    """

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        if cout % 8:
            raise ValueError(f"STDC module width must be divisible by 8, got {cout}")
        widths = (cout // 2, cout // 4, cout // 8, cout // 8)
        self.convs = nn.ModuleList([ConvBNAct(cin, widths[0], 1)])
        self.convs.extend(ConvBNAct(widths[i - 1], widths[i], 3) for i in range(1, 4))
        half = widths[0]
        self.avd = (
            ConvBNAct(half, half, 3, 2, groups=half, act=None) if stride == 2 else nn.Identity()
        )
        self.skip = nn.AvgPool2d(3, 2, 1) if stride == 2 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first = self.convs[0](x)
        out = self.convs[1](self.avd(first))
        outs = [self.skip(first), out]
        for conv in self.convs[2:]:
            out = conv(out)
            outs.append(out)
        return torch.cat(outs, dim=1)


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


class AttentionRefinement(nn.Module):
    """The released BiSeNet/STDC ARM: 3x3 conv-BN-act to ``cout``, then channel attention.

    ``conv`` (conv 0, BN 1) then ``attn`` (global pool -> 1x1 conv 0 -> BN 1 -> sigmoid).
    """

    def __init__(self, cin: int, cout: int, act: Callable[[], nn.Module] = nn.ReLU) -> None:
        super().__init__()
        self.conv = ConvBNAct(cin, cout, 3, act=act)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.attn = ConvBNAct(cout, cout, 1, act=nn.Sigmoid)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return x * self.attn(self.pool(x))


class ClassHead(nn.Sequential):
    """3x3 conv-BN-act to ``mid`` (``conv``), then a bias-free classifier ``cls``."""

    def __init__(
        self,
        cin: int,
        mid: int,
        num_classes: int,
        cls_kernel: int = 1,
        act: Callable[[], nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        self.conv = ConvBNAct(cin, mid, 3, act=act)
        self.cls = nn.Conv2d(mid, num_classes, cls_kernel, padding=cls_kernel // 2, bias=False)


def seg_aux(heads: nn.ModuleDict, **features: torch.Tensor) -> list[AuxOutput]:
    """Weight-1 seg outputs of ``heads[name]`` on each named feature (the authors' aux heads)."""
    return [AuxOutput(name, heads[name](y), weight=1.0) for name, y in features.items()]


class STDCSeg(SegModel):
    """The released STDC-Seg (stride-8 logits; aux and detail heads in ``forward_train``)."""

    encoder_attr = "backbone"

    def __init__(self, backbone: str = "stdc1", num_classes: int = 19, width: int = 128) -> None:
        super().__init__(num_classes)
        self.backbone = stdc_encoder(backbone, "stdc")
        c8, c16, c32 = self.backbone.out_channels[2:]
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv_avg = ConvBNAct(c32, width, 1)
        self.arm32 = AttentionRefinement(c32, width)
        self.arm16 = AttentionRefinement(c16, width)
        self.conv_head32 = ConvBNAct(width, width, 3)
        self.conv_head16 = ConvBNAct(width, width, 3)
        self.ffm = FeatureFusionModule(c8 + width, 256, kernel_size=1, reduction=4)
        self.head = ClassHead(256, 256, num_classes)
        self.aux_heads = nn.ModuleDict(
            {
                "aux16": ClassHead(width, 64, num_classes),
                "aux32": ClassHead(width, 64, num_classes),
                "detail": ClassHead(c8, 64, 1),
            }
        )
        kaiming_init_(self)

    def _context(self, x16: torch.Tensor, x32: torch.Tensor, size8: Any) -> list[torch.Tensor]:
        """The context path's stride-8 and stride-16 outputs."""
        y32 = self.arm32(x32) + self.conv_avg(self.pool(x32))
        y16 = self.conv_head32(resize_to(y32, x16.shape[-2:], "nearest"))
        y8 = self.conv_head16(resize_to(self.arm16(x16) + y16, size8, "nearest"))
        return [y8, y16]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at stride 8."""
        _, _, x8, x16, x32 = self.backbone(x)
        y8, _ = self._context(x16, x32, x8.shape[-2:])
        return self.head(self.ffm(x8, y8))

    def forward_train(self, x: torch.Tensor) -> SegOutput:
        """Logits, the two context-path seg heads and the detail head's boundary logits."""
        _, _, x8, x16, x32 = self.backbone(x)
        y8, y16 = self._context(x16, x32, x8.shape[-2:])
        aux = seg_aux(self.aux_heads, aux16=y8, aux32=y16)
        aux.append(AuxOutput("detail", self.aux_heads["detail"](x8), weight=1.0, kind="detail"))
        return SegOutput(self.head(self.ffm(x8, y8)), aux)


_SEG75 = "768x1536 input, single scale"


def _cfg(val: float, test: float) -> PretrainedCfg:
    return zoo_cfg(
        family="stdc",
        paper=PAPER,
        output_stride=8,
        published={
            "cityscapes_val_miou": Reported(
                val, _SEG75, "STDC paper, Cityscapes comparison table (Seg75)"
            ),
            "cityscapes_test_miou": Reported(
                test, _SEG75, "STDC paper, Cityscapes comparison table (Seg75)"
            ),
        },
    )


default_cfgs = {"stdc1": _cfg(74.5, 75.3), "stdc2": _cfg(77.0, 76.8)}


@register_model
def stdc1(**kwargs: Any) -> STDCSeg:
    """STDC1-Seg (paper, "Seg75" at 768x1536: 74.5 val / 75.3 test mIoU)."""
    return build_model(STDCSeg, "stdc1", dict(backbone="stdc1"), **kwargs)


@register_model
def stdc2(**kwargs: Any) -> STDCSeg:
    """STDC2-Seg (paper, "Seg75" at 768x1536: 77.0 val / 76.8 test mIoU)."""
    return build_model(STDCSeg, "stdc2", dict(backbone="stdc2"), **kwargs)
