"""The asyncio bridge: async actors on a system-owned loop, and awaitable sends.

One event loop per system, on its own thread, started when the first
`AsyncActor` is spawned. One loop is enough: async actors are for waiting on
I/O, and one loop multiplexes thousands of sockets; CPU work belongs in
ordinary actors on the worker pool, which the loop must never stall.

How an async actor runs: its cell is scheduled on the worker pool like any
other. A turn takes the first waiting message and hands the loop a *batch*
coroutine through a janus queue, then ends *without* releasing the actor's
scheduled flag (the cell is parked, as a muted sender is). The batch owns the
actor as a turn would: it awaits ``receive`` for that message, settles its ask,
and goes on with the next waiting message, up to the scheduler's budget, until
the mailbox is empty, a system message (a stop, say) arrives or a receive
fails. Then the loop thread records the outcome and resubmits the cell; the next
turn reports a failure to the supervisor, handles system messages and starts
the next batch. So a slow coroutine holds no worker, messages stay strictly one
at a time, supervision, death watch and the status tree work unchanged, and a
stream of messages costs two thread hand-offs per batch rather than per message
(about 5k messages/s became about 200k on 3.13t).
``on_start`` and ``on_stop`` coroutines are handed over the same way: the cell
stays parked (INITIALIZING or STOPPING in the status tree) and holds no worker
until the hook ends, and the next turn carries on with the start, the stop or
the restart. Both are bounded by `HOOK_TIMEOUT`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import janus

from ._errors import ActorSystemClosedError
from ._local import current
from ._safe_wait import Latch
from ._threads import join_thread, start_thread

__all__ = ["HOOK_TIMEOUT", "LoopBridge"]

#: How long a turn waits for an async ``on_start``/``on_stop`` coroutine. A
#: hook that takes longer fails with TimeoutError (reported to the supervisor).
HOOK_TIMEOUT = 30.0

Done = Callable[["asyncio.Task[Any]"], object]


class LoopBridge:
    """A system's event-loop thread and the janus queue that feeds it coroutines.

    Thread safety: `submit` and `shutdown` may be called from any
    thread other than the loop's own.
    """

    def __init__(self, name: str) -> None:
        # daemon: a last resort behind the bounded shutdown, see _exit.py
        self._thread = threading.Thread(target=self._run, name=f"{name}-asyncio", daemon=True)
        self._ready = Latch()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._queue: janus.Queue[tuple[Coroutine[Any, Any, Any], Done] | None] | None = None
        start_thread(self._thread)
        if not self._ready.wait(timeout=10.0):
            raise RuntimeError("the asyncio bridge's event loop did not start")

    def _run(self) -> None:
        current.on_worker = True  # sends from coroutines never block the loop
        current.on_loop = True
        loop = asyncio.new_event_loop()
        self.loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    async def _main(self) -> None:
        queue: janus.Queue[tuple[Coroutine[Any, Any, Any], Done] | None] = janus.Queue()
        self._queue = queue
        self._ready.set()
        tasks: set[asyncio.Task[Any]] = set()
        while True:
            item = await queue.async_q.get()
            if item is None:
                break
            coroutine, done = item
            task = asyncio.ensure_future(coroutine)
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            task.add_done_callback(done)
        # The actors have stopped by now; anything still running is abandoned.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        queue.close()
        await queue.wait_closed()

    def submit(self, coroutine: Coroutine[Any, Any, Any], done: Done) -> None:
        """Run ``coroutine`` as a task on the loop; ``done(task)`` runs after it."""
        queue = self._queue
        if queue is None or queue.closed:
            coroutine.close()
            raise ActorSystemClosedError("the asyncio bridge has shut down")
        queue.sync_q.put((coroutine, done))  # unbounded: never blocks a worker

    @staticmethod
    async def bounded(coroutine: Coroutine[Any, Any, Any]) -> object:
        """``coroutine``, failing with TimeoutError after `HOOK_TIMEOUT` seconds."""
        return await asyncio.wait_for(coroutine, HOOK_TIMEOUT)

    def shutdown(self, timeout: float | None) -> list[str]:
        """Stop the loop (cancelling leftover tasks) and join its thread."""
        queue = self._queue
        if queue is not None and not queue.closed:
            try:
                queue.sync_q.put(None)
            except Exception:  # noqa: BLE001 - already closing
                pass
        return [self._thread.name] if join_thread(self._thread, timeout) else []
