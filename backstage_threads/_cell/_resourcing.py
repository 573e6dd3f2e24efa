"""Resources of one actor: publishing, watching, and waiting for them to start.

The registry (``_resources``, owned by the system) holds the values; this
layer is the actor's side of it. It implements `Holder`: whatever the registry
decides for this actor arrives as a mailbox message (`Published`, `Dropped`)
or as a system message (the start may go on, the start wait failed, a linked
resource was lost), so the actor always handles it in its own turn.

Start dependencies: an actor whose class declares ``needs`` (or whose
``on_start`` calls ``context.need`` for a key not yet there) stays NEW and
Initializing: the turn does not run ``on_start``, its messages wait in the
mailbox, and the turn ends as any turn does, so the actor holds no worker. A
system message from the registry starts it once every key is visible, or
fails it to its supervisor (a timeout, a cycle). When an incarnation ends (a
stop, or before a restart's new start), the registry forgets it: what it
published is dropped (a stop) or withdrawn for a replacement (a restart).
"""

from __future__ import annotations

from typing import Any

from .._errors import ActorStoppedError
from .._local import current
from .._resource_keys import LinkAction, Visibility, key_name
from .._resources import ResourceRegistry
from .._status import ServiceStatus
from ._lifecycle import Lifecycle
from ._states import (
    NEW,
    RESOURCE_LOST,
    RESOURCES_FAILED,
    RESOURCES_READY,
    RUNNING,
    STOPPED,
    STOPPING,
)

__all__ = ["Resourcing", "StartDeferred"]


class StartDeferred(Exception):
    """Raised by ``context.need`` in ``on_start``: start again once ``keys`` are there."""

    def __init__(self, keys: tuple[object, ...], timeout: float | None) -> None:
        super().__init__(f"waiting for resource(s) {', '.join(map(key_name, keys))}")
        self.keys = keys
        self.timeout = timeout


class Resourcing(Lifecycle):
    """An actor's resources: what it publishes, watches and waits for."""

    __slots__ = ()

    @property
    def _registry(self) -> ResourceRegistry:
        return self._system._resources

    def _check_own_turn(self, what: str) -> None:
        # An async actor's hooks run on the loop thread, outside any turn.
        if current.cell is not self and not current.on_loop:
            raise RuntimeError(
                f"{what} must be called from {self._path}'s own hooks (on_start, receive...), "
                "not from another thread or another actor"
            )
        if self._state is STOPPING or self._state is STOPPED:
            raise ActorStoppedError(f"{self._path} is stopping; cannot {what}")

    # -- what ActorContext offers (arguments already checked) ---------------------------

    def _publish(self, key: object, value: object, visibility: Visibility) -> int:
        self._check_own_turn(f"publish({key_name(key)})")
        return self._registry.publish(self, key, value, visibility)

    def _lookup(self, key: object) -> Any:
        return self._registry.lookup(self._path, key)

    def _subscribe(self, key: object) -> None:
        self._check_own_turn(f"subscribe({key_name(key)})")
        self._registry.subscribe(self, key)

    def _unsubscribe(self, key: object) -> bool:
        return self._registry.unsubscribe(self, key)

    def _link(
        self,
        key: object,
        on_drop: LinkAction,
        on_replace: LinkAction | None,
        timeout: float | None,
    ) -> None:
        self._check_own_turn(f"link({key_name(key)})")
        self._registry.link(self, key, on_drop, on_replace, timeout)

    def _need(self, key: object, timeout: float | None) -> Any:
        if self._status is not ServiceStatus.INITIALIZING or self._state is not RUNNING:
            raise RuntimeError(
                f"need({key_name(key)}) is for on_start (it defers the start); "
                "use lookup() in later hooks"
            )
        value = self._registry.lookup(self._path, key)
        if value is None:
            raise StartDeferred((key,), timeout)
        return value

    # -- the start, deferred while resources are missing --------------------------------

    def _run_on_start(self) -> None:
        registry = self._registry
        if registry.has_waits() and registry.waiting(self):
            return  # still waiting (a message woke the turn): messages keep waiting
        actor = self._actor
        assert actor is not None
        needs = actor.needs
        if needs and self._defer_start(tuple(needs), actor.needs_timeout):
            return
        super()._run_on_start()

    def _defer_start(self, keys: tuple[object, ...], timeout: float | None) -> bool:
        """Wait for ``keys`` before on_start; False if they are all visible already."""
        actor = self._actor
        provides = tuple(actor.provides) if actor is not None else ()
        self._set_status(ServiceStatus.INITIALIZING)
        return self._registry.wait(self, keys, provides, timeout)

    def _fail(self, error: Exception, message: object, hook: str) -> None:
        if hook == "on_start" and isinstance(error, StartDeferred):
            self._state = NEW  # on_start runs again once the keys are there
            actor = self._actor
            timeout = (
                error.timeout
                if error.timeout is not None
                else (actor.needs_timeout if actor is not None else None)
            )
            if not self._defer_start(error.keys, timeout):
                self._post_system((RESOURCES_READY, None))  # published meanwhile
            return
        super()._fail(error, message, hook)

    def _other_system(self, kind: int, payload: Any) -> None:
        if kind == RESOURCES_READY:
            if self._state is NEW:
                self._start()
        elif kind == RESOURCES_FAILED:
            if self._state is NEW:
                self._registry.end_wait(self)
                self._fail(payload, None, "needs")
        elif kind == RESOURCE_LOST:
            error, action = payload
            if action is LinkAction.STOP:
                self._begin_stop(str(error))
            elif self._state is not RUNNING:
                return  # failed or restarting already: that goes on
            elif action is LinkAction.RESTART:
                self._restart(True)  # on its own: not a failure, no supervisor
            else:
                self._fail(error, None, "link")
        else:
            super()._other_system(kind, payload)

    def _incarnation_ended(self, reason: str, restarting: bool) -> None:
        registry = self._registry
        if registry.involves(self):
            registry.forget(self, reason, restarting)
        super()._incarnation_ended(reason, restarting)

    # -- Holder: what the registry calls (from any thread; each only posts) --------------

    def _resources_ready(self) -> None:
        self._post_system((RESOURCES_READY, None))

    def _resources_failed(self, error: Exception) -> None:
        self._post_system((RESOURCES_FAILED, error))

    def _resource_lost(self, error: Exception, action: LinkAction) -> None:
        self._post_system((RESOURCE_LOST, (error, action)))
