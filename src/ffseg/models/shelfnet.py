"""ShelfNet for fast semantic segmentation (Zhuang et al., ICCVW 2019, arXiv:1811.11254).

A ResNet-18 encoder (column 1, torchvision key names, ``encoder.*``) whose four stages are
reduced by 1x1 conv-BN-ReLU to 32/64/128/256 channels, followed by three "shelf" columns:
a decoder (column 2: coarse-to-fine, 3x3 transposed conv-BN-ReLU x2 between levels), an
encoder (column 3: fine-to-coarse, strided 3x3 conv-BN-ReLU) and a second decoder (column 4),
every level of every column refined by a shared-weights residual block (S-block: one 3x3 conv
applied twice with separate BNs). The finest level (1/4) is classified by a 1x1 conv
(``output_stride=4``).

The S-block's weight sharing is the paper's; with it the network has 14.28 M parameters.
The zoo's reference (16.04 M) gives the two convs of each S-block separate weights:
``ShelfNet(shared_sblock=False)`` builds that variant (16.04 M). The paper's 23.5 M is the
ResNet-50 model. ``backbone=`` takes the paper's deeper encoders (``"resnet50"``,
``"resnet101"``) or ``"resnet34"``; the column widths stay ``widths``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ffseg.layers import ConvBNAct, FullConvBNAct, conv3x3, kaiming_init_
from ffseg.models._base import SegModel
from ffseg.models._builder import build_model
from ffseg.models._registry import register_model
from ffseg.models._zoo import zoo_cfg
from ffseg.models.resnet import build_backbone

__all__ = ["BACKBONES", "SBlock", "ShelfColumn", "ShelfNet"]

PAPER = "Zhuang et al., ShelfNet for Fast Semantic Segmentation, ICCV Workshops 2019"
#: Encoders ``backbone=`` accepts (torchvision ResNets).
BACKBONES = ("resnet18", "resnet34", "resnet50", "resnet101")


class SBlock(nn.Module):
    """Shared-weights residual block: ``relu(x + bn2(conv(relu(bn1(conv(x))))))``.

    With ``shared=False`` the second conv has its own weights (a plain basic block).
    """

    def __init__(self, channels: int, shared: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        self.conv = conv3x3(channels, channels)
        self.bn1 = nn.BatchNorm2d(channels)
        self.drop = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.conv2 = None if shared else conv3x3(channels, channels)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv2 = self.conv if self.conv2 is None else self.conv2
        y = self.drop(self.relu(self.bn1(self.conv(x))))
        return self.relu(x + self.bn2(conv2(y)))


class ShelfColumn(nn.Module):
    """One shelf column over levels ``widths`` (fine to coarse), decoding or encoding.

    A decoding column walks coarse-to-fine and upsamples with transposed convs; an encoding
    column walks fine-to-coarse with strided convs (and creates the coarsest level itself).
    Each level's S-block sees the lateral input plus the transition from the previous level.
    """

    def __init__(self, widths: list[int], decode: bool, shared: bool = True) -> None:
        super().__init__()
        self.decode = decode
        n = len(widths)
        levels = range(n) if decode else range(n - 1)
        self.blocks = nn.ModuleList(SBlock(widths[i], shared) for i in levels)
        if decode:  # level i+1 -> i
            self.steps = nn.ModuleList(
                FullConvBNAct(widths[i + 1], widths[i]) for i in range(n - 1)
            )
        else:  # level i -> i+1
            self.steps = nn.ModuleList(
                ConvBNAct(widths[i], widths[i + 1], 3, 2) for i in range(n - 1)
            )

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        n = len(feats)
        out = list(feats)
        if self.decode:
            carry = self.blocks[n - 1](feats[n - 1])
            out[n - 1] = carry
            for i in range(n - 2, -1, -1):
                carry = self.blocks[i](feats[i] + self.steps[i](carry))
                out[i] = carry
        else:
            carry = self.blocks[0](feats[0])
            out[0] = carry
            for i in range(1, n):
                step = self.steps[i - 1](carry)
                carry = self.blocks[i](feats[i] + step) if i < n - 1 else step
                out[i] = carry
        return out


class ShelfNet(SegModel):
    """ShelfNet on a ResNet encoder (see the module docstring)."""

    classifier_path = "classifier"

    def __init__(
        self,
        backbone: str = "resnet18",
        num_classes: int = 19,
        widths: tuple[int, ...] = (32, 64, 128, 256),
        shared_sblock: bool = True,
    ) -> None:
        super().__init__(num_classes)
        self.encoder = build_backbone(backbone, family="shelfnet", choices=BACKBONES)
        w = list(widths)
        self.reduce = nn.ModuleList(
            ConvBNAct(c, out, 1) for c, out in zip(self.encoder.out_channels, w)
        )
        self.column2 = ShelfColumn(w, decode=True, shared=shared_sblock)
        self.column3 = ShelfColumn(w, decode=False, shared=shared_sblock)
        self.column4 = ShelfColumn(w, decode=True, shared=shared_sblock)
        self.classifier = nn.Conv2d(w[0], num_classes, 1)
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at 1/4 of the input size."""
        feats = [reduce(f) for reduce, f in zip(self.reduce, self.encoder(x))]
        feats = self.column4(self.column3(self.column2(feats)))
        return self.classifier(feats[0])


default_cfgs = {
    "shelfnet": zoo_cfg(family="shelfnet", paper=PAPER, output_stride=4, min_input_size=(32, 32)),
}


@register_model
def shelfnet(**kwargs: Any) -> ShelfNet:
    """ShelfNet with ResNet-18 and the paper's shared-weights S-blocks."""
    return build_model(
        ShelfNet, "shelfnet", dict(backbone="resnet18", shared_sblock=True), **kwargs
    )
