"""Scoped resources: visibility, start dependencies, subscriptions, links, bad input."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from support import WAIT

from backstage_threads import (
    Actor,
    ActorContext,
    ActorRef,
    ActorSystem,
    Application,
    Directive,
    Dropped,
    LinkAction,
    Published,
    ResourceCycleError,
    ResourceKey,
    ResourceLostError,
    ResourceTimeoutError,
    ServiceStatus,
    SupervisorStrategy,
    Visibility,
)

K: ResourceKey[str] = ResourceKey("k")
N: ResourceKey[int] = ResourceKey("n")


@pytest.fixture
def system() -> Iterator[ActorSystem]:
    with ActorSystem("res", workers=2) as s:
        yield s


def take(q: queue.Queue[Any]) -> Any:
    return q.get(timeout=WAIT)


class Probe(Actor[Any]):
    """Answers ("lookup", key) with its lookup; ("publish", key, value, vis) publishes."""

    def __init__(self, out: queue.Queue[Any] | None = None) -> None:
        self.out = out

    def receive(self, message: Any) -> Any:
        kind = message[0] if isinstance(message, tuple) else None
        if kind == "lookup":
            return self.context.lookup(message[1])
        if kind == "publish":
            return self.context.publish(message[1], message[2], visibility=message[3])
        if kind == "spawn":
            return self.context.spawn(Probe, self.out, name=message[1])
        if kind == "subscribe":
            self.context.subscribe(message[1])
            return None
        if kind == "context":
            return self.context
        if self.out is not None:
            self.out.put(message)
        return None


def test_scope_visibility_sibling_child_and_system(system: ActorSystem) -> None:
    a = system.spawn(Probe, name="a")
    b = system.spawn(Probe, name="b")
    child = a.ask(("spawn", "child"), timeout=WAIT)
    grandchild = child.ask(("spawn", "gc"), timeout=WAIT)
    assert a.ask(("publish", K, "a's", Visibility.SUBTREE), timeout=WAIT) == 1
    assert a.ask(("lookup", K), timeout=WAIT) == "a's"
    assert child.ask(("lookup", K), timeout=WAIT) == "a's"
    assert grandchild.ask(("lookup", K), timeout=WAIT) == "a's"
    assert b.ask(("lookup", K), timeout=WAIT) is None  # a sibling: not in a's subtree
    # The nearest value wins: the child's own shadows a's for its subtree only.
    child.ask(("publish", K, "child's", Visibility.SUBTREE), timeout=WAIT)
    assert grandchild.ask(("lookup", K), timeout=WAIT) == "child's"
    assert a.ask(("lookup", K), timeout=WAIT) == "a's"
    # SIBLINGS: the parent's subtree.
    grandchild.ask(("publish", N, 7, Visibility.SIBLINGS), timeout=WAIT)
    assert child.ask(("lookup", N), timeout=WAIT) == 7
    assert a.ask(("lookup", N), timeout=WAIT) is None
    # SYSTEM: everyone.
    b.ask(("publish", N, 9, Visibility.SYSTEM), timeout=WAIT)
    assert a.ask(("lookup", N), timeout=WAIT) == 9
    assert child.ask(("lookup", N), timeout=WAIT) == 7  # its parent's scope is nearer


def test_a_type_is_its_own_key(system: ActorSystem) -> None:
    class Settings:
        pass

    settings = Settings()
    a = system.spawn(Probe, name="a")
    a.ask(("publish", Settings, settings, Visibility.SYSTEM), timeout=WAIT)
    assert system.spawn(Probe).ask(("lookup", Settings), timeout=WAIT) is settings


class Dependent(Actor[Any]):
    needs = (K,)

    def __init__(self, out: queue.Queue[Any]) -> None:
        self.out = out

    def on_start(self) -> None:
        self.out.put(("started", self.context.name, self.context.lookup(K)))

    def receive(self, message: Any) -> Any:
        self.out.put(("got", self.context.name, message))
        return message


def test_wait_then_start_order_and_messages_wait(system: ActorSystem) -> None:
    out: queue.Queue[Any] = queue.Queue()
    waiting: set[str] = set()
    all_waiting = threading.Event()
    lock = threading.Lock()

    def changed(ref: ActorRef[Any], old: ServiceStatus, new: ServiceStatus) -> None:
        if new is ServiceStatus.INITIALIZING and ref.path.rsplit("/", 1)[-1].startswith("d"):
            with lock:  # (called on both workers at once)
                waiting.add(ref.path)
                if len(waiting) == 20:
                    all_waiting.set()

    subscription = system.subscribe_status(changed)
    dependents = [system.spawn(Dependent, out, name=f"d{i}") for i in range(20)]
    for i, ref in enumerate(dependents):
        ref.tell(i)
    # All 20 wait on the 2 workers (no start order across workers is promised,
    # so the test waits for them rather than assume they started before echo).
    assert all_waiting.wait(WAIT)
    subscription.cancel()
    # Waiting holds no worker: another actor still answers on the 2 workers.
    echo = system.spawn(Probe, name="echo")
    assert echo.ask(("lookup", K), timeout=WAIT) is None
    assert all(ref.status is ServiceStatus.INITIALIZING for ref in dependents)
    assert out.empty()
    echo.ask(("publish", K, "ready", Visibility.SYSTEM), timeout=WAIT)
    seen: dict[str, list[Any]] = {}
    for _ in range(40):
        kind, name, value = take(out)
        seen.setdefault(name, []).append((kind, value))
    for i in range(20):
        # on_start saw the resource, then the message sent before it existed.
        assert seen[f"d{i}"] == [("started", "ready"), ("got", i)]
    assert all(ref.status is ServiceStatus.RUNNING for ref in dependents)


def test_need_in_on_start_defers_the_start(system: ActorSystem) -> None:
    out: queue.Queue[Any] = queue.Queue()

    class Needy(Actor[Any]):
        def on_start(self) -> None:
            out.put("on_start")
            value = self.context.need(N)  # typed: int
            out.put(("value", value + 1))

        def receive(self, message: Any) -> Any:
            return message

    ref = system.spawn(Needy)
    assert take(out) == "on_start"
    assert ref.status is ServiceStatus.INITIALIZING
    system.spawn(Probe).ask(("publish", N, 41, Visibility.SYSTEM), timeout=WAIT)
    assert take(out) == "on_start"
    assert take(out) == ("value", 42)
    assert ref.ask("hi", timeout=WAIT) == "hi"


def test_subscribe_sees_every_version_in_order_then_dropped(system: ActorSystem) -> None:
    out: queue.Queue[Any] = queue.Queue()
    publisher = system.spawn(Probe, name="pub")
    publisher.ask(("publish", N, 0, Visibility.SYSTEM), timeout=WAIT)
    subscriber = system.spawn(Probe, out, name="sub")
    subscriber.ask(("subscribe", N), timeout=WAIT)
    for i in range(1, 200):
        publisher.tell(("publish", N, i, Visibility.SYSTEM))
    publisher.ask(("lookup", N), timeout=WAIT)
    versions = [take(out) for _ in range(200)]
    assert all(isinstance(p, Published) and p.key == N for p in versions)
    assert [p.version for p in versions] == list(range(1, 201))
    assert [p.value for p in versions] == list(range(200))
    assert versions[0].publisher == publisher
    publisher.stop()
    dropped = take(out)
    assert isinstance(dropped, Dropped) and dropped.version == 200
    assert "publisher stopped" in dropped.reason


class Linked(Actor[Any]):
    def __init__(self, out: queue.Queue[Any], **link: Any) -> None:
        self.out = out
        self.link = link

    def on_start(self) -> None:
        self.context.link(K, **self.link)
        self.out.put(("started", self.context.name))

    def on_stop(self) -> None:
        self.out.put(("stopped", self.context.name))

    def receive(self, message: Any) -> Any:
        return message


class Supervisor(Actor[Any]):
    """Spawns what it is told to; records its children's failures and stops them."""

    def __init__(self, failures: queue.Queue[Any]) -> None:
        self.failures = failures
        self.supervisor_strategy = SupervisorStrategy(self._decide)

    def _decide(self, error: Exception) -> Directive:
        self.failures.put(error)
        return Directive.STOP

    def receive(self, message: Any) -> Any:
        factory, args, name = message
        return self.context.spawn(factory, *args, name=name)


def test_link_stops_dependents_when_the_publisher_dies(system: ActorSystem) -> None:
    out: queue.Queue[Any] = queue.Queue()
    publisher = system.spawn(Probe, name="pub")
    publisher.ask(("publish", K, "v1", Visibility.SYSTEM), timeout=WAIT)
    dependents = [system.spawn(Linked, out, name=f"l{i}") for i in range(5)]
    assert sorted(take(out) for _ in range(5)) == [("started", f"l{i}") for i in range(5)]
    publisher.ask(("publish", K, "v2", Visibility.SYSTEM), timeout=WAIT)  # replaced: kept
    assert all(ref.is_alive for ref in dependents)
    publisher.stop()
    for ref in dependents:
        assert ref.wait_stopped(WAIT)
    assert sorted(take(out) for _ in range(5)) == [("stopped", f"l{i}") for i in range(5)]


def test_link_restart_restarts_without_the_supervisor(system: ActorSystem) -> None:
    out: queue.Queue[Any] = queue.Queue()
    failures: queue.Queue[Any] = queue.Queue()
    boss = system.spawn(Supervisor, failures)
    publisher = system.spawn(Probe, name="pub")
    publisher.ask(("publish", K, "v1", Visibility.SYSTEM), timeout=WAIT)
    restarting = boss.ask(
        (lambda: Linked(out, on_replace=LinkAction.RESTART), (), "r"), timeout=WAIT
    )
    assert take(out) == ("started", "r")
    publisher.ask(("publish", K, "v2", Visibility.SYSTEM), timeout=WAIT)
    assert take(out) == ("stopped", "r")  # on_stop of the old incarnation
    assert take(out) == ("started", "r")  # linked again to v2
    assert restarting.ask("ping", timeout=WAIT) == "ping"
    assert failures.empty()  # not a failure: the supervisor never heard of it


def test_link_fail_reports_resource_lost(system: ActorSystem) -> None:
    out: queue.Queue[Any] = queue.Queue()
    failures: queue.Queue[Any] = queue.Queue()
    boss = system.spawn(Supervisor, failures)
    publisher = system.spawn(Probe, name="pub")
    publisher.ask(("publish", K, "v1", Visibility.SYSTEM), timeout=WAIT)
    boss.ask((lambda: Linked(out, on_drop=LinkAction.FAIL), (), "f"), timeout=WAIT)
    assert take(out) == ("started", "f")
    publisher.stop()
    error = take(failures)
    assert isinstance(error, ResourceLostError) and error.key == K
    assert "'k'" in str(error) and "dropped" in str(error) and "/user/" in str(error)


# -- bad input ---------------------------------------------------------------------------


def test_publishing_from_outside_the_actor_is_refused(system: ActorSystem) -> None:
    context: ActorContext = system.spawn(Probe).ask(("context",), timeout=WAIT)
    with pytest.raises(RuntimeError, match=r"publish\('k'\) must be called from /user/"):
        context.publish(K, "x")
    with pytest.raises(RuntimeError, match="own hooks"):
        context.subscribe(K)


def test_bad_keys_and_values_are_refused() -> None:
    resume = SupervisorStrategy(lambda error: Directive.RESUME)
    with ActorSystem("badkeys", workers=1, guardian_strategy=resume) as system:
        ref = system.spawn(Probe)
        _check_bad_keys(lambda message: ref.ask(message, timeout=WAIT))


def _check_bad_keys(ask: Any) -> None:
    with pytest.raises(TypeError, match=r"resource key \['a'\] is unhashable \(list\)"):
        ask(("publish", ["a"], 1, Visibility.SYSTEM))
    with pytest.raises(TypeError, match="a resource key is a ResourceKey or a type, got 'k'"):
        ask(("lookup", "k"))
    with pytest.raises(TypeError, match="visibility must be a Visibility"):
        ask(("publish", K, 1, "system"))
    with pytest.raises(TypeError, match="cannot publish None"):
        ask(("publish", K, None, Visibility.SYSTEM))
    with pytest.raises(ValueError, match="non-empty str"):
        ResourceKey("")


def test_subscribing_twice_is_refused(system: ActorSystem) -> None:
    ref = system.spawn(Probe, name="twice")
    ref.ask(("subscribe", K), timeout=WAIT)
    with pytest.raises(ValueError, match=r"/user/twice already subscribes to resource 'k'"):
        ref.ask(("subscribe", K), timeout=WAIT)


def test_linking_to_a_key_that_never_appears_times_out(system: ActorSystem) -> None:
    out: queue.Queue[Any] = queue.Queue()
    failures: queue.Queue[Any] = queue.Queue()
    boss = system.spawn(Supervisor, failures)
    ref = boss.ask((lambda: Linked(out, timeout=0.05), (), "lonely"), timeout=WAIT)
    error = take(failures)
    assert isinstance(error, ResourceTimeoutError) and error.keys == (K,)
    assert "lonely links to resource 'k', which was not published within 0.05 s" in str(error)
    assert ref.wait_stopped(WAIT)


def test_needs_timeout_fails_naming_the_missing_keys(system: ActorSystem) -> None:
    failures: queue.Queue[Any] = queue.Queue()

    class Impatient(Actor[Any]):
        needs = (K, N)
        needs_timeout = 0.05

    boss = system.spawn(Supervisor, failures)
    system.spawn(Probe).ask(("publish", N, 1, Visibility.SYSTEM), timeout=WAIT)
    ref = boss.ask((Impatient, (), "impatient"), timeout=WAIT)
    error = take(failures)
    assert isinstance(error, ResourceTimeoutError) and error.keys == (K,)
    assert "/impatient needs resource(s) 'k' to start" in str(error)
    assert ref.wait_stopped(WAIT)


def test_a_cycle_of_start_dependencies_fails_at_once_naming_the_path(
    system: ActorSystem,
) -> None:
    failures: queue.Queue[Any] = queue.Queue()

    class A(Actor[Any]):
        needs = (K,)
        provides = (N,)

    class B(Actor[Any]):
        needs = (N,)
        provides = (K,)

    boss = system.spawn(Supervisor, failures)
    a = boss.ask((A, (), "a"), timeout=WAIT)
    b = boss.ask((B, (), "b"), timeout=WAIT)
    errors = [take(failures), take(failures)]
    assert all(isinstance(e, ResourceCycleError) for e in errors)
    text = str(errors[0])
    assert "start dependency cycle" in text
    assert "/a needs 'k'" in text and "/b needs 'n'" in text
    assert set(errors[0].cycle) == {a.path, b.path}
    assert a.wait_stopped(WAIT) and b.wait_stopped(WAIT)


def test_application_components_can_need_a_resource() -> None:
    out: queue.Queue[Any] = queue.Queue()

    class Provider(Actor[Any]):
        def on_start(self) -> None:
            out.put("provider")
            self.context.publish(K, "from provider", visibility=Visibility.SIBLINGS)

    class User(Actor[Any]):
        def on_start(self) -> None:
            out.put(("user", self.context.lookup(K)))

    app = Application("resapp")
    app.add("user", User, needs=[K])  # declared first, started after the resource
    app.add("provider", Provider)
    app.start(WAIT)
    try:
        assert [take(out), take(out)] == ["provider", ("user", "from provider")]
    finally:
        app.stop(WAIT)
