"""`DeterministicScheduler`: every actor turn on the test's thread, in a seeded order."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import TypeVar

from .._dispatcher import Runnable, WorkerStatistics
from .._local import current
from .._no_interrupt import dispatcher
from .._scheduler import DEFAULT_BUDGET

__all__ = ["DeterministicScheduler", "SchedulerStalledError"]

T = TypeVar("T")

#: `run_until_idle` gives up after this many turns: a livelock (two actors
#: bouncing a message forever) then fails the test instead of hanging it.
DEFAULT_MAX_TURNS = 1_000_000


class SchedulerStalledError(RuntimeError):
    """`run_until_idle` hit its turn limit: some actors never go idle."""


class DeterministicScheduler:
    """Runs actor turns on the thread that created it, choosing among the
    runnable actors with a seeded pseudo-random generator.

    The same seed and the same test give the same interleaving, so a failure
    found once replays. Blocking calls made on the driving thread (``ask``,
    ``wait_stopped``, a BLOCK send to a full mailbox) run turns until they can
    return instead of waiting, and fail at once if no actor has work left.

    Thread safety: `submit` may be called from any thread (a timer thread, a
    test's helper thread); turns only ever run on the driving thread.
    """

    supports_pinning = False

    def __init__(
        self,
        seed: int | None = None,
        *,
        budget: int = DEFAULT_BUDGET,
        max_turns: int = DEFAULT_MAX_TURNS,
    ) -> None:
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
        self.budget = budget
        self.max_turns = max_turns
        self._rng = random.Random(self.seed)
        # Guards _ready: cells submitted and not yet run.
        self._lock = threading.Lock()
        self._ready: list[Runnable] = []
        self._owner = threading.get_ident()
        self.turns = 0
        self.messages = 0

    @property
    def size(self) -> int:
        return 1

    def start(self) -> None:
        if threading.get_ident() == self._owner:
            current.driver = self.run_until

    @dispatcher
    def submit(self, cell: Runnable) -> None:
        with self._lock:
            self._ready.append(cell)

    def run_once(self) -> bool:
        """Run one turn of a randomly chosen runnable actor; False if none."""
        with self._lock:
            if not self._ready:
                return False
            cell = self._ready.pop(self._rng.randrange(len(self._ready)))
        previous = current.on_worker
        current.on_worker = True  # a turn never blocks the driving thread
        slot = current.turn  # (see Runnable; a turn may drive turns of others)
        running = slot.cell
        slot.cell = cell
        try:
            self.messages += cell._run_turn(self.budget)
        finally:
            current.on_worker = previous
            slot.cell = running
        self.turns += 1
        return True

    def run_until(self, done: Callable[[], bool]) -> bool:
        """Run turns until ``done()`` or no actor has work; return ``done()``."""
        for _ in range(self.max_turns):
            if done() or not self.run_once():
                return done()
        raise SchedulerStalledError(
            f"still not done after {self.max_turns} turns (seed {self.seed})"
        )

    def run_until_idle(self) -> int:
        """Run turns until no actor has work; return how many turns ran."""
        before = self.turns
        self.run_until(lambda: False)
        return self.turns - before

    @property
    def idle(self) -> bool:
        """True when no actor has work."""
        with self._lock:
            return not self._ready

    def blocking(self, wait: Callable[[], T]) -> T:
        """A blocking call drives the turns itself here (see `run_until`)."""
        return wait()

    def shutdown(self, timeout: float | None) -> list[str]:
        self.run_until_idle()
        if current.driver == self.run_until:
            current.driver = None
        return []

    def statistics(self) -> tuple[WorkerStatistics, ...]:
        return (WorkerStatistics("deterministic", self.turns, self.messages, 0, 0),)
