"""`HostState`: the fields and cross-calls the halves of a `Host` share.

`Host` is one class spread over mixins by concern (``_turns.py``: the
lifecycle; ``_family.py``: children, supervision, watches), as Akka spreads its
``ActorCell`` over traits. This base only declares, for the type checker, what
each half may use of the others; it holds no behaviour.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._actor import Actor, ActorContext
    from .._factory import Factory
    from .._overflow import Overflow
    from .._status import ServiceStatus
    from .._supervision import Supervisor
    from .._timers import TimerService
    from ._child import Child
    from ._mailbox import HostMailbox, Letter
    from ._office import Forwarder, OfficeQueue
    from ._ref import RayActorRef
    from ._spec import ChildFailed, ChildGone, HostSpec, WatchFired

__all__ = ["HostState"]


class HostState:
    """Declarations shared by the mixins of `Host` (see the module docstring)."""

    if TYPE_CHECKING:
        spec: HostSpec
        reconstructed: bool
        ref: RayActorRef[Any]
        mailbox: HostMailbox
        office: OfficeQueue | None
        dead_letters: Forwarder
        timers: TimerService
        context: ActorContext
        children: dict[str, Child]
        host_actor: Any  # the Ray actor class of hosts, for spawning children
        status: ServiceStatus
        since: float
        restarts: int
        actor: Actor[Any] | None
        state: str
        receive_timeout: float | None
        turn_thread: threading.Thread
        restart_log: list[float] | None
        _family_lock: threading.Lock

        def request_stop(self, reason: str | None) -> None: ...
        def drop(self, letter: Letter, reason: str, error: BaseException) -> None: ...
        def mark_stopped(self, reason: str) -> None: ...
        def set_status(self, status: ServiceStatus) -> None: ...
        def deliver(self, message: object) -> None: ...
        def _fail(self, error: Exception, message: object, hook: str) -> None: ...
        def stop_children(self, reason: str) -> None: ...
        def unwatch_all(self) -> None: ...
        def child_failed(self, report: ChildFailed) -> None: ...
        def child_gone(self, gone: ChildGone) -> None: ...
        def watch_fired(self, fired: WatchFired) -> None: ...
        def child_records(self) -> list[Child]: ...
        def spawn(
            self,
            factory: Factory,
            name: str | None,
            capacity: int | None,
            overflow: Overflow,
            options: dict[str, Any],
            pinned: bool = False,
        ) -> RayActorRef[Any]: ...
        def watch(self, ref: RayActorRef[Any]) -> None: ...
        def unwatch(self, ref: RayActorRef[Any]) -> None: ...
        def as_supervisor(self) -> Supervisor: ...
