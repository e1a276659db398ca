"""Measuring: wall-clock timing, and the process-wide torch settings it needs (changed only
inside a ``with`` block and restored afterwards)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

__all__ = ["flushed_denormals", "time_fn", "torch_threads"]


def time_fn(fn: Callable[[], Any], runs: int = 50, warmup: int = 5) -> list[float]:
    """Wall-clock milliseconds of ``runs`` calls of ``fn`` after ``warmup`` calls."""
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - start) * 1000.0)
    return times


@contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """Run the block with ``threads`` intra-op threads (``None``: unchanged); yields the count.

    The previous count is restored on exit.
    """
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)


@contextmanager
def flushed_denormals() -> Iterator[None]:
    """Flush denormal floats to zero inside the block (torch's default, off, afterwards).

    Random weights can drive activations into denormals, which would time the FPU's slow path
    instead of the network.
    """
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)
