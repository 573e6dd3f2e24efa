"""The asyncio bridge measured against raw janus in the same run."""

from __future__ import annotations

import asyncio
import threading
import time
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

    async def main() -> float:
        queue: janus.Queue[int] = janus.Queue()
        start = time.perf_counter()

        def produce() -> None:
            for i in range(n):
                queue.sync_q.put(i)

        thread = threading.Thread(target=produce)
        thread.start()
        for _ in range(n):
            await queue.async_q.get()
        elapsed = time.perf_counter() - start
        thread.join(timeout=30)
        await queue.aclose()
        return n / elapsed

    return asyncio.run(main())


def janus_async_to_sync(n: int) -> float:
    """Raw janus: a coroutine puts ``n`` items, a thread gets them; items/s."""

    async def main() -> float:
        queue: janus.Queue[int] = janus.Queue()
        done = threading.Event()

        def consume() -> None:
            for _ in range(n):
                queue.sync_q.get()
            done.set()

        thread = threading.Thread(target=consume)
        start = time.perf_counter()
        thread.start()
        for i in range(n):
            await queue.async_q.put(i)
        await asyncio.to_thread(done.wait, 300)
        elapsed = time.perf_counter() - start
        thread.join(timeout=30)
        await queue.aclose()
        return n / elapsed

    return asyncio.run(main())
