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
    queue. A worker looks at the injection queue first once every
    `INJECT_INTERVAL` seconds so local work cannot starve outside submissions. An
    idle worker steals half of a victim's queue (tokio, Go), starting from a
    random victim; one that looks outside and finds nothing evens its queue
    out with the longest (see ``_worker``). While cells from outside wait
    behind the one just found, it gets one message and the next is taken
    (`NEW_TURN_BUDGET`, `NEW_TURN_BURST`).

    A worker that finds nothing parks on its own lock, after registering in the
    idle stack and re-checking every queue. A submitter pushes first and then
    looks for an idle worker; the parker registers first and then looks for
    work. Both steps are atomic deque operations, so at least one of the two
    sees the other: no lost wake-ups, and a parked worker burns no CPU.

    The cell a turn wakes (a tell, a spawn or a system message to an idle
    actor, from a worker) runs next on that worker (Go's
    ``runnext``): a leaf's reply is summed by its parent at once, not after
    every cell queued in the meantime has had a turn. It displaces the cell
    woken before it to the back of the queue. Two actors that wake each other
    run so until the clock next says to look outside (`INJECT_INTERVAL`): the
    woken one then joins the back of the queue, and every cell queued there has
    a turn before it (Go's ``runnext`` inherits the running time slice the same
    way). Giving the queue one turn in 8 instead cost a ping-pong hop 2.6 %
    more instructions on 3.13t (every other turn: 25 %). It is not stealable:
    a turn that blocks (`blocking`) puts it back in the queue.

    A submission from a worker wakes an idle peer only when the local queue
    already holds other work, so a ping-pong between two actors stays on one
    hot thread instead of bouncing across cores on every hop.

    Before parking, a worker that just ran out of work keeps looking for
    `SPIN_SECONDS` (Erlang's schedulers spin briefly before sleeping): a reply
    or a request that arrives within that window is picked up without the
    futex round trip of a wake-up, which is most of a plain thread's ask.
    Each round of the spin yields the CPU and the GIL (``sched_yield``), so the
    thread about to submit, or another process on a busy machine, is never
    held up by the spinner.

    Managed blocking (Java's ForkJoinPool): a turn that blocks its worker (a
    blocking ask from inside an actor) first calls `blocking`, which starts a
    *spare* worker whenever fewer spares run than workers are blocked, so the
    pool keeps ``size`` threads running turns and the ask completes even with
    one worker. A spare that finds no work while it is surplus retires.

    No worker dies of a failure: user code is wrapped by the cell, and if a
    turn or the loop itself raises anyway (a runtime bug), the worker reports
    it through ``on_crash``, counts a death, starts a replacement thread for
    its queue and exits.

Constants: see ``_pool_tuning``.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from ._clock import remaining
from ._dispatcher import SAMPLE_EVERY, Runnable, WorkerStatistics
from ._local import current
from ._no_interrupt import dispatcher
from ._pool_tuning import (
    CLOCK_EVERY,
    DEFAULT_BUDGET,
    INJECT_INTERVAL,
    MAX_SPARES,
    NEW_TURN_BUDGET,
    NEW_TURN_BURST,
)
from ._spin import SPIN_SECONDS, yield_cpu
from ._threads import join_thread, start_thread
from ._worker import RunQueue, Worker, WorkerLocal, find_work

__all__ = ["DEFAULT_BUDGET", "Scheduler", "WorkerStatistics"]

T = TypeVar("T")


class Scheduler:
    """A fixed pool of worker threads running actor turns.

    Thread safety: `submit` and `blocking` may be called from any thread;
    `start` and `shutdown` from the owning system only.
    """

    supports_pinning = True

    def __init__(
        self,
        workers: int | None,
        budget: int,
        name: str,
        on_crash: Callable[[str, Runnable | None, BaseException], None] | None = None,
        on_sample: Callable[[Runnable, int, int], None] | None = None,
    ) -> None:
        count = workers if workers is not None else (os.cpu_count() or 1)
        self.budget = budget
        self._name = name
        self._size = count
        # Copy-on-write: replaced (never mutated) under _pool_lock when a spare
        # starts or retires, so thieves and statistics iterate a stable tuple.
        self._workers: tuple[Worker, ...] = tuple(
            Worker(f"{name}-worker-{i}") for i in range(count)
        )
        self._inject: deque[Runnable] = deque()
        self._idle: deque[Worker] = deque()
        # Guards _workers (replacement), _blocked, _spares and _serial.
        self._pool_lock = threading.Lock()
        # Workers inside `blocking` and spares alive. Invariant: a spare parks
        # only while _spares <= _blocked; past that it retires.
        self._blocked = 0
        self._spares = 0
        self._serial = count
        # Read by every worker, written once by shutdown(); a stale read is
        # corrected by the wake-up that follows the write.
        self._stopping = False
        self._tls = WorkerLocal()
        self._on_crash = on_crash
        # Metrics: called with (cell, nanoseconds, messages) for one turn in
        # SAMPLE_EVERY per worker that ran messages (see _metrics.py).
        self._on_sample = on_sample
        # Counters of retired spares (turns, messages, steals, parks), kept so
        # that statistics never go backwards; guarded by _pool_lock.
        self._retired = [0, 0, 0, 0]
        # Threads of retired spares, which may still be exiting: shutdown joins
        # them too (pruned of finished ones as spares retire); guarded by _pool_lock.
        self._exiting: list[threading.Thread] = []

    @property
    def size(self) -> int:
        """How many worker threads the pool keeps running turns."""
        return self._size

    def start(self) -> None:
        for worker in self._workers:
            self._start_thread(worker)

    def _start_thread(self, worker: Worker) -> None:
        # daemon: a last resort behind the bounded shutdown, see _exit.py
        thread = threading.Thread(target=self._run, args=(worker,), name=worker.name, daemon=True)
        worker.thread = thread
        start_thread(thread)

    @dispatcher
    def submit(self, cell: Runnable) -> None:
        """Queue ``cell`` for a turn; the caller holds its scheduled flag."""
        if self._stopping:
            cell._turn_after_shutdown()
            return
        queue = self._tls.queue
        if queue is not None:
            # The cell woken by the running turn runs next (see the design
            # note); the one it displaces joins the back of the queue.
            queued = queue.next
            queue.next = cell
            if queued is not None:
                queue.append(queued)
                if self._idle:
                    self._wake_one()
            elif queue and self._idle:
                self._wake_one()
        else:
            self._inject.append(cell)
            if self._idle:
                self._wake_one()

    def on_pool_thread(self) -> bool:
        """True on one of this pool's worker threads."""
        return self._tls.worker is not None

    def blocking(self, wait: Callable[[], T]) -> T:
        """Run ``wait`` (which blocks this thread) while a spare runs turns.

        On a thread that is not one of this pool's workers it just calls
        ``wait``. On a worker, it first makes sure a spare worker runs for
        each blocked one, and hands this worker's queued cells to the others.
        """
        worker = self._tls.worker
        if worker is None or self._stopping:
            return wait()
        with self._pool_lock:
            self._blocked += 1
            start_spare = self._spares < min(self._blocked, MAX_SPARES)
            if start_spare:
                self._spares += 1
                self._serial += 1
                spare = Worker(f"{self._name}-spare-{self._serial}", spare=True)
                self._workers = (*self._workers, spare)
        # The cell this turn woke must not wait for the turn to end: it joins
        # the queue, where the other workers can take it.
        queue = worker.queue
        woken = queue.next
        if woken is not None:
            queue.next = None
            queue.append(woken)
        if start_spare:
            self._start_thread(spare)
        elif queue or self._inject:
            self._wake_one()
        try:
            return wait()
        finally:
            with self._pool_lock:
                self._blocked -= 1

    def _wake_one(self) -> None:
        try:
            worker = self._idle.pop()
        except IndexError:
            return
        worker.wake.release()

    def _run(self, worker: Worker) -> None:
        if not worker.deaths:
            # A new worker's queue is made by its own thread: on free-threaded
            # builds an object's reference count is cheap only for the thread
            # that allocated it, and this one is touched on every turn. (Nothing
            # has been appended to the old one: only its own thread appends; a
            # thief that still sees it finds it empty. A replacement thread keeps
            # the queue it takes over.)
            worker.queue = RunQueue()
        self._tls.worker = worker
        self._tls.queue = worker.queue
        current.on_worker = True
        try:
            self._loop(worker)
        except BaseException as exc:  # noqa: BLE001 - a worker never dies silently
            self._replace(worker, None, exc)
        finally:
            current.on_worker = False
            current.turn.cell = None

    def _loop(self, worker: Worker) -> None:  # noqa: PLR0915 - the hot loop, kept inline
        full_budget = budget = self.budget
        # Carried on from the counters (and the run-next cell) of a thread this
        # one replaces. `turns` counts whole rounds of CLOCK_EVERY turns; `tick`
        # how many turns are left in this round (so turns + CLOCK_EVERY - tick have run). One
        # countdown a turn stands for three tests of a turn counter: the clock
        # read, the sample and the counter's own increment.
        turns = worker.turns
        tick = CLOCK_EVERY
        messages = worker.messages
        queue = worker.queue
        pop = queue.popleft
        # A timed turn is the first of every SAMPLE_EVERY // CLOCK_EVERY rounds.
        sample_mask = (SAMPLE_EVERY // CLOCK_EVERY) - 1 if self._on_sample is not None else -1
        slot = current.turn  # (see Runnable: which cell this thread runs)
        clock = time.perf_counter
        # When the injection queue is next looked at first (see INJECT_INTERVAL).
        inject_due = clock() + INJECT_INTERVAL
        look_outside = False
        cell: Runnable | None = None  # the last turn's
        while True:
            # The common case inline, outside the injection turn: the cell the
            # last turn woke (it runs next, see the design note), else our own
            # queue's. A cell that resubmitted itself (work left after its
            # budget or time slice) goes to the back instead, as it always has.
            nxt = queue.next
            if nxt is not None and nxt is not cell and not look_outside:
                queue.next = None
                cell = nxt
            elif nxt is None and queue and not look_outside:
                try:
                    cell = pop()
                except IndexError:
                    continue  # a thief took it
            else:
                if nxt is not None:  # it queues behind the others this time
                    queue.next = None
                    queue.append(nxt)
                    continue
                found = self._next_cell(worker, look_outside, turns + CLOCK_EVERY - tick, messages)
                if found is None:
                    return  # the pool stopped
                cell = found
                look_outside = False
                if worker.burst:
                    # More cells told from outside wait behind this one (the
                    # start of a flood, see NEW_TURN_BUDGET): it gets one
                    # message, then the next of them is taken. (It becomes its
                    # round's last turn so that the clock is read after it; the
                    # count stays exact.)
                    budget = NEW_TURN_BUDGET
                    turns -= tick - 1
                    tick = 1
                    inject_due = 0.0
            slot.cell = cell
            tick -= 1
            try:
                if tick:
                    processed = cell._run_turn(budget)
                    messages += processed
                    if processed < 2:
                        continue  # a one-message turn, and not the round's last
                else:
                    # The last turn of a round: the clock is read after it.
                    tick = CLOCK_EVERY
                    turns += CLOCK_EVERY
                    # Metrics: one turn in SAMPLE_EVERY is timed (see _metrics.py).
                    processed = (
                        cell._run_turn(budget)
                        if (turns // CLOCK_EVERY) & sample_mask
                        else self._sampled_turn(cell, budget)
                    )
                    budget = full_budget  # (after a turn above that had one message)
                    messages += processed
            except BaseException as exc:  # noqa: BLE001 - see _replace
                slot.cell = None
                worker.publish(turns + CLOCK_EVERY - tick, messages)
                self._replace(worker, cell, exc)
                return
            # A turn that may have been long, or a round's last: time to look outside?
            now = clock()
            if now >= inject_due:
                look_outside = True
                inject_due = now + INJECT_INTERVAL
            # Not every turn: each write costs about as much as a tenth of a
            # ping-pong hop on 3.13t.
            worker.publish(turns + CLOCK_EVERY - tick, messages)

    def _next_cell(
        self, worker: Worker, look_outside: bool, turns: int, messages: int
    ) -> Runnable | None:
        """The cell for the next turn when our own queue is empty or the clock
        said to look outside; spins, then parks, while there is none (None once
        the pool stops). Publishes the counts before spinning, so statistics read
        right after the last reply are exact."""
        # Outside first when the clock says so, unless this worker has just
        # started NEW_TURN_BURST cells from outside in a row: then a cell of its
        # own queue has a turn first.
        outside_first = look_outside and worker.burst < NEW_TURN_BURST
        if look_outside and not outside_first:
            worker.burst = 0
        while True:
            found = self._find_work(worker, outside_first)
            if found is None:
                current.turn.cell = None  # (see Runnable)
                worker.publish(turns, messages)
                found = self._spin(worker)
            if found is not None:
                # Counts the cells started while more wait outside (the loop
                # gives them NEW_TURN_BUDGET); 0 when none wait.
                worker.burst = worker.burst + 1 if self._inject else 0
                return found
            if not self._park(worker):
                return None
            outside_first = False

    def _sampled_turn(self, cell: Runnable, budget: int) -> int:
        start = time.perf_counter_ns()
        processed = cell._run_turn(budget)
        if processed and self._on_sample is not None:
            self._on_sample(cell, time.perf_counter_ns() - start, processed)
        return processed

    def _replace(self, worker: Worker, cell: Runnable | None, error: BaseException) -> None:
        """This thread is dying of ``error``: report it and start a replacement.

        The replacement takes over the worker's queue and counters; ``cell``
        (the actor whose turn raised, if any) is failed by ``on_crash``.
        """
        worker.deaths += 1
        if not self._stopping:
            self._start_thread(worker)
        if self._on_crash is not None:
            self._on_crash(worker.name, cell, error)

    def _spin(self, worker: Worker) -> Runnable | None:
        """Look for work a little longer before parking (see the design note)."""
        deadline = time.perf_counter() + SPIN_SECONDS
        find = self._find_work
        while time.perf_counter() < deadline and not self._stopping:
            yield_cpu()
            cell = find(worker, False)
            if cell is not None:
                return cell
        return None

    def _find_work(self, worker: Worker, inject_first: bool) -> Runnable | None:
        return find_work(worker, self._workers, self._inject, inject_first)

    def _has_work(self) -> bool:
        return bool(self._inject) or any(w.queue for w in self._workers)

    def _retire(self, worker: Worker, force: bool = False) -> bool:
        """True if ``worker`` is a surplus spare (or any spare, when ``force``),
        now removed from the pool."""
        if not worker.spare:
            return False
        with self._pool_lock:
            if not force and self._spares <= self._blocked:
                return False
            self._spares -= 1
            self._workers = tuple(w for w in self._workers if w is not worker)
            retired = self._retired
            retired[0] += worker.turns
            retired[1] += worker.messages
            retired[2] += worker.steals
            retired[3] += worker.parks
            if worker.thread is not None:
                self._exiting = [t for t in self._exiting if t.is_alive()]
                self._exiting.append(worker.thread)
        # Nobody else appends to a worker's own queue, and it was empty when
        # we looked; a thief may only have taken from it since.
        return True

    def _park(self, worker: Worker) -> bool:
        """Park until woken; return False when the thread should exit."""
        if self._stopping:
            self._retire(worker, force=True)
            return False
        if self._retire(worker):
            return False
        self._idle.append(worker)
        if self._has_work() or self._stopping:
            try:
                self._idle.remove(worker)
            except ValueError:
                worker.wake.acquire()  # a waker popped us: absorb its release
            if self._stopping:
                self._retire(worker, force=True)
                return False
            return True
        worker.parks += 1
        worker.wake.acquire()
        if self._stopping:
            self._retire(worker, force=True)
            return False
        return True

    def shutdown(self, timeout: float | None) -> list[str]:
        """Stop the workers and join them; return the names of threads still alive."""
        self._stopping = True
        deadline = None if timeout is None else time.monotonic() + timeout
        stuck: list[str] = []
        joined: set[threading.Thread] = set()
        while True:
            # A worker that dies meanwhile starts a replacement (until it sees
            # _stopping): join until no thread of the pool is left unjoined.
            threads = [w.thread for w in self._workers if w.thread is not None]
            pending = [t for t in threads if t not in joined]
            if not pending:
                break
            for _ in self._workers:
                self._wake_one()
            for thread in pending:
                alive = join_thread(thread, remaining(deadline))
                joined.add(thread)
                if alive:
                    stuck.append(thread.name)
        with self._pool_lock:
            exiting = [t for t in self._exiting if t not in joined]
        for thread in exiting:  # retired spares on their way out
            if join_thread(thread, remaining(deadline)):
                stuck.append(thread.name)
        return stuck

    def statistics(self) -> tuple[WorkerStatistics, ...]:
        """Per-worker counters; retired spares are summed into one last entry."""
        with self._pool_lock:
            workers = self._workers
            turns, messages, steals, parks = self._retired
        stats = tuple(
            WorkerStatistics(w.name, w.turns, w.messages, w.steals, w.parks, w.deaths, w.spare)
            for w in workers
        )
        if turns or messages or steals or parks:
            retired = WorkerStatistics(
                f"{self._name}-retired-spares", turns, messages, steals, parks, 0, True, False
            )
            stats = (*stats, retired)
        return stats
