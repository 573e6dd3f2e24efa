"""The bounded mailbox inside a hosting Ray actor, shared by every sender.

Why our own queue: Ray queues calls per caller (``max_pending_calls`` is per
caller and only raises), so capacity and the four `Overflow` policies cannot be
had from Ray options. The hosting Ray actor is a *threaded* actor: each of its
enqueue calls runs on one of the host's Ray threads and returns as soon as the
letter has its place (a BLOCK sender's call waits, on its thread, for room), so
senders in any processes reach this one queue; one plain thread of the host
(the turn thread) takes letters out and runs ``receive``, one at a time (an
ask to an idle actor may run its turn on its own thread instead, `claim`).

Threads touching the queue: the host's Ray threads (offers, control items,
claims), Ray's I/O thread and timer threads (forced deliveries, control items)
and the turn thread (takes). One ``threading.Condition`` guards everything below; no
user code and no Ray call runs while it is held. A BLOCK waiter waits on an
`Event` of its own, not on that condition, so that a take wakes exactly the
waiters it admitted.

Invariants:
    * ``len(_queue) <= capacity`` for letters offered by senders; only forced
      letters (runtime deliveries: `Terminated`, `Response`, timers) go beyond it.
    * A BLOCK sender that finds the queue full waits in ``_waiters`` (first come,
      first in). Whoever makes room (a take) admits waiters in order, under the
      lock, and only then wakes them; a waiter that gives up (timeout) leaves
      under the same lock, so each waiting letter is either admitted exactly
      once or returned to its sender, never both.
    * After `close`, every offer answers STOPPED and the letters still queued and
      waiting are handed back to the caller of `close` (who makes them dead
      letters or fails their asks): none is dropped silently.
"""

from __future__ import annotations

import enum
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
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
    """One user message; ``reply`` is the future of an ask (else None).

    The asker's call waits on ``reply`` and cancels it when it gives up, so a
    reply that comes later is dropped (`settle`).
    """

    message: object
    reply: Future[Any] | None = None


@dataclass(slots=True)
class _Waiter:
    letter: Letter
    woken: threading.Event = field(default_factory=threading.Event)
    outcome: Offer = Offer.TIMEOUT  # set under the mailbox lock before ``woken``
    settled: bool = False  # admitted, refused at close, or gone: under the mailbox lock


@dataclass(slots=True)
class Taken:
    """What the turn thread got: a control item or a letter, plus admitted waiters."""

    control: object = None
    letter: Letter | None = None
    admitted: list[_Waiter] = field(default_factory=list)


def settle(reply: Future[Any] | None, value: object, error: BaseException | None) -> None:
    """Complete an ask's future from any thread (an abandoned ask drops it)."""
    if reply is None:
        return
    try:
        if error is not None:
            reply.set_exception(error)
        else:
            reply.set_result(value)
    except InvalidStateError:
        pass  # the asker gave up (timeout): the reply is dropped, never delivered


class HostMailbox:
    """Letters and control items of one hosted actor.

    Turns. At most one thread runs a turn of the actor at a time (``_busy``,
    set and cleared under the lock, so each turn happens-after the previous
    one): the turn thread between `take` and `release`, or a caller between
    `claim` and `release`.

    Thread safety: every method may be called from any thread; `take` is
    meant for the turn thread alone.
    """

    def __init__(self, capacity: int | None, overflow: Overflow) -> None:
        self.capacity = capacity
        self.overflow = overflow
        # Guards _queue, _control, _waiters, _closed, _busy, _turns and every
        # _Waiter's outcome and settled; the turn thread (only) waits on it.
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[Letter] = deque()
        self._control: deque[object] = deque()
        self._waiters: deque[_Waiter] = deque()
        self._closed = False
        # Invariant: _busy while a thread runs a turn (a hook or a control item);
        # it starts True: the turn thread's first turn builds the actor.
        self._busy = True
        self._blocked = False  # the turn thread waits for _busy to clear
        self._turns = 0  # turns ended so far: a change restarts take's idle clock
        self._ended = time.monotonic()  # when the last turn ended

    @property
    def depth(self) -> int:
        """Letters queued now (a snapshot)."""
        return len(self._queue)

    def _full(self) -> bool:
        return self.capacity is not None and len(self._queue) >= self.capacity

    def offer(
        self,
        letter: Letter,
        timeout: float | None,
        *,
        nowait: bool = False,
        placed: Callable[[], None] | None = None,
    ) -> tuple[Offer, Letter | None]:
        """Enqueue under the overflow policy; return the outcome and any evicted letter.

        ``nowait`` makes a full BLOCK mailbox answer FULL (``tell_nowait``, as
        on threads: the other policies apply as usual). Under BLOCK, waits on
        the calling thread up to ``timeout`` (None: until room or close).
        ``placed`` is called once the letter has its place (queued, refused,
        or in the BLOCK line), before any waiting: the sender's next letter may
        then follow it.
        """
        try:
            ready = self._place(letter, nowait)
        finally:
            if placed is not None:
                placed()
        if not isinstance(ready, _Waiter):
            return ready
        waiter = ready
        waiter.woken.wait(timeout)
        with self._cond:
            if not waiter.settled:  # nobody admitted it in time: it leaves the line
                waiter.settled = True
                self._waiters.remove(waiter)
            return waiter.outcome, None

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
            waiter = _Waiter(letter)
            self._waiters.append(waiter)
            return waiter

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

    def take(self, plan: Callable[[], tuple[bool, float]]) -> Taken | None:
        """Begin a turn of the turn thread: wait for a control item or a letter.

        ``plan()`` answers, while no turn runs, whether letters may be taken
        now (the actor runs) and how many idle seconds end the wait; it is
        asked again after each turn a caller ran meanwhile, which also
        restarts the idle clock. Returns the item, or None once idle that
        long; either way the caller now holds the turn and must `release` it.
        Taking a letter admits BLOCK waiters into the room it made, in order.
        """
        with self._cond:
            seen = -1
            while True:
                if self._busy:  # a caller runs a turn; its release wakes us
                    self._blocked = True
                    self._cond.wait()
                    self._blocked = False
                    continue
                letters, idle = plan()
                if self._control or (letters and self._queue):
                    break
                if seen != self._turns:  # the idle clock starts at the last turn's end
                    deadline, seen = self._ended + idle, self._turns
                left = deadline - time.monotonic()
                if left <= 0:
                    self._busy = True
                    return None
                self._cond.wait(left)
            self._busy = True
            if self._control:
                return Taken(control=self._control.popleft())
            taken = Taken(letter=self._queue.popleft())
            while self._waiters and not self._full():
                waiter = self._waiters.popleft()
                waiter.outcome, waiter.settled = Offer.ADMITTED, True
                self._queue.append(waiter.letter)
                taken.admitted.append(waiter)
        for waiter in taken.admitted:
            waiter.woken.set()
        return taken

    def claim(self) -> bool:
        """Begin a turn on the calling thread if none runs and nothing is queued.

        The caller then runs one letter of its own at once (a caller-runs
        turn) and must `release` the turn. False: a turn runs, or something
        waits before this letter, or the mailbox is closed.
        """
        with self._cond:
            if self._busy or self._closed or self._control or self._queue:
                return False
            self._busy = True
            return True

    def release(self) -> None:
        """End the current turn (the turn thread's or a caller's).

        Wakes the turn thread only if it waits for this turn to end: waking it
        after every caller-runs turn cost it the GIL, and the asker a few
        percent of the round trip; an idle turn thread finds out at the end of
        its wait that turns ran meanwhile (``_turns``) and waits on.
        """
        with self._cond:
            self._busy = False
            self._turns += 1
            self._ended = time.monotonic()
            if self._blocked:
                self._cond.notify()

    def close(self) -> list[Letter]:
        """Refuse every later offer; return what was queued and waiting, in order."""
        with self._cond:
            self._closed = True
            left = list(self._queue)
            self._queue.clear()
            waiting = list(self._waiters)
            self._waiters.clear()
            for waiter in waiting:
                waiter.outcome, waiter.settled = Offer.STOPPED, True
        for waiter in waiting:
            waiter.woken.set()
        return left

    def drain(self) -> list[Letter]:
        """Take every queued letter out (the mailbox stays open)."""
        with self._cond:
            left = list(self._queue)
            self._queue.clear()
            return left
