"""Actors asking actors without blocking: ``context.ask`` and ``context.pipe``.

A blocking ``ref.ask`` inside an actor holds its worker until the reply comes.
These two never wait: the outcome comes back later as a message, a `Response`,
through the asker's own mailbox, in the style of Akka's ``context.ask`` and
``pipeTo``.

How it works:
    ``context.ask`` posts an ordinary ask to the target whose reply slot is a
    `_Request`, and (with a timeout) schedules the timeout on the system's timer
    service, so the testing kit's manual clock drives it. Whoever settles the
    request first delivers the one `Response`: the target's reply or failure,
    the target's stop (`ActorStoppedError`, from the stop's drain), the timeout
    (`AskTimeoutError`), or a send that failed at once (a full FAIL mailbox).

Invariants:
    * Exactly one outcome is delivered per request. A ``threading.Lock`` taken
      with ``blocking=False`` decides (a documented atomic test-and-set, on
      free-threaded builds too): the winner delivers; a reply or failure that
      loses (it came after the timeout) is recorded as a dead letter to the
      asker with the reason; a timer that loses does nothing.
    * Delivery never waits and never runs the asker's code on the settling
      thread (the target's worker, the timer thread, the event-loop thread, a
      Future's callback thread). The Response is posted to the asker's mailbox;
      a full BLOCK mailbox takes it beyond capacity (into the spill, as a worker's
      send does) rather than waiting, and the replier is not muted: the asker
      bounds how many replies it asked for itself, and muting a shared service
      because one asker is slow would stall every other asker. Under the other
      policies a full mailbox acts as for any message (FAIL and DROP_NEWEST make
      the Response a dead letter, DROP_OLDEST evicts). A stopped asker turns it
      into a dead letter, as any send to a stopped actor does.
    * ``adapt`` (the mapping to the asker's own message type) runs in the
      asker's own turn, just before ``receive``: the mailbox carries an
      `Adapted` envelope that the turn opens. An exception in ``adapt`` is a
      failure of ``receive``, reported to the supervisor.

Races considered: the reply may settle the request before ``context.ask`` has
stored the timer handle; it then cannot cancel the timer, which fires later,
loses the test-and-set and does nothing (the handle only keeps the request
alive until its deadline).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ._envelope import Ask
from ._errors import AskTimeoutError, BackstageError
from ._ref import ActorRef
from ._validate import check_timeout

if TYPE_CHECKING:
    from ._timers import TimerHandle

__all__ = ["Adapted", "Asker", "Response", "ask", "pipe"]

Adapt = Callable[["Response"], object]


class Asker(Protocol):
    """The asking actor, as its requests need it (an actor cell satisfies it)."""

    def _deliver(self, message: object) -> None:
        """Post ``message`` from any thread, never waiting for room (under
        BLOCK a full mailbox takes it beyond capacity, muting nobody); what
        cannot be delivered becomes a dead letter."""
        ...

    def _dead_letter(self, message: object, reason: str) -> None: ...
    def _schedule(self, delay: float, callback: Callable[[], object]) -> TimerHandle: ...


@dataclass(frozen=True, slots=True)
class Response:
    """The outcome of ``context.ask`` or ``context.pipe``, delivered as a message.

    Exactly one arrives per request (unless ``adapt`` turned it into a message
    of the asker's own type). Match on it in ``receive``::

        match message:
            case Response(tag="price", error=None, value=price): ...
            case Response(tag="price", error=error): ...

    Attributes:
        tag: The correlation tag given to ``ask``/``pipe`` (None by default).
        value: The reply (what the target's ``receive`` returned, or the
            future's result); None when ``error`` is set.
        error: None on success; otherwise what the target's ``receive`` raised,
            `AskTimeoutError` (a `TimeoutError`) when no reply came in time,
            `ActorStoppedError` when the target stopped before handling the
            request, or what the piped future raised.
    """

    tag: object
    value: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        """True when the request succeeded (``error`` is None)."""
        return self.error is None

    def result(self) -> Any:
        """Return ``value``, or raise ``error``."""
        if self.error is not None:
            raise self.error
        return self.value


class Adapted:
    """A `Response` on its way to an asker that gave ``adapt``.

    The asker's turn calls `open` (so ``adapt`` runs there, never on the thread
    that settled the request) and hands the result to ``receive``.
    """

    __slots__ = ("adapt", "response")

    def __init__(self, response: Response, adapt: Adapt) -> None:
        self.response = response
        self.adapt = adapt

    def open(self) -> object:
        """The message ``receive`` gets: ``adapt(response)``."""
        return self.adapt(self.response)

    def __repr__(self) -> str:
        name = getattr(self.adapt, "__qualname__", repr(self.adapt))
        return f"{self.response!r} (to be adapted by {name})"


class _Request:
    """The reply slot of one ``context.ask`` or ``context.pipe`` (a ReplyTarget).

    Thread safety: `set_result`, `set_exception`, `expire` and `send_failed`
    may be called from any thread, in any order; the first one delivers.
    """

    __slots__ = ("_adapt", "_asker", "_done", "_piped", "_source", "_tag", "_timeout", "timer")

    def __init__(
        self,
        asker: Asker,
        tag: object,
        adapt: Adapt | None,
        source: str | None,
        timeout: float | None,
    ) -> None:
        self._asker = asker
        self._tag = tag
        self._adapt = adapt
        # The path of the actor asked, or None for a piped future.
        self._piped = source is None
        self._source = "the piped future" if source is None else source
        self._timeout = timeout
        # Taken (never released) by the one outcome that is delivered.
        self._done = threading.Lock()
        # Set right after scheduling; see the module docstring for the race.
        self.timer: TimerHandle | None = None

    def set_result(self, result: object, /) -> None:
        self._settle(Response(self._tag, result, None))

    def set_exception(self, exception: BaseException | None, /) -> None:
        self._settle(Response(self._tag, None, exception))

    def from_future(self, future: Future[Any]) -> None:
        """A piped future's done-callback (it runs on the thread completing it)."""
        if future.cancelled():
            self.set_exception(CancelledError(f"{self._source} was cancelled"))
            return
        error = future.exception()
        if error is not None:
            self.set_exception(error)
        else:
            self.set_result(future.result())

    def expire(self) -> None:
        """The timeout (runs on the timer thread, or in a manual clock's advance)."""
        if not self._done.acquire(False):
            return  # the outcome is already delivered
        error: TimeoutError
        if self._piped:
            error = TimeoutError(f"{self._source} did not complete within {self._timeout} s")
        else:
            error = AskTimeoutError(f"no reply from {self._source} within {self._timeout} s")
        self._deliver(Response(self._tag, None, error))

    def send_failed(self, error: BaseException) -> None:
        """The request could not be sent; if nothing else settled it, say so."""
        if self._done.acquire(False):
            self._cancel_timer()
            self._deliver(Response(self._tag, None, error))

    def _settle(self, response: Response) -> None:
        if self._done.acquire(False):
            self._cancel_timer()
            self._deliver(response)
            return
        # The timeout won: this outcome is late. Record it, never drop it.
        what = "reply" if response.error is None else f"failure ({response.error!r})"
        self._asker._dead_letter(
            response,
            f"late {what} from {self._source}: the request timed out after {self._timeout} s",
        )

    def _cancel_timer(self) -> None:
        timer = self.timer
        if timer is not None:
            timer.cancel()

    def _deliver(self, response: Response) -> None:
        adapt = self._adapt
        self._asker._deliver(response if adapt is None else Adapted(response, adapt))


def ask(
    asker: Asker,
    target: object,
    message: object,
    timeout: float | None,
    tag: object,
    adapt: Adapt | None,
) -> None:
    """``context.ask``: see `ActorContext.ask` for the contract."""
    if not isinstance(target, ActorRef):
        raise TypeError(f"context.ask() needs the ActorRef of the actor to ask, got {target!r}")
    timeout = check_timeout(timeout)
    _check_adapt(adapt)
    cell = target._cell
    request = _Request(asker, tag, adapt, cell._path, timeout)
    if timeout is not None:
        request.timer = asker._schedule(timeout, request.expire)
    try:
        # On a worker (a turn) a full BLOCK mailbox spills and mutes the asker,
        # as for any send; a pinned actor's thread waits for room at most
        # `timeout`. A send that fails becomes the outcome.
        cell._post(Ask(message, request), timeout)
    except BackstageError as exc:
        request.send_failed(exc)


def pipe(
    asker: Asker,
    future: object,
    timeout: float | None,
    tag: object,
    adapt: Adapt | None,
) -> None:
    """``context.pipe``: see `ActorContext.pipe` for the contract."""
    if not isinstance(future, Future):
        raise TypeError(
            f"context.pipe() needs a concurrent.futures.Future, got {future!r} "
            "(for a coroutine, use an AsyncActor and await it)"
        )
    timeout = check_timeout(timeout)
    _check_adapt(adapt)
    request = _Request(asker, tag, adapt, None, timeout)
    if timeout is not None:
        request.timer = asker._schedule(timeout, request.expire)
    # Runs at once, on this thread, if the future is already done.
    future.add_done_callback(request.from_future)


def _check_adapt(adapt: object) -> None:
    if adapt is not None and not callable(adapt):
        raise TypeError(f"adapt must be a callable taking the Response (or None), got {adapt!r}")
