"""The seam between the actor system and what runs actor turns.

`Scheduler` (the work-stealing pool) is the production implementation. A
single-threaded dispatcher (the testing kit has one) runs every turn on the
thread that drives it, through ``current.driver`` (see ``_local.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from ._errors import ActorFailedError
from ._local import TurnOwner

__all__ = ["SAMPLE_EVERY", "Dispatcher", "Runnable", "WorkerStatistics"]

T = TypeVar("T")

#: One turn in this many, per worker thread of the pool, is timed for the
#: metrics' receive-duration histograms (see _metrics.py). A timed turn costs two
#: clock reads and a short lock (about 1 us on 3.11); at 1 in 256 that is a few
#: nanoseconds per turn. A power of two: the loop tests ``turns & (SAMPLE_EVERY - 1)``.
SAMPLE_EVERY = 256


class Runnable(TurnOwner, Protocol):
    """What a dispatcher runs: an actor cell whose scheduled flag the submitter holds.

    A dispatcher marks the thread as running the cell for the duration of each
    `_run_turn` call: ``current.turn.cell = cell`` before it, ``None`` after (see
    `TurnSlot`). That is how a blocking ask finds its asker and a send that
    spills finds the sender to mute. (A thread that runs nothing but turns,
    a pool worker, may leave it set until its next turn or its next wait.)
    """

    def _run_turn(self, budget: int) -> int:
        """Run one turn of at most ``budget`` messages; hand the flag on or release it."""
        ...

    def _turn_after_shutdown(self) -> None:
        """The dispatcher has stopped: dead-letter what is queued, free the flag."""
        ...

    #: The actor's path, for reports.
    _path: str

    def _worker_died(self, error: ActorFailedError) -> None:
        """The thread running it died outside its turn: fail it in its next turn."""
        ...


@dataclass(frozen=True, slots=True)
class WorkerStatistics:
    """Counters of one worker thread (a snapshot)."""

    name: str
    turns: int
    messages: int
    steals: int
    parks: int
    #: Times this worker's thread died of an internal error and was replaced.
    deaths: int = 0
    #: True for a spare started while another worker was blocked.
    spare: bool = False
    #: False for the entry that sums the counters of spares that retired.
    alive: bool = True


class Dispatcher(Protocol):
    """Runs actor turns.

    Attributes:
        budget: Messages one actor may process per turn.
        supports_pinning: False when pinned actors must run on this dispatcher
            too (a single-threaded test scheduler).
    """

    budget: int
    supports_pinning: bool

    @property
    def size(self) -> int:
        """How many threads run turns."""
        ...

    def start(self) -> None:
        """Start the threads, if any."""
        ...

    def submit(self, cell: Runnable) -> None:
        """Queue ``cell`` for a turn; the caller holds its scheduled flag."""
        ...

    def blocking(self, wait: Callable[[], T]) -> T:
        """Call ``wait``, which blocks the calling turn's thread, and return its
        result; a pool keeps enough other threads running turns meanwhile."""
        ...

    def shutdown(self, timeout: float | None) -> list[str]:
        """Stop; return the names of threads still alive after ``timeout``."""
        ...

    def statistics(self) -> tuple[WorkerStatistics, ...]:
        """Per-thread counters."""
        ...
