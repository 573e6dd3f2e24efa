"""`StatusServer`: a small HTTP server showing one actor system, on its own threads.

Endpoints (``_status_http.py`` answers them): ``/`` the live status page,
``/service`` the status tree as JSON, ``/metrics`` Prometheus text, ``/events``
Server-Sent Events; anything else is a 404.

Threads: one accepts connections (it waits on the listening socket and on a
wake-up socket, so `close` stops it at once) and each connection gets a thread
of its own, so a slow or stuck client holds only its own thread, never a
worker nor another client. Every socket has a timeout, connections are
capped (``max_event_clients`` event streams plus `_OTHER_CONNECTIONS` others;
past the cap a client gets a 503 at once), and the server's threads are
joined within `close`'s timeout, which the system's shutdown calls.

Binding: loopback only, unless ``allow_remote=True``. The server has no
authentication and shows the actor tree, metrics and the flow of status
changes to anyone who can connect.
"""

from __future__ import annotations

import errno
import ipaddress
import selectors
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from loguru import logger

from ._clock import remaining
from ._errors import ActorSystemClosedError
from ._status_events import EventHub, StatusFeed, frame
from ._status_http import REQUEST_TIMEOUT, StatusHandler, load_page
from ._threads import join_thread, start_thread
from ._validate import check_positive_int, check_timeout

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._metrics import SystemMetrics
    from ._ref import ActorRef
    from ._status import ServiceStatus, StatusNode
    from ._subscription import Subscription

__all__ = ["StatusServer", "StatusServerStatistics", "serve_status"]

#: Connections that are not event streams, beyond ``max_event_clients``.
_OTHER_CONNECTIONS = 32
#: Default bound on event-stream clients (50 browsers at once fit).
DEFAULT_EVENT_CLIENTS = 64
#: Default events queued for one client before it counts as too slow.
DEFAULT_EVENT_QUEUE = 256


class StatusSystem(Protocol):
    """What the status server needs of an `ActorSystem`."""

    @property
    def name(self) -> str: ...
    def status_tree(self) -> StatusNode: ...
    def metrics(self) -> SystemMetrics: ...
    def subscribe_status(
        self, callback: Callable[[ActorRef[Any], ServiceStatus, ServiceStatus], object]
    ) -> Subscription: ...
    def _on_shutdown(self, close: Callable[[float | None], list[str]]) -> Subscription: ...


@dataclass(frozen=True, slots=True)
class StatusServerStatistics:
    """Counters of a `StatusServer` (a snapshot).

    Attributes:
        requests: Requests answered (an event stream counts once).
        event_clients: Event streams open now.
        dropped_events: Events not delivered because a client read too slowly
            (each such client was disconnected; its browser reconnects).
        rejected_clients: Connections turned away with a 503 (over a cap).
    """

    requests: int
    event_clients: int
    dropped_events: int
    rejected_clients: int


class StatusServer:
    """A running status server; `ActorSystem.serve_status` starts one.

    Closed by `close`, by leaving a ``with`` block, or by the system's shutdown.

    Thread safety: every method may be called from any thread.
    """

    def __init__(
        self,
        system: StatusSystem,
        listener: socket.socket,
        max_event_clients: int,
        event_queue: int,
    ) -> None:
        self.system = system
        self._listener = listener
        host, port = listener.getsockname()[:2]
        self._host: str = host
        self._port: int = port
        self.page = load_page()
        self.hub = EventHub(StatusFeed(system), max_event_clients, event_queue)
        self._max_connections = max_event_clients + _OTHER_CONNECTIONS
        # Guards _connections, _serial, _closed, _sockets_open, _requests, _rejected
        # and the tree cache.
        self._lock = threading.Lock()
        self._connections: dict[threading.Thread, socket.socket] = {}
        self._serial = 0
        self._closed = False
        self._requests = 0
        self._rejected = 0
        self._tree: tuple[float, bytes] | None = None
        self._sockets_open = True
        self._wake_read, self._wake_write = socket.socketpair()
        self._accepter = threading.Thread(
            target=self._accept_loop, name=f"{system.name}-status-accept", daemon=True
        )
        start_thread(self._accepter)
        try:
            self._hook = system._on_shutdown(self._shutdown)
        except BaseException:  # the system is shutting down: undo the start
            self._shutdown(REQUEST_TIMEOUT)
            raise

    @property
    def host(self) -> str:
        """The address the server listens on."""
        return self._host

    @property
    def port(self) -> int:
        """The port the server listens on (the one chosen, for ``port=0``)."""
        return self._port

    @property
    def url(self) -> str:
        """The status page's URL, such as ``http://127.0.0.1:8765/``."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}/"

    @property
    def closed(self) -> bool:
        """True once `close` (or the system's shutdown) has stopped the server."""
        with self._lock:
            return self._closed

    def statistics(self) -> StatusServerStatistics:
        """The server's counters, now."""
        with self._lock:
            requests, rejected = self._requests, self._rejected
        hub = self.hub
        return StatusServerStatistics(requests, hub.clients, hub.dropped, rejected + hub.rejected)

    def close(self, timeout: float | None = 5.0) -> bool:
        """Stop serving: end the event streams, close every connection, join the
        threads within ``timeout`` seconds; True if all of them exited. Idempotent."""
        self._hook.cancel()
        return not self._shutdown(check_timeout(timeout))

    def __enter__(self) -> StatusServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "serving"
        return f"<StatusServer {self.url} {state}>"

    # -- runtime -------------------------------------------------------------------------

    def _shutdown(self, timeout: float | None) -> list[str]:
        """Close (see `close`); return the names of threads still alive."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            first = not self._closed
            self._closed = True
        if first:
            self.hub.close()  # event streams say goodbye and end
            try:
                self._wake_write.send(b"x")
            except OSError:
                pass
        join_thread(self._accepter, remaining(deadline))
        with self._lock:
            close_sockets = self._sockets_open and not self._accepter.is_alive()
            if close_sockets:
                self._sockets_open = False
        if close_sockets:
            self._listener.close()
            self._wake_read.close()
            self._wake_write.close()
        # Give requests in flight a moment, then cut what is left.
        with self._lock:
            connections = dict(self._connections)
        grace = 1.0 if deadline is None else min(1.0, remaining(deadline) or 0.0)
        end = time.monotonic() + grace
        for thread in connections:
            join_thread(thread, max(0.0, end - time.monotonic()))
        for thread, sock in connections.items():
            if thread.is_alive():
                _cut(sock)
        for thread in connections:
            join_thread(thread, remaining(deadline))
        stuck = [t.name for t in (self._accepter, *connections) if t.is_alive()]
        if stuck:
            logger.bind(system=self.system.name).warning(
                "status server {} did not stop in time: threads alive {}", self.url, stuck
            )
        return stuck

    def _accept_loop(self) -> None:
        listener = self._listener
        with selectors.DefaultSelector() as selector:
            selector.register(listener, selectors.EVENT_READ)
            selector.register(self._wake_read, selectors.EVENT_READ)
            while not self.closed:
                for key, _ in selector.select():
                    if key.fileobj is self._wake_read:
                        return
                    try:
                        conn, address = listener.accept()
                    except OSError:  # gone before we took it (or the listener closed)
                        continue
                    self._start_connection(conn, address)

    def _start_connection(self, conn: socket.socket, address: Any) -> None:
        conn.settimeout(REQUEST_TIMEOUT)
        with self._lock:
            full = len(self._connections) >= self._max_connections or self._closed
            if full:
                self._rejected += 1
            else:
                self._serial += 1
                thread = threading.Thread(
                    target=self._serve,
                    args=(conn, address),
                    name=f"{self.system.name}-status-conn-{self._serial}",
                    daemon=True,
                )
                self._connections[thread] = conn
        if full:
            _refuse(conn, self._max_connections)
            return
        start_thread(thread)

    def _serve(self, conn: socket.socket, address: Any) -> None:
        try:
            StatusHandler(conn, address, self)
        except Exception:  # noqa: BLE001 - a client's trouble must not end the server
            logger.opt(exception=True).debug("status server: connection from {} failed", address)
        finally:
            _cut(conn)
            conn.close()
            with self._lock:
                self._requests += 1
                self._connections.pop(threading.current_thread(), None)

    def tree_frame(self, max_age: float) -> bytes:
        """The status tree as a ``tree`` event, at most ``max_age`` seconds old
        (shared by every client, so the tree is walked once per interval)."""
        now = time.monotonic()
        with self._lock:
            cached = self._tree
        if cached is not None and now - cached[0] < max_age:
            return cached[1]
        data = {
            "system": self.system.name,
            "tree": self.system.status_tree().to_dict(),
            "dropped_events": self.hub.dropped,
        }
        payload = frame("tree", data)
        with self._lock:
            self._tree = (now, payload)
        return payload


def _refuse(conn: socket.socket, cap: int) -> None:
    body = f"status server busy: {cap} connections open (its limit)\n".encode()
    head = (
        "HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nRetry-After: 1\r\n\r\n"
    ).encode()
    try:
        conn.settimeout(1.0)
        conn.sendall(head + body)
    except OSError:
        pass
    finally:
        conn.close()


def _cut(sock: socket.socket) -> None:
    """Shut ``sock`` down both ways: a read or write blocked on it returns at once."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _listen(host: str, port: int, allow_remote: bool) -> socket.socket:
    """A listening socket on ``host:port``, refusing a non-loopback ``host``
    unless ``allow_remote``."""
    if not isinstance(host, str) or not host:
        raise ValueError(
            f"host must be a non-empty address such as '127.0.0.1', got {host!r} "
            "(an empty host would listen on every interface)"
        )
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"port must be an int from 0 to 65535 (0: any free port), got {port!r}")
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be from 0 to 65535 (0: any free port), got {port!r}")
    if not isinstance(allow_remote, bool):
        raise TypeError(f"allow_remote must be a bool, got {allow_remote!r}")
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ValueError(f"cannot resolve status server host {host!r}: {exc}") from exc
    addresses = [str(info[4][0]) for info in found]
    remote = [a for a in addresses if not ipaddress.ip_address(a.split("%")[0]).is_loopback]
    if remote and not allow_remote:
        raise ValueError(
            f"refusing to serve status on {host!r}: it is not a loopback address "
            f"({', '.join(remote)}), and the status server has no authentication while it "
            "shows the actor tree, metrics and status changes to anyone who can connect; "
            "bind 127.0.0.1 (the default), or pass allow_remote=True to expose it anyway"
        )
    family, kind, proto, _, address = found[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # (refuses a live listener)
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise OSError(
                errno.EADDRINUSE,
                f"cannot serve status on {host}:{port}: port {port} is already in use "
                "(choose another, or port=0 for any free port)",
            ) from exc
        raise OSError(exc.errno, f"cannot serve status on {host}:{port}: {exc}") from exc
    return sock


def serve_status(
    system: StatusSystem,
    port: int = 0,
    host: str = "127.0.0.1",
    *,
    allow_remote: bool = False,
    max_event_clients: int = DEFAULT_EVENT_CLIENTS,
    event_queue: int = DEFAULT_EVENT_QUEUE,
) -> StatusServer:
    """Serve the status page, ``/service``, ``/metrics`` and ``/events`` over HTTP.

    ``system.serve_status(port=0)`` returns a running `StatusServer` (its
    ``url`` names the port ``port=0`` picked). The server runs on threads of
    its own and stops with the system, or with its ``close``. It has no
    authentication, so it binds only loopback addresses unless
    ``allow_remote=True``. At most ``max_event_clients`` event streams are
    served at once (more get a 503); a client more than ``event_queue``
    events behind is disconnected and its lost events counted as dropped.

    Raises:
        ValueError: If ``host`` is not a loopback address and ``allow_remote``
            is not set, cannot be resolved, or an argument is out of range.
        TypeError: If an argument has the wrong type.
        OSError: If the port is in use (errno EADDRINUSE), naming it.
        ActorSystemClosedError: If the system is shutting down.
    """
    check_positive_int(max_event_clients, "max_event_clients")
    check_positive_int(event_queue, "event_queue")
    listener = _listen(host, port, allow_remote)
    try:
        return StatusServer(system, listener, max_event_clients, event_queue)
    except ActorSystemClosedError:
        listener.close()
        raise
