"""backstage_threads: supervised actors for free-threaded Python.

Actors own their state and talk only by messages; bounded mailboxes push back
instead of growing; a work-stealing scheduler runs any number of actors on a
fixed pool of threads, in parallel on no-GIL builds; supervisors restart what
fails.

The library logs through loguru and is disabled by default, as loguru advises
for libraries; turn it on with ``logger.enable("backstage_threads")``, before or
after importing the package.
"""

from __future__ import annotations

from loguru import logger as _logger

from ._actor import Actor, ActorContext, ActorSystemLike, AsyncActor
from ._aio import HOOK_TIMEOUT
from ._app import Application
from ._clock import Clock, MonotonicClock
from ._deadletters import DeadLetter, DeadLetters
from ._dispatcher import Dispatcher, WorkerStatistics
from ._errors import (
    ActorFailedError,
    ActorInitializationError,
    ActorStoppedError,
    ActorSystemClosedError,
    AskTimeoutError,
    BackstageError,
    DeadlockError,
    DuplicateNameError,
    MailboxFullError,
    ResourceCycleError,
    ResourceLostError,
    ResourceTimeoutError,
    SendTimeoutError,
)
from ._events import (
    ActorRestarted,
    ActorStarted,
    ActorStopped,
    EventStream,
    EventStreamStatistics,
    EventSubscription,
    StatusChanged,
    WorkerDied,
)
from ._exports import publish
from ._mailbox import DEFAULT_CAPACITY
from ._metrics import ActorClassMetrics, ActorMetrics, DurationHistogram, SystemMetrics
from ._overflow import Overflow
from ._pool import Pool, spawn_pool
from ._prometheus import PrometheusCollector, register_metrics
from ._ref import ActorRef
from ._request import Response
from ._resource_keys import Dropped, Key, LinkAction, Published, ResourceKey, Visibility
from ._routing import ConsistentHash, LeastLoaded, RoundRobin, Routing
from ._scheduler import DEFAULT_BUDGET
from ._signals import ReceiveTimeout, Terminated
from ._statistics import ShutdownReport, SystemStatistics
from ._status import ServiceStatus, StatusNode
from ._status_server import StatusServer, StatusServerStatistics
from ._subscription import Subscription
from ._supervision import (
    Decider,
    Decision,
    Directive,
    Failure,
    Need,
    RestartAfter,
    Scope,
    SupervisorStrategy,
    default_decider,
)
from ._system import ActorSystem
from ._timers import TimerHandle
from ._version import __version__ as __version__


def _disable_logging_by_default() -> None:
    """Disable the package's logging unless the app already said otherwise.

    An app may configure loguru before importing us; a plain
    ``logger.disable("backstage_threads")`` here would silently undo its
    ``logger.enable("backstage_threads")`` (and drop its settings for our
    modules). loguru has no public way to ask, so this reads its private
    ``_core.activation_list``: ``(name + ".", enabled)`` pairs, replaced whole
    on every change, so reading it needs no lock. If that detail is missing or
    changes shape, we fall back to disabling, the documented default.
    """
    package = "backstage_threads."
    try:
        ours = [
            (prefix, bool(enabled))
            for prefix, enabled in _logger._core.activation_list  # type: ignore[attr-defined]
            if isinstance(prefix, str) and prefix.startswith(package)
        ]
    except Exception:  # noqa: BLE001 - a loguru detail we cannot read: use the default
        ours = []
    if any(prefix == package for prefix, _ in ours):
        return  # the app enabled or disabled the package itself: keep its choice
    _logger.disable("backstage_threads")  # (this also drops entries for our modules)
    for prefix, enabled in sorted(ours, key=lambda entry: entry[0].count(".")):
        (_logger.enable if enabled else _logger.disable)(prefix[:-1])


_disable_logging_by_default()

__all__ = [
    "DEFAULT_BUDGET",
    "DEFAULT_CAPACITY",
    "HOOK_TIMEOUT",
    "Actor",
    "ActorClassMetrics",
    "ActorContext",
    "ActorFailedError",
    "ActorInitializationError",
    "ActorMetrics",
    "ActorRef",
    "ActorRestarted",
    "ActorStarted",
    "ActorStopped",
    "ActorStoppedError",
    "ActorSystem",
    "ActorSystemClosedError",
    "ActorSystemLike",
    "Application",
    "AskTimeoutError",
    "AsyncActor",
    "BackstageError",
    "Clock",
    "ConsistentHash",
    "DeadLetter",
    "DeadLetters",
    "DeadlockError",
    "Decider",
    "Decision",
    "Directive",
    "Dispatcher",
    "Dropped",
    "DuplicateNameError",
    "DurationHistogram",
    "EventStream",
    "EventStreamStatistics",
    "EventSubscription",
    "Failure",
    "Key",
    "LeastLoaded",
    "LinkAction",
    "MailboxFullError",
    "MonotonicClock",
    "Need",
    "Overflow",
    "Pool",
    "PrometheusCollector",
    "Published",
    "ReceiveTimeout",
    "ResourceCycleError",
    "ResourceKey",
    "ResourceLostError",
    "ResourceTimeoutError",
    "Response",
    "RestartAfter",
    "RoundRobin",
    "Routing",
    "Scope",
    "SendTimeoutError",
    "ServiceStatus",
    "ShutdownReport",
    "StatusChanged",
    "StatusNode",
    "StatusServer",
    "StatusServerStatistics",
    "Subscription",
    "SupervisorStrategy",
    "SystemMetrics",
    "SystemStatistics",
    "Terminated",
    "TimerHandle",
    "Visibility",
    "WorkerDied",
    "WorkerStatistics",
    "default_decider",
    "register_metrics",
    "spawn_pool",
]

publish(globals(), __all__, __name__)
