"""Ask envelopes and reply slots.

A `tell` enqueues the bare message; an ask enqueues an `Ask` envelope carrying a
reply target, so the per-message check is one ``type(item) is Ask``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import InvalidStateError
from time import perf_counter
from typing import Any, Protocol

from ._errors import AskTimeoutError
from ._local import current
from ._safe_wait import acquire
from ._spin import SPIN_SECONDS, yield_cpu

__all__ = ["Ask", "LoopReply", "Reply", "ReplyTarget", "fail_ask", "settle_error", "settle_result"]


class ReplyTarget(Protocol):
    """What an ask's reply is written to: a `Reply` or a `concurrent.futures.Future`."""

    def set_result(self, result: object, /) -> None: ...
    def set_exception(self, exception: BaseException | None, /) -> None: ...


class Ask:
    """A message that expects a reply."""

    __slots__ = ("message", "reply")

    def __init__(self, message: object, reply: ReplyTarget) -> None:
        self.message = message
        self.reply = reply


def settle_result(reply: ReplyTarget, result: object) -> None:
    """Deliver a reply; a future the asker cancelled simply ignores it."""
    try:
        reply.set_result(result)
    except InvalidStateError:
        pass


def settle_error(reply: ReplyTarget, error: BaseException) -> None:
    """Fail an ask; a future the asker cancelled simply ignores it."""
    try:
        reply.set_exception(error)
    except InvalidStateError:
        pass


class Reply:
    """A one-shot reply slot for a blocking `ask`.

    A `concurrent.futures.Future` costs a Condition and several Python-level lock
    operations; this slot costs one C lock, created held and released exactly once
    by whoever settles it. The runtime settles every ask exactly once.

    Thread safety: `set_result`/`set_exception` are called once, from any thread;
    `wait` from the asking thread. The lock release publishes the fields.
    """

    __slots__ = ("_done", "_error", "_value")

    def __init__(self) -> None:
        self._done = threading.Lock()
        self._done.acquire()
        self._value: object = None
        self._error: BaseException | None = None

    def set_result(self, result: object, /) -> None:
        self._value = result
        self._done.release()

    def set_exception(self, exception: BaseException | None, /) -> None:
        self._error = exception
        self._done.release()

    def done(self) -> bool:
        """True once the reply (or error) is in."""
        return not self._done.locked()

    def wait(self, timeout: float | None, what: str, asked: float | None = None) -> object:
        """Wait up to ``timeout`` s for the reply; raise the actor's exception or
        `AskTimeoutError` (whose message states ``asked``, the caller's timeout).

        It first spins for `SPIN_SECONDS` (at most ``timeout``), yielding the CPU
        and the GIL on every round (the pool's workers spin as long before they
        park): a reply that comes within it skips a futex wake-up (see
        ``_spin.py``). The spin counts against ``timeout``.

        A Ctrl-C anywhere in here leaves nothing to undo: the ask stays queued
        and its reply, when it comes, settles this slot, which nobody reads.
        """
        done = self._done
        driver = current.driver
        if driver is not None and not driver(self.done):
            raise AskTimeoutError(f"no reply from {what}: every actor ran out of work first")
        if done.locked() and timeout != 0:
            spin = SPIN_SECONDS if timeout is None or timeout > SPIN_SECONDS else timeout
            deadline = perf_counter() + spin
            while done.locked() and perf_counter() < deadline:
                yield_cpu()
            if timeout is not None and done.locked():
                timeout = max(0.0, timeout - spin)  # (spent spinning)
        # The parking (on the main thread in slices, see _safe_wait) only if needed.
        if not done.acquire(False) and not acquire(done, timeout):
            shown = timeout if asked is None else asked
            raise AskTimeoutError(f"no reply from {what} within {shown} s")
        error = self._error
        if error is not None:
            raise error
        return self._value


class LoopReply:
    """An ask's reply target that resolves an asyncio future on its own loop."""

    __slots__ = ("future", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[Any] = loop.create_future()

    def _call(self, setter: Callable[[Any], None], value: Any) -> None:
        def resolve() -> None:
            if not self.future.done():
                setter(value)

        try:
            self.loop.call_soon_threadsafe(resolve)
        except RuntimeError:
            pass  # the asker's loop has closed: nobody is waiting any more

    def set_result(self, result: object, /) -> None:
        self._call(self.future.set_result, result)

    def set_exception(self, exception: BaseException | None, /) -> None:
        self._call(self.future.set_exception, exception)


def fail_ask(message: object, error: BaseException) -> object:
    """If ``message`` is an ask, fail its reply; return the payload to record."""
    if type(message) is Ask:
        settle_error(message.reply, error)
        return message.message
    return message
