"""What users program against: `Actor` (and `AsyncActor`) and the `ActorContext` it sees.

The two are one contract and name each other (an actor's ``self.context``; a
context's ``spawn`` of actors), so they live in one module. The runtime's cell
implements `ActorContext` (as Akka's ``ActorCell`` implements its
``ActorContext``); the class holds only the public API, so ``help()`` shows what
an actor may use and none of the runtime's machinery. `ActorSystemLike` is what
``context.system`` offers on every backend: the surface an `ActorSystem` (and a
``backstage_threads.ray.RaySystem``) share.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, Protocol, TypeVar

from ._deadletters import DeadLetters
from ._mailbox import DEFAULT_CAPACITY
from ._overflow import Overflow
from ._ref import ActorRef
from ._request import Adapt
from ._request import ask as request_ask
from ._request import pipe as request_pipe
from ._resource_api import ResourceContext
from ._status import ServiceStatus, StatusNode
from ._supervision import DEFAULT_STRATEGY
from ._timers import TimerHandle
from ._validate import check_spawn_options, check_timeout

if TYPE_CHECKING:
    from ._request import Asker
    from ._resource_keys import ResourceKey
    from ._statistics import ShutdownReport
    from ._supervision import Failure, Supervisor, SupervisorStrategy

__all__ = [
    "Actor",
    "ActorContext",
    "ActorSystemLike",
    "AsyncActor",
    "M",
    "Root",
    "SpawnSpec",
    "Spawning",
]

M = TypeVar("M")


class ActorSystemLike(Protocol):
    """What every actor system offers its actors (``context.system``).

    `ActorSystem` satisfies it, and so does each backend's system; the full
    API of the thread backend is on `ActorSystem` itself.
    """

    @property
    def name(self) -> str:
        """The system's name."""
        ...

    @property
    def dead_letters(self) -> DeadLetters:
        """Messages that could not be delivered, with the reason."""
        ...

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
        """Start a top-level actor (see `ActorSystem.spawn`)."""
        ...

    def lookup(self, path: str) -> ActorRef[Any] | None:
        """The live actor at ``path``, or None (see `ActorSystem.lookup`)."""
        ...

    def status_tree(self) -> StatusNode:
        """A snapshot of every actor's status (see `ActorSystem.status_tree`)."""
        ...

    def shutdown(self, timeout: float | None = ...) -> ShutdownReport:
        """Stop every actor and thread (see `ActorSystem.shutdown`)."""
        ...


class SpawnSpec(NamedTuple):
    """A spawn request whose options are checked: what the new actor is built from."""

    factory: Callable[..., Actor[Any]]
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any] | None
    name: str | None
    capacity: int | None
    overflow: Overflow
    pinned: bool


class Spawning:
    """``spawn``, shared by `ActorContext` (children) and `ActorSystem` (top level)."""

    __slots__ = ()

    if TYPE_CHECKING:

        def _spawn(self, spec: SpawnSpec) -> ActorRef[Any]: ...

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
        """Start an actor and return its ref: a child of this actor (``context.spawn``)
        or a top-level actor under ``/user`` (``system.spawn``).

        Constructor arguments follow the factory; keyword ones go in ``kwargs``
        so that they never clash with spawn's own options:
        ``spawn(Worker, db, name="w", kwargs={"retries": 3})`` builds
        ``Worker(db, retries=3)``, and builds it again the same way (with the
        same argument objects) on every restart.

        Args:
            factory: An `Actor` subclass, or any callable returning a new actor
                instance (a function, a lambda, a ``functools.partial``).
            *args: Positional arguments for ``factory``.
            name: Unique among siblings; generated if None (``$1``, ``$2``... counted
                per parent, never given twice under one parent).
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
            ActorStoppedError: If the parent actor is stopping.
            ActorSystemClosedError: If the system is shutting down.
        """
        capacity = check_spawn_options(name, capacity, overflow, pinned)
        return self._spawn(SpawnSpec(factory, args, kwargs, name, capacity, overflow, pinned))


class ActorContext(Spawning, ResourceContext):
    """An actor's view of the runtime: its ref, family, system, timers, status and
    resources (`publish`, `lookup`, `need`, `subscribe`, `link`).

    Get it as ``self.context`` from ``on_start`` on (it is attached after the
    actor's ``__init__`` returns).

    Thread safety: call it from the actor's own hooks; refs it hands out may
    be used from any thread.
    """

    __slots__ = ()

    if TYPE_CHECKING:
        # What the implementing cell provides (its runtime layers, ``_cell/``).
        @property
        def _ref(self) -> ActorRef[Any]: ...

        _name: str
        _path: str
        _status: ServiceStatus

        @property
        def _system(self) -> ActorSystemLike: ...
        def _parent_ref(self) -> ActorRef[Any] | None: ...
        def _child_refs(self) -> tuple[ActorRef[Any], ...]: ...
        def _child_ref(self, name: str) -> ActorRef[Any] | None: ...
        def _request_stop(self, reason: str | None) -> None: ...
        def _report_status(self, status: ServiceStatus) -> None: ...
        def _add_timer(
            self, delay: float, message: object, period: float | None
        ) -> TimerHandle: ...
        def _set_receive_timeout(self, seconds: float | None) -> None: ...
        def _asker(self) -> Asker: ...
        def _as_supervisor(self) -> Supervisor: ...

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
        return self._parent_ref()

    @property
    def system(self) -> ActorSystemLike:
        """The actor system this actor belongs to (an `ActorSystem` on threads)."""
        return self._system

    @property
    def children(self) -> tuple[ActorRef[Any], ...]:
        """Refs of the live children, in spawn order."""
        return self._child_refs()

    def child(self, name: str) -> ActorRef[Any] | None:
        """The live child called ``name``, or None."""
        return self._child_ref(name)

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
        request_ask(self._asker(), target, message, timeout, tag, adapt)

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
        request_pipe(self._asker(), future, timeout, tag, adapt)


class Actor(Generic[M]):
    """An object that owns its state and talks only by messages.

    Subclass it and override the hooks. The runtime calls them one at a time, so
    the actor's state needs no lock: each turn happens-after the previous one.

    Hooks:
        on_start: Before the first message (and again after a restart).
        receive: For each message; the return value is the reply to an ask.
        on_stop: Once, after the actor's children have stopped.

    A hook that raises reports the failure to the parent's supervisor strategy
    (`supervisor_strategy`), which decides to resume, restart, stop or escalate.

    Thread safety: an actor instance is touched only by the thread running its
    current turn. Other threads talk to it through its `ActorRef`.
    """

    #: How this actor supervises its children; None means the default
    #: (one-for-one, restart, at most 3 restarts in 5 seconds).
    supervisor_strategy: SupervisorStrategy | None = None

    #: When True, a restart keeps this instance (and so its state): on_stop and
    #: on_start run on the same object instead of a new one from the factory.
    keep_instance_on_restart: bool = False

    #: Resources (`ResourceKey` objects or types) that must be visible to this
    #: actor before its on_start runs; until then it is Initializing, its
    #: messages wait and it holds no worker.
    needs: Sequence[ResourceKey[Any] | type[Any]] = ()
    #: Seconds to wait for `needs` before failing to the supervisor with
    #: `ResourceTimeoutError` naming the missing keys; None waits for ever.
    needs_timeout: float | None = None
    #: Resources this actor publishes (in on_start, say): declared, a cycle of
    #: actors waiting for each other's resources fails at once with
    #: `ResourceCycleError` instead of waiting for the timeout.
    provides: Sequence[ResourceKey[Any] | type[Any]] = ()

    _context: ActorContext

    @property
    def context(self) -> ActorContext:
        """The actor's runtime context: its ref, parent, system, spawn, ask and stop.

        The runtime attaches it right after the constructor returns, so it is
        there from `on_start` on, not in ``__init__``.

        Raises:
            RuntimeError: If used in ``__init__`` (move that code to `on_start`),
                or on an actor instantiated directly instead of by ``spawn``.
        """
        try:
            return self._context
        except AttributeError:
            raise RuntimeError(
                f"{type(self).__name__} has no context yet: the runtime attaches it after "
                "__init__ returns, so use self.context in on_start (or later hooks), not in "
                "__init__. (An actor instantiated directly rather than by ActorSystem.spawn "
                "or context.spawn never gets one.)"
            ) from None

    # The lifecycle hooks return `object` so that `AsyncActor` (and user
    # subclasses of it) may override them with coroutines.
    def on_start(self) -> object:
        """Called before the first message is received."""

    def receive(self, message: M) -> Any:
        """Handle one message; the return value answers an ask."""
        raise NotImplementedError(f"{type(self).__name__} does not override receive()")

    def on_stop(self) -> object:
        """Called once when the actor stops, after its children stopped."""

    def derive_status(self, children: Mapping[str, ServiceStatus]) -> ServiceStatus | None:
        """Override to derive this actor's status from its children's.

        Called in this actor's turn whenever a child's status changes, with each
        live child's status by name; return a status to set (Running, Degraded,
        Maintenance, Idle or Outage) or None to leave it. Not overriding it
        costs nothing.
        """
        return None

    def on_child_failure(self, failure: Failure) -> None:
        """Decide what happens to a failed child (see `SupervisorStrategy`)."""
        strategy = self.supervisor_strategy or DEFAULT_STRATEGY
        strategy.handle(self.context._as_supervisor(), failure)


class AsyncActor(Actor[M]):
    """An actor whose hooks and `receive` are coroutines.

    It runs on the system's event-loop thread; ``await`` inside `receive` holds
    no worker thread. Messages are still handled one at a time. Inside it, use
    ``await ref.ask_async(...)`` rather than the blocking ``ref.ask``.
    """

    async def on_start(self) -> None:
        """Called before the first message."""

    async def receive(self, message: M) -> Any:
        """Handle one message; the return value answers an ask."""
        raise NotImplementedError(f"{type(self).__name__} does not override receive()")

    async def on_stop(self) -> None:
        """Called once when the actor stops."""


class Root(Actor[Any]):
    """An actor that only holds (and supervises) children: it takes no messages.

    The ``/user`` guardian and an application's root are both this.
    """

    def receive(self, message: Any) -> Any:
        raise TypeError(f"{self.context.self.path} takes no messages, got {message!r}")
