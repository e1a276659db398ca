"""Dynamic batching: requests that arrive close together run as one batch.

:class:`DynamicBatcher` holds a bounded queue. A request waits in it until the running batch
ends; the next batch takes up to ``max_batch`` waiting requests. While other requests are still
being read or decoded (:meth:`DynamicBatcher.incoming`), it waits for them, at most
``max_wait_ms`` after the first; with none on the way it starts at once, so a lone request
never waits. Items are grouped by a key (the image size: only images
of one size stack into a batch). A full queue refuses at once (:class:`QueueFullError`, an
HTTP 503) instead of letting latency grow without bound. The batch function runs in a worker
thread, so the event loop keeps accepting and refusing requests meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Generic, TypeVar

__all__ = ["DynamicBatcher", "QueueFullError"]

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class QueueFullError(RuntimeError):
    """The batcher's queue is full: the caller should retry later."""


class DynamicBatcher(Generic[T, R]):
    """Run ``fn(items) -> results`` over batches of submitted items.

    Args:
        fn: called in a worker thread with a list of items sharing one ``key``; returns one
            result per item, in order. An exception fails every request of that batch only.
        max_batch: most items per call (1: no batching).
        max_wait_ms: how long the first item of a batch may wait for announced items
            (:meth:`incoming`) to join.
        queue_size: most items waiting; :meth:`submit` raises :class:`QueueFullError` beyond.
        key: items with equal keys may share a batch (default: all).
    """

    def __init__(
        self,
        fn: Callable[[list[T]], Sequence[R]],
        *,
        max_batch: int = 8,
        max_wait_ms: float = 5.0,
        queue_size: int = 64,
        key: Callable[[T], Hashable] = lambda item: None,
    ) -> None:
        if max_batch < 1 or queue_size < 1 or max_wait_ms < 0:
            raise ValueError(
                f"need max_batch >= 1, queue_size >= 1, max_wait_ms >= 0; got {max_batch}, "
                f"{queue_size}, {max_wait_ms}"
            )
        self.fn, self.key = fn, key
        self.max_batch, self.max_wait = max_batch, max_wait_ms / 1000.0
        self.queue_size = queue_size
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._incoming = 0  # requests being read or decoded that will submit soon
        self._arrived: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # calls of fn so far
        self.items = 0  # items those calls ran

    @property
    def waiting(self) -> int:
        """Items in the queue (not counting the running batch)."""
        return len(self._pending)

    @contextlib.contextmanager
    def incoming(self) -> Iterator[None]:
        """Mark a request that will :meth:`submit` once read and decoded: a batch waits for
        it (up to ``max_wait_ms``); with none on the way a batch starts at once."""
        self._incoming += 1
        try:
            yield
        finally:
            self._incoming -= 1
            if self._arrived is not None:
                self._arrived.set()

    def _start(self) -> asyncio.Event:
        if self._task is None or self._task.done():
            self._arrived = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._loop())
        assert self._arrived is not None
        return self._arrived

    async def submit(self, item: T) -> R:
        """The result for ``item`` once its batch has run; :class:`QueueFullError` when full."""
        arrived = self._start()
        if len(self._pending) >= self.queue_size:
            raise QueueFullError(f"the queue is full ({self.queue_size} requests waiting)")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        arrived.set()
        return await future

    def _take(self) -> list[tuple[T, asyncio.Future[R]]]:
        """Up to ``max_batch`` live items sharing the first one's key, in arrival order."""
        self._pending = [(i, f) for i, f in self._pending if not f.done()]  # drop timed-out
        if not self._pending:
            return []
        first_key = self.key(self._pending[0][0])
        batch, rest = [], []
        for entry in self._pending:
            if len(batch) < self.max_batch and self.key(entry[0]) == first_key:
                batch.append(entry)
            else:
                rest.append(entry)
        self._pending = rest
        return batch

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._arrived is not None
        while True:
            if not self._pending:
                self._arrived.clear()
                await self._arrived.wait()
            deadline = loop.time() + self.max_wait
            while (
                len(self._pending) < self.max_batch
                and self._incoming > 0
                and (left := deadline - loop.time()) > 0
            ):
                self._arrived.clear()
                try:
                    await asyncio.wait_for(self._arrived.wait(), left)
                except asyncio.TimeoutError:
                    break
            batch = self._take()
            if batch:
                await self._run(batch)

    async def _run(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        self.batches += 1
        self.items += len(batch)
        try:
            results = await asyncio.to_thread(self.fn, [item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"batch function gave {len(results)} results for {len(batch)}")
        except Exception as exc:  # one bad batch fails its own requests, never the server
            log.debug("batch of %d failed", len(batch), exc_info=True)
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results):
            if not future.done():
                future.set_result(result)

    async def close(self) -> None:
        """Stop the batching task; waiting requests fail with ``QueueFullError``."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        for _, future in self._pending:
            if not future.done():
                future.set_exception(QueueFullError("the server is shutting down"))
        self._pending = []

    def __repr__(self) -> str:
        return (
            f"DynamicBatcher(max_batch={self.max_batch}, max_wait_ms={self.max_wait * 1000:g}, "
            f"queue_size={self.queue_size})"
        )
