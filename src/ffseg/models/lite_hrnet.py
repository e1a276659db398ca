"""Lite-HRNet (Yu et al., Lite-HRNet: A Lightweight High-Resolution Network, CVPR 2021,
arXiv 2104.06403).

An HRNet whose blocks are cheap: a stem (3x3/2 conv 32 and a ShuffleNet-v2 block with stride 2,
stride 4), then three stages with 2, 3 and 4 parallel branches (40, 80, 160, 320 channels at
strides 4 to 32). Each stage is a series of modules; a module is two *conditional channel
weighting* blocks per branch followed by an HRNet fusion. The block splits the channels in
half; one half passes, the other is (1) reweighted by *cross-resolution weights* computed from
all branches pooled to the coarsest size (1x1 conv-BN-ReLU to 1/8 the channels, 1x1 conv-BN,
sigmoid), (2) filtered by a depthwise 3x3 conv-BN and (3) reweighted by *spatial weights*
(SE: global pool, 1x1 conv to 1/4, ReLU, 1x1 conv, sigmoid); the halves are concatenated and
channel-shuffled. The fusion adds every branch to every other: coarser through 1x1 conv-BN and
nearest upsampling, finer through depthwise 3x3/2 conv-BN + 1x1 conv-BN steps. New branches come
from a depthwise 3x3/2 + 1x1 conv transition of the coarsest one.

Lite-HRNet-18 has (2, 4, 2) modules per stage, Lite-HRNet-30 (3, 8, 3). The head is the
authors' released ``IterativeHead`` (coarsest to finest: depthwise-separable 3x3 conv to the
next branch's width, bilinear upsampling, add; 40 channels at stride 4) and a 1x1 classifier,
as in their released pose models: logits at ``output_stride`` 4.

Compared stage by stage with the authors' released backbone (HRNet/Lite-HRNet,
models/backbones/litehrnet.py, their COCO configs) plus the 1x1 classifier: parameters are
equal per stage, 1,130,851 (Lite-HRNet-18) and 1,763,799 (Lite-HRNet-30), the classifier
holding 779 of them (their README: 1.1M and 1.8M). Logits at ``output_stride`` 4, no activation on
them, no dropout. Deviations from their forward (measured at 1x3x512x1024):

* their fusion starts the sum for output branch ``i`` with the path from branch 0 and then
  loops over all branches again, so that path runs twice for every coarser output (and branch
  0 is added to itself, in place, before the coarser outputs read it); ffseg adds every branch
  once, as HRNet's fusion does. ffseg: 2.12 / 3.30 GMACs (18 / 30), their forward as run: 2.59
  / 4.12 G (stride 8 -34 %, 16 -12 %, 32 -5 %); counted once per branch, their graph equals
  ffseg's at every stride. The FLOPs their README states for the pose models at 256x192
  (205.2 M / 319.2 M) are within 3.3 % of the once-per-branch count, 15-17 % below the forward
  as run;
* they pool to the coarsest branch with ``adaptive_avg_pool2d`` and upsample by a fixed
  factor; ffseg average-pools with a ``2**k`` window (``ceil_mode``) and resizes to the exact
  branch size. Identical on inputs that are multiples of 32; ffseg's also runs at other sizes
  and exports to ONNX with dynamic height/width.

The reuse of ``ffseg.layers.multires`` does not fit: its strided chains are full 3x3 convs,
Lite-HRNet's are depthwise + pointwise. A widely used re-implementation's encoder has 51.5 k
fewer parameters (issue #24 audit); the authors' code agrees with ffseg's.

Published: Lite-HRNet-18 73.8 val / 72.8 test mIoU on Cityscapes at 512x1024 (a secondary
source; not checked against the paper's table). The paper's Lite-HRNet-30 numbers could not be
checked here, so none is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ffseg.layers import ConvBNAct, kaiming_init_, resize_to
from ffseg.layers.lightweight import DSConvBNAct, DWConvBNAct, channel_shuffle
from ffseg.models._base import FeatureInfo, PretrainedCfg, SegModel
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import Reported, zoo_cfg

__all__ = ["ConditionalChannelWeighting", "LiteHRNet", "LiteHRNetEncoder"]

PAPER = "Yu et al., Lite-HRNet: A Lightweight High-Resolution Network, CVPR 2021"

#: branch widths at strides 4, 8, 16, 32
CHANNELS = (40, 80, 160, 320)


class Stem(nn.Module):
    """3x3/2 conv, then a stride-2 shuffle block: one half depthwise/2 + 1x1, the other
    1x1 expand, depthwise/2, 1x1; concatenated and shuffled (stride 4)."""

    def __init__(self, cin: int = 3, channels: int = 32) -> None:
        super().__init__()
        half = channels // 2
        self.conv = ConvBNAct(cin, channels, 3, 2)
        self.branch1 = DSConvBNAct(half, half, 3, 2, dw_act=None)
        self.branch2 = nn.Sequential(
            ConvBNAct(half, channels, 1),
            DWConvBNAct(channels, channels, 3, 2, act=None),
            ConvBNAct(channels, half, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = self.conv(x).chunk(2, dim=1)
        return channel_shuffle(torch.cat([self.branch1(x1), self.branch2(x2)], dim=1))


class CrossResolutionWeighting(nn.Module):
    """Channel weights from all branches pooled to the coarsest one's size."""

    def __init__(self, channels: Sequence[int], ratio: int) -> None:
        super().__init__()
        self.channels = list(channels)
        total = sum(channels)
        self.conv1 = ConvBNAct(total, total // ratio, 1)
        self.conv2 = ConvBNAct(total // ratio, total, 1, act=nn.Sigmoid)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        n = len(xs)
        pooled = [
            F.avg_pool2d(x, 2 ** (n - 1 - i), ceil_mode=True) if i < n - 1 else x
            for i, x in enumerate(xs)
        ]
        weights = self.conv2(self.conv1(torch.cat(pooled, dim=1))).split(self.channels, dim=1)
        return [x * resize_to(w, x.shape[-2:], "nearest") for x, w in zip(xs, weights)]


class SpatialWeighting(nn.Module):
    """Squeeze-excitation weights (1x1 convs with bias, ReLU then sigmoid, ratio 4)."""

    def __init__(self, channels: int, ratio: int = 4) -> None:
        super().__init__()
        self.fc = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, channels // ratio, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels // ratio, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.fc(x)


class ConditionalChannelWeighting(nn.Module):
    """Lite-HRNet's block over all branches: half the channels pass, the other half is
    cross-resolution weighted, depthwise filtered and spatially weighted; then a shuffle."""

    def __init__(self, channels: Sequence[int], ratio: int) -> None:
        super().__init__()
        halves = [c // 2 for c in channels]
        self.cross_resolution = CrossResolutionWeighting(halves, ratio)
        self.depthwise = nn.ModuleList(DWConvBNAct(c, c, 3, act=None) for c in halves)
        self.spatial = nn.ModuleList(SpatialWeighting(c) for c in halves)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        split = [x.chunk(2, dim=1) for x in xs]
        weighted = self.cross_resolution([s[1] for s in split])
        out = []
        for (keep, _), x, dw, sw in zip(split, weighted, self.depthwise, self.spatial):
            out.append(channel_shuffle(torch.cat([keep, sw(dw(x))], dim=1)))
        return out


def _downsample(cin: int, cout: int, steps: int) -> nn.Sequential:
    """``steps`` depthwise 3x3/2 + 1x1 conv-BN steps (ReLU between steps, none after the last)."""
    layers = [DSConvBNAct(cin, cin, 3, 2, dw_act=None) for _ in range(steps - 1)]
    layers.append(DSConvBNAct(cin, cout, 3, 2, act=None, dw_act=None))
    return nn.Sequential(*layers)


class Fusion(nn.Module):
    """HRNet exchange: every output branch sums all input branches, then ReLU."""

    def __init__(self, channels: Sequence[int]) -> None:
        super().__init__()
        n = len(channels)
        self.paths = nn.ModuleList()
        for i in range(n):
            row = nn.ModuleList()
            for j in range(n):
                if j > i:
                    row.append(ConvBNAct(channels[j], channels[i], 1, act=None))
                elif j < i:
                    row.append(_downsample(channels[j], channels[i], i - j))
                else:
                    row.append(nn.Identity())
            self.paths.append(row)
        self.act = nn.ReLU()

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        out = []
        for i, row in enumerate(self.paths):
            size = xs[i].shape[-2:]
            y = xs[i]
            for j, path in enumerate(row):
                if j > i:
                    y = y + resize_to(path(xs[j]), size, "nearest")
                elif j < i:
                    y = y + path(xs[j])
            out.append(self.act(y))
        return out


class LiteHRModule(nn.Module):
    """``blocks`` conditional channel weighting blocks, then the fusion."""

    def __init__(self, channels: Sequence[int], blocks: int, ratio: int) -> None:
        super().__init__()
        self.blocks = nn.Sequential(
            *(ConditionalChannelWeighting(channels, ratio) for _ in range(blocks))
        )
        self.fuse = Fusion(channels)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        return self.fuse(self.blocks(xs))


class IterativeHead(nn.Module):
    """Coarsest to finest: depthwise-separable 3x3 conv to the next width, upsample, add."""

    def __init__(self, channels: Sequence[int]) -> None:
        super().__init__()
        rev = list(channels)[::-1]
        outs = rev[1:] + rev[-1:]
        self.projects = nn.ModuleList(
            DSConvBNAct(cin, cout, 3, dw_act=None) for cin, cout in zip(rev, outs)
        )
        self.out_channels = rev[-1]

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        y: torch.Tensor | None = None
        for x, project in zip(reversed(xs), self.projects):
            if y is not None:
                x = x + resize_to(y, x.shape[-2:], "bilinear")
            y = project(x)
        assert y is not None
        return y


class LiteHRNetEncoder(nn.Module):
    """Stem, transitions and the three stages: four branches at strides 4, 8, 16, 32."""

    def __init__(
        self, num_modules: Sequence[int], channels: Sequence[int] = CHANNELS, ratio: int = 8
    ) -> None:
        super().__init__()
        self.stem = Stem(3, 32)
        self.transitions = nn.ModuleList()
        self.stages = nn.ModuleList()
        prev = [32]
        for i, n in enumerate(num_modules):
            cur = list(channels[: i + 2])
            self.transitions.append(self._transition(prev, cur))
            self.stages.append(nn.Sequential(*(LiteHRModule(cur, 2, ratio) for _ in range(n))))
            prev = cur
        self.feature_info = [
            FeatureInfo(c, 4 * 2**i, f"stages.{len(num_modules) - 1}") for i, c in enumerate(prev)
        ]

    @staticmethod
    def _transition(prev: list[int], cur: list[int]) -> nn.ModuleList:
        layers = nn.ModuleList()
        for i, c in enumerate(cur):
            if i < len(prev):  # same branch: a depthwise 3x3 + 1x1 only when widths differ
                same = prev[i] == c
                layers.append(nn.Identity() if same else DSConvBNAct(prev[i], c, 3, dw_act=None))
            else:  # a new, coarser branch from the coarsest one
                layers.append(DSConvBNAct(prev[-1], c, 3, 2, dw_act=None))
        return layers

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        xs = [self.stem(x)]
        for transition, stage in zip(self.transitions, self.stages):
            xs = [t(xs[min(i, len(xs) - 1)]) for i, t in enumerate(transition)]
            xs = stage(xs)
        return xs


class LiteHRNet(SegModel):
    """Lite-HRNet encoder, the authors' iterative head and a 1x1 classifier (stride 4)."""

    classifier_path = "cls"

    def __init__(self, num_modules: Sequence[int] = (2, 4, 2), num_classes: int = 19) -> None:
        super().__init__(num_classes)
        self.encoder = LiteHRNetEncoder(num_modules)
        self.head = IterativeHead([i.num_chs for i in self.encoder.feature_info])
        self.cls = nn.Conv2d(self.head.out_channels, num_classes, 1)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at stride 4."""
        return self.cls(self.head(self.encoder(x)))


def _cfg(**published: Reported) -> PretrainedCfg:
    return zoo_cfg(
        family="lite_hrnet",
        paper=PAPER,
        output_stride=4,
        min_input_size=(32, 32),
        published=published,
    )


_AT = "512x1024, single scale"
_SOURCE = "paper, Cityscapes segmentation table (secondary: not checked against the paper)"
default_cfgs = {
    "lite_hrnet18": _cfg(
        cityscapes_val_miou=Reported(73.8, _AT, _SOURCE),
        cityscapes_test_miou=Reported(72.8, _AT, _SOURCE),
    ),
    "lite_hrnet30": _cfg(),
}


def _create_lite_hrnet(variant: str, **kwargs: Any) -> LiteHRNet:
    return build_model(LiteHRNet, variant, **kwargs)


@register_model
def lite_hrnet18(**kwargs: Any) -> LiteHRNet:
    """Lite-HRNet-18: (2, 4, 2) modules (paper: 1.1 M params, 72.8 Cityscapes test mIoU)."""
    return _create_lite_hrnet("lite_hrnet18", **{"num_modules": (2, 4, 2), **kwargs})


@register_model
def lite_hrnet30(**kwargs: Any) -> LiteHRNet:
    """Lite-HRNet-30: (3, 8, 3) modules (paper: 1.8 M params)."""
    return _create_lite_hrnet("lite_hrnet30", **{"num_modules": (3, 8, 3), **kwargs})
