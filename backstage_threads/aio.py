"""asyncio helpers: async actors, streams out of actors, and pumps into them.

* `AsyncActor`: an actor whose hooks and ``receive`` are coroutines, run on the
  system's event-loop thread (see ``ActorRef.ask_async`` / ``tell_async`` for
  talking to any actor from asyncio code).
* `open_stream`: an ``async for`` source that actors feed by sending to its ref;
  a slow consumer pushes back on them through the ref's bounded mailbox.
* `pump`: feed an async iterable into an actor; a full mailbox pauses the pump.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any, Generic, TypeVar

import janus

from ._actor import Actor, AsyncActor
from ._exports import publish
from ._ref import ActorRef
from ._system import ActorSystem
from ._validate import check_capacity

__all__ = ["END", "AsyncActor", "Stream", "open_stream", "pump"]

T = TypeVar("T")


class _End:
    """Send `END` to a stream's ref to finish the consumer's ``async for``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "END"


END = _End()

# How long the feeder waits on a full stream before re-checking that the
# consumer is still there; bounds how long a closed stream can hold its thread.
_FEED_POLL = 0.1


class _Feeder(Actor[Any]):
    """Moves messages into the stream's janus queue on a pinned thread.

    Blocking here is fine (the thread is its own): a full queue stops this
    actor, its bounded mailbox fills, and senders are muted or wait.
    """

    def __init__(self, queue: janus.Queue[Any]) -> None:
        self._queue = queue

    def receive(self, message: Any) -> None:
        sync_q = self._queue.sync_q
        while not self._queue.closed:
            try:
                sync_q.put(message, timeout=_FEED_POLL)
                return
            except janus.SyncQueueFull:
                continue
            except janus.SyncQueueShutDown:
                break
        raise RuntimeError(f"stream closed; {message!r} not delivered")


class Stream(Generic[T]):
    """An ``async for`` source fed by actors through `ref`.

    Thread safety: send to `ref` from anywhere; iterate on the loop that
    opened the stream.
    """

    def __init__(self, ref: ActorRef[Any], queue: janus.Queue[Any]) -> None:
        self.ref = ref
        self._queue = queue

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        if self._queue.closed:
            raise StopAsyncIteration
        item = await self._queue.async_q.get()
        if item is END:
            await self.aclose()
            raise StopAsyncIteration
        return item  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        """Stop the feeder and close the queue; unread items are dropped."""
        self.ref.stop()
        if not self._queue.closed:
            self._queue.shutdown(immediate=True)
            await self._queue.aclose()

    async def __aenter__(self) -> Stream[T]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


async def open_stream(
    system: ActorSystem, *, capacity: int = 64, name: str | None = None
) -> Stream[Any]:
    """Open a stream on the running loop; actors send items to ``stream.ref``.

    ``capacity`` bounds both the janus queue and the feeder's mailbox, so a
    consumer that falls behind slows the producers instead of growing memory.
    Send `END` to finish the ``async for``.
    """
    capacity = check_capacity(capacity) or 1
    queue: janus.Queue[Any] = janus.Queue(maxsize=capacity)
    ref = system.spawn(lambda: _Feeder(queue), name=name, capacity=capacity, pinned=True)
    await asyncio.sleep(0)
    return Stream(ref, queue)


async def pump(
    source: AsyncIterable[T], target: ActorRef[Any], *, timeout: float | None = None
) -> int:
    """Send every item of ``source`` to ``target``; return how many were sent.

    Under `Overflow.BLOCK` a full mailbox pauses the pump (nothing is dropped);
    ``timeout`` bounds each wait for room (`SendTimeoutError`).
    """
    sent = 0
    async for item in source:
        await target.tell_async(item, timeout=timeout)
        sent += 1
    return sent


publish(globals(), __all__, __name__)
