"""backstage_threads: supervised actors for free-threaded Python.

Actors own their state and talk only by messages; bounded mailboxes push back
instead of growing; a work-stealing scheduler runs any number of actors on a
fixed pool of threads, in parallel on no-GIL builds; supervisors restart what
fails.

The library logs through loguru and is disabled by default, as loguru advises
for libraries; turn it on with ``logger.enable("backstage_threads")``.
"""

from __future__ import annotations

from loguru import logger as _logger

from ._actor import Actor
from ._aio import AsyncActor
from ._app import Application
from ._cell import ActorCell as ActorContext
from ._clock import Clock, MonotonicClock
from ._deadletters import DeadLetter, DeadLetters
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
    SendTimeoutError,
)
from ._mailbox import DEFAULT_CAPACITY
from ._overflow import Overflow
from ._ref import ActorRef
from ._scheduler import DEFAULT_BUDGET, WorkerStatistics
from ._signals import ReceiveTimeout, Terminated
from ._status import ServiceStatus, StatusNode
from ._subscription import Subscription
from ._supervision import (
    Directive,
    Failure,
    Need,
    RestartAfter,
    Scope,
    SupervisorStrategy,
    default_decider,
)
from ._system import ActorSystem, ShutdownReport, SystemStatistics
from ._timers import TimerHandle

_logger.disable("backstage_threads")

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_BUDGET",
    "DEFAULT_CAPACITY",
    "Actor",
    "ActorContext",
    "ActorFailedError",
    "ActorInitializationError",
    "ActorRef",
    "ActorStoppedError",
    "ActorSystem",
    "ActorSystemClosedError",
    "Application",
    "AskTimeoutError",
    "AsyncActor",
    "BackstageError",
    "Clock",
    "DeadLetter",
    "DeadLetters",
    "DeadlockError",
    "Directive",
    "DuplicateNameError",
    "Failure",
    "MailboxFullError",
    "MonotonicClock",
    "Need",
    "Overflow",
    "ReceiveTimeout",
    "RestartAfter",
    "Scope",
    "SendTimeoutError",
    "ServiceStatus",
    "ShutdownReport",
    "StatusNode",
    "Subscription",
    "SupervisorStrategy",
    "SystemStatistics",
    "Terminated",
    "TimerHandle",
    "WorkerStatistics",
    "default_decider",
]
