"""`ActorCell`: the turn loop, the per-message path and the mailbox's hooks.

Turns:
    Whoever sets the mailbox's "scheduled" flag submits the cell to its
    dispatcher; the thread that runs the turn is the only one that touches the
    actor instance, and it hands the flag on (or releases it) at the end.
    Invariant: at most one thread runs a cell's turn at a time, and each turn
    happens-after the previous one (the flag's release/acquire orders them), so
    actor state needs no lock.

A turn settles a finished coroutine (``_handoff``), starts a new actor, handles
system messages (``_lifecycle``), then runs up to ``budget`` messages (or for
`TURN_SLICE` seconds, whichever comes first) and ends:
parked while muted (``_muting``) or while a coroutine runs, else releasing the
flag and re-checking once for work that arrived meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from time import time as _wall_clock  # (a module attribute read costs a type lookup)
from typing import TYPE_CHECKING, Any

from .._actor import Actor, ActorContext, SpawnSpec
from .._envelope import Ask, fail_ask, settle_error, settle_result
from .._errors import ActorStoppedError, ActorSystemClosedError
from .._factory import Factory, actor_factory
from .._no_interrupt import dispatcher, send_window
from .._overflow import Overflow
from .._ref import ActorRef
from .._request import Adapted
from .._status import ServiceStatus
from ._base import CellHost
from ._handoff import AsyncHandoff
from ._states import NEW, RUNNING, STOPPED, WATCH

if TYPE_CHECKING:
    from .._asks import WaitForGraph
    from .._pinned import PinnedThread
    from .._request import Asker
    from .._supervision import Supervisor

__all__ = ["TURN_SLICE", "ActorCell"]

#: A turn also ends once it has run this long (seconds, Erlang's reductions by
#: the clock): with heavy messages a budget of 64 alone let one turn hold a
#: worker for 64 ms of 1 ms messages, and a light actor waited behind it. The
#: clock is read before the 2nd message of a turn and then again when, at the
#: pace so far, about half the slice that is left should have passed (at least
#: every 16 messages): a turn of 64 cheap messages reads it 5 times (0.4 % of the
#: count row on 3.13t, 40 ns a read; the pace is worked out inline, as a call for
#: it cost 3.11's count row 8 %), a one-message turn never, and a turn of
#: 1 ms messages ends after about 3 ms. 2 ms keeps a light actor's wait behind two
#: busy workers under 5 ms while a 64-message turn of cheap messages (about 60
#: us) never reaches it.
TURN_SLICE = 0.002
_clock = time.perf_counter
# The envelopes `_process` opens before `receive` sees the message.
_ENVELOPES = frozenset({Ask, Adapted})
# At most this many messages between two reads of the clock: a turn whose early
# messages were cheap overshoots its slice by at most 16 heavy ones.
_CHECK_AT_MOST_EVERY = 16


class ActorCell(AsyncHandoff, ActorContext):
    """Runtime state of one actor; as an `ActorContext`, what its hooks see.

    The fields live in the layers it is built from (each declares its own
    ``__slots__``): mailbox, identity, system queue, muting, watching,
    lifecycle, async hand-off. A cell has no ``__dict__``.
    """

    __slots__ = ()

    def __init__(
        self,
        system: CellHost,
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
        self._path = f"{parent._path}/{name}" if parent is not None else f"/{name}"
        self._factory = factory
        self._dispatch = dispatch
        self._actor = None
        self._own_ref = ActorRef(self)
        self._state = NEW
        self._plain = False  # (NEW: the first turn is a full one)
        # Created with the first system message (under the cell's guard):
        # most actors never get one, and an idle actor must stay small. The
        # first turn starts the actor because its state is NEW.
        self._sys = None
        # Guarded by _guard; None until the first child.
        self._children = None
        # The last generated child name's number ($1, $2... per parent); under _guard.
        self._child_uid = 0
        # The mailbox this actor is muted on, set and cleared by its own turn.
        self._mute_target = None
        # Two-party handshake between a parked turn's end and its resumption.
        self._handshake = None
        self._stop_reason = "actor stopped"
        # Created by the first waiter (under _guard), set at STOPPED.
        self._stopped_event = None
        self.restarts = 0
        self._processed = 0  # metrics: see _process
        # Monotonic times of recent restarts; kept by the parent's strategy.
        self._restart_log = None
        self._status = ServiceStatus.STARTING
        self._status_since = _wall_clock()
        # The three below are touched only by the thread holding the scheduled
        # flag (the actor's own turn), so they need no lock.
        self._watchers = None
        self._timers = None
        self._receive_timeout = None
        self._last_active = 0.0
        # True when the actor overrides derive_status (set at instantiation).
        self._derives = False
        # Fires if the children take longer than the system allows to stop.
        self._stop_timer = None
        # Async actors only: the event-loop bridge, and the outcome of the
        # batch or on_start coroutine in flight: None, PENDING, or, once it has
        # ended, (item, error) where item is ON_START or the message in hand.
        self._bridge = None
        self._outcome = None

    def _run_turn(self, budget: int) -> int:
        """Run one turn of at most ``budget`` messages; return how many ran.

        Called only by the thread that holds the scheduled flag, whose dispatcher
        has marked it as running this cell (``current.turn``); hands the flag on
        (by resubmitting) or releases it before returning.
        """
        if self._plain and not self._sys:
            # The short turn of a plain running actor (see CellBase._plain): its
            # first message inline, so that a one-message turn (every hop of a
            # ping-pong) makes no call but `receive`; `_process` for any more;
            # then the end of a turn in which nothing unusual happened.
            queue = self._queue
            try:
                try:
                    item = queue.popleft()
                except IndexError:
                    # Nothing queued (rare: only spilled messages, or a
                    # DROP_OLDEST sender evicted the one that scheduled us).
                    processed = self._process(budget)
                else:
                    processed = 1
                    self._processed += 1  # (metrics: see _process)
                    if type(item) in _ENVELOPES:
                        self._receive_envelope(item, self._actor.receive)  # type: ignore[union-attr]
                    else:
                        try:
                            self._actor.receive(item)  # type: ignore[union-attr]
                        except BaseException as exc:  # noqa: BLE001 - reported to the supervisor
                            self._receive_failed(exc, item)
                    # More work, and still plain (not failed, muted or given a
                    # receive timeout by that message, no system message since).
                    if (queue or self._spill) and budget > 1 and self._plain and not self._sys:
                        processed = self._process(budget, 1)
            except BaseException as exc:  # noqa: BLE001 - a runtime bug must not kill the worker
                self._crashed(exc)
                processed = 0
            if not self._plain:  # it failed, was muted or set a receive timeout
                return self._end_turn(processed)
            if (self._waiters or self._muted) and not self._sys:
                self._room_made()
            self._scheduled.release()
            if (queue or self._sys or self._spill) and (
                self._has_work() and self._scheduled.acquire(False)
            ):
                self._dispatch(self)
            return processed
        processed = 0
        try:
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
        return self._end_turn(processed)

    def _end_turn(self, processed: int) -> int:
        """The end of a turn that may have changed anything: park, or release and re-check."""
        # Blocked and muted senders get the room only when no system message is
        # pending: a pending stop must turn them away, not let them in.
        if (self._waiters or self._muted) and not self._sys:
            self._room_made()
        if processed and self._receive_timeout is not None:
            self._last_active = self._system._timers.clock.now()
        # Whether the next turn may be a short one: every field it would skip is
        # written by the flag holder (this thread, now), or, for an async actor
        # (never plain), by the loop while the cell is parked.
        self._plain = (
            self._state is RUNNING
            and self._mute_target is None
            and self._outcome is None
            and self._bridge is None
            and self._receive_timeout is None
        )
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

    def _process(self, budget: int, ran: int = 0) -> int:  # noqa: PLR0915 - one loop
        """Run messages until the budget, the slice or the queue ends; return the count.

        ``ran``: messages this turn already ran (the short turn's first one),
        counted in the budget, the time slice and the result.
        """
        # The per-message hot path: keep it free of locks, allocations and calls
        # but `receive` (free-threaded 3.13 runs it unspecialised, about 25 ns a
        # bytecode). A one-message turn of a plain actor does not come here.
        actor = self._actor
        assert actor is not None
        receive = actor.receive
        queue = self._queue
        pop = queue.popleft
        count = ran  # (the short turn's first message, handled before this call)
        deadline = 0.0
        # The count at which the clock is next read (see TURN_SLICE), never
        # past the budget: one comparison a message bounds the turn both ways.
        check_at = 1
        while True:
            # Test before popping: a caught IndexError costs far more than a
            # truth test, and every turn (one message per turn in a ping-pong)
            # ends by finding the queue empty.
            if queue:
                if count >= check_at:
                    # A second message or later: the turn is bounded by time too.
                    # A turn of one message reads no clock.
                    if count >= budget:
                        break
                    if count == 1:
                        deadline = _clock() + TURN_SLICE
                        check_at = 2
                    else:
                        left = deadline - _clock()
                        if left <= 0.0:
                            break  # the slice is over
                        # The count-1 messages since the deadline was set took
                        # `spent`: read again when, at that pace, half of what
                        # is left has passed (inline, without a call or min():
                        # on 3.11 a call here cost the count row 8 %).
                        spent = TURN_SLICE - left
                        if spent * (2 * _CHECK_AT_MOST_EVERY) <= left * (count - 1):
                            check_at = count + _CHECK_AT_MOST_EVERY
                        else:  # (so spent > 0)
                            check_at = count + (int(left * (count - 1) / (2 * spent)) or 1)
                    if check_at > budget:  # noqa: PLR1730 - min() is a call
                        check_at = budget
                try:
                    item = pop()
                except IndexError:
                    continue  # a DROP_OLDEST sender evicted the last one meanwhile
            else:
                spill = self._spill
                if not spill:
                    break
                if queue:
                    # A sender filled the queue after our check and may then
                    # have spilled: its queued messages come first. The head
                    # seen above predates the re-check, so it is older than
                    # anything its own sender has queued since (see Mailbox).
                    continue
                if count >= budget:
                    break
                item = spill.popleft()  # only this thread pops: cannot be empty
            count += 1
            # One type test for both envelopes (an ask, a context.ask outcome);
            # a plain message pays one set lookup.
            if type(item) in _ENVELOPES:
                if not self._receive_envelope(item, receive):
                    break
            else:
                try:
                    receive(item)
                except BaseException as exc:  # noqa: BLE001 - reported to the supervisor
                    self._receive_failed(exc, item)
                    break
            # Read the attribute, not a local: the list may be created mid-turn.
            if self._sys or self._mute_target is not None:
                break
        # Metrics: one increment per turn, by the only thread running it (see _metrics.py).
        self._processed += count - ran
        return count

    def _receive_envelope(self, item: object, receive: Callable[[Any], Any]) -> bool:
        """Open an ask or a ``context.ask`` outcome for ``receive``; False if it failed.

        An ask is settled with what ``receive`` returned or raised; a failure is
        reported to the supervisor first (once the asker sees the error, the
        failure is already queued for the parent), and the turn must then end.
        """
        if type(item) is Ask:
            ask: Ask = item
            try:
                result = receive(ask.message)
            except BaseException as exc:  # noqa: BLE001 - reported to the supervisor
                settle_error(ask.reply, self._receive_failed(exc, ask.message))
                return False
            settle_result(ask.reply, result)
            return True
        adapted: Adapted = item  # type: ignore[assignment]
        try:  # adapted in this turn
            item = adapted.open()
            receive(item)
        except BaseException as exc:  # noqa: BLE001 - reported to the supervisor
            self._receive_failed(exc, item)
            return False
        return True

    @dispatcher
    def _run_stopped(self) -> None:
        """The dispatcher of a stopped actor: dead-letter late messages inline.

        Installed by `_finish_stop` before the final turn releases the scheduled
        flag, so every later flag holder sees it (the release/acquire pair orders
        the write) and no pool or pinned thread is needed after the stop.
        """
        while True:
            try:
                while self._sys:
                    kind, payload = self._sys.pop(0)  # (never None once truthy)
                    if kind == WATCH:  # other lifecycle messages mean nothing now
                        self._notify_watcher(payload)
                self._drain(self._stop_reason)
            finally:
                # Even when a Ctrl-C cut the drain short (a dead-letter subscriber
                # runs here): the next sender then drains the rest.
                self._scheduled.release()
            if not self._has_work() or not self._scheduled.acquire(False):
                return

    def _turn_after_shutdown(self) -> None:
        """The pool has stopped: dead-letter what is queued, then free the flag."""
        self._drain("actor system shut down")
        self._scheduled.release()

    def _has_work(self) -> bool:
        if self._sys or self._outcome is not None:
            return True
        if self._state is RUNNING or self._state is STOPPED:
            return bool(self._queue) or bool(self._spill)
        return False

    # -- what ActorContext asks of the whole cell ---------------------------------------

    def _attach(self, actor: Actor[Any]) -> None:
        actor._context = self
        super()._attach(actor)

    def _parent_ref(self) -> ActorRef[Any] | None:
        return self._parent._ref if self._parent is not None else None

    def _child_refs(self) -> tuple[ActorRef[Any], ...]:
        return tuple(cell._ref for cell in self._child_cells())

    def _child_ref(self, name: str) -> ActorRef[Any] | None:
        cell = self._child(name)
        return cell._ref if cell is not None else None

    @send_window
    def _spawn(self, spec: SpawnSpec) -> ActorRef[Any]:
        """Create, register and schedule a child (its options already checked)."""
        build = actor_factory(spec.factory, spec.args, spec.kwargs)
        system = self._system
        thread: PinnedThread | None = None

        def make(child_name: str) -> ActorCell:
            nonlocal thread
            dispatch, thread = system._placement(self._path, child_name, spec.pinned)
            return ActorCell(
                system, self, child_name, build, spec.capacity, spec.overflow, dispatch
            )

        cell = self._add_child(spec.name, make)
        if thread is not None:
            system._run_pinned(cell, thread)
        # Its first turn starts it (its state is NEW): submit it as a sender would.
        cell._scheduled.acquire()
        cell._dispatch(cell)
        return cell._ref

    @property
    def _wait_graph(self) -> WaitForGraph:
        return self._system._asks

    def _asker(self) -> Asker:
        return self

    def _as_supervisor(self) -> Supervisor:
        return self

    # -- the mailbox's hooks ----------------------------------------------------------

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

    def _describe(self) -> str:
        return self._path

    def __repr__(self) -> str:
        return f"<ActorCell {self._path} {self._state}>"
