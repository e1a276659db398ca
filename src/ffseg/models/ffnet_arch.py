"""The FFNet meta-architecture: a ResNet-like encoder plus a tiny FPN-like up-head.

``FFNet`` builds any point of the design space: every encoder of
:data:`ffseg.models.resnet.BACKBONES` (stems A/B/C, including the unused 22S/30S), up-head
``A``/``B``/``C``, seg head ``A``/``B``/``C`` or classification head ``X``, bilinear
(``align_corners=True``) or nearest ("mobile") upsampling, strided first stage ("d" models) and
Gaussian pre-downsampling. The registered variants in :mod:`ffseg.models.ffnet` derive their
arguments from their names.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import torch
from torch import nn

from ffseg.models._base import FeatureInfo, PretrainedCfg, SegModel
from ffseg.models.ffnet_parts import (
    ADAPTER_WIDTHS,
    SEG_HEADS,
    UP_BRANCH_WIDTHS,
    AdapterConv,
    ClassificationHead,
    GaussianDownsample,
    SegmentationHead,
    UpBranch,
    UpsampleCat,
)
from ffseg.models.resnet import BasicBlock, Bottleneck, ResNetEncoder, build_backbone

__all__ = [
    "CLASSIFIER_PATHS",
    "FFNET_LICENSE",
    "FFNET_PAPER",
    "FFNet",
    "FFNetEncoder",
    "FFNetUpHead",
    "init_ffnet_weights",
]

log = logging.getLogger(__name__)

#: Module path of the final classifier layer, per task.
CLASSIFIER_PATHS = {
    "segmentation": "head.layers.3.last_layer.3",
    "classification": "head.layers.2.classifier",
}

FFNET_LICENSE = (
    "ffseg's FFNet code is an independent implementation (Apache-2.0). The official FFNet "
    "weights are distributed under the official release's own restrictive license and an "
    "export-control notice: read it before using them, especially commercially."
)
FFNET_PAPER = (
    "Mehta et al., Simple and Efficient Architectures for Semantic Segmentation (FFNet), "
    "CVPR Workshops 2022"
)


class FFNetUpHead(nn.Module):
    """``layers`` = [adapter, up-branch, (upsample-cat, seg head) | classification head]."""

    def __init__(
        self,
        in_channels: list[int],
        up_head: str,
        head: str,
        num_classes: int,
        mode: str,
        dropout_rate: float | None = None,
    ) -> None:
        super().__init__()
        adapter_widths = ADAPTER_WIDTHS[up_head]
        branch_widths = UP_BRANCH_WIDTHS[up_head]
        layers: list[nn.Module] = [
            AdapterConv(in_channels, adapter_widths),
            UpBranch(adapter_widths, branch_widths, mode),
        ]
        if head == "X":
            layers.append(ClassificationHead(branch_widths, num_classes, dropout_rate))
        else:
            layers += [UpsampleCat(mode), SegmentationHead(sum(branch_widths), num_classes, head)]
        self.layers = nn.Sequential(*layers)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        x: Any = feats
        for layer in self.layers:
            x = layer(x)
        return x


class FFNetEncoder(nn.Module):
    """An FFNet's encoder on its own (``features_only``): optional pre-downsampling + backbone.

    Its state_dict keys equal the full model's (``smoothing.*``, ``backbone_model.*``), so a
    full checkpoint's encoder part loads into it directly.
    """

    def __init__(self, backbone: ResNetEncoder, smoothing: GaussianDownsample | None) -> None:
        super().__init__()
        if smoothing is not None:
            self.smoothing = smoothing
        self.backbone_model = backbone
        scale = 2 if smoothing is not None else 1
        self.feature_info = [
            FeatureInfo(f.num_chs, f.reduction * scale, f"backbone_model.{f.module}")
            for f in backbone.feature_info
        ]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if hasattr(self, "smoothing"):
            x = self.smoothing(x)
        return self.backbone_model(x)


class FFNet(SegModel):
    """An FFNet for segmentation (heads ``A``/``B``/``C``) or ImageNet classification (``X``).

    Args:
        backbone: a name from :data:`~ffseg.models.resnet.BACKBONES` (e.g. ``"resnet40s"``) or a
            module returning 4 feature maps and exposing ``out_channels``.
        up_head: up-head letter ``A``/``B``/``C`` (adapter and up-branch widths).
        seg_head: ``A``/``B``/``C`` segmentation head, or ``X`` for classification.
        mobile: nearest upsampling instead of bilinear with ``align_corners=True``.
        first_stage_stride: 2 for the "d" encoders (output stride 8 instead of 4).
        pre_downsample: Gaussian-smooth and subsample the input by 2 before the encoder.
        num_classes: output classes.
        stem: optionally override the named backbone's stem letter (``A``/``B``/``C``).
        dropout_rate: dropout before the classifier (classification only, training only).
        init: ``"official"`` (conv N(0, 0.01^2) as released) or ``"kaiming"`` (He-normal convs,
            zero-initialised last BN of every residual block: often better from scratch).
    """

    encoder_attr = "backbone_model"

    def __init__(
        self,
        backbone: str | nn.Module = "resnet40s",
        up_head: str = "B",
        seg_head: str = "B",
        *,
        mobile: bool = False,
        first_stage_stride: int = 1,
        pre_downsample: bool = False,
        num_classes: int = 19,
        stem: str | None = None,
        dropout_rate: float | None = None,
        init: str = "official",
    ) -> None:
        super().__init__(num_classes)
        up_head, seg_head = up_head.upper(), seg_head.upper()
        if up_head not in ADAPTER_WIDTHS:
            raise ValueError(f"up_head must be one of A, B, C; got {up_head!r}")
        if seg_head not in (*SEG_HEADS, "X"):
            raise ValueError(
                f"seg_head must be one of A, B, C (segmentation) or X; got {seg_head!r}"
            )
        if pre_downsample:
            self.smoothing = GaussianDownsample(3)
        if isinstance(backbone, str):
            encoder: nn.Module = build_backbone(backbone, first_stage_stride, stem)
        else:
            encoder = backbone
        self.backbone_model = encoder
        self.task = "classification" if seg_head == "X" else "segmentation"
        self.upsample_mode = "nearest" if mobile else "bilinear"
        self.head = FFNetUpHead(
            list(encoder.out_channels),
            up_head,
            seg_head,
            num_classes,
            self.upsample_mode,
            dropout_rate,
        )
        stride = 4 * first_stage_stride * (2 if pre_downsample else 1)
        self.output_stride = stride if self.task == "segmentation" else None
        self.pretrained_cfg = PretrainedCfg(  # replaced by the registered cfg in create_model
            architecture="ffnet",
            task=self.task,
            num_classes=num_classes,
            output_stride=self.output_stride,
            license=FFNET_LICENSE,
            paper=FFNET_PAPER,
            family="ffnet",
        )
        init_ffnet_weights(self, init)

    @property
    def classifier_path(self) -> str:  # type: ignore[override]
        """Module path of the final classifier layer (depends on the task)."""
        return CLASSIFIER_PATHS[self.task]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, C, H/os, W/os)`` (segmentation) or ``(B, num_classes)`` (classification)."""
        if hasattr(self, "smoothing"):
            x = self.smoothing(x)
        return self.head(self.backbone_model(x))

    def feature_encoder(self) -> FFNetEncoder:
        """The encoder (sharing this model's modules and weights): pre-downsampling + backbone."""
        return FFNetEncoder(self.backbone_model, getattr(self, "smoothing", None))

    @staticmethod
    def checkpoint_filter(
        state: dict[str, torch.Tensor], model: nn.Module
    ) -> dict[str, torch.Tensor]:
        """Fit the fixed ``smoothing.weight`` buffer of ``_pre_down`` checkpoints to ``model``.

        A ``_pre_down`` checkpoint loads into its twin without pre-downsampling (the buffer is
        dropped), and a checkpoint without the buffer keeps the model's own (it is a constant).
        """
        own = model.state_dict()
        if "smoothing.weight" in state and "smoothing.weight" not in own:
            state = {k: v for k, v in state.items() if k != "smoothing.weight"}
            log.info("dropped smoothing.weight: %s has no pre-downsampling", _label(model))
        elif "smoothing.weight" in own and "smoothing.weight" not in state:
            state = {**state, "smoothing.weight": own["smoothing.weight"]}
        return state


def _label(model: nn.Module) -> str:
    cfg = getattr(model, "pretrained_cfg", None)
    return getattr(cfg, "architecture", type(model).__name__)


def init_ffnet_weights(model: nn.Module, scheme: str = "official") -> None:
    """Initialise convs, BNs and linears.

    ``"official"``: conv weights N(0, 0.01^2), conv biases 1e-4, BN 1/0, linear weights
    U(+-1/sqrt(out_features)), linear bias 0 (as the FFNet release). ``"kaiming"``: He-normal
    (fan_out) convs, zero biases, and the last BN of each residual block zero-initialised.
    """
    if scheme not in ("official", "kaiming"):
        raise ValueError(f"init must be 'official' or 'kaiming', got {scheme!r}")
    first = next(model.parameters(), None)
    if first is not None and first.is_meta:  # shapes only (e.g. counting MACs): nothing to fill
        return
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            if scheme == "official":
                nn.init.normal_(m.weight, std=0.01)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 1e-4)
            else:
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            bound = 1.0 / math.sqrt(m.out_features)
            nn.init.uniform_(m.weight, -bound, bound)
            nn.init.zeros_(m.bias)
    if scheme == "kaiming":
        for m in model.modules():
            if isinstance(m, Bottleneck):
                nn.init.zeros_(m.bn3.weight)
            elif isinstance(m, BasicBlock):
                nn.init.zeros_(m.bn2.weight)
