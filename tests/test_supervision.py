"""Supervision directives, scopes, intensity limits, backoff, Need advice, escalation."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from support import WAIT, assert_clean_shutdown, thread_exceptions

from backstage_threads import (
    Actor,
    ActorRef,
    ActorStoppedError,
    ActorSystem,
    Directive,
    Need,
    RestartAfter,
    Scope,
    ServiceStatus,
    SupervisorStrategy,
)


class Log:
    """A thread-safe event log shared by the actors of one test."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[tuple[str, str]] = []

    def add(self, kind: str, who: str) -> None:
        with self._lock:
            self.events.append((kind, who))

    def count(self, kind: str, who: str) -> int:
        with self._lock:
            return self.events.count((kind, who))


class Worker(Actor[Any]):
    def __init__(self, log: Log) -> None:
        self.log = log
        self.seen = 0

    def on_start(self) -> None:
        self.log.add("start", self.context.name)

    def on_stop(self) -> None:
        self.log.add("stop", self.context.name)

    def receive(self, message: Any) -> Any:
        if isinstance(message, Exception):
            raise message
        self.seen += 1
        return (self.context.name, self.seen)


def make_supervisor(strategy: SupervisorStrategy, log: Log, names: str = "abc") -> type[Actor[Any]]:
    class Supervisor(Actor[Any]):
        supervisor_strategy = strategy

        def on_start(self) -> None:
            for name in names:
                self.context.spawn(lambda: Worker(log), name=name)

        def receive(self, message: Any) -> Any:
            return [child.name for child in self.context.children]

    return Supervisor


def start(system: ActorSystem, strategy: SupervisorStrategy, log: Log) -> dict[str, ActorRef[Any]]:
    sup = system.spawn(make_supervisor(strategy, log), name="sup")
    assert sup.ask("children?", timeout=2) == ["a", "b", "c"]
    refs = {}
    for name in "abc":
        ref = system.lookup(f"/user/sup/{name}")
        assert ref is not None
        refs[name] = ref
    return refs


def test_resume_keeps_state() -> None:
    log = Log()
    with ActorSystem(workers=2) as system:
        refs = start(system, SupervisorStrategy(lambda e: Directive.RESUME), log)
        assert refs["a"].ask("x", timeout=2) == ("a", 1)
        with pytest.raises(ValueError, match="bad"):
            refs["a"].ask(ValueError("bad"), timeout=2)
        assert refs["a"].ask("x", timeout=2) == ("a", 2)  # state kept
        assert log.count("start", "a") == 1


def test_restart_one_for_one_resets_state_and_keeps_mailbox() -> None:
    log = Log()
    with ActorSystem(workers=2) as system:
        refs = start(system, SupervisorStrategy(), log)
        refs["a"].tell("x")
        refs["a"].tell(ValueError("bad"))
        for _ in range(3):
            refs["a"].tell("queued")
        assert refs["a"].ask("x", timeout=2) == ("a", 4)  # 3 queued + this, new instance
        assert log.count("start", "a") == 2
        assert log.count("stop", "a") == 1
        assert log.count("start", "b") == 1  # siblings untouched
        failed = [d for d in system.dead_letters.recent() if d.reason.startswith("failed")]
        assert len(failed) == 1 and isinstance(failed[0].message, ValueError)


@pytest.mark.parametrize(
    ("scope", "restarted"),
    [(Scope.ONE_FOR_ALL, "abc"), (Scope.REST_FOR_ONE, "bc"), (Scope.ONE_FOR_ONE, "b")],
)
def test_scopes(scope: Scope, restarted: str) -> None:
    log = Log()
    with ActorSystem(workers=2) as system:
        refs = start(system, SupervisorStrategy(scope=scope), log)
        with pytest.raises(ValueError):
            refs["b"].ask(ValueError("bad"), timeout=2)
        sup = system.lookup("/user/sup")
        assert sup is not None
        sup.ask("children?", timeout=2)  # the decision is taken before this reply
        for name in "abc":
            refs[name].ask("sync", timeout=2)
        for name in "abc":
            assert log.count("start", name) == (2 if name in restarted else 1), name


def test_stop_directive_dead_letters_the_rest() -> None:
    log = Log()
    with ActorSystem(workers=2) as system:
        refs = start(system, SupervisorStrategy(lambda e: Directive.STOP), log)
        refs["a"].tell(ValueError("bad"))
        assert refs["a"].wait_stopped(timeout=2)
        with pytest.raises(ActorStoppedError):
            refs["a"].ask("x", timeout=2)
        assert refs["b"].ask("x", timeout=2) == ("b", 1)


def test_intensity_limit_escalates_to_the_top_and_stops_the_system() -> None:
    log = Log()
    strategy = SupervisorStrategy(max_restarts=2, within=60.0)

    class Top(Actor[Any]):
        supervisor_strategy = SupervisorStrategy(lambda e: Directive.ESCALATE)

        def on_start(self) -> None:
            self.context.spawn(make_supervisor(strategy, log), name="sup")

        def receive(self, message: Any) -> Any:
            return None

    # The guardian escalates too, so the failure reaches the top.
    escalate = SupervisorStrategy(lambda e: Directive.ESCALATE)
    system = ActorSystem(workers=2, guardian_strategy=escalate)
    with thread_exceptions() as reported:
        top = system.spawn(Top, name="top")
        top.ask("sync", timeout=2)
        sup = system.lookup("/user/top/sup")
        assert sup is not None
        assert sup.ask("children?", timeout=2) == ["a", "b", "c"]
        a = system.lookup("/user/top/sup/a")
        assert a is not None
        for _ in range(3):
            a.tell(ValueError("again"))
        assert system.wait_terminated(timeout=5)
        assert system.failure is not None
        cause = system.failure.error
        while cause.__cause__ is not None:
            cause = cause.__cause__  # type: ignore[assignment]
        assert isinstance(cause, ValueError)
        assert log.count("start", "a") == 3  # first start + 2 restarts, then escalation
    assert_clean_shutdown(system)
    # Regression: the stop was silent with logging off. It is reported like an
    # uncaught exception in a thread, naming the actor that failed first.
    assert len(reported) == 1
    assert "/user/top/sup/a failed with ValueError('again')" in str(reported[0])
    assert reported[0].__cause__ is system.failure.error


def test_need_advice_restart_after_backoff() -> None:
    log = Log()
    with ActorSystem(workers=2) as system:
        refs = start(system, SupervisorStrategy(), log)
        with pytest.raises(Need):
            refs["a"].ask(Need(RestartAfter(0.01, jitter=0.0)), timeout=2)
        assert refs["a"].ask("x", timeout=5) == ("a", 1)
        assert log.count("start", "a") == 2


def test_restart_after_backoff_grows() -> None:
    policy = RestartAfter(0.1, max_delay=0.5, factor=2.0, jitter=0.0)
    assert [policy.backoff(n) for n in range(4)] == [0.1, 0.2, 0.4, 0.5]
    jittered = RestartAfter(1.0, jitter=0.2)
    assert all(0.8 <= jittered.backoff(0) <= 1.2 for _ in range(100))


def test_keep_instance_on_restart() -> None:
    class Keeper(Actor[Any]):
        keep_instance_on_restart = True

        def on_start(self) -> None:
            self.starts = getattr(self, "starts", 0) + 1

        def receive(self, message: Any) -> Any:
            if message == "boom":
                raise RuntimeError("boom")
            return self.starts

    with ActorSystem(workers=2) as system:
        ref = system.spawn(Keeper)
        assert ref.ask("n", timeout=2) == 1
        ref.tell("boom")
        assert ref.ask("n", timeout=2) == 2  # same object, on_start ran again


def test_keep_instance_stopped_mid_restart_runs_on_stop_once() -> None:
    # The restart ran on_stop for the old incarnation and waits for a slow child;
    # a stop arriving then must not run on_stop on the kept instance again.
    child_stopping = threading.Event()
    let_child_stop = threading.Event()

    class SlowToStop(Actor[Any]):
        def receive(self, message: Any) -> Any:
            return message

        def on_stop(self) -> None:
            child_stopping.set()
            let_child_stop.wait(WAIT)

    class Keeper(Actor[Any]):
        keep_instance_on_restart = True

        def __init__(self) -> None:
            self.stops = 0

        def on_start(self) -> None:
            self.context.spawn(SlowToStop, name="slow", pinned=True)

        def receive(self, message: Any) -> Any:
            if message == "boom":
                raise RuntimeError("boom")
            return None

        def on_stop(self) -> None:
            self.stops += 1
            stops.append(self.stops)

    stops: list[int] = []
    with ActorSystem(workers=2) as system:
        ref = system.spawn(Keeper)
        ref.tell("boom")  # the default strategy restarts it
        assert child_stopping.wait(WAIT)  # restarting: on_stop ran, the child is stopping
        ref.stop()
        let_child_stop.set()
        assert ref.wait_stopped(WAIT)
    assert stops == [1]


@pytest.mark.parametrize(
    ("kwargs", "bad"),
    [
        ({"max_restarts": -1}, "-1"),
        ({"within": 0}, "0"),
        ({"scope": "one_for_all"}, "'one_for_all'"),
        ({"decider": 42}, "42"),
    ],
)
def test_strategy_validation(kwargs: dict[str, Any], bad: str) -> None:
    with pytest.raises((TypeError, ValueError), match=bad):
        SupervisorStrategy(**kwargs)


def test_two_thousand_children_start_and_stop() -> None:
    started = Log()

    class Child(Actor[Any]):
        def receive(self, message: Any) -> Any:
            return self.context.name

    class Root(Actor[Any]):
        def on_start(self) -> None:
            for i in range(2000):
                self.context.spawn(Child, name=f"c{i}", capacity=4)

        def receive(self, message: Any) -> Any:
            return len(self.context.children)

    with ActorSystem(workers=2) as system:
        root = system.spawn(Root, name="root")
        assert root.ask("n", timeout=10) == 2000
        assert system.lookup("/user/root/c1999") is not None
        root.stop()
        assert root.wait_stopped(timeout=30)
        assert system.lookup("/user/root/c0") is None
    assert started.events == []


def test_binary_tree_depth_10_cascades() -> None:
    stops = Log()
    leaf_path = "/user/tree" + "/l" * 10
    leaf_started = threading.Event()

    class Node(Actor[Any]):
        def __init__(self, depth: int) -> None:
            self.depth = depth

        def on_start(self) -> None:
            if self.context.path == leaf_path:
                leaf_started.set()
            if self.depth < 10:
                for side in "lr":
                    self.context.spawn(lambda: Node(self.depth + 1), name=side, capacity=4)

        def on_stop(self) -> None:
            stops.add("stop", self.context.path)

        def receive(self, message: Any) -> Any:
            return self.depth

    with ActorSystem(workers=2) as system:
        root = system.spawn(lambda: Node(0), name="tree")
        assert leaf_started.wait(timeout=30)
        leaf = system.lookup(leaf_path)
        assert leaf is not None
        assert leaf.ask("depth", timeout=5) == 10
        leaf.stop()
        assert leaf.wait_stopped(timeout=5)
        root.stop()
        assert root.wait_stopped(timeout=30)
    paths = [p for _, p in stops.events]
    assert len(paths) == 2047
    position = {p: i for i, p in enumerate(paths)}
    for p in paths:  # every child stopped before its parent
        parent = p.rsplit("/", 1)[0]
        if parent in position:
            assert position[p] < position[parent]


def test_on_stop_failure_reaches_the_supervisor() -> None:
    seen: list[str] = []
    lock = threading.Lock()

    def decider(error: Exception) -> Directive:
        with lock:
            seen.append(str(error))
        return Directive.RESTART

    class Fragile(Actor[Any]):
        def on_stop(self) -> None:
            raise OSError("cannot close")

        def receive(self, message: Any) -> Any:
            return message

    class Sup(Actor[Any]):
        supervisor_strategy = SupervisorStrategy(decider)

        def on_start(self) -> None:
            self.child = self.context.spawn(Fragile, name="fragile")

        def receive(self, message: Any) -> Any:
            self.context.stop(self.child)
            return None

    with ActorSystem(workers=2) as system:
        sup = system.spawn(Sup, name="sup")
        sup.ask("stop it", timeout=2)
        child = system.lookup("/user/sup/fragile")
        if child is not None:
            assert child.wait_stopped(timeout=2)
        assert sup.ask("again", timeout=2) is None  # the decision was taken in a turn before
    assert seen == ["cannot close"]


def test_parent_stop_gives_up_on_a_stuck_child_and_reports_it() -> None:
    release = threading.Event()
    inside = threading.Event()

    class Stuck(Actor[Any]):
        def receive(self, message: Any) -> Any:
            inside.set()
            release.wait(timeout=30)

    class Parent(Actor[Any]):
        def on_start(self) -> None:
            self.context.spawn(Stuck, name="stuck", pinned=True)

        def receive(self, message: Any) -> Any:
            return None

    with ActorSystem(workers=2, child_stop_timeout=0.05) as system:
        parent = system.spawn(Parent, name="parent")
        parent.ask("sync", timeout=2)
        stuck = system.lookup("/user/parent/stuck")
        assert stuck is not None
        stuck.tell("block")
        assert inside.wait(timeout=5)
        parent.stop()
        assert parent.wait_stopped(timeout=5)
        assert system.stragglers == ("/user/parent/stuck",)
        with pytest.raises(AttributeError):
            setattr(system, "stragglers", ())  # read-only
        release.set()
        assert stuck.wait_stopped(timeout=5)


def test_derived_status() -> None:
    class Member(Actor[Any]):
        def receive(self, message: Any) -> Any:
            self.context.set_status(message)

    class Cluster(Actor[Any]):
        def on_start(self) -> None:
            for name in "ab":
                self.context.spawn(Member, name=name)

        def derive_status(self, children: Any) -> Any:
            if any(s is ServiceStatus.OUTAGE for s in children.values()):
                return ServiceStatus.DEGRADED
            return ServiceStatus.RUNNING

        def receive(self, message: Any) -> Any:
            return self.context.status

    with ActorSystem(workers=2) as system:
        cluster = system.spawn(Cluster, name="cluster")
        cluster.ask("sync", timeout=2)
        member = system.lookup("/user/cluster/a")
        assert member is not None
        member.ask(ServiceStatus.OUTAGE, timeout=2)
        assert cluster.ask("status", timeout=2) is ServiceStatus.DEGRADED
        member.ask(ServiceStatus.RUNNING, timeout=2)
        assert cluster.ask("status", timeout=2) is ServiceStatus.RUNNING


def test_a_muted_supervisor_still_handles_its_childs_failure() -> None:
    # The parent spills into a full child and is muted; the child fails on the
    # first message. The parent must still get the failure (a system message),
    # restart the child, and drain: no deadlock, even on one worker.
    class Child(Actor[Any]):
        def receive(self, message: Any) -> Any:
            if message == 0:
                raise ValueError("boom")

    class Parent(Actor[Any]):
        def on_start(self) -> None:
            self.child = self.context.spawn(Child, name="child", capacity=1)

        def receive(self, message: Any) -> Any:
            if message == "go":
                for i in range(5):
                    self.child.tell(i)
            return "pong"

    with ActorSystem("muted", workers=1) as system:
        parent = system.spawn(Parent, name="parent")
        parent.tell("go")
        assert parent.ask("ping", timeout=5) == "pong"
        child = system.lookup("/user/parent/child")
        assert child is not None
        assert child.ask("flush", timeout=5) is None
        assert system.dead_letters.count == 1  # only the failed message
