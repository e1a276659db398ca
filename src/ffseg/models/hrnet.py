"""HRNetV2 for semantic segmentation (Wang et al., TPAMI 2020, arXiv:1908.07919).

The encoder keeps a high-resolution branch (1/4) through the whole network and adds one
lower-resolution branch per stage (1/8, 1/16, 1/32; widths C, 2C, 4C, 8C); every module ends
with a multi-resolution fusion (strided 3x3 convs downwards, 1x1 conv + upsampling upwards).
Stage layout: stage 1 = 4 bottlenecks, stages 2/3/4 = 1/4/3 modules of 4 basic blocks per
branch. The HRNetV2 head upsamples the four branches to 1/4, concatenates them (15C channels)
and applies 1x1 conv + BN + ReLU + 1x1 classifier: logits at 1/4 (``output_stride=4``).

Parameters (19 classes): W18 9.64 M, W32 29.55 M, W48 65.86 M; the paper gives 65.9 M for
HRNetV2-W48 (the same count). Reported Cityscapes val mIoU (HRNet paper): W48 81.1. The FFNet
paper's GPU-large comparison lists W48 / W32 / W18 at 84.9 / 83.7 / 82.4 with its own training
recipe, stored under their own key ``cityscapes_val_miou_ffnet_paper`` so that comparisons
with FFNet use numbers from one training recipe.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, kaiming_init_, resize_to
from ffseg.layers.fusion import SegHead
from ffseg.layers.multires import StridedConvChain
from ffseg.models._base import FeatureInfo, PretrainedCfg, SegModel
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import Reported, zoo_cfg
from ffseg.models.resnet import BasicBlock, Bottleneck, make_stage

__all__ = ["HRNetEncoder", "HRNetModule", "HRNetV2"]

PAPER = (
    "Wang et al., Deep High-Resolution Representation Learning for Visual Recognition, "
    "IEEE TPAMI 2020"
)


class HRNetModule(nn.Module):
    """Parallel branches of basic blocks followed by an all-to-all multi-resolution fusion."""

    def __init__(self, widths: Sequence[int], depth: int = 4) -> None:
        super().__init__()
        self.branches = nn.ModuleList(make_stage(BasicBlock, w, w, depth, 1) for w in widths)
        n = len(widths)
        self.fuse = nn.ModuleList()
        for i in range(n):
            row = nn.ModuleList()
            for j in range(n):
                if j > i:  # coarser branch: 1x1 conv-BN, upsampled in forward
                    row.append(ConvBNAct(widths[j], widths[i], 1, act=None))
                elif j < i:  # finer branch: i - j strided 3x3 convs
                    row.append(StridedConvChain((widths[j],) * (i - j) + (widths[i],)))
                else:
                    row.append(nn.Identity())
            self.fuse.append(row)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        xs = [branch(x) for branch, x in zip(self.branches, xs)]
        outs = []
        for i, row in enumerate(self.fuse):
            y = xs[i]
            for j, op in enumerate(row):
                if j != i:
                    z = op(xs[j])
                    y = y + (resize_to(z, y.shape[-2:], "bilinear") if j > i else z)
            outs.append(self.relu(y))
        return outs


class HRNetEncoder(nn.Module):
    """The HRNet trunk: returns the four branch outputs (strides 4, 8, 16, 32)."""

    def __init__(self, width: int, modules_per_stage: Sequence[int] = (1, 4, 3)) -> None:
        super().__init__()
        self.stem = nn.Sequential(ConvBNAct(3, 64, 3, 2), ConvBNAct(64, 64, 3, 2))
        self.layer1 = make_stage(Bottleneck, 64, 64, 4, 1)
        widths = [width * 2**i for i in range(4)]
        self.transitions = nn.ModuleList()
        self.stages = nn.ModuleList()
        cin = 64 * Bottleneck.expansion
        for s, n_modules in enumerate(modules_per_stage, start=2):
            if s == 2:  # from the single stage-1 branch to two branches
                trans = [ConvBNAct(cin, widths[0], 3), ConvBNAct(cin, widths[1], 3, 2)]
            else:  # existing branches pass through; one new branch from the coarsest
                trans = [ConvBNAct(widths[s - 2], widths[s - 1], 3, 2)]
            self.transitions.append(nn.ModuleList(trans))
            self.stages.append(nn.Sequential(*(HRNetModule(widths[:s]) for _ in range(n_modules))))
        self.feature_info = [FeatureInfo(w, 4 * 2**i, "stages.2") for i, w in enumerate(widths)]
        self.out_channels = widths

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.layer1(self.stem(x))
        xs = [x]
        for trans, stage in zip(self.transitions, self.stages):
            xs = [trans[0](x), trans[1](x)] if len(trans) == 2 else [*xs, trans[0](xs[-1])]
            xs = stage(xs)
        return xs


class HRNetV2(SegModel):
    """HRNetV2-W``width`` segmentation network (see the module docstring)."""

    def __init__(self, width: int = 18, num_classes: int = 19) -> None:
        super().__init__(num_classes)
        self.encoder = HRNetEncoder(width)
        cat = sum(self.encoder.out_channels)
        self.head = SegHead(cat, cat, num_classes, kernel_size=1)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at 1/4 of the input size."""
        xs = self.encoder(x)
        size = xs[0].shape[-2:]
        cat = torch.cat([xs[0]] + [resize_to(y, size, "bilinear") for y in xs[1:]], dim=1)
        return self.head(cat)


def _cfg(**published: Reported) -> PretrainedCfg:
    return zoo_cfg(family="hrnet", paper=PAPER, output_stride=4, published=published)


def _ffnet(miou: float) -> Reported:
    """The FFNet paper's own retraining of HRNetV2 (its GPU-large comparison)."""
    return Reported(
        miou,
        "1024x2048, single scale; retrained with the FFNet paper's recipe",
        "FFNet paper (Mehta et al., CVPRW 2022), GPU-large comparison",
    )


default_cfgs = {
    "hrnetv2_w18": _cfg(cityscapes_val_miou_ffnet_paper=_ffnet(82.4)),
    "hrnetv2_w32": _cfg(cityscapes_val_miou_ffnet_paper=_ffnet(83.7)),
    "hrnetv2_w48": _cfg(
        cityscapes_val_miou=Reported(
            81.1, "1024x2048, single scale", "HRNet paper, Cityscapes val"
        ),
        cityscapes_val_miou_ffnet_paper=_ffnet(84.9),
    ),
}


@register_model
def hrnetv2_w18(**kwargs: Any) -> HRNetV2:
    """HRNetV2-W18 (branch widths 18-36-72-144)."""
    return build_model(HRNetV2, "hrnetv2_w18", dict(width=18), **kwargs)


@register_model
def hrnetv2_w32(**kwargs: Any) -> HRNetV2:
    """HRNetV2-W32 (branch widths 32-64-128-256)."""
    return build_model(HRNetV2, "hrnetv2_w32", dict(width=32), **kwargs)


@register_model
def hrnetv2_w48(**kwargs: Any) -> HRNetV2:
    """HRNetV2-W48 (branch widths 48-96-192-384); paper: 65.9 M params, 81.1 val mIoU."""
    return build_model(HRNetV2, "hrnetv2_w48", dict(width=48), **kwargs)
