"""CGNet (Wu et al., CGNet: A Light-weight Context Guided Network for Semantic Segmentation,
IEEE TIP 2021).

The context guided (CG) block learns a joint feature of the local feature (a depthwise 3x3
conv, ``f_loc``) and the surrounding context (a dilated depthwise 3x3 conv, ``f_sur``), each on
half the channels after a 1x1 conv-BN-PReLU, concatenated, BN + PReLU, then refined by the global
context (``f_glo``: squeeze-and-excitation with reduction ``r``) and added to the input (global
residual learning). The downsampling CG block reduces with a 3x3 stride-2 conv-BN-PReLU to
``cout``, runs both branches at full width and fuses the ``2 * cout`` joint feature back to
``cout`` with a 1x1 conv before ``f_glo``, without residual.

CGNet_M3N21 (``cgnet``): three 3x3 conv-BN-PReLU (32 ch, the first stride 2);
stage 2: a downsampling CG block (64 ch, dilation 2, r = 8) + M - 1 = 2 CG blocks; stage 3: a
downsampling CG block (128 ch, dilation 4, r = 16) + N - 1 = 20 CG blocks. The image
average-pooled to 1/2 and 1/4 is injected into the stage-1 and stage-2 outputs, and each
stage's first and last outputs are concatenated (131 and 256 channels, BN + PReLU). A 1x1
classifier at stride 8 ends the net; the paper's bilinear x8 upsampling is left to ffseg
(``output_stride`` 8). ``cgnet_m3n15`` is the paper's shallower M3N15 setting (N = 15).

Parameters (19 classes): ``cgnet`` 496,306, ``cgnet_m3n15`` 423,682. Compared stage by stage
with the authors' code (wutianyiRosun/CGNet, model/CGNet.py, ``M = 3``, ``N = 21`` and
``N = 15``) at 1x3x512x1024: params and conv MACs equal at every output stride (M3N21: s2
19,689 / 2.53 G, s4 36,297 / 1.14 G, s8 391,168 / 3.09 G, the squeeze-and-excitation layers
49,152; M3N15: s8 331,648 / 2.64 G, SE 36,048). Paper: "less than 0.5 M" for M3N21. The 0.24 M
that the zoo table gives for M3N15 is a re-implementation's (243,805 in the issue #24 audit,
with cheaper down-sampling blocks); the authors' M3N15 is the 423,682 built here. Dropout: a
``Dropout2d(0.1)`` before the classifier (the authors' ``dropout_flag`` setting; training only).
No activation on the logits; the authors' forward ends with the bilinear x8 upsampling that
ffseg's evaluator and loss apply here.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ffseg.layers import kaiming_init_
from ffseg.layers.lightweight import SEBlock
from ffseg.models._base import FeatureInfo, SegModel
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import Reported, zoo_cfg
from ffseg.models.espnet import BNPReLU, conv_bn_prelu

__all__ = ["CGBlock", "CGNet", "CGNetEncoder"]

PAPER = (
    "Wu et al., CGNet: A Light-weight Context Guided Network for Semantic Segmentation, "
    "IEEE TIP 2021"
)


def _dw(channels: int, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(channels, channels, 3, 1, dilation, dilation, channels, bias=False)


class CGBlock(nn.Module):
    """Context guided block: ``f_glo(BN-PReLU([f_loc, f_sur]))`` (+ input unless ``down``)."""

    def __init__(
        self, cin: int, cout: int, dilation: int, reduction: int, down: bool = False
    ) -> None:
        super().__init__()
        self.down = down
        branch = cout if down else cout // 2
        self.reduce = conv_bn_prelu(cin, branch, 3 if down else 1, 2 if down else 1)
        self.f_loc = _dw(branch)
        self.f_sur = _dw(branch, dilation)
        self.joint = BNPReLU(2 * branch)
        self.fuse = nn.Conv2d(2 * branch, cout, 1, bias=False) if down else nn.Identity()
        self.f_glo = SEBlock(cout, cout // reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.reduce(x)
        y = self.fuse(self.joint(torch.cat([self.f_loc(y), self.f_sur(y)], dim=1)))
        y = self.f_glo(y)
        return y if self.down else x + y


class CGNetEncoder(nn.Module):
    """Stages 1-3 with input injection: features at strides 2 (35), 4 (131) and 8 (256)."""

    def __init__(self, m: int = 3, n: int = 21) -> None:
        super().__init__()
        self.stage1 = nn.Sequential(
            conv_bn_prelu(3, 32, 3, 2), conv_bn_prelu(32, 32), conv_bn_prelu(32, 32)
        )
        self.pool = nn.AvgPool2d(3, 2, 1)
        self.stage1_out = BNPReLU(35)
        self.stage2_down = CGBlock(35, 64, 2, 8, down=True)
        self.stage2 = nn.Sequential(*(CGBlock(64, 64, 2, 8) for _ in range(m - 1)))
        self.stage2_out = BNPReLU(131)
        self.stage3_down = CGBlock(131, 128, 4, 16, down=True)
        self.stage3 = nn.Sequential(*(CGBlock(128, 128, 4, 16) for _ in range(n - 1)))
        self.stage3_out = BNPReLU(256)
        self.feature_info = [
            FeatureInfo(35, 2, "stage1_out"),
            FeatureInfo(131, 4, "stage2_out"),
            FeatureInfo(256, 8, "stage3_out"),
        ]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        half = self.pool(x)
        f1 = self.stage1_out(torch.cat([self.stage1(x), half], dim=1))
        down = self.stage2_down(f1)
        f2 = self.stage2_out(torch.cat([self.stage2(down), down, self.pool(half)], dim=1))
        down = self.stage3_down(f2)
        f3 = self.stage3_out(torch.cat([down, self.stage3(down)], dim=1))
        return [f1, f2, f3]


class CGNet(SegModel):
    """CGNet_M{m}N{n}: the encoder, dropout and a 1x1 classifier at stride 8."""

    classifier_path = "cls"

    def __init__(self, num_classes: int = 19, m: int = 3, n: int = 21, dropout: float = 0.1):
        super().__init__(num_classes)
        self.encoder = CGNetEncoder(m, n)
        self.drop = nn.Dropout2d(dropout)
        self.cls = nn.Conv2d(256, num_classes, 1, bias=False)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at stride 8."""
        return self.cls(self.drop(self.encoder(x)[-1]))


default_cfgs = {
    "cgnet": zoo_cfg(
        family="cgnet",
        paper=PAPER,
        output_stride=8,
        published={
            "cityscapes_test_miou": Reported(
                64.8,
                "1024x2048, Cityscapes test server, single scale",
                "paper abstract",
            )
        },
    ),
    "cgnet_m3n15": zoo_cfg(family="cgnet", paper=PAPER, output_stride=8),
}


def _create_cgnet(variant: str, **kwargs: Any) -> CGNet:
    return build_model(CGNet, variant, **kwargs)


@register_model
def cgnet(**kwargs: Any) -> CGNet:
    """CGNet_M3N21 (paper: 64.8 mIoU on Cityscapes test with under 0.5 M parameters)."""
    return _create_cgnet("cgnet", **{**dict(m=3, n=21), **kwargs})


@register_model
def cgnet_m3n15(**kwargs: Any) -> CGNet:
    """CGNet_M3N15: the paper's shallower setting (15 blocks in stage 3)."""
    return _create_cgnet("cgnet_m3n15", **{**dict(m=3, n=15), **kwargs})
