"""The actor cell: one actor's mailbox, lifecycle, children and turns.

A cell is also the actor's *context* (``self.context`` inside hooks): the public
methods below are the API an actor uses to reach its ref, parent, system and
children; the underscored ones are the runtime's.

Turns:
    Whoever sets the mailbox's "scheduled" flag submits the cell to its
    dispatcher; the thread that runs the turn is the only one that touches the
    actor instance, and it hands the flag on (or releases it) at the end.
    Invariant: at most one thread runs a cell's turn at a time, and each turn
    happens-after the previous one (the flag's release/acquire orders them), so
    actor state needs no lock.

System messages (start, stop, child events, directives) go through ``_sys``, a
list (append and pop(0) are atomic) processed at the start of every turn, ahead
of user messages, and they cut a turn short.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from ._actor import Actor
from ._envelope import Ask, settle_error, settle_result
from ._errors import ActorStoppedError, ActorSystemClosedError, DuplicateNameError
from ._local import current
from ._mailbox import DEFAULT_CAPACITY, Mailbox, fail_ask
from ._overflow import Overflow
from ._ref import ActorRef
from ._supervision import Failure
from ._validate import check_capacity, check_name

if TYPE_CHECKING:
    from ._system import ActorSystem

__all__ = ["ActorCell", "Factory"]

Factory = Callable[[], Actor[Any]]

# Lifecycle states. Invariant: transitions only go forward, except
# FAILED -> RUNNING (resume or restart).
NEW: Final = "new"  # created, on_start not yet run
RUNNING: Final = "running"
FAILED: Final = "failed"  # suspended until the parent's directive
STOPPING: Final = "stopping"  # waiting for children, then on_stop
STOPPED: Final = "stopped"

# System message kinds; each system message is a (kind, payload) tuple.
_START: Final = 0
_STOP: Final = 1
_CHILD_TERMINATED: Final = 2
_CHILD_FAILED: Final = 3
_RESUME: Final = 4
_RESTART: Final = 5


class ActorCell(Mailbox):
    """Runtime state of one actor, and the context its hooks see."""

    __slots__ = (
        "__weakref__",
        "_actor",
        "_children",
        "_dispatch",
        "_factory",
        "_gate",
        "_mute_target",
        "_name",
        "_parent",
        "_path",
        "_ref",
        "_restart_log",
        "_state",
        "_stop_reason",
        "_stopped_event",
        "_sys",
        "_system",
        "restarts",
    )

    def __init__(
        self,
        system: ActorSystem,
        parent: ActorCell | None,
        name: str,
        factory: Factory,
        capacity: int | None,
        overflow: Overflow,
        dispatch: Callable[[ActorCell], None],
    ) -> None:
        super().__init__(capacity, overflow)
        self._system = system
        self._parent = parent
        self._name = name
        self._path: str = f"{parent._path}/{name}" if parent is not None else f"/{name}"
        self._factory = factory
        self._dispatch = dispatch
        self._actor: Actor[Any] | None = None
        self._ref: ActorRef[Any] = ActorRef(self)
        self._state: str = NEW
        self._sys: list[tuple[int, Any]] = [(_START, None)]
        # Guarded by the system's tree lock; None until the first child.
        self._children: dict[str, ActorCell] | None = None
        # The mailbox this actor is muted on, set and cleared by its own turn.
        self._mute_target: ActorCell | None = None
        # Two-party handshake between a muted actor's turn end and the unmute.
        self._gate: threading.Lock | None = None
        self._stop_reason = "actor stopped"
        # Created by the first waiter (under the tree lock), set at STOPPED.
        self._stopped_event: threading.Event | None = None
        self.restarts = 0
        # Monotonic times of recent restarts; kept by the parent's strategy.
        self._restart_log: list[float] | None = None

    # -- public context API --------------------------------------------------------

    @property
    def self(self) -> ActorRef[Any]:
        """This actor's own ref."""
        return self._ref

    @property
    def name(self) -> str:
        """This actor's name among its siblings."""
        return self._name

    @property
    def path(self) -> str:
        """This actor's path, such as ``/user/app/db``."""
        return self._path

    @property
    def parent(self) -> ActorRef[Any] | None:
        """The parent's ref (None only for the root guardian)."""
        return self._parent._ref if self._parent is not None else None

    @property
    def system(self) -> ActorSystem:
        """The actor system this actor belongs to."""
        return self._system

    @property
    def children(self) -> tuple[ActorRef[Any], ...]:
        """Refs of the live children, in spawn order."""
        with self._system._tree_lock:
            cells = tuple(self._children.values()) if self._children else ()
        return tuple(cell._ref for cell in cells)

    def child(self, name: str) -> ActorRef[Any] | None:
        """The live child called ``name``, or None."""
        with self._system._tree_lock:
            cell = self._children.get(name) if self._children else None
        return cell._ref if cell is not None else None

    def spawn(
        self,
        factory: type[Actor[Any]] | Factory,
        *,
        name: str | None = None,
        capacity: int | None = DEFAULT_CAPACITY,
        overflow: Overflow = Overflow.BLOCK,
        pinned: bool = False,
    ) -> ActorRef[Any]:
        """Start a child actor and return its ref.

        Args:
            factory: An `Actor` subclass or a zero-argument callable returning a
                new actor instance (called again on every restart).
            name: Unique among siblings; generated (``$1``, ``$2``...) if None.
            capacity: Mailbox bound (an int >= 1), or None for unbounded.
            overflow: What a send does when the mailbox is full.
            pinned: Run this actor on a dedicated thread, for actors that block
                (I/O, sleeps, long C calls), so it never holds a shared worker.

        Raises:
            TypeError: If ``factory`` is not callable, or an option has a bad type.
            ValueError: If ``name`` or ``capacity`` is invalid.
            DuplicateNameError: If a sibling already has ``name``.
            ActorStoppedError: If this actor is stopping.
            ActorSystemClosedError: If the system is shutting down.
        """
        if not callable(factory):
            raise TypeError(
                f"spawn() needs an Actor subclass or a zero-argument factory, got {factory!r}"
            )
        if name is not None:
            check_name(name)
        capacity = check_capacity(capacity)
        if not isinstance(overflow, Overflow):
            raise TypeError(
                f"overflow must be an Overflow member ({', '.join(o.name for o in Overflow)}), "
                f"got {overflow!r}"
            )
        if not isinstance(pinned, bool):
            raise TypeError(f"pinned must be a bool, got {pinned!r}")
        return self._system._spawn_cell(self, factory, name, capacity, overflow, pinned)._ref

    def stop(self, child: ActorRef[Any] | None = None) -> None:
        """Stop this actor (or one of its children) after the message in hand."""
        target = self if child is None else child._cell
        target._request_stop(None)

    # -- runtime: tree ---------------------------------------------------------------

    def _add_child(self, name: str | None, make: Callable[[str], ActorCell]) -> ActorCell:
        """Create and register a child under the tree lock; it is not yet scheduled."""
        system = self._system
        with system._tree_lock:
            if self._state in (STOPPING, STOPPED):
                if system._closing:
                    raise ActorSystemClosedError(
                        f"cannot spawn under {self._path}: the actor system is shut down"
                    )
                raise ActorStoppedError(f"cannot spawn a child of {self._path}: it is stopping")
            children = self._children
            if children is None:
                children = self._children = {}
            if name is None:
                name = f"${system._next_uid()}"
            elif name in children:
                raise DuplicateNameError(
                    f"{self._path} already has a child named {name!r}; sibling names must be unique"
                )
            cell = make(name)
            children[name] = cell
        return cell

    # -- runtime: scheduling -------------------------------------------------------

    def _schedule(self) -> None:
        self._dispatch(self)

    def _request_stop(self, reason: str | None) -> None:
        self._post_system((_STOP, reason))

    def _request_resume(self) -> None:
        self._post_system((_RESUME, None))

    def _request_restart(self) -> None:
        self._post_system((_RESTART, None))

    def _post_system(self, message: tuple[int, Any]) -> None:
        self._sys.append(message)
        if self._scheduled.acquire(False):
            self._dispatch(self)

    def _run_turn(self, budget: int) -> int:
        """Run one turn of at most ``budget`` messages; return how many ran.

        Called only by the thread that holds the scheduled flag; hands the flag on
        (by resubmitting) or releases it before returning.
        """
        current.cell = self
        processed = 0
        try:
            if self._sys:
                self._handle_system()
            state = self._state
            if state is RUNNING:
                processed = self._process(budget)
            elif state is STOPPED:
                self._drain(self._stop_reason)
        finally:
            current.cell = None
        if processed:
            self._room_made()
        self._end_turn()
        return processed

    def _process(self, budget: int) -> int:
        # The per-message hot path: keep it free of locks and allocations.
        actor = self._actor
        assert actor is not None
        receive = actor.receive
        pop = self._queue.popleft
        sysq = self._sys
        count = 0
        while count < budget:
            try:
                item = pop()
            except IndexError:
                spill = self._spill
                if not spill:
                    break
                item = spill.popleft()  # only this thread pops: cannot be empty
            count += 1
            if type(item) is Ask:
                try:
                    result = receive(item.message)
                except Exception as exc:  # noqa: BLE001 - reported to the supervisor
                    settle_error(item.reply, exc)
                    self._fail(exc, item.message, "receive")
                    break
                settle_result(item.reply, result)
            else:
                try:
                    receive(item)
                except Exception as exc:  # noqa: BLE001 - reported to the supervisor
                    self._fail(exc, item, "receive")
                    break
            if sysq or self._mute_target is not None:
                break
        return count

    def _run_stopped(self) -> None:
        """The dispatcher of a stopped actor: dead-letter late messages inline.

        Installed by `_finish_stop` before the final turn releases the scheduled
        flag, so every later flag holder sees it (the release/acquire pair orders
        the write) and no pool or pinned thread is needed after the stop.
        """
        while True:
            while self._sys:
                self._sys.pop(0)  # lifecycle messages mean nothing once stopped
            self._drain(self._stop_reason)
            self._scheduled.release()
            if not self._has_work() or not self._scheduled.acquire(False):
                return

    def _turn_after_shutdown(self) -> None:
        """The pool has stopped: dead-letter what is queued, then free the flag."""
        self._drain("actor system shut down")
        self._scheduled.release()

    def _has_work(self) -> bool:
        if self._sys:
            return True
        if self._state is RUNNING or self._state is STOPPED:
            return bool(self._queue) or bool(self._spill)
        return False

    def _end_turn(self) -> None:
        if self._mute_target is not None and self._park_muted():
            return  # the target reschedules us; we keep the scheduled flag
        if self._has_work():
            self._dispatch(self)  # keep the flag: more work waits
            return
        self._scheduled.release()
        # Close the lost-wakeup window: a sender that enqueued after our check
        # but before the release failed to take the flag and relies on us.
        if self._has_work() and self._scheduled.acquire(False):
            self._dispatch(self)

    # -- runtime: muting (actor-to-actor backpressure) ----------------------------------

    def _mute_sender(self, sender: ActorCell) -> None:
        """Register ``sender`` (running on this thread) as muted on this mailbox."""
        muted = self._muted
        if muted is None:
            with self._system._lazy_guard:
                if self._muted is None:
                    self._muted = deque()
                muted = self._muted
        if sender._gate is None:
            sender._gate = threading.Lock()
        sender._mute_target = self
        muted.append(sender)

    def _arrive(self) -> bool:
        """Handshake between the muted turn's end and the unmute: True if first."""
        gate = self._gate
        assert gate is not None
        if gate.acquire(False):
            return True
        gate.release()  # second to arrive: reset the gate for the next episode
        return False

    def _park_muted(self) -> bool:
        target = self._mute_target
        assert target is not None and target._muted is not None
        self._mute_target = None
        if self._muted:
            # Someone is muted on us: parking too could close a cycle of muted
            # actors that nobody drains. Withdraw, unless the unmute already began.
            try:
                target._muted.remove(self)
                return False
            except ValueError:
                pass
        return self._arrive()

    def _unmute(self) -> None:
        if not self._arrive():
            self._dispatch(self)  # its turn already ended parked: resubmit it

    # -- runtime: system messages and lifecycle --------------------------------------

    def _handle_system(self) -> None:
        sysq = self._sys
        while sysq:
            kind, payload = sysq.pop(0)
            if kind == _START:
                self._start()
            elif kind == _STOP:
                self._begin_stop(payload)
            elif kind == _CHILD_TERMINATED:
                self._child_terminated(payload)
            elif kind == _CHILD_FAILED:
                self._child_failed(payload)
            elif kind == _RESUME:
                if self._state is FAILED:
                    self._state = RUNNING
            elif kind == _RESTART:
                self._restart()

    def _start(self) -> None:
        if self._state is not NEW:
            return
        if self._instantiate():
            self._state = RUNNING
            self._call_hook("on_start")

    def _instantiate(self) -> bool:
        try:
            actor = self._factory()
            if not isinstance(actor, Actor):
                raise TypeError(
                    f"the factory of {self._path} returned {actor!r}, which is not an Actor"
                )
        except Exception as exc:  # noqa: BLE001 - a start failure goes to the supervisor
            self._fail(exc, None, "factory")
            return False
        actor._context = self
        self._actor = actor
        return True

    def _call_hook(self, hook: str) -> bool:
        actor = self._actor
        assert actor is not None
        try:
            getattr(actor, hook)()
        except Exception as exc:  # noqa: BLE001 - reported to the supervisor
            self._fail(exc, None, hook)
            return False
        return True

    def _restart(self) -> None:
        if self._state is not FAILED:
            return
        self.restarts += 1
        if self._actor is not None:
            self._call_hook_quietly("on_stop")
        self._actor = None
        self._state = NEW
        self._start()

    def _call_hook_quietly(self, hook: str) -> None:
        """Run a hook whose failure cannot change the outcome; report it."""
        actor = self._actor
        assert actor is not None
        try:
            getattr(actor, hook)()
        except Exception as exc:  # noqa: BLE001 - reported, not re-raised
            self._system._report_hook_error(self, hook, exc)

    def _fail(self, error: Exception, message: object, hook: str) -> None:
        if message is not None:
            self._system.dead_letters.record(self._ref, message, f"failed: {error!r}")
        self._state = FAILED
        failure = Failure(self._ref, error, message, hook)
        parent = self._parent
        if parent is None:
            self._system._root_failed(failure)
        else:
            parent._post_system((_CHILD_FAILED, failure))

    def _child_failed(self, failure: Failure) -> None:
        if self._state is STOPPING or self._state is STOPPED:
            failure.child._cell._request_stop(None)
            return
        actor = self._actor
        assert actor is not None
        try:
            actor.on_child_failure(failure)
        except Exception as exc:  # noqa: BLE001 - a supervisor's own failure escalates
            failure.child._cell._request_stop(None)
            self._fail(exc, None, "on_child_failure")

    def _begin_stop(self, reason: str | None) -> None:
        if self._state is STOPPING or self._state is STOPPED:
            return
        if reason is not None:
            self._stop_reason = reason
        with self._system._tree_lock:
            was_running = self._state is RUNNING or self._state is FAILED
            self._state = STOPPING
            children = tuple(self._children.values()) if self._children else ()
        for child in children:
            child._post_system((_STOP, reason))
        if not children:
            self._finish_stop(was_running)

    def _child_terminated(self, child: ActorCell) -> None:
        with self._system._tree_lock:
            if self._children is not None and self._children.get(child._name) is child:
                del self._children[child._name]
            done = self._state is STOPPING and not self._children
        if done:
            self._finish_stop(self._actor is not None)

    def _finish_stop(self, run_on_stop: bool) -> None:
        if run_on_stop and self._actor is not None:
            self._call_hook_quietly("on_stop")
        with self._system._tree_lock:
            self._state = STOPPED
            self._closed = True
            event = self._stopped_event
        self._dispatch = ActorCell._run_stopped
        self._drain(self._stop_reason)
        parent = self._parent
        if parent is not None:
            parent._post_system((_CHILD_TERMINATED, self))
        self._system._cell_stopped(self)
        if event is not None:
            event.set()

    def _drain(self, reason: str) -> None:
        """Turn every waiting message into a dead letter and free blocked senders."""
        error = ActorStoppedError(f"{self._path} stopped ({reason}); message not processed")
        record = self._system.dead_letters.record
        for message in self._take_all():
            record(self._ref, fail_ask(message, error), reason)
        self._release_everyone()

    # -- runtime: mailbox hooks ------------------------------------------------------

    def _discard(self, message: object, reason: str, error: BaseException) -> None:
        self._system.dead_letters.record(self._ref, fail_ask(message, error), reason)

    def _reject_closed(self, message: object) -> None:
        reason = self._stop_reason
        error = ActorStoppedError(f"{self._path} has stopped; message not delivered")
        self._system.dead_letters.record(self._ref, fail_ask(message, error), reason)
        if self._system._closed:
            raise ActorSystemClosedError(
                f"cannot send to {self._path}: actor system {self._system.name!r} has shut down"
            )

    def _lazy_lock(self) -> threading.Lock:
        return self._system._lazy_guard

    def _describe(self) -> str:
        return self._path

    # -- runtime: waiting -------------------------------------------------------------

    def _wait_stopped(self, timeout: float | None) -> bool:
        with self._system._tree_lock:
            if self._state is STOPPED:
                return True
            event = self._stopped_event
            if event is None:
                event = self._stopped_event = threading.Event()
        return event.wait(timeout)

    @property
    def is_alive(self) -> bool:
        """True until the actor has stopped."""
        return self._state is not STOPPED

    def __repr__(self) -> str:
        return f"<ActorCell {self._path} {self._state}>"
