"""Train / eval presets on ``torchvision.transforms.v2`` (image and mask transformed together).

Each preset is a picklable callable ``(image, mask) -> (float32 normalised [3, h, w], int64
[h, w])``; masks are always resized with nearest interpolation (torchvision does that for
``tv_tensors.Mask``) and padded with the ignore index. Inputs are the ``tv_tensors`` a
:class:`~ffseg.data.SegDataset` returns. Take ``mean`` / ``std`` from ``model.pretrained_cfg``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from ffseg.classes import IMAGENET_MEAN, IMAGENET_STD
from ffseg.data.datasets.base import IGNORE_INDEX

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "RandomScale",
    "SegPreset",
    "eval_transforms",
    "imagenet_eval_transforms",
    "imagenet_train_transforms",
    "train_transforms",
]


class RandomScale(v2.Transform):
    """Resize by a factor drawn uniformly from ``scale_range`` (relative to the input size)."""

    def __init__(self, scale_range: tuple[float, float] = (0.5, 2.0)) -> None:
        super().__init__()
        lo, hi = float(scale_range[0]), float(scale_range[1])
        if not 0 < lo <= hi:
            raise ValueError(f"scale_range must satisfy 0 < min <= max, got {scale_range}")
        self.scale_range = (lo, hi)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        h, w = next(
            F.get_size(x) for x in flat_inputs if isinstance(x, (tv_tensors.Image, tv_tensors.Mask))
        )
        lo, hi = self.scale_range
        s = lo + (hi - lo) * float(torch.rand(()))
        return {"size": [max(1, round(h * s)), max(1, round(w * s))]}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        return self._call_kernel(F.resize, inpt, size=params["size"], antialias=True)


class SegPreset:
    """A ``v2.Compose`` whose outputs are returned as plain tensors (image, mask)."""

    def __init__(self, transforms: Sequence[Any]) -> None:
        self.pipeline = v2.Compose(list(transforms))

    def __call__(self, image: Any, target: Any) -> tuple[torch.Tensor, Any]:
        image, target = self.pipeline(image, target)
        if isinstance(target, torch.Tensor):
            target = target.as_subclass(torch.Tensor)
        return image.as_subclass(torch.Tensor), target

    def __repr__(self) -> str:
        return f"SegPreset({self.pipeline})"


def _to_float(mean: Sequence[float], std: Sequence[float]) -> list[Any]:
    return [
        v2.ToDtype({tv_tensors.Image: torch.float32, "others": None}, scale=True),
        v2.Normalize(mean=list(mean), std=list(std)),
    ]


def train_transforms(
    crop_size: tuple[int, int],
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    scale_range: tuple[float, float] = (0.5, 2.0),
    hflip: bool = True,
    color_jitter: float | None = None,
) -> SegPreset:
    """Random scale -> random crop ``crop_size`` (H, W; pad image 0 / mask 255) -> flip ->
    optional colour jitter (brightness/contrast/saturation ``color_jitter``) -> normalise."""
    ops: list[Any] = [
        RandomScale(scale_range),
        v2.RandomCrop(
            list(crop_size),
            pad_if_needed=True,
            fill={tv_tensors.Image: 0, tv_tensors.Mask: IGNORE_INDEX},
        ),
    ]
    if hflip:
        ops.append(v2.RandomHorizontalFlip())
    if color_jitter:
        ops.append(v2.ColorJitter(color_jitter, color_jitter, color_jitter))
    return SegPreset(ops + _to_float(mean, std))


def eval_transforms(
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    resize: tuple[int, int] | None = None,
) -> SegPreset:
    """Normalise only; ``resize`` (H, W) also resizes image (bilinear) and mask (nearest).

    Leave ``resize`` unset for official numbers: the evaluator resizes logits to the mask.
    """
    ops: list[Any] = [v2.Resize(list(resize), antialias=True)] if resize else []
    return SegPreset(ops + _to_float(mean, std))


def imagenet_train_transforms(
    size: int = 224, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD
) -> SegPreset:
    """Classification training: RandomResizedCrop(size) + horizontal flip + normalise."""
    return SegPreset(
        [
            v2.RandomResizedCrop(size, antialias=True),
            v2.RandomHorizontalFlip(),
            *_to_float(mean, std),
        ]
    )


def imagenet_eval_transforms(
    size: int = 224,
    resize: int = 256,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> SegPreset:
    """Classification evaluation: shorter side to ``resize``, CenterCrop(size), normalise."""
    return SegPreset(
        [v2.Resize(resize, antialias=True), v2.CenterCrop(size), *_to_float(mean, std)]
    )
