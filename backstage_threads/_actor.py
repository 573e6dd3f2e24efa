"""The `Actor` base class users subclass."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._supervision import DEFAULT_STRATEGY

if TYPE_CHECKING:
    from ._context import ActorContext
    from ._status import ServiceStatus
    from ._supervision import Failure, SupervisorStrategy

__all__ = ["Actor", "M", "Root"]

M = TypeVar("M")


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
        # The context is the supervisor's own cell (see ActorCell).
        (self.supervisor_strategy or DEFAULT_STRATEGY).handle(self.context, failure)  # type: ignore[arg-type]


class Root(Actor[Any]):
    """An actor that only holds (and supervises) children: it takes no messages.

    The ``/user`` guardian and an application's root are both this.
    """

    def receive(self, message: Any) -> Any:
        raise TypeError(f"{self.context.self.path} takes no messages, got {message!r}")
