"""DynamicBatcher: batches fill up to max_batch, group by key, refuse when full, survive errors."""

from __future__ import annotations

import asyncio
import threading

import pytest

from ffseg.serve.batching import DynamicBatcher, QueueFullError


def test_concurrent_items_share_batches_and_keep_their_results() -> None:
    calls: list[list[int]] = []

    def double(items: list[int]) -> list[int]:
        calls.append(list(items))
        return [2 * i for i in items]

    async def main() -> list[int]:
        batcher = DynamicBatcher(double, max_batch=4, max_wait_ms=50, queue_size=16)
        try:
            return await asyncio.gather(*(batcher.submit(i) for i in range(10)))
        finally:
            await batcher.close()

    assert asyncio.run(main()) == [2 * i for i in range(10)]
    assert [len(c) for c in calls] == [4, 4, 2]


def test_items_of_different_keys_never_share_a_batch() -> None:
    calls: list[list[str]] = []

    def run(items: list[str]) -> list[str]:
        calls.append(list(items))
        return [s.upper() for s in items]

    async def main() -> list[str]:
        batcher = DynamicBatcher(run, max_batch=8, max_wait_ms=20, queue_size=16, key=len)
        try:
            return await asyncio.gather(*(batcher.submit(s) for s in ["a", "bb", "c", "dd", "e"]))
        finally:
            await batcher.close()

    assert asyncio.run(main()) == ["A", "BB", "C", "DD", "E"]
    assert sorted(calls) == [["a", "c", "e"], ["bb", "dd"]]


def test_full_queue_refuses_at_once_and_a_failed_batch_fails_only_its_items() -> None:
    release = threading.Event()

    def slow(items: list[int]) -> list[int]:
        if -1 in items:
            raise ValueError("bad item")
        release.wait(5)
        return items

    async def main() -> None:
        batcher = DynamicBatcher(slow, max_batch=1, max_wait_ms=0, queue_size=2)
        running = asyncio.ensure_future(batcher.submit(0))
        await asyncio.sleep(0.05)  # item 0 is now in the worker thread
        queued = [asyncio.ensure_future(batcher.submit(i)) for i in (1, -1)]
        await asyncio.sleep(0.01)
        with pytest.raises(QueueFullError, match="queue is full"):
            await batcher.submit(3)
        release.set()
        assert await running == 0
        assert await queued[0] == 1
        with pytest.raises(ValueError, match="bad item"):
            await queued[1]
        assert await batcher.submit(4) == 4  # still serving after a failed batch
        await batcher.close()

    asyncio.run(main())


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        DynamicBatcher(lambda items: items, max_batch=0)


def test_a_batch_waits_for_announced_items_only() -> None:
    calls: list[list[int]] = []

    def run(items: list[int]) -> list[int]:
        calls.append(list(items))
        return items

    async def main() -> float:
        batcher = DynamicBatcher(run, max_batch=4, max_wait_ms=2000, queue_size=8)
        loop = asyncio.get_running_loop()
        start = loop.time()
        assert await batcher.submit(0) == 0  # nothing announced: runs at once
        alone = loop.time() - start

        async def late(item: int) -> int:
            with batcher.incoming():  # still being read: the batch waits for it
                await asyncio.sleep(0.1)
            return await batcher.submit(item)

        assert await asyncio.gather(batcher.submit(1), late(2)) == [1, 2]
        await batcher.close()
        return alone

    assert asyncio.run(main()) < 1.0
    assert calls == [[0], [1, 2]]
