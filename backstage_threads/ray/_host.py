"""`Host`: the Ray actor that hosts one of our `Actor` instances.

Design. The host is a *threaded* Ray actor: its remote methods are plain
functions that Ray runs on thread pools of the host's process, one pool per
concurrency group, and each returns as soon as it has put something in the
`HostMailbox` (or, for an ask, when the reply is set). One plain thread of the
host, the turn thread (``_turns.py``), takes control items and letters out and
runs the actor's hooks one at a time, so the actor's state needs no lock and
``receive`` is single-threaded, as on the thread backend (an ask that finds the
actor idle runs its turn at once on its own Ray thread: "caller runs" in
``_turns.py``; still one turn at a time). Ray's own
``max_concurrency=1`` would give that too, but then an enqueue would wait for
the running ``receive``: no BLOCK wait could ever end and capacity could not be
shared by senders in other processes.

Why threads, not asyncio: Ray's call path into an async actor costs more than
into a threaded one (measured here in one run, best of 9 rounds of 500 calls:
a plain sync actor 748 us a round trip, the same method on a threaded actor
with concurrency groups 738 us, on an async actor 961 us; with a hand-off to a
second thread, as our turn thread does, 737 us threaded against 1,020 us
async). Ray makes an actor async if it has any ``async def`` method, so the
host has none. The arguments of letter calls are one packed header and the
message (``_wire.py``), and an ask to an idle actor skips the hand-off to the
turn thread; with both, an ask measured 1.06x a plain Ray call in an A/B probe
(median of 12 alternating rounds: 836 us against 792 us; the async host was
1.4x).

Threads, per concurrency group (Ray starts each group's threads with the
host), and what waits on them:

* default, `LETTER_THREADS`: ``tell``, ``tell_many``, ``sync``, ``ask``. An
  ask holds its thread until the reply (at most its timeout), a BLOCK tell
  until it has room (at most its timeout). Calls beyond the pool wait in Ray's
  queue of the host, in arrival order, and run as threads come free; a queued
  call that times out at its sender is cancelled there (Ray drops a pending
  call it is asked to cancel), so it is never run.
* ``control``, `CONTROL_THREADS`: ``control``, ``describe``, ``record``;
  none of them waits, so stops, directives and children's reports are never
  stuck behind letters or queries.
* ``query``, `QUERY_THREADS`: ``spawn_child`` and ``status_node``, which
  may wait (for Ray, for children).
* ``watch``, `WATCH_THREADS`: ``until_stopped``, the long-poll a parent, a
  watcher or ``wait_stopped`` holds until the actor stops. Watchers may be
  many, threads are not: at most `WATCH_THREADS` long-polls wait on threads,
  the others wait in Ray's queue of the host. That is the same for them:
  when the actor stops, each waiting poll returns and frees its thread for
  the next, which returns at once; when the process dies, Ray fails every
  call sent to it, queued or running. A poll with a timeout
  (``wait_stopped``) gives its thread back at its timeout. ``quiesce``, which
  the parent calls before it kills a stopped host, runs in this group too,
  so it comes after every poll queued before it (see its docstring).
* ``office``, 1 thread: ``drain``, the driver's long-poll of dead letters
  (only the ``/user`` host has an office).

Ray options (set where hosts are created, ``_family.py``): ``max_restarts=-1``
so that Ray re-creates the process after it dies, ``max_task_retries=0`` so that
no call is ever replayed. A re-created host (``was_current_actor_reconstructed``)
does not build the actor: it waits, like a failed actor, for its supervisor's
directive, which the parent sends when its ``until_stopped`` call fails (see
``_family.py``). The mailbox of the dead process is reported as one
`LostMailbox` dead letter by the parent; calls that failed with the process are
reported by their senders.

Ray names each host by its path (``/user/a/b``) in the system's namespace, so
``ray.get_actor(path, namespace=...)`` finds it from any process.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import ray

from .._clock import remaining
from .._errors import ActorStoppedError, AskTimeoutError, MailboxFullError, SendTimeoutError
from .._status import ServiceStatus, StatusNode
from .._timers import TimerService
from ._context import RayContext
from ._family import Family
from ._mailbox import HostMailbox, Letter, Offer, settle
from ._office import Forwarder, OfficeQueue
from ._order import Sequencer
from ._ref import RayActorRef
from ._spec import HostSpec, Stop
from ._turns import Turns
from ._wire import VERDICTS, unpack

__all__ = ["HostActor"]

#: Threads of the default group (tell, ask): each waiting ask or BLOCK sender
#: holds one; 32 covers the concurrent askers and blocked senders of one
#: actor we expect (more wait in Ray's queue of the host, see above) while a
#: host process stays small: measured here, a host process with these pools
#: has 71 threads and 86 MB resident, as the async host had (30 threads, 86 MB).
LETTER_THREADS = 32
#: Threads of the control group (control items, describe, record): none waits.
CONTROL_THREADS = 2
#: Threads of the query group (spawn, status tree), which may wait.
QUERY_THREADS = 4
#: Threads for long-polls (``until_stopped``, and ``quiesce`` behind them); more
#: polls wait in Ray's queue. 8: a parent, a few watchers and waiters at once.
WATCH_THREADS = 8
#: Threads for the driver's long-poll of the office (one driver per system).
OFFICE_THREADS = 1
#: Dead-letter reasons, the thread backend's words.
DROPPED = "mailbox full (DROP_NEWEST)"
EVICTED = "evicted from full mailbox (DROP_OLDEST)"
#: Seconds a status-tree query waits for the subtree below a host.
STATUS_TIMEOUT = 10.0


class Host(Turns, Family):
    """Hosts one actor: its mailbox, its turn thread, its children and watches."""

    def __init__(self, spec: HostSpec) -> None:
        self.spec = spec
        context = ray.get_runtime_context()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.reconstructed = bool(context.was_current_actor_reconstructed)
        self.ref: RayActorRef[Any] = RayActorRef(
            context.current_actor, spec.path, spec.namespace, spec.overflow, spec.capacity
        )
        self.mailbox = HostMailbox(spec.capacity, spec.overflow)
        self._calls = InFlight()
        self.order = Sequencer()
        self.office = OfficeQueue() if spec.parent is None else None
        self.dead_letters = Forwarder(spec.namespace, self.office)
        self.timers = TimerService(f"backstage-{spec.path}")
        self.context = RayContext(self)
        self.host_actor = HostActor  # defined below, at import
        # Guards stop_reason (set once, by the turn thread); long-polls wait on it.
        self._stopped = threading.Condition(threading.Lock())
        self.stop_reason: str | None = None
        self.status = ServiceStatus.STARTING
        self.since = time.time()
        self.restarts = 0
        self.init_family()
        self.start_turns()

    # -- letters (default group) ---------------------------------------------------------

    def tell(self, header: bytes, message: object) -> int:
        """Offer one message; answer its verdict (an index into ``VERDICTS``).

        The header (``_wire.py``) numbers the sender's calls (``_order.py``)
        and carries its timeout and ``nowait``.
        """
        sender, seq, timeout, nowait = unpack(header)
        with self._calls:
            self.order.turn(sender, seq)
            outcome = self._tell(message, timeout, nowait, self._placed(sender, seq))
        return _VERDICT[outcome]

    def tell_many(self, header: bytes, messages: list[object]) -> None:
        """Offer a batch of tells that need no verdict (see ``_outbox.py``), in order."""
        sender, seq, _, _ = unpack(header)
        with self._calls:
            self.order.turn(sender, seq)
            try:
                for message in messages:
                    self._tell(message, None, False, _nothing)
            finally:
                self.order.placed(sender, seq)

    def sync(self, header: bytes) -> None:
        """Return once every earlier call of the header's sender has taken its place."""
        sender, seq, _, _ = unpack(header)
        self.order.turn(sender, seq)
        self.order.placed(sender, seq)

    def _placed(self, sender: bytes, seq: int) -> Callable[[], None]:
        return lambda: self.order.placed(sender, seq)

    def _tell(
        self, message: object, timeout: float | None, nowait: bool, placed: Callable[[], None]
    ) -> Offer:
        outcome, evicted = self.mailbox.offer(
            Letter(message), timeout, nowait=nowait, placed=placed
        )
        if evicted is not None:
            self.drop(evicted, EVICTED, self._full_error())
        if outcome is Offer.DROPPED:
            self.dead_letters.record(self.ref, message, DROPPED)
            return Offer.ADMITTED  # the sender is not told, as on threads
        if outcome is Offer.STOPPED:
            self.dead_letters.record(self.ref, message, "actor stopped")
        return outcome

    def ask(self, header: bytes, message: object) -> Any:
        """Offer one message and return the reply (what ``receive`` returned).

        Waits at most the header's timeout in all (the asker gives up then
        too); a reply that comes later is dropped.
        """
        sender, seq, timeout, _ = unpack(header)
        with self._calls:
            self.order.turn(sender, seq)
            return self._ask(message, timeout, self._placed(sender, seq))

    def _ask(self, message: object, timeout: float | None, placed: Callable[[], None]) -> Any:
        deadline = None if timeout is None else time.monotonic() + timeout
        reply: Future[Any] = Future()
        if self.run_now(Letter(message, reply), placed):
            return reply.result()  # the reply, set by the receive that just ran here
        outcome, evicted = self.mailbox.offer(Letter(message, reply), timeout, placed=placed)
        if evicted is not None:
            self.drop(evicted, EVICTED, self._full_error())
        if outcome is Offer.ADMITTED:
            return self._reply(reply, deadline, timeout)
        path = self.spec.path
        if outcome is Offer.FULL:
            raise MailboxFullError(
                f"mailbox of {path} is full (capacity {self.spec.capacity}, policy FAIL)"
            )
        if outcome is Offer.TIMEOUT:
            raise SendTimeoutError(f"no room in {path} within {timeout} s")
        if outcome is Offer.DROPPED:
            self.dead_letters.record(self.ref, message, DROPPED)
            raise self._full_error()
        self.dead_letters.record(self.ref, message, "actor stopped")
        raise ActorStoppedError(f"{path} has stopped; the ask is a dead letter")

    def _reply(self, reply: Future[Any], deadline: float | None, timeout: float | None) -> Any:
        """Wait for an admitted ask's reply until ``deadline``; then drop it."""
        left = remaining(deadline)
        try:
            return reply.result(left)
        except TimeoutError:
            if reply.done() or not reply.cancel():
                return reply.result()  # receive's own TimeoutError, or a reply just in time
        raise AskTimeoutError(f"no reply from {self.spec.path} within {timeout} s")

    def drop(self, letter: Letter, reason: str, error: BaseException) -> None:
        """Make a letter a dead letter; an ask waiting on it fails with ``error``."""
        self.dead_letters.record(self.ref, letter.message, reason)
        settle(letter.reply, None, error)

    def _full_error(self) -> MailboxFullError:
        spec = self.spec
        return MailboxFullError(
            f"message dropped: mailbox of {spec.path} is full "
            f"(capacity {spec.capacity}, policy {spec.overflow.name})"
        )

    # -- control group -------------------------------------------------------------------

    @ray.method(concurrency_group="control")
    def control(self, item: object) -> None:
        """Queue a control item (a stop, a directive, a child's report)."""
        self.mailbox.control(item)

    @ray.method(concurrency_group="control")
    def describe(self) -> tuple[bool, str, str, int | None]:
        """(alive, status, overflow policy, capacity): what a lookup needs."""
        spec = self.spec
        return self.stop_reason is None, self.status.value, spec.overflow.value, spec.capacity

    @ray.method(concurrency_group="query")
    def spawn_child(self, *args: Any) -> RayActorRef[Any]:
        """Spawn a child (for the driver and for spawns under ``/user``)."""
        return self.spawn(*args)

    @ray.method(concurrency_group="query")
    def status_node(self) -> StatusNode:
        """This actor's status-tree snapshot, its subtree included (the children
        that answer within `STATUS_TIMEOUT`)."""
        calls = [child.handle.status_node.remote() for child in self.child_records()]
        nodes: list[StatusNode] = []
        if calls:
            ready, _ = ray.wait(calls, num_returns=len(calls), timeout=STATUS_TIMEOUT)
            answered = set(ready)
            for call in calls:
                try:
                    node = ray.get(call, timeout=0) if call in answered else None
                except Exception:  # noqa: BLE001 - a child that is gone has no node
                    node = None
                if isinstance(node, StatusNode):
                    nodes.append(node)
        spec = self.spec
        return StatusNode(
            spec.path, spec.name, self.status, self.since, self.mailbox.depth, self.restarts,
            tuple(nodes),
        )  # fmt: skip

    # -- the office (only the /user host has one) ----------------------------------------

    @ray.method(concurrency_group="control")
    def record(self, items: list[tuple[Any, object, str]]) -> None:
        """Collect dead letters from other hosts and refs."""
        if self.office is not None:
            self.office.add(items)

    @ray.method(concurrency_group="office")
    def drain(self, wait: float) -> tuple[list[tuple[Any, object, str]], Any]:
        """The dead letters collected since the last drain, and the system failure."""
        if self.office is None:
            return [], None
        return self.office.drain(wait)

    # -- long polls ----------------------------------------------------------------------

    @ray.method(concurrency_group="watch")
    def until_stopped(self, timeout: float | None = None) -> str | None:
        """The stop reason once this actor has stopped; None after ``timeout`` s."""
        with self._calls, self._stopped:
            self._stopped.wait_for(lambda: self.stop_reason is not None, timeout)
            return self.stop_reason

    @ray.method(concurrency_group="watch")
    def quiesce(self, timeout: float) -> bool:
        """Once stopped, wait until no call is still answering (then the parent
        may kill this host without cutting a reply off).

        In the watch group, behind every long-poll that came before it from
        the same caller (the parent): Ray orders a group's queued calls per
        caller only, so another process's poll still queued for a thread may
        find the host killed (`RayActorRef.wait_stopped` reads that as stopped).
        """
        if self.stop_reason is None:
            return False
        return self._calls.wait_idle(timeout)

    def mark_stopped(self, reason: str) -> None:
        """Called once by the turn thread: wake every ``until_stopped`` call."""
        with self._stopped:
            self.stop_reason = reason
            self._stopped.notify_all()

    def request_stop(self, reason: str | None) -> None:
        """Stop this actor after the message in hand (from any thread)."""
        self.mailbox.control(Stop(reason))


class InFlight:
    """Counts the tell and ask calls still running; `wait_idle` waits for none."""

    def __init__(self) -> None:
        # Guards _count.
        self._cond = threading.Condition(threading.Lock())
        self._count = 0

    def __enter__(self) -> None:
        with self._cond:
            self._count += 1

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._count -= 1
            if not self._count:
                self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._count, timeout)


#: The int a ``tell`` answers for each outcome (DROPPED is answered as ADMITTED).
_VERDICT: dict[Offer, int] = {
    offer: VERDICTS.index(offer.value) for offer in Offer if offer is not Offer.DROPPED
}


def _nothing() -> None:
    """The ``placed`` of one tell in a batch: the batch is placed as a whole."""


HostActor = ray.remote(  # type: ignore[call-overload]  # Ray's stubs lack these options
    concurrency_groups={
        "control": CONTROL_THREADS,
        "query": QUERY_THREADS,
        "watch": WATCH_THREADS,
        "office": OFFICE_THREADS,
    },
    max_concurrency=LETTER_THREADS,
)(Host)
