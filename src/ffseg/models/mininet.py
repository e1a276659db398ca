"""MiniNet (Alonso, Riazuelo, Murillo, Enhancing V-SLAM Keyframe Selection with an Efficient
ConvNet for Semantic Analysis, ICRA 2019), as the authors' TensorFlow code builds it
(Shathe/MiniNet-v2, Mininet.py, ``MiniNet``; the repository's history holds other layouts under
the same name, this is the one with SELU and a stride-64 width of 386).

Every conv is a separable conv as TensorFlow's ``separable_conv2d`` makes it: a depthwise conv
without bias, a 1x1 conv with bias, then (where used) SELU; no batch norm anywhere. Encoder:
four separable 3x3/2 convs (12, 24, 48, 96 channels, stride 16). Context, at stride 16, in two
branches: (1) four modules with dilation 1, 2, 4, 8; (2) a separable conv /2 to 192, a module,
a separable conv /2 to 386 (stride 64), two modules, a transposed 3x3/2 conv (bias, SELU) back to
192, a module, concatenated with the branch's stride-32 map and upsampled by a transposed conv to
96. A module is four separable convs: 1x3 (SELU), 3x1 (its output ``r``), SELU, 3x1 (SELU), 1x3
(only this one dilated, along the width); ``r`` is added, alpha dropout 0.25, the input (its
first channels when the module narrows) added, SELU. Decoder: the two branches and the stride-16
features concatenated and upsampled to 96 (stride 8), a module narrowing to 48, then three
upsamplings each after concatenating the encoder feature of the same stride (to 32, 16, then
the classes at full resolution, ``output_stride`` 1; the last transposed conv is the
classifier, with bias and no activation on the logits). Each upsampled map is cut to the size
of the map it meets, so any input size works.

Parameters (19 classes): 3,062,736; 2.66 GMACs at 1x3x512x1024; stage by stage equal to the
authors' graph (tests/golden/zoo2_stages.json), which also matches the 3.1 M the zoo table
quotes. TensorFlow's "same" padding of the stride-2 convs pads only bottom and right; ffseg's
pads symmetrically (same shapes, shifted sampling grid).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import torch
from torch import nn

from ffseg.layers import full_conv, kaiming_init_
from ffseg.models._base import FeatureInfo, SegModel
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import zoo_cfg

__all__ = ["MiniNet", "MiniNetEncoder"]

PAPER = (
    "Alonso, Riazuelo, Murillo, Enhancing V-SLAM Keyframe Selection with an Efficient ConvNet "
    "for Semantic Analysis, ICRA 2019"
)

Act = nn.SELU


def separable(
    cin: int,
    cout: int,
    kernel: tuple[int, int] = (3, 3),
    stride: int = 1,
    dilation: tuple[int, int] = (1, 1),
    act: bool = True,
) -> nn.Sequential:
    """Depthwise ``kernel`` conv (no bias) -> 1x1 conv with bias -> SELU (when ``act``)."""
    pad = tuple(d * (k // 2) for k, d in zip(kernel, dilation))
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cin, kernel, stride, pad, dilation, groups=cin, bias=False),
        nn.Conv2d(cin, cout, 1),
    ]
    if act:
        layers.append(Act())
    return nn.Sequential(*layers)


class FactorizedModule(nn.Module):
    """Four separable convs 1x3, 3x1 | 3x1, 1x3 (the last dilated along the width); the second's
    output is added to the fourth's, alpha dropout, the input's first ``cout`` channels added,
    SELU."""

    def __init__(
        self, cin: int, cout: int | None = None, dilation: int = 1, dropout: float = 0.25
    ) -> None:
        super().__init__()
        cout = cout or cin
        if cout > cin:
            raise ValueError(f"FactorizedModule narrows or keeps the width, got {cin} -> {cout}")
        self.cout = cout
        self.conv1 = separable(cin, cout, (1, 3))
        self.conv2 = separable(cout, cout, (3, 1), act=False)
        self.act2 = Act()
        self.conv3 = separable(cout, cout, (3, 1))
        self.conv4 = separable(cout, cout, (1, 3), dilation=(1, dilation), act=False)
        self.drop = nn.AlphaDropout(dropout)
        self.act = Act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.conv2(self.conv1(x))
        y = self.drop(self.conv4(self.conv3(self.act2(r))) + r)
        return self.act(y + x[:, : self.cout])


def up(cin: int, cout: int) -> nn.Sequential:
    """Transposed 3x3/2 conv with bias (exactly twice the size) -> SELU."""
    return nn.Sequential(full_conv(cin, cout, 3, 2, bias=True), Act())


def crop_to(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``x`` cut to the height and width of ``like`` (an x2 upsampling of an odd size is one
    row or column too large; a no-op otherwise)."""
    return x[:, :, : like.shape[-2], : like.shape[-1]]


class MiniNetEncoder(nn.Module):
    """Four separable downsamplings: features at strides 2, 4, 8, 16 (12, 24, 48, 96 ch)."""

    def __init__(self, widths: Sequence[int] = (12, 24, 48, 96)) -> None:
        super().__init__()
        chans = [3, *widths]
        self.downs = nn.ModuleList(separable(a, b, stride=2) for a, b in pairwise(chans))
        self.feature_info = [
            FeatureInfo(c, 2 ** (i + 1), f"downs.{i}") for i, c in enumerate(widths)
        ]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for down in self.downs:
            x = down(x)
            feats.append(x)
        return feats


class MiniNet(SegModel):
    """MiniNet: separable encoder, two context branches, skip-concatenating decoder."""

    classifier_path = "cls"

    def __init__(self, num_classes: int = 19, deep_width: int = 386) -> None:
        super().__init__(num_classes)
        self.encoder = MiniNetEncoder()
        self.branch1 = nn.Sequential(*(FactorizedModule(96, dilation=d) for d in (1, 2, 4, 8)))
        self.branch2_down = nn.Sequential(separable(96, 192, stride=2), FactorizedModule(192))
        self.branch2 = nn.Sequential(
            separable(192, deep_width, stride=2),
            FactorizedModule(deep_width),
            FactorizedModule(deep_width),
            up(deep_width, 192),
        )
        self.branch2_out = FactorizedModule(192)
        self.branch2_up = up(2 * 192, 96)
        self.up4 = nn.Sequential(up(3 * 96, 96), FactorizedModule(96, 48))
        self.up3 = up(2 * 48, 32)
        self.up2 = up(32 + 24, 16)
        self.cls = full_conv(16 + 12, num_classes, 3, 2, bias=True)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at the input resolution (stride 1)."""
        d1, d2, d3, d4 = self.encoder(x)
        d5 = self.branch2_down(d4)
        b2 = self.branch2_out(crop_to(self.branch2(d5), d5))
        b2 = crop_to(self.branch2_up(torch.cat([b2, d5], dim=1)), d4)
        y = crop_to(self.up4(torch.cat([self.branch1(d4), b2, d4], dim=1)), d3)
        y = crop_to(self.up3(torch.cat([y, d3], dim=1)), d2)
        y = crop_to(self.up2(torch.cat([y, d2], dim=1)), d1)
        return crop_to(self.cls(torch.cat([y, d1], dim=1)), x)


default_cfgs = {
    "mininet": zoo_cfg(family="mininet", paper=PAPER, output_stride=1, min_input_size=(64, 64))
}


@register_model
def mininet(**kwargs: Any) -> MiniNet:
    """MiniNet (ICRA 2019) as the authors' TensorFlow code builds it (3.06 M params)."""
    return build_model(MiniNet, "mininet", **kwargs)
