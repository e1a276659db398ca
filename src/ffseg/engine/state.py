"""Where a run is (:class:`TrainState`), its time limit (:class:`Deadline`) and its seeding."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from ffseg.engine.distributed import from_rank0

__all__ = ["Deadline", "TrainState", "deterministic_algorithms", "seed_everything"]


@dataclass
class TrainState:
    """Finished epochs, global iteration, best score, evaluation history, latest step scalars."""

    epoch: int = 0
    iteration: int = 0
    best_score: float = -1.0
    history: list[dict[str, float]] = field(default_factory=list)
    last: dict[str, float] = field(default_factory=dict)  # scalars of the latest iteration


class Deadline:
    """``train.max_minutes`` counted from ``start`` (a ``time.perf_counter()`` value).

    Rank 0's clock decides for every rank, so all processes stop after the same iteration.
    """

    def __init__(self, minutes: float | None, start: float) -> None:
        self.seconds = None if minutes is None else minutes * 60.0
        self.start = start
        self.reached = False

    def expired(self) -> bool:
        """Whether the time is up (a collective call under ``torch.distributed``)."""
        if self.seconds is None:
            return False
        self.reached = bool(from_rank0(time.perf_counter() - self.start > self.seconds))
        return self.reached


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextmanager
def deterministic_algorithms(enabled: bool) -> Iterator[None]:
    """Deterministic kernels (and no cuDNN benchmark) inside the block; restored afterwards."""
    if not enabled:
        yield
        return
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.benchmark,
    )
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        torch.backends.cudnn.benchmark = before[2]
