"""The snapshots an actor system reports: its counters and its shutdown."""

from __future__ import annotations

from dataclasses import dataclass

from ._dispatcher import WorkerStatistics

__all__ = ["ShutdownReport", "SystemStatistics"]


@dataclass(frozen=True, slots=True)
class SystemStatistics:
    """Counters of one actor system, summed over its workers on demand.

    Attributes:
        worker_deaths: Worker threads that died of an internal error (each was
            replaced at once, and its actor failed to its supervisor).
        internal_errors: Turns that raised inside the runtime itself (the
            actor was failed to its supervisor; the worker went on).
        spares: Spare workers running now because a turn blocks in an ask.
    """

    workers: tuple[WorkerStatistics, ...]
    turns: int
    messages: int
    steals: int
    parks: int
    dead_letters: int
    worker_deaths: int = 0
    internal_errors: int = 0
    spares: int = 0


@dataclass(frozen=True, slots=True)
class ShutdownReport:
    """What `ActorSystem.shutdown` achieved.

    Attributes:
        clean: True when every actor stopped and every thread exited in time.
        unstopped: Paths of actors that had not stopped by the deadline.
        threads_alive: Names of threads the system started that are still alive.
    """

    clean: bool
    unstopped: tuple[str, ...]
    threads_alive: tuple[str, ...]
