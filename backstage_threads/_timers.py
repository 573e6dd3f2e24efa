"""Timers: one heap and one thread per actor system, not a thread per timer.

The timer thread sleeps on a Condition until the earliest deadline (or until an
earlier timer is added), pops what is due and runs each callback outside the
lock. Callbacks are short runtime functions (a non-blocking send); the thread
counts as a worker for sends, so a full BLOCK mailbox accepts the message beyond
capacity instead of parking the thread that serves every timer.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable

from loguru import logger

from ._clock import Clock, MonotonicClock
from ._local import current
from ._threads import join_thread, start_thread

__all__ = ["TimerHandle", "TimerService"]


class TimerHandle:
    """A scheduled timer; `cancel` it to stop it firing.

    Thread safety: `cancel` may be called from any thread. A timer already
    running its callback when cancelled completes that one run.
    """

    __slots__ = ("_callback", "_cancelled", "_due", "_period", "_seq")

    def __init__(
        self, due: float, seq: int, period: float | None, callback: Callable[[], object]
    ) -> None:
        self._due = due
        self._seq = seq
        self._period = period
        self._callback = callback
        self._cancelled = False

    def cancel(self) -> None:
        """Stop the timer; idempotent."""
        self._cancelled = True

    @property
    def active(self) -> bool:
        """True while the timer may still fire."""
        return not self._cancelled

    def __lt__(self, other: TimerHandle) -> bool:
        return (self._due, self._seq) < (other._due, other._seq)


class TimerService:
    """Runs timer callbacks at their deadlines on one thread.

    The clock says who fires (see `Clock.attach`): with the real clock a thread
    of this service waits for each deadline; a clock that fires the timers
    itself (a manual clock in tests) calls `fire_due` as it moves, and no
    thread is started.

    Raises:
        TypeError: If ``clock`` is not a `Clock` (``now()`` and ``attach()``).
    """

    def __init__(self, name: str, clock: Clock | None = None) -> None:
        if clock is not None and not isinstance(clock, Clock):
            raise TypeError(f"clock must be a Clock (with now() and attach(timers)), got {clock!r}")
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        # Guards _heap and _stopping; callbacks never run while it is held.
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[TimerHandle] = []
        self._seq = itertools.count()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._name = f"{name}-timers"
        # False when the clock fires the timers itself: then no thread of ours waits.
        self._needs_thread = not self.clock.attach(self)

    def schedule(
        self, delay: float, callback: Callable[[], object], period: float | None = None
    ) -> TimerHandle:
        """Run ``callback`` after ``delay`` seconds, then every ``period`` if given."""
        handle = TimerHandle(self.clock.now() + delay, next(self._seq), period, callback)
        with self._cond:
            if self._stopping:
                handle._cancelled = True
                return handle
            heapq.heappush(self._heap, handle)
            if self._heap[0] is handle:
                self._cond.notify()
            start = self._needs_thread and self._thread is None
            if start:
                # daemon: a last resort behind the bounded shutdown, see _exit.py
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        if start:
            assert self._thread is not None
            try:
                start_thread(self._thread)
            except RuntimeError:
                # Python 3.12 starts no thread during the interpreter's exit (where
                # the exit hook of _exit.py may stop a system): the timer stays
                # queued, unfired; the shutdown that follows is bounded anyway.
                with self._cond:
                    self._thread = None
        return handle

    def fire_due(self) -> int:
        """Run every callback due by the clock's current time; return how many ran."""
        fired = 0
        while True:
            handle = self._pop_due()
            if handle is None:
                return fired
            fired += self._fire(handle)

    def _pop_due(self) -> TimerHandle | None:
        with self._cond:
            heap = self._heap
            while heap and heap[0]._cancelled:
                heapq.heappop(heap)
            if heap and heap[0]._due <= self.clock.now():
                return heapq.heappop(heap)
            return None

    def _fire(self, handle: TimerHandle) -> int:
        if handle._cancelled:
            return 0
        if handle._period is not None:
            handle._due += handle._period
            with self._cond:
                if not self._stopping:
                    heapq.heappush(self._heap, handle)
        else:
            handle._cancelled = True
        try:
            handle._callback()
        except Exception:  # noqa: BLE001 - one bad callback must not stop every timer
            logger.opt(exception=True).error("timer callback failed")
        return 1

    def next_due(self) -> float | None:
        """The earliest pending deadline, or None."""
        with self._cond:
            live = [h._due for h in self._heap if not h._cancelled]
        return min(live) if live else None

    def _run(self) -> None:
        current.on_worker = True
        while True:
            with self._cond:
                while True:
                    if self._stopping:
                        return
                    heap = self._heap
                    while heap and heap[0]._cancelled:
                        heapq.heappop(heap)
                    if heap:
                        wait = heap[0]._due - self.clock.now()
                        if wait <= 0:
                            handle = heapq.heappop(heap)
                            break
                        self._cond.wait(wait)
                    else:
                        self._cond.wait()
            self._fire(handle)

    def shutdown(self, timeout: float | None) -> list[str]:
        """Cancel every timer and join the thread; return its name if still alive."""
        with self._cond:
            self._stopping = True
            for handle in self._heap:
                handle._cancelled = True
            self._heap.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is None or thread.ident is None:
            # Never started, or a schedule() is about to start it: it will see
            # _stopping and exit at once (joining it now would raise).
            return []
        return [thread.name] if join_thread(thread, timeout) else []
