"""``torch.distributed`` from the ``torchrun`` environment (gloo on CPU, nccl on GPU)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import nn

__all__ = [
    "DistInfo",
    "all_ranks_true",
    "cleanup_distributed",
    "from_rank0",
    "init_distributed",
    "resolve_device",
    "sync_buffers",
    "world_size",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: How long ranks wait for each other before a collective fails (``train.dist_timeout_s``).
PROCESS_GROUP_TIMEOUT = timedelta(minutes=30)


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")  # noqa: RUF009 (immutable)

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def resolve_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """``auto`` -> ``cuda:<local_rank>`` if CUDA is available, else CPU."""
    if name == "auto":
        return (
            torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
        )
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(f"train.device={name!r} but CUDA is not available; use cpu or auto")
        if device.index is None:
            device = torch.device(f"cuda:{local_rank}")
    return device


def init_distributed(
    device: str = "auto", backend: str | None = None, timeout_s: float | None = None
) -> DistInfo:
    """Initialise the process group when launched by ``torchrun`` (``WORLD_SIZE`` > 1).

    ``timeout_s`` (default 30 minutes): how long a collective waits for a silent rank before it
    fails with an error naming the collective. Reads ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` (and ``MASTER_ADDR`` / ``MASTER_PORT``)
    from the environment. Without them this is a single process on ``device``.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank)
    if world <= 1:
        return DistInfo(0, 1, 0, dev)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group(
            backend=backend or ("nccl" if dev.type == "cuda" else "gloo"),
            init_method="env://",
            world_size=world,
            rank=rank,
            timeout=PROCESS_GROUP_TIMEOUT if timeout_s is None else timedelta(seconds=timeout_s),
        )
    log.debug("rank %d/%d on %s", rank, world, dev)
    return DistInfo(rank, world, local_rank, dev)


def cleanup_distributed() -> None:
    """Destroy the process group if one is active."""
    if _initialised():
        dist.destroy_process_group()


def world_size() -> int:
    """Processes in the job (1 when ``torch.distributed`` is not initialised)."""
    return dist.get_world_size() if _initialised() else 1


def _initialised() -> bool:
    return dist.is_available() and dist.is_initialized()


def all_ranks_true(flag: torch.Tensor) -> bool:
    """Whether the boolean ``flag`` (a tensor on this rank's device) holds on every rank."""
    ok = flag.float()
    if _initialised():
        dist.all_reduce(ok, op=dist.ReduceOp.MIN)
    return bool(ok.item() > 0)


def from_rank0(value: T) -> T:
    """Rank 0's ``value`` on every rank (any picklable object; identity in one process)."""
    if not _initialised():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


@torch.no_grad()
def sync_buffers(model: nn.Module) -> None:
    """Average floating-point buffers (BatchNorm running statistics) over ranks.

    Without SyncBN every rank keeps statistics of its own shard; averaging them before
    evaluation and checkpointing gives every rank the same, better-estimated model.
    """
    if not _initialised():
        return
    world = dist.get_world_size()
    for buf in model.buffers():
        if buf.is_floating_point():
            dist.all_reduce(buf)
            buf.div_(world)
