"""The status server's event fan-out: one feed in, bounded queues out.

An `EventFeed` produces events (a kind and a JSON-ready dict); `StatusFeed`,
the one used today, turns a system's status subscriptions into ``status`` and
``lifecycle`` events. Another source (an event stream) plugs in by
implementing `EventFeed`.

`EventHub` fans the events out to the connected Server-Sent-Events clients.
Publishing runs on whatever thread changed a status (usually a worker) and
must never wait for a client: it serialises the event once and, under the
hub's lock, appends it to each client's queue. A client whose queue is full
(``queue_size`` events it has not taken yet: it reads too slowly) loses the
event, which is counted, and is disconnected: its connection is shut down,
which also breaks a write it is blocked in, and its browser reconnects and
gets a fresh tree. The lock is held only for those appends and for a
client taking its whole queue at once; nothing blocks under it.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, cast

from ._status import ServiceStatus

if TYPE_CHECKING:
    from ._ref import ActorRef
    from ._subscription import Subscription

__all__ = ["EventClient", "EventFeed", "EventHub", "HubFullError", "StatusFeed", "frame"]

#: Publish one event: its kind (the SSE ``event:`` field) and its data.
Publish = Callable[[str, dict[str, Any]], None]

# Lifecycle events derived from status changes: (old, new) -> name; None: any old.
_LIFECYCLE: dict[tuple[ServiceStatus | None, ServiceStatus], str] = {
    (ServiceStatus.INITIALIZING, ServiceStatus.RUNNING): "started",
    (None, ServiceStatus.STARTING): "restarting",
    (None, ServiceStatus.STOPPING): "stopping",
    (None, ServiceStatus.STOPPED): "stopped",
}


def frame(kind: str, data: dict[str, Any]) -> bytes:
    """One Server-Sent Event (its data on one line: JSON has no raw newlines)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event: {kind}\ndata: {text}\n\n".encode()


class EventFeed(Protocol):
    """A source of events for the status server."""

    def open(self, publish: Publish) -> Callable[[], None]:
        """Call ``publish(kind, data)`` for every event from now on, from any
        thread, without blocking; return a function that stops it."""
        ...


class StatusSource(Protocol):
    """What `StatusFeed` reads: an `ActorSystem`."""

    def subscribe_status(
        self, callback: Callable[[ActorRef[Any], ServiceStatus, ServiceStatus], object]
    ) -> Subscription: ...


class _Counted(Protocol):
    """What a status event reads of the actor (its cell)."""

    @property
    def restarts(self) -> int: ...
    def depth(self) -> int: ...


class StatusFeed:
    """``status`` events for every status change, and ``lifecycle`` events
    (started, restarting, stopping, stopped) derived from them."""

    def __init__(self, system: StatusSource) -> None:
        self._system = system

    def open(self, publish: Publish) -> Callable[[], None]:
        def changed(ref: ActorRef[Any], old: ServiceStatus, new: ServiceStatus) -> None:
            cell = cast(_Counted, ref._cell)
            data = {
                "path": ref.path,
                "old": old.value,
                "new": new.value,
                "restarts": cell.restarts,
                "mailbox_depth": cell.depth(),
                "time": time.time(),
            }
            publish("status", data)
            event = _LIFECYCLE.get((old, new)) or _LIFECYCLE.get((None, new))
            if event is not None:
                publish("lifecycle", {"path": ref.path, "event": event, "time": data["time"]})

        return self._system.subscribe_status(changed).cancel


class HubFullError(RuntimeError):
    """The hub already serves its maximum number of clients."""


class EventClient:
    """One connected client's queue of frames (guarded by its hub's lock)."""

    __slots__ = ("abort", "closed", "dropped", "overflowed", "queue")

    def __init__(self, abort: Callable[[], None]) -> None:
        self.queue: deque[bytes] = deque()
        self.dropped = 0
        # Set when an event did not fit: the client is being disconnected.
        self.overflowed = False
        self.closed = False
        # Shuts the client's connection down (unblocks a write it waits in).
        self.abort = abort


class EventHub:
    """Fans events out to at most ``max_clients`` clients.

    Thread safety: every method may be called from any thread.
    """

    def __init__(self, feed: EventFeed, max_clients: int, queue_size: int) -> None:
        self._max_clients = max_clients
        self._queue_size = queue_size
        # Guards _clients, every client's fields, _closed and the counters.
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._clients: list[EventClient] = []
        self._closed = False
        self.dropped = 0
        self.rejected = 0
        self.published = 0
        self._stop_feed = feed.open(self.publish)

    @property
    def clients(self) -> int:
        """How many clients are connected now."""
        with self._lock:
            return len(self._clients)

    def join(self, abort: Callable[[], None]) -> EventClient:
        """Register a client.

        Raises:
            HubFullError: If ``max_clients`` are connected already (or the hub
                is closed).
        """
        with self._lock:
            if self._closed or len(self._clients) >= self._max_clients:
                self.rejected += 1
                raise HubFullError(
                    f"the status server already streams events to {len(self._clients)} "
                    f"clients (its limit, max_event_clients={self._max_clients})"
                )
            client = EventClient(abort)
            self._clients.append(client)
            return client

    def leave(self, client: EventClient) -> None:
        """Unregister ``client``; nothing happens if it already was."""
        with self._lock:
            if client in self._clients:
                self._clients.remove(client)

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        """Queue an event for every client; never waits for one."""
        if not self._clients:  # (a racy read: an event nobody could see is no loss)
            return
        payload = frame(kind, data)
        overflowed: list[EventClient] = []
        with self._lock:
            self.published += 1
            for client in self._clients:
                if client.overflowed or client.closed:
                    continue
                if len(client.queue) >= self._queue_size:
                    client.dropped += 1
                    self.dropped += 1
                    client.overflowed = True
                    overflowed.append(client)
                else:
                    client.queue.append(payload)
            self._changed.notify_all()
        for client in overflowed:
            client.abort()  # outside the lock: a syscall, but no reason to hold it

    def take(self, client: EventClient, timeout: float) -> tuple[list[bytes], bool]:
        """Wait up to ``timeout`` for frames; return them and whether to go on.

        Returns ``(frames, False)`` once the client must stop: it overflowed or
        the hub closed (the frames still queued are returned with it).
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            while not client.queue and not client.overflowed and not client.closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            frames = list(client.queue)
            client.queue.clear()
            return frames, not (client.overflowed or client.closed)

    def close(self) -> None:
        """Stop the feed and tell every client to finish. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for client in self._clients:
                client.closed = True
            self._changed.notify_all()
        self._stop_feed()
