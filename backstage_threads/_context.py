"""`ActorContext`: what an actor may do, as ``self.context`` inside its hooks.

The runtime's cell implements this interface (as Akka's ``ActorCell`` implements
its ``ActorContext``); the class holds only the public API, so ``help()`` shows
what an actor may use and none of the runtime's machinery.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from ._factory import actor_factory
from ._mailbox import DEFAULT_CAPACITY
from ._overflow import Overflow
from ._ref import ActorRef
from ._request import Adapt
from ._request import ask as _ask
from ._request import pipe as _pipe
from ._status import ServiceStatus
from ._timers import TimerHandle
from ._validate import check_capacity, check_name, check_timeout

if TYPE_CHECKING:
    from ._actor import Actor
    from ._cell import ActorCell
    from ._system import ActorSystem

__all__ = ["ActorContext"]


class ActorContext:
    """An actor's view of the runtime: its ref, family, system, timers and status.

    Get it as ``self.context`` from ``on_start`` on (it is attached after the
    actor's ``__init__`` returns).

    Thread safety: call it from the actor's own hooks; refs it hands out may
    be used from any thread.
    """

    __slots__ = ()

    if TYPE_CHECKING:
        # What the implementing cell provides (its runtime layers).
        _ref: ActorRef[Any]
        _name: str
        _path: str
        _system: ActorSystem
        _parent: Any
        _children: Any
        _status: ServiceStatus

        def _request_stop(self, reason: str | None) -> None: ...
        def _report_status(self, status: ServiceStatus) -> None: ...
        def _add_timer(
            self, delay: float, message: object, period: float | None
        ) -> TimerHandle: ...
        def _set_receive_timeout(self, seconds: float | None) -> None: ...
        def _as_cell(self) -> ActorCell: ...

    @property
    def self(self) -> ActorRef[Any]:
        """This actor's own ref."""
        return self._ref

    @property
    def name(self) -> str:
        """This actor's name among its siblings."""
        return self._name

    @property
    def path(self) -> str:
        """This actor's path, such as ``/user/app/db``."""
        return self._path

    @property
    def parent(self) -> ActorRef[Any] | None:
        """The parent's ref (None only for the root guardian)."""
        return self._parent._ref if self._parent is not None else None

    @property
    def system(self) -> ActorSystem:
        """The actor system this actor belongs to."""
        return self._system

    @property
    def children(self) -> tuple[ActorRef[Any], ...]:
        """Refs of the live children, in spawn order."""
        with self._system._tree_lock:
            cells = tuple(self._children.values()) if self._children else ()
        return tuple(cell._ref for cell in cells)

    def child(self, name: str) -> ActorRef[Any] | None:
        """The live child called ``name``, or None."""
        with self._system._tree_lock:
            cell = self._children.get(name) if self._children else None
        return cell._ref if cell is not None else None

    def spawn(
        self,
        factory: Callable[..., Actor[Any]],
        /,
        *args: Any,
        name: str | None = None,
        capacity: int | None = DEFAULT_CAPACITY,
        overflow: Overflow = Overflow.BLOCK,
        pinned: bool = False,
        kwargs: Mapping[str, Any] | None = None,
    ) -> ActorRef[Any]:
        """Start a child actor and return its ref.

        Constructor arguments follow the factory; keyword ones go in ``kwargs``
        so that they never clash with spawn's own options:
        ``spawn(Worker, db, name="w", kwargs={"retries": 3})`` builds
        ``Worker(db, retries=3)``, and builds it again the same way (with the
        same argument objects) on every restart.

        Args:
            factory: An `Actor` subclass, or any callable returning a new actor
                instance (a function, a lambda, a ``functools.partial``).
            *args: Positional arguments for ``factory``.
            name: Unique among siblings; generated (``$1``, ``$2``...) if None.
            capacity: Mailbox bound (an int >= 1), or None for unbounded.
            overflow: What a send does when the mailbox is full.
            pinned: Run this actor on a dedicated thread, for actors that block
                (I/O, sleeps, long C calls), so it never holds a shared worker.
            kwargs: Keyword arguments for ``factory`` (copied at the call).

        Raises:
            TypeError: If ``factory`` is a class that is not an `Actor` subclass
                or is not callable, or an option has a bad type. (Arguments that
                do not fit the constructor fail the actor's start instead, which
                reaches the supervisor as `ActorInitializationError`.)
            ValueError: If ``name`` or ``capacity`` is invalid.
            DuplicateNameError: If a sibling already has ``name``.
            ActorStoppedError: If this actor is stopping.
            ActorSystemClosedError: If the system is shutting down.
        """
        build = actor_factory(factory, args, kwargs)
        if name is not None:
            check_name(name)
        capacity = check_capacity(capacity)
        if not isinstance(overflow, Overflow):
            raise TypeError(
                f"overflow must be an Overflow member ({', '.join(o.name for o in Overflow)}), "
                f"got {overflow!r}"
            )
        if not isinstance(pinned, bool):
            raise TypeError(f"pinned must be a bool, got {pinned!r}")
        return self._system._spawn_cell(
            self._as_cell(), build, name, capacity, overflow, pinned
        )._ref

    def stop(self, child: ActorRef[Any] | None = None) -> None:
        """Stop this actor (or one of its children) after the message in hand."""
        target = self if child is None else child._cell
        target._request_stop(None)

    @property
    def status(self) -> ServiceStatus:
        """This actor's current service status."""
        return self._status

    def set_status(self, status: ServiceStatus) -> None:
        """Report a service status (Running, Degraded, Maintenance, Idle or Outage).

        The lifecycle statuses (Starting, Initializing, Stopping, Stopped) belong
        to the runtime.
        """
        self._report_status(status)

    def watch(self, ref: ActorRef[Any]) -> None:
        """Receive `Terminated(ref, reason)` when ``ref`` stops (at once if it has)."""
        ref._cell._request_watch(self)

    def unwatch(self, ref: ActorRef[Any]) -> None:
        """Stop watching ``ref``; a Terminated already on its way may still arrive."""
        ref._cell._request_unwatch(self)

    def send_after(self, delay: float, message: object) -> TimerHandle:
        """Send ``message`` to this actor after ``delay`` seconds; cancellable."""
        return self._add_timer(check_timeout(delay, "delay") or 0.0, message, None)

    def send_every(self, period: float, message: object) -> TimerHandle:
        """Send ``message`` to this actor every ``period`` seconds; cancellable."""
        period = check_timeout(period, "period") or 0.0
        if not period:
            raise ValueError(f"period must be a number of seconds > 0, got {period!r}")
        return self._add_timer(period, message, period)

    def set_receive_timeout(self, seconds: float | None) -> None:
        """Deliver `ReceiveTimeout` whenever no message arrived for ``seconds``.

        None turns it off. The timeout is re-armed after every delivery.
        """
        self._set_receive_timeout(seconds)

    def ask(
        self,
        target: ActorRef[Any],
        message: object,
        *,
        timeout: float | None,
        tag: object = None,
        adapt: Adapt | None = None,
    ) -> None:
        """Ask ``target`` without waiting: the outcome comes back as a message.

        Returns at once. Exactly one `Response` (``tag``, ``value``, ``error``)
        then arrives through this actor's mailbox, like any message: the reply
        (what the target's ``receive`` returned), or as ``error`` what it
        raised, `AskTimeoutError` if no reply came within ``timeout`` seconds,
        `ActorStoppedError` if the target stopped before handling the message,
        or the error of a send that failed at once (a full FAIL mailbox). A
        reply that comes after the timeout is not delivered; it is recorded as
        a dead letter with the reason. If this actor has stopped meanwhile, the
        Response is a dead letter too. This is the way actors ask each other: a
        blocking ``ref.ask`` inside an actor holds a worker until the reply.

        Args:
            target: The actor to ask (asking this actor itself works too).
            message: What to send; the target's ``receive`` gets it as for an ask.
            timeout: Seconds to wait for the reply, on the system's timers (a
                manual clock in the testing kit); None waits as long as it takes.
            tag: Put in the `Response`, to tell outcomes apart.
            adapt: Maps the `Response` to a message of this actor's own type;
                it runs in this actor's turn just before ``receive`` (an
                exception in it is a failure of ``receive``). Give it a
                conversion (a class, a function), not a bound method that
                handles the reply: after a restart it would run on the old
                instance.

        Raises:
            TypeError: If ``target`` is not an `ActorRef`, ``timeout`` not a
                number or None, or ``adapt`` not callable.
            ValueError: If ``timeout`` is negative or not finite.

        Thread safety: call it from this actor's hooks. Replies may arrive from
        any thread; they are only ever handled in this actor's turns.
        """
        _ask(self._as_cell(), target, message, timeout, tag, adapt)

    def pipe(
        self,
        future: Future[Any],
        *,
        timeout: float | None = None,
        tag: object = None,
        adapt: Adapt | None = None,
    ) -> None:
        """Send the outcome of ``future`` to this actor as a `Response` message.

        Like Akka's ``pipeTo``: when the `concurrent.futures.Future` completes
        (say, work handed to a ``ThreadPoolExecutor``), one `Response` arrives
        through this actor's mailbox with its result as ``value``, or as
        ``error`` what it raised, `concurrent.futures.CancelledError` if it was
        cancelled, or `TimeoutError` if it did not complete within ``timeout``
        seconds (an outcome after that is a dead letter). ``tag`` and ``adapt``
        are as for `ask`. The future's callback only posts the message; no code
        of this actor runs on the thread completing the future.

        Raises:
            TypeError: If ``future`` is not a `concurrent.futures.Future`, or an
                option has a bad type.
            ValueError: If ``timeout`` is negative or not finite.
        """
        _pipe(self._as_cell(), future, timeout, tag, adapt)
