"""The line of senders waiting for room in a full BLOCK mailbox.

A waiter holds its message; whoever makes room admits waiters in order (moves
their messages into the queue) and then releases them (see `Mailbox`). A plain
thread waits on a `ThreadWaiter`; a coroutine on an `AsyncWaiter`, resolved on its
own event loop from whichever thread made room.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import Protocol

from ._safe_wait import acquire

__all__ = ["AsyncWaiter", "MutedSender", "ThreadWaiter", "Waiter", "WaiterQueue", "unmute_all"]


class Waiter(Protocol):
    """A sender's place in a mailbox's line of senders waiting for room.

    The admitter moves ``message`` into the queue, sets ``admitted`` and calls
    `release`; a stop calls `release` without admitting. Each waiter is released
    at most once, by whoever took it out of the line under `WaiterQueue.lock`.
    """

    message: object
    admitted: bool

    def release(self) -> None: ...


class ThreadWaiter:
    """A plain thread's place in line: it parks on a lock created held."""

    __slots__ = ("_lock", "admitted", "message")

    def __init__(self, message: object) -> None:
        self.message = message
        self.admitted = False
        self._lock = threading.Lock()
        self._lock.acquire()

    def release(self) -> None:
        self._lock.release()

    def wait(self, timeout: float | None) -> None:
        """Park until released or ``timeout`` seconds (None: no limit) have passed."""
        acquire(self._lock, timeout)  # (on the main thread, in slices: see _safe_wait)


class AsyncWaiter:
    """A coroutine's place in a mailbox's line of senders waiting for room.

    The mailbox admits ``message`` (or, at a stop, refuses it) and then calls
    `release` once, from whichever thread made room; that resolves `future` on
    the sender's own loop.
    """

    __slots__ = ("admitted", "future", "loop", "message")

    def __init__(self, loop: asyncio.AbstractEventLoop, message: object) -> None:
        self.loop = loop
        self.message = message
        self.admitted = False
        self.future: asyncio.Future[None] = loop.create_future()

    def release(self) -> None:
        def wake() -> None:
            if not self.future.done():  # (cancelled when the sender's wait timed out)
                self.future.set_result(None)

        try:
            self.loop.call_soon_threadsafe(wake)
        except RuntimeError:
            pass  # the sender's loop has closed


class WaiterQueue(deque[Waiter]):
    """The line of senders waiting for room in one mailbox, oldest first.

    Joining is a bare ``append`` (atomic on a deque). Taking waiters out
    (admitting, leaving, releasing at a stop) happens only under `lock`, so one is
    admitted or taken out exactly once and admissions keep the line's order.
    """

    __slots__ = ("lock",)

    def __init__(self) -> None:
        super().__init__()
        # Guards removing waiters from the line and setting their ``admitted``
        # flag. Held for one pass of admissions (at most one per free place) or
        # one removal; never while calling out (waiters are released after it).
        self.lock = threading.Lock()

    def release_all(self) -> None:
        """After a stop: every waiter wakes, finds itself not admitted, and raises."""
        released: list[Waiter] = []
        with self.lock:
            while self:
                released.append(self.popleft())
        for waiter in released:
            waiter.release()


class MutedSender(Protocol):
    """An actor muted on a mailbox (a cell): the mailbox's consumer resumes it."""

    def _unmute(self) -> None: ...


def unmute_all(muted: deque[MutedSender]) -> None:
    """Resume every actor muted on a mailbox, oldest first (each exactly once)."""
    while True:
        try:
            sender = muted.popleft()
        except IndexError:
            return
        sender._unmute()
