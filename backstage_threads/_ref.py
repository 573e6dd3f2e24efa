"""`ActorRef`: the only way to talk to an actor."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._aio import AsyncGate, LoopReply
from ._envelope import Ask, Reply
from ._errors import AskTimeoutError, DeadlockError, MailboxFullError, SendTimeoutError
from ._local import current
from ._mailbox import _END
from ._overflow import Overflow
from ._validate import check_timeout

if TYPE_CHECKING:
    from ._cell import ActorCell

__all__ = ["ActorRef"]

M = TypeVar("M")


class ActorRef(Generic[M]):
    """A handle to an actor: send it messages, ask it questions, stop it.

    Refs are immutable, hashable and ordered by path, and compare equal exactly
    when they designate the same actor incarnation.

    Thread safety: every method may be called from any thread, including from
    inside other actors' hooks.
    """

    __slots__ = ("_cell",)

    def __init__(self, cell: ActorCell) -> None:
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

        Raises:
            AskTimeoutError: If no reply came within ``timeout`` seconds (also a
                `TimeoutError`).
            DeadlockError: If called from this actor's own hooks.
            ActorStoppedError: If the actor stopped before handling the message.
            Exception: Whatever `receive` raised for this message.
        """
        timeout = check_timeout(timeout)
        cell = self._cell
        if current.cell is cell:
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
        if not cell._run_ask_inline(item):
            cell._post(item, timeout)
        return reply.wait(timeout, cell._path)

    async def ask_async(self, message: M, *, timeout: float | None = None) -> Any:
        """Like `ask`, for asyncio code: awaits the reply without blocking the loop.

        Waiting for mailbox room (under BLOCK) is also asynchronous. Raises what
        `ask` raises.
        """
        timeout = check_timeout(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        reply = LoopReply(asyncio.get_running_loop())
        await self._post_async(Ask(message, reply), deadline, timeout)
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            return await asyncio.wait_for(reply.future, remaining)
        except TimeoutError:
            raise AskTimeoutError(f"no reply from {self.path} within {timeout} s") from None

    async def tell_async(self, message: M, *, timeout: float | None = None) -> None:
        """Like `tell`, for asyncio code: under BLOCK, awaits room without blocking the loop.

        Raises:
            SendTimeoutError: If no room came within ``timeout`` seconds.
        """
        timeout = check_timeout(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        await self._post_async(message, deadline, timeout)

    async def _post_async(
        self, item: object, deadline: float | None, timeout: float | None
    ) -> None:
        cell = self._cell
        loop = asyncio.get_running_loop()
        while True:
            try:
                cell._post_nowait(item)  # other policies act at once; BLOCK raises when full
                return
            except MailboxFullError:
                if cell._policy is not Overflow.BLOCK:
                    raise
            gate = AsyncGate(loop)
            cell._waiter_queue().append(gate)
            if cell._has_room():
                continue  # room appeared before our registration was seen
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise SendTimeoutError(
                    f"no room in the mailbox of {self.path} within {timeout} s (policy BLOCK)"
                )
            try:
                await asyncio.wait_for(gate.future, remaining)
            except TimeoutError:
                continue  # the loop re-checks for room, then reports the timeout

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
        self._cell.stop()

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
