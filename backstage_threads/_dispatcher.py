"""The seam between the actor system and what runs actor turns.

`Scheduler` (the work-stealing pool) is the production implementation. A
single-threaded dispatcher (the testing kit has one) runs every turn on the
thread that drives it, through ``current.driver`` (see ``_local.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from ._cell import ActorCell
    from ._scheduler import WorkerStatistics

__all__ = ["Dispatcher"]

T = TypeVar("T")


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

    def submit(self, cell: ActorCell) -> None:
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
