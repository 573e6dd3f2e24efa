"""`RayActorRef`: an `ActorRef` whose actor lives in a Ray actor on the cluster.

A ref holds the Ray actor handle of the hosting Ray actor (see ``_host.py``),
the actor's path, its system's Ray namespace and its overflow policy. It pickles
to those four (Ray serialises the handle), so refs travel inside messages, from
the driver to Ray-hosted actors and between them, and keep working in any
process connected to the cluster. It is a subclass of `ActorRef`, so code typed
against `ActorRef` works with both backends; none of the thread backend's
machinery is used (the inherited cell slot stays None).

How each call maps to Ray (one remote method call of the host each):
    * ``tell`` under DROP_NEWEST or DROP_OLDEST, or to an unbounded mailbox:
      fire and forget (the host records drops as dead letters), and batched:
      the message is checked to pickle, then waits in the ref's `Outbox`
      (``_outbox.py``), which sends the tells made meanwhile as one call.
      Under BLOCK and FAIL with a capacity the sender needs the host's verdict
      (room, full, timeout), so ``tell`` waits for that answer: one round
      trip, as a pinned actor's blocking tell waits on threads. The host
      keeps the sender's timeout (it answers ``timeout`` when no room came in
      time), and the sender waits for that verdict up to `VERDICT_GRACE`
      longer, so a letter is admitted exactly when its sender was told so.
    * ``ask``: the reply is the call's result; ``ray.get(timeout=...)`` bounds
      the wait, and on timeout the call is cancelled (a call still in Ray's
      queue of the host never runs; one that runs waits on the host at most
      the same timeout, and a reply that comes later is dropped, never
      delivered).
    * A call that fails because the host's process died is reported, never
      lost: an ask raises `ActorFailedError`; a tell records a dead letter with
      the reason in the system's dead-letter office (the ``/user`` host), which
      the driver's ``system.dead_letters`` gathers.

Thread safety: every method may be called from any thread.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import uuid
from concurrent.futures import Future
from typing import Any, TypeVar

import ray
from ray import cloudpickle
from ray.exceptions import (
    ActorDiedError,
    ActorUnavailableError,
    GetTimeoutError,
    RayActorError,
    RayTaskError,
    TaskCancelledError,
)

from .._errors import (
    ActorFailedError,
    ActorStoppedError,
    ActorSystemClosedError,
    AskTimeoutError,
    MailboxFullError,
    SendTimeoutError,
)
from .._overflow import Overflow
from .._ref import ActorRef
from .._status import ServiceStatus
from .._validate import check_timeout
from ._outbox import Outbox
from ._spec import Stop
from ._wire import VERDICTS, pack

__all__ = ["OFFICE", "RayActorRef", "convert_error"]

M = TypeVar("M")

#: The Ray name of the ``/user`` guardian host, which is also the dead-letter office.
OFFICE = "/user"

#: How long a status or liveness query may take before it gives up.
QUERY_TIMEOUT = 10.0
#: Seconds a BLOCK sender waits for the host's verdict beyond its own timeout
#: (the host times the wait out and answers; this covers the trip back, about
#: 1-2 ms here, with room for a loaded machine).
VERDICT_GRACE = 1.0


def convert_error(error: BaseException, path: str) -> BaseException:
    """Our exception for what a Ray call raised (the user's own error unwrapped)."""
    if isinstance(error, RayTaskError):
        cause = error.cause
        if isinstance(cause, TaskCancelledError):
            return AskTimeoutError(f"the call to {path} was cancelled")
        return cause if isinstance(cause, BaseException) else error
    if isinstance(error, ActorDiedError):
        return ActorStoppedError(f"{path} has stopped (its Ray actor is gone: {_short(error)})")
    if isinstance(error, (ActorUnavailableError, RayActorError)):
        failed = ActorFailedError(
            f"the process hosting {path} died before answering ({_short(error)})", path=path
        )
        failed.__cause__ = error
        return failed
    return error


def _graced(timeout: float | None) -> float | None:
    """How long to wait for an answer the host gives within ``timeout``."""
    return None if timeout is None else timeout + VERDICT_GRACE


def _short(error: BaseException) -> str:
    return str(error).split("\n", 1)[0][:200]


class RayActorRef(ActorRef[M]):
    """A handle to an actor hosted on a Ray cluster (see `RaySystem`).

    Same methods and meaning as `ActorRef`; equal exactly when they designate the
    same Ray actor (a restart keeps the ref valid).
    """

    __slots__ = (
        "_capacity",
        "_connection",
        "_handle",
        "_lock",
        "_namespace",
        "_next",
        "_office",
        "_outbox",
        "_overflow",
        "_path",
        "_sender",
    )

    def __init__(
        self, handle: Any, path: str, namespace: str, overflow: Overflow, capacity: int | None
    ) -> None:
        super().__init__(None)  # type: ignore[arg-type]  # no thread-backend cell
        self._handle = handle
        self._path = path
        self._namespace = namespace
        self._overflow = overflow
        self._capacity = capacity
        self._office: Any = None
        # Numbers this ref's calls for the host's per-sender order (_order.py).
        # Guards _next and the outbox, and keeps numbering and submitting one step.
        self._lock = threading.Lock()
        self._sender = uuid.uuid4().bytes
        self._next = 0
        # Tells that need no verdict wait here to go as one call (_outbox.py).
        self._outbox: Outbox | None = None
        self._connection: tuple[str, str] | None = None  # where a batched tell last went
        if capacity is None or overflow in (Overflow.DROP_NEWEST, Overflow.DROP_OLDEST):
            self._outbox = Outbox(self._lock, self._submit_batch, path)

    def __reduce__(self) -> tuple[Any, ...]:
        args = (self._handle, self._path, self._namespace, self._overflow, self._capacity)
        return (RayActorRef, args)

    # -- identity ------------------------------------------------------------------------

    @property
    def path(self) -> str:
        """The actor's path, such as ``/user/counter``."""
        return self._path

    @property
    def name(self) -> str:
        """The actor's name among its siblings."""
        return self._path.rsplit("/", 1)[-1]

    @property
    def is_alive(self) -> bool:
        """True until the actor has stopped (asks its host; False if unreachable)."""
        try:
            alive, _, _, _ = self._get(self._call("describe"), QUERY_TIMEOUT)
        except Exception:  # noqa: BLE001 - unreachable counts as not alive
            return False
        return bool(alive)

    @property
    def status(self) -> ServiceStatus:
        """The actor's current `ServiceStatus` (STOPPED once its host is gone)."""
        try:
            _, status, _, _ = self._get(self._call("describe"), QUERY_TIMEOUT)
        except (ActorStoppedError, ActorFailedError):
            return ServiceStatus.STOPPED
        return ServiceStatus(status)

    def __hash__(self) -> int:
        return hash(self._handle._actor_id)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RayActorRef):
            return bool(self._handle._actor_id == other._handle._actor_id)
        return NotImplemented

    def __lt__(self, other: ActorRef[Any]) -> bool:
        if not isinstance(other, RayActorRef):
            return NotImplemented
        return (self._path, self._handle._actor_id.hex()) < (
            other._path,
            other._handle._actor_id.hex(),
        )

    def __repr__(self) -> str:
        return f"<RayActorRef {self._path}>"

    # -- messages ------------------------------------------------------------------------

    def tell(self, message: M, *, timeout: float | None = None) -> None:
        """Send ``message``; see `ActorRef.tell` (BLOCK and FAIL wait for the verdict).

        Raises:
            TypeError: If ``message`` cannot be pickled (nothing was sent).
            MailboxFullError: Under `Overflow.FAIL` when the mailbox is full.
            SendTimeoutError: Under `Overflow.BLOCK` when no room came in time.
            ActorSystemClosedError: If Ray is not initialised in this process.
        """
        timeout = check_timeout(timeout)
        if self._outbox is not None:
            self._check_pickles(message)
            self._tell_batched(message)
            return
        self._verdict(message, self._send("tell", message, timeout), timeout)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every message sent through this ref has its place.

        Tells under DROP_NEWEST and DROP_OLDEST return before the host has seen
        them; after ``flush`` each of them is queued or recorded as dropped.
        Returns False on timeout. (Only Ray refs have it: on threads a tell is
        placed before it returns.)
        """
        timeout = check_timeout(timeout)
        with self._lock:
            if self._outbox is not None:
                self._outbox.send_pending()
            call = self._call("sync", pack(self._sender, self._next))
            self._next += 1
        try:
            self._get(call, timeout)
        except AskTimeoutError:
            return False
        except (ActorStoppedError, ActorFailedError):
            return True  # gone: nothing more will be placed
        return True

    def tell_nowait(self, message: M) -> None:
        """Send ``message``; a full BLOCK mailbox raises `MailboxFullError` at once
        (the other policies apply as for `tell`)."""
        self._verdict(message, self._send("tell", message, 0.0, nowait=True), None)

    def ask(self, message: M, *, timeout: float | None = None) -> Any:
        """Send ``message`` and wait for the reply; see `ActorRef.ask`.

        Raises:
            AskTimeoutError: No reply within ``timeout`` (the call is cancelled;
                a later reply is dropped).
            ActorStoppedError: The actor stopped before handling the message.
            ActorFailedError: The actor's process died before replying.
            Exception: Whatever ``receive`` raised.
        """
        timeout = check_timeout(timeout)
        call = self._send("ask", message, timeout)
        try:
            return self._get(call, timeout)
        except AskTimeoutError:
            raise AskTimeoutError(f"no reply from {self._path} within {timeout} s") from None

    def ask_future(self, message: M) -> Future[Any]:
        """Send ``message`` and return a future for the reply (errors converted).

        The future is completed on Ray's I/O thread: keep its callbacks short
        and make no Ray calls (no ``ask``, ``tell`` under BLOCK) in them.
        """
        result: Future[Any] = Future()
        raw = self._send("ask", message, None).future()

        def done(inner: Future[Any]) -> None:
            error = inner.exception()
            if error is not None:
                result.set_exception(convert_error(error, self._path))
            else:
                result.set_result(inner.result())

        raw.add_done_callback(done)
        return result

    async def ask_async(self, message: M, *, timeout: float | None = None) -> Any:
        """Like `ask`, for asyncio code: awaits the reply without blocking the loop."""
        timeout = check_timeout(timeout)
        call = self._send("ask", message, timeout)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(call.future()), timeout)
        except TimeoutError:
            ray.cancel(call)
            raise AskTimeoutError(f"no reply from {self._path} within {timeout} s") from None
        except (RayTaskError, RayActorError) as error:
            raise convert_error(error, self._path) from None

    async def tell_async(self, message: M, *, timeout: float | None = None) -> None:
        """Like `tell`, for asyncio code (the verdict is awaited, not blocked on)."""
        timeout = check_timeout(timeout)
        call = self._send("tell", message, timeout)
        try:
            outcome = await asyncio.wait_for(asyncio.wrap_future(call.future()), _graced(timeout))
        except TimeoutError:
            ray.cancel(call)
            raise SendTimeoutError(f"no room in {self._path} within {timeout} s") from None
        except (RayTaskError, RayActorError) as error:
            self._dead_letter(message, error)
            return
        self._raise_for(outcome, timeout)

    def stop(self) -> None:
        """Ask the actor to stop after the message in hand; returns at once."""
        try:
            self._call("control", Stop(None))
        except ActorSystemClosedError:
            pass  # no cluster: nothing runs any more

    def wait_stopped(self, timeout: float | None = None) -> bool:
        """Wait until the actor has stopped; return False on timeout."""
        timeout = check_timeout(timeout)
        try:
            reason = self._get(self._call("until_stopped", timeout), _graced(timeout))
        except AskTimeoutError:
            return False
        except (ActorStoppedError, ActorFailedError):
            return True  # its host is gone
        return reason is not None

    # -- plumbing ------------------------------------------------------------------------

    def _call(self, method: str, *args: Any) -> Any:
        if not ray.is_initialized():
            raise ActorSystemClosedError(
                f"cannot reach {self._path}: Ray is not initialised in this process "
                "(call ray.init(address=...) to connect, or the cluster was shut down)"
            )
        try:
            return getattr(self._handle, method).remote(*args)
        except TypeError as error:
            if args and "serialize" in str(error):
                what = args[1] if method in ("tell", "ask") else args[0]
                raise TypeError(
                    f"cannot send a {type(what).__module__}.{type(what).__qualname__} "
                    f"to {self._path}: messages to Ray-hosted actors are pickled and this "
                    "one cannot be (nothing was sent)"
                ) from error
            raise
        except Exception as error:
            if "different cluster" not in str(error):
                raise
            raise ActorSystemClosedError(
                f"cannot reach {self._path}: its Ray actor is not on the cluster this process "
                "is connected to (a ref from a cluster that was shut down, or another one)"
            ) from error

    def _send(
        self, method: str, message: object, timeout: float | None, *, nowait: bool = False
    ) -> Any:
        """A numbered tell or ask call (the number is spent only if it was sent)."""
        with self._lock:
            if self._outbox is not None:
                self._outbox.send_pending()  # earlier tells go first
            call = self._call(method, pack(self._sender, self._next, timeout, nowait), message)
            self._next += 1
        return call

    def _tell_batched(self, message: object) -> None:
        """Queue a tell in the outbox; the first on each connection is sent here.

        That first call proves the actor is on the cluster this process is
        connected to (a ref from a shut-down cluster raises here, not later on
        the flusher's thread).
        """
        assert self._outbox is not None
        if not ray.is_initialized():
            self._call("describe")  # raises ActorSystemClosedError: nothing queued
        context = ray.get_runtime_context()
        connection = (context.gcs_address, context.get_job_id())
        with self._lock:
            if self._connection != connection:
                self._outbox.send_pending()
                self._submit_batch([message])
                self._connection = connection
                return
        self._outbox.put(message)

    def _submit_batch(self, messages: list[object]) -> None:
        """One ``tell_many`` call for a batch of tells (the ref's lock is held)."""
        call = self._call("tell_many", pack(self._sender, self._next), messages)
        self._next += 1
        call.future().add_done_callback(functools.partial(self._after_tell, messages))

    def _check_pickles(self, message: object) -> None:
        """Raise TypeError, naming the type, if ``message`` cannot be sent."""
        try:
            cloudpickle.dumps(message)  # type: ignore[no-untyped-call]
        except Exception as error:
            kind = type(message)
            raise TypeError(
                f"cannot send a {kind.__module__}.{kind.__qualname__} to {self._path}: "
                f"messages to Ray-hosted actors are pickled and this one cannot be "
                f"({error}; nothing was sent)"
            ) from error

    def _get(self, call: Any, timeout: float | None) -> Any:
        try:
            return ray.get(call, timeout=timeout)
        except GetTimeoutError:
            ray.cancel(call)
            raise AskTimeoutError(f"no answer from {self._path} within {timeout} s") from None
        except (RayTaskError, RayActorError) as error:
            raise convert_error(error, self._path) from None

    def _verdict(self, message: object, call: Any, timeout: float | None) -> None:
        try:
            outcome = self._get(call, _graced(timeout))
        except AskTimeoutError:
            raise SendTimeoutError(f"no room in {self._path} within {timeout} s") from None
        except (ActorStoppedError, ActorFailedError) as error:
            self._dead_letter(message, error)
            return
        self._raise_for(outcome, timeout)

    def _raise_for(self, verdict: int, timeout: float | None) -> None:
        outcome = VERDICTS[verdict]
        if outcome == "full":
            raise MailboxFullError(f"mailbox of {self._path} is full")
        if outcome == "timeout":
            raise SendTimeoutError(f"no room in {self._path} within {timeout} s")

    def _after_tell(self, messages: list[object], done: Future[Any]) -> None:
        # On Ray's I/O thread, where a Ray call would deadlock: record elsewhere.
        error = done.exception()
        if error is not None:
            threading.Thread(
                target=self._dead_letters,
                args=(messages, error),
                name="backstage-dead-letter",
                daemon=True,
            ).start()

    def _dead_letters(self, messages: list[object], error: BaseException) -> None:
        for message in messages:
            self._dead_letter(message, error)

    def _dead_letter(self, message: object, error: BaseException) -> None:
        """Record a message whose call failed in the office (fire and forget)."""
        if isinstance(error, (ActorDiedError, ActorStoppedError)):
            reason = "actor stopped (its Ray actor is gone)"
        else:
            reason = f"actor process died before taking the message ({_short(error)})"
        try:
            if self._office is None:
                self._office = ray.get_actor(OFFICE, namespace=self._namespace)
            self._office.record.remote([(self, message, reason)])
        except Exception:  # noqa: BLE001 - the office (and so the system) is gone
            pass
