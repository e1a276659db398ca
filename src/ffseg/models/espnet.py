"""ESPNet (Mehta et al., ESPNet: Efficient Spatial Pyramid of Dilated Convolutions for Semantic
Segmentation, ECCV 2018) and its paper variants ESPNet-A, -B and -C.

The ESP module reduces the input with a 1x1 conv (3x3 stride 2 when it downsamples) to
``d = M/K`` channels, runs ``K = 5`` parallel 3x3 convs with dilations 1, 2, 4, 8, 16, adds the
dilated branches hierarchically (HFF, against gridding), concatenates the five outputs, adds
the input (residual, when shapes agree) and ends with BN + PReLU. The paper's variants
(``alpha_2 = 2``, ``alpha_3 = 8``, as the authors' released Cityscapes models):

* ``espnet_a``: 3x3/2 conv (16) -> strided ESP (64) + 2 ESP -> strided ESP (128) + 8 ESP ->
  1x1 classifier at stride 8;
* ``espnet_b``: adds the shortcut from each level's strided ESP to its output (concatenation,
  128 and 256 channels);
* ``espnet_c``: adds input reinforcement (the image average-pooled to 1/2 and 1/4 joins the
  level-1 and level-2 concatenations: 19 and 131 channels);
* ``espnet``: ESPNet-C plus the light-weight decoder: the level-3 scores and a 1x1 projection
  of level 2 to class space are merged by an ESP module after a 2x2 transposed conv, then joined
  with level 1 and a 2x2 transposed conv produces full-resolution logits (``output_stride`` 1).

The decoder works in class space (its widths are the class count), as in the paper, so
``reset_classifier`` and loading a checkpoint with another class count re-create the whole
decoder with the encoder's classifier. With fewer than five classes the decoder's ESP module
uses as many branches as it has channels (the paper has 19/20 classes).
A-C end at stride 8 (the paper upsamples their scores bilinearly; ffseg does that).

Parameters (19 classes): ``espnet`` 363,462 (4.67 GMACs at 1x3x512x1024; paper 0.364 M) and
``espnet_c`` 349,193 (3.47 GMACs) equal the authors' code (sacmehta/ESPNet train/Model.py,
``ESPNet`` and ``ESPNet_Encoder`` with p = 2, q = 8) stage by stage; their BNs use eps 1e-3
(ffseg's 1e-5). The authors also released p = 2 with q = 3 and q = 5 for both:
``espnet_p2q3`` 201,542, ``espnet_p2q5`` 266,310, ``espnet_c_p2q3`` 187,273,
``espnet_c_p2q5`` 252,041 (equal per stage as well). The reference re-implementation's 0.38 M figure was not reproduced.
``espnet_b`` 348,128 and ``espnet_a`` 330,144: the authors' code does not build them and the
paper states no per-variant counts. No activation on the logits (a bias-free transposed conv
for ``espnet``, a bias-free 1x1 conv for A-C); no dropout.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, kaiming_init_
from ffseg.models._base import FeatureInfo, SegModel
from ffseg.models._builder import attach_cfg, build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import Reported, zoo_cfg

__all__ = [
    "BNPReLU",
    "ESPBlock",
    "ESPNet",
    "ESPNetEncoder",
    "conv_bn_prelu",
    "rebuild_class_layers",
]

PAPER = (
    "Mehta et al., ESPNet: Efficient Spatial Pyramid of Dilated Convolutions for Semantic "
    "Segmentation, ECCV 2018"
)

DILATIONS = (1, 2, 4, 8, 16)


class BNPReLU(nn.Sequential):
    """BatchNorm -> per-channel PReLU (ESPNet's "BR"; also CGNet, CFPNet, ESPNetv2)."""

    def __init__(self, channels: int) -> None:
        super().__init__(nn.BatchNorm2d(channels), nn.PReLU(channels))


def conv_bn_prelu(
    cin: int, cout: int, kernel_size: int = 3, stride: int = 1, groups: int = 1
) -> ConvBNAct:
    """:class:`~ffseg.layers.ConvBNAct` with a per-channel PReLU (ESPNet's "CBR")."""
    return ConvBNAct(cin, cout, kernel_size, stride, groups, act=partial(nn.PReLU, cout))


class ESPBlock(nn.Module):
    """Efficient spatial pyramid: reduce, split into dilated 3x3 branches, HFF, merge.

    ``stride=2`` reduces with a 3x3 stride-2 conv (no residual); otherwise a 1x1 conv, with a
    residual when ``residual`` and ``cin == cout``. The first (dilation 1) branch takes the
    remainder of ``cout`` over the branch count.
    """

    def __init__(self, cin: int, cout: int, stride: int = 1, residual: bool = True) -> None:
        super().__init__()
        branches = min(len(DILATIONS), cout)
        width = cout // branches
        first = cout - (branches - 1) * width
        k = 3 if stride == 2 else 1
        self.reduce = nn.Conv2d(cin, width, k, stride, (k - 1) // 2, bias=False)
        self.branches = nn.ModuleList(
            nn.Conv2d(width, first if i == 0 else width, 3, 1, d, d, bias=False)
            for i, d in enumerate(DILATIONS[:branches])
        )
        self.residual = residual and stride == 1 and cin == cout
        self.out = BNPReLU(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.reduce(x)
        outs = [self.branches[0](y)]
        total: torch.Tensor | None = None
        for branch in self.branches[1:]:
            total = branch(y) if total is None else total + branch(y)
            outs.append(total)
        merged = torch.cat(outs, dim=1)
        return self.out(x + merged if self.residual else merged)


class ESPNetEncoder(nn.Module):
    """The ESPNet-A/B/C encoder: features at strides 2, 4 and 8.

    ``shortcut`` concatenates each level's strided ESP with its last ESP (ESPNet-B);
    ``reinforce`` concatenates the average-pooled image at strides 2 and 4 (ESPNet-C).
    """

    def __init__(
        self, alpha2: int = 2, alpha3: int = 8, shortcut: bool = True, reinforce: bool = True
    ) -> None:
        super().__init__()
        self.shortcut, self.reinforce = shortcut, reinforce
        img = 3 if reinforce else 0
        self.level1 = conv_bn_prelu(3, 16, 3, 2)
        self.pool = nn.AvgPool2d(3, 2, 1)
        c1 = 16 + img
        self.level1_out = BNPReLU(c1) if reinforce else nn.Identity()
        self.level2_down = ESPBlock(c1, 64, stride=2)
        self.level2 = nn.Sequential(*(ESPBlock(64, 64) for _ in range(alpha2)))
        c2 = (128 if shortcut else 64) + img
        self.level2_out = BNPReLU(c2) if shortcut or reinforce else nn.Identity()
        self.level3_down = ESPBlock(c2, 128, stride=2)
        self.level3 = nn.Sequential(*(ESPBlock(128, 128) for _ in range(alpha3)))
        c3 = 256 if shortcut else 128
        self.level3_out = BNPReLU(c3) if shortcut else nn.Identity()
        self.feature_info = [
            FeatureInfo(c1, 2, "level1_out"),
            FeatureInfo(c2, 4, "level2_out"),
            FeatureInfo(c3, 8, "level3_out"),
        ]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        half = self.pool(x)
        f1 = self.level1(x)
        if self.reinforce:
            f1 = torch.cat([f1, half], dim=1)
        f1 = self.level1_out(f1)
        down = self.level2_down(f1)
        parts = [self.level2(down)] + ([down] if self.shortcut else [])
        if self.reinforce:
            parts.append(self.pool(half))
        f2 = self.level2_out(torch.cat(parts, dim=1) if len(parts) > 1 else parts[0])
        down = self.level3_down(f2)
        out = self.level3(down)
        f3 = self.level3_out(torch.cat([down, out], dim=1) if self.shortcut else out)
        return [f1, f2, f3]


class _ESPNetDecoder(nn.Module):
    """The paper's light-weight decoder in class space (stride 8 -> 1)."""

    def __init__(self, c1: int, c2: int, num_classes: int) -> None:
        super().__init__()
        n = num_classes
        self.score3_bn = nn.BatchNorm2d(n)
        self.up3 = nn.ConvTranspose2d(n, n, 2, 2, bias=False)
        self.score2 = nn.Conv2d(c2, n, 1, bias=False)
        self.merge2 = nn.Sequential(BNPReLU(2 * n), ESPBlock(2 * n, n, residual=False))
        self.up2 = nn.Sequential(nn.ConvTranspose2d(n, n, 2, 2, bias=False), BNPReLU(n))
        self.merge1 = conv_bn_prelu(c1 + n, n, 3)
        self.out = nn.ConvTranspose2d(n, n, 2, 2, bias=False)

    def forward(self, f1: torch.Tensor, f2: torch.Tensor, score3: torch.Tensor) -> torch.Tensor:
        up = self.up3(self.score3_bn(score3))
        up = self.up2(self.merge2(torch.cat([self.score2(f2), up], dim=1)))
        return self.out(self.merge1(torch.cat([up, f1], dim=1)))


def rebuild_class_layers(model: SegModel, num_classes: int, build: Callable[[int], None]) -> None:
    """``reset_classifier`` for a net whose class count reaches into its decoder.

    ``build(num_classes)`` re-creates every module named by ``model.class_layer_paths()``;
    they are initialised, moved to the classifier's device and dtype, and the cfg follows.
    """
    ref = model.get_classifier().weight
    build(num_classes)
    for path in model.class_layer_paths():
        layer = model.get_submodule(path)
        kaiming_init_(layer)
        layer.to(ref.device, ref.dtype)
    model.num_classes = num_classes
    if hasattr(model, "pretrained_cfg"):
        attach_cfg(model, model.pretrained_cfg)


class ESPNet(SegModel):
    """ESPNet (``decoder=True``, stride 1) or ESPNet-A/B/C (stride 8)."""

    size_divisor = 8  # its downsampling needs H and W divisible by 8

    def __init__(
        self,
        num_classes: int = 19,
        alpha2: int = 2,
        alpha3: int = 8,
        shortcut: bool = True,
        reinforce: bool = True,
        decoder: bool = True,
    ) -> None:
        super().__init__(num_classes)
        self.encoder = ESPNetEncoder(alpha2, alpha3, shortcut, reinforce)
        self.with_decoder = decoder
        self._build_class_layers(num_classes)
        kaiming_init_(self)

    def _build_class_layers(self, num_classes: int) -> None:
        c1, c2, c3 = (i.num_chs for i in self.encoder.feature_info)
        self.cls = nn.Conv2d(c3, num_classes, 1, bias=False)
        self.decoder = _ESPNetDecoder(c1, c2, num_classes) if self.with_decoder else None

    @property
    def classifier_path(self) -> str:  # type: ignore[override]
        return "cls" if self.decoder is None else "decoder.out"

    def class_layer_paths(self) -> list[str]:
        """The encoder's classifier and, for ESPNet, the whole class-space decoder."""
        return ["cls"] if self.decoder is None else ["cls", "decoder"]

    def reset_classifier(self, num_classes: int) -> None:
        """Rebuild the classifier and the decoder (its widths are the class count)."""
        rebuild_class_layers(self, num_classes, self._build_class_layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at stride 1 (ESPNet) or 8 (ESPNet-A/B/C)."""
        f1, f2, f3 = self.encoder(x)
        scores = self.cls(f3)
        return scores if self.decoder is None else self.decoder(f1, f2, scores)


def _cfg(output_stride: int, **published: Reported) -> Any:
    return zoo_cfg(family="espnet", paper=PAPER, output_stride=output_stride, published=published)


default_cfgs = {
    "espnet": _cfg(
        1,
        cityscapes_test_miou=Reported(
            60.3,
            "1024x512 input (authors' test script), Cityscapes test server",
            "paper, Cityscapes comparison (secondary: zoo table)",
        ),
    ),
    "espnet_a": _cfg(8),
    "espnet_b": _cfg(8),
    "espnet_c": _cfg(8),
    "espnet_p2q3": _cfg(1),
    "espnet_p2q5": _cfg(1),
    "espnet_c_p2q3": _cfg(8),
    "espnet_c_p2q5": _cfg(8),
}


def _create_espnet(variant: str, **kwargs: Any) -> ESPNet:
    return build_model(ESPNet, variant, **kwargs)


@register_model
def espnet(**kwargs: Any) -> ESPNet:
    """ESPNet: ESPNet-C + light-weight decoder, full-resolution logits (paper 0.364 M)."""
    return _create_espnet("espnet", **kwargs)


@register_model
def espnet_a(**kwargs: Any) -> ESPNet:
    """ESPNet-A: stacked ESP modules, stride-8 logits."""
    args = dict(shortcut=False, reinforce=False, decoder=False)
    return _create_espnet("espnet_a", **{**args, **kwargs})


@register_model
def espnet_b(**kwargs: Any) -> ESPNet:
    """ESPNet-B: ESPNet-A + shortcuts from the strided ESP modules."""
    args = dict(shortcut=True, reinforce=False, decoder=False)
    return _create_espnet("espnet_b", **{**args, **kwargs})


@register_model
def espnet_c(**kwargs: Any) -> ESPNet:
    """ESPNet-C: ESPNet-B + input reinforcement (the paper's encoder)."""
    args = dict(shortcut=True, reinforce=True, decoder=False)
    return _create_espnet("espnet_c", **{**args, **kwargs})


@register_model
def espnet_p2q3(**kwargs: Any) -> ESPNet:
    """ESPNet with q = 3 ESP modules at stride 8 (the authors' released p=2, q=3 setting)."""
    return _create_espnet("espnet_p2q3", **{"alpha3": 3, **kwargs})


@register_model
def espnet_p2q5(**kwargs: Any) -> ESPNet:
    """ESPNet with q = 5 ESP modules at stride 8 (the authors' released p=2, q=5 setting)."""
    return _create_espnet("espnet_p2q5", **{"alpha3": 5, **kwargs})


@register_model
def espnet_c_p2q3(**kwargs: Any) -> ESPNet:
    """ESPNet-C with q = 3 (the authors' released p=2, q=3 encoder)."""
    args = dict(alpha3=3, shortcut=True, reinforce=True, decoder=False)
    return _create_espnet("espnet_c_p2q3", **{**args, **kwargs})


@register_model
def espnet_c_p2q5(**kwargs: Any) -> ESPNet:
    """ESPNet-C with q = 5 (the authors' released p=2, q=5 encoder)."""
    args = dict(alpha3=5, shortcut=True, reinforce=True, decoder=False)
    return _create_espnet("espnet_c_p2q5", **{**args, **kwargs})
