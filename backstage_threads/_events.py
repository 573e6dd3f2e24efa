"""`EventStream` (``system.events``): publish/subscribe by type, never blocking a publisher.

Publishing appends the event to the bounded queue of every subscription whose
type it matches, under the stream's lock (held only for those appends), and
wakes the stream's one delivery thread; it never waits for a subscriber and
never runs subscriber code. The delivery thread (started with the first
subscription, joined at shutdown) takes each subscription's queue and calls
its callback, or tells its actor with ``tell_nowait``, outside the lock.

Overflow is counted exactly: an event that finds its subscription's queue
full (``capacity`` events not yet delivered) is not queued and counts in that
subscription's and the stream's ``dropped``; an actor subscriber whose own
mailbox is full loses the event the same way, and it is also recorded as a
dead letter (except a `DeadLetter` event itself, which would loop). So for
every subscription, ``delivered + dropped`` is the number of events it
matched. A subscribed actor that stops is unsubscribed.

The runtime publishes `DeadLetter`, `StatusChanged`, `ActorStarted`,
`ActorRestarted`, `ActorStopped` (with the reason) and `WorkerDied`; users
publish their own. `EventStream.feed` turns the stream into the status
server's `EventFeed`.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol, cast

from loguru import logger

from ._deadletters import DeadLetter, DeadLetters
from ._errors import ActorStoppedError, ActorSystemClosedError, MailboxFullError
from ._ref import ActorRef
from ._status import ServiceStatus
from ._threads import join_thread, start_thread
from ._validate import check_positive_int

if TYPE_CHECKING:
    from ._status_events import Publish

__all__ = [
    "ActorRestarted",
    "ActorStarted",
    "ActorStopped",
    "EventStream",
    "EventStreamStatistics",
    "EventSubscription",
    "StatusChanged",
    "WorkerDied",
]

#: Events a subscription holds undelivered before it drops: enough for bursts
#: of thousands of status changes; a subscriber that lags further is too slow.
DEFAULT_EVENT_CAPACITY = 4096


@dataclass(frozen=True, slots=True)
class StatusChanged:
    """An actor's service status changed."""

    ref: ActorRef[Any]
    old: ServiceStatus
    new: ServiceStatus


@dataclass(frozen=True, slots=True)
class ActorStarted:
    """An actor's start finished (Initializing -> Running)."""

    ref: ActorRef[Any]


@dataclass(frozen=True, slots=True)
class ActorRestarted:
    """An actor began a restart (its ``restarts``-th)."""

    ref: ActorRef[Any]
    restarts: int


@dataclass(frozen=True, slots=True)
class ActorStopped:
    """An actor stopped, and why."""

    ref: ActorRef[Any]
    reason: str


@dataclass(frozen=True, slots=True)
class WorkerDied:
    """A worker thread died outside any actor's code (it was replaced)."""

    worker: str
    path: str | None
    error: BaseException


@dataclass(frozen=True, slots=True)
class EventStreamStatistics:
    """Counters of an `EventStream`: ``published``, ``delivered``, ``dropped``
    (over all subscriptions), ``failures`` (callbacks that raised), ``subscribers``."""

    published: int
    delivered: int
    dropped: int
    failures: int
    subscribers: int


class _Cell(Protocol):
    """What a lifecycle event reads of an actor (its cell)."""

    restarts: int
    _stop_reason: str


class EventSubscription:
    """One subscription; `cancel` it. ``delivered`` and ``dropped`` are exact."""

    __slots__ = ("_stream", "capacity", "delivered", "dropped", "kind", "queue", "target")

    def __init__(self, stream: EventStream, kind: type, target: Any, capacity: int) -> None:
        self._stream = stream
        self.kind = kind
        self.target = target
        self.capacity = capacity
        # The three below are guarded by the stream's lock.
        self.queue: deque[object] = deque()
        self.delivered = 0
        self.dropped = 0

    def cancel(self) -> None:
        """Stop delivering; events still queued are not delivered. Idempotent."""
        self._stream._remove(self)

    def __enter__(self) -> EventSubscription:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cancel()


class EventStream:
    """Publish/subscribe by event type, for one actor system (``system.events``).

    Thread safety: every method may be called from any thread.
    """

    def __init__(
        self, name: str, dead_letters: DeadLetters, changed: Callable[[], None] | None = None
    ) -> None:
        self._name = name
        self._dead_letters = dead_letters
        # Called (under the lock) after every subscribe and removal: the system
        # keeps its "is anyone watching status changes?" flag with it.
        self._changed = changed
        # Guards every subscription's queue and counters, the counters below,
        # _thread and _closed. Only appends and pops happen under it.
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        # Replaced whole under the lock; publishers read it without (one atomic read).
        self._subscriptions: tuple[EventSubscription, ...] = ()
        self._published = 0
        self._dropped = 0
        self._failures = 0
        self._delivered = 0
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- public API ---------------------------------------------------------------------

    def publish(self, event: object) -> None:
        """Queue ``event`` for every subscription of a type it is an instance of.

        Never blocks and never runs subscriber code here.
        """
        subscriptions = self._subscriptions
        if not subscriptions:
            with self._lock:
                self._published += 1
            return
        matching = [s for s in subscriptions if isinstance(event, s.kind)]
        with self._lock:
            self._published += 1
            for subscription in matching:
                if len(subscription.queue) >= subscription.capacity or self._closed:
                    subscription.dropped += 1
                    self._dropped += 1
                else:
                    subscription.queue.append(event)
            if matching:
                self._ready.notify()

    def subscribe(
        self,
        kind: type,
        subscriber: ActorRef[Any] | Callable[[Any], object],
        *,
        capacity: int = DEFAULT_EVENT_CAPACITY,
    ) -> EventSubscription:
        """Deliver every event that is an instance of ``kind`` to ``subscriber``.

        An `ActorRef` receives them as messages; a callback is called with each,
        on the stream's delivery thread (keep it short: it delays the others).
        Each subscription holds at most ``capacity`` undelivered events; more
        are dropped and counted.

        Raises:
            TypeError: If ``kind`` is not a type or ``subscriber`` is neither an
                `ActorRef` nor callable.
            ValueError: If ``capacity`` is not an int >= 1.
            ActorSystemClosedError: If the system has shut down.
        """
        if not isinstance(kind, type):
            raise TypeError(f"events are subscribed to by type (object for all), got {kind!r}")
        if not isinstance(subscriber, ActorRef) and not callable(subscriber):
            raise TypeError(f"an event subscriber is an ActorRef or a callable, got {subscriber!r}")
        check_positive_int(capacity, "capacity")
        subscription = EventSubscription(self, kind, subscriber, capacity)
        with self._lock:
            if self._closed:
                raise ActorSystemClosedError(f"actor system {self._name!r} has shut down")
            self._subscriptions = (*self._subscriptions, subscription)
            if self._changed is not None:
                self._changed()
            start = self._thread is None
            if start:
                self._thread = threading.Thread(
                    target=self._deliver_loop, name=f"{self._name}-events", daemon=True
                )
        if start:
            assert self._thread is not None
            start_thread(self._thread)
        return subscription

    def statistics(self) -> EventStreamStatistics:
        """A consistent snapshot of the counters."""
        with self._lock:
            return EventStreamStatistics(
                self._published,
                self._delivered,
                self._dropped,
                self._failures,
                len(self._subscriptions),
            )

    def feed(self) -> _StreamFeed:
        """This stream as the status server's `EventFeed` (``status``/``lifecycle`` events)."""
        return _StreamFeed(self)

    # -- the runtime's events -----------------------------------------------------------

    def _status_changed(self, ref: ActorRef[Any], old: ServiceStatus, new: ServiceStatus) -> None:
        if not self._subscriptions:
            return
        self.publish(StatusChanged(ref, old, new))
        if old is ServiceStatus.INITIALIZING and new is ServiceStatus.RUNNING:
            self.publish(ActorStarted(ref))
        elif new is ServiceStatus.STARTING:
            self.publish(ActorRestarted(ref, cast(_Cell, ref._cell).restarts))
        elif new is ServiceStatus.STOPPED:
            self.publish(ActorStopped(ref, cast(_Cell, ref._cell)._stop_reason))

    def close(self, timeout: float | None) -> list[str]:
        """Stop the delivery thread (at shutdown); the names of threads still alive."""
        with self._lock:
            self._closed = True
            thread = self._thread
            self._ready.notify_all()
        if thread is None:
            return []
        return [thread.name] if join_thread(thread, timeout) else []

    # -- delivery -----------------------------------------------------------------------

    def _remove(self, subscription: EventSubscription) -> None:
        with self._lock:
            self._subscriptions = tuple(s for s in self._subscriptions if s is not subscription)
            if self._changed is not None:
                self._changed()
            subscription.queue.clear()

    def _deliver_loop(self) -> None:
        while True:
            with self._lock:
                batches = self._take()
                while not batches and not self._closed:
                    self._ready.wait()
                    batches = self._take()
                if not batches:
                    return
            for subscription, events in batches:
                for event in events:
                    self._deliver_one(subscription, event)

    def _take(self) -> list[tuple[EventSubscription, list[object]]]:
        # Lock held: every queued event, per subscription, in publishing order.
        batches = []
        for subscription in self._subscriptions:
            if subscription.queue:
                batches.append((subscription, list(subscription.queue)))
                subscription.queue.clear()
        return batches

    def _deliver_one(self, subscription: EventSubscription, event: object) -> None:
        target = subscription.target
        delivered = dropped = failed = 0
        if isinstance(target, ActorRef) and not target.is_alive:
            dropped = 1
            self._remove(subscription)
            if not isinstance(event, DeadLetter):
                self._dead_letters.record(target, event, "event stream: subscriber stopped")
        elif isinstance(target, ActorRef):
            try:
                target.tell_nowait(event)
                delivered = 1
            except MailboxFullError:
                dropped = 1
                if not isinstance(event, DeadLetter):  # (a DeadLetter's would loop)
                    self._dead_letters.record(target, event, "event stream: mailbox full")
            except (ActorStoppedError, ActorSystemClosedError):
                dropped = 1  # recorded as a dead letter by the mailbox
                self._remove(subscription)
        else:
            try:
                target(event)
                delivered = 1
            except Exception:  # noqa: BLE001 - one bad subscriber must not stop the others
                failed = 1
                logger.opt(exception=True).error("event subscriber {} failed", target)
        with self._lock:
            subscription.delivered += delivered
            subscription.dropped += dropped
            self._delivered += delivered
            self._dropped += dropped
            self._failures += failed


# The status server's lifecycle event names.
_LIFECYCLE_NAMES: Final = {
    ActorStarted: "started",
    ActorRestarted: "restarting",
    ActorStopped: "stopped",
}


class _StreamFeed:
    """`EventFeed` over an `EventStream`: ``status`` and ``lifecycle`` events."""

    def __init__(self, stream: EventStream) -> None:
        self._stream = stream

    def open(self, publish: Publish) -> Callable[[], None]:
        def deliver(event: object) -> None:
            if isinstance(event, StatusChanged):
                publish(
                    "status",
                    {"path": event.ref.path, "old": event.old.value, "new": event.new.value},
                )
            elif isinstance(event, (ActorStarted, ActorRestarted, ActorStopped)):
                name = _LIFECYCLE_NAMES[type(event)]
                publish("lifecycle", {"path": event.ref.path, "event": name})

        return self._stream.subscribe(object, deliver).cancel
