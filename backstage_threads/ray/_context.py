"""`RayContext`: ``self.context`` inside a Ray-hosted actor.

It subclasses the public `ActorContext` and overrides every method and property
with the host's version, so an actor's code reads the same on both backends:
``self.context.self``, ``.parent``, ``.system`` (a `RaySystem` attached to the
cluster from inside the worker process), ``.spawn`` (children owned by this
actor), ``.stop``, ``.watch``/``.unwatch``, ``.send_after``/``.send_every``,
``.set_receive_timeout``, ``.ask``/``.pipe`` and the status. None of the thread
backend's cell machinery is used.

It knows the host only through `ContextHost`, the Protocol declared here of
what a context needs (the `Host` of ``_host.py``, above this module, satisfies
it), as the thread backend's cell knows its system only as a `CellHost`.

Thread safety: as for `ActorContext`, call it from the actor's own hooks (the
host runs them one turn at a time, on its turn thread or, for an ask to an
idle actor, on the Ray thread that brought it); the refs it hands out work
from any thread and process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Protocol

from .._actor import ActorContext
from .._errors import BackstageError
from .._factory import actor_factory
from .._mailbox import DEFAULT_CAPACITY
from .._overflow import Overflow
from .._ref import ActorRef
from .._request import Adapt, _check_adapt, _Request, pipe
from .._status import SETTABLE, ServiceStatus
from .._timers import TimerHandle
from .._validate import check_timeout
from ._options import check_spawn
from ._ref import RayActorRef
from ._view import SystemView

if TYPE_CHECKING:
    from .._actor import Actor
    from .._factory import Factory
    from .._supervision import Supervisor
    from .._timers import TimerService
    from ._spec import HostSpec

__all__ = ["ContextHost", "RayContext"]


class DeadLetterSink(Protocol):
    """Where a host records its dead letters (the `Forwarder` of ``_office.py``)."""

    def record(self, recipient: Any, message: object, reason: str) -> None: ...


class ChildEntry(Protocol):
    """A child as a context lists it (the `Child` of ``_child.py``)."""

    @property
    def ref(self) -> RayActorRef[Any]: ...


class ContextHost(Protocol):
    """What `RayContext` needs of the host it belongs to."""

    receive_timeout: float | None  # set by the context, read between turns

    @property
    def spec(self) -> HostSpec: ...
    @property
    def ref(self) -> RayActorRef[Any]: ...
    @property
    def status(self) -> ServiceStatus: ...
    @property
    def timers(self) -> TimerService: ...
    @property
    def dead_letters(self) -> DeadLetterSink: ...

    def child_records(self) -> Sequence[ChildEntry]: ...
    def spawn(
        self,
        factory: Factory,
        name: str | None,
        capacity: int | None,
        overflow: Overflow,
        options: dict[str, Any],
        pinned: bool = ...,
    ) -> RayActorRef[Any]: ...
    def request_stop(self, reason: str | None) -> None: ...
    def set_status(self, status: ServiceStatus) -> None: ...
    def deliver(self, message: object) -> None: ...
    def watch(self, ref: RayActorRef[Any]) -> None: ...
    def unwatch(self, ref: RayActorRef[Any]) -> None: ...
    def as_supervisor(self) -> Supervisor: ...


class RayContext(ActorContext):
    """An actor's view of the runtime when it runs on a Ray cluster."""

    __slots__ = ("_host", "_system_view")

    def __init__(self, host: ContextHost) -> None:
        self._host = host
        self._system_view: SystemView | None = None

    @property
    def self(self) -> RayActorRef[Any]:
        """This actor's own ref."""
        return self._host.ref

    @property
    def name(self) -> str:
        """This actor's name among its siblings."""
        return self._host.spec.name

    @property
    def path(self) -> str:
        """This actor's path, such as ``/user/app/db``."""
        return self._host.spec.path

    @property
    def parent(self) -> RayActorRef[Any] | None:
        """The parent's ref (None only for the ``/user`` guardian)."""
        parent = self._host.spec.parent
        assert parent is None or isinstance(parent, RayActorRef)
        return parent

    @property
    def system(self) -> SystemView:
        """The system, as seen from this worker process (spawn, lookup)."""
        if self._system_view is None:
            spec = self._host.spec
            self._system_view = SystemView(spec.system, spec.namespace)
        return self._system_view

    @property
    def children(self) -> tuple[RayActorRef[Any], ...]:
        """Refs of the live children, in spawn order."""
        return tuple(child.ref for child in self._host.child_records())

    def child(self, name: str) -> RayActorRef[Any] | None:
        """The live child called ``name``, or None."""
        for child in self._host.child_records():
            if child.ref.name == name:
                return child.ref
        return None

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
        ray_options: Mapping[str, Any] | None = None,
    ) -> RayActorRef[Any]:
        """Start a child actor in its own Ray actor, owned by this one.

        As `ActorContext.spawn`; ``pinned`` runs every turn on the child host's
        own thread (unpinned, an ask to an idle actor runs on the thread that
        brought it), and ``ray_options`` are passed to Ray's ``.options()``
        (resources, scheduling strategy).
        """
        build = actor_factory(factory, args, kwargs)
        capacity, options = check_spawn(name, capacity, overflow, pinned, ray_options)
        return self._host.spawn(build, name, capacity, overflow, options, pinned)

    def stop(self, child: ActorRef[Any] | None = None) -> None:
        """Stop this actor (or one of its children) after the message in hand."""
        if child is None:
            self._host.request_stop(None)
        else:
            child.stop()

    @property
    def status(self) -> ServiceStatus:
        """This actor's current service status."""
        return self._host.status

    def set_status(self, status: ServiceStatus) -> None:
        """Report a service status (Running, Degraded, Maintenance, Idle or Outage)."""
        if status not in SETTABLE:
            raise ValueError(f"an actor may set {sorted(s.name for s in SETTABLE)}, got {status!r}")
        self._host.set_status(status)

    def watch(self, ref: ActorRef[Any]) -> None:
        """Receive `Terminated(ref, reason)` when ``ref`` stops, or its Ray actor dies."""
        self._host.watch(_ray_ref(ref, "watch"))

    def unwatch(self, ref: ActorRef[Any]) -> None:
        """Stop watching ``ref``; a Terminated already on its way may still arrive."""
        self._host.unwatch(_ray_ref(ref, "unwatch"))

    def send_after(self, delay: float, message: object) -> TimerHandle:
        """Send ``message`` to this actor after ``delay`` seconds; cancellable."""
        delay = check_timeout(delay, "delay") or 0.0
        return self._host.timers.schedule(delay, lambda: self._host.deliver(message))

    def send_every(self, period: float, message: object) -> TimerHandle:
        """Send ``message`` to this actor every ``period`` seconds; cancellable."""
        period = check_timeout(period, "period") or 0.0
        if not period:
            raise ValueError(f"period must be a number of seconds > 0, got {period!r}")
        return self._host.timers.schedule(period, lambda: self._host.deliver(message), period)

    def set_receive_timeout(self, seconds: float | None) -> None:
        """Deliver `ReceiveTimeout` whenever no message arrived for ``seconds``."""
        seconds = check_timeout(seconds, "receive timeout")
        self._host.receive_timeout = seconds or None

    def ask(
        self,
        target: ActorRef[Any],
        message: object,
        *,
        timeout: float | None,
        tag: object = None,
        adapt: Adapt | None = None,
    ) -> None:
        """Ask without waiting; one `Response` comes back as a message (see `ActorContext.ask`)."""
        ref = _ray_ref(target, "context.ask")
        timeout = check_timeout(timeout)
        _check_adapt(adapt)
        request = _Request(_Asker(self._host), tag, adapt, ref.path, timeout)
        if timeout is not None:
            request.timer = self._host.timers.schedule(timeout, request.expire)
        try:
            future = ref.ask_future(message)
        except (BackstageError, TypeError) as error:
            request.send_failed(error)
            return
        future.add_done_callback(request.from_future)

    def pipe(
        self,
        future: Future[Any],
        *,
        timeout: float | None = None,
        tag: object = None,
        adapt: Adapt | None = None,
    ) -> None:
        """Send the outcome of ``future`` to this actor as a `Response` message."""
        pipe(_Asker(self._host), future, timeout, tag, adapt)

    def _as_supervisor(self) -> Supervisor:
        """The host as its strategy acts on it (``Actor.on_child_failure``)."""
        return self._host.as_supervisor()


class _Asker:
    """The host as `context.ask`/`pipe` requests need it (the `Asker` Protocol)."""

    __slots__ = ("_host",)

    def __init__(self, host: ContextHost) -> None:
        self._host = host

    def _deliver(self, message: object) -> None:
        self._host.deliver(message)

    def _dead_letter(self, message: object, reason: str) -> None:
        self._host.dead_letters.record(self._host.ref, message, reason)

    def _schedule(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        return self._host.timers.schedule(delay, callback)


def _ray_ref(ref: object, what: str) -> RayActorRef[Any]:
    if not isinstance(ref, RayActorRef):
        raise TypeError(f"{what}() needs the RayActorRef of an actor of this system, got {ref!r}")
    return ref
