"""`Host`: the Ray actor that hosts one of our `Actor` instances.

Design. The host is an *async* Ray actor: every remote method is a coroutine on
its event loops, and returns as soon as it has put something in the
`HostMailbox` (or, for an ask, when the reply is set). One plain thread of the
host, the turn thread (``_turns.py``), takes control items and letters out and
runs the actor's hooks one at a time, so the actor's state needs no lock and
``receive`` is single-threaded, as on the thread backend. Ray's own
``max_concurrency=1`` would give that too, but then an enqueue would wait for
the running ``receive``: no BLOCK wait could ever end and capacity could not be
shared by senders in other processes. Concurrency groups keep the control
methods (stop, directives, status) and the long-poll ``until_stopped`` (one
call per watcher, held until the stop) from being starved by letters.

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

import asyncio
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

import ray

from .._errors import ActorStoppedError, MailboxFullError, SendTimeoutError
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

__all__ = ["HostActor"]

#: Concurrency of the default group (tell, ask): each waiting ask or BLOCK sender
#: holds one slot (a coroutine, not a thread).
LETTER_SLOTS = 10_000
#: Slots of the control group (stop, directives, describe, status, spawn).
CONTROL_SLOTS = 64
#: Slots for long-polls (``until_stopped``): one per watcher, parent or waiter.
WATCH_SLOTS = 10_000
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
        # Guards _stop_waiters and stop_reason (set once, by the turn thread).
        self._stop_lock = threading.Lock()
        self._stop_waiters: list[asyncio.Future[str]] = []
        self.stop_reason: str | None = None
        self.status = ServiceStatus.STARTING
        self.since = time.time()
        self.restarts = 0
        self.init_family()
        self.start_turns()

    # -- letters (default group) ---------------------------------------------------------

    async def tell(
        self, sender: str, seq: int, message: object, timeout: float | None, nowait: bool
    ) -> str:
        """Offer one message; answer ``admitted``, ``full``, ``timeout`` or ``stopped``.

        ``(sender, seq)`` numbers the sender's calls (see ``_order.py``).
        """
        with self._calls:
            await self.order.turn(sender, seq)
            return await self._tell(message, timeout, nowait, self._placed(sender, seq))

    async def tell_many(self, sender: str, seq: int, messages: list[object]) -> None:
        """Offer a batch of tells that need no verdict (see ``_outbox.py``), in order."""
        with self._calls:
            await self.order.turn(sender, seq)
            try:
                for message in messages:
                    await self._tell(message, None, False, _nothing)
            finally:
                self.order.placed(sender, seq)

    async def sync(self, sender: str, seq: int) -> None:
        """Return once every earlier call of ``sender`` has taken its place."""
        await self.order.turn(sender, seq)
        self.order.placed(sender, seq)

    def _placed(self, sender: str, seq: int) -> Callable[[], None]:
        return lambda: self.order.placed(sender, seq)

    async def _tell(
        self, message: object, timeout: float | None, nowait: bool, placed: Callable[[], None]
    ) -> str:
        outcome, evicted = await self.mailbox.offer(
            Letter(message), timeout, nowait=nowait, placed=placed
        )
        if evicted is not None:
            self.drop(evicted, EVICTED, self._full_error())
        if outcome is Offer.DROPPED:
            self.dead_letters.record(self.ref, message, DROPPED)
            return str(Offer.ADMITTED.value)  # the sender is not told, as on threads
        if outcome is Offer.STOPPED:
            self.dead_letters.record(self.ref, message, "actor stopped")
        return str(outcome.value)

    async def ask(self, sender: str, seq: int, message: object, timeout: float | None) -> Any:
        """Offer one message and return the reply (what ``receive`` returned)."""
        with self._calls:
            await self.order.turn(sender, seq)
            return await self._ask(message, timeout, self._placed(sender, seq))

    async def _ask(self, message: object, timeout: float | None, placed: Callable[[], None]) -> Any:
        letter = Letter(message, asyncio.get_running_loop().create_future())
        outcome, evicted = await self.mailbox.offer(letter, timeout, placed=placed)
        if evicted is not None:
            self.drop(evicted, EVICTED, self._full_error())
        if outcome is Offer.ADMITTED:
            assert letter.reply is not None
            return await letter.reply  # a cancelled ask cancels only this wait
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
    async def control(self, item: object) -> None:
        """Queue a control item (a stop, a directive, a child's report)."""
        self.mailbox.control(item)

    @ray.method(concurrency_group="control")
    async def describe(self) -> tuple[bool, str, str, int | None]:
        """(alive, status, overflow policy, capacity): what a lookup needs."""
        spec = self.spec
        return self.stop_reason is None, self.status.value, spec.overflow.value, spec.capacity

    @ray.method(concurrency_group="control")
    async def spawn_child(self, *args: Any) -> RayActorRef[Any]:
        """Spawn a child (for the driver and for spawns under ``/user``)."""
        return self.spawn(*args)

    @ray.method(concurrency_group="control")
    async def status_node(self) -> StatusNode:
        """This actor's status-tree snapshot, its subtree included."""
        calls = [child.handle.status_node.remote() for child in self.child_records()]
        nodes: list[StatusNode] = []
        if calls:
            done = await asyncio.wait_for(
                asyncio.gather(*calls, return_exceptions=True), STATUS_TIMEOUT
            )
            nodes = [node for node in done if isinstance(node, StatusNode)]
        spec = self.spec
        return StatusNode(
            spec.path, spec.name, self.status, self.since, self.mailbox.depth, self.restarts,
            tuple(nodes),
        )  # fmt: skip

    # -- the office (only the /user host has one) ----------------------------------------

    @ray.method(concurrency_group="control")
    async def record(self, items: list[tuple[Any, object, str]]) -> None:
        """Collect dead letters from other hosts and refs."""
        if self.office is not None:
            self.office.add(items)

    @ray.method(concurrency_group="watch")
    async def drain(self, wait: float) -> tuple[list[tuple[Any, object, str]], Any]:
        """The dead letters collected since the last drain, and the system failure."""
        if self.office is None:
            return [], None
        return await self.office.drain(wait)

    # -- long polls ----------------------------------------------------------------------

    @ray.method(concurrency_group="watch")
    async def until_stopped(self) -> str:
        """Return the stop reason once this actor has stopped."""
        with self._stop_lock:
            if self.stop_reason is not None:
                return self.stop_reason
            waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            self._stop_waiters.append(waiter)
        return await waiter

    @ray.method(concurrency_group="control")
    async def quiesce(self, timeout: float) -> bool:
        """Once stopped, wait until no tell or ask is still answering (then the
        parent may kill this host without cutting a reply off)."""
        if self.stop_reason is None:
            return False
        return await asyncio.to_thread(self._calls.wait_idle, timeout)

    def mark_stopped(self, reason: str) -> None:
        """Called once by the turn thread: wake every ``until_stopped`` call."""
        with self._stop_lock:
            self.stop_reason = reason
            waiters, self._stop_waiters = self._stop_waiters, []
        for waiter in waiters:
            try:
                waiter.get_loop().call_soon_threadsafe(_resolve, waiter, reason)
            except RuntimeError:
                pass

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


def _nothing() -> None:
    """The ``placed`` of one tell in a batch: the batch is placed as a whole."""


def _resolve(waiter: asyncio.Future[str], reason: str) -> None:
    if not waiter.done():
        waiter.set_result(reason)


HostActor = ray.remote(  # type: ignore[call-overload]  # Ray's stubs lack these options
    concurrency_groups={"control": CONTROL_SLOTS, "watch": WATCH_SLOTS},
    max_concurrency=LETTER_SLOTS,
)(Host)
