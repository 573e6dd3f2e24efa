"""`ActorSystem`: owns the workers, the actor tree and the dead letters."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from loguru import logger

from ._actor import Root, Spawning, SpawnSpec
from ._aio import LoopBridge
from ._asks import WaitForGraph
from ._cell import ActorCell
from ._cell._lifecycle import Lifecycle
from ._clock import Clock, remaining
from ._deadletters import DEFAULT_HISTORY, DeadLetters
from ._dispatcher import Dispatcher, Runnable
from ._errors import ActorFailedError, ActorSystemClosedError
from ._events import EventStream, WorkerDied
from ._exit import close_at_exit, leave_block, track, untrack
from ._failures import closed_error, escalation_error, worker_death_error
from ._interrupt import interrupts
from ._metrics import SystemMetrics
from ._metrics_recorder import MetricsRecorder, live_cells
from ._overflow import Overflow
from ._pinned import PinnedThread
from ._ref import ActorRef
from ._report import report_uncaught
from ._resources import ResourceRegistry
from ._safe_wait import Latch
from ._scheduler import DEFAULT_BUDGET, Scheduler
from ._statistics import ShutdownReport, SystemStatistics
from ._status import ServiceStatus, StatusNode
from ._status_server import serve_status as _serve_status
from ._subscription import Subscribers, Subscription
from ._supervision import Failure, SupervisorStrategy
from ._threads import join_thread
from ._timers import TimerService
from ._tree import live_leaves, live_paths, snapshot
from ._validate import check_positive_int, check_timeout

__all__ = ["ActorSystem"]

E = TypeVar("E", bound=BaseException)
T = TypeVar("T")

#: Default time `shutdown` gives actors to stop and threads to exit.
DEFAULT_SHUTDOWN_TIMEOUT = 10.0


class ActorSystem(Spawning):
    """A pool of worker threads running a tree of actors.

    Use it as a context manager: leaving the block shuts down gracefully.

    Args:
        name: Prefix of thread names (``backstage-worker-0``...).
        workers: Worker threads (default: the CPU count).
        budget: Messages one actor may process per turn before yielding.
        dead_letter_history: How many recent dead letters to keep for inspection.
        shutdown_timeout: Seconds `__exit__` (and the interpreter-exit hook, for
            a system never shut down) gives the shutdown.
        clock: Where timers read the time (default: `time.monotonic`); the
            testing kit passes a manual clock.
        dispatcher: What runs actor turns (default: a work-stealing `Scheduler`
            of ``workers`` threads); the testing kit passes one that runs every
            turn on the test's thread.
        child_stop_timeout: Seconds a stopping actor waits for its children
            before it stops anyway and reports the stragglers (None: forever).
        guardian_strategy: How ``/user`` supervises top-level actors (default:
            restart, 3 in 5 s). A failure the guardian escalates stops the system.

    Thread safety: every public method may be called from any thread.
    """

    def __init__(
        self,
        name: str = "backstage",
        *,
        workers: int | None = None,
        budget: int = DEFAULT_BUDGET,
        dead_letter_history: int = DEFAULT_HISTORY,
        shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
        clock: Clock | None = None,
        guardian_strategy: SupervisorStrategy | None = None,
        child_stop_timeout: float | None = DEFAULT_SHUTDOWN_TIMEOUT,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"system name must be a non-empty str, got {name!r}")
        if workers is not None:
            check_positive_int(workers, "workers")
        check_positive_int(budget, "budget")
        self.name = name
        self._shutdown_timeout = check_timeout(shutdown_timeout, "shutdown_timeout")
        self._child_stop_timeout = check_timeout(child_stop_timeout, "child_stop_timeout")
        # Paths of actors that had not stopped when their parent gave up
        # waiting; appended under _lock, read through `stragglers`.
        self._stragglers: list[str] = []
        # Guards _pinned, _unpinned, _stragglers and the write of _closing. The
        # tree itself is guarded cell by cell (each cell's _guard: see
        # _cell/_base.py), so spawns and stops on different workers never meet
        # here. Never held while user code runs.
        self._lock = threading.Lock()
        # Guards the lazy start of the loop bridge and _internal_errors.
        self._lazy_guard = threading.Lock()
        # Turns that raised inside the runtime (see _internal_error); written
        # under _lazy_guard.
        self._internal_errors = 0
        self._closing = False
        self._closed = False
        # Set by the first shutdown() call; the exit hook warns about a system
        # whose shutdown was never even started.
        self._shutdown_started = False
        # Whether __enter__ routed Ctrl-C through the interrupt guard.
        self._guarded = False
        # The pinned threads by actor cell.
        self._pinned: dict[object, PinnedThread] = {}
        # Pinned threads of stopped actors, told to exit but maybe not gone yet:
        # shutdown joins them too (pruned of finished ones); under _lock.
        self._unpinned: list[PinnedThread] = []
        self._failure: Failure | None = None
        # Set once with _failure: what later errors name and chain as the cause.
        self._stop_cause: ActorFailedError | None = None
        self._terminated = Latch()  # (not an Event: see _safe_wait.py)
        self.dead_letters = DeadLetters(dead_letter_history)
        # Failures, dead letters by reason, sampled durations, spawns, stops.
        self._metrics = MetricsRecorder(name, self.dead_letters)
        # Called by shutdown once the actors and the pool have stopped, each with
        # the time left; each returns the names of its threads still alive.
        self._shutdown_hooks = Subscribers("shutdown hook")
        # True while anyone subscribes to status changes or to the event stream:
        # a status change (four in every actor's life) skips `_status_changed`
        # when nobody listens. Read racily, as the subscriber tuples are; written
        # under _watch_lock by `_watchers_changed`.
        self._status_watched = False
        self._watch_lock = threading.Lock()
        self._status_subscribers = Subscribers("status", self._watchers_changed)
        # The event stream: dead letters, lifecycle, status changes, worker deaths,
        # users' own events (closed by a shutdown hook, after the pool).
        self.events = EventStream(name, self.dead_letters, self._watchers_changed)
        self.dead_letters.subscribe(self.events.publish)
        self._shutdown_hooks.add(self.events.close)
        self._timers = TimerService(name, clock)
        # Scoped resources: what actors publish, watch and wait for to start.
        self._resources = ResourceRegistry(self._timers.schedule)
        # Started with the first async actor (guarded by _lazy_guard).
        self._bridge: LoopBridge | None = None
        self._scheduler: Dispatcher = (
            dispatcher
            if dispatcher is not None
            else Scheduler(workers, budget, name, self._worker_died, self._metrics.sample)
        )
        # Which actor turns are blocked in an ask to which actor.
        self._asks = WaitForGraph(self._scheduler.blocking)
        if guardian_strategy is not None and not isinstance(guardian_strategy, SupervisorStrategy):
            raise TypeError(
                f"guardian_strategy must be a SupervisorStrategy, got {guardian_strategy!r}"
            )

        def guardian() -> Root:
            actor = Root()
            actor.supervisor_strategy = guardian_strategy
            return actor

        # One bound method shared by every pooled cell (not one per actor).
        self._pool_submit = self._scheduler.submit
        self._root = ActorCell(
            self, None, "user", guardian, None, Overflow.BLOCK, self._pool_submit
        )
        track(self)  # before any thread starts: no exit may miss it (see _exit.py)
        self._scheduler.start()
        # Start the guardian here, on the constructing thread (we hold its flag),
        # so /user is Running by the time the constructor returns.
        self._root._scheduled.acquire()
        self._root._run_turn(self._scheduler.budget)

    # -- public API --------------------------------------------------------------------

    def _spawn(self, spec: SpawnSpec) -> ActorRef[Any]:
        # `spawn` (from `Spawning`) checked the options: a top-level actor.
        if self._closing:
            raise self._closed_error(
                ActorSystemClosedError, f"actor system {self.name!r} is shut down; cannot spawn"
            )
        return self._root._spawn(spec)

    def lookup(self, path: str) -> ActorRef[Any] | None:
        """The live actor at ``path`` (such as ``/user/app/db``), or None.

        Raises:
            ValueError: If ``path`` is not an absolute path under ``/user``.
        """
        if not isinstance(path, str) or not path.startswith("/user"):
            raise ValueError(f"actor paths start with '/user', got {path!r}")
        parts = [p for p in path.split("/")[2:] if p]
        if path != "/user" + "".join("/" + p for p in parts):
            raise ValueError(f"malformed actor path {path!r}: expected '/user/name/name...'")
        cell: Lifecycle | None = self._root
        for part in parts:
            cell = cell._child(part) if cell is not None else None
        return cell._ref if cell is not None and cell.is_alive else None

    @property
    def workers(self) -> int:
        """How many shared worker threads the system runs."""
        return self._scheduler.size

    @property
    def stragglers(self) -> tuple[str, ...]:
        """Paths of actors still running when their parent stopped without them.

        A stopping actor waits ``child_stop_timeout`` seconds for its children,
        then stops anyway and records here the ones it left behind; oldest first.
        """
        with self._lock:
            return tuple(self._stragglers)

    @property
    def failure(self) -> Failure | None:
        """The failure that escalated to the top and stopped the system, if any."""
        return self._failure

    def statistics(self) -> SystemStatistics:
        """A snapshot of the workers' counters, summed now.

        A turn adds its messages when it ends, so a read taken while actors run
        may lag by the turns in progress; it is exact once they are idle or the
        system has stopped.
        """
        workers = self._scheduler.statistics()
        return SystemStatistics(
            workers=workers,
            turns=sum(w.turns for w in workers),
            messages=sum(w.messages for w in workers),
            steals=sum(w.steals for w in workers),
            parks=sum(w.parks for w in workers),
            dead_letters=self.dead_letters.count,
            worker_deaths=sum(w.deaths for w in workers),
            internal_errors=self._internal_errors,
            spares=sum(1 for w in workers if w.spare and w.alive),
        )

    def metrics(self) -> SystemMetrics:
        """A snapshot of the metrics: per actor, per actor class, per worker.

        Read without stopping anyone, so a count may lag its actor's current
        turn; it is exact once the actor is idle. See README, Metrics.
        """
        cells = live_cells(self._root)
        return self._metrics.snapshot(cells, self._scheduler.statistics())

    def status_tree(self) -> StatusNode:
        """An immutable snapshot of every actor's status, from ``/user`` down.

        ``str()`` of it prints an indented tree; ``.to_json()`` serialises it.
        """
        return snapshot(self._root)

    def subscribe_status(
        self, callback: Callable[[ActorRef[Any], ServiceStatus, ServiceStatus], object]
    ) -> Subscription:
        """Call ``callback(ref, old, new)`` on every status change from now on.

        Callbacks run on the thread that changed the status (usually a worker):
        keep them short and never block in them.

        Raises:
            TypeError: If ``callback`` is not callable.
        """
        return self._status_subscribers.add(callback)

    def _watchers_changed(self) -> None:
        # Called after either subscriber tuple was replaced. The lock makes the
        # read-both-then-write atomic: whichever of two concurrent changes takes
        # it second sees both tuples as they now are.
        with self._watch_lock:
            self._status_watched = bool(
                self._status_subscribers.current or self.events._subscriptions
            )

    def _status_changed(self, ref: ActorRef[Any], old: ServiceStatus, new: ServiceStatus) -> None:
        self.events._status_changed(ref, old, new)
        for subscription in self._status_subscribers.current:
            try:
                subscription.callback(ref, old, new)
            except Exception:  # noqa: BLE001 - one bad subscriber must not break others
                logger.opt(exception=True).error("status subscriber failed")

    def wait_terminated(self, timeout: float | None = None) -> bool:
        """Wait until every actor has stopped; return False on timeout."""
        return self._terminated.wait(check_timeout(timeout))

    def shutdown(self, timeout: float | None = DEFAULT_SHUTDOWN_TIMEOUT) -> ShutdownReport:
        """Stop every actor (children first), then every thread the system started.

        Actors finish the message in hand; what is left in mailboxes becomes dead
        letters; blocked senders are released with `ActorStoppedError`. Threads
        are joined within ``timeout`` seconds in all. Idempotent.
        """
        timeout = check_timeout(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        self._shutdown_started = True
        self._begin_stop("actor system shut down")
        stopped = self._wait_root_stopped(remaining(deadline))
        unstopped = () if stopped else self._live_paths()
        stuck = self._timers.shutdown(remaining(deadline))
        with self._lazy_guard:
            bridge = self._bridge
        if bridge is not None:
            stuck += bridge.shutdown(remaining(deadline))
        stuck += self._scheduler.shutdown(remaining(deadline))
        for hook in self._shutdown_hooks.current:  # the status servers
            stuck += cast("list[str]", hook.callback(remaining(deadline)))
        with self._lock:
            pinned = list(self._pinned.values())
            self._pinned.clear()
            exiting = self._unpinned
            self._unpinned = []
        for thread in pinned:
            thread.close()
        for thread in (*pinned, *exiting):
            if join_thread(thread.thread, remaining(deadline)):
                stuck.append(thread.thread.name)
        self._closed = True
        untrack(self)
        report = ShutdownReport(not unstopped and not stuck, unstopped, tuple(stuck))
        if not report.clean:
            logger.bind(system=self.name).warning(
                "shutdown incomplete: actors not stopped {}, threads alive {}",
                report.unstopped,
                report.threads_alive,
            )
        return report

    def __enter__(self) -> ActorSystem:
        """Start a block that shuts the system down when left (Ctrl-C: see README)."""
        self._guarded = interrupts.enter()
        return self

    __exit__ = leave_block  # shut down; raise what stopped the system (see _exit.py)
    serve_status = _serve_status  # the status page, /service, /metrics, /events (see there)
    _close_at_exit = close_at_exit  # called by the interpreter-exit hook

    def __repr__(self) -> str:
        return f"<ActorSystem {self.name!r} workers={self.workers}>"

    # -- runtime hooks -------------------------------------------------------------------

    def _loop_bridge(self) -> LoopBridge:
        with self._lazy_guard:
            if self._bridge is None:
                if self._closing:
                    raise ActorSystemClosedError("cannot start async actors while shutting down")
                self._bridge = LoopBridge(self.name)
            return self._bridge

    def _placement(
        self, parent: str, name: str, pinned: bool
    ) -> tuple[Callable[[Any], None], PinnedThread | None]:
        # Called under the parent's guard, by the parent creating the child.
        self._metrics.spawned()
        if pinned and self._scheduler.supports_pinning:
            thread = PinnedThread(
                f"{self.name}-pinned-{parent}/{name}", self._scheduler.budget, self._metrics.sample
            )
            return thread.submit, thread
        return self._pool_submit, None

    def _run_pinned(self, cell: object, thread: PinnedThread) -> None:
        with self._lock:
            self._pinned[cell] = thread
        thread.start()

    def _cell_stopped(self, cell: object) -> None:
        # A pinned cell was registered before its first turn (and this is its
        # last), so the unlocked look finds it; most cells are not pinned.
        if cell in self._pinned:
            with self._lock:
                thread = self._pinned.pop(cell, None)
                if thread is not None:
                    self._unpinned = [t for t in self._unpinned if t.thread.is_alive()]
                    self._unpinned.append(thread)
            if thread is not None:
                thread.close()
        self._metrics.stopped(cell, cell is self._root)
        if cell is self._root:
            self._terminated.set()

    def _blocking(self, wait: Callable[[], T]) -> T:
        return self._scheduler.blocking(wait)

    def _cell_failed(self, cell: object) -> None:
        self._metrics.failed(cell)

    def _on_shutdown(self, close: Callable[[float | None], list[str]]) -> Subscription:
        """Have shutdown call ``close(time left)`` once the pool has stopped.

        Raises:
            ActorSystemClosedError: If the system is shutting down already.
        """
        hook = self._shutdown_hooks.add(close)
        with self._lock:  # orders this add before shutdown reads the hooks
            closing = self._closing
        if closing:
            hook.cancel()
            raise self._closed_error(
                ActorSystemClosedError, f"actor system {self.name!r} is shutting down"
            )
        return hook

    def _root_failed(self, failure: Failure) -> None:
        stop, path, cause = escalation_error(self.name, failure)
        self._stop_cause = stop
        self._failure = failure
        logger.bind(actor=failure.child.path).opt(exception=failure.error).error(
            "failure escalated to the top; stopping actor system {}", self.name
        )
        self._begin_stop(f"failure escalated to the top: {path} failed with {cause!r}")
        report_uncaught(stop)

    def _closed_error(self, kind: type[E], text: str) -> E:
        """``kind(text)``, naming and chaining the failure that stopped the system."""
        return closed_error(self._stop_cause, kind, text)

    def _internal_error(self, error: ActorFailedError) -> None:
        # A turn raised inside the runtime; its actor is failed by the caller.
        with self._lazy_guard:
            self._internal_errors += 1
        logger.opt(exception=error).critical("internal error in actor system {}", self.name)
        report_uncaught(error)

    def _worker_died(self, worker: str, cell: Runnable | None, exc: BaseException) -> None:
        # Runs on the dying worker's thread; its replacement is already running.
        error = worker_death_error(self.name, worker, cell._path if cell else None, exc)
        logger.opt(exception=error).critical("worker died in actor system {}", self.name)
        report_uncaught(error)
        self.events.publish(WorkerDied(worker, cell._path if cell else None, error))
        if cell is not None:
            cell._worker_died(error)

    def _live_paths(self) -> tuple[str, ...]:
        return live_paths(self._root)

    def _report_stragglers(self, path: str, paths: tuple[str, ...]) -> None:
        with self._lock:
            self._stragglers.extend(paths)
        logger.bind(actor=path).warning(
            "{} stopped without waiting longer for children {}", path, paths
        )

    def _waiting_for(self) -> tuple[str, ...]:
        return live_leaves(self._root)

    def _begin_stop(self, reason: str) -> None:
        with self._lock:
            self._closing = True
        self._root._request_stop(reason)

    def _wait_root_stopped(self, timeout: float | None) -> bool:
        return self._root._wait_stopped(timeout)
