"""The status server's request handler: one request per connection (HTTP/1.0).

``GET /`` the page, ``/service`` the tree, ``/metrics`` Prometheus text (or a
501 saying how to install ``prometheus_client``), ``/events`` the event stream;
other paths get a 404, other methods a 501.

An event stream starts with a ``retry`` hint and a ``tree`` event (the whole
status tree), then sends every ``status`` and ``lifecycle`` event as it
happens and a fresh ``tree`` event at most every `TREE_INTERVAL` seconds when
the tree changed (mailbox depths move without status changes). It ends with a
``shutdown`` event when the server closes. Between events the thread looks
every `POLL` seconds whether the client has gone (a closed connection reads
as end-of-file), so a client that disconnects mid-stream frees its place
within `POLL` seconds even when nothing happens.
"""

from __future__ import annotations

import selectors
import socket
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from importlib import resources
from typing import TYPE_CHECKING, Any, Protocol, cast

from loguru import logger

from ._prometheus import INSTALL_HINT, MetricsSource, exposition
from ._status_events import EventHub, HubFullError, frame
from ._version import __version__

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ._status import StatusNode
    from ._status_events import EventClient

__all__ = ["REQUEST_TIMEOUT", "StatusApp", "StatusHandler", "load_page"]

#: Seconds a client may take to send its request or to take a write.
REQUEST_TIMEOUT = 10.0

#: Seconds between checks that an idle event-stream client is still there.
POLL = 0.5
#: Least seconds between two ``tree`` events on one stream.
TREE_INTERVAL = 1.0
#: Seconds of silence after which a stream sends a comment line (keeps proxies open).
KEEPALIVE = 15.0
#: The kernel's send buffer for an event stream (bytes): what a client that
#: stops reading can leave unsent before its queue fills and it is dropped.
STREAM_SEND_BUFFER = 64 * 1024

_ENDPOINTS = "/ (the status page), /service, /metrics, /events"
# The page loads nothing from anywhere, and this says so to the browser too.
_PAGE_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src data:"
)


class ServedSystem(MetricsSource, Protocol):
    """What the handler reads of the system."""

    def status_tree(self) -> StatusNode: ...


class ServerCounters(Protocol):
    """The counters ``/metrics`` reports of the server itself."""

    @property
    def event_clients(self) -> int: ...
    @property
    def dropped_events(self) -> int: ...
    @property
    def rejected_clients(self) -> int: ...


class StatusApp(Protocol):
    """What the handler needs of its server (`StatusServer` provides it)."""

    @property
    def system(self) -> ServedSystem: ...
    @property
    def page(self) -> bytes: ...
    @property
    def hub(self) -> EventHub: ...
    def statistics(self) -> ServerCounters: ...
    def tree_frame(self, max_age: float) -> bytes: ...


def load_page() -> bytes:
    """The status page: one self-contained HTML file shipped in the package."""
    return resources.files(__package__).joinpath("_status_page.html").read_bytes()


class StatusHandler(BaseHTTPRequestHandler):
    """Answers one request for a `StatusServer` (constructing it handles it)."""

    protocol_version = "HTTP/1.0"
    server_version = f"backstage_threads/{__version__}"
    timeout = REQUEST_TIMEOUT

    def __init__(self, conn: socket.socket, address: Any, app: StatusApp) -> None:
        self.app = app
        # The socketserver "server" is not used by this handler.
        super().__init__(conn, address, cast(Any, None))

    def do_GET(self) -> None:
        path = self.path.partition("?")[0]
        try:
            if path in ("/", "/index.html"):
                self._send(
                    HTTPStatus.OK,
                    self.app.page,
                    "text/html; charset=utf-8",
                    {"Content-Security-Policy": _PAGE_POLICY},
                )
            elif path == "/service":
                tree = self.app.system.status_tree().to_json(indent=None)
                self._send(HTTPStatus.OK, tree.encode(), "application/json")
            elif path == "/metrics":
                self._metrics()
            elif path == "/events":
                self._events()
            else:
                self._text(HTTPStatus.NOT_FOUND, f"no such path {path!r}; try {_ENDPOINTS}")
        except OSError:
            raise  # the client went away: nothing to answer
        except Exception as exc:  # noqa: BLE001 - reported to the client and the log
            logger.opt(exception=True).error("status server: {} failed", path)
            self._text(HTTPStatus.INTERNAL_SERVER_ERROR, f"{path} failed: {exc!r}")

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("status server, {}: {}", self.address_string(), format % args)

    # -- endpoints -----------------------------------------------------------------------

    def _metrics(self) -> None:
        try:
            body, content_type = exposition(self.app.system, self._server_families)
        except ImportError:
            self._text(HTTPStatus.NOT_IMPLEMENTED, INSTALL_HINT)
            return
        self._send(HTTPStatus.OK, body, content_type)

    def _server_families(self, core: Any) -> Iterable[Any]:
        stats = self.app.statistics()
        labels = [self.app.system.name]
        clients = core.GaugeMetricFamily(
            "backstage_status_event_clients", "Open event streams", labels=["system"]
        )
        clients.add_metric(labels, stats.event_clients)
        dropped = core.CounterMetricFamily(
            "backstage_status_events_dropped",
            "Events not delivered to clients that read too slowly",
            labels=["system"],
        )
        dropped.add_metric(labels, stats.dropped_events)
        rejected = core.CounterMetricFamily(
            "backstage_status_clients_rejected",
            "Connections turned away over a cap",
            labels=["system"],
        )
        rejected.add_metric(labels, stats.rejected_clients)
        return (clients, dropped, rejected)

    def _events(self) -> None:
        sock = self.connection
        hub = self.app.hub
        try:
            client = hub.join(lambda: _shut(sock))
        except HubFullError as exc:
            self._text(HTTPStatus.SERVICE_UNAVAILABLE, str(exc), {"Retry-After": "1"})
            return
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, STREAM_SEND_BUFFER)
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self._stream(client)
        except OSError:
            pass  # the client went away (or was cut off for reading too slowly)
        finally:
            hub.leave(client)

    def _stream(self, client: EventClient) -> None:
        hub = self.app.hub
        tree = self.app.tree_frame(TREE_INTERVAL / 2)
        self._write(b"retry: 1000\n\n" + tree)
        next_tree = last_write = time.monotonic()
        next_tree += TREE_INTERVAL
        with selectors.DefaultSelector() as selector:
            selector.register(self.connection, selectors.EVENT_READ)
            while True:
                frames, go_on = hub.take(client, POLL)
                if client.overflowed:
                    return  # already cut off: nothing more can be sent
                now = time.monotonic()
                if now >= next_tree:
                    fresh = self.app.tree_frame(TREE_INTERVAL / 2)
                    if fresh != tree:
                        tree = fresh
                        frames.append(fresh)
                    next_tree = now + TREE_INTERVAL
                if not go_on:
                    frames.append(frame("shutdown", {"system": self.app.system.name}))
                if frames:
                    self._write(b"".join(frames))
                    last_write = now
                elif now - last_write >= KEEPALIVE:
                    self._write(b": keepalive\n\n")
                    last_write = now
                if not go_on or _gone(self.connection, selector):
                    return

    # -- writing -------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()

    def _text(self, status: HTTPStatus, text: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, (text + "\n").encode(), "text/plain; charset=utf-8", headers)

    def _send(
        self,
        status: HTTPStatus,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self._write(body)


def _gone(sock: socket.socket, selector: selectors.BaseSelector) -> bool:
    """True when the client has closed its side (a readable socket with no data)."""
    if not selector.select(0):
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
