"""The actor tree guarded cell by cell: spawns, stops, names and walks that race.

Each cell's ``_guard`` replaced one lock per system (taken by every spawn and
every stop); these tests race what that lock used to order.
"""

from __future__ import annotations

import threading
from typing import Any

from support import WAIT

from backstage_threads import (
    Actor,
    ActorRef,
    ActorStoppedError,
    ActorSystem,
    ActorSystemClosedError,
)
from backstage_threads._counter import ShardedCounter

THREADS = 4


class Spawner(Actor[Any]):
    """Spawns ``n`` unnamed children when told ``n``; replies with their names."""

    def receive(self, message: Any) -> Any:
        return [self.context.spawn(Idle).name for _ in range(message)]


class Idle(Actor[Any]):
    def receive(self, message: Any) -> Any:
        return message


def _run_together(target: Any, count: int = THREADS) -> list[BaseException]:
    """Run ``target(i)`` on ``count`` threads released at once; their errors."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait(WAIT)
        try:
            target(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert not any(t.is_alive() for t in threads)
    return errors


def test_generated_names_are_numbered_per_parent_and_never_repeat() -> None:
    with ActorSystem("names", workers=2) as system:
        parents = [system.spawn(Spawner, name=f"p{i}") for i in range(THREADS)]
        names: dict[int, list[str]] = {}

        def spawn_many(i: int) -> None:
            names[i] = [n for _ in range(5) for n in parents[i].ask(20, timeout=WAIT)]

        assert _run_together(spawn_many) == []
        for i in range(THREADS):
            assert names[i] == [f"${k}" for k in range(1, 101)]
        # A stopped child's generated name is not given again.
        child = system.lookup("/user/p0/$1")
        assert child is not None
        child.stop()
        assert child.wait_stopped(WAIT)
        assert parents[0].ask(1, timeout=WAIT) == ["$101"]


def test_the_spawn_count_is_exact_when_many_threads_spawn() -> None:
    each = 300
    with ActorSystem("count", workers=2) as system:

        def spawn(i: int) -> None:
            for _ in range(each):
                system.spawn(Idle)

        assert _run_together(spawn) == []
        metrics = system.metrics()
        assert metrics.spawned == THREADS * each
        assert len(system.status_tree().children) == THREADS * each


def test_a_sharded_counter_loses_no_add() -> None:
    counter = ShardedCounter()
    each = 20_000

    def add(i: int) -> None:
        for _ in range(each):
            counter.add()

    assert _run_together(add, 8) == []
    assert counter.value == 8 * each


def test_spawns_racing_a_shutdown_either_start_and_stop_or_are_refused() -> None:
    # The root's stop and a spawn under it exclude each other on the root's guard:
    # a spawn that gets a ref has an actor the shutdown stops; the others raise.
    for _ in range(5):
        system = ActorSystem("race", workers=2)
        refs: list[ActorRef[Any]] = []
        lock = threading.Lock()
        started = threading.Event()

        def spawn(i: int, system: ActorSystem = system) -> None:
            if i == 0:
                started.wait(WAIT)
                system.shutdown(WAIT)
                return
            while True:
                try:
                    ref = system.spawn(Idle)
                except (ActorSystemClosedError, ActorStoppedError):
                    return
                with lock:
                    refs.append(ref)
                started.set()

        assert _run_together(spawn) == []
        report = system.shutdown(WAIT)
        assert report.clean, report
        assert refs and all(not ref.is_alive for ref in refs)
        assert system.status_tree().children == ()


def test_walks_while_the_tree_changes_never_fail() -> None:
    # status_tree(), metrics() and lookup() read each node's children under its
    # guard while other threads spawn and stop actors under the same parents.
    with ActorSystem("walks", workers=2) as system:
        parents = [system.spawn(Spawner, name=f"p{i}") for i in range(2)]
        done = threading.Event()

        def churn(i: int) -> None:
            if i < 2:
                for _ in range(30):
                    parents[i].ask(10, timeout=WAIT)
                    for child in system.status_tree().find(f"/user/p{i}").children:  # type: ignore[union-attr]
                        ref = system.lookup(child.path)
                        if ref is not None:
                            ref.stop()
                done.set()
                return
            while not done.is_set():
                tree = system.status_tree()
                assert {n.name for n in tree.children} == {"p0", "p1"}
                system.metrics()
                system.lookup("/user/p0/$1")

        assert _run_together(churn) == []
