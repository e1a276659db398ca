"""ESPNetv2 (Mehta et al., ESPNetv2: A Light-weight, Power Efficient, and General Purpose
Convolutional Neural Network, CVPR 2019): the paper's segmentation network (width ``s = 2``)
as the authors built it in their EdgeNets code (sacmehta/EdgeNets,
model/segmentation/espnetv2.py), the model their model-zoo README lists with 66.2 Cityscapes
test mIoU.

The EESP unit reduces with a grouped (``K = 4``) 1x1 conv-BN-PReLU to ``d = cout / K``
channels, runs ``K`` depthwise 3x3 convs whose dilations grow with the level's receptive-field
limit (sorted, at most the limit; beyond it the branch falls back to dilation 1), adds them
hierarchically (HFF), applies BN + PReLU to the concatenation, merges with a grouped 1x1
conv-BN and adds the input (when shapes agree) before a PReLU. The strided EESP downsampler
concatenates a stride-2 EESP (``cout - cin`` channels, no activation) with an average-pooled
copy of its input and adds an input-reinforcement projection of the average-pooled image
(3x3 conv-BN-PReLU and 1x1 conv-BN on its 3 channels), then a PReLU.

Encoder (``s = 2``): a 3x3/2 conv-BN-PReLU (32), downsamplers to 128 (stride 4, receptive
field 13) and 256 (stride 8, 11) + 3 EESP (9), a downsampler to 512 (stride 16, 9) + 7 EESP
(7); the classification-only level 5 is not built. Decoder: an efficient pyramid-pooling block
(``_PyramidPool``, width ``min(classes // 2, 16)``, 9 for 19 classes) maps level 4 to 64
channels at stride 16; three times the map is upsampled x2, added to the encoder skip
(levels 3, 2, 1) projected by a gated grouped 3x3 conv (``_GatedProjection``) to 64 / 48 / 32
channels, BN-PReLU'd and passed through the next pyramid-pooling block (to 48, 32, then the
classes). The logits come from the last block's 1x1 conv with bias at stride 2, with no
activation; the authors' final bilinear x2 (align_corners) is left to ffseg. No dropout, no
auxiliary output.

Parameters (19 classes): 787,488; 2.67 GMACs at 1x3x512x1024 (stage by stage equal to the
authors' graph counted from its layer list: tests/golden/zoo2_stages.json). The authors' graph
holds 787,968: its three stride-2 EESP units also build an output PReLU (96 + 128 + 256 = 480
parameters) that their forward never calls; ffseg omits it. The class count sets the pyramid
width, so ``reset_classifier`` rebuilds all four pyramid-pooling blocks. The paper-era code
(sacmehta/ESPNetv2, segmentation/cnn/SegmentationModel.py: a stride-8 pyramid module, dropout,
an auxiliary output) is not built. The reference re-implementation's 0.86 M is an ``s = 1``
graph (64 / 128 / 256 channels; measured by the issue #24 audit).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ffseg.layers import ConvBNAct, kaiming_init_, resize_to
from ffseg.layers.lightweight import channel_shuffle
from ffseg.models._base import FeatureInfo, SegModel
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import Reported, zoo_cfg
from ffseg.models.espnet import BNPReLU, conv_bn_prelu, rebuild_class_layers

__all__ = ["EESP", "ESPNetv2", "ESPNetv2Encoder"]

PAPER = (
    "Mehta et al., ESPNetv2: A Light-weight, Power Efficient, and General Purpose "
    "Convolutional Neural Network, CVPR 2019"
)


def eesp_dilations(branches: int, receptive_limit: int) -> list[int]:
    """Dilations of the EESP branches: kernel sizes 3, 5, 7, ... capped at the level's limit."""
    sizes = sorted(3 + 2 * i if 3 + 2 * i <= receptive_limit else 3 for i in range(branches))
    return [(k - 1) // 2 for k in sizes]


class EESP(nn.Module):
    """Extremely efficient spatial pyramid unit (reduce, split, HFF, merge, residual).

    ``stride=2`` (inside :class:`_Downsampler`) returns the merged map without residual or
    activation; the downsampler adds its own.
    """

    def __init__(
        self, cin: int, cout: int, stride: int = 1, branches: int = 4, receptive_limit: int = 7
    ) -> None:
        super().__init__()
        width = cout // branches
        if width * branches != cout:
            raise ValueError(f"EESP: cout={cout} must be a multiple of branches={branches}")
        self.stride = stride
        self.reduce = conv_bn_prelu(cin, width, 1, groups=branches)
        self.branches = nn.ModuleList(
            nn.Conv2d(width, width, 3, stride, d, d, groups=width, bias=False)
            for d in eesp_dilations(branches, receptive_limit)
        )
        self.merge_act = BNPReLU(cout)
        self.expand = ConvBNAct(cout, cout, 1, groups=branches, act=None)
        self.residual = stride == 1 and cin == cout
        self.act = nn.PReLU(cout) if stride == 1 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.reduce(x)
        outs = [self.branches[0](y)]
        for branch in self.branches[1:]:
            outs.append(branch(y) + outs[-1])
        out = self.expand(self.merge_act(torch.cat(outs, dim=1)))
        return self.act(x + out if self.residual else out)


class _Downsampler(nn.Module):
    """[avg-pool(x), strided EESP(x)] + input reinforcement of the pooled image, then PReLU."""

    def __init__(self, cin: int, cout: int, receptive_limit: int) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(3, 2, 1)
        self.eesp = EESP(cin, cout - cin, 2, 4, receptive_limit)
        self.reinforce = nn.Sequential(conv_bn_prelu(3, 3, 3), ConvBNAct(3, cout, 1, act=None))
        self.act = nn.PReLU(cout)

    def forward(self, x: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        out = torch.cat([self.pool(x), self.eesp(x)], dim=1)
        return self.act(out + self.reinforce(image))


class ESPNetv2Encoder(nn.Module):
    """Levels 1-4 of ESPNetv2 at width ``s``: features at strides 2, 4, 8 and 16."""

    def __init__(self, s: float = 2.0) -> None:
        super().__init__()
        base = -(-int(32 * s) // 4) * 4  # rounded up to the branch count
        c = [min(32, base)] + [base * 2**i for i in range(1, 4)]
        self.image_pool = nn.AvgPool2d(3, 2, 1)
        self.level1 = conv_bn_prelu(3, c[0], 3, 2)
        self.level2 = _Downsampler(c[0], c[1], 13)
        self.level3_down = _Downsampler(c[1], c[2], 11)
        self.level3 = nn.Sequential(*(EESP(c[2], c[2], receptive_limit=9) for _ in range(3)))
        self.level4_down = _Downsampler(c[2], c[3], 9)
        self.level4 = nn.Sequential(*(EESP(c[3], c[3], receptive_limit=7) for _ in range(7)))
        self.feature_info = [
            FeatureInfo(c[0], 2, "level1"),
            FeatureInfo(c[1], 4, "level2"),
            FeatureInfo(c[2], 8, "level3"),
            FeatureInfo(c[3], 16, "level4"),
        ]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        img4 = self.image_pool(self.image_pool(x))
        img8 = self.image_pool(img4)
        f1 = self.level1(x)
        f2 = self.level2(f1, img4)
        f3 = self.level3(self.level3_down(f2, img8))
        f4 = self.level4(self.level4_down(f3, self.image_pool(img8)))
        return [f1, f2, f3, f4]


class _PyramidPool(nn.Module):
    """Efficient pyramid pooling: 1x1 projection, depthwise 3x3 convs at five scales, fusion.

    The projected map is resized to ``scale`` x its size (at least 5 per side): scales above
    1 are bilinearly enlarged, convolved and adaptively average-pooled back; scales below 1 are
    adaptively pooled, convolved and bilinearly enlarged back. The five maps are concatenated,
    BN-PReLU'd, channel-shuffled, fused by a grouped 3x3 conv-BN-PReLU and mapped to ``cout``
    by a 1x1 conv: followed by BN-PReLU, or (``last``) with a bias and nothing after it.
    """

    SCALES = (2.0, 1.5, 1.0, 0.5, 0.1)

    def __init__(self, cin: int, width: int, cout: int, last: bool = False) -> None:
        super().__init__()
        n = len(self.SCALES)
        self.project = conv_bn_prelu(cin, width, 1)
        self.stages = nn.ModuleList(
            nn.Conv2d(width, width, 3, 1, 1, groups=width, bias=False) for _ in range(n)
        )
        self.merge_act = BNPReLU(width * n)
        self.fuse = conv_bn_prelu(width * n, width, 3, groups=width)
        self.out = nn.Conv2d(width, cout, 1, bias=last)
        self.out_act = nn.Identity() if last else BNPReLU(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.project(x)
        h, w = int(x.shape[-2]), int(x.shape[-1])
        outs = []
        for scale, conv in zip(self.SCALES, self.stages):
            size = (max(5, math.ceil(h * scale)), max(5, math.ceil(w * scale)))
            if scale > 1:
                y = F.adaptive_avg_pool2d(conv(resize_to(x, size, "bilinear")), (h, w))
            elif scale < 1:
                y = resize_to(conv(F.adaptive_avg_pool2d(x, size)), (h, w), "bilinear")
            else:
                y = conv(x)
            outs.append(y)
        y = channel_shuffle(self.merge_act(torch.cat(outs, dim=1)), len(outs))
        return self.out_act(self.out(self.fuse(y)))


class _GatedProjection(nn.Module):
    """Encoder skip to decoder width: grouped 3x3 conv-BN-PReLU (``gcd(cin, cout)`` groups)
    times a sigmoid gate from a 1x1 conv on the globally pooled input."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, cout, 1, bias=False), nn.Sigmoid()
        )
        self.expand = conv_bn_prelu(cin, cout, 3, groups=math.gcd(cin, cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.expand(x) * self.gate(x)


class ESPNetv2(SegModel):
    """ESPNetv2 segmentation network: encoder levels 1-4 and pyramid-pooling decoder."""

    classifier_path = "decoder.3.out"
    #: the pyramid's scaled sizes are computed in Python from the input size
    supports_torchscript = False
    supports_dynamic_shapes = False

    def __init__(self, num_classes: int = 19, s: float = 2.0, decoder_width: int = 16) -> None:
        super().__init__(num_classes)
        self.encoder = ESPNetv2Encoder(s)
        c1, c2, c3, _ = (i.num_chs for i in self.encoder.feature_info)
        self.widths = (4 * decoder_width, 3 * decoder_width, 2 * decoder_width)
        self.decoder_width = decoder_width
        self.skips = nn.ModuleList(
            _GatedProjection(c, w) for c, w in zip((c3, c2, c1), self.widths)
        )
        self.skip_acts = nn.ModuleList(BNPReLU(w) for w in self.widths)
        self._build_class_layers(num_classes)
        kaiming_init_(self)

    def _build_class_layers(self, num_classes: int) -> None:
        c4 = self.encoder.feature_info[3].num_chs
        width = max(1, min(num_classes // 2, self.decoder_width))
        cins, couts = (c4, *self.widths), (*self.widths, num_classes)
        self.decoder = nn.ModuleList(
            _PyramidPool(cin, width, cout, last=i == 3)
            for i, (cin, cout) in enumerate(zip(cins, couts))
        )

    def class_layer_paths(self) -> list[str]:
        """The four pyramid-pooling blocks (their width is set by the class count)."""
        return ["decoder"]

    def reset_classifier(self, num_classes: int) -> None:
        """Rebuild the decoder's pyramid-pooling blocks for ``num_classes``."""
        rebuild_class_layers(self, num_classes, self._build_class_layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at stride 2."""
        f1, f2, f3, f4 = self.encoder(x)
        y = self.decoder[0](f4)
        for skip, proj, act, pool in zip(
            (f3, f2, f1), self.skips, self.skip_acts, self.decoder[1:]
        ):
            y = pool(act(proj(skip) + resize_to(y, skip.shape[-2:], "bilinear")))
        return y


default_cfgs = {
    "espnetv2": zoo_cfg(
        family="espnetv2",
        paper=PAPER,
        output_stride=2,
        published={
            "cityscapes_test_miou": Reported(
                66.2,
                "1024x512 input, Cityscapes test server",
                "authors' EdgeNets model-zoo README (model/segmentation/model_zoo)",
            )
        },
    )
}


@register_model
def espnetv2(**kwargs: Any) -> ESPNetv2:
    """ESPNetv2 segmentation network, width s = 2, EdgeNets decoder (66.2 Cityscapes test mIoU)."""
    return build_model(ESPNetv2, "espnetv2", **kwargs)
