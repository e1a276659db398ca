"""ESPNetv2 (Mehta et al., ESPNetv2: A Light-weight, Power Efficient, and General Purpose
Convolutional Neural Network, CVPR 2019): the paper's segmentation network (width ``s = 2``).

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
(7); the classification-only level 5 is not built. Segmentation decoder (the authors'
segmentation code for the paper): level 4 is projected to 256 and upsampled to stride 8,
concatenated with level 3, fused by an EESP (512 -> 256) and a light pyramid module (four
depthwise 3x3 convs on successively average-pooled maps, upsampled, concatenated with the input
and projected to 256 by a 1x1 conv-BN-PReLU); a 1x1 conv to classes + BN-PReLU at stride 8, x2
upsampling, concatenation with level 2 and a 1x1 conv-BN-PReLU; x2 upsampling, concatenation
with level 1 and the final 1x1 classifier at stride 2 (``output_stride`` 2; the last bilinear
x2 is left to ffseg). Training adds the stride-8 scores (before their BN-PReLU) as an auxiliary
output: the authors' segmentation code returns both in training; weight 1 (a plain sum) is
assumed.

Parameters (19 classes): 1,252,058; 5.65 GMACs at 1x3x512x1024 (logits at stride 2, no
activation on them). The layout follows the authors' paper-era segmentation code
(sacmehta/ESPNetv2, segmentation/cnn/SegmentationModel.py, which its README names as the code
used for the paper); it has not been compared stage by stage yet. The authors' later EdgeNets
segmentation model (sacmehta/EdgeNets, model/segmentation/espnetv2.py: the same ``s = 2``
encoder widths 128 / 256 / 512 at strides 4 / 8 / 16, but a decoder of efficient pyramid
pooling blocks from stride 16 back to stride 2) is the one its model-zoo README lists at 0.79 M
params and 2.70 GFLOPs at 1024x512 with 66.2 Cityscapes test mIoU; it is not built here. The
reference re-implementation's 0.86 M is an ``s = 1`` graph (64 / 128 / 256 channels; measured
by the issue #24 audit), not this one. Dropout: ``Dropout2d(0.2)`` (0.1 for ``s <= 0.5``)
before the stride-8 score conv and before the final classifier, training only.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, kaiming_init_, resize_to
from ffseg.models._base import AuxOutput, FeatureInfo, SegModel, SegOutput
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


class _PyramidModule(nn.Module):
    """Depthwise 3x3 convs on 1-4 times average-pooled maps, upsampled, concatenated, 1x1."""

    def __init__(self, channels: int, levels: int = 4) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(3, 2, 1)
        self.stages = nn.ModuleList(
            nn.Conv2d(channels, channels, 3, 1, 1, groups=channels, bias=False)
            for _ in range(levels)
        )
        self.project = conv_bn_prelu(channels * (levels + 1), channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs, y = [x], x
        for stage in self.stages:
            y = self.pool(y)
            outs.append(resize_to(stage(y), x.shape[-2:], "bilinear"))
        return self.project(torch.cat(outs, dim=1))


class _ClassDecoder(nn.Module):
    """The decoder's class-space part: stride-8 scores, merges with levels 2 and 1."""

    def __init__(self, c1: int, c2: int, c3: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        n = num_classes
        self.score3 = nn.Sequential(nn.Dropout2d(dropout), nn.Conv2d(c3, n, 1, bias=False))
        self.score3_act = BNPReLU(n)
        self.merge2 = conv_bn_prelu(c2 + n, n, 1)
        self.drop = nn.Dropout2d(dropout)
        self.cls = nn.Conv2d(c1 + n, n, 1, bias=False)

    def forward(
        self, f1: torch.Tensor, f2: torch.Tensor, context: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        score3 = self.score3(context)
        up3 = resize_to(self.score3_act(score3), f2.shape[-2:], "bilinear")
        up2 = resize_to(self.merge2(torch.cat([f2, up3], dim=1)), f1.shape[-2:], "bilinear")
        return self.cls(self.drop(torch.cat([f1, up2], dim=1))), score3


class ESPNetv2(SegModel):
    """ESPNetv2 segmentation network: encoder levels 1-4 and the authors' decoder."""

    classifier_path = "decoder.cls"

    def __init__(self, num_classes: int = 19, s: float = 2.0) -> None:
        super().__init__(num_classes)
        self.encoder = ESPNetv2Encoder(s)
        c4 = self.encoder.feature_info[3].num_chs
        c3 = self.encoder.feature_info[2].num_chs
        self.dropout = 0.1 if s <= 0.5 else 0.2
        self.project4 = conv_bn_prelu(c4, c3, 1)
        self.context = nn.Sequential(EESP(2 * c3, c3, receptive_limit=7), _PyramidModule(c3))
        self._build_class_layers(num_classes)
        kaiming_init_(self)

    def _build_class_layers(self, num_classes: int) -> None:
        c1, c2, c3, _ = (i.num_chs for i in self.encoder.feature_info)
        self.decoder = _ClassDecoder(c1, c2, c3, num_classes, self.dropout)

    def class_layer_paths(self) -> list[str]:
        """The class-space decoder (the class count sets its widths)."""
        return ["decoder"]

    def reset_classifier(self, num_classes: int) -> None:
        """Rebuild the class-space decoder for ``num_classes``."""
        rebuild_class_layers(self, num_classes, self._build_class_layers)

    def _run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f1, f2, f3, f4 = self.encoder(x)
        up4 = resize_to(self.project4(f4), f3.shape[-2:], "bilinear")
        return self.decoder(f1, f2, self.context(torch.cat([f3, up4], dim=1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at stride 2."""
        return self._run(x)[0]

    def forward_train(self, x: torch.Tensor) -> SegOutput:
        """Logits plus the stride-8 scores as an auxiliary output (weight 1)."""
        logits, score3 = self._run(x)
        return SegOutput(logits, [AuxOutput("aux_l3", score3, weight=1.0)])


default_cfgs = {
    "espnetv2": zoo_cfg(
        family="espnetv2",
        paper=PAPER,
        output_stride=2,
        published={
            "cityscapes_test_miou": Reported(
                66.2,
                "1024x512 input, Cityscapes test server",
                "paper, segmentation results (secondary: zoo table)",
            )
        },
    )
}


@register_model
def espnetv2(**kwargs: Any) -> ESPNetv2:
    """ESPNetv2 segmentation network, width s = 2 (paper: 66.2 mIoU on Cityscapes test)."""
    return build_model(ESPNetv2, "espnetv2", **kwargs)
