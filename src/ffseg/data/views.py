"""Dataset views that apply a transform on top of an untransformed dataset.

Datasets are built once, without transforms; the trainer wraps them in these views once it
knows the model's preprocessing. :class:`SeededSamples` draws each training sample's
augmentation from a seed of (seed, epoch, index) instead of the global RNG, so augmentations
do not depend on the worker count or on where a run was resumed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch.utils.data import Dataset

from ffseg.data.datasets.base import Transform

__all__ = ["EPOCH_SEED_STRIDE", "SAMPLE_SEED_STRIDE", "SeededSamples", "Transformed", "mix_seed"]

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
