"""Bounded mailboxes: every overflow policy, and actor-to-actor backpressure.

A mailbox is made to stay full deterministically with `spawn_full`: a pinned
actor held inside receive (by a `Latch` the test controls) while ``capacity``
messages wait behind the one in hand.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import pytest
from support import (
    WAIT,
    BurstProducer,
    DeadLetterLog,
    Recorder,
    Relay,
    assert_clean_shutdown,
    run_thread,
    spawn_full,
    spawn_held,
    watch_blocked_senders,
)

from backstage_threads import (
    DEFAULT_CAPACITY,
    ActorStoppedError,
    ActorSystem,
    MailboxFullError,
    Overflow,
    SendTimeoutError,
)
from backstage_threads._local import current


def processed(log: list[Any], lock: threading.Lock) -> list[Any]:
    with lock:
        return list(log)


def test_fail_raises_mailbox_full_error_when_full(system: ActorSystem) -> None:
    ref, latch, log, lock = spawn_full(system, 4, overflow=Overflow.FAIL)
    with pytest.raises(MailboxFullError, match="capacity 4"):
        ref.tell("rejected")
    with pytest.raises(MailboxFullError):
        ref.tell_nowait("rejected-nowait")
    with pytest.raises(MailboxFullError):
        ref.ask("rejected-ask", timeout=WAIT)
    # Rejected to the sender: not dead letters.
    assert system.dead_letters.count == 0
    latch.release_and_drain(3)
    assert ref.ask("after", timeout=WAIT) == "after"
    assert processed(log, lock) == ["first", 0, 1, 2, 3, "after"]


def test_drop_newest_records_the_new_message_as_a_dead_letter(system: ActorSystem) -> None:
    letters = DeadLetterLog()
    system.dead_letters.subscribe(letters)
    ref, latch, log, lock = spawn_full(system, 4, overflow=Overflow.DROP_NEWEST)
    ref.tell("dropped")  # returns: the policy never raises to the sender
    ref.tell_nowait("dropped-nowait")
    future = ref.ask_future("dropped-ask")
    assert isinstance(future.exception(timeout=WAIT), MailboxFullError)
    got = letters.snapshot()
    assert [dl.message for dl in got] == ["dropped", "dropped-nowait", "dropped-ask"]
    assert all(dl.recipient == ref for dl in got)
    assert {dl.reason for dl in got} == {"mailbox full (DROP_NEWEST)"}
    assert system.dead_letters.count == 3
    latch.release_and_drain(3)
    assert ref.ask("after", timeout=WAIT) == "after"
    assert processed(log, lock) == ["first", 0, 1, 2, 3, "after"]


def test_drop_oldest_evicts_the_oldest_to_dead_letters(system: ActorSystem) -> None:
    letters = DeadLetterLog()
    system.dead_letters.subscribe(letters)
    held_ref, latch, log, lock = spawn_full(system, 4, overflow=Overflow.DROP_OLDEST)
    # Replace the oldest queued message (0) with an ask, then evict the ask too.
    held_ref.tell("new-1")  # evicts 0
    evicted_future = held_ref.ask_future("ask")  # evicts 1
    held_ref.tell("new-2")  # evicts 2
    held_ref.tell("new-3")  # evicts 3
    held_ref.tell("new-4")  # evicts "new-1"
    held_ref.tell("new-5")  # evicts the ask
    assert isinstance(evicted_future.exception(timeout=WAIT), MailboxFullError)
    got = letters.snapshot()
    assert [dl.message for dl in got] == [0, 1, 2, 3, "new-1", "ask"]
    assert all(dl.recipient == held_ref for dl in got)
    assert all("DROP_OLDEST" in dl.reason for dl in got)
    assert system.dead_letters.count == 6
    latch.release_and_drain("new-5")
    assert held_ref.ask("after", timeout=WAIT) == "after"
    assert processed(log, lock) == ["first", "new-2", "new-3", "new-4", "new-5", "after"]


@pytest.mark.parametrize("timeout", [0, 0.0, 0.05])
def test_block_with_timeout_raises_send_timeout_error_when_no_room(
    system: ActorSystem, timeout: float
) -> None:
    ref, latch, log, lock = spawn_full(system, 2, overflow=Overflow.BLOCK)
    with pytest.raises(SendTimeoutError) as excinfo:
        ref.tell("late", timeout=timeout)
    assert isinstance(excinfo.value, TimeoutError)
    assert "BLOCK" in str(excinfo.value)
    # An ask that cannot even be enqueued times out too.
    with pytest.raises(TimeoutError):
        ref.ask("late-ask", timeout=timeout)
    assert system.dead_letters.count == 0
    latch.release.set()
    assert ref.ask("after", timeout=WAIT) == "after"
    assert processed(log, lock) == ["first", 0, 1, "after"]


def test_block_waits_and_succeeds_once_the_actor_drains(system: ActorSystem) -> None:
    ref, latch, log, lock = spawn_full(system, 2, overflow=Overflow.BLOCK)
    blocked = watch_blocked_senders(ref)
    sender, outcome = run_thread(lambda: ref.tell("waited", timeout=WAIT))
    assert blocked.wait(WAIT), "the sender never waited for room"
    assert outcome == []  # still waiting: the mailbox is full and the actor held
    latch.release.set()
    sender.join(WAIT)
    assert outcome == [("ok", None)]
    assert ref.ask("after", timeout=WAIT) == "after"
    assert processed(log, lock) == ["first", 0, 1, "waited", "after"]
    assert system.dead_letters.count == 0


def test_block_without_timeout_waits_until_room(system: ActorSystem) -> None:
    ref, latch, log, lock = spawn_full(system, 1, overflow=Overflow.BLOCK)
    blocked = watch_blocked_senders(ref)
    sender, outcome = run_thread(lambda: ref.tell("waited"))
    assert blocked.wait(WAIT)
    latch.release.set()
    sender.join(WAIT)
    assert outcome == [("ok", None)]
    assert ref.ask("after", timeout=WAIT) == "after"
    assert processed(log, lock) == ["first", 0, "waited", "after"]


def test_tell_nowait_raises_on_a_full_block_mailbox(system: ActorSystem) -> None:
    ref, latch, log, lock = spawn_full(system, 3, overflow=Overflow.BLOCK)
    with pytest.raises(MailboxFullError, match="capacity 3"):
        ref.tell_nowait("rejected")
    assert system.dead_letters.count == 0
    latch.release.set()
    assert ref.ask("after", timeout=WAIT) == "after"
    assert processed(log, lock) == ["first", 0, 1, 2, "after"]


def test_default_capacity_is_bounded(system: ActorSystem) -> None:
    assert DEFAULT_CAPACITY == 1024
    ref, latch, log, lock = spawn_full(system, DEFAULT_CAPACITY)
    with pytest.raises(MailboxFullError):
        ref.tell_nowait("one too many")
    latch.release.set()
    assert ref.ask("after", timeout=WAIT) == "after"
    assert processed(log, lock) == ["first", *range(DEFAULT_CAPACITY), "after"]


@pytest.mark.parametrize("overflow", list(Overflow))
def test_capacity_none_is_unbounded(system: ActorSystem, overflow: Overflow) -> None:
    ref = system.spawn(Recorder, capacity=None, overflow=overflow)
    for i in range(5000):
        ref.tell_nowait(i)
    assert ref.ask("log", timeout=WAIT) == list(range(5000))
    assert system.dead_letters.count == 0


def test_capacity_none_never_blocks_a_held_actor(system: ActorSystem) -> None:
    ref, latch, log, lock = spawn_held(system, capacity=None)
    for i in range(5000):
        ref.tell(i, timeout=0)
        ref.tell_nowait(-i)
    latch.release.set()
    assert ref.ask("after", timeout=WAIT) == "after"
    expected = ["first"]
    for i in range(5000):
        expected += [i, -i]
    assert processed(log, lock) == [*expected, "after"]


# -- actor-to-actor backpressure -----------------------------------------------------


N_BACKPRESSURE = 10_000


def test_actor_to_full_block_mailbox_never_blocks_the_only_worker() -> None:
    # With one worker, a producer actor that blocked the worker on the full
    # consumer would deadlock: the consumer could never run to make room.
    system = ActorSystem(workers=1)
    try:
        consumer = system.spawn(Recorder, name="consumer", capacity=8, overflow=Overflow.BLOCK)
        producer = system.spawn(lambda: BurstProducer(consumer), name="producer")
        assert producer.ask(N_BACKPRESSURE, timeout=WAIT) == N_BACKPRESSURE
        # A plain thread's ask queues behind everything the producer sent.
        assert consumer.ask("log", timeout=WAIT) == list(range(N_BACKPRESSURE))
        assert system.dead_letters.count == 0
    finally:
        assert_clean_shutdown(system)


def test_backpressure_mutes_and_unmutes_a_relaying_actor() -> None:
    # One send per receive: the relay is muted after each overflowing send and
    # must be unmuted each time the consumer drains.
    system = ActorSystem(workers=1)
    try:
        consumer = system.spawn(Recorder, name="consumer", capacity=8, overflow=Overflow.BLOCK)
        relay = system.spawn(lambda: Relay(consumer), name="relay", capacity=None)
        for i in range(N_BACKPRESSURE):
            relay.tell(i)
        assert relay.ask("flush", timeout=WAIT) == "flushed"
        assert consumer.ask("log", timeout=WAIT) == list(range(N_BACKPRESSURE))
        assert system.dead_letters.count == 0
    finally:
        assert_clean_shutdown(system)


class _PreemptedQueue(deque[Any]):
    """A bounded queue that plays out one preemption of its consumer.

    The first time the consumer's own turn finds it empty, another worker-side
    sender runs before the consumer goes on: it fills the queue and spills one
    more message, as it can when the consumer's thread is descheduled between
    "queue empty" and "take from the spill". The consumer still acts on what
    it saw, an empty queue.
    """

    def __init__(self, maxlen: int, cell: Any, sender: Callable[[], None]) -> None:
        super().__init__(maxlen=maxlen)
        self.cell = cell
        self.sender = sender
        self.armed = False

    def __bool__(self) -> bool:
        seen = len(self) > 0
        if not seen and self.armed and current.cell is self.cell:
            self.armed = False
            self.sender()
        return seen


def test_a_sender_that_refills_the_queue_cannot_overtake_from_the_spill() -> None:
    # Regression: the consumer took the spill's head after finding the queue
    # empty; a sender that filled the queue in between had its spilled message
    # overtake its whole queue (seen as "overtakes exactly capacity" on 3.13t).
    system = ActorSystem(workers=1)
    try:
        consumer = system.spawn(Recorder, capacity=8, overflow=Overflow.BLOCK)
        assert consumer.ask("log", timeout=WAIT) == []  # started, idle

        outcomes: list[Any] = []
        played = threading.Event()

        def refill_and_spill() -> None:
            def send() -> None:
                current.on_worker = True  # spills instead of waiting, like an actor
                for i in range(9):
                    consumer.tell(i)

            thread, outcome = run_thread(send)
            thread.join(WAIT)
            outcomes.extend(outcome)
            played.set()

        cell = consumer._cell
        queue = _PreemptedQueue(8, cell, refill_and_spill)
        cell._queue = queue
        queue.armed = True
        consumer.tell("first")
        assert played.wait(WAIT)
        assert outcomes == [("ok", None)]
        assert consumer.ask("log", timeout=WAIT) == ["first", *range(9)]
        assert system.dead_letters.count == 0
    finally:
        assert_clean_shutdown(system)


def test_muted_producer_is_released_when_the_consumer_stops(system: ActorSystem) -> None:
    letters = DeadLetterLog()
    system.dead_letters.subscribe(letters)
    ref, latch, log, lock = spawn_full(system, 2, overflow=Overflow.BLOCK)
    producer = system.spawn(lambda: BurstProducer(ref), name="producer")
    # The producer runs on a worker: its sends spill instead of blocking.
    assert producer.ask(10, timeout=WAIT) == 10
    ref.stop()
    latch.release.set()
    assert ref.wait_stopped(timeout=WAIT)
    # The producer is not left muted: it still answers.
    assert producer.ask(0, timeout=WAIT) == 0
    assert processed(log, lock) == ["first"]
    assert [dl.message for dl in letters.snapshot()] == [0, 1, *range(10)]


def test_blocked_sender_gets_actor_stopped_error_when_the_actor_stops(
    system: ActorSystem,
) -> None:
    # ActorRef.tell documents "ActorStoppedError: If the actor stopped while this
    # call waited"; the message itself becomes a dead letter.
    letters = DeadLetterLog()
    system.dead_letters.subscribe(letters)
    ref, latch, log, lock = spawn_full(system, 2, overflow=Overflow.BLOCK)
    blocked = watch_blocked_senders(ref)
    sender, outcome = run_thread(lambda: ref.tell("blocked", timeout=WAIT))
    assert blocked.wait(WAIT)
    ref.stop()  # queued synchronously: the actor stops after the message in hand
    latch.release.set()
    assert ref.wait_stopped(timeout=WAIT)
    sender.join(WAIT)
    assert not sender.is_alive()
    assert processed(log, lock) == ["first"]
    assert sorted(map(str, (dl.message for dl in letters.snapshot()))) == ["0", "1", "blocked"]
    assert len(outcome) == 1
    kind, result = outcome[0]
    assert kind == "raised", f"blocked tell returned {result!r} instead of raising"
    assert isinstance(result, ActorStoppedError)


def test_blocked_ask_fails_with_actor_stopped_error_when_the_actor_stops(
    system: ActorSystem,
) -> None:
    ref, latch, log, lock = spawn_full(system, 2, overflow=Overflow.BLOCK)
    blocked = watch_blocked_senders(ref)
    sender, outcome = run_thread(lambda: ref.ask("blocked-ask", timeout=WAIT))
    assert blocked.wait(WAIT)
    ref.stop()
    latch.release.set()
    assert ref.wait_stopped(timeout=WAIT)
    sender.join(WAIT)
    assert len(outcome) == 1
    assert outcome[0][0] == "raised"
    assert isinstance(outcome[0][1], ActorStoppedError)
    assert processed(log, lock) == ["first"]
    assert system.dead_letters.count == 3
