"""Dataset views that apply a transform on top of an untransformed dataset, or keep it decoded.

Datasets are built once, without transforms; the trainer wraps them in these views once it
knows the model's preprocessing. :class:`SeededSamples` draws each training sample's
augmentation from a seed of (seed, epoch, index) instead of the global RNG, so augmentations
do not depend on the worker count or on where a run was resumed. :class:`Decoded` holds every
sample of a small dataset decoded in memory, so an epoch costs no file reads or decoding.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch.utils.data import Dataset

from ffseg.data.datasets.base import Transform

__all__ = [
    "EPOCH_SEED_STRIDE",
    "SAMPLE_SEED_STRIDE",
    "Decoded",
    "SeededSamples",
    "Transformed",
    "held_bytes",
    "mix_seed",
]

#: Multiplies a base seed before the sample index is added (a prime: seeds never collide for
#: fewer than a million samples per epoch).
SAMPLE_SEED_STRIDE = 1_000_003
#: Multiplies the epoch (a prime, so epochs shift every sample's seed differently).
EPOCH_SEED_STRIDE = 10_007


def mix_seed(seed: int, index: int, epoch: int = 0) -> int:
    """The seed of sample ``index`` in ``epoch`` of a run seeded with ``seed``."""
    return seed * SAMPLE_SEED_STRIDE + epoch * EPOCH_SEED_STRIDE + index


class Transformed(Dataset):
    """``transform(*dataset[i])``: a transform applied on top of an untransformed dataset."""

    def __init__(self, dataset: Dataset, transform: Transform) -> None:
        self.dataset = dataset
        self.transform = transform

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> Any:
        return self.transform(*self.dataset[index])


class SeededSamples(Transformed):
    """A :class:`Transformed` view whose transform draws from the seed of (seed, epoch, index)."""

    def __init__(self, dataset: Dataset, transform: Transform, seed: int, epoch: int) -> None:
        super().__init__(dataset, transform)
        self.seed = seed
        self.epoch = epoch

    @contextmanager
    def _seeded(self, index: int) -> Iterator[None]:
        """Inside: torch's global generator seeded from (seed, epoch, index); restored after."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(mix_seed(self.seed, index, self.epoch) % 2**63)
            yield

    def __getitem__(self, index: int) -> Any:
        with self._seeded(index):
            return super().__getitem__(index)


def _narrow(mask: torch.Tensor) -> torch.Tensor:
    """``mask`` in the smallest integer type that holds its values (uint8 for class ids with
    255 = ignore), to be widened back on the way out."""
    if mask.is_floating_point() or mask.numel() == 0:
        return mask
    low, high = int(mask.min()), int(mask.max())
    for dtype in (torch.uint8, torch.int16, torch.int32):
        info = torch.iinfo(dtype)
        if info.min <= low and high <= info.max:
            return mask.to(dtype)
    return mask


def held_bytes(sample: tuple[Any, ...]) -> int:
    """Bytes :class:`Decoded` holds for ``sample`` (tensors; masks narrowed as it keeps them)."""
    image, target = sample[0], sample[1]
    held = [image, _narrow(target) if isinstance(target, torch.Tensor) else None]
    return sum(t.numel() * t.element_size() for t in held if isinstance(t, torch.Tensor))


class Decoded(Dataset):
    """Every ``(image, target)`` of an untransformed ``dataset``, decoded once and kept in memory.

    Built before the loader's worker processes start, so they share the memory (fork) instead of
    each reading and decoding the files again every epoch. Images are returned as copies (a
    transform may work in place), masks widened back to their type: ``dataset[i]`` and
    ``Decoded(dataset)[i]`` are equal.
    """

    def __init__(self, dataset: Dataset) -> None:
        start = time.perf_counter()
        self._items: list[tuple[Any, Any, Any]] = []
        for i in range(len(dataset)):  # type: ignore[arg-type]
            image, target = dataset[i]
            if isinstance(target, torch.Tensor):
                self._items.append((image, _narrow(target), (type(target), target.dtype)))
            else:
                self._items.append((image, target, None))
        self.seconds = time.perf_counter() - start

    @property
    def nbytes(self) -> int:
        """Bytes the decoded samples hold."""
        return sum(held_bytes(item) for item in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image, target, kind = self._items[index]
        if isinstance(image, torch.Tensor):
            image = image.clone()  # keeps its tv_tensors type
        if kind is not None:
            wrapper, dtype = kind
            target = target.to(dtype)  # tv_tensors keep their type through .to
            if type(target) is not wrapper:
                target = wrapper(target)
        return image, target
