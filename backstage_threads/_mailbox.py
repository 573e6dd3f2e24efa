"""Bounded mailboxes with explicit overflow policies and lock-free fast paths.

Design:
    The queue is a ``collections.deque`` created with ``maxlen=capacity``. Its
    ``insert(index, item)`` raises IndexError when the deque is full *instead of*
    evicting, and with an index past the end it appends. So ``insert(_END, m)`` is
    a single atomic "append unless full" (one C call under the deque's critical
    section on free-threaded builds, under the GIL elsewhere): the bound is exact
    however many threads send, with no lock and no second counter. The consumer
    (the one thread running the actor's turn) pops with ``popleft``.

    The fast path of a send is that one insert plus a test-and-set of the actor's
    "scheduled" flag (a ``threading.Lock`` taken with ``blocking=False``). Every
    wait lives on the slow path, only when the mailbox is full:

    * a plain thread under BLOCK parks on a private lock registered in
      ``_waiters``; the consumer releases every registered lock at the end of a
      turn that made room (waiters then retry, so a stale lock is harmless);
    * a shared worker never parks. Its message goes to ``_spill`` (accepted
      beyond capacity) and the sending actor is *muted*: it is not scheduled
      again until this mailbox's spill has drained, as in Pony. Backpressure thus
      travels upstream actor by actor while every worker keeps running.

    Order: a sender (thread or actor) whose earlier message is still spilled
    spills again, so its messages never jump from the spill into the queue. The
    consumer drains the queue first and takes the spill's head only when the
    queue is empty *after* it saw that head. Checking in the other order is a
    race: between "queue empty" and "take the spill's head", a preempted
    consumer can let one sender fill the whole queue and spill its next message,
    which would then overtake a full queue of its own earlier ones. The head
    seen before the re-check was spilled before that re-check, so no message
    its sender queued earlier can still be waiting.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ._envelope import Ask, settle_error
from ._errors import ActorStoppedError, MailboxFullError, SendTimeoutError
from ._local import current
from ._overflow import Overflow

if TYPE_CHECKING:
    from ._cell import ActorCell

__all__ = ["DEFAULT_CAPACITY", "Mailbox"]


class _Gate(Protocol):
    """Something a waiting sender blocks or awaits on; the consumer releases it."""

    def release(self) -> None: ...


#: Default mailbox capacity. 1,024 messages is sixteen turns' worth at the
#: default budget of 64, so a consumer that keeps up never pushes back, while a
#: stalled one holds at most about a thousand messages (tens of KB of references)
#: instead of growing until the process runs out of memory.
DEFAULT_CAPACITY = 1024

# An index past the end of any deque: insert() there appends, or raises
# IndexError when the deque is at its maxlen.
_END = sys.maxsize

_BLOCK = Overflow.BLOCK
_FAIL = Overflow.FAIL
_DROP_NEWEST = Overflow.DROP_NEWEST


class Mailbox:
    """The message queue half of an actor cell (see the module docstring).

    `ActorCell` derives from this class rather than holding one, which saves an
    object and a pointer hop per message (an idle actor must stay small).

    Thread safety: `_post` and `_post_nowait` may be called from any thread.
    Consumer-side methods are called only by the thread running the actor's turn.
    """

    __slots__ = (
        "_capacity",
        "_closed",
        "_dispatch",
        "_muted",
        "_policy",
        "_queue",
        "_scheduled",
        "_spill",
        "_waiters",
    )

    def __init__(self, capacity: int | None, policy: Overflow) -> None:
        # Invariant: len(_queue) <= _capacity (enforced by the deque itself).
        self._queue: deque[object] = deque(maxlen=capacity)
        self._capacity = capacity
        self._policy = policy
        # Held while the actor is queued or running a turn: whoever acquires it
        # with blocking=False submits the actor; only the turn's thread releases it.
        self._scheduled = threading.Lock()
        # True once the actor has stopped: later sends become dead letters.
        self._closed = False
        # The three below are created on first use (under the system's lock) so an
        # idle actor does not pay for them.
        # Messages accepted beyond capacity from muted worker senders.
        self._spill: deque[object] | None = None
        # Gates of senders waiting for room (a threading.Lock for a plain thread,
        # an AsyncGate for a coroutine); each is released once, at the end of a turn.
        self._waiters: deque[_Gate] | None = None
        # Actor cells muted because they spilled into this mailbox.
        self._muted: deque[ActorCell] | None = None

    # Submits the actor for a turn: the pool's submit, a pinned thread's, or the
    # stopped-actor drain. Set by the cell; called by whoever takes the flag.
    _dispatch: Callable[[Any], None]

    # -- hooks the cell provides ------------------------------------------------

    def _discard(self, message: object, reason: str, error: BaseException) -> None:
        raise NotImplementedError

    def _reject_closed(self, message: object) -> None:
        raise NotImplementedError

    def _lazy_lock(self) -> threading.Lock:
        raise NotImplementedError

    def _describe(self) -> str:
        raise NotImplementedError

    def _mute_sender(self, sender: ActorCell) -> None:
        raise NotImplementedError

    # -- producer side -----------------------------------------------------------

    def _post(self, message: object, timeout: float | None) -> None:
        """Enqueue under the mailbox's policy and schedule the actor."""
        if self._closed:
            self._reject_closed(message)
            return
        if self._spill:
            self._post_behind_spill(message, timeout)
        else:
            try:
                self._queue.insert(_END, message)
            except IndexError:
                self._post_full(message, timeout)
        if self._scheduled.acquire(False):
            self._dispatch(self)

    def _post_nowait(self, message: object) -> None:
        """Like `_post`, but a full BLOCK mailbox raises instead of waiting."""
        if self._policy is _BLOCK and not self._closed:
            if self._spill:
                raise MailboxFullError(f"mailbox of {self._describe()} is full (spilled)")
            try:
                self._queue.insert(_END, message)
            except IndexError:
                raise MailboxFullError(
                    f"mailbox of {self._describe()} is full (capacity {self._capacity})"
                ) from None
            if self._scheduled.acquire(False):
                self._dispatch(self)
            return
        self._post(message, 0.0)

    def _post_full(self, message: object, timeout: float | None) -> None:
        policy = self._policy
        if policy is _BLOCK:
            if current.on_worker:
                self._spill_from_worker(message)
            else:
                self._wait_for_room(message, timeout)
        elif policy is _FAIL:
            raise MailboxFullError(
                f"mailbox of {self._describe()} is full (capacity {self._capacity}, policy FAIL)"
            )
        elif policy is _DROP_NEWEST:
            self._discard(message, "mailbox full (DROP_NEWEST)", self._full_error())
        else:
            self._evict_and_insert(message)

    def _full_error(self) -> MailboxFullError:
        return MailboxFullError(
            f"message dropped: mailbox of {self._describe()} is full "
            f"(capacity {self._capacity}, policy {self._policy.name})"
        )

    def _evict_and_insert(self, message: object) -> None:
        queue = self._queue
        while True:
            try:
                oldest = queue.popleft()
            except IndexError:
                pass  # the consumer emptied it meanwhile; room now
            else:
                self._discard(oldest, "evicted from full mailbox (DROP_OLDEST)", self._full_error())
            try:
                queue.insert(_END, message)
                return
            except IndexError:
                continue  # another sender took the room; evict again

    def _post_behind_spill(self, message: object, timeout: float | None) -> None:
        # Senders muted on this mailbox keep their order by spilling behind their
        # earlier spilled messages; plain threads wait until the spill drains.
        if current.on_worker:
            self._spill_from_worker(message)
        else:
            self._wait_for_room(message, timeout)

    def _spill_from_worker(self, message: object) -> None:
        sender = current.cell
        if sender is not None and sender is not self and sender._mute_target is None:
            # Register the mute before the message lands, so the turn that
            # consumes the message (or the drain after a stop) sees it.
            self._mute_sender(sender)
        spill = self._spill
        if spill is None:
            with self._lazy_lock():
                if self._spill is None:
                    self._spill = deque()
                spill = self._spill
        spill.append(message)

    def _wait_for_room(self, message: object, timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        queue = self._queue
        while True:
            if self._closed:
                # A sender that had to wait is told, not just dead-lettered.
                self._reject_closed(message)
                raise ActorStoppedError(
                    f"{self._describe()} stopped while the sender waited for room; "
                    "the message is a dead letter"
                )
            if not self._spill:
                try:
                    queue.insert(_END, message)
                    return
                except IndexError:
                    pass
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise SendTimeoutError(
                    f"no room in the mailbox of {self._describe()} within {timeout} s "
                    f"(capacity {self._capacity}, policy BLOCK)"
                )
            driver = current.driver
            if driver is not None:
                # Deterministic test: run turns until there is room, instead of waiting.
                if not driver(self._has_room):
                    raise SendTimeoutError(
                        f"no room in the mailbox of {self._describe()}: the deterministic "
                        "scheduler ran out of work first"
                    )
                continue
            gate = threading.Lock()
            gate.acquire()
            self._waiter_queue().append(gate)
            # Re-check after registering: a consumer that made room before our
            # registration has already woken the waiters it saw.
            if self._has_room():
                continue
            gate.acquire(timeout=-1 if remaining is None else remaining)

    def _has_room(self) -> bool:
        return self._closed or (not self._spill and len(self._queue) < (self._capacity or 0))

    def _waiter_queue(self) -> deque[_Gate]:
        waiters = self._waiters
        if waiters is None:
            with self._lazy_lock():
                if self._waiters is None:
                    self._waiters = deque()
                waiters = self._waiters
        return waiters

    # -- consumer side -----------------------------------------------------------

    def _room_made(self) -> None:
        """Called by the turn's thread after it consumed messages."""
        waiters = self._waiters
        if waiters:
            self._wake_waiters(waiters)
        muted = self._muted
        if muted and not self._spill:
            self._unmute_all(muted)

    @staticmethod
    def _wake_waiters(waiters: deque[_Gate]) -> None:
        while True:
            try:
                gate = waiters.popleft()
            except IndexError:
                return
            gate.release()

    @staticmethod
    def _unmute_all(muted: deque[ActorCell]) -> None:
        while True:
            try:
                sender = muted.popleft()
            except IndexError:
                return
            sender._unmute()

    def _take_all(self) -> list[object]:
        """Remove every queued and spilled message (for dead-lettering)."""
        taken: list[object] = []
        for source in (self._queue, self._spill):
            while source:
                try:
                    taken.append(source.popleft())
                except IndexError:
                    break
        return taken

    def _release_everyone(self) -> None:
        """Wake blocked senders and unmute muted ones (after the actor stopped)."""
        if self._waiters:
            self._wake_waiters(self._waiters)
        if self._muted:
            self._unmute_all(self._muted)

    def depth(self) -> int:
        """How many messages are waiting (queued plus spilled); a snapshot."""
        spill = self._spill
        return len(self._queue) + (len(spill) if spill else 0)


def fail_ask(message: object, error: BaseException) -> object:
    """If ``message`` is an ask, fail its reply; return the payload to record."""
    if type(message) is Ask:
        settle_error(message.reply, error)
        return message.message
    return message
