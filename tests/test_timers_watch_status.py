"""Timers, receive timeouts, death watch, service statuses, the status tree and the launcher."""

from __future__ import annotations

import json
import queue
import threading
from typing import Any

import pytest

from backstage_threads import (
    Actor,
    ActorSystem,
    Application,
    ReceiveTimeout,
    ServiceStatus,
    Terminated,
    TimerHandle,
)


class Recorder(Actor[Any]):
    """Forwards everything it receives to a queue the test reads with timeouts."""

    def __init__(self, out: queue.Queue[Any]) -> None:
        self.out = out

    def receive(self, message: Any) -> Any:
        if isinstance(message, tuple) and message[0] == "call":
            return message[1](self.context)
        self.out.put(message)
        return None


def spawn_recorder(system: ActorSystem, name: str = "rec") -> tuple[Any, queue.Queue[Any]]:
    out: queue.Queue[Any] = queue.Queue()
    return system.spawn(lambda: Recorder(out), name=name), out


def test_send_after_and_cancel() -> None:
    with ActorSystem(workers=2) as system:
        ref, out = spawn_recorder(system)
        ref.ask(("call", lambda ctx: ctx.send_after(0.01, "late")), timeout=2)
        cancelled: TimerHandle = ref.ask(
            ("call", lambda ctx: ctx.send_after(0.05, "never")), timeout=2
        )
        cancelled.cancel()
        ref.ask(("call", lambda ctx: ctx.send_after(0.1, "after")), timeout=2)
        assert out.get(timeout=2) == "late"
        assert out.get(timeout=2) == "after"  # "never" would have come before it
        assert not cancelled.active


def test_send_every_repeats_until_cancelled() -> None:
    with ActorSystem(workers=2) as system:
        ref, out = spawn_recorder(system)
        handle = ref.ask(("call", lambda ctx: ctx.send_every(0.005, "tick")), timeout=2)
        assert [out.get(timeout=2) for _ in range(3)] == ["tick"] * 3
        handle.cancel()


def test_timers_are_cancelled_when_the_actor_stops() -> None:
    with ActorSystem(workers=2) as system:
        ref, _ = spawn_recorder(system)
        handle = ref.ask(("call", lambda ctx: ctx.send_every(0.005, "tick")), timeout=2)
        ref.stop()
        assert ref.wait_stopped(timeout=2)
        assert not handle.active


def test_receive_timeout_fires_when_idle() -> None:
    with ActorSystem(workers=2) as system:
        ref, out = spawn_recorder(system)
        ref.ask(("call", lambda ctx: ctx.set_receive_timeout(0.02)), timeout=2)
        message = out.get(timeout=2)
        assert isinstance(message, ReceiveTimeout) and message.idle_for == 0.02
        ref.ask(("call", lambda ctx: ctx.set_receive_timeout(None)), timeout=2)


@pytest.mark.parametrize("bad", [-1, float("nan"), "1"])
def test_timer_validation(bad: Any) -> None:
    with ActorSystem(workers=1) as system:
        ref, _ = spawn_recorder(system)
        with pytest.raises((TypeError, ValueError), match="delay"):
            ref.ask(("call", lambda ctx: ctx.send_after(bad, "x")), timeout=2)
        assert ref.ask(("call", lambda ctx: "still fine"), timeout=2) == "still fine"


def test_death_watch_live_and_already_stopped() -> None:
    with ActorSystem(workers=2) as system:
        watcher, out = spawn_recorder(system, "watcher")
        target, _ = spawn_recorder(system, "target")
        watcher.ask(("call", lambda ctx: ctx.watch(target)), timeout=2)
        target.stop()
        terminated = out.get(timeout=2)
        assert isinstance(terminated, Terminated) and terminated.ref == target
        # Watching an actor that has already stopped delivers Terminated at once.
        watcher.ask(("call", lambda ctx: ctx.watch(target)), timeout=2)
        assert out.get(timeout=2) == terminated


def test_unwatch() -> None:
    with ActorSystem(workers=2) as system:
        watcher, out = spawn_recorder(system, "watcher")
        target, _ = spawn_recorder(system, "target")
        watcher.ask(("call", lambda ctx: ctx.watch(target)), timeout=2)
        watcher.ask(("call", lambda ctx: ctx.unwatch(target)), timeout=2)
        target.ask("sync", timeout=2)  # the unwatch is processed before this ask
        target.stop()
        assert target.wait_stopped(timeout=2)
        watcher.tell("marker")
        assert out.get(timeout=2) == "marker"  # no Terminated came before it


def test_status_tree_text_json_and_subscription() -> None:
    changes: queue.Queue[tuple[str, ServiceStatus]] = queue.Queue()
    with ActorSystem(workers=2) as system:
        system.subscribe_status(lambda ref, old, new: changes.put((ref.path, new)))
        ref, _ = spawn_recorder(system, "svc")
        ref.ask(("call", lambda ctx: ctx.set_status(ServiceStatus.DEGRADED)), timeout=2)
        tree = system.status_tree()
        node = tree.find("/user/svc")
        assert node is not None and node.status is ServiceStatus.DEGRADED
        assert str(tree).splitlines() == [
            "user [Running] mailbox=0",
            "└── svc [Degraded] mailbox=0",
        ]
        data = json.loads(tree.to_json())
        assert data["children"][0]["status"] == "Degraded"
        seen = []
        while True:
            path, status = changes.get(timeout=2)
            if path == "/user/svc":
                seen.append(status)
            if status is ServiceStatus.DEGRADED:
                break
        assert seen == [ServiceStatus.INITIALIZING, ServiceStatus.RUNNING, ServiceStatus.DEGRADED]
        with pytest.raises(ValueError, match="STOPPED"):
            ref.ask(("call", lambda ctx: ctx.set_status(ServiceStatus.STOPPED)), timeout=2)


def _component(name: str, log: list[str], lock: threading.Lock) -> type[Actor[Any]]:
    class Component(Actor[Any]):
        def on_start(self) -> None:
            with lock:
                log.append(f"start {name}")

        def on_stop(self) -> None:
            with lock:
                log.append(f"stop {name}")

        def receive(self, message: Any) -> Any:
            return name

    return Component


def test_application_order_and_reverse_stop() -> None:
    log: list[str] = []
    lock = threading.Lock()
    with ActorSystem(workers=2) as system:
        app = Application("app", system=system)
        app.add("x", _component("x", log, lock), needs=["z"])
        app.add("y", _component("y", log, lock), needs=["z"])
        app.add("z", _component("z", log, lock))
        refs = app.start(timeout=5)
        assert refs["x"].path == "/user/app/x"
        assert refs["y"].ask("who", timeout=2) == "y"
        app.stop(timeout=5)
    # x and y both wait for z only: spawned in that order, their on_start hooks
    # may run at once on two workers, so their start order is not promised.
    assert log[0] == "start z"
    assert sorted(log[1:3]) == ["start x", "start y"]
    assert log[3:] == ["stop y", "stop x", "stop z"]  # stops are one at a time, reversed


def test_application_cycle_and_unknown_name_fail_before_start() -> None:
    log: list[str] = []
    lock = threading.Lock()
    cyclic = Application("cyc")
    cyclic.add("a", _component("a", log, lock), needs=["b"])
    cyclic.add("b", _component("b", log, lock), needs=["a"])
    with pytest.raises(ValueError, match=r"cycle.*a -> b -> a"):
        cyclic.start(timeout=1)
    unknown = Application("unk").add("a", _component("a", log, lock), needs=["ghost"])
    with pytest.raises(ValueError, match="'ghost'"):
        unknown.start(timeout=1)
    assert log == []


def test_application_run_until_request_stop() -> None:
    log: list[str] = []
    lock = threading.Lock()
    app = Application("runner").add("only", _component("only", log, lock))
    thread = threading.Thread(target=app.run, kwargs={"timeout": 5})
    thread.start()
    app.request_stop()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert log == ["start only", "stop only"]


def test_application_with_its_own_system_leaves_no_thread_after_stop() -> None:
    log: list[str] = []
    lock = threading.Lock()
    app = Application("owned").add("only", _component("only", log, lock))
    app.start(timeout=5)
    app.stop(timeout=5)
    assert log == ["start only", "stop only"]
    assert not [t for t in threading.enumerate() if t.name.startswith("owned-")]
