"""Dedicated threads for pinned actors (actors that block)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from queue import SimpleQueue
from typing import Protocol

from ._dispatcher import Runnable
from ._errors import ActorFailedError
from ._local import current
from ._no_interrupt import dispatcher
from ._report import report_uncaught
from ._threads import start_thread

__all__ = ["PinnedThread"]


class PinnedCell(Runnable, Protocol):
    """What a pinned thread runs: a cell that can say whether it has stopped."""

    @property
    def is_alive(self) -> bool: ...


class PinnedThread:
    """Runs the turns of one pinned actor on a thread of its own.

    Blocking inside a pinned actor (I/O, sleeps, long C calls) holds only this
    thread, never a shared worker. A send from a pinned actor to a full BLOCK
    mailbox waits here like a plain thread, which is safe for the same reason.

    Thread safety: `submit` and `close` may be called from any thread. The
    queue is a C ``SimpleQueue``: one put per scheduling, not per message.
    """

    __slots__ = ("_budget", "_on_sample", "_queue", "thread")

    def __init__(
        self, name: str, budget: int, on_sample: Callable[[Runnable, int, int], None] | None = None
    ) -> None:
        self._budget = budget
        # Metrics: told of the turns it times, as the pool's workers are.
        self._on_sample = on_sample
        self._queue: SimpleQueue[PinnedCell | None] = SimpleQueue()
        # daemon: a last resort behind the bounded shutdown, see _exit.py
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        start_thread(self.thread)

    @dispatcher
    def submit(self, cell: PinnedCell) -> None:
        self._queue.put(cell)

    def close(self) -> None:
        """Let the thread exit once it has finished the turn in hand."""
        self._queue.put(None)

    def _run(self) -> None:
        current.on_worker = False
        slot = current.turn  # (see Runnable)
        closing = False
        cell: PinnedCell | None = None
        turns = 0
        while True:
            item = self._queue.get()
            if item is None:
                # Asked to exit: at once if the actor has stopped, else once it
                # has (its stop is already queued; a straggler keeps the thread
                # until then, and the shutdown reports it).
                closing = True
                if cell is None or not cell.is_alive:
                    return
                continue
            cell = item
            slot.cell = cell
            try:
                # Every turn but the first (which runs on_start) is timed: next
                # to this thread's hand-off, two clock reads are nothing.
                if not turns or self._on_sample is None:
                    cell._run_turn(self._budget)
                else:
                    start = time.perf_counter_ns()
                    processed = cell._run_turn(self._budget)
                    if processed:
                        self._on_sample(cell, time.perf_counter_ns() - start, processed)
                turns += 1
            except BaseException as exc:  # noqa: BLE001 - this thread must outlive it
                # The turn failed inside the runtime after its own guard: fail
                # the actor in its next turn and keep serving it.
                error = ActorFailedError(
                    f"the pinned thread of {cell._path} caught {exc!r}", path=cell._path
                )
                error.__cause__ = exc
                report_uncaught(error)
                cell._worker_died(error)
            finally:
                slot.cell = None
            if closing and not cell.is_alive:
                return
