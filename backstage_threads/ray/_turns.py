"""The turn thread of a host: the actor's lifecycle, one hook at a time.

One thread per host, the turn thread, runs the hooks of the hosted actor
(``on_start``, ``receive``, ``on_stop``, the supervisor's decider for its
children) one turn at a time. It serves control items before letters, and
letters only while the actor runs: a failed actor (awaiting its supervisor)
and a host re-created after its process died (awaiting the directive to
rebuild) keep their letters queued.

Caller runs. An ask that finds the actor running, idle and its mailbox empty
(no control item, no letter before it) runs its ``receive`` at once on the
Ray thread that brought it (`run_now`), instead of waking the turn thread and
waiting to be woken back: that saves two thread hand-offs per ask (measured
here, 50-90 us of a 0.9 ms round trip). Turns stay one at a time: the
mailbox's turn flag (``_mailbox.py``) is taken by whichever thread runs a
turn, under the mailbox's lock, so each turn happens-after the previous one
and the actor's state needs no lock, as on the thread backend, where an
actor's turns also run on any worker thread. A pinned actor
(``spawn(pinned=True)``) runs every turn on its turn thread, as a pinned actor
runs on its own thread on the thread backend (for state bound to one thread,
such as a sqlite3 connection).

States, on this thread only: ``starting`` -> ``running`` <-> ``failed`` ->
``stopping`` -> ``stopped``; ``awaiting`` replaces ``starting`` in a
re-created host.

Failures follow the thread backend: the failing message becomes a dead letter
(``failed: ...``), an ask waiting on it fails with the exception, and the
parent gets a `ChildFailed` and decides (``_family.py``). A failure in the
``/user`` guardian stops the system and is recorded as its failure.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from loguru import logger
from ray import cloudpickle

from .._actor import Actor
from .._errors import ActorFailedError, ActorInitializationError, ActorStoppedError
from .._request import Adapted
from .._signals import ReceiveTimeout
from .._status import ServiceStatus
from ._mailbox import Letter, settle
from ._ref import RayActorRef
from ._spec import ChildFailed, ChildGone, Directive, Stop, WatchFired
from ._state import HostState

__all__ = ["Turns"]

#: Seconds the turn thread waits for work before it re-checks (no receive timeout).
IDLE_WAIT = 1.0


class Turns(HostState):
    """The lifecycle half of `Host` (a mixin: the host holds the fields)."""

    def start_turns(self) -> None:
        self.actor = None
        self.receive_timeout = None
        self.state = "awaiting" if self.reconstructed else "starting"
        self.turn_thread = threading.Thread(
            target=self._run, name=f"backstage-turns{self.spec.path}", daemon=True
        )
        self.turn_thread.start()

    def _run(self) -> None:
        if self.state == "starting":
            self._build()  # the first turn (the mailbox starts with it taken)
        while self.state != "stopped":
            self.mailbox.release()
            taken = self.mailbox.take(self._plan)
            try:
                if taken is None:
                    if self.state == "running" and self.receive_timeout:
                        self._handle(Letter(ReceiveTimeout(self.receive_timeout)))
                elif taken.letter is not None:
                    self._handle(taken.letter)
                else:
                    self._on_control(taken.control)
            except Exception as error:  # noqa: BLE001 - a runtime bug: fail the actor, loudly
                self._runtime_error(error)

    def _plan(self) -> tuple[bool, float]:
        """Whether letters may be taken, and the idle wait (asked between turns)."""
        running = self.state == "running"
        return running, (self.receive_timeout if running and self.receive_timeout else IDLE_WAIT)

    def run_now(self, letter: Letter, placed: Callable[[], None]) -> bool:
        """Run ``letter`` on the calling thread if the actor is idle and nothing
        waits before it (see "Caller runs" above); False: queue it instead.

        ``placed`` is called once the letter has its place (it runs now).
        """
        if self.spec.pinned or not self.mailbox.claim():
            return False
        try:
            if self.state != "running":
                return False
            placed()
            try:
                self._handle(letter)
            except Exception as error:  # noqa: BLE001 - a runtime bug: fail the actor, loudly
                settle(letter.reply, None, error)  # (nothing if the reply was set)
                self._runtime_error(error)
            return True
        finally:
            self.mailbox.release()

    def _runtime_error(self, error: Exception) -> None:
        logger.opt(exception=True).error("runtime error in {}", self.spec.path)
        if self.state == "running":
            self._fail(error, None, "runtime")

    # -- hooks ---------------------------------------------------------------------------

    def _build(self) -> None:
        """Build a new instance and run ``on_start``; a failure goes to the parent."""
        try:
            actor = self.spec.factory()
        except BaseException as error:  # noqa: BLE001 - user code: reported, never fatal
            wrapped = ActorInitializationError(f"the factory of {self.spec.path} raised {error!r}")
            wrapped.__cause__ = error
            self._fail(wrapped, None, "factory")
            return
        if not isinstance(actor, Actor):
            self._fail(
                ActorInitializationError(
                    f"the factory of {self.spec.path} returned {actor!r}, not an Actor"
                ),
                None,
                "factory",
            )
            return
        actor._context = self.context
        self.actor = actor
        self._start_instance()

    def _start_instance(self) -> None:
        self.set_status(ServiceStatus.INITIALIZING)
        assert self.actor is not None
        try:
            self.actor.on_start()
        except BaseException as error:  # noqa: BLE001 - user code
            self._fail(_as_exception(error), None, "on_start")
            return
        self.state = "running"
        self.set_status(ServiceStatus.RUNNING)

    def _handle(self, letter: Letter) -> None:
        assert self.actor is not None
        message = letter.message
        try:
            if isinstance(message, Adapted):
                message = message.open()
            value = self.actor.receive(message)
        except BaseException as error:  # noqa: BLE001 - user code: goes to the supervisor
            failure = _as_exception(error)
            settle(letter.reply, None, failure)
            self.dead_letters.record(self.ref, letter.message, f"failed: {failure!r}")
            self._fail(failure, letter.message, "receive")
            return
        settle(letter.reply, value, None)

    def _stop_instance(self) -> None:
        """``on_stop`` of the current instance (a failure is reported, not fatal)."""
        actor, self.actor = self.actor, None
        if actor is None:
            return
        try:
            actor.on_stop()
        except BaseException as error:  # noqa: BLE001 - user code
            self._report(_as_exception(error), None, "on_stop")

    # -- failures ------------------------------------------------------------------------

    def _fail(self, error: Exception, message: object, hook: str) -> None:
        """Suspend and tell the parent (or, for ``/user``, stop the system)."""
        self.state = "failed"
        self.set_status(ServiceStatus.OUTAGE)
        logger.bind(actor=self.spec.path).opt(exception=error).error("failed in {}", hook)
        self._report(error, message, hook)

    def _report(self, error: Exception, message: object, hook: str) -> None:
        parent = self.spec.parent
        assert parent is None or isinstance(parent, RayActorRef)
        error, message = _portable(error), _portable(message)
        if parent is None:
            assert self.office is not None
            self.office.fail(self.spec.path, error, message, hook)
            if hook != "on_stop":
                self.request_stop(f"the guardian failed: {error!r}")
            return
        try:
            parent._handle.control.remote(ChildFailed(self.spec.name, error, message, hook))
        except Exception:  # noqa: BLE001 - the parent is gone: we go with it
            self.request_stop("parent unreachable")

    # -- control items -------------------------------------------------------------------

    def _on_control(self, item: object) -> None:
        if isinstance(item, Stop):
            if self.state != "stopped":
                self._stop(item.reason or "stopped")
        elif isinstance(item, Directive):
            self._directive(item)
        elif isinstance(item, ChildFailed):
            self.child_failed(item)
        elif isinstance(item, ChildGone):
            self.child_gone(item)
        elif isinstance(item, WatchFired):
            self.watch_fired(item)
        elif callable(item):
            item()

    def _directive(self, order: Directive) -> None:
        if self.state not in ("failed", "awaiting", "running"):
            return  # stopping or stopped: nothing to resume or restart
        self.restarts = max(self.restarts, order.restarts)
        if order.action == "suspend":
            self.state = "failed"
        elif order.action == "resume":
            if self.actor is None:
                self._build()
            else:
                self.state = "running"
                self.set_status(ServiceStatus.RUNNING)
        elif order.action == "restart":
            self._restart()

    def _restart(self) -> None:
        logger.bind(actor=self.spec.path).info("restarting")
        self.stop_children("restarting")
        keep = (
            self.actor if self.actor is not None and self.actor.keep_instance_on_restart else None
        )
        self._stop_instance()
        self.receive_timeout = None
        if keep is None:
            self._build()
        else:
            self.actor = keep
            self._start_instance()

    def _stop(self, reason: str) -> None:
        """Children first, then ``on_stop``; what is left becomes dead letters."""
        self.state = "stopping"
        self.set_status(ServiceStatus.STOPPING)
        self.stop_children(reason)
        self._stop_instance()
        for letter in self.mailbox.close():
            self.drop(letter, "actor stopped", ActorStoppedError(f"{self.spec.path} stopped"))
        self.timers.shutdown(1.0)
        self.unwatch_all()
        self.state = "stopped"
        self.set_status(ServiceStatus.STOPPED)
        self.mark_stopped(reason)

    def set_status(self, status: ServiceStatus) -> None:
        if status is not self.status:
            self.status = status
            self.since = time.time()

    def deliver(self, message: object) -> None:
        """Post a runtime message to this actor beyond capacity (or a dead letter)."""
        if not self.mailbox.force(Letter(message)):
            self.dead_letters.record(self.ref, message, "actor stopped")


def _as_exception(error: BaseException) -> Exception:
    if isinstance(error, Exception):
        return error
    wrapped = ActorFailedError(f"{error!r} raised in an actor")
    wrapped.__cause__ = error
    return wrapped


def _portable(value: Any) -> Any:
    """``value`` if it pickles, else a stand-in naming it (errors must reach the parent)."""
    try:
        cloudpickle.dumps(value)  # type: ignore[no-untyped-call]
    except Exception:  # noqa: BLE001 - anything unpicklable gets a stand-in
        if isinstance(value, BaseException):
            return ActorFailedError(f"{value!r} (not picklable: sent as its repr)")
        return f"<unpicklable {type(value).__qualname__}: {value!r}>"
    return value
