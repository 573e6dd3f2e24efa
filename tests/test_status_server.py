"""The status server: endpoints, bad input, event streams under load and misuse.

Clients here are plain sockets and urllib on the loopback interface. Waits are
bounded by socket timeouts (`WAIT`); where the only thing to watch is the
server's own counters, `eventually` re-reads them until a deadline.
"""

from __future__ import annotations

import errno
import json
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import WAIT, Latch, LatchedRecorder, assert_clean_shutdown

from backstage_threads import (
    Actor,
    ActorSystem,
    ActorSystemClosedError,
    Application,
    ServiceStatus,
    StatusServer,
)
from backstage_threads.testing import deterministic_system


class Switch(Actor[Any]):
    """Sets its status to each `ServiceStatus` it gets; raises on "boom"."""

    def receive(self, message: Any) -> Any:
        if message == "boom":
            raise RuntimeError("boom")
        if isinstance(message, ServiceStatus):
            self.context.set_status(message)
        elif isinstance(message, int):  # flip the status this many times
            for index in range(message):
                self.context.set_status(
                    ServiceStatus.DEGRADED if index % 2 == 0 else ServiceStatus.RUNNING
                )
        return message


class Tree(Actor[Any]):
    def on_start(self) -> None:
        for name in ("db", "api"):
            self.context.spawn(Switch, name=name)

    def receive(self, message: Any) -> Any:
        return message


def eventually(what: str, check: Callable[[], bool], timeout: float = WAIT) -> None:
    """Re-read ``check`` until it holds, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()  # never set: a bounded pause between two reads
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        pause.wait(0.01)


def get(url: str) -> tuple[int, str, str]:
    """``(status, content type, body)`` of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=WAIT) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers["Content-Type"], exc.read().decode()


class EventStream:
    """A raw-socket client of ``/events`` that parses Server-Sent Events."""

    def __init__(self, port: int, receive_buffer: int | None = None) -> None:
        self.sock = socket.socket()
        if receive_buffer is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(WAIT)
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(b"GET /events HTTP/1.0\r\nAccept: text/event-stream\r\n\r\n")
        self.buffer = b""
        head = self._until(b"\r\n\r\n").decode()
        self.status = int(head.split()[1])
        self.head = head

    def _until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"stream ended; buffered {self.buffer[-200:]!r}")
            self.buffer += chunk
        part, _, self.buffer = self.buffer.partition(marker)
        return part

    def next(self) -> tuple[str, dict[str, Any]]:
        """The next event (comments and the retry hint skipped)."""
        while True:
            block = self._until(b"\n\n").decode()
            fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
            if "event" in fields:
                return fields["event"], json.loads(fields["data"])

    def wait(self, kind: str, match: Callable[[dict[str, Any]], bool] = lambda d: True) -> Any:
        while True:
            event, data = self.next()
            if event == kind and match(data):
                return data

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def served() -> Iterator[tuple[ActorSystem, StatusServer]]:
    system = ActorSystem(workers=2)
    server = system.serve_status()
    try:
        yield system, server
    finally:
        assert_clean_shutdown(system)
        assert server.closed


def test_service_names_every_actor(served: tuple[ActorSystem, StatusServer]) -> None:
    system, server = served
    system.spawn(Tree, name="app").ask("ready", timeout=WAIT)
    system.spawn(Switch, name="solo")
    status, kind, body = get(server.url + "service")
    assert (status, kind) == (200, "application/json")
    tree = json.loads(body)

    def paths(node: dict[str, Any]) -> list[str]:
        return [node["path"], *(p for child in node["children"] for p in paths(child))]

    assert sorted(paths(tree)) == sorted(system._live_paths())
    assert set(paths(tree)) >= {"/user", "/user/app", "/user/app/db", "/user/app/api", "/user/solo"}


def test_metrics_is_prometheus_text_with_exact_counts() -> None:
    system, _, scheduler = deterministic_system(seed=9)
    with system, system.serve_status() as server:
        ref = system.spawn(Switch, name="switch")
        for index in range(100):
            ref.tell(f"m{index}")
        ref.tell("boom")
        scheduler.run_until_idle()
        status, kind, body = get(server.url + "metrics")
    assert status == 200 and kind.startswith("text/plain")
    found = {
        (sample.name, sample.labels.get("path")): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }
    assert found[("backstage_actor_messages_processed_total", "/user/switch")] == 101
    assert found[("backstage_actor_restarts_total", "/user/switch")] == 1
    assert found[("backstage_actor_failures_total", "/user/switch")] == 1
    assert found[("backstage_status_events_dropped_total", None)] == 0


def test_events_deliver_a_status_change(served: tuple[ActorSystem, StatusServer]) -> None:
    system, server = served
    ref = system.spawn(Switch, name="switch")
    ref.ask("ready", timeout=WAIT)
    stream = EventStream(server.port)
    try:
        assert stream.status == 200 and "text/event-stream" in stream.head
        tree = stream.wait("tree")
        assert tree["system"] == system.name
        assert [c["path"] for c in tree["tree"]["children"]] == ["/user/switch"]
        ref.tell(ServiceStatus.DEGRADED)
        change = stream.wait("status", lambda d: d["path"] == "/user/switch")
        assert (change["old"], change["new"]) == ("Running", "Degraded")
        ref.tell("boom")  # restarted: Outage, Starting, Initializing, Running
        assert stream.wait("lifecycle", lambda d: d["event"] == "restarting")["path"] == (
            "/user/switch"
        )
        running = stream.wait("status", lambda d: d["new"] == "Running")
        assert running["restarts"] == 1
    finally:
        stream.close()


def test_unknown_paths_and_methods(served: tuple[ActorSystem, StatusServer]) -> None:
    _, server = served
    status, _, body = get(server.url + "nope?x=1")
    assert status == 404
    assert "'/nope'" in body and "/service" in body and "/events" in body
    request = urllib.request.Request(server.url + "service", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=WAIT)
    with raised.value:
        assert raised.value.code == 501
    status, kind, page = get(server.url)
    assert status == 200 and kind.startswith("text/html")
    assert "EventSource" in page and "http://" not in page and "https://" not in page


def test_a_port_in_use_is_refused_naming_it(served: tuple[ActorSystem, StatusServer]) -> None:
    system, server = served
    with pytest.raises(OSError, match=f"port {server.port} is already in use") as raised:
        system.serve_status(server.port)
    assert raised.value.errno == errno.EADDRINUSE


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "8.8.8.8"])
def test_a_non_loopback_host_needs_allow_remote(
    served: tuple[ActorSystem, StatusServer], host: str
) -> None:
    system, _ = served
    with pytest.raises(ValueError, match="allow_remote=True") as raised:
        system.serve_status(host=host)
    assert repr(host) in str(raised.value) and "no authentication" in str(raised.value)


def test_bad_arguments(served: tuple[ActorSystem, StatusServer]) -> None:
    system, _ = served
    with pytest.raises(ValueError, match="every interface"):
        system.serve_status(host="")
    with pytest.raises(ValueError, match="65535"):
        system.serve_status(70000)
    with pytest.raises(TypeError, match="port must be an int"):
        system.serve_status("8080")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="allow_remote"):
        system.serve_status(allow_remote="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_event_clients"):
        system.serve_status(max_event_clients=0)
    with pytest.raises(ValueError, match="cannot resolve"):
        system.serve_status(host="no-such-host.invalid")


def test_allow_remote_binds_every_interface(served: tuple[ActorSystem, StatusServer]) -> None:
    system, _ = served
    with system.serve_status(host="0.0.0.0", allow_remote=True) as server:
        assert server.host == "0.0.0.0"
        status, _, _ = get(f"http://127.0.0.1:{server.port}/service")  # over loopback only
        assert status == 200


def test_a_client_disconnecting_mid_stream(served: tuple[ActorSystem, StatusServer]) -> None:
    system, server = served
    ref = system.spawn(Switch, name="switch")
    stream = EventStream(server.port)
    stream.wait("tree")
    eventually("the client counted", lambda: server.statistics().event_clients == 1)
    stream.close()
    eventually("the client gone", lambda: server.statistics().event_clients == 0)
    ref.ask(3, timeout=WAIT)  # status changes go on with nobody listening
    again = EventStream(server.port)
    try:
        again.wait("tree")
        ref.tell(ServiceStatus.MAINTENANCE)
        assert again.wait("status", lambda d: d["new"] == "Maintenance")["path"] == "/user/switch"
    finally:
        again.close()


def test_fifty_concurrent_event_clients_and_the_cap() -> None:
    system = ActorSystem(workers=2)
    server = system.serve_status(max_event_clients=50)
    ref = system.spawn(Switch, name="switch")
    streams = [EventStream(server.port) for _ in range(50)]
    try:
        for stream in streams:
            assert stream.status == 200
            stream.wait("tree")
        assert server.statistics().event_clients == 50
        refused = EventStream(server.port)
        assert refused.status == 503
        assert "max_event_clients=50" in refused.buffer.decode() + refused.sock.recv(4096).decode()
        refused.close()
        ref.tell(ServiceStatus.DEGRADED)
        assert ref.ask("still answering", timeout=WAIT) == "still answering"
        for stream in streams:
            assert stream.wait("status", lambda d: d["new"] == "Degraded")["path"] == "/user/switch"
        assert server.statistics().rejected_clients == 1
    finally:
        for stream in streams:
            stream.close()
    eventually("every client gone", lambda: server.statistics().event_clients == 0)
    assert_clean_shutdown(system)


def test_a_slow_client_is_dropped_and_never_blocks_the_system() -> None:
    system = ActorSystem(workers=2)
    server = system.serve_status(event_queue=8)
    ref = system.spawn(Switch, name="switch")
    slow = EventStream(server.port, receive_buffer=4096)  # and it never reads again
    try:
        slow_head = slow.status
        eventually("the slow client counted", lambda: server.statistics().event_clients == 1)
        for _ in range(20):  # 6,000 status changes: far more than the socket buffers hold
            assert ref.ask(300, timeout=WAIT) == 300
        eventually("the slow client dropped", lambda: server.statistics().event_clients == 0)
        stats = server.statistics()
        assert stats.dropped_events >= 1
        _, _, body = get(server.url + "metrics")
        assert "backstage_status_events_dropped_total" in body
    finally:
        slow.close()
    assert slow_head == 200
    assert_clean_shutdown(system)


def test_shutdown_ends_the_streams_and_the_server() -> None:
    system = ActorSystem(workers=2)
    server = system.serve_status()
    system.spawn(Switch, name="switch").ask("ready", timeout=WAIT)
    stream = EventStream(server.port)
    stream.wait("tree")
    assert_clean_shutdown(system)  # the server's threads too
    assert stream.wait("status", lambda d: d["new"] == "Stopped")["path"] in {
        "/user/switch",
        "/user",
    }
    assert stream.wait("shutdown") == {"system": system.name}
    stream.close()
    assert server.closed and "closed" in repr(server)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=WAIT).close()
    with pytest.raises(ActorSystemClosedError):
        system.serve_status()


def test_close_leaves_the_system_running(served: tuple[ActorSystem, StatusServer]) -> None:
    system, _ = served
    other = system.serve_status()
    assert other.close() is True
    assert other.close() is True  # idempotent
    assert system.spawn(Switch).ask("alive", timeout=WAIT) == "alive"


def test_metrics_without_prometheus_client_says_how_to_install(
    served: tuple[ActorSystem, StatusServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, server = served
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    status, _, body = get(server.url + "metrics")
    assert status == 501
    assert "pip install 'backstage_threads[metrics]'" in body


def test_mailbox_depth_reaches_the_stream(served: tuple[ActorSystem, StatusServer]) -> None:
    system, server = served
    latch = Latch()
    log: list[Any] = []
    held = system.spawn(
        lambda: LatchedRecorder(latch, log, threading.Lock()), name="held", pinned=True
    )
    held.tell("first")
    assert latch.entered.wait(WAIT)
    stream = EventStream(server.port)
    try:
        for index in range(3):
            held.tell(index)

        def depth(data: dict[str, Any]) -> bool:
            node = next(c for c in data["tree"]["children"] if c["path"] == "/user/held")
            return bool(node["mailbox_depth"] == 3)

        stream.wait("tree", depth)
    finally:
        stream.close()
        latch.release_and_drain(2)


def test_an_application_can_serve_status() -> None:
    app = Application("shop", serve_status=0)
    app.add("db", Switch)
    app.add("api", Switch, needs=["db"])
    app.start(timeout=WAIT)
    server = app.status_server
    assert server is not None
    try:
        tree = json.loads(get(server.url + "service")[2])
        shop = next(c for c in tree["children"] if c["path"] == "/user/shop")
        assert sorted(c["name"] for c in shop["children"]) == ["api", "db"]
    finally:
        app.stop(timeout=WAIT)
    assert server.closed and app.status_server is None
    with pytest.raises(TypeError, match="serve_status must be a port"):
        Application("x", serve_status="8080")  # type: ignore[arg-type]
