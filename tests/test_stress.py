"""Real-thread stress tests (``-m stress``): exact accounting under contention.

Producers are lined up with a `threading.Barrier` so they really contend; every
wait is bounded by `STRESS_WAIT`; outcomes are counts and orders, never times.
"""

from __future__ import annotations

import threading
from functools import partial
from typing import Any

import pytest
from support import (
    BurstProducer,
    DeadLetterLog,
    Recorder,
    Relay,
    assert_clean_shutdown,
    system_threads,
)

from backstage_threads import (
    Actor,
    ActorRef,
    ActorSystem,
    MailboxFullError,
    Overflow,
)

pytestmark = [pytest.mark.stress, pytest.mark.timeout(900)]

#: Bound of any single wait in a stress test: generous for a small shared machine.
STRESS_WAIT = 300.0

PRODUCERS = 8
PER_PRODUCER = 10_000


def check_per_producer_order(got: list[tuple[int, int]], producers: int, each: int) -> None:
    assert len(got) == producers * each
    assert len(set(got)) == producers * each  # no duplicates
    by_producer: dict[int, list[int]] = {p: [] for p in range(producers)}
    for producer, seq in got:
        by_producer[producer].append(seq)
    for producer in range(producers):
        assert by_producer[producer] == list(range(each)), f"producer {producer} out of order"


def run_producers(
    count: int, body: Any, name: str = "producer"
) -> tuple[list[threading.Thread], list[BaseException]]:
    barrier = threading.Barrier(count, timeout=STRESS_WAIT)
    errors: list[BaseException] = []

    def run(producer: int) -> None:
        try:
            barrier.wait()
            body(producer)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(p,), name=f"{name}-{p}") for p in range(count)]
    for thread in threads:
        thread.start()
    return threads, errors


def join_all(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(STRESS_WAIT)
        assert not thread.is_alive(), f"{thread.name} hung"


def test_eight_producers_into_a_small_block_mailbox() -> None:
    system = ActorSystem(workers=2)
    try:
        ref = system.spawn(Recorder, capacity=16, overflow=Overflow.BLOCK)

        def produce(producer: int) -> None:
            for seq in range(PER_PRODUCER):
                ref.tell((producer, seq), timeout=STRESS_WAIT)

        threads, errors = run_producers(PRODUCERS, produce)
        join_all(threads)
        assert errors == []
        got = ref.ask("log", timeout=STRESS_WAIT)
        check_per_producer_order(got, PRODUCERS, PER_PRODUCER)
        assert system.dead_letters.count == 0
    finally:
        assert_clean_shutdown(system, STRESS_WAIT)


def test_eight_producer_actors_into_a_small_block_mailbox() -> None:
    # Actor-to-actor backpressure on a parallel pool: senders on workers are
    # muted and unmuted concurrently; nothing may be lost, duplicated, reordered.
    system = ActorSystem(workers=2)
    try:
        consumer = system.spawn(Recorder, capacity=8, overflow=Overflow.BLOCK)
        relays = [
            system.spawn(lambda: Relay(consumer), capacity=None) for _ in range(PRODUCERS // 2)
        ]
        bursts = [
            system.spawn(partial(BurstProducer, consumer, tag=i)) for i in range(PRODUCERS // 2)
        ]
        futures = [b.ask_future(PER_PRODUCER) for b in bursts]
        for seq in range(PER_PRODUCER):
            for i, relay in enumerate(relays):
                relay.tell((len(bursts) + i, seq))
        assert [f.result(timeout=STRESS_WAIT) for f in futures] == [PER_PRODUCER] * len(bursts)
        assert [r.ask("flush", timeout=STRESS_WAIT) for r in relays] == ["flushed"] * len(relays)
        got = consumer.ask("log", timeout=STRESS_WAIT)
        check_per_producer_order(got, PRODUCERS, PER_PRODUCER)
        assert system.dead_letters.count == 0
    finally:
        assert_clean_shutdown(system, STRESS_WAIT)


HOPS = 1_000_000


class Pinger(Actor[Any]):
    def __init__(self, done: threading.Event) -> None:
        self.done = done
        self.peer: ActorRef[Any] | None = None
        self.received = 0

    def receive(self, message: Any) -> Any:
        if isinstance(message, tuple):  # ("peer", ref)
            self.peer = message[1]
            return None
        if message == "received":
            return self.received
        self.received += 1
        if message >= HOPS:
            self.done.set()
        else:
            assert self.peer is not None
            self.peer.tell(message + 1)
        return None


def test_ping_pong_one_million_hops() -> None:
    system = ActorSystem(workers=2)
    try:
        done = threading.Event()
        a = system.spawn(lambda: Pinger(done), name="ping")
        b = system.spawn(lambda: Pinger(done), name="pong")
        a.tell(("peer", b))
        b.tell(("peer", a))
        a.tell(1)
        assert done.wait(STRESS_WAIT)
        received = a.ask("received", timeout=STRESS_WAIT) + b.ask("received", timeout=STRESS_WAIT)
        assert received == HOPS
        assert a.ask("received", timeout=STRESS_WAIT) == HOPS // 2
        assert system.dead_letters.count == 0
    finally:
        assert_clean_shutdown(system, STRESS_WAIT)


ACTORS = 100_000


class Tally(Actor[Any]):
    def __init__(self, done: threading.Event) -> None:
        self.done = done
        self.seen: set[int] = set()

    def receive(self, message: Any) -> Any:
        if message == "count":
            return len(self.seen)
        assert message not in self.seen
        self.seen.add(message)
        if len(self.seen) == ACTORS:
            self.done.set()
        return None


class OneShot(Actor[Any]):
    def __init__(self, tally: ActorRef[Any]) -> None:
        self.tally = tally

    def receive(self, message: Any) -> Any:
        self.tally.tell(message)
        return None


def test_one_hundred_thousand_actors_each_handle_one_message() -> None:
    done = threading.Event()
    system = ActorSystem(workers=2)
    try:
        tally = system.spawn(lambda: Tally(done), name="tally")
        factory = lambda: OneShot(tally)  # noqa: E731
        for i in range(ACTORS):
            system.spawn(factory).tell(i)
        assert done.wait(STRESS_WAIT)
        assert tally.ask("count", timeout=STRESS_WAIT) == ACTORS
        assert system.dead_letters.count == 0
    finally:
        report = system.shutdown(STRESS_WAIT)
    assert report.clean, report
    assert system_threads() == []
    assert system.dead_letters.count == 0


class Sink(Actor[Any]):
    """Records into a list owned by the test (read after the actor stopped)."""

    def __init__(self, got: list[Any]) -> None:
        self.got = got

    def receive(self, message: Any) -> Any:
        self.got.append(message)
        return None


HAMMER_EACH = 5_000


@pytest.mark.parametrize("policy", [Overflow.DROP_OLDEST, Overflow.DROP_NEWEST, Overflow.FAIL])
def test_overflow_policies_under_contention_account_for_every_message(policy: Overflow) -> None:
    system = ActorSystem(workers=2)
    try:
        letters = DeadLetterLog()
        system.dead_letters.subscribe(letters)
        processed: list[Any] = []
        ref = system.spawn(lambda: Sink(processed), capacity=16, overflow=policy)
        rejected: list[list[Any]] = [[] for _ in range(PRODUCERS)]

        def produce(producer: int) -> None:
            for seq in range(HAMMER_EACH):
                try:
                    ref.tell((producer, seq))
                except MailboxFullError:
                    rejected[producer].append((producer, seq))

        threads, errors = run_producers(PRODUCERS, produce)
        join_all(threads)
        assert errors == []
        # Stopping flushes: whatever is still queued becomes a dead letter.
        ref.stop()
        assert ref.wait_stopped(timeout=STRESS_WAIT)

        sent = {(p, s) for p in range(PRODUCERS) for s in range(HAMMER_EACH)}
        dead = [dl.message for dl in letters.snapshot()]
        refused = [m for batch in rejected for m in batch]
        assert len(processed) + len(dead) + len(refused) == len(sent)
        assert set(processed) | set(dead) | set(refused) == sent
        assert system.dead_letters.count == len(dead)
        assert all(dl.recipient == ref for dl in letters.snapshot())
        if policy is Overflow.FAIL:
            assert all(dl.reason == "actor stopped" for dl in letters.snapshot())
        else:
            assert refused == []
        # Whatever was processed kept each producer's order.
        last: dict[int, int] = {}
        for producer, seq in processed:
            assert seq > last.get(producer, -1)
            last[producer] = seq
        assert len(processed) > 0
    finally:
        assert_clean_shutdown(system, STRESS_WAIT)
