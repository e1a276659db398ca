"""``torch.distributed`` from the ``torchrun`` environment (gloo on CPU, nccl on GPU)."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import nn

__all__ = [
    "DistInfo",
    "PeerFailureError",
    "RankProgress",
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
    fails (:class:`RankProgress` turns that failure into a message naming the rank). Reads ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` (and ``MASTER_ADDR`` / ``MASTER_PORT``)
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


class PeerFailureError(RuntimeError):
    """A collective failed because another rank went silent or died; the message names it."""


#: What gloo / NCCL / the store say when a peer is silent (timeout) or gone (connection lost).
_TIMEOUT = re.compile(r"timed? ?out|timeout|watchdog", re.IGNORECASE)
_BACKEND = re.compile(r"gloo|nccl|c10d|processgroup|tcpstore", re.IGNORECASE)
_GONE = re.compile(r"connection (closed|reset|refused)|broken pipe|peer", re.IGNORECASE)


class RankProgress:
    """Every rank's last completed step, kept in the job's key-value store.

    Each rank publishes ``(iteration, wall time)`` after its steps (at most every ``every_s``);
    when a collective times out or loses a peer, :meth:`watch` turns the backend's anonymous
    error into a :class:`PeerFailureError` naming the ranks that stopped making progress.
    A no-op in a single process.
    """

    def __init__(self, info: DistInfo, timeout_s: float | None = None, every_s: float = 0.2):
        self.info = info
        self.timeout_s = timeout_s or PROCESS_GROUP_TIMEOUT.total_seconds()
        self.every_s = every_s
        self.iteration = 0
        self._last_publish = -float("inf")
        self.store = _default_store() if info.distributed else None

    def publish(self, iteration: int, force: bool = False) -> None:
        """Record that this rank finished ``iteration`` (throttled to ``every_s``)."""
        self.iteration = iteration
        now = time.monotonic()
        if self.store is None or (not force and now - self._last_publish < self.every_s):
            return
        self._last_publish = now
        with suppress(RuntimeError):  # the store is gone: the next collective will say so
            self.store.set(_key(self.info.rank), f"{iteration} {time.time():.3f}")

    def peers(self) -> dict[int, tuple[int, float] | None]:
        """Each other rank's last published ``(iteration, seconds ago)``; None if unknown."""
        out: dict[int, tuple[int, float] | None] = {}
        for rank in range(self.info.world_size):
            if rank == self.info.rank or self.store is None:
                continue
            out[rank] = None
            if self.store.check([_key(rank)]):
                step, stamp = self.store.get(_key(rank)).decode().split()
                out[rank] = (int(step), max(0.0, time.time() - float(stamp)))
        return out

    def explain(self, exc: BaseException) -> PeerFailureError | None:
        """A :class:`PeerFailureError` for a backend error caused by a peer, else None."""
        text = str(exc)
        timed_out, gone = bool(_TIMEOUT.search(text)), bool(_GONE.search(text))
        from_backend = isinstance(exc, dist.DistError) or bool(_BACKEND.search(text))
        if self.store is None or not from_backend or not (timed_out or gone):
            return None
        me = f"rank {self.info.rank} (at iteration {self.iteration})"
        what = (
            f"a collective on {me} waited train.dist_timeout_s={self.timeout_s:g} s for its peers"
            if timed_out
            else f"{me} lost the connection to a peer"
        )
        try:
            peers = self.peers()
        except (RuntimeError, ValueError):  # the store died with its host
            return PeerFailureError(
                f"{what}, and the job's store is unreachable: the process hosting it (rank 0, "
                "or the torchrun agent) has probably died. Check its log; then resume with "
                "ffseg train --resume RUN."
            )
        behind = {r: p for r, p in peers.items() if p is None or p[0] < self.iteration}
        silent = behind or {r: p for r, p in peers.items() if p and p[1] > self.every_s * 5}
        if not silent:
            silent = peers
        named = "; ".join(_describe_peer(r, p) for r, p in sorted(silent.items()))
        cause = "went silent" if timed_out else "died or dropped its connection"
        return PeerFailureError(
            f"{what}: {named} {cause}. Check that rank's log (a crash, a frozen data loader, "
            "a stuck file system, a dead machine); if it is only slow, raise "
            "train.dist_timeout_s. Then resume with ffseg train --resume RUN."
        )

    @contextmanager
    def watch(self) -> Iterator[RankProgress]:
        """Re-raise a peer-caused backend error as a :class:`PeerFailureError` naming it."""
        try:
            yield self
        except RuntimeError as exc:
            if isinstance(exc, PeerFailureError):
                raise
            explained = self.explain(exc)
            if explained is None:
                raise
            raise explained from exc


def _key(rank: int) -> str:
    return f"ffseg/progress/{rank}"


def _describe_peer(rank: int, progress: tuple[int, float] | None) -> str:
    if progress is None:
        return f"rank {rank} (no completed step recorded)"
    step, ago = progress
    return f"rank {rank} (last recorded step: iteration {step}, {ago:.0f} s ago)"


def _default_store() -> dist.Store | None:
    """The process group's key-value store (None when it cannot be reached)."""
    try:
        return dist.distributed_c10d._get_default_store()
    except (AttributeError, RuntimeError, ValueError):
        return None
