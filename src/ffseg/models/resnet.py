"""ResNet-style encoders: basic / bottleneck blocks and the three FFNet stems.

* stem ``"A"``: the classic ResNet stem (7x7/2 conv, 3x3/2 max-pool), 4 stages
  (state_dict keys compatible with torchvision's ResNets, minus ``fc``);
* stem ``"B"``: "slim" stem of two 3x3/2 convs (32 then 64 channels), 4 stages;
* stem ``"C"``: three 3x3 convs (strides 2, 2, 1) whose output is the stride-4 feature, then
  3 stages of stride 2 ("narrow" 3-stage nets).

Every encoder returns four feature maps at nominal strides 4, 8, 16, 32 (8..64 when the first
stage is strided) and describes them in ``feature_info``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ffseg.layers import conv1x1, conv3x3
from ffseg.models._base import FeatureInfo

__all__ = [
    "BACKBONES",
    "BackboneSpec",
    "BasicBlock",
    "Bottleneck",
    "ResNetEncoder",
    "build_backbone",
    "make_stage",
]


class BasicBlock(nn.Module):
    """Two 3x3 convs with an identity (or 1x1 projection) shortcut; expansion 1."""

    expansion = 1

    def __init__(self, cin: int, width: int, stride: int = 1) -> None:
        super().__init__()
        cout = width * self.expansion
        self.conv1 = conv3x3(cin, width, stride)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(width, cout)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = _projection(cin, cout, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + shortcut)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (strided) -> 1x1 bottleneck with expansion 4 (torchvision "v1.5")."""

    expansion = 4

    def __init__(
        self, cin: int, width: int, stride: int = 1, projection_first: bool = False
    ) -> None:
        super().__init__()
        cout = width * self.expansion
        if projection_first:  # only changes the state_dict key order (FFNet's classifier head)
            self.downsample = _projection(cin, cout, stride)
        self.conv1 = conv1x1(cin, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, cout)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        if not projection_first:
            self.downsample = _projection(cin, cout, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + shortcut)


def _projection(cin: int, cout: int, stride: int) -> nn.Sequential | None:
    if cin == cout and stride == 1:
        return None
    return nn.Sequential(conv1x1(cin, cout, stride), nn.BatchNorm2d(cout))


Block = type[BasicBlock] | type[Bottleneck]


def make_stage(block: Block, cin: int, width: int, depth: int, stride: int) -> nn.Sequential:
    """``depth`` blocks; only the first one changes resolution / channels."""
    blocks = [block(cin, width, stride)]
    blocks += [block(width * block.expansion, width, 1) for _ in range(depth - 1)]
    return nn.Sequential(*blocks)


@dataclass(frozen=True)
class BackboneSpec:
    """A named encoder configuration (stem letter, block type, stage depths and widths)."""

    stem: str
    block: str
    depths: tuple[int, ...]
    widths: tuple[int, ...]


_A_WIDTHS = (64, 128, 256, 512)
_S_WIDTHS = (64, 128, 192, 320)
_N_WIDTHS = (96, 160, 320)
_NS_WIDTHS = (64, 128, 256)

#: Every encoder of the FFNet design space (the spec's backbone table), by lowercase name.
BACKBONES: dict[str, BackboneSpec] = {
    "resnet18": BackboneSpec("A", "basic", (2, 2, 2, 2), _A_WIDTHS),
    "resnet34": BackboneSpec("A", "basic", (3, 4, 6, 3), _A_WIDTHS),
    "resnet50": BackboneSpec("A", "bottleneck", (3, 4, 6, 3), _A_WIDTHS),
    "resnet56": BackboneSpec("A", "basic", (4, 8, 12, 3), _A_WIDTHS),
    "resnet86": BackboneSpec("A", "basic", (8, 12, 16, 6), _A_WIDTHS),
    "resnet101": BackboneSpec("A", "bottleneck", (3, 4, 23, 3), _A_WIDTHS),
    "resnet134": BackboneSpec("A", "basic", (8, 18, 28, 12), _A_WIDTHS),
    "resnet150": BackboneSpec("A", "basic", (16, 18, 28, 12), _A_WIDTHS),
    "resnet22s": BackboneSpec("B", "basic", (2, 3, 3, 2), _S_WIDTHS),
    "resnet30s": BackboneSpec("B", "basic", (3, 4, 4, 3), _S_WIDTHS),
    "resnet40s": BackboneSpec("B", "basic", (4, 5, 6, 4), _S_WIDTHS),
    "resnet54s": BackboneSpec("B", "basic", (5, 8, 8, 5), _S_WIDTHS),
    "resnet78s": BackboneSpec("B", "basic", (6, 12, 12, 8), _S_WIDTHS),
    "resnet86s": BackboneSpec("B", "basic", (8, 12, 16, 6), _S_WIDTHS),
    "resnet150s": BackboneSpec("B", "basic", (16, 18, 28, 12), _S_WIDTHS),
    "resnet46n": BackboneSpec("C", "basic", (6, 8, 8), _N_WIDTHS),
    "resnet74n": BackboneSpec("C", "basic", (8, 12, 16), _N_WIDTHS),
    "resnet122n": BackboneSpec("C", "basic", (16, 24, 20), _N_WIDTHS),
    "resnet46ns": BackboneSpec("C", "basic", (6, 8, 8), _NS_WIDTHS),
    "resnet74ns": BackboneSpec("C", "basic", (8, 12, 16), _NS_WIDTHS),
    "resnet122ns": BackboneSpec("C", "basic", (16, 24, 20), _NS_WIDTHS),
}

_BLOCKS: dict[str, Block] = {"basic": BasicBlock, "bottleneck": Bottleneck}


class ResNetEncoder(nn.Module):
    """A ResNet-like encoder with stem ``"A"``, ``"B"`` or ``"C"`` returning 4 feature maps.

    ``first_stage_stride=2`` gives the FFNet "d" (``_D``) encoders: every output is 2x coarser.
    """

    def __init__(
        self,
        stem: str,
        block: Block,
        depths: Sequence[int],
        widths: Sequence[int],
        first_stage_stride: int = 1,
    ) -> None:
        super().__init__()
        if stem not in ("A", "B", "C"):
            raise ValueError(f"stem must be 'A', 'B' or 'C', got {stem!r}")
        n_stages = 3 if stem == "C" else 4
        if len(depths) != n_stages or len(widths) != n_stages:
            raise ValueError(
                f"stem {stem!r} needs {n_stages} stages; got depths={list(depths)}, "
                f"widths={list(widths)}"
            )
        if first_stage_stride not in (1, 2):
            raise ValueError(f"first_stage_stride must be 1 or 2, got {first_stage_stride}")
        if stem == "C" and first_stage_stride != 1:
            raise ValueError("stem 'C' (3-stage narrow nets) has no strided-first-stage variant")
        self.stem_type = stem
        self.num_stages = n_stages
        self.relu = nn.ReLU(inplace=True)
        if stem == "A":
            self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        elif stem == "B":
            self.conv0 = conv3x3(3, 32, stride=2)
            self.bn0 = nn.BatchNorm2d(32)
            self.conv1 = conv3x3(32, 64, stride=2)
            self.bn1 = nn.BatchNorm2d(64)
        else:
            self.conv0 = conv3x3(3, 64, stride=2)
            self.bn0 = nn.BatchNorm2d(64)
            self.conv1 = conv3x3(64, 64, stride=2)
            self.bn1 = nn.BatchNorm2d(64)
            self.conv2 = conv3x3(64, 64, stride=1)
            self.bn2 = nn.BatchNorm2d(64)

        strides = [2] * n_stages if stem == "C" else [first_stage_stride, 2, 2, 2]
        cin = 64
        channels = [64] if stem == "C" else []
        for i, (depth, width, stride) in enumerate(zip(depths, widths, strides), start=1):
            self.add_module(f"layer{i}", make_stage(block, cin, width, depth, stride))
            cin = width * block.expansion
            channels.append(cin)
        base = 4 * first_stage_stride
        modules = (
            ["stem", "layer1", "layer2", "layer3"]
            if stem == "C"
            else ["layer1", "layer2", "layer3", "layer4"]
        )
        self.feature_info = [
            FeatureInfo(num_chs=c, reduction=base * 2**i, module=m)
            for i, (c, m) in enumerate(zip(channels, modules))
        ]
        self.out_channels = channels

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        if self.stem_type == "A":
            return self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.relu(self.bn0(self.conv0(x)))
        x = self.relu(self.bn1(self.conv1(x)))
        if self.stem_type == "C":
            x = self.relu(self.bn2(self.conv2(x)))
        return x

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.forward_stem(x)
        feats = [x] if self.stem_type == "C" else []
        for stage in self.stages():
            x = stage(x)
            feats.append(x)
        return feats

    def stages(self) -> list[nn.Module]:
        """The residual stages ``layer1..layerN`` in order."""
        return [getattr(self, f"layer{i}") for i in range(1, self.num_stages + 1)]


def build_backbone(
    name: str,
    first_stage_stride: int = 1,
    stem: str | None = None,
    *,
    family: str = "",
    choices: Sequence[str] | None = None,
) -> ResNetEncoder:
    """Build a named encoder from :data:`BACKBONES` (e.g. ``"resnet40s"``).

    ``stem`` optionally replaces the named encoder's stem letter (``"A"``/``"B"``/``"C"``).
    ``family`` and ``choices`` (default: all of :data:`BACKBONES`) are the model family asking
    and the encoders it supports, for the check and its error message.
    """
    key = name.lower()
    allowed = tuple(BACKBONES) if choices is None else tuple(choices)
    if key not in allowed or key not in BACKBONES:
        what = f"{family} backbone" if family else "backbone"
        raise ValueError(f"unknown {what} {name!r}; choose one of {', '.join(allowed)}")
    spec = BACKBONES[key]
    return ResNetEncoder(
        spec.stem if stem is None else stem.upper(),
        _BLOCKS[spec.block],
        spec.depths,
        spec.widths,
        first_stage_stride,
    )
