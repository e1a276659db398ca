"""DFANet (Li et al., DFANet: Deep Feature Aggregation for Real-Time Semantic Segmentation, 2019).

The XceptionA encoder (3x3/2 conv with 8 channels, then stages enc2/enc3/enc4 of 4/6/4 Xception
blocks with 48/96/192 channels, each stage starting with stride 2, and a "fc attention" that
turns the global max-pooled stride-16 feature into channel weights through the ImageNet FC layer
with 1000 units and a 1x1 conv-BN with a sigmoid gate) is cascaded three times. Sub-network aggregation feeds
the upsampled (x4) attention output of one encoder, concatenated with its enc2 feature, to the
next encoder; sub-stage aggregation concatenates every stage's input with the same stage of the
previous encoder. Each Xception block has three separable convs (width/4, width/4, width; the
last one a strided depthwise conv with depth multiplier 4 and a width x width pointwise conv) and
a residual (a strided 1x1 conv-BN when the shape changes).

The decoder sums 3x3 conv-BN-ReLU projections of the three enc2 features and 1x1 conv of the
sum ("low-level" path) with seg heads of the three attention outputs ("high-level" path), all
at stride 4 (``output_stride`` 4; the paper then upsamples x4 bilinearly). No auxiliary heads.
Every resize targets an explicit size, so inputs only need to be multiples of 32.

Parameters (19 classes): 3.056 M (reference 3.05 M, +0.2 %). The paper states 7.8 M without
giving every block width; this build follows the reference re-implementation's block and head
widths, so it does not reproduce the paper's figure. ``dfanet_b`` swaps in the paper's
XceptionB (stage widths 32/64/128, same depths; Table 1): 1.81 M here against the paper's
4.8 M, for the same reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, kaiming_init_, resize_to
from ffseg.layers.fusion import SegHead
from ffseg.layers.lightweight import DSConvBNAct, DWConvBNAct
from ffseg.models._base import FeatureInfo, PretrainedCfg, SegModel
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import Reported, zoo_cfg

__all__ = ["WIDTHS", "DFANet", "DFANetEncoder", "FCAttention", "XceptionA", "XceptionBlock"]

PAPER = "Li et al., DFANet: Deep Feature Aggregation for Real-Time Semantic Segmentation, CVPR 2019"
XCEPTION_A = {"widths": (48, 96, 192), "depths": (4, 6, 4)}
#: Stage widths of the paper's two backbones (Table 1): XceptionA and the narrower XceptionB.
WIDTHS = {"a": XCEPTION_A["widths"], "b": (32, 64, 128)}


class XceptionBlock(nn.Module):
    """Three separable convs (width/4, width/4, width) with a residual connection.

    The last one is a depthwise conv with depth multiplier ``expansion`` (carrying the stride)
    followed by a ``width x width`` pointwise conv.
    """

    def __init__(self, cin: int, cout: int, stride: int = 1, expansion: int = 4) -> None:
        super().__init__()
        mid = cout // expansion
        self.body = nn.Sequential(
            DSConvBNAct(cin, mid, dw_act=None),
            DSConvBNAct(mid, mid, dw_act=None),
            DWConvBNAct(mid, cout, 3, stride, act=None),
            ConvBNAct(cout, cout, 1),
        )
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = ConvBNAct(cin, cout, 1, stride, act=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


class FCAttention(nn.Module):
    """Global max pool -> FC (1000 units, the ImageNet classifier) -> 1x1 conv-BN-sigmoid -> scale.

    The gate is a sigmoid: an unbounded (ReLU) gate multiplies activations through the three
    cascaded encoders, which at initialisation reaches logits in the hundreds and makes BN
    folding / ONNX parity fail by float32 round-off.
    """

    def __init__(self, channels: int, hidden: int = 1000) -> None:
        super().__init__()
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.fc = nn.Conv2d(channels, hidden, 1)
        self.conv = ConvBNAct(hidden, channels, 1, act=nn.Sigmoid)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.conv(self.fc(self.pool(x)))


class XceptionA(nn.Module):
    """One XceptionA encoder (stages enc2-enc4 + fc attention); optional per-stage extra inputs.

    Returns ``[enc2, enc3, enc4, attention]`` (strides 2, 4, 8 w.r.t. its input; the attention
    output has enc4's size).
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        widths: Sequence[int] = XCEPTION_A["widths"],
        depths: Sequence[int] = XCEPTION_A["depths"],
    ) -> None:
        super().__init__()
        for i, (cin, width, depth) in enumerate(zip(in_channels, widths, depths), start=2):
            blocks = [XceptionBlock(cin, width, 2)]
            blocks += [XceptionBlock(width, width) for _ in range(depth - 1)]
            self.add_module(f"enc{i}", nn.Sequential(*blocks))
        self.attention = FCAttention(widths[-1])

    def forward(
        self, x: torch.Tensor, extras: Sequence[torch.Tensor] | None = None
    ) -> list[torch.Tensor]:
        feats = []
        for i, stage in enumerate((self.enc2, self.enc3, self.enc4)):
            if extras is not None:
                x = torch.cat([x, extras[i]], dim=1)
            x = stage(x)
            feats.append(x)
        feats.append(self.attention(x))
        return feats


class DFANetEncoder(nn.Module):
    """The stem and the first XceptionA encoder; ``features_only`` gives strides 4, 8, 16."""

    def __init__(self, widths: Sequence[int] = XCEPTION_A["widths"]) -> None:
        super().__init__()
        w = tuple(widths)
        self.stem = ConvBNAct(3, 8, 3, 2)
        self.backbone1 = XceptionA((8, w[0], w[1]), w)
        self.feature_info = [
            FeatureInfo(w[0], 4, "backbone1.enc2"),
            FeatureInfo(w[1], 8, "backbone1.enc3"),
            FeatureInfo(w[2], 16, "backbone1.attention"),
        ]

    def forward_all(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``[enc2, enc3, enc4, attention]`` of the first encoder (the cascade's input)."""
        return self.backbone1(self.stem(x))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        enc2, enc3, _, att = self.forward_all(x)
        return [enc2, enc3, att]


class DFANet(SegModel):
    """DFANet: three cascaded Xception encoders with sub-network and sub-stage aggregation."""

    classifier_path = "low_cls"

    def __init__(
        self,
        num_classes: int = 19,
        head_channels: int = 128,
        widths: Sequence[int] = XCEPTION_A["widths"],
    ) -> None:
        super().__init__(num_classes)
        w = tuple(widths)
        self.encoder = DFANetEncoder(w)
        cat_in = (w[2] + w[0], w[0] + w[1], w[1] + w[2])
        self.backbone2 = XceptionA(cat_in, w)
        self.backbone3 = XceptionA(cat_in, w)
        self.low = nn.ModuleList(ConvBNAct(w[0], 48, 3) for _ in range(3))
        self.low_cls = nn.Conv2d(48, num_classes, 1)
        self.high = nn.ModuleList(SegHead(w[2], head_channels, num_classes) for _ in range(3))
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at stride 4."""
        f1 = self.encoder.forward_all(x)
        f2 = self.backbone2(resize_to(f1[3], f1[0].shape[-2:], "bilinear"), f1[:3])
        f3 = self.backbone3(resize_to(f2[3], f2[0].shape[-2:], "bilinear"), f2[:3])
        size = f1[0].shape[-2:]
        low = sum(
            resize_to(conv(f[0]), size, "bilinear") for conv, f in zip(self.low, (f1, f2, f3))
        )
        out = self.low_cls(low)
        for head, f in zip(self.high, (f1, f2, f3)):
            out = out + resize_to(head(f[3]), size, "bilinear")
        return out

    def class_layer_paths(self) -> list[str]:
        """``low_cls`` and the classifiers of the three high-level heads."""
        return [self.classifier_path, *(f"high.{i}.cls" for i in range(len(self.high)))]


def _cfg(test_miou: float, variant: str) -> PretrainedCfg:
    return zoo_cfg(
        family="dfanet",
        paper=PAPER,
        input_size=(3, 1024, 1024),
        output_stride=4,
        min_input_size=(128, 128),
        published={
            "cityscapes_test_miou": Reported(
                test_miou,
                "1024x1024 input, single scale",
                f"DFANet paper, Cityscapes test ({variant})",
            )
        },
    )


default_cfgs = {"dfanet": _cfg(71.3, "DFANet A"), "dfanet_b": _cfg(67.1, "DFANet B")}


@register_model
def dfanet(**kwargs: Any) -> DFANet:
    """DFANet-A (paper: 71.3 Cityscapes test mIoU at 1024x1024 input)."""
    return build_model(DFANet, "dfanet", **kwargs)


@register_model
def dfanet_b(**kwargs: Any) -> DFANet:
    """DFANet-B: XceptionB (stage widths 32/64/128; paper: 67.1 test mIoU at 1024x1024)."""
    return build_model(DFANet, "dfanet_b", dict(widths=WIDTHS["b"]), **kwargs)
