"""The asyncio bridge measured against raw janus in the same run."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import janus

from .. import Actor, ActorSystem, AsyncActor

__all__ = ["async_to_sync", "janus_async_to_sync", "janus_sync_to_async", "sync_to_async"]


class _AsyncCounter(AsyncActor[Any]):
    async def on_start(self) -> None:
        self.count = 0

    async def receive(self, message: Any) -> Any:
        self.count += 1
        return self.count


class _Counter(Actor[Any]):
    def on_start(self) -> None:
        self.count = 0

    def receive(self, message: Any) -> Any:
        self.count += 1
        return self.count


def sync_to_async(workers: int | None, n: int) -> float:
    """A plain thread tells ``n`` messages to an async actor; msg/s."""
    with ActorSystem("bench-bridge", workers=workers) as system:
        ref = system.spawn(_AsyncCounter, capacity=None)
        ref.ask(None, timeout=30)
        start = time.perf_counter()
        for i in range(n - 1):
            ref.tell(i)
        assert ref.ask(None, timeout=300) == n + 1  # the warm-up ask, n - 1 tells, this ask
        return n / (time.perf_counter() - start)


def async_to_sync(workers: int | None, n: int) -> float:
    """A coroutine awaits ``tell_async`` ``n`` times into a sync actor; msg/s."""

    async def main(system: ActorSystem) -> float:
        ref = system.spawn(_Counter)
        await ref.ask_async(None, timeout=30)
        start = time.perf_counter()
        for i in range(n - 1):
            await ref.tell_async(i)
        assert await ref.ask_async(None, timeout=300) == n + 1
        return n / (time.perf_counter() - start)

    with ActorSystem("bench-bridge", workers=workers) as system:
        return asyncio.run(main(system))


def janus_sync_to_async(n: int) -> float:
    """Raw janus: a thread puts ``n`` items, a coroutine gets them; items/s."""

    def produce(queue: janus.SyncQueue[int]) -> None:
        for i in range(n):
            queue.put(i)

    async def consume(queue: janus.AsyncQueue[int]) -> None:
        for _ in range(n):
            await queue.get()

    return n / asyncio.run(_janus_seconds(produce, consume))


def janus_async_to_sync(n: int) -> float:
    """Raw janus: a coroutine puts ``n`` items, a thread gets them; items/s."""

    def consume(queue: janus.SyncQueue[int]) -> None:
        for _ in range(n):
            queue.get()

    async def produce(queue: janus.AsyncQueue[int]) -> None:
        for i in range(n):
            await queue.put(i)

    return n / asyncio.run(_janus_seconds(consume, produce))


async def _janus_seconds(
    on_thread: Callable[[janus.SyncQueue[int]], None],
    on_loop: Callable[[janus.AsyncQueue[int]], Awaitable[None]],
) -> float:
    """Seconds until both ends of one janus queue are done: a thread's and the loop's."""
    queue: janus.Queue[int] = janus.Queue()
    thread = threading.Thread(target=on_thread, args=(queue.sync_q,))
    start = time.perf_counter()
    thread.start()
    await on_loop(queue.async_q)
    await asyncio.to_thread(thread.join, 300)  # the thread's end is done too
    elapsed = time.perf_counter() - start
    if thread.is_alive():
        raise RuntimeError("the janus benchmark's thread did not finish within 300 s")
    await queue.aclose()
    return elapsed
