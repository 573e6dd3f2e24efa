"""A work-stealing scheduler that multiplexes actors onto a fixed thread pool.

Design note:
    The unit of scheduling is an actor cell with work (Akka's mailbox-as-task).
    A send that finds the actor idle flips its "scheduled" flag and submits it;
    a turn runs at most ``budget`` messages and then yields, resubmitting the cell
    at the back of the queue if work remains, so one busy actor cannot starve the
    others. The turn's final re-check after clearing the flag closes the
    lost-wakeup window (see the end of `ActorCell._run_turn`).

    Each worker owns a run queue (a deque: the owner pops from the left, thieves
    from the right; each pop is one atomic C call). Submissions from a worker go
    to its own queue; submissions from other threads go to a shared injection
    queue. As in Go, a worker looks at the injection queue first every
    `_INJECT_EVERY` turns so local work cannot starve outside submissions. An
    idle worker steals half of a victim's queue (tokio, Go), starting from a
    random victim.

    A worker that finds nothing parks on its own lock, after registering in the
    idle stack and re-checking every queue. A submitter pushes first and then
    looks for an idle worker; the parker registers first and then looks for
    work. Both steps are atomic deque operations, so at least one of the two
    sees the other: no lost wake-ups, and a parked worker burns no CPU.

    A submission from a worker wakes an idle peer only when the local queue
    already holds other work, so a ping-pong between two actors stays on one
    hot thread instead of bouncing across cores on every hop.

Constants (measured on a 2-core x86-64 VM, CPython 3.11 and 3.13t; see
``python -m backstage_threads.bench``):
    `DEFAULT_BUDGET` = 64 messages per turn: a turn costs about 1 us of fixed
    overhead on 3.11 (0.36 us of it in the turn itself), which 64 messages
    amortise to under 3% of peak throughput, while a light actor waiting behind a
    flooded one waits at most one 64-message turn per busy worker.
    `_INJECT_EVERY` = 61 turns, Go's prime, so the check does not fall into step
    with periodic workloads.
"""

from __future__ import annotations

import os
import random
import threading
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._local import current

if TYPE_CHECKING:
    from ._cell import ActorCell

__all__ = ["DEFAULT_BUDGET", "Scheduler", "WorkerStatistics"]

DEFAULT_BUDGET = 64
_INJECT_EVERY = 61
# A worker publishes its turn and message counts every this many turns, and
# whenever it parks, so `statistics()` lags a busy worker by under 16 turns.
_PUBLISH_EVERY = 16


@dataclass(frozen=True, slots=True)
class WorkerStatistics:
    """Counters of one worker thread (a snapshot)."""

    name: str
    turns: int
    messages: int
    steals: int
    parks: int


class _Worker:
    """One worker thread's state.

    The counters are written only by the worker's own thread (no shared hot
    counter) and read, racily but harmlessly, by `Scheduler.statistics`.
    """

    __slots__ = ("index", "messages", "name", "parks", "queue", "steals", "thread", "turns", "wake")

    def __init__(self, index: int, name: str) -> None:
        self.index = index
        self.name = name
        self.queue: deque[ActorCell] = deque()
        # Held while the worker is not parked; released once per wake-up. Every
        # worker in the idle stack is released by exactly one waker.
        self.wake = threading.Lock()
        self.wake.acquire()
        self.thread: threading.Thread | None = None
        self.turns = 0
        self.messages = 0
        self.steals = 0
        self.parks = 0


class _WorkerLocal(threading.local):
    """The worker a thread runs (None on any other thread), read on every submit."""

    worker: _Worker | None = None


class Scheduler:
    """A fixed pool of worker threads running actor turns.

    Thread safety: `submit` may be called from any thread; `start` and
    `shutdown` from the owning system only.
    """

    supports_pinning = True

    def __init__(self, workers: int | None, budget: int, name: str) -> None:
        count = workers if workers is not None else (os.cpu_count() or 1)
        self.budget = budget
        self._workers = [_Worker(i, f"{name}-worker-{i}") for i in range(count)]
        self._inject: deque[ActorCell] = deque()
        self._idle: deque[_Worker] = deque()
        # Read by every worker, written once by shutdown(); a stale read is
        # corrected by the wake-up that follows the write.
        self._stopping = False
        self._tls = _WorkerLocal()

    @property
    def size(self) -> int:
        """How many worker threads the pool has."""
        return len(self._workers)

    def start(self) -> None:
        for worker in self._workers:
            thread = threading.Thread(target=self._run, args=(worker,), name=worker.name)
            worker.thread = thread
            thread.start()

    def submit(self, cell: ActorCell) -> None:
        """Queue ``cell`` for a turn; the caller holds its scheduled flag."""
        if self._stopping:
            cell._turn_after_shutdown()
            return
        worker = self._tls.worker
        if worker is not None:
            queue = worker.queue
            queue.append(cell)
            if len(queue) > 1 and self._idle:
                self._wake_one()
        else:
            self._inject.append(cell)
            if self._idle:
                self._wake_one()

    def _wake_one(self) -> None:
        try:
            worker = self._idle.pop()
        except IndexError:
            return
        worker.wake.release()

    def _run(self, worker: _Worker) -> None:
        self._tls.worker = worker
        current.on_worker = True
        budget = self.budget
        turns = 0
        messages = 0
        queue = worker.queue
        pop = queue.popleft
        try:
            while True:
                # The common case inline: our own queue, outside the injection turn.
                cell = None
                if turns % _INJECT_EVERY and queue:
                    try:
                        cell = pop()
                    except IndexError:
                        pass  # a thief took it
                if cell is None:
                    cell = self._find_work(worker, turns)
                    if cell is None:
                        worker.turns = turns
                        worker.messages = messages
                        if not self._park(worker):
                            return
                        continue
                messages += cell._run_turn(budget)
                turns += 1
                if not turns % _PUBLISH_EVERY:
                    # Two writes to this worker's own object, not every turn (each
                    # costs about as much as a tenth of a ping-pong hop on 3.13t).
                    worker.turns = turns
                    worker.messages = messages
        finally:
            worker.turns = turns
            worker.messages = messages
            current.on_worker = False

    def _find_work(self, worker: _Worker, turns: int) -> ActorCell | None:
        if turns % _INJECT_EVERY == 0:
            try:
                return self._inject.popleft()
            except IndexError:
                pass
        try:
            return worker.queue.popleft()
        except IndexError:
            pass
        try:
            return self._inject.popleft()
        except IndexError:
            pass
        return self._steal(worker)

    def _steal(self, thief: _Worker) -> ActorCell | None:
        workers = self._workers
        count = len(workers)
        start = random.randrange(count) if count > 1 else 0
        for offset in range(count):
            victim = workers[(start + offset) % count]
            if victim is thief:
                continue
            take = (len(victim.queue) + 1) // 2
            if not take:
                continue
            stolen: list[ActorCell] = []
            for _ in range(take):
                try:
                    stolen.append(victim.queue.pop())
                except IndexError:
                    break
            if stolen:
                thief.steals += 1
                first = stolen.pop()  # the oldest of the batch runs first
                thief.queue.extend(reversed(stolen))
                return first
        return None

    def _has_work(self) -> bool:
        return bool(self._inject) or any(w.queue for w in self._workers)

    def _park(self, worker: _Worker) -> bool:
        """Park until woken; return False when the pool is shutting down."""
        if self._stopping:
            return False
        self._idle.append(worker)
        if self._has_work() or self._stopping:
            try:
                self._idle.remove(worker)
            except ValueError:
                worker.wake.acquire()  # a waker popped us: absorb its release
            return not self._stopping
        worker.parks += 1
        worker.wake.acquire()
        return not self._stopping

    def shutdown(self, timeout: float | None) -> list[str]:
        """Stop the workers and join them; return the names of threads still alive."""
        self._stopping = True
        for _ in self._workers:
            self._wake_one()
        stuck: list[str] = []
        for worker in self._workers:
            thread = worker.thread
            if thread is None:
                continue
            thread.join(timeout)
            if thread.is_alive():
                stuck.append(thread.name)
        return stuck

    def statistics(self) -> tuple[WorkerStatistics, ...]:
        return tuple(
            WorkerStatistics(w.name, w.turns, w.messages, w.steals, w.parks) for w in self._workers
        )
