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

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Final

from . import _log
from ._actor import Actor
from ._aio import AsyncActor, LoopBridge
from ._envelope import Ask, settle_error, settle_result
from ._errors import (
    ActorFailedError,
    ActorInitializationError,
    ActorStoppedError,
    ActorSystemClosedError,
    BackstageError,
    DeadlockError,
    DuplicateNameError,
)
from ._factory import Factory, actor_factory
from ._local import current
from ._mailbox import DEFAULT_CAPACITY, Mailbox, fail_ask
from ._overflow import Overflow
from ._ref import ActorRef
from ._request import Adapt, Adapted
from ._request import ask as _ask
from ._request import pipe as _pipe
from ._signals import ReceiveTimeout, Terminated
from ._status import SETTABLE, ServiceStatus
from ._supervision import Failure
from ._timers import TimerHandle
from ._validate import check_capacity, check_name, check_timeout

if TYPE_CHECKING:
    from ._system import ActorSystem

__all__ = ["ActorCell", "Factory"]

# Lifecycle states. Invariant: transitions only go forward, except
# FAILED -> RUNNING (resume or restart).
NEW: Final = "new"  # created, on_start not yet run
RUNNING: Final = "running"
FAILED: Final = "failed"  # suspended until the parent's directive
RESTARTING: Final = "restarting"  # waiting for its children to stop, then a new start
STOPPING: Final = "stopping"  # waiting for children, then on_stop
STOPPED: Final = "stopped"

# System message kinds; each system message is a (kind, payload) tuple.
_STOP: Final = 1
_CHILD_TERMINATED: Final = 2
_CHILD_FAILED: Final = 3
_RESUME: Final = 4
_RESTART: Final = 5
_WATCH: Final = 6
_UNWATCH: Final = 7
_SUSPEND: Final = 8
_CHILD_STATUS: Final = 9
_STOP_TIMEOUT: Final = 10
_CRASHED: Final = 11  # the runtime raised outside this actor's turn (payload: the error)

# Prune fired one-shot timers from an actor's set once it holds this many, so an
# actor that calls send_after in a loop does not accumulate dead handles.
_TIMER_PRUNE_AT = 64


# `_outcome` while an async actor's receive coroutine is running.
_PENDING: Final = object()
# "No message" in the turn loop (None is a valid message).
_EMPTY: Final = object()
# The "messages" of outcomes that settle async lifecycle hooks: an on_start,
# an on_stop while stopping, an on_stop while restarting.
_ON_START: Final = object()
_ON_STOP: Final = object()
_ON_RESTART: Final = object()


class _ReceiveTimeoutState:
    """The armed receive timeout of one actor (replaced, never mutated, by the actor)."""

    __slots__ = ("handle", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.handle: TimerHandle | None = None


class ActorCell(Mailbox):
    """Runtime state of one actor, and the context its hooks see."""

    __slots__ = (
        "__weakref__",
        "_actor",
        "_bridge",
        "_children",
        "_derives",
        "_factory",
        "_gate",
        "_last_active",
        "_mute_target",
        "_name",
        "_outcome",
        "_parent",
        "_path",
        "_receive_timeout",
        "_ref",
        "_restart_log",
        "_state",
        "_status",
        "_status_since",
        "_stop_reason",
        "_stop_timer",
        "_stopped_event",
        "_sys",
        "_system",
        "_timers",
        "_watchers",
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
        # Created with the first system message (under the system's lazy guard):
        # most actors never get one, and an idle actor must stay small. The
        # first turn starts the actor because its state is NEW.
        self._sys: list[tuple[int, Any]] | None = None
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
        self._status = ServiceStatus.STARTING
        self._status_since = time.time()
        # The three below are touched only by the thread holding the scheduled
        # flag (the actor's own turn), so they need no lock.
        self._watchers: set[ActorCell] | None = None
        self._timers: set[TimerHandle] | None = None
        self._receive_timeout: _ReceiveTimeoutState | None = None
        self._last_active = 0.0
        # True when the actor overrides derive_status (set at instantiation).
        self._derives = False
        # Fires if the children take longer than the system allows to stop.
        self._stop_timer: TimerHandle | None = None
        # Async actors only: the event-loop bridge, and the outcome of the
        # batch or on_start coroutine in flight: None, _PENDING, or, once it has
        # ended, (item, error) where item is _ON_START or the message in hand.
        self._bridge: LoopBridge | None = None
        self._outcome: object = None

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
        factory: Callable[..., Actor[Any]],
        /,
        *args: Any,
        name: str | None = None,
        capacity: int | None = DEFAULT_CAPACITY,
        overflow: Overflow = Overflow.BLOCK,
        pinned: bool = False,
        kwargs: Mapping[str, Any] | None = None,
    ) -> ActorRef[Any]:
        """Start a child actor and return its ref.

        Constructor arguments follow the factory; keyword ones go in ``kwargs``
        so that they never clash with spawn's own options:
        ``spawn(Worker, db, name="w", kwargs={"retries": 3})`` builds
        ``Worker(db, retries=3)``, and builds it again the same way (with the
        same argument objects) on every restart.

        Args:
            factory: An `Actor` subclass, or any callable returning a new actor
                instance (a function, a lambda, a ``functools.partial``).
            *args: Positional arguments for ``factory``.
            name: Unique among siblings; generated (``$1``, ``$2``...) if None.
            capacity: Mailbox bound (an int >= 1), or None for unbounded.
            overflow: What a send does when the mailbox is full.
            pinned: Run this actor on a dedicated thread, for actors that block
                (I/O, sleeps, long C calls), so it never holds a shared worker.
            kwargs: Keyword arguments for ``factory`` (copied at the call).

        Raises:
            TypeError: If ``factory`` is a class that is not an `Actor` subclass
                or is not callable, or an option has a bad type. (Arguments that
                do not fit the constructor fail the actor's start instead, which
                reaches the supervisor as `ActorInitializationError`.)
            ValueError: If ``name`` or ``capacity`` is invalid.
            DuplicateNameError: If a sibling already has ``name``.
            ActorStoppedError: If this actor is stopping.
            ActorSystemClosedError: If the system is shutting down.
        """
        build = actor_factory(factory, args, kwargs)
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
        return self._system._spawn_cell(self, build, name, capacity, overflow, pinned)._ref

    def stop(self, child: ActorRef[Any] | None = None) -> None:
        """Stop this actor (or one of its children) after the message in hand."""
        target = self if child is None else child._cell
        target._request_stop(None)

    @property
    def status(self) -> ServiceStatus:
        """This actor's current service status."""
        return self._status

    def set_status(self, status: ServiceStatus) -> None:
        """Report a service status (Running, Degraded, Maintenance, Idle or Outage).

        The lifecycle statuses (Starting, Initializing, Stopping, Stopped) belong
        to the runtime.
        """
        if status not in SETTABLE:
            allowed = ", ".join(sorted(s.name for s in SETTABLE))
            raise ValueError(f"an actor may set its status to {allowed}; got {status!r}")
        if self._state is RUNNING or self._state is NEW:
            self._set_status(status)

    def watch(self, ref: ActorRef[Any]) -> None:
        """Receive `Terminated(ref, reason)` when ``ref`` stops (at once if it has)."""
        ref._cell._post_system((_WATCH, self))

    def unwatch(self, ref: ActorRef[Any]) -> None:
        """Stop watching ``ref``; a Terminated already on its way may still arrive."""
        ref._cell._post_system((_UNWATCH, self))

    def send_after(self, delay: float, message: object) -> TimerHandle:
        """Send ``message`` to this actor after ``delay`` seconds; cancellable."""
        return self._add_timer(check_timeout(delay, "delay") or 0.0, message, None)

    def send_every(self, period: float, message: object) -> TimerHandle:
        """Send ``message`` to this actor every ``period`` seconds; cancellable."""
        period = check_timeout(period, "period") or 0.0
        if not period:
            raise ValueError(f"period must be a number of seconds > 0, got {period!r}")
        return self._add_timer(period, message, period)

    def set_receive_timeout(self, seconds: float | None) -> None:
        """Deliver `ReceiveTimeout` whenever no message arrived for ``seconds``.

        None turns it off. The timeout is re-armed after every delivery.
        """
        old = self._receive_timeout
        if old is not None and old.handle is not None:
            old.handle.cancel()
        if seconds is None:
            self._receive_timeout = None
            return
        seconds = check_timeout(seconds, "receive timeout") or 0.0
        if not seconds:
            raise ValueError(f"receive timeout must be > 0 seconds or None, got {seconds!r}")
        state = self._receive_timeout = _ReceiveTimeoutState(seconds)
        timers = self._system._timers
        self._last_active = timers.clock.now()
        state.handle = timers.schedule(seconds, lambda: self._receive_timeout_due(state))

    def ask(
        self,
        target: ActorRef[Any],
        message: object,
        *,
        timeout: float | None,
        tag: object = None,
        adapt: Adapt | None = None,
    ) -> None:
        """Ask ``target`` without waiting: the outcome comes back as a message.

        Returns at once. Exactly one `Response` (``tag``, ``value``, ``error``)
        then arrives through this actor's mailbox, like any message: the reply
        (what the target's ``receive`` returned), or as ``error`` what it
        raised, `AskTimeoutError` if no reply came within ``timeout`` seconds,
        `ActorStoppedError` if the target stopped before handling the message,
        or the error of a send that failed at once (a full FAIL mailbox). A
        reply that comes after the timeout is not delivered; it is recorded as
        a dead letter with the reason. If this actor has stopped meanwhile, the
        Response is a dead letter too. This is the way actors ask each other: a
        blocking ``ref.ask`` inside an actor holds a worker until the reply.

        Args:
            target: The actor to ask (asking this actor itself works too).
            message: What to send; the target's ``receive`` gets it as for an ask.
            timeout: Seconds to wait for the reply, on the system's timers (a
                manual clock in the testing kit); None waits as long as it takes.
            tag: Put in the `Response`, to tell outcomes apart.
            adapt: Maps the `Response` to a message of this actor's own type;
                it runs in this actor's turn just before ``receive`` (an
                exception in it is a failure of ``receive``). Give it a
                conversion (a class, a function), not a bound method that
                handles the reply: after a restart it would run on the old
                instance.

        Raises:
            TypeError: If ``target`` is not an `ActorRef`, ``timeout`` not a
                number or None, or ``adapt`` not callable.
            ValueError: If ``timeout`` is negative or not finite.

        Thread safety: call it from this actor's hooks. Replies may arrive from
        any thread; they are only ever handled in this actor's turns.
        """
        _ask(self, target, message, timeout, tag, adapt)

    def pipe(
        self,
        future: Future[Any],
        *,
        timeout: float | None = None,
        tag: object = None,
        adapt: Adapt | None = None,
    ) -> None:
        """Send the outcome of ``future`` to this actor as a `Response` message.

        Like Akka's ``pipeTo``: when the `concurrent.futures.Future` completes
        (say, work handed to a ``ThreadPoolExecutor``), one `Response` arrives
        through this actor's mailbox with its result as ``value``, or as
        ``error`` what it raised, `concurrent.futures.CancelledError` if it was
        cancelled, or `TimeoutError` if it did not complete within ``timeout``
        seconds (an outcome after that is a dead letter). ``tag`` and ``adapt``
        are as for `ask`. The future's callback only posts the message; no code
        of this actor runs on the thread completing the future.

        Raises:
            TypeError: If ``future`` is not a `concurrent.futures.Future`, or an
                option has a bad type.
            ValueError: If ``timeout`` is negative or not finite.
        """
        _pipe(self, future, timeout, tag, adapt)

    # -- runtime: tree ---------------------------------------------------------------

    def _add_child(self, name: str | None, make: Callable[[str], ActorCell]) -> ActorCell:
        """Create and register a child under the tree lock; it is not yet scheduled."""
        system = self._system
        with system._tree_lock:
            if self._state in (STOPPING, STOPPED):
                if system._closing:
                    raise system._closed_error(
                        ActorSystemClosedError,
                        f"cannot spawn under {self._path}: the actor system is shut down",
                    )
                raise ActorStoppedError(f"cannot spawn a child of {self._path}: it is stopping")
            children = self._children
            if children is None:
                children = self._children = {}
            if name is None:
                name = f"${system._next_uid()}"
            elif name in children and children[name]._state is not STOPPED:
                # (A stopped child keeps its entry until the parent's turn removes
                # it, but its name is free as soon as wait_stopped() returns.)
                raise DuplicateNameError(
                    f"{self._path} already has a child named {name!r}; sibling names must be unique"
                )
            cell = make(name)
            children[name] = cell
        return cell

    # -- runtime: scheduling -------------------------------------------------------

    def _request_stop(self, reason: str | None) -> None:
        self._post_system((_STOP, reason))

    def _request_resume(self) -> None:
        self._post_system((_RESUME, None))

    def _request_restart(self, force: bool = False) -> None:
        self._post_system((_RESTART, force))

    def _suspend(self) -> None:
        self._post_system((_SUSPEND, None))

    def _child_cells(self) -> list[ActorCell]:
        """The live children in spawn order."""
        with self._system._tree_lock:
            return list(self._children.values()) if self._children else []

    def _post_system(self, message: tuple[int, Any]) -> None:
        sysq = self._sys
        if sysq is None:
            with self._system._lazy_guard:
                if self._sys is None:
                    self._sys = []
                sysq = self._sys
        sysq.append(message)
        if self._scheduled.acquire(False):
            self._dispatch(self)
        elif self._mute_target is not None:
            # A muted actor holds its flag while parked: wake it, or a stop or a
            # child's failure would wait on a mailbox that may never drain.
            self._wake_muted()

    def _wake_muted(self) -> None:
        target = self._mute_target
        muted = target._muted if target is not None else None
        if muted is None:
            return
        try:
            muted.remove(self)
        except ValueError:
            return  # not registered yet (its turn will see our message) or already unmuted
        self._unmute()

    def _run_turn(self, budget: int) -> int:
        """Run one turn of at most ``budget`` messages; return how many ran.

        Called only by the thread that holds the scheduled flag; hands the flag on
        (by resubmitting) or releases it before returning.
        """
        processed = 0
        try:
            current.cell = self
            if self._mute_target is not None:
                self._mute_target = None  # the last mute episode has ended
            if self._outcome is not None:
                self._settle_outcome()
            if self._state is NEW:
                self._start()  # the first turn after spawn
            if self._sys and self._outcome is None:
                self._handle_system()
            state = self._state
            if state is RUNNING and self._outcome is None:  # (not while a hook coroutine runs)
                processed = (
                    self._process(budget) if self._bridge is None else self._process_async(budget)
                )
            elif state is STOPPED:
                self._drain(self._stop_reason)
        except BaseException as exc:  # noqa: BLE001 - a runtime bug must not kill the worker
            self._crashed(exc)
        finally:
            current.cell = None
        # Blocked and muted senders get the room only when no system message is
        # pending: a pending stop must turn them away, not let them in.
        if (self._waiters or self._muted) and not self._sys:
            self._room_made()
        if processed and self._receive_timeout is not None:
            self._last_active = self._system._timers.clock.now()
        # End of turn, inlined: this runs once per turn, once per hop in a ping-pong.
        target = self._mute_target
        if target is not None and self._park_muted(target):
            return processed  # the target reschedules us; we keep the scheduled flag
        if self._outcome is not None and self._arrive():
            return processed  # the loop reschedules us when the coroutine ends
        # Release, then look for work: a sender that enqueued before the release
        # failed to take the flag and relies on this check. (Checking before the
        # release too would only save a release/acquire pair on a turn that ran
        # out of budget, at the cost of a dozen reads on every other turn.)
        self._scheduled.release()
        if (self._queue or self._sys or self._spill or self._outcome is not None) and (
            self._has_work() and self._scheduled.acquire(False)
        ):
            self._dispatch(self)
        return processed

    def _process(self, budget: int) -> int:
        # The per-message hot path: keep it free of locks and allocations.
        actor = self._actor
        assert actor is not None
        receive = actor.receive
        queue = self._queue
        pop = queue.popleft
        count = 0
        while count < budget:
            # Test before popping: a caught IndexError costs far more than a
            # truth test, and every turn (one message per turn in a ping-pong)
            # ends by finding the queue empty.
            item: object = _EMPTY
            if queue:
                try:
                    item = pop()
                except IndexError:
                    pass  # a DROP_OLDEST sender evicted the last one meanwhile
            if item is _EMPTY:
                spill = self._spill
                if not spill:
                    break
                if queue:
                    # A sender filled the queue after our check and may then
                    # have spilled: its queued messages come first. The head
                    # seen above predates the re-check, so it is older than
                    # anything its own sender has queued since (see Mailbox).
                    continue
                item = spill.popleft()  # only this thread pops: cannot be empty
            count += 1
            if type(item) is Ask:
                try:
                    result = receive(item.message)
                except BaseException as exc:  # noqa: BLE001 - reported to the supervisor
                    # Tell the supervisor first: once the asker sees the error,
                    # the failure is already queued for the parent.
                    error = self._as_exception(exc, "receive")
                    self._fail(error, item.message, "receive")
                    settle_error(item.reply, error)
                    break
                settle_result(item.reply, result)
            else:
                try:
                    if type(item) is Adapted:  # a context.ask outcome: adapt it in this turn
                        item = item.open()
                    receive(item)
                except BaseException as exc:  # noqa: BLE001 - reported to the supervisor
                    self._fail(self._as_exception(exc, "receive"), item, "receive")
                    break
            # Read the attribute, not a local: the list may be created mid-turn.
            if self._sys or self._mute_target is not None:
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
                kind, payload = self._sys.pop(0)  # (never None once truthy)
                if kind == _WATCH:  # other lifecycle messages mean nothing now
                    self._notify_watcher(payload)
            self._drain(self._stop_reason)
            self._scheduled.release()
            if not self._has_work() or not self._scheduled.acquire(False):
                return

    def _turn_after_shutdown(self) -> None:
        """The pool has stopped: dead-letter what is queued, then free the flag."""
        self._drain("actor system shut down")
        self._scheduled.release()

    def _process_async(self, budget: int) -> int:
        """Hand the actor to the loop, which runs a batch of messages; park meanwhile.

        The cell keeps its scheduled flag, so the loop's batch owns the actor as
        a turn would: it takes up to ``budget`` messages, one receive at a time,
        and settles each ask as it goes. One worker-to-loop hand-off and one back
        per batch (not per message) is what lets a plain thread stream messages
        to an async actor at the loop's speed.
        """
        item = self._pop_message()
        if item is None:
            return 0
        bridge = self._bridge
        assert bridge is not None
        if self._gate is None:
            self._gate = threading.Lock()
        # The message in hand, for the outcome when a receive fails.
        in_hand = [item]
        # Set before submitting: the batch may finish at once.
        self._outcome = _PENDING
        batch = self._run_batch(in_hand, budget)
        bridge.submit(batch, lambda task: self._async_done(in_hand, task))
        return 1

    async def _run_batch(self, in_hand: list[object], budget: int) -> None:
        # Runs on the loop thread while the cell is parked. A failing receive
        # ends the batch; its message and error reach the next turn through
        # _async_done, which reports them to the supervisor as a turn does.
        actor = self._actor
        assert actor is not None
        item = in_hand[0]
        count = 0
        while True:
            ask = item if type(item) is Ask else None
            if type(item) is Adapted:  # a context.ask outcome: adapt it in this turn
                item = item.open()
            result = actor.receive(item if ask is None else ask.message)
            if asyncio.iscoroutine(result):  # (a plain def receive returns its reply)
                result = await result
            if ask is not None:
                settle_result(ask.reply, result)
            count += 1
            if (self._waiters or self._muted) and not self._sys:
                self._room_made()
            if count >= budget or self._sys or self._state is not RUNNING:
                return
            next_item = self._pop_message()
            if next_item is None:
                return
            item = in_hand[0] = next_item

    def _pop_message(self) -> object | None:
        # Look at the spill before the queue, for the reason given in _process.
        spill = self._spill
        take_spilled = spill.popleft if spill else None
        try:
            return self._queue.popleft()
        except IndexError:
            return take_spilled() if take_spilled is not None else None

    def _async_done(self, in_hand: list[object], task: asyncio.Task[Any]) -> None:
        # Runs on the loop thread when a batch has ended.
        error: BaseException | None
        if task.cancelled():
            error = ActorStoppedError(f"{self._path}: receive cancelled at shutdown")
        else:
            error = task.exception()
        self._outcome = (in_hand[0], error)
        if not self._arrive():
            self._dispatch(self)  # the turn already ended parked: resume it

    def _settle_outcome(self) -> None:
        outcome = self._outcome
        self._outcome = None
        assert isinstance(outcome, tuple)
        item, error = outcome
        if item is _ON_START:
            if error is None:
                self._started()
            else:
                self._fail(self._as_exception(error, "on_start"), None, "on_start")
            return
        if item is _ON_STOP or item is _ON_RESTART:
            if error is not None:
                self._report_quietly("on_stop", self._as_exception(error, "on_stop"))
            if item is _ON_STOP:
                self._finish_stop(False)
            else:
                self._continue_restart()
            return
        if error is None:
            return  # the batch settled every ask it ran
        error = self._as_exception(error, "receive")
        is_ask = type(item) is Ask
        self._fail(error, item.message if is_ask else item, "receive")
        if is_ask:
            settle_error(item.reply, error)

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
        self._post_system((_CRASHED, error))

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

    def _has_work(self) -> bool:
        if self._sys or self._outcome is not None:
            return True
        if self._state is RUNNING or self._state is STOPPED:
            return bool(self._queue) or bool(self._spill)
        return False

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

    def _park_muted(self, target: ActorCell) -> bool:
        # Invariant: only this actor's own turn writes _mute_target; the unmuter
        # (whoever removed us from target._muted) only arrives at the gate.
        assert target._muted is not None
        if self._muted or self._sys:
            # Someone is muted on us (parking too could close a cycle of muted
            # actors that nobody drains), or a system message waits. Withdraw,
            # unless the unmute already began.
            try:
                target._muted.remove(self)
                self._mute_target = None
                return False
            except ValueError:
                pass
        return self._arrive()

    def _unmute(self) -> None:
        """End a mute episode; called once per episode, by whoever dequeued us."""
        if not self._arrive():
            self._dispatch(self)  # its turn already ended parked: resubmit it

    # -- runtime: system messages and lifecycle --------------------------------------

    def _handle_system(self) -> None:
        sysq = self._sys
        assert sysq is not None
        # A restart may start an async on_start: the rest waits until it is done.
        while sysq and self._outcome is None:
            kind, payload = sysq.pop(0)
            if kind == _STOP:
                self._begin_stop(payload)
            elif kind == _CHILD_TERMINATED:
                self._child_terminated(payload)
            elif kind == _CHILD_FAILED:
                self._child_failed(payload)
            elif kind == _RESUME:
                if self._state is FAILED and self._actor is None:
                    self._restart(False)  # nothing to resume: build it again (Akka)
                elif self._state is FAILED:
                    self._state = RUNNING
                    self._set_status(ServiceStatus.RUNNING)
            elif kind == _RESTART:
                self._restart(payload)
            elif kind == _WATCH:
                self._add_watcher(payload)
            elif kind == _CHILD_STATUS:
                self._derive_status()
            elif kind == _STOP_TIMEOUT:
                self._stop_timed_out()
            elif kind == _CRASHED:
                self._fail_internal(payload)
            elif kind == _SUSPEND:
                if self._state is RUNNING:
                    self._state = FAILED
                    self._set_status(ServiceStatus.OUTAGE)
            elif kind == _UNWATCH and self._watchers is not None:
                self._watchers.discard(payload)

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
        if not self._hand_over(result, _ON_START, "on_start"):
            self._started()

    def _hand_over(self, result: object, marker: object, hook: str) -> bool:
        """If ``result`` is an async actor's hook coroutine, run it on the loop.

        The turn ends holding the scheduled flag; when the coroutine ends, the
        next turn's `_settle_outcome` carries on from ``marker``. Meanwhile no
        message or system message is handled. Returns False when there is
        nothing to hand over (a plain hook already ran) or the loop has already
        shut down (reported).
        """
        bridge = self._bridge
        if bridge is None or not asyncio.iscoroutine(result):
            return False
        if self._gate is None:
            self._gate = threading.Lock()
        self._outcome = _PENDING  # before submitting: the hook may finish at once
        try:
            bridge.submit(bridge.bounded(result), lambda task: self._async_done([marker], task))
        except ActorSystemClosedError as exc:
            self._outcome = None
            self._report_quietly(hook, exc)
            return False
        return True

    def _started(self) -> None:
        _log.lifecycle(self._path, "started")
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
        actor._context = self
        self._actor = actor
        if isinstance(actor, AsyncActor) and self._bridge is None:
            self._bridge = self._system._loop_bridge()
        self._derives = type(actor).derive_status is not Actor.derive_status
        return True

    def _run_hook(self, hook: str) -> object:
        actor = self._actor
        assert actor is not None
        return getattr(actor, hook)()

    def _restart(self, force: bool) -> None:
        """Restart after a failure (or, when ``force``, also a running actor).

        The mailbox is kept: queued messages go to the new instance.
        """
        if not (self._state is FAILED or (force and self._state is RUNNING)):
            return
        self.restarts += 1
        _log.restarting(self._path, self.restarts)
        self._cancel_timers()
        if self._actor is not None and self._run_on_stop(_ON_RESTART):
            return  # an async on_stop runs on the loop; _continue_restart follows
        self._continue_restart()

    def _continue_restart(self) -> None:
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
        try:
            result = self._run_hook("on_stop")
        except BaseException as exc:  # noqa: BLE001 - reported, not re-raised
            self._report_quietly("on_stop", self._as_exception(exc, "on_stop"))
            return False
        return self._hand_over(result, marker, "on_stop")

    def _report_quietly(self, hook: str, exc: Exception) -> None:
        _log.failed(self._path, hook, exc, None)
        failure = Failure(self._ref, exc, None, hook)
        if self._parent is not None:
            self._parent._post_system((_CHILD_FAILED, failure))

    def _fail(self, error: Exception, message: object, hook: str) -> None:
        _log.failed(self._path, hook, error, message)
        if hook == "receive":  # (None is a valid message: check the hook, not the value)
            self._system.dead_letters.record(self._ref, message, f"failed: {error!r}")
        self._state = FAILED
        self._set_status(ServiceStatus.OUTAGE)
        failure = Failure(self._ref, error, message, hook)
        parent = self._parent
        if parent is None:
            self._system._root_failed(failure)
        else:
            parent._post_system((_CHILD_FAILED, failure))

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
        with self._system._tree_lock:
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
            child._post_system((_STOP, reason))
        if not children:
            self._finish_stop(was_running)
        elif self._system._child_stop_timeout is not None:
            self._stop_timer = self._system._timers.schedule(
                self._system._child_stop_timeout,
                lambda: self._post_system((_STOP_TIMEOUT, None)),
            )

    def _stop_timed_out(self) -> None:
        if self._state is not STOPPING:
            return
        stragglers = tuple(cell._path for cell in self._child_cells())
        if stragglers:
            self._system._report_stragglers(self, stragglers)
        self._finish_stop(self._actor is not None)

    def _child_terminated(self, child: ActorCell) -> None:
        with self._system._tree_lock:
            if self._children is not None and self._children.get(child._name) is child:
                del self._children[child._name]
            done = not self._children
        if done and self._state is STOPPING:
            self._finish_stop(self._actor is not None)
        elif done and self._state is RESTARTING:
            self._complete_restart()

    def _finish_stop(self, run_on_stop: bool) -> None:
        if self._stop_timer is not None:
            self._stop_timer.cancel()
            self._stop_timer = None
        if run_on_stop and self._actor is not None and self._run_on_stop(_ON_STOP):
            return  # an async on_stop runs on the loop; _finish_stop(False) follows
        with self._system._tree_lock:
            self._state = STOPPED
            self._closed = True
            event = self._stopped_event
        self._dispatch = ActorCell._run_stopped
        _log.lifecycle(self._path, f"stopped ({self._stop_reason})")
        self._set_status(ServiceStatus.STOPPED)
        self._drain(self._stop_reason)
        parent = self._parent
        if parent is not None:
            parent._post_system((_CHILD_TERMINATED, self))
        if self._watchers:
            for watcher in self._watchers:
                self._notify_watcher(watcher)
            self._watchers = None
        self._system._cell_stopped(self)
        if event is not None:
            event.set()

    def _add_watcher(self, watcher: ActorCell) -> None:
        if self._state is STOPPED:
            self._notify_watcher(watcher)
            return
        if self._watchers is None:
            self._watchers = set()
        self._watchers.add(watcher)

    def _notify_watcher(self, watcher: ActorCell) -> None:
        try:
            watcher._post(Terminated(self._ref, self._stop_reason), None)
        except BackstageError:
            pass  # the watcher is gone too; its dead letter is already recorded

    # -- runtime: status and timers ----------------------------------------------------

    def _set_status(self, status: ServiceStatus) -> None:
        old = self._status
        if old is status:
            return
        self._status = status
        self._status_since = time.time()
        self._system._status_changed(self._ref, old, status)
        parent = self._parent
        if parent is not None and parent._derives:
            parent._post_system((_CHILD_STATUS, None))

    def _derive_status(self) -> None:
        actor = self._actor
        if actor is None or self._state is not RUNNING:
            return
        with self._system._tree_lock:
            children = dict(self._children) if self._children else {}
        statuses = {name: cell._status for name, cell in children.items()}
        try:
            status = actor.derive_status(statuses)
            if status is not None:
                self.set_status(status)
        except BaseException as exc:  # noqa: BLE001 - reported to the supervisor
            self._fail(self._as_exception(exc, "derive_status"), None, "derive_status")

    def _add_timer(self, delay: float, message: object, period: float | None) -> TimerHandle:
        if self._state is STOPPING or self._state is STOPPED:
            raise ActorStoppedError(f"{self._path} is stopping; cannot start a timer")
        handle = self._system._timers.schedule(delay, lambda: self._post(message, None), period)
        timers = self._timers
        if timers is None:
            timers = self._timers = set()
        elif len(timers) >= _TIMER_PRUNE_AT:
            timers.difference_update([t for t in timers if not t.active])
        timers.add(handle)
        return handle

    def _cancel_timers(self) -> None:
        if self._timers:
            for handle in self._timers:
                handle.cancel()
            self._timers = None
        self.set_receive_timeout(None)

    def _receive_timeout_due(self, state: _ReceiveTimeoutState) -> None:
        # Runs on the timer thread.
        if self._receive_timeout is not state or self._closed:
            return
        timers = self._system._timers
        now = timers.clock.now()
        due = self._last_active + state.seconds
        if now >= due:
            self._post(ReceiveTimeout(state.seconds), None)
            self._last_active = now
            due = now + state.seconds
        state.handle = timers.schedule(
            max(0.0, due - now), lambda: self._receive_timeout_due(state)
        )

    def _drain(self, reason: str) -> None:
        """Turn every waiting message into a dead letter and free blocked senders."""
        error = self._system._closed_error(
            ActorStoppedError, f"{self._path} stopped ({reason}); message not processed"
        )
        record = self._system.dead_letters.record
        for message in self._take_all():
            record(self._ref, fail_ask(message, error), reason)
        self._release_everyone()

    # -- runtime: mailbox hooks ------------------------------------------------------

    def _discard(self, message: object, reason: str, error: BaseException) -> None:
        self._system.dead_letters.record(self._ref, fail_ask(message, error), reason)

    def _reject_closed(self, message: object) -> None:
        reason = self._stop_reason
        system = self._system
        error = system._closed_error(
            ActorStoppedError, f"{self._path} has stopped; message not delivered"
        )
        system.dead_letters.record(self._ref, fail_ask(message, error), reason)
        if system._closed:
            raise system._closed_error(
                ActorSystemClosedError,
                f"cannot send to {self._path}: actor system {system.name!r} has shut down",
            )

    def _lazy_lock(self) -> threading.Lock:
        return self._system._lazy_guard

    def _describe(self) -> str:
        return self._path

    # -- runtime: waiting -------------------------------------------------------------

    def _wait_stopped(self, timeout: float | None) -> bool:
        if current.on_loop:
            raise DeadlockError(
                f"wait_stopped({self._path}) would block the actor system's event loop"
            )
        driver = current.driver
        if driver is not None:
            return driver(lambda: self._state is STOPPED)
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
