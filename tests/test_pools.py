"""Pools and routing: distribution, asks, broadcast, resizing, failures."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from support import WAIT

from backstage_threads import (
    Actor,
    ActorSystem,
    ConsistentHash,
    Directive,
    LeastLoaded,
    RoundRobin,
    SupervisorStrategy,
    spawn_pool,
)


@pytest.fixture
def system() -> Iterator[ActorSystem]:
    with ActorSystem("pools", workers=2) as s:
        yield s


class Who(Actor[Any]):
    """Replies with its name; records what it handled."""

    def __init__(self, log: list[tuple[str, Any]], lock: threading.Lock) -> None:
        self.log = log
        self.lock = lock

    def receive(self, message: Any) -> Any:
        if message == "boom":
            raise ValueError("boom")
        with self.lock:
            self.log.append((self.context.name, message))
        return self.context.name


def wait_until(done: Any) -> None:
    deadline = time.monotonic() + WAIT
    while not done():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


def test_round_robin_spreads_evenly_and_asks_reply_from_the_routee(system: ActorSystem) -> None:
    log: list[tuple[str, Any]] = []
    pool = spawn_pool(system, Who, log, threading.Lock(), size=4, name="rr")
    names = [pool.ask(i, timeout=WAIT) for i in range(40)]
    assert collections.Counter(names) == {f"routee-{i}": 10 for i in range(4)}
    assert names[:4] == ["routee-0", "routee-1", "routee-2", "routee-3"]
    assert [r.path for r in pool.routees] == [f"/user/rr/routee-{i}" for i in range(4)]


def test_consistent_hash_keeps_a_key_on_one_routee_in_order(system: ActorSystem) -> None:
    log: list[tuple[str, Any]] = []
    routing = ConsistentHash(lambda message: message[0])
    pool = spawn_pool(system, Who, log, threading.Lock(), size=4, routing=routing)
    for n in range(50):
        for key in range(20):
            pool.tell((key, n), timeout=WAIT)
    for routee in pool.routees:
        routee.ask("sync", timeout=WAIT)
    by_key: dict[int, set[str]] = collections.defaultdict(set)
    order: dict[int, list[int]] = collections.defaultdict(list)
    for name, message in log:
        if message != "sync":
            by_key[message[0]].add(name)
            order[message[0]].append(message[1])
    assert all(len(names) == 1 for names in by_key.values())
    assert all(ns == list(range(50)) for ns in order.values())
    assert len({next(iter(n)) for n in by_key.values()}) > 1  # keys spread over routees
    with pytest.raises(TypeError, match="unhashable"):
        pool.tell(([1], 0))


def test_least_loaded_avoids_a_busy_routee(system: ActorSystem) -> None:
    release = threading.Event()
    entered = threading.Event()

    class Slow(Actor[Any]):
        def receive(self, message: Any) -> Any:
            if message == "hold":
                entered.set()
                release.wait(WAIT)
            return self.context.name

    pool = spawn_pool(system, Slow, size=2, routing=LeastLoaded(), pinned=True)
    busy = pool.routees[0]
    busy.tell("hold")
    assert entered.wait(WAIT)
    for _ in range(3):
        busy.tell("queued")  # its mailbox is now deeper than the other's
    assert {pool.ask("x", timeout=WAIT) for _ in range(10)} == {pool.routees[1].name}
    release.set()


def test_broadcast_reaches_every_routee(system: ActorSystem) -> None:
    log: list[tuple[str, Any]] = []
    pool = spawn_pool(system, Who, log, threading.Lock(), size=3)
    assert pool.broadcast("hello") == 3
    for routee in pool.routees:
        routee.ask("sync", timeout=WAIT)
    assert sorted(name for name, m in log if m == "hello") == ["routee-0", "routee-1", "routee-2"]


def test_resize_grows_and_shrinks_without_losing_messages(system: ActorSystem) -> None:
    log: list[tuple[str, Any]] = []
    pool = spawn_pool(system, Who, log, threading.Lock(), size=2, routing=RoundRobin())
    pool.ask(0, timeout=WAIT)
    pool.resize(5, timeout=WAIT)
    assert len(pool.routees) == 5
    retired = pool.routees[1:]
    for n in range(100):
        pool.tell(n, timeout=WAIT)
    pool.resize(1, timeout=WAIT)
    for ref in retired:
        assert ref.wait_stopped(WAIT)
    pool.ask("sync", timeout=WAIT)
    handled = sorted(m for _, m in log if isinstance(m, int))
    assert handled == [0, *range(100)]  # every message sent before the shrink was handled
    assert system.dead_letters.count == 0


def test_a_failing_routee_is_restarted_and_a_stopped_one_leaves(system: ActorSystem) -> None:
    log: list[tuple[str, Any]] = []
    pool = spawn_pool(system, Who, log, threading.Lock(), size=2)
    first = pool.routees[0]
    first.tell("boom")  # the default strategy restarts it: it stays in the pool
    assert first.ask("after", timeout=WAIT) == "routee-0"
    assert len(pool.routees) == 2
    stopping = SupervisorStrategy(lambda error: Directive.STOP)
    pool2 = spawn_pool(system, Who, log, threading.Lock(), size=2, supervisor_strategy=stopping)
    doomed = pool2.routees[0]
    doomed.tell("boom")
    assert doomed.wait_stopped(WAIT)
    wait_until(lambda: pool2.routees == (pool2.routees[0],) and doomed not in pool2.routees)
    assert {pool2.ask(i, timeout=WAIT) for i in range(4)} == {"routee-1"}
    pool2.routees[0].tell("boom")  # the last one: the pool stops with it
    assert pool2.wait_stopped(WAIT)


def test_a_pool_under_an_actor_and_bad_input(system: ActorSystem) -> None:
    class Parent(Actor[Any]):
        def on_start(self) -> None:
            self.pool = spawn_pool(self.context, Who, [], threading.Lock(), size=2, name="p")

        def receive(self, message: Any) -> Any:
            self.pool.tell(message)  # from a worker: never waits
            return self.pool.path

    assert system.spawn(Parent, name="parent").ask("x", timeout=WAIT) == "/user/parent/p"
    with pytest.raises(ValueError, match="pool size"):
        spawn_pool(system, Who, size=0)
    with pytest.raises(
        TypeError, match=r"builtins\.int is a class that does not derive from Actor"
    ):
        spawn_pool(system, int, size=1)
