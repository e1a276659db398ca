"""ShelfNet for fast semantic segmentation (Zhuang et al., ICCVW 2019, arXiv:1811.11254).

The authors' real-time ShelfNet18-lw: a ResNet-18 encoder (torchvision key names,
``encoder.*``) whose stride-8/16/32 features are reduced by 1x1 conv-BN-act (``trans1..3``) to
64/128/256 channels, then two shelf columns over those three levels:

* ``decoder`` (coarse to fine): an S-block on the 1/32 level, then per finer level an
  attention refinement module (ARM: 3x3 conv-BN-act to the finer width + channel attention),
  nearest x2 upsampling, the lateral feature added and a 3x3 conv-BN-act;
* ``ladder`` (fine to coarse and back): an S-block on the 1/8 decoder output plus that output,
  S-blocks and strided 3x3 convs (with bias) + ReLU down to 1/32, an S-block there, and the
  decoder's up path (ARM, upsampling, skip from the down path, 3x3 conv-BN-act).

The S-block is the paper's shared-weights residual block: one 3x3 conv (with bias) applied
twice, ``relu(x + bn2(conv(drop(act(bn1(conv(x)))))))`` with 2D dropout 0.1. The authors'
BN layers are in-place activated BN with leaky ReLU (slope 0.01): ``act`` is LeakyReLU here.
The seg head (3x3 conv-BN-act to 64, then a bias-free 3x3 classifier) predicts at 1/8
(``output_stride=8``); training adds the authors' heads on the ladder's 1/16 and 1/32 outputs
(``aux16`` / ``aux32``, weight 1). Module names follow the authors' (``decoder`` /
``ladder`` with ``bottom``, ``inconv``, ``down_module_list``, ``down_conv_list``,
``up_conv_list``, ``up_dense_list``; conv-BN pairs indexed 0 / 1) so their checkpoints load
through a key rename (their decoder's ``inconv`` is never called and is not built here).

Inference graph at 1x3x1024x2048, 19 classes: 14.32 M params / 98.7 GMACs. The authors' model
has 14.36 M: its decoder also holds an ``inconv`` S-block (37 k params) that ``forward`` never
calls. The training heads add 0.24 M. The zoo's reference (16.04 M) is a 4-level stride-4
layout. ``backbone=`` takes ``"resnet34"``, ``"resnet50"`` or ``"resnet101"``; the column
widths stay 64/128/256.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, conv3x3, kaiming_init_, resize_to
from ffseg.models._base import SegModel, SegOutput
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import zoo_cfg
from ffseg.models.resnet import build_backbone
from ffseg.models.stdc import AttentionRefinement, ClassHead, seg_aux

__all__ = ["BACKBONES", "Decoder", "LadderBlock", "SBlock", "ShelfNet"]

PAPER = "Zhuang et al., ShelfNet for Fast Semantic Segmentation, ICCV Workshops 2019"
#: Encoders ``backbone=`` accepts (torchvision ResNets).
BACKBONES = ("resnet18", "resnet34", "resnet50", "resnet101")
#: The authors' in-place activated BN uses leaky ReLU (slope 0.01).
_ACT = nn.LeakyReLU


class SBlock(nn.Module):
    """Shared-weights residual block: one 3x3 conv (``conv1``) applied twice."""

    def __init__(self, channels: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.conv1 = conv3x3(channels, channels, bias=True)
        self.bn1 = nn.BatchNorm2d(channels)
        self.act = _ACT()
        self.drop = nn.Dropout2d(dropout)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.drop(self.act(self.bn1(self.conv1(x))))
        return self.relu(x + self.bn2(self.conv1(y)))


class Decoder(nn.Module):
    """Coarse-to-fine shelf column over widths ``w, 2w, ..., 2^(levels-1) w``."""

    def __init__(self, planes: int = 64, levels: int = 3) -> None:
        super().__init__()
        widths = [planes * 2**i for i in range(levels)]
        self.bottom = SBlock(widths[-1])
        self.up_conv_list = nn.ModuleList(
            AttentionRefinement(widths[i + 1], widths[i], _ACT) for i in reversed(range(levels - 1))
        )
        self.up_dense_list = nn.ModuleList(
            ConvBNAct(widths[i], widths[i], 3, act=_ACT) for i in reversed(range(levels - 1))
        )

    def up_path(self, out: torch.Tensor, laterals: list[torch.Tensor]) -> list[torch.Tensor]:
        """``[coarsest, ..., finest]`` from the bottom output and fine-to-coarse laterals."""
        outs = [out]
        for arm, dense, lateral in zip(self.up_conv_list, self.up_dense_list, laterals[-2::-1]):
            out = dense(resize_to(arm(out), lateral.shape[-2:], "nearest") + lateral)
            outs.append(out)
        return outs

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        """``feats`` fine to coarse; returns coarse to fine."""
        return self.up_path(self.bottom(feats[-1]), feats)


class LadderBlock(Decoder):
    """Fine-to-coarse-and-back shelf column fed by a :class:`Decoder`'s coarse-to-fine outputs."""

    def __init__(self, planes: int = 64, levels: int = 3) -> None:
        super().__init__(planes, levels)
        widths = [planes * 2**i for i in range(levels)]
        self.inconv = SBlock(planes)
        self.down_module_list = nn.ModuleList(SBlock(widths[i]) for i in range(levels - 1))
        self.down_conv_list = nn.ModuleList(
            conv3x3(widths[i], widths[i + 1], 2, bias=True) for i in range(levels - 1)
        )
        self.relu = nn.ReLU()

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        """``feats`` coarse to fine (a decoder's output); returns coarse to fine."""
        out = self.inconv(feats[-1])
        down = []
        for i, (block, conv) in enumerate(zip(self.down_module_list, self.down_conv_list)):
            out = block(out + feats[-i - 1])
            down.append(out)
            out = self.relu(conv(out))
        down.append(out)
        return self.up_path(self.bottom(out), down)


class ShelfNet(SegModel):
    """ShelfNet18-lw on a ResNet encoder (see the module docstring)."""

    def __init__(self, backbone: str = "resnet18", num_classes: int = 19, planes: int = 64) -> None:
        super().__init__(num_classes)
        self.encoder = build_backbone(backbone, family="shelfnet", choices=BACKBONES)
        channels = self.encoder.out_channels[1:]
        self.trans1 = ConvBNAct(channels[0], planes, 1, act=_ACT)
        self.trans2 = ConvBNAct(channels[1], 2 * planes, 1, act=_ACT)
        self.trans3 = ConvBNAct(channels[2], 4 * planes, 1, act=_ACT)
        self.decoder = Decoder(planes)
        self.ladder = LadderBlock(planes)
        self.head = ClassHead(planes, 64, num_classes, cls_kernel=3, act=_ACT)
        self.aux_heads = nn.ModuleDict(
            {
                "aux16": ClassHead(2 * planes, 64, num_classes, cls_kernel=3, act=_ACT),
                "aux32": ClassHead(4 * planes, 64, num_classes, cls_kernel=3, act=_ACT),
            }
        )
        kaiming_init_(self)

    def _shelves(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The ladder's outputs at 1/32, 1/16, 1/8."""
        _, f8, f16, f32 = self.encoder(x)
        feats = [self.trans1(f8), self.trans2(f16), self.trans3(f32)]
        return self.ladder(self.decoder(feats))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at 1/8 of the input size."""
        return self.head(self._shelves(x)[-1])

    def forward_train(self, x: torch.Tensor) -> SegOutput:
        """Logits plus the authors' seg heads on the 1/16 and 1/32 ladder outputs (weight 1)."""
        y32, y16, y8 = self._shelves(x)
        return SegOutput(self.head(y8), seg_aux(self.aux_heads, aux16=y16, aux32=y32))


default_cfgs = {
    "shelfnet": zoo_cfg(family="shelfnet", paper=PAPER, output_stride=8, min_input_size=(64, 64)),
}


@register_model
def shelfnet(**kwargs: Any) -> ShelfNet:
    """ShelfNet18-lw (the authors' real-time model: ResNet-18, three levels, stride 8)."""
    return build_model(ShelfNet, "shelfnet", dict(backbone="resnet18"), **kwargs)
