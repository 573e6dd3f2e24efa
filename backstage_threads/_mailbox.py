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

    * a plain thread or a coroutine under BLOCK joins a line of waiting
      senders (``_waiters``, a `WaiterQueue` of waiters, each holding its
      message) and parks until released. Whoever makes room (the turn's thread when it has
      consumed messages, or a sender that joins and finds room) *admits* the
      line: it moves the waiters' messages into the queue itself, first come
      first in, as long as there is room, and then wakes exactly those waiters;
      a stop releases every waiter. Nobody retries, so there is no thundering
      herd: waking everyone to race for the room used to livelock a 3.11
      worker for 3 s while 2,000 coroutines re-registered as fast as it woke
      them (198,041 wake-ups in one call, for 16 free places). A waiter that
      times out or is cancelled leaves the line under the line's lock, so it
      is either admitted or gone, never both, and it took no wake-up from
      anyone. A sender that does not have to wait may still get in ahead of
      the line (the fast path does not look at it); among waiters, admission
      is FIFO;
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
import time
from collections import deque
from collections.abc import Callable
from threading import Lock as _Lock  # (a module attribute read costs a type lookup)
from typing import Any

from ._errors import ActorStoppedError, MailboxFullError, SendTimeoutError
from ._local import TurnOwner, current
from ._no_interrupt import send_window
from ._overflow import Overflow
from ._threads import sigint_held_back
from ._waiting import MutedSender, ThreadWaiter, Waiter, WaiterQueue, unmute_all

__all__ = ["DEFAULT_CAPACITY", "Mailbox"]


#: Default mailbox capacity. 1,024 messages is sixteen turns' worth at the
#: default budget of 64, so a consumer that keeps up never pushes back, while a
#: stalled one holds at most about a thousand messages (tens of KB of references)
#: instead of growing until the process runs out of memory.
DEFAULT_CAPACITY = 1024

# An index past the end of any deque: insert() there appends, or raises
# IndexError when the deque is at its maxlen.
_END = sys.maxsize

# Every mailbox starts with this one shared queue, which can never hold a
# message: it is empty and, with maxlen 0, full at once, so every insert into it
# fails and takes the sender to a slow path, where the mailbox gets a queue of
# its own (`_own_queue`). An actor that is never sent a message never pays for
# a deque (760 bytes on 3.11: half of an idle actor).
_NO_QUEUE: deque[object] = deque(maxlen=0)

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
        "_guard",
        "_muted",
        "_policy",
        "_queue",
        "_scheduled",
        "_spill",
        "_waiters",
    )

    def __init__(self, capacity: int | None, policy: Overflow) -> None:
        # Invariant: len(_queue) <= _capacity (enforced by the deque itself).
        # `_NO_QUEUE` until the first send (replaced once, under _guard).
        self._queue: deque[object] = _NO_QUEUE
        self._capacity = capacity
        self._policy = policy
        # Held while the actor is queued or running a turn: whoever acquires it
        # with blocking=False submits the actor; only the turn's thread releases it.
        self._scheduled = _Lock()
        # Guards creating the queue and side structures below (the cell also
        # guards its children and stop with it: see CellBase). One per actor:
        # a lock per system, taken by every spawn and stop, was contended by
        # every worker on free-threaded builds. Nothing is called under it.
        self._guard = _Lock()
        # True once the actor has stopped: later sends become dead letters.
        self._closed = False
        # The three below are created on first use (under _guard) so an
        # idle actor does not pay for them.
        # Messages accepted beyond capacity from muted worker senders.
        self._spill: deque[object] | None = None
        # Senders waiting for room (a ThreadWaiter for a plain thread, an
        # AsyncWaiter for a coroutine), admitted in order as room appears.
        self._waiters: WaiterQueue | None = None
        # Actor cells muted because they spilled into this mailbox.
        self._muted: deque[MutedSender] | None = None

    # Submits the actor for a turn: the pool's submit, a pinned thread's, or the
    # stopped-actor drain. Set by the cell; called by whoever takes the flag.
    _dispatch: Callable[[Any], None]

    # -- hooks the cell provides ------------------------------------------------

    def _discard(self, message: object, reason: str, error: BaseException) -> None:
        raise NotImplementedError

    def _reject_closed(self, message: object) -> None:
        raise NotImplementedError

    def _describe(self) -> str:
        raise NotImplementedError

    def _mute_sender(self, sender: TurnOwner) -> None:
        raise NotImplementedError

    # -- producer side -----------------------------------------------------------

    @send_window
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
                pass  # full: the policy applies below
            else:
                if self._scheduled.acquire(False):
                    self._dispatch(self)
                return
            if self._own_queue():
                self._post(message, timeout)  # the first message: now there is a queue
                return
            # Outside the handler, so that what the policy raises (or what a
            # dead-letter subscriber sees) does not chain the deque's IndexError.
            self._post_full(message, timeout)
        if self._scheduled.acquire(False):
            self._dispatch(self)

    @send_window
    def _post_nowait(self, message: object) -> None:
        """Like `_post`, but a full BLOCK mailbox raises instead of waiting."""
        if self._policy is _BLOCK and not self._closed:
            if self._spill:
                raise MailboxFullError(f"mailbox of {self._describe()} is full (spilled)")
            try:
                self._queue.insert(_END, message)
            except IndexError:
                if not self._own_queue():
                    raise MailboxFullError(
                        f"mailbox of {self._describe()} is full (capacity {self._capacity})"
                    ) from None
                self._post_nowait(message)  # the first message: now there is a queue
                return
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
        me: object = self  # (a sending cell is a Mailbox too)
        if sender is not None and sender is not me and sender._mute_target is None:
            # Register the mute before the message lands, so the turn that
            # consumes the message (or the drain after a stop) sees it.
            self._mute_sender(sender)
        self._spill_queue().append(message)

    def _wait_for_room(self, message: object, timeout: float | None) -> None:
        """Wait in line (a plain thread under BLOCK) until ``message`` is admitted."""
        driver = current.driver
        if driver is not None:
            self._drive_until_room(message, timeout, driver)
            return
        waiter = ThreadWaiter(message)
        try:
            self._join_line(waiter)
            waiter.wait(timeout)  # released once: admitted, or the actor stopped
            admitted = self._leave_line(waiter)
        except BaseException:
            # A Ctrl-C, most likely in the wait: leave the line, or a later
            # admission would send the message of a sender told it was
            # interrupted, and a stop would drop it unrecorded. A message already
            # admitted stays sent (as when an async sender is cancelled).
            self._leave_line(waiter)
            raise
        if admitted:
            return
        if self._closed:
            raise self._stopped_while_waiting(message)
        raise self._send_timeout_error(timeout)

    def _drive_until_room(
        self, message: object, timeout: float | None, driver: Callable[[Callable[[], bool]], bool]
    ) -> None:
        # This thread drives the turns itself (see _local.current.driver): run
        # them until there is room, instead of waiting.
        deadline = None if timeout is None else time.monotonic() + timeout
        self._own_queue()
        while True:
            if self._closed:
                raise self._stopped_while_waiting(message)
            if not self._spill:
                try:
                    self._queue.insert(_END, message)
                    return
                except IndexError:
                    pass
            if deadline is not None and deadline - time.monotonic() <= 0:
                raise self._send_timeout_error(timeout)
            if not driver(self._has_room):
                raise SendTimeoutError(
                    f"no room in the mailbox of {self._describe()}: every actor ran "
                    "out of work first"
                )

    @send_window
    def _post_unless_full(self, message: object) -> bool:
        """Post without waiting; False if a BLOCK sender must join the line.

        That is when the mailbox is full, spilled, or already has senders
        waiting (joining behind them keeps the line FIFO). Other policies act at
        once, as `_post` does.
        """
        if self._policy is not _BLOCK or self._closed:
            self._post(message, 0.0)
            return True
        if self._waiters or self._spill:
            return False
        try:
            self._queue.insert(_END, message)
        except IndexError:
            if not self._own_queue():
                return False
            return self._post_unless_full(message)  # the first message: now there is a queue
        if self._scheduled.acquire(False):
            self._dispatch(self)
        return True

    def _join_line(self, waiter: Waiter) -> None:
        """Queue ``waiter`` behind the senders already waiting; admit it if there is room.

        Call it inside the ``try`` whose handler calls `_leave_line`. The
        admission and the release below run with SIGINT held back on the main
        thread: a Ctrl-C inside either would leave other senders taken out of
        the line and never woken (or an admitted message never scheduled).
        """
        waiters = self._waiter_queue()
        waiters.append(waiter)
        # Re-check after joining: a turn that made room, or a stop that released
        # the line, before our append could not see us.
        if self._closed:
            with sigint_held_back():
                waiters.release_all()
        elif self._room_for_waiters():
            with sigint_held_back():
                self._admit_waiters(waiters)
                # A message admitted here is ours to schedule (a turn in progress
                # holds the flag and sees it when it ends).
                if self._scheduled.acquire(False):
                    self._dispatch(self)

    def _leave_line(self, waiter: Waiter) -> bool:
        """Take ``waiter`` out of the line after its wait; True if it was admitted.

        Every waiter calls this once its wait ends, however it ends (released,
        timed out, cancelled, interrupted), so a waiter is either admitted or
        gone, never both. Calling it again, or for a waiter that never joined,
        changes nothing.
        """
        waiters = self._waiters
        if waiters is None:
            return False  # interrupted before it joined
        with waiters.lock:
            if waiter.admitted:
                return True
            try:
                waiters.remove(waiter)
            except ValueError:
                pass  # already taken out (and released) by a stop
        return False

    def _stopped_while_waiting(self, message: object) -> ActorStoppedError:
        # A sender that had to wait is told, not just dead-lettered.
        self._reject_closed(message)
        return ActorStoppedError(
            f"{self._describe()} stopped while the sender waited for room; "
            "the message is a dead letter"
        )

    def _send_timeout_error(self, timeout: float | None) -> SendTimeoutError:
        return SendTimeoutError(
            f"no room in the mailbox of {self._describe()} within {timeout} s "
            f"(capacity {self._capacity}, policy BLOCK)"
        )

    def _has_room(self) -> bool:
        return self._closed or self._room_for_waiters()

    def _room_for_waiters(self) -> bool:
        return not self._spill and len(self._queue) < (self._capacity or 0)

    # The side structures below are created on first use, under _guard
    # (double-checked: reading the slot is atomic, and only None is replaced).

    def _own_queue(self) -> bool:
        """Give the mailbox its own queue if it still has `_NO_QUEUE`; True if it did.

        Every slow path of a send calls this before it treats the mailbox as
        full; after that, only a real queue can be full.
        """
        if self._queue is not _NO_QUEUE:
            return False
        with self._guard:
            if self._queue is _NO_QUEUE:
                self._queue = deque(maxlen=self._capacity)
        return True

    def _waiter_queue(self) -> WaiterQueue:
        waiters = self._waiters
        if waiters is None:
            with self._guard:
                if self._waiters is None:
                    self._waiters = WaiterQueue()
                waiters = self._waiters
        return waiters

    def _spill_queue(self) -> deque[object]:
        spill = self._spill
        if spill is None:
            with self._guard:
                if self._spill is None:
                    self._spill = deque()
                spill = self._spill
        return spill

    def _muted_queue(self) -> deque[MutedSender]:
        muted = self._muted
        if muted is None:
            with self._guard:
                if self._muted is None:
                    self._muted = deque()
                muted = self._muted
        return muted

    # -- consumer side -----------------------------------------------------------

    def _room_made(self) -> None:
        """Called by the turn's thread after it consumed messages."""
        waiters = self._waiters
        if waiters:
            self._admit_waiters(waiters)
        muted = self._muted
        if muted and not self._spill:
            unmute_all(muted)

    def _admit_waiters(self, waiters: WaiterQueue) -> None:
        """Move waiting senders' messages into the queue, oldest first, while there is room.

        Then wake exactly the senders admitted. Not while spilled: the spill
        drains first, as before any other sender that has to wait.
        """
        admitted: list[Waiter] = []
        queue = self._queue
        with waiters.lock:
            while waiters and not self._closed and not self._spill:
                # Only the holder of the lock takes waiters out: the head stays put.
                waiter = waiters[0]
                try:
                    queue.insert(_END, waiter.message)
                except IndexError:
                    break  # full again (a sender that did not wait took the place)
                waiters.popleft()
                waiter.admitted = True
                admitted.append(waiter)
        for waiter in admitted:
            waiter.release()

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
            self._waiters.release_all()
        if self._muted:
            unmute_all(self._muted)

    def depth(self) -> int:
        """How many messages are waiting (queued plus spilled); a snapshot."""
        spill = self._spill
        return len(self._queue) + (len(spill) if spill else 0)
