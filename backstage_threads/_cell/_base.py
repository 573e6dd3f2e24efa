"""The first layer of a cell above its mailbox: who the actor is, and its system.

Every layer of the cell (see ``__init__``) reads these fields; they are set once
by `ActorCell.__init__`, except ``_state`` and ``_actor``, which only the turn
that holds the scheduled flag writes (``_state`` to STOPPING/STOPPED under the
cell's own ``_guard`` as well), and ``restarts``. At STOPPED the cell lets go
of ``_actor`` and of its ref (see `CellBase._ref`).

Locks: each cell's ``_guard`` (made by the mailbox) guards its mailbox's lazy
structures, its ``_children`` and child-name counter, its ``_stopped_event``
and its STOPPING/STOPPED transitions: a spawn under a parent and that parent's
stop exclude each other on the parent's guard. No code holds two guards at
once, nor calls out while holding one. Walks over the tree (status, metrics,
lookup) take each node's guard in turn, so they see every node's children as
they were at some moment, not the whole tree at one instant.

A cell sees its system through `CellHost`, declared here: the public surface
every actor sees (`ActorSystemLike`) plus the runtime services the layers use.
`ActorSystem` satisfies it; the cell names no system class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from .._actor import ActorSystemLike
from .._errors import ActorSystemClosedError, MailboxFullError
from .._mailbox import Mailbox
from .._no_interrupt import send_window
from .._overflow import Overflow
from .._ref import ActorRef, RefTarget
from ._states import STOPPED

if TYPE_CHECKING:
    from .._actor import Actor
    from .._aio import LoopBridge
    from .._asks import WaitForGraph
    from .._errors import ActorFailedError
    from .._factory import Factory
    from .._pinned import PinnedThread
    from .._resources import ResourceRegistry
    from .._status import ServiceStatus
    from .._supervision import Failure
    from .._timers import TimerHandle, TimerService

__all__ = ["CellBase", "CellHost"]

E = TypeVar("E", bound=BaseException)
T = TypeVar("T")


class CellHost(ActorSystemLike, Protocol):
    """What an actor's cell needs of its system (`ActorSystem` provides it)."""

    _timers: TimerService
    _asks: WaitForGraph
    # The system's scoped resources (see _resourcing).
    _resources: ResourceRegistry
    # True while anyone listens to status changes (see ActorSystem._status_watched).
    _status_watched: bool
    # Set when the system begins to shut down (before the root's stop is
    # posted, so a spawn that finds its parent stopping sees it); then closed.
    _closing: bool
    _closed: bool
    # How long a stopping actor waits for its children (None: forever).
    _child_stop_timeout: float | None

    def _placement(
        self, parent: str, name: str, pinned: bool
    ) -> tuple[Callable[[Any], None], PinnedThread | None]:
        """How a new actor named ``name`` under the path ``parent`` is run: its
        dispatch, and a pinned thread (not yet started) if it gets one."""
        ...

    def _run_pinned(self, cell: object, thread: PinnedThread) -> None: ...
    def _blocking(self, wait: Callable[[], T]) -> T:
        """Run ``wait``, which blocks this thread (on a pool worker: with a spare
        running the pool's turns meanwhile)."""
        ...

    def _loop_bridge(self) -> LoopBridge: ...
    def _closed_error(self, kind: type[E], text: str) -> E: ...
    def _status_changed(
        self, ref: ActorRef[Any], old: ServiceStatus, new: ServiceStatus
    ) -> None: ...
    def _root_failed(self, failure: Failure) -> None: ...
    def _internal_error(self, error: ActorFailedError) -> None: ...
    def _report_stragglers(self, path: str, paths: tuple[str, ...]) -> None: ...
    def _cell_stopped(self, cell: object) -> None: ...
    def _cell_failed(self, cell: object) -> None: ...


class CellBase(Mailbox):
    """An actor's identity: its system, name, path, ref, state and instance."""

    __slots__ = (
        "__weakref__",
        "_actor",
        "_factory",
        "_name",
        "_own_ref",
        "_path",
        "_plain",
        "_processed",
        "_state",
        "_stop_reason",
        "_system",
        "restarts",
    )

    _system: CellHost
    _name: str
    _path: str
    _factory: Factory
    _actor: Actor[Any] | None
    # The ref made at spawn; None once the actor has stopped (see `_ref`).
    _own_ref: ActorRef[Any] | None
    _state: str
    _stop_reason: str
    restarts: int
    # True while the actor is a plain running one: RUNNING, not muted, no hook
    # coroutine in flight, not async, no receive timeout. Its turns then skip
    # the checks of all of those (the short turn of `ActorCell._run_turn`).
    # Set by the end of a full turn, by the flag holder; cleared at once by
    # whatever makes the actor less plain within a short turn: a failure
    # (`_fail`), a mute (`_mute_sender`), a receive timeout. Anything else that
    # changes those fields happens in a full turn, whose end sets it afresh.
    _plain: bool
    # Metrics: messages handed to receive, added to by the turn's thread only
    # (once per turn; see _metrics.py), read racily by snapshots.
    _processed: int

    @property
    def _ref(self) -> ActorRef[Any]:
        """This actor's ref: the one made at spawn while it lives, an equal new
        one each time once it has stopped. (A stopped cell lets go of its ref and
        instance, so that they and the cell, which point at each other, are freed
        by reference counting when nobody holds them, not by the cyclic garbage
        collector: with every stopped actor left to it, 7 objects each, a skynet
        run spent a quarter of its time in collections.)"""
        ref = self._own_ref
        # (The cell built on this layer is what a ref targets.)
        return ref if ref is not None else ActorRef(cast("RefTarget", self))

    # -- the system's services, as every layer above uses them ----------------------

    def _now(self) -> float:
        """The system clock's time (manual in the testing kit)."""
        return self._system._timers.clock.now()

    def _schedule(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        """Run ``callback`` on the system's timers after ``delay`` seconds."""
        return self._system._timers.schedule(delay, callback)

    def _dead_letter(self, message: object, reason: str) -> None:
        self._system.dead_letters.record(self._ref, message, reason)

    @send_window
    def _deliver(self, message: object) -> None:
        """Post ``message`` from any thread, never waiting for room (a `Response`).

        Under BLOCK a full mailbox takes it into the spill without muting anyone;
        other policies act as for any send. Whatever cannot be delivered is a dead
        letter (recorded here, or by the mailbox itself).
        """
        try:
            if self._policy is not Overflow.BLOCK or self._closed:
                self._post(message, 0.0)  # closed: dead letter; FAIL raises; DROP_* act
                return
            try:
                self._post_nowait(message)
                return
            except MailboxFullError:
                pass
            self._spill_queue().append(message)  # deque.append is atomic; only the turn pops
            # As in Mailbox._post: whoever takes the flag schedules the actor (a
            # stopped actor's dispatch drains what arrived late).
            if self._scheduled.acquire(False):
                self._dispatch(self)
        except MailboxFullError as exc:
            self._dead_letter(message, f"not delivered: {exc}")
        except ActorSystemClosedError:
            pass  # the mailbox already recorded it as a dead letter

    @property
    def is_alive(self) -> bool:
        """True until the actor has stopped."""
        return self._state is not STOPPED
