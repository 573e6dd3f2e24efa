"""Senders waiting for room in a full BLOCK mailbox: coroutines and plain threads.

Every waiting sender joins one line per mailbox; whoever makes room admits the
line in order. These tests pin what that promises: thousands of coroutines of one
loop all get in (on GIL builds too, where waking everyone used to livelock the
consumer), in the order they began to wait; a waiter that times out or is
cancelled leaves without holding up the others; a stop releases every waiter
with ActorStoppedError.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from support import WAIT, DeadLetterLog, run_thread, spawn_full

from backstage_threads import (
    Actor,
    ActorRef,
    ActorStoppedError,
    ActorSystem,
    AsyncActor,
    Overflow,
    SendTimeoutError,
)
from backstage_threads._waiting import WaiterQueue
from backstage_threads.testing import deterministic_system

# The reported scenario: far more concurrent asks than the mailbox holds.
SENDERS = 2000
CAPACITY = 16


class Echo(Actor[Any]):
    """Replies with the message and records the order it arrived in."""

    def __init__(self, seen: list[Any]) -> None:
        self.seen = seen

    def receive(self, message: Any) -> Any:
        self.seen.append(message)
        return message


class AsyncEcho(AsyncActor[Any]):
    """`Echo` as an async actor (it runs on the system's event loop)."""

    def __init__(self, seen: list[Any]) -> None:
        self.seen = seen

    async def receive(self, message: Any) -> Any:
        self.seen.append(message)
        return message


class CountingLine(WaiterQueue):
    """A waiter line that sets ``filled`` once ``target`` senders have joined it."""

    def __init__(self, target: int) -> None:
        super().__init__()
        self.target = target
        self.joined = 0
        self.filled = threading.Event()

    def append(self, item: Any) -> None:
        super().append(item)
        self.joined += 1  # (only the test's loop thread appends here)
        if self.joined >= self.target:
            self.filled.set()


def processed(log: list[Any], lock: threading.Lock) -> list[Any]:
    with lock:
        return list(log)


def watch_line(ref: ActorRef[Any], target: int) -> threading.Event:
    """An event set once ``target`` senders wait in ``ref``'s line (white-box)."""
    cell = ref._cell
    assert cell._waiters is None, "install the watch before any sender waits"
    line = CountingLine(target)
    cell._waiters = line
    return line.filled


@pytest.mark.parametrize("actor", [Echo, AsyncEcho], ids=["sync", "async"])
def test_thousands_of_ask_async_into_a_small_mailbox_all_complete_in_order(
    system: ActorSystem, actor: type[Echo] | type[AsyncEcho]
) -> None:
    # A regression: on 3.11, 2,000 concurrent ask_async into capacity 1,024
    # mostly timed out, and into capacity 16 all but a handful did.
    seen: list[Any] = []
    ref = system.spawn(lambda: actor(seen), capacity=CAPACITY, overflow=Overflow.BLOCK)

    async def main() -> list[Any]:
        asks = (ref.ask_async(i, timeout=WAIT) for i in range(SENDERS))
        return await asyncio.gather(*asks, return_exceptions=True)

    replies = asyncio.run(main())
    failures = [r for r in replies if isinstance(r, BaseException)]
    assert failures == [], f"{len(failures)} asks failed, first: {failures[:1]!r}"
    assert replies == list(range(SENDERS))
    # One loop's tasks begin to wait in the order gather started them, so the
    # line admits them in that order: the actor sees them in order.
    assert seen == list(range(SENDERS))
    assert system.dead_letters.count == 0


def test_pump_and_tell_async_from_many_tasks_keep_each_senders_order(
    system: ActorSystem,
) -> None:
    seen: list[Any] = []
    ref = system.spawn(lambda: Echo(seen), capacity=4, overflow=Overflow.BLOCK)

    async def tell_sequence(task: int) -> None:
        for i in range(50):
            await ref.tell_async((task, i), timeout=WAIT)

    async def main() -> None:
        await asyncio.gather(*(tell_sequence(task) for task in range(40)))
        assert await ref.ask_async("flush", timeout=WAIT) == "flush"

    asyncio.run(main())
    assert seen.pop() == "flush"
    assert sorted(seen) == [(task, i) for task in range(40) for i in range(50)]
    for task in range(40):
        assert [i for t, i in seen if t == task] == list(range(50))


def test_a_waiter_that_times_out_leaves_the_line_and_the_others_get_in(
    system: ActorSystem,
) -> None:
    ref, latch, log, lock = spawn_full(system, 2, overflow=Overflow.BLOCK)
    joined = watch_line(ref, 5)

    async def main() -> list[Any]:
        # The third in line gives up at once; the others wait long enough.
        timeouts = [WAIT, WAIT, 0.0, WAIT, WAIT]
        sends = [
            asyncio.ensure_future(ref.tell_async(f"w{i}", timeout=t))
            for i, t in enumerate(timeouts)
        ]
        assert await asyncio.to_thread(joined.wait, WAIT), "the senders never waited"
        gave_up = await asyncio.gather(sends[2], return_exceptions=True)
        assert len(ref._cell._waiters or ()) == 4  # it left the line
        latch.release.set()
        return gave_up + await asyncio.gather(*sends[:2], *sends[3:], return_exceptions=True)

    outcomes = asyncio.run(main())
    timed_out = outcomes[0]
    assert isinstance(timed_out, SendTimeoutError), timed_out
    assert outcomes[1:] == [None, None, None, None]
    assert ref.ask("after", timeout=WAIT) == "after"
    # Admitted in line order; the one that timed out was never delivered.
    assert processed(log, lock) == ["first", 0, 1, "w0", "w1", "w3", "w4", "after"]
    assert system.dead_letters.count == 0


def test_a_cancelled_waiter_withdraws_its_message(system: ActorSystem) -> None:
    ref, latch, log, lock = spawn_full(system, 1, overflow=Overflow.BLOCK)
    joined = watch_line(ref, 3)

    async def main() -> None:
        sends = [asyncio.ensure_future(ref.tell_async(f"w{i}", timeout=WAIT)) for i in range(3)]
        assert await asyncio.to_thread(joined.wait, WAIT)
        sends[1].cancel()
        with pytest.raises(asyncio.CancelledError):
            await sends[1]
        latch.release.set()
        assert await asyncio.gather(sends[0], sends[2]) == [None, None]

    asyncio.run(main())
    assert ref.ask("after", timeout=WAIT) == "after"
    assert processed(log, lock) == ["first", 0, "w0", "w2", "after"]
    assert system.dead_letters.count == 0


def test_threads_and_coroutines_share_one_line_in_order(system: ActorSystem) -> None:
    ref, latch, log, lock = spawn_full(system, 1, overflow=Overflow.BLOCK)
    joined = watch_line(ref, 1)
    thread, outcome = run_thread(lambda: ref.tell("thread", timeout=WAIT))
    assert joined.wait(WAIT)
    line = ref._cell._waiters
    assert isinstance(line, CountingLine)
    line.filled.clear()
    line.target = 3

    async def main() -> None:
        sends = [asyncio.ensure_future(ref.tell_async(f"co{i}", timeout=WAIT)) for i in range(2)]
        assert await asyncio.to_thread(line.filled.wait, WAIT)
        latch.release.set()
        assert await asyncio.gather(*sends) == [None, None]

    asyncio.run(main())
    thread.join(WAIT)
    assert outcome == [("ok", None)]
    assert ref.ask("after", timeout=WAIT) == "after"
    assert processed(log, lock) == ["first", 0, "thread", "co0", "co1", "after"]


def test_a_stop_releases_every_waiter_with_actor_stopped_error(system: ActorSystem) -> None:
    letters = DeadLetterLog()
    system.dead_letters.subscribe(letters)
    ref, latch, log, lock = spawn_full(system, 2, overflow=Overflow.BLOCK)
    joined = watch_line(ref, 1)
    thread, outcome = run_thread(lambda: ref.tell("thread", timeout=WAIT))
    assert joined.wait(WAIT)
    line = ref._cell._waiters
    assert isinstance(line, CountingLine)
    line.filled.clear()
    line.target = 1 + 20

    async def main() -> list[Any]:
        sends = [
            asyncio.ensure_future(
                ref.tell_async(f"t{i}", timeout=None)
                if i % 2
                else ref.ask_async(f"a{i}", timeout=WAIT)
            )
            for i in range(20)
        ]
        assert await asyncio.to_thread(line.filled.wait, WAIT)
        ref.stop()  # queued: the actor stops after the message in hand
        latch.release.set()
        return await asyncio.gather(*sends, return_exceptions=True)

    outcomes = asyncio.run(main())
    thread.join(WAIT)
    assert not thread.is_alive()
    assert len(outcome) == 1 and outcome[0][0] == "raised"
    assert isinstance(outcome[0][1], ActorStoppedError)
    assert all(isinstance(o, ActorStoppedError) for o in outcomes), outcomes
    assert ref.wait_stopped(WAIT)
    assert processed(log, lock) == ["first"]
    expected = {"0", "1", "thread", *(f"t{i}" if i % 2 else f"a{i}" for i in range(20))}
    assert {str(letter.message) for letter in letters.snapshot()} == expected
    assert len(letters.snapshot()) == len(expected)
    assert len(line) == 0


def test_a_deterministic_system_runs_turns_instead_of_waiting_for_room() -> None:
    seen: list[Any] = []
    system, _, _ = deterministic_system(seed=3)
    with system:
        ref = system.spawn(lambda: Echo(seen), capacity=2, overflow=Overflow.BLOCK)
        for i in range(10):
            ref.tell(i, timeout=WAIT)  # a full mailbox runs turns on this thread
        assert ref.ask("after", timeout=WAIT) == "after"
        assert seen == [*range(10), "after"]
        ref.tell_nowait("a")
        ref.tell_nowait("b")
        with pytest.raises(SendTimeoutError):
            ref.tell("late", timeout=0)
