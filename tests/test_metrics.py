"""`system.metrics()`: exact counts for scripted workloads, and the Prometheus collector.

Exact counts come from a deterministic system (every turn runs to its end on
the test's thread) or are read after ``shutdown`` (every worker joined, so
every turn has added its messages).
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from support import WAIT, assert_clean_shutdown

from backstage_threads import (
    Actor,
    ActorSystem,
    AsyncActor,
    DurationHistogram,
    Overflow,
    ServiceStatus,
    SystemMetrics,
    register_metrics,
)
from backstage_threads._metrics import BUCKETS, bucket_of
from backstage_threads.testing import deterministic_system


class Worker(Actor[Any]):
    """Replies with what it gets; raises on "boom"; sets its status on request."""

    def receive(self, message: Any) -> Any:
        if message == "boom":
            raise ValueError("boom")
        if isinstance(message, ServiceStatus):
            self.context.set_status(message)
        return message


class Parent(Actor[int]):
    def receive(self, message: int) -> None:
        for index in range(message):
            self.context.spawn(Worker, name=f"child-{index}")


class AsyncWorker(AsyncActor[int]):
    async def receive(self, message: int) -> int:
        return message * 2


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus text exposition, by (name, labels)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def test_counts_are_exact_for_a_scripted_workload() -> None:
    system, _, scheduler = deterministic_system(seed=3)
    with system:
        ref = system.spawn(Worker, name="worker")
        for index in range(100):
            ref.tell(index)
        scheduler.run_until_idle()
        worker = system.metrics().actor("/user/worker")
        assert worker is not None
        assert (worker.processed, worker.restarts, worker.failures) == (100, 0, 0)
        assert worker.actor_class == f"{__name__}.Worker"
        assert dict(worker.dead_letters) == {}

        ref.tell("boom")  # fails; the default strategy restarts it
        scheduler.run_until_idle()
        metrics = system.metrics()
        worker = metrics.actor("/user/worker")
        assert worker is not None
        assert (worker.processed, worker.restarts, worker.failures) == (101, 1, 1)
        assert dict(worker.dead_letters) == {"failed": 1}
        assert dict(metrics.dead_letters) == {"failed": 1}
        assert (metrics.spawned, metrics.stopped) == (1, 0)
        by_class = metrics.actor_class("Worker")
        assert by_class is not None
        assert (by_class.actors, by_class.processed, by_class.restarts) == (1, 101, 1)

        ref.stop()
        scheduler.run_until_idle()
        ref.tell("late")  # to a stopped actor: counted for its class
        metrics = system.metrics()
        assert metrics.actor("/user/worker") is None
        assert (metrics.spawned, metrics.stopped) == (1, 1)
        by_class = metrics.actor_class(f"{__name__}.Worker")
        assert by_class is not None
        assert (by_class.actors, by_class.processed, by_class.restarts, by_class.failures) == (
            0,
            101,
            1,
            1,
        )
        assert dict(by_class.dead_letters) == {"failed": 1, "actor stopped": 1}


def test_dead_letters_are_counted_by_reason() -> None:
    system, _, scheduler = deterministic_system(seed=5)
    with system:
        ref = system.spawn(Worker, name="small", capacity=2, overflow=Overflow.DROP_NEWEST)
        scheduler.run_until_idle()
        for index in range(5):  # nothing runs meanwhile: two fit, three are dropped
            ref.tell(index)
        small = system.metrics().actor("/user/small")
        assert small is not None
        assert small.mailbox_depth == 2
        assert dict(small.dead_letters) == {"mailbox full (DROP_NEWEST)": 3}
        scheduler.run_until_idle()
        small = system.metrics().actor("/user/small")
        assert small is not None
        assert (small.mailbox_depth, small.processed) == (0, 2)
        assert system.dead_letters.count == sum(system.metrics().dead_letters.values()) == 3


def test_spawns_stops_and_the_tree_order() -> None:
    system, _, scheduler = deterministic_system(seed=11)
    with system:
        parent = system.spawn(Parent, name="parent")
        parent.tell(10)
        scheduler.run_until_idle()
        metrics = system.metrics()
        paths = [actor.path for actor in metrics.actors]
        assert paths == ["/user", "/user/parent", *(f"/user/parent/child-{i}" for i in range(10))]
        assert (metrics.spawned, metrics.stopped) == (11, 0)
        workers = metrics.actor_class("Worker")
        assert workers is not None and workers.actors == 10
        parent.stop()
        scheduler.run_until_idle()
        metrics = system.metrics()
        assert (metrics.spawned, metrics.stopped) == (11, 11)
        assert [actor.path for actor in metrics.actors] == ["/user"]


def test_threaded_counts_are_exact_once_the_workers_have_stopped() -> None:
    system = ActorSystem(workers=2)
    refs = [system.spawn(Worker, name=f"w{i}") for i in range(4)]
    pinned = system.spawn(Worker, name="pinned", pinned=True)
    loop = system.spawn(AsyncWorker, name="async")
    for round_ in range(750):
        for ref in refs:
            assert ref.ask(round_, timeout=WAIT) == round_
    for index in range(20):
        assert pinned.ask(index, timeout=WAIT) == index
        assert loop.ask(index, timeout=WAIT) == index * 2
    assert_clean_shutdown(system)
    metrics = system.metrics()
    workers = metrics.actor_class("Worker")
    assert workers is not None
    assert (workers.processed, workers.failures, workers.actors) == (3020, 0, 0)
    async_workers = metrics.actor_class("AsyncWorker")
    assert async_workers is not None and async_workers.processed == 20
    # One pooled turn in 256 per worker is timed, and every pinned turn after
    # its first: the pinned actor alone gives 19 samples or more.
    histogram = workers.receive_duration
    assert histogram.count >= 19
    assert sum(histogram.counts) == histogram.count
    assert histogram.sum > 0
    assert async_workers.receive_duration.count == 0  # loop turns are not timed
    assert sum(w.turns for w in metrics.workers) >= 3000
    assert (metrics.spawned, metrics.stopped) == (6, 6)


def test_snapshots_are_frozen() -> None:
    system, _, scheduler = deterministic_system(seed=1)
    with system:
        system.spawn(Worker, name="a").tell("boom")
        scheduler.run_until_idle()
        metrics = system.metrics()
    assert isinstance(metrics, SystemMetrics)
    actor = metrics.actor("/user/a")
    assert actor is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        actor.processed = 0  # type: ignore[misc]
    with pytest.raises(TypeError):
        actor.dead_letters["failed"] = 0  # type: ignore[index]
    assert not hasattr(actor, "__dict__")


def test_histogram_buckets() -> None:
    assert bucket_of(0) == 0
    assert bucket_of(1_000) == 0  # 1 us is in the 1 us bucket (le)
    assert bucket_of(1_001) == 1
    assert bucket_of(20 * 10**9) == len(BUCKETS)  # past 10 s: +Inf
    histogram = DurationHistogram((1, 2, *([0] * (len(BUCKETS) - 2)), 3), 6, 1.5)
    cumulative = histogram.cumulative()
    assert cumulative[0] == (1e-6, 1)
    assert cumulative[1] == (5e-6, 3)
    assert cumulative[-1] == (float("inf"), 6)
    assert histogram.mean == 0.25
    assert histogram.bounds == BUCKETS


def test_register_metrics_reports_in_a_users_registry() -> None:
    system, _, scheduler = deterministic_system(seed=2)
    with system:
        ref = system.spawn(Worker, name="worker")
        for index in range(100):
            ref.tell(index)
        ref.tell("boom")
        scheduler.run_until_idle()
        registry = CollectorRegistry()
        collector = register_metrics(system, registry)
        found = samples(generate_latest(registry).decode())
        labels = frozenset(
            {("system", "test"), ("path", "/user/worker"), ("actor_class", f"{__name__}.Worker")}
        )
        assert found[("backstage_actor_messages_processed_total", labels)] == 101
        assert found[("backstage_actor_restarts_total", labels)] == 1
        assert found[("backstage_actor_failures_total", labels)] == 1
        assert found[("backstage_actor_dead_letters_total", labels | {("reason", "failed")})] == 1
        assert found[("backstage_actors_spawned_total", frozenset({("system", "test")}))] == 1
        with pytest.raises(ValueError, match="one registry takes one"):
            register_metrics(system, registry)
        registry.unregister(collector)
        assert "backstage_actor" not in generate_latest(registry).decode()


def test_without_prometheus_client_the_error_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # import now fails
    system, _, _ = deterministic_system(seed=4)
    with system, pytest.raises(ImportError, match=r"pip install 'backstage_threads\[metrics\]'"):
        register_metrics(system)
