"""Stress: several event loops and plain threads waiting for room in one small mailbox.

Real threads lined up with a barrier; every message is accounted for exactly:
what a sender was told was sent arrives once and in that sender's order, what
timed out never arrives, and after a stop every message is processed or a dead
letter, never both, never neither.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from support import WAIT, DeadLetterLog

from backstage_threads import (
    Actor,
    ActorRef,
    ActorStoppedError,
    ActorSystem,
    AsyncActor,
    Overflow,
    SendTimeoutError,
)

pytestmark = pytest.mark.stress

LOOPS = 3  # threads each running their own asyncio.run loop
TASKS = 20  # sending tasks per loop
THREADS = 3  # plain sending threads
PER_TASK = 40
PER_THREAD = 200
CAPACITY = 8
# Every GIVE_UP-th send uses timeout=0: it either gets in at once or times out,
# which makes waiters leave the line while others are being admitted.
GIVE_UP = 7
# The stop test stops the actor once this many messages went through (about a
# sixth of them), while senders are still waiting.
STOP_AFTER = 600

Sender = tuple[Any, ...]


class Seen:
    """The messages an actor processed; ``reached`` is set at the `STOP_AFTER`-th."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[Any] = []
        self.reached = threading.Event()

    def add(self, message: Any) -> None:
        with self.lock:
            self.messages.append(message)
            if len(self.messages) == STOP_AFTER:
                self.reached.set()

    def snapshot(self) -> list[Any]:
        with self.lock:
            return list(self.messages)


class Recorder(Actor[Any]):
    def __init__(self, seen: Seen) -> None:
        self.seen = seen

    def receive(self, message: Any) -> Any:
        self.seen.add(message)
        return message


class AsyncRecorder(AsyncActor[Any]):
    def __init__(self, seen: Seen) -> None:
        self.seen = seen

    async def receive(self, message: Any) -> Any:
        self.seen.add(message)
        return message


class Ledger:
    """What each sender was told about each of its messages (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: dict[Sender, list[int]] = {}
        self.timed_out: set[tuple[Sender, int]] = set()
        self.stopped: set[tuple[Sender, int]] = set()
        self.wrong: list[Any] = []

    def record(self, sender: Sender, seq: int, outcome: object, reply: object = None) -> None:
        with self.lock:
            if outcome == "ok":
                self.sent.setdefault(sender, []).append(seq)
                if reply is not None and reply != (sender, seq):
                    self.wrong.append((sender, seq, reply))
            elif isinstance(outcome, SendTimeoutError):
                self.timed_out.add((sender, seq))
            elif isinstance(outcome, ActorStoppedError):
                self.stopped.add((sender, seq))
            else:
                self.wrong.append((sender, seq, outcome))


def timeout_for(seq: int) -> float:
    return 0.0 if seq % GIVE_UP == GIVE_UP - 1 else WAIT


async def async_sender(ref: ActorRef[Any], sender: Sender, ledger: Ledger) -> None:
    for seq in range(PER_TASK):
        message = (sender, seq)
        try:
            if seq % 2 and timeout_for(seq):  # (a zero-timeout ask could not get its reply)
                reply = await ref.ask_async(message, timeout=timeout_for(seq))
            else:
                await ref.tell_async(message, timeout=timeout_for(seq))
                reply = None
        except Exception as exc:  # recorded and checked
            ledger.record(sender, seq, exc)
        else:
            ledger.record(sender, seq, "ok", reply)


def loop_thread(ref: ActorRef[Any], loop_id: int, ledger: Ledger, start: threading.Barrier) -> None:
    async def main() -> None:
        await asyncio.gather(
            *(async_sender(ref, ("loop", loop_id, task), ledger) for task in range(TASKS))
        )

    start.wait(WAIT)
    asyncio.run(main())


def plain_thread(
    ref: ActorRef[Any], thread_id: int, ledger: Ledger, start: threading.Barrier
) -> None:
    sender: Sender = ("thread", thread_id)
    start.wait(WAIT)
    for seq in range(PER_THREAD):
        try:
            ref.tell((sender, seq), timeout=timeout_for(seq))
        except Exception as exc:  # recorded and checked
            ledger.record(sender, seq, exc)
        else:
            ledger.record(sender, seq, "ok")


def run_senders(
    ref: ActorRef[Any], ledger: Ledger, before_join: Callable[[], None] | None = None
) -> None:
    start = threading.Barrier(LOOPS + THREADS)
    threads = [
        threading.Thread(target=loop_thread, args=(ref, i, ledger, start), name=f"loop-{i}")
        for i in range(LOOPS)
    ] + [
        threading.Thread(target=plain_thread, args=(ref, i, ledger, start), name=f"plain-{i}")
        for i in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    if before_join is not None:
        before_join()
    for thread in threads:
        thread.join(WAIT * 6)
    assert not any(thread.is_alive() for thread in threads), "a sender hung"


def by_sender(messages: list[Any]) -> dict[Sender, list[int]]:
    seqs: dict[Sender, list[int]] = {}
    for sender, seq in messages:
        seqs.setdefault(sender, []).append(seq)
    return seqs


@pytest.mark.parametrize("actor", [Recorder, AsyncRecorder], ids=["sync", "async"])
def test_loops_and_threads_awaiting_room_account_for_every_message(
    actor: type[Recorder] | type[AsyncRecorder],
) -> None:
    seen = Seen()
    ledger = Ledger()
    with ActorSystem(workers=2) as system:
        ref = system.spawn(lambda: actor(seen), capacity=CAPACITY, overflow=Overflow.BLOCK)
        run_senders(ref, ledger)
        assert ref.ask("flush", timeout=WAIT) == "flush"
        assert system.dead_letters.count == 0
    assert ledger.wrong == []
    assert ledger.stopped == set()
    received = [m for m in seen.snapshot() if m != "flush"]
    assert len(received) == len(set(received)), "a message arrived twice"
    # Exactly what each sender was told was sent arrived, in its sending order.
    assert by_sender(received) == ledger.sent
    for message in ledger.timed_out:
        assert message not in set(received)
    total = LOOPS * TASKS * PER_TASK + THREADS * PER_THREAD
    assert sum(map(len, ledger.sent.values())) + len(ledger.timed_out) == total


@pytest.mark.parametrize("actor", [Recorder, AsyncRecorder], ids=["sync", "async"])
def test_a_stop_while_loops_and_threads_wait_loses_nothing(
    actor: type[Recorder] | type[AsyncRecorder],
) -> None:
    seen = Seen()
    ledger = Ledger()
    letters = DeadLetterLog()
    with ActorSystem(workers=2) as system:
        system.dead_letters.subscribe(letters)
        ref = system.spawn(lambda: actor(seen), capacity=CAPACITY, overflow=Overflow.BLOCK)

        def stop_midway() -> None:
            assert seen.reached.wait(WAIT), "the actor never got going"
            ref.stop()

        run_senders(ref, ledger, stop_midway)
        assert ref.wait_stopped(WAIT)
    assert ledger.wrong == []
    processed = seen.snapshot()
    dead = [letter.message for letter in letters.snapshot()]
    counts = Counter(processed) + Counter(dead)
    attempted = {
        (("loop", loop, task), seq)
        for loop in range(LOOPS)
        for task in range(TASKS)
        for seq in range(PER_TASK)
    } | {(("thread", t), seq) for t in range(THREADS) for seq in range(PER_THREAD)}
    # Every message not timed out was processed or became a dead letter, once.
    assert set(counts) == attempted - ledger.timed_out
    assert max(counts.values()) == 1, "a message was both processed and dead-lettered"
    # A sender told the actor stopped while it waited: its message is a dead letter.
    assert ledger.stopped <= set(dead)
    # Each sender's processed messages kept their order.
    for sender, seqs in by_sender(processed).items():
        assert seqs == sorted(seqs), sender


@pytest.mark.parametrize("actor", [Recorder, AsyncRecorder], ids=["sync", "async"])
def test_gathered_asks_from_several_loops_arrive_in_each_loops_order(
    actor: type[Recorder] | type[AsyncRecorder],
) -> None:
    # The reported scenario (2,000 concurrent asks into capacity 16), from
    # several loops at once: one loop's tasks begin to wait in the order gather
    # started them, and the shared line admits them in that order.
    asks = 2000 // LOOPS
    seen = Seen()
    replies: dict[int, list[Any]] = {}

    def loop_asks(ref: ActorRef[Any], loop_id: int, start: threading.Barrier) -> None:
        async def main() -> list[Any]:
            return await asyncio.gather(
                *(ref.ask_async((loop_id, i), timeout=WAIT) for i in range(asks)),
                return_exceptions=True,
            )

        start.wait(WAIT)
        replies[loop_id] = asyncio.run(main())  # (one key per thread)

    with ActorSystem(workers=2) as system:
        ref = system.spawn(lambda: actor(seen), capacity=16, overflow=Overflow.BLOCK)
        start = threading.Barrier(LOOPS)
        threads = [
            threading.Thread(target=loop_asks, args=(ref, i, start), name=f"loop-{i}")
            for i in range(LOOPS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT * 3)
        assert not any(thread.is_alive() for thread in threads), "a loop hung"
    for loop_id in range(LOOPS):
        assert replies[loop_id] == [(loop_id, i) for i in range(asks)]
    arrived = by_sender([((loop_id,), i) for loop_id, i in seen.snapshot()])
    assert arrived == {(loop_id,): list(range(asks)) for loop_id in range(LOOPS)}
