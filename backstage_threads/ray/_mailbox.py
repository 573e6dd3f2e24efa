"""The bounded mailbox inside a hosting Ray actor, shared by every sender.

Why our own queue: Ray queues calls per caller (``max_pending_calls`` is per
caller and only raises), so capacity and the four `Overflow` policies cannot be
had from Ray options. The hosting Ray actor is an *async* actor: its enqueue
methods are coroutines on its event loop, which returns to Ray at once after an
append, so any number of senders in any processes reach this one queue; one
plain thread of the host (the turn thread) takes letters out and runs
``receive``, one at a time.

Two threads touch the queue: the host's event-loop thread (offers, forced
deliveries, control messages) and its turn thread (takes). One
``threading.Condition`` guards everything below; nothing is awaited, no user code
and no Ray call runs while it is held.

Invariants:
    * ``len(_queue) <= capacity`` for letters offered by senders; only forced
      letters (runtime deliveries: `Terminated`, `Response`, timers) go beyond it.
    * A BLOCK sender that finds the queue full waits in ``_waiters`` (first come,
      first in). Whoever makes room (a take) admits waiters in order, under the
      lock, and only then wakes them; a waiter that gives up (timeout,
      cancellation) leaves under the same lock, so each waiting letter is either
      admitted exactly once or returned to its sender, never both.
    * After `close`, every offer answers STOPPED and the letters still queued and
      waiting are handed back to the caller of `close` (who makes them dead
      letters or fails their asks): none is dropped silently.
"""

from __future__ import annotations

import asyncio
import enum
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .._overflow import Overflow

__all__ = ["HostMailbox", "Letter", "Offer", "settle"]


class Offer(enum.Enum):
    """What became of an offered letter."""

    ADMITTED = "admitted"
    FULL = "full"  # FAIL policy (or tell_nowait): rejected to the sender
    DROPPED = "dropped"  # DROP_NEWEST: the new letter is a dead letter
    TIMEOUT = "timeout"  # BLOCK: no room within the sender's timeout
    STOPPED = "stopped"  # the mailbox is closed


@dataclass(slots=True)
class Letter:
    """One user message; ``reply`` is the asyncio future of an ask (else None)."""

    message: object
    reply: asyncio.Future[Any] | None = None


@dataclass(slots=True)
class _Waiter:
    letter: Letter
    future: asyncio.Future[Offer]
    admitted: bool = False


@dataclass(slots=True)
class Taken:
    """What the turn thread got: a control item or a letter, plus evictions."""

    control: object = None
    letter: Letter | None = None
    admitted: list[_Waiter] = field(default_factory=list)


def settle(reply: asyncio.Future[Any] | None, value: object, error: BaseException | None) -> None:
    """Complete an ask's future from any thread (a cancelled ask drops it)."""
    if reply is None:
        return

    def _set() -> None:
        if reply.done():  # the asker gave up (timeout, cancel): the reply is dropped
            return
        if error is not None:
            reply.set_exception(error)
        else:
            reply.set_result(value)

    try:
        reply.get_loop().call_soon_threadsafe(_set)
    except RuntimeError:
        pass  # the loop is closed: the host is going away and its caller sees the death


def _wake(waiter: _Waiter, outcome: Offer) -> None:
    def _set() -> None:
        if not waiter.future.done():
            waiter.future.set_result(outcome)

    try:
        waiter.future.get_loop().call_soon_threadsafe(_set)
    except RuntimeError:
        pass


class HostMailbox:
    """Letters and control items of one hosted actor.

    Thread safety: `offer`, `force` and `control` run on the host's event loop;
    `take` on its turn thread; `close`, `depth` anywhere.
    """

    def __init__(self, capacity: int | None, overflow: Overflow) -> None:
        self.capacity = capacity
        self.overflow = overflow
        # Guards _queue, _control, _waiters and _closed; the turn thread waits on it.
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[Letter] = deque()
        self._control: deque[object] = deque()
        self._waiters: deque[_Waiter] = deque()
        self._closed = False

    @property
    def depth(self) -> int:
        """Letters queued now (a snapshot)."""
        return len(self._queue)

    def _full(self) -> bool:
        return self.capacity is not None and len(self._queue) >= self.capacity

    async def offer(
        self,
        letter: Letter,
        timeout: float | None,
        *,
        nowait: bool = False,
        placed: Callable[[], None] | None = None,
    ) -> tuple[Offer, Letter | None]:
        """Enqueue under the overflow policy; return the outcome and any evicted letter.

        ``nowait`` makes a full BLOCK mailbox answer FULL (``tell_nowait``, as
        on threads: the other policies apply as usual). Under BLOCK, waits up
        to ``timeout`` (None: until room or close) without blocking the loop. ``placed`` is called
        once the letter has its place (queued, refused, or in the BLOCK line),
        before any waiting: the sender's next letter may then follow it.
        """
        try:
            ready = self._place(letter, nowait)
        finally:
            if placed is not None:
                placed()
        if not isinstance(ready, _Waiter):
            return ready
        waiter = ready
        try:
            outcome = await asyncio.wait_for(asyncio.shield(waiter.future), timeout)
        except TimeoutError:
            outcome = Offer.TIMEOUT
        except asyncio.CancelledError:
            self._leave(waiter)
            raise
        if outcome is Offer.TIMEOUT and not self._leave(waiter):
            return Offer.ADMITTED, None  # admitted at the deadline: it counts as sent
        return outcome, None

    def _place(self, letter: Letter, nowait: bool) -> tuple[Offer, Letter | None] | _Waiter:
        policy = self.overflow
        with self._cond:
            if self._closed:
                return Offer.STOPPED, None
            if not self._full() and not self._waiters:
                self._queue.append(letter)
                self._cond.notify()
                return Offer.ADMITTED, None
            if policy is Overflow.FAIL or (nowait and policy is Overflow.BLOCK):
                return Offer.FULL, None
            if policy is Overflow.DROP_NEWEST:
                return Offer.DROPPED, None
            if policy is Overflow.DROP_OLDEST:
                evicted = self._queue.popleft() if self._queue else None
                self._queue.append(letter)
                self._cond.notify()
                return Offer.ADMITTED, evicted
            waiter = _Waiter(letter, asyncio.get_running_loop().create_future())
            self._waiters.append(waiter)
            return waiter

    def _leave(self, waiter: _Waiter) -> bool:
        """Withdraw a waiter; False when it was admitted first (so it stays sent)."""
        with self._cond:
            if waiter.admitted:
                return False
            try:
                self._waiters.remove(waiter)
            except ValueError:
                pass  # close() took it
            return True

    def force(self, letter: Letter) -> bool:
        """Enqueue beyond capacity (runtime deliveries); False if closed."""
        with self._cond:
            if self._closed:
                return False
            self._queue.append(letter)
            self._cond.notify()
            return True

    def control(self, item: object) -> None:
        """Queue a control item; control items go before letters. Works when closed."""
        with self._cond:
            self._control.append(item)
            self._cond.notify()

    def take(self, letters: bool, timeout: float | None) -> Taken | None:
        """Wait up to ``timeout`` for a control item (or, if ``letters``, a letter).

        Returns None on timeout. Taking a letter admits BLOCK waiters into the
        room it made, in order.
        """
        with self._cond:
            if not self._control and not (letters and self._queue):
                self._cond.wait(timeout)
            if self._control:
                return Taken(control=self._control.popleft())
            if not (letters and self._queue):
                return None
            taken = Taken(letter=self._queue.popleft())
            while self._waiters and not self._full():
                waiter = self._waiters.popleft()
                waiter.admitted = True
                self._queue.append(waiter.letter)
                taken.admitted.append(waiter)
        for waiter in taken.admitted:
            _wake(waiter, Offer.ADMITTED)
        return taken

    def close(self) -> list[Letter]:
        """Refuse every later offer; return what was queued and waiting, in order."""
        with self._cond:
            self._closed = True
            left = list(self._queue)
            self._queue.clear()
            waiting = list(self._waiters)
            self._waiters.clear()
        for waiter in waiting:
            _wake(waiter, Offer.STOPPED)
        return left

    def drain(self) -> list[Letter]:
        """Take every queued letter out (the mailbox stays open)."""
        with self._cond:
            left = list(self._queue)
            self._queue.clear()
            return left
