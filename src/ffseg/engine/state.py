"""Where a run is (:class:`TrainState`) and its seeding."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = ["TrainState", "deterministic_algorithms", "seed_everything"]


@dataclass
class TrainState:
    """Finished epochs, global iteration, best score, evaluation history, latest step scalars,
    and the wall-clock seconds used (``elapsed_s``, all of it; ``train_s``, training steps)."""

    epoch: int = 0
    iteration: int = 0
    best_score: float = -1.0
    history: list[dict[str, float]] = field(default_factory=list)
    last: dict[str, float] = field(default_factory=dict)  # scalars of the latest iteration
    elapsed_s: float = 0.0  # what a budget (train.max_minutes) has used, kept on resume
    train_s: float = 0.0


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
