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
recipe (not stored in ``published``, which holds only the HRNet authors' numbers).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ffseg.classes import CITYSCAPES_CLASSES
from ffseg.layers import ConvBNAct, conv1x1, conv3x3, resize_to
from ffseg.layers.init import kaiming_init_
from ffseg.models._base import FeatureInfo, PretrainedCfg, SegOutput
from ffseg.models._registry import register_model
from ffseg.models.resnet import BasicBlock, Bottleneck, make_stage

__all__ = ["HRNetEncoder", "HRNetModule", "HRNetV2"]

PAPER = (
    "Wang et al., Deep High-Resolution Representation Learning for Visual Recognition, "
    "IEEE TPAMI 2020"
)
LICENSE = "ffseg implementation: Apache-2.0 (no official weights bundled)"


def _fuse_down(cin: int, cout: int, steps: int) -> nn.Sequential:
    """``steps`` strided 3x3 convs (ReLU between them, none after the last)."""
    layers: list[nn.Module] = []
    for k in range(steps):
        last = k == steps - 1
        layers += [conv3x3(cin, cout if last else cin, 2), nn.BatchNorm2d(cout if last else cin)]
        if not last:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


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
                if j > i:
                    row.append(
                        nn.Sequential(conv1x1(widths[j], widths[i]), nn.BatchNorm2d(widths[i]))
                    )
                elif j < i:
                    row.append(_fuse_down(widths[j], widths[i], i - j))
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


class HRNetV2(nn.Module):
    """HRNetV2-W``width`` segmentation network (see the module docstring)."""

    encoder_prefix = "encoder."

    def __init__(self, width: int = 18, num_classes: int = 19) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.encoder = HRNetEncoder(width)
        cat = sum(self.encoder.out_channels)
        self.head = nn.Sequential(ConvBNAct(cat, cat, 1), nn.Conv2d(cat, num_classes, 1))
        self.pretrained_cfg = PretrainedCfg(
            architecture=f"hrnetv2_w{width}",
            num_classes=num_classes,
            output_stride=4,
            classifier="head.1",
            paper=PAPER,
            license=LICENSE,
            family="hrnet",
            min_input_size=(64, 64),
        )
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at 1/4 of the input size."""
        xs = self.encoder(x)
        size = xs[0].shape[-2:]
        cat = torch.cat([xs[0]] + [resize_to(y, size, "bilinear") for y in xs[1:]], dim=1)
        return self.head(cat)

    def forward_train(self, x: torch.Tensor) -> SegOutput:
        """Training outputs: HRNetV2 has no auxiliary heads."""
        return SegOutput(self(x))

    def feature_encoder(self) -> HRNetEncoder:
        """The HRNet trunk (shares this model's weights) for ``features_only``."""
        return self.encoder


def _hrnet(name: str, width: int, kwargs: dict[str, Any], **published: float) -> HRNetV2:
    model = HRNetV2(width, **kwargs)
    classes = CITYSCAPES_CLASSES if model.num_classes == 19 else None
    model.pretrained_cfg = model.pretrained_cfg.replace(
        architecture=name, classes=classes, published=dict(published)
    )
    return model


@register_model
def hrnetv2_w18(**kwargs: Any) -> HRNetV2:
    """HRNetV2-W18 (branch widths 18-36-72-144)."""
    return _hrnet("hrnetv2_w18", 18, kwargs)


@register_model
def hrnetv2_w32(**kwargs: Any) -> HRNetV2:
    """HRNetV2-W32 (branch widths 32-64-128-256)."""
    return _hrnet("hrnetv2_w32", 32, kwargs)


@register_model
def hrnetv2_w48(**kwargs: Any) -> HRNetV2:
    """HRNetV2-W48 (branch widths 48-96-192-384); paper: 65.9 M params, 81.1 val mIoU."""
    return _hrnet("hrnetv2_w48", 48, kwargs, cityscapes_val_miou=81.1)
