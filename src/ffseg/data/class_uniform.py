"""Class-uniform sampling: a share of training crops centred on a pixel of a rare class.

For every training image, :func:`class_centroids` records, per class present, the centroids of
that class's pixels in each cell of a coarse grid (as fractions of the image height / width, so
they survive any rescaling). :class:`ClassUniformSamples` then centres a share of the crops on
one of them: the class is drawn uniformly among the classes present in the image (so a class
like pole or sign is as likely as road), the point among that class's centroids. Every draw
comes from the sample's seed of (seed, epoch, index), so the crops do not depend on the worker
count, the rank or where a run was resumed; under DDP each rank keeps its own shard (the
sampler's). Centroids are data: :func:`save_centroids` / :func:`load_centroids` write and read
them as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Subset
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from ffseg._io import atomic_write_json
from ffseg.data.datasets.base import IGNORE_INDEX, FileSegDataset, apply_lut, read_mask
from ffseg.data.transforms import RandomScale, SegPreset, _to_float
from ffseg.data.views import SeededSamples

__all__ = [
    "CentredCropPreset",
    "Centroids",
    "ClassUniformSamples",
    "class_centroids",
    "load_centroids",
    "mask_centroids",
    "save_centroids",
]

#: ``centroids[image][class] = [(y, x), ...]`` in fractions of the image size.
Centroids = list[dict[int, list[tuple[float, float]]]]
#: The grid (cells per side) in whose cells a class's centroids are computed.
GRID = 4


def mask_centroids(
    mask: np.ndarray, num_classes: int, ignore_index: int = IGNORE_INDEX, grid: int = GRID
) -> dict[int, list[tuple[float, float]]]:
    """Per class present in ``mask`` (``[H, W]`` class indices): the centroid of its pixels in
    each cell of a ``grid`` x ``grid`` tiling, as ``(y / H, x / W)``."""
    h, w = mask.shape
    out: dict[int, list[tuple[float, float]]] = {}
    for cy in range(grid):
        for cx in range(grid):
            y0, x0 = cy * h // grid, cx * w // grid
            cell = mask[y0 : (cy + 1) * h // grid, x0 : (cx + 1) * w // grid]
            for c in np.unique(cell):
                c = int(c)
                if c == ignore_index or not 0 <= c < num_classes:
                    continue
                ys, xs = np.nonzero(cell == c)
                out.setdefault(c, []).append(
                    ((y0 + ys.mean() + 0.5) / h, (x0 + xs.mean() + 0.5) / w)
                )
    return out


def _mask(dataset: Any, index: int) -> np.ndarray:
    """Sample ``index``'s mask (label files are read without their image where possible)."""
    if isinstance(dataset, Subset):
        return _mask(dataset.dataset, dataset.indices[index])
    if isinstance(dataset, FileSegDataset) and (path := dataset.mask_path(index)) is not None:
        return apply_lut(read_mask(path), dataset.mask_lut(index), path, dataset.label_hint)
    return np.asarray(dataset[index][1])


def class_centroids(dataset: Any, num_classes: int, ignore_index: int = IGNORE_INDEX) -> Centroids:
    """:func:`mask_centroids` of every sample of an untransformed dataset."""
    return [
        mask_centroids(_mask(dataset, i), num_classes, ignore_index) for i in range(len(dataset))
    ]


def save_centroids(centroids: Centroids, path: str | Path) -> Path:
    """Write centroids as JSON (atomically)."""
    data = [{str(c): [list(p) for p in pts] for c, pts in img.items()} for img in centroids]
    return atomic_write_json(path, {"ffseg_centroids": 1, "grid": GRID, "images": data})


def load_centroids(path: str | Path) -> Centroids:
    """Read centroids written by :func:`save_centroids`."""
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict) or data.get("ffseg_centroids") != 1:
        raise ValueError(f"{path}: not an ffseg centroid file (written by save_centroids)")
    return [
        {int(c): [(float(p[0]), float(p[1])) for p in pts] for c, pts in img.items()}
        for img in data["images"]
    ]


class CentredCropPreset:
    """Random scale -> crop ``crop_size`` centred on ``centre`` (``(y, x)`` fractions; a random
    position when ``None``), clamped inside the image, padded (image 0, mask 255) when the image
    is smaller -> optional flip / colour jitter -> normalise. ``preset(image, mask, centre)``."""

    def __init__(
        self,
        crop_size: tuple[int, int],
        mean: Sequence[float],
        std: Sequence[float],
        scale_range: tuple[float, float] = (0.5, 2.0),
        hflip: bool = True,
        color_jitter: float | None = None,
    ) -> None:
        self.crop_size = (int(crop_size[0]), int(crop_size[1]))
        self.scale = RandomScale(scale_range)
        tail: list[Any] = [v2.RandomHorizontalFlip()] if hflip else []
        if color_jitter:
            tail.append(v2.ColorJitter(color_jitter, color_jitter, color_jitter))
        self.tail = SegPreset(tail + _to_float(mean, std))

    def __call__(
        self, image: Any, mask: Any, centre: tuple[float, float] | None = None
    ) -> tuple[torch.Tensor, Any]:
        image, mask = self.scale(image, mask)
        h, w = F.get_size(image)
        ch, cw = self.crop_size
        if h < ch or w < cw:
            pad = [0, 0, max(cw - w, 0), max(ch - h, 0)]
            image = F.pad(image, pad, fill=0)
            mask = F.pad(mask, pad, fill=IGNORE_INDEX)
        hh, ww = max(h, ch), max(w, cw)
        if centre is None:
            top = int(torch.randint(hh - ch + 1, ()))
            left = int(torch.randint(ww - cw + 1, ()))
        else:
            top = min(max(round(centre[0] * h - ch / 2), 0), hh - ch)
            left = min(max(round(centre[1] * w - cw / 2), 0), ww - cw)
        image = F.crop(image, top, left, ch, cw)
        mask = F.crop(mask, top, left, ch, cw)
        return self.tail(tv_tensors.Image(image), tv_tensors.Mask(mask))


class ClassUniformSamples(SeededSamples):
    """A :class:`SeededSamples` view whose transform is a :class:`CentredCropPreset`: a share
    ``share`` of the samples is centred on a centroid of a class drawn uniformly among those
    present in the image; the others get a random crop."""

    def __init__(
        self,
        dataset: Any,
        transform: CentredCropPreset,
        seed: int,
        epoch: int,
        centroids: Centroids,
        share: float,
    ) -> None:
        super().__init__(dataset, transform, seed, epoch)
        if len(centroids) != len(dataset):
            raise ValueError(
                f"class-uniform sampling: {len(centroids)} centroid entries for a dataset of "
                f"{len(dataset)} images; recompute the centroids for this dataset"
            )
        self.centroids = centroids
        self.share = share

    def _centre(self, index: int) -> tuple[float, float] | None:
        classes = sorted(self.centroids[index])
        if not classes or float(torch.rand(())) >= self.share:
            return None
        points = self.centroids[index][classes[int(torch.randint(len(classes), ()))]]
        return points[int(torch.randint(len(points), ()))]

    def __getitem__(self, index: int) -> Any:
        with self._seeded(index):
            image, mask = self.dataset[index]
            return self.transform(image, mask, self._centre(index))
