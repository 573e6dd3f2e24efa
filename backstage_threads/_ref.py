"""`ActorRef`: the only way to talk to an actor.

A ref holds the actor's cell, and needs of it only what `RefTarget` lists: the
mailbox's sending side, a few identity fields, and the system messages a
supervisor or a watcher posts. The cell (a layer above) satisfies it; this
module names no cell type.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from ._asks import WaitForGraph
from ._clock import remaining
from ._envelope import Ask, LoopReply, Reply
from ._errors import AskTimeoutError, DeadlockError
from ._local import TurnOwner, current
from ._mailbox import _END
from ._no_interrupt import send_window
from ._validate import check_timeout
from ._waiting import AsyncWaiter

if TYPE_CHECKING:
    from ._errors import ActorStoppedError, SendTimeoutError
    from ._status import ServiceStatus
    from ._waiting import Waiter

__all__ = ["ActorRef", "RefTarget"]

M = TypeVar("M")


class RefTarget(TurnOwner, Protocol):
    """What a ref (and whoever holds one) needs of the actor behind it.

    The actor cell satisfies it. A ref only reads its fields; the cell writes
    them under its own invariants (see ``_mailbox`` and ``_cell``). Every
    actor may run a turn, hence the `TurnOwner` base.
    """

    # Identity and state.
    _name: str
    _status: ServiceStatus

    @property
    def is_alive(self) -> bool: ...

    # The mailbox's sending side (`Mailbox`).
    _queue: deque[object]
    _spill: deque[object] | None
    _closed: bool
    _scheduled: threading.Lock
    _dispatch: Callable[[Any], None]

    def _post(self, message: object, timeout: float | None) -> None: ...
    def _post_nowait(self, message: object) -> None: ...
    def _post_unless_full(self, message: object) -> bool: ...
    def _join_line(self, waiter: Waiter) -> None: ...
    def _leave_line(self, waiter: Waiter) -> bool: ...
    def _stopped_while_waiting(self, message: object) -> ActorStoppedError: ...
    def _send_timeout_error(self, timeout: float | None) -> SendTimeoutError: ...
    def _wait_stopped(self, timeout: float | None) -> bool: ...
    @property
    def _wait_graph(self) -> WaitForGraph:
        """The system's graph of turns blocked in asks (see ``_asks``)."""
        ...

    # System messages: stop, watch, and a supervisor's directives.
    def _request_stop(self, reason: str | None) -> None: ...
    def _request_watch(self, watcher: object) -> None: ...
    def _request_unwatch(self, watcher: object) -> None: ...
    def _request_resume(self) -> None: ...
    def _request_restart(self, running_too: bool = False) -> None: ...
    def _suspend(self) -> None: ...


class ActorRef(Generic[M]):
    """A handle to an actor: send it messages, ask it questions, stop it.

    Refs are immutable, hashable and ordered by path, and compare equal exactly
    when they designate the same actor incarnation.

    Thread safety: every method may be called from any thread, including from
    inside other actors' hooks.
    """

    __slots__ = ("_cell",)

    def __init__(self, cell: RefTarget) -> None:
        self._cell = cell

    @property
    def path(self) -> str:
        """The actor's path, such as ``/user/counter``."""
        return self._cell._path

    @property
    def name(self) -> str:
        """The actor's name among its siblings."""
        return self._cell._name

    @property
    def is_alive(self) -> bool:
        """True until the actor has stopped (a snapshot)."""
        return self._cell.is_alive

    @property
    def status(self) -> ServiceStatus:
        """The actor's current `ServiceStatus` (a snapshot; ``STOPPED`` once stopped).

        Reads one field: no status-tree snapshot, no lock.
        """
        return self._cell._status

    @send_window
    def tell(self, message: M, *, timeout: float | None = None) -> None:
        """Send ``message`` without waiting for it to be processed.

        Under `Overflow.BLOCK` a plain thread waits up to ``timeout`` seconds
        (None: until there is room or the actor stops) for room in a full mailbox;
        an actor running on a shared worker never waits (its message is accepted
        and it is muted until the target drains). Other policies never wait.
        A message to a stopped actor becomes a dead letter.

        Raises:
            MailboxFullError: Under `Overflow.FAIL` when the mailbox is full.
            SendTimeoutError: Under `Overflow.BLOCK` when no room came in time.
            ActorStoppedError: If the actor stopped while this call waited.
            ActorSystemClosedError: If the actor system has shut down.
        """
        cell = self._cell
        if timeout is None and not cell._spill and not cell._closed:
            # The fast path of Mailbox._post, inlined: one call less per message.
            try:
                cell._queue.insert(_END, message)
            except IndexError:
                pass  # full: the policy applies below
            else:
                if cell._scheduled.acquire(False):
                    cell._dispatch(cell)
                return
        elif timeout is not None:
            timeout = check_timeout(timeout)
        cell._post(message, timeout)

    def tell_nowait(self, message: M) -> None:
        """Send ``message``; a full mailbox raises `MailboxFullError` at once."""
        self._cell._post_nowait(message)

    def ask(self, message: M, *, timeout: float | None = None) -> Any:
        """Send ``message`` and wait for the actor's reply (what `receive` returned).

        Returns or raises within ``timeout`` seconds whatever the actor does (a
        wait for room in a full BLOCK mailbox counts against the same timeout).
        The actor's code always runs on its own worker or pinned thread, never
        on the asking one. Called from inside another actor's turn, it blocks
        that turn, while the pool starts a spare worker so that other actors
        keep running; ``self.context.ask`` (the reply arrives as a message) is
        the non-blocking way for actors to ask each other.

        Raises:
            AskTimeoutError: If no reply came within ``timeout`` seconds (also a
                `TimeoutError`).
            DeadlockError: If the reply could never come: asked from this
                actor's own turn, from a turn the target is itself blocked on
                (a cycle of blocking asks), or on the system's event loop.
            ActorStoppedError: If the actor stopped before handling the message.
            Exception: Whatever `receive` raised for this message.
        """
        timeout = check_timeout(timeout)
        cell = self._cell
        asker = current.cell
        if asker is cell:
            raise DeadlockError(
                f"{cell._path} asked itself from its own turn, which would wait forever; "
                "use ask_future() or handle the message directly"
            )
        if current.on_loop:
            raise DeadlockError(
                f"a blocking ask to {cell._path} on the actor system's event loop would stall "
                "every async actor; use 'await ref.ask_async(...)'"
            )
        reply = Reply()
        item = Ask(message, reply)
        deadline = None if timeout is None else time.monotonic() + timeout
        if asker is None:
            cell._post(item, timeout)
            return reply.wait(remaining(deadline), cell._path, timeout)
        return cell._wait_graph.ask(asker, cell, item, reply, timeout, deadline)

    async def ask_async(self, message: M, *, timeout: float | None = None) -> Any:
        """Like `ask`, for asyncio code: awaits the reply without blocking the loop.

        Waiting for mailbox room (under BLOCK) is also asynchronous: waiting
        senders are admitted in the order they began to wait, as room appears,
        and the wait counts against ``timeout``. Raises what `ask` raises, and
        `SendTimeoutError` if no room came in time.
        """
        timeout = check_timeout(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        reply = LoopReply(asyncio.get_running_loop())
        try:
            await self._post_async(Ask(message, reply), deadline, timeout)
        except BaseException:
            # Not sent: nobody awaits the reply, which a stop may still fail.
            reply.future.cancel()
            raise
        try:
            return await asyncio.wait_for(reply.future, remaining(deadline))
        except TimeoutError:
            raise AskTimeoutError(f"no reply from {self.path} within {timeout} s") from None

    async def tell_async(self, message: M, *, timeout: float | None = None) -> None:
        """Like `tell`, for asyncio code: under BLOCK, awaits room without blocking the loop.

        Senders awaiting room are admitted in the order they began to wait, as
        room appears (a sender that finds room without waiting may get in ahead).
        Cancelling the wait withdraws the message unless it was already admitted.

        Raises:
            MailboxFullError: Under `Overflow.FAIL` when the mailbox is full.
            SendTimeoutError: If no room came within ``timeout`` seconds.
            ActorStoppedError: If the actor stopped while this call waited.
        """
        timeout = check_timeout(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        await self._post_async(message, deadline, timeout)

    async def _post_async(
        self, item: object, deadline: float | None, timeout: float | None
    ) -> None:
        cell = self._cell
        if cell._post_unless_full(item):
            return
        # Under BLOCK with no room: join the line. Whoever makes room admits
        # the line in order and resolves our waiter's future (see Mailbox).
        waiter = AsyncWaiter(asyncio.get_running_loop(), item)
        wait = remaining(deadline)
        try:
            cell._join_line(waiter)
            await asyncio.wait_for(waiter.future, wait)
        except TimeoutError:
            pass  # admitted at the deadline, or not: _leave_line decides
        except BaseException:
            # Cancelled (or a Ctrl-C on a loop in the main thread): leave the
            # line (a message already admitted stays sent).
            cell._leave_line(waiter)
            raise
        if cell._leave_line(waiter):
            return
        if cell._closed:
            raise cell._stopped_while_waiting(item)
        raise cell._send_timeout_error(timeout)

    def ask_future(self, message: M) -> Future[Any]:
        """Send ``message`` and return a future for the reply.

        The future fails with what `receive` raised, or with `ActorStoppedError`
        if the message was never handled. Cancelling it does not unsend the
        message; the reply is then discarded.
        """
        future: Future[Any] = Future()
        self._cell._post(Ask(message, future), None)
        return future

    def stop(self) -> None:
        """Ask the actor to stop after the message in hand.

        Its children stop first; messages still queued become dead letters.
        Idempotent; returns at once (see `wait_stopped`).
        """
        self._cell._request_stop(None)

    def wait_stopped(self, timeout: float | None = None) -> bool:
        """Wait until the actor has stopped; return False on timeout."""
        return self._cell._wait_stopped(check_timeout(timeout))

    def __hash__(self) -> int:
        return id(self._cell) >> 4

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ActorRef):
            return self._cell is other._cell
        return NotImplemented

    def __lt__(self, other: ActorRef[Any]) -> bool:
        if not isinstance(other, ActorRef):
            return NotImplemented
        return (self.path, id(self._cell)) < (other.path, id(other._cell))

    def __repr__(self) -> str:
        return f"<ActorRef {self._cell._path}>"
