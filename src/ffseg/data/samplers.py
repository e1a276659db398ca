"""Samplers: distributed evaluation without padding, and skipping the start of an epoch."""

from __future__ import annotations

from collections.abc import Iterator, Sized

import torch.distributed as dist
from torch.utils.data import Sampler

__all__ = ["DistributedEvalSampler", "SkipSampler"]


class DistributedEvalSampler(Sampler[int]):
    """Rank ``r`` of ``W`` gets indices ``r, r + W, r + 2W, ...`` in order.

    Unlike ``DistributedSampler`` it never pads, so ranks may differ by one sample and an
    all-reduced confusion matrix counts every sample exactly once.
    """

    def __init__(
        self, dataset: Sized, num_replicas: int | None = None, rank: int | None = None
    ) -> None:
        initialised = dist.is_available() and dist.is_initialized()
        self.num_replicas = num_replicas or (dist.get_world_size() if initialised else 1)
        self.rank = rank if rank is not None else (dist.get_rank() if initialised else 0)
        if not 0 <= self.rank < self.num_replicas:
            raise ValueError(f"rank {self.rank} is outside 0..{self.num_replicas - 1}")
        self.dataset = dataset

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, len(self.dataset), self.num_replicas))

    def __len__(self) -> int:
        return len(range(self.rank, len(self.dataset), self.num_replicas))


class SkipSampler(Sampler[int]):
    """The indices of ``base`` without the first ``skip`` (resuming in the middle of an epoch)."""

    def __init__(self, base: Sampler[int], skip: int) -> None:
        self.base = base
        self.skip = skip

    def __iter__(self) -> Iterator[int]:
        return iter(list(self.base)[self.skip :])

    def __len__(self) -> int:
        return max(0, len(self.base) - self.skip)  # type: ignore[arg-type]
