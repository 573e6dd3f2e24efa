"""The lifecycle of an actor: start, fail, resume, restart, stop; its children.

System messages (``_system_queue``) drive it, one at a time, at the start of a
turn. States only go forward (``_states``), except FAILED -> RUNNING on a resume
or restart. A stop and a restart both go bottom-up: the children stop first,
and the actor finishes when the last child has reported its termination.
A failure in any hook goes to the parent as a `Failure` system message, where
the parent's `SupervisorStrategy` decides.
"""

from __future__ import annotations

from time import time as _wall_clock  # (a module attribute read costs a type lookup)
from typing import Any

from .. import _log
from .._actor import Actor
from .._envelope import fail_ask
from .._errors import (
    ActorFailedError,
    ActorInitializationError,
    ActorStoppedError,
    DeadlockError,
)
from .._local import current
from .._log import lifecycle as log_lifecycle
from .._log import stopped as log_stopped
from .._safe_wait import Latch
from .._status import SETTABLE, ServiceStatus, StatusNode
from .._supervision import Failure
from .._timers import TimerHandle
from ._family import Family
from ._states import (
    CHILD_FAILED,
    CHILD_STATUS,
    CHILD_TERMINATED,
    CRASHED,
    FAILED,
    NEW,
    ON_RESTART,
    ON_START,
    ON_STOP,
    RESTART,
    RESTARTING,
    RESUME,
    RUNNING,
    STOP,
    STOP_TIMEOUT,
    STOPPED,
    STOPPING,
    SUSPEND,
    UNWATCH,
    WATCH,
)

__all__ = ["Lifecycle"]


class Lifecycle(Family):
    """States, system messages, start/fail/restart/stop, and status."""

    __slots__ = (
        "_derives",
        "_outcome",
        "_restart_log",
        "_status",
        "_status_since",
        "_stop_timer",
        "_stopped_event",
    )

    _parent: Lifecycle | None
    # Created by the first waiter (under _guard), set at STOPPED.
    _stopped_event: Latch | None
    # Monotonic times of recent restarts; kept by the parent's strategy.
    _restart_log: list[float] | None
    # Fires if the children take longer than the system allows to stop.
    _stop_timer: TimerHandle | None
    _status: ServiceStatus
    _status_since: float
    # True when the actor overrides derive_status (set at instantiation).
    _derives: bool
    # None, or while a hook or batch coroutine runs elsewhere (see _handoff):
    # PENDING, then (item, error) once it has ended. While it is not None the
    # turn handles no message and no system message.
    _outcome: object

    def _handle_system(self) -> None:
        sysq = self._sys
        assert sysq is not None
        # A restart may start an async on_start: the rest waits until it is done.
        while sysq and self._outcome is None:
            kind, payload = sysq.pop(0)
            if kind == STOP:
                self._begin_stop(payload)
            elif kind == CHILD_TERMINATED:
                self._child_terminated()
            elif kind == CHILD_FAILED:
                self._child_failed(payload)
            elif kind == RESUME:
                if self._state is FAILED:
                    self._state = RUNNING
                    self._set_status(ServiceStatus.RUNNING)
            elif kind == RESTART:
                self._restart(payload)
            elif kind == WATCH:
                self._add_watcher(payload)
            elif kind == CHILD_STATUS:
                self._derive_status()
            elif kind == STOP_TIMEOUT:
                self._stop_timed_out()
            elif kind == CRASHED:
                self._fail_internal(payload)
            elif kind == SUSPEND:
                if self._state is RUNNING:
                    self._state = FAILED
                    self._set_status(ServiceStatus.OUTAGE)
            elif kind == UNWATCH:
                if self._watchers is not None:
                    self._watchers.discard(payload)
            else:
                self._other_system(kind, payload)

    def _other_system(self, kind: int, payload: Any) -> None:
        """A system message of a layer above (resources) handles it there."""

    def _incarnation_ended(self, reason: str, restarting: bool) -> None:
        """Called when an instance's life ends (a stop, or before a restart's new
        start): a layer above releases what the instance held (its resources)."""

    def _start(self) -> None:
        if self._state is not NEW:
            return
        if self._actor is not None or self._instantiate():
            self._run_on_start()

    def _run_on_start(self) -> None:
        self._state = RUNNING
        self._set_status(ServiceStatus.INITIALIZING)
        try:
            result = self._run_hook("on_start")
        except BaseException as exc:  # noqa: BLE001 - reported to the supervisor
            self._fail(self._as_exception(exc, "on_start"), None, "on_start")
            return
        # An async on_start runs on the loop while the cell is parked (holding no
        # worker); the turn after it settles the start (see _settle_outcome).
        if not self._hand_over(result, ON_START, "on_start"):
            self._started()

    def _hand_over(self, result: object, marker: object, hook: str) -> bool:
        """Run ``result`` elsewhere if it is a hook coroutine; False if not.

        A plain cell runs its hooks where it stands; the async hand-off layer
        overrides this to run an async actor's hook coroutines on the loop,
        after which the next turn carries on from ``marker``.
        """
        return False

    def _attach(self, actor: Actor[Any]) -> None:
        """Called when a new instance is bound to this cell, before any of its
        hooks runs (the whole cell gives it its context here; a layer may add)."""

    def _started(self) -> None:
        log_lifecycle(self._path, "started")
        if self._status is ServiceStatus.INITIALIZING:
            self._set_status(ServiceStatus.RUNNING)

    def _instantiate(self) -> bool:
        try:
            actor = self._factory()
            if not isinstance(actor, Actor):
                raise TypeError(
                    f"the factory of {self._path} returned {actor!r}, which is not an Actor"
                )
        except BaseException as exc:  # noqa: BLE001 - a start failure goes to the supervisor
            error = ActorInitializationError(f"cannot create {self._path}: {exc!r}")
            error.__cause__ = exc
            self._fail(error, None, "factory")
            return False
        self._actor = actor
        self._attach(actor)
        self._derives = type(actor).derive_status is not Actor.derive_status
        return True

    def _run_hook(self, hook: str) -> object:
        actor = self._actor
        assert actor is not None
        return getattr(actor, hook)()

    def _restart(self, running_too: bool) -> None:
        """Restart after a failure (or, when ``running_too``, a running actor too).

        The mailbox is kept: queued messages go to the new instance.
        """
        if not (self._state is FAILED or (running_too and self._state is RUNNING)):
            return
        self.restarts += 1
        _log.restarting(self._path, self.restarts)
        self._cancel_timers()
        if self._actor is not None and self._run_on_stop(ON_RESTART):
            return  # an async on_stop runs on the loop; _continue_restart follows
        self._continue_restart()

    def _continue_restart(self) -> None:
        self._incarnation_ended("publisher restarting", True)
        actor = self._actor
        if actor is not None and not actor.keep_instance_on_restart:
            self._actor = None
        self._set_status(ServiceStatus.STARTING)
        children = self._child_cells()
        self._state = RESTARTING
        # The new incarnation's on_start builds its own children: stop the old
        # ones first (bottom-up, like a stop) and start when the last is gone.
        for child in children:
            child._request_stop("parent restarting")
        if not children:
            self._complete_restart()

    def _complete_restart(self) -> None:
        self._state = NEW
        self._start()

    def _run_on_stop(self, marker: object) -> bool:
        """Run on_stop while stopping or restarting: a failure cannot undo that.

        The failure still goes to the parent's strategy (which may escalate it)
        and to the log; the stop or restart goes on regardless. Returns True if
        an async on_stop was handed to the loop: the stop or restart then goes
        on from ``marker`` when it ends.
        """
        actor = self._actor
        if actor is not None and type(actor).on_stop is Actor.on_stop:
            return False  # (most actors keep the default on_stop: nothing to run)
        try:
            result = self._run_hook("on_stop")
        except BaseException as exc:  # noqa: BLE001 - reported, not re-raised
            self._report_quietly("on_stop", self._as_exception(exc, "on_stop"))
            return False
        return self._hand_over(result, marker, "on_stop")

    def _report_quietly(self, hook: str, exc: Exception) -> None:
        _log.failed(self._path, hook, exc, None)
        self._system._cell_failed(self)  # metrics
        failure = Failure(self._ref, exc, None, hook)
        if self._parent is not None:
            self._parent._post_system((CHILD_FAILED, failure))

    def _fail(self, error: Exception, message: object, hook: str) -> None:
        _log.failed(self._path, hook, error, message)
        self._system._cell_failed(self)  # metrics
        if hook == "receive":  # (None is a valid message: check the hook, not the value)
            self._system.dead_letters.record(self._ref, message, f"failed: {error!r}")
        self._state = FAILED
        self._plain = False  # (a short turn may fail: the next must not take messages)
        self._set_status(ServiceStatus.OUTAGE)
        failure = Failure(self._ref, error, message, hook)
        parent = self._parent
        if parent is None:
            self._system._root_failed(failure)
        else:
            parent._post_system((CHILD_FAILED, failure))

    def _child_failed(self, failure: Failure) -> None:
        actor = self._actor
        if actor is None or self._state is not RUNNING:
            # Stopping, restarting (its children are being stopped) or itself
            # failed and awaiting its own directive: nothing to supervise with.
            failure.child._cell._request_stop(None)
            return
        try:
            actor.on_child_failure(failure)
        except BaseException as exc:  # noqa: BLE001 - a supervisor's own failure escalates
            failure.child._cell._request_stop(None)
            self._fail(self._as_exception(exc, "on_child_failure"), None, "on_child_failure")

    def _begin_stop(self, reason: str | None) -> None:
        if self._state is STOPPING or self._state is STOPPED:
            return
        if reason is not None:
            self._stop_reason = reason
        with self._guard:
            # A restarting actor already ran on_stop for its old incarnation.
            was_running = self._state is RUNNING or self._state is FAILED
            if self._state is RESTARTING:
                # No new incarnation will start: drop an instance kept for the
                # restart, so finishing the stop does not run its on_stop again.
                self._actor = None
            self._state = STOPPING
            children = tuple(self._children.values()) if self._children else ()
        self._set_status(ServiceStatus.STOPPING)
        self._cancel_timers()
        for child in children:
            child._post_system((STOP, reason))
        if not children:
            self._finish_stop(was_running)
        elif self._system._child_stop_timeout is not None:
            self._stop_timer = self._system._timers.schedule(
                self._system._child_stop_timeout,
                lambda: self._post_system((STOP_TIMEOUT, None)),
            )

    def _stop_timed_out(self) -> None:
        if self._state is not STOPPING:
            return
        stragglers = tuple(cell._path for cell in self._child_cells())
        if stragglers:
            self._system._report_stragglers(self._path, stragglers)
        self._finish_stop(self._actor is not None)

    def _child_terminated(self) -> None:
        # (The child has already left ``_children``, see `_finish_stop`; the
        # notice does not name it, so that it keeps nothing alive meanwhile.)
        with self._guard:
            done = not self._children
        if done and self._state is STOPPING:
            self._finish_stop(self._actor is not None)
        elif done and self._state is RESTARTING:
            self._complete_restart()

    def _finish_stop(self, run_on_stop: bool) -> None:
        if self._stop_timer is not None:
            self._stop_timer.cancel()
            self._stop_timer = None
        if run_on_stop and self._actor is not None and self._run_on_stop(ON_STOP):
            return  # an async on_stop runs on the loop; _finish_stop(False) follows
        with self._guard:
            self._state = STOPPED
            self._closed = True
            event = self._stopped_event
        self._dispatch = type(self)._run_stopped
        self._incarnation_ended(f"publisher stopped ({self._stop_reason})", False)
        log_stopped(self._path, self._stop_reason)
        self._set_status(ServiceStatus.STOPPED)
        self._drain(self._stop_reason)
        parent = self._parent
        if parent is not None:
            parent._forget_child(self)
            parent._post_system((CHILD_TERMINATED, None))
        if self._watchers:
            for watcher in self._watchers:
                self._notify_watcher(watcher)
            self._watchers = None
        self._system._cell_stopped(self)
        # Let go of what points back at this cell (see `_ref`): nothing runs
        # the instance again, and `_ref` makes an equal ref from now on.
        self._actor = None
        self._own_ref = None
        if event is not None:
            event.set()

    def _run_stopped(self) -> None:
        """The dispatcher of a stopped actor (see `ActorCell._run_stopped`)."""
        raise NotImplementedError

    def _drain(self, reason: str) -> None:
        """Turn every waiting message into a dead letter and free blocked senders."""
        if not (self._queue or self._spill or self._waiters or self._muted):
            return  # (most stops find the mailbox empty and nobody waiting)
        taken = self._take_all()
        if taken:
            error = self._system._closed_error(
                ActorStoppedError, f"{self._path} stopped ({reason}); message not processed"
            )
            record = self._system.dead_letters.record
            for message in taken:
                record(self._ref, fail_ask(message, error), reason)
        self._release_everyone()

    def _set_status(self, status: ServiceStatus) -> None:
        old = self._status
        if old is status:
            return
        self._status = status
        self._status_since = _wall_clock()
        system = self._system
        if system._status_watched:  # (four changes in every life: skip the call if unheard)
            system._status_changed(self._ref, old, status)
        parent = self._parent
        if parent is not None and parent._derives:
            parent._post_system((CHILD_STATUS, None))

    def _status_node(self, children: tuple[StatusNode, ...]) -> StatusNode:
        """This actor in the status tree, over its subtree's ``children``."""
        return StatusNode(
            path=self._path,
            name=self._name,
            status=self._status,
            since=self._status_since,
            mailbox_depth=self.depth(),
            restarts=self.restarts,
            children=children,
        )

    def _report_status(self, status: ServiceStatus) -> None:
        """An actor's own status report, checked (see ``ActorContext.set_status``)."""
        if status not in SETTABLE:
            allowed = ", ".join(sorted(s.name for s in SETTABLE))
            raise ValueError(f"an actor may set its status to {allowed}; got {status!r}")
        if self._state is RUNNING or self._state is NEW:
            self._set_status(status)

    def _derive_status(self) -> None:
        actor = self._actor
        if actor is None or self._state is not RUNNING:
            return
        with self._guard:
            children = dict(self._children) if self._children else {}
        statuses = {name: cell._status for name, cell in children.items()}
        try:
            status = actor.derive_status(statuses)
            if status is not None:
                self._report_status(status)
        except BaseException as exc:  # noqa: BLE001 - reported to the supervisor
            self._fail(self._as_exception(exc, "derive_status"), None, "derive_status")

    def _crashed(self, exc: BaseException) -> None:
        """The runtime itself raised in this turn (user code is caught earlier).

        Reported loudly and counted; the actor is failed to its supervisor,
        the worker goes on, and the end of the turn hands the flag on as usual.
        """
        error = ActorFailedError(
            f"internal error in a turn of {self._path}: {exc!r}", path=self._path
        )
        error.__cause__ = exc
        self._system._internal_error(error)
        self._fail_internal(error)

    def _fail_internal(self, error: ActorFailedError) -> None:
        if self._state is RUNNING or self._state is NEW:
            self._fail(error, None, "runtime")

    def _worker_died(self, error: ActorFailedError) -> None:
        """The worker running this actor died outside its turn: fail it in the next."""
        self._post_system((CRASHED, error))

    def _receive_failed(self, error: BaseException, message: object) -> Exception:
        """``receive`` raised ``error`` for ``message``: fail to the supervisor; the failure."""
        failure = self._as_exception(error, "receive")
        self._fail(failure, message, "receive")
        return failure

    def _as_exception(self, error: BaseException, hook: str) -> Exception:
        """``error`` itself, or a `BaseException` (SystemExit, KeyboardInterrupt...)
        wrapped so that the supervisor handles it like any failure."""
        if isinstance(error, Exception):
            return error
        wrapped = ActorFailedError(
            f"{self._path} raised {error!r} in {hook}; handled as a failure", path=self._path
        )
        wrapped.__cause__ = error
        return wrapped

    def _wait_stopped(self, timeout: float | None) -> bool:
        if current.on_loop:
            raise DeadlockError(
                f"wait_stopped({self._path}) would block the actor system's event loop"
            )
        driver = current.driver
        if driver is not None:
            return driver(lambda: self._state is STOPPED)
        with self._guard:
            if self._state is STOPPED:
                return True
            event = self._stopped_event
            if event is None:
                event = self._stopped_event = Latch()  # (not an Event: see _safe_wait)
        # From a turn, as a blocking ask does: the pool keeps its other cells
        # (this actor's among them) running meanwhile.
        return self._system._blocking(lambda: event.wait(timeout))
