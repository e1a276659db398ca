"""Shared model types: the metadata every model carries and the training-time output."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "AuxOutput",
    "FeatureInfo",
    "PretrainedCfg",
    "SegOutput",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class PretrainedCfg:
    """What a model expects and what is known about it (the timm-style ``pretrained_cfg``).

    ``input_size`` is ``(C, H, W)`` at the model's native resolution; ``output_stride`` is the
    ratio between input and logits size (``None`` for classifiers). ``published`` holds numbers
    reported by the model's authors (e.g. ``{"cityscapes_val_miou": 79.7}``), never ours.
    """

    architecture: str
    task: str = "segmentation"
    num_classes: int = 19
    input_size: tuple[int, int, int] = (3, 1024, 2048)
    output_stride: int | None = 4
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    dataset: str = "cityscapes"
    classes: tuple[str, ...] | None = None
    published: dict[str, float] = field(default_factory=dict)
    weight_file: str | None = None
    license: str = ""
    paper: str = ""
    family: str = ""
    classifier: str = ""
    onnx_dynamic_shapes: bool = True
    torchscript: bool = True
    quantizable: bool = True
    min_input_size: tuple[int, int] = (32, 32)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return asdict(self)

    def replace(self, **changes: Any) -> PretrainedCfg:
        """A copy with some fields changed."""
        return replace(self, **changes)


@dataclass
class AuxOutput:
    """One auxiliary training output: logits of an extra head and how the loss should treat them.

    ``kind`` is ``"seg"`` (cross-entropy against the mask) or ``"detail"`` / ``"boundary"``
    (binary targets derived from the mask by the loss).
    """

    name: str
    logits: torch.Tensor
    weight: float = 0.4
    kind: str = "seg"


@dataclass
class SegOutput:
    """What ``forward_train`` returns: main logits plus auxiliary heads (possibly none)."""

    logits: torch.Tensor
    aux: list[AuxOutput] = field(default_factory=list)


@dataclass(frozen=True)
class FeatureInfo:
    """Channels and reduction (stride w.r.t. the input) of one encoder output level."""

    num_chs: int
    reduction: int
    module: str = ""
