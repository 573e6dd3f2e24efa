"""Cells told from outside the pool while others wait behind them, and evening queues out.

When a flood from a plain thread schedules many actors at once, each of them
gets a one-message first turn, in the order told, before any of them a second
one (`NEW_TURN_BUDGET`), and at most `NEW_TURN_BURST` of them start in a row
before a cell of the worker's own queue has a turn. Idle-time stealing alone
never moves work between two busy queues, so a worker that looks outside and
finds nothing evens its queue out with the longest (`balance`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from support import WAIT

from backstage_threads import Actor, ActorRef, ActorSystem
from backstage_threads._dispatcher import Runnable
from backstage_threads._scheduler import INJECT_INTERVAL, NEW_TURN_BURST
from backstage_threads._worker import Worker, balance, find_work


class Logger(Actor[Any]):
    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    def receive(self, message: Any) -> Any:
        self.log.append(f"{self.name}{message}")
        return None


class Gate(Actor[Any]):
    """Holds the only worker until released. Its first message tells ``inside``
    (whose cell joins the worker's own queue); "end", its second in the same
    turn, runs on past the injection interval, so that the worker reads the
    clock after this turn and looks outside next."""

    def __init__(self, entered: threading.Event, release: threading.Event) -> None:
        self.entered = entered
        self.release = release
        self.start = 0.0

    def receive(self, message: Any) -> Any:
        if message == "end":
            while time.perf_counter() < self.start + 2 * INJECT_INTERVAL:
                pass  # (a turn longer than the interval: not a wait for anything)
            return None
        self.start = time.perf_counter()
        inside: ActorRef[Any] | None = message
        if inside is not None:
            inside.tell("")
        self.entered.set()
        assert self.release.wait(WAIT)
        return None


def _flood(inside: bool, actors: int, each: int) -> list[str]:
    """Holds the single worker, tells ``actors`` actors ``each`` messages from
    this thread, then a light actor one; returns the order they were received."""
    log: list[str] = []
    entered, release = threading.Event(), threading.Event()
    with ActorSystem("burst", workers=1) as system:
        gate = system.spawn(Gate, entered, release)
        refs = [system.spawn(Logger, f"a{i}.", log) for i in range(actors)]
        light = system.spawn(Logger, "light", log)
        own = system.spawn(Logger, "inside", log) if inside else None
        for ref in [*refs, light, *([own] if own else [])]:
            ref.ask("?", timeout=WAIT)  # all started and idle
        gate.tell(own)
        assert entered.wait(WAIT)
        for n in range(each):
            for ref in refs:
                ref.tell(n)
        light.tell("")
        gate.tell("end")
        release.set()
        flush = system.spawn(Logger, "flush", log)
        for ref in [*refs, light, flush]:
            ref.ask("?", timeout=WAIT)  # (each mailbox is FIFO: the tells came first)
    return [entry for entry in log if not entry.endswith("?")]


def test_a_flood_from_outside_starts_every_actor_before_any_second_message() -> None:
    log = _flood(inside=False, actors=4, each=3)
    # One message each, in the order told, then the light actor told last;
    # with full first turns the light actor came after 3 messages of each.
    assert log[:5] == ["a0.0", "a1.0", "a2.0", "a3.0", "light"]
    assert sorted(log[5:]) == sorted(f"a{i}.{n}" for i in range(4) for n in (1, 2))
    for i in range(4):  # and each actor's own order holds
        assert [e for e in log if e.startswith(f"a{i}.")] == [f"a{i}.{n}" for n in range(3)]


def test_a_burst_from_outside_gives_the_worker_s_own_queue_a_turn() -> None:
    actors = NEW_TURN_BURST + 4
    log = _flood(inside=True, actors=actors, each=2)
    firsts = [f"a{i}.0" for i in range(actors)]
    # The cell told from the worker (already in its own queue) runs after at
    # most NEW_TURN_BURST cells from outside; then the rest start.
    assert log[: NEW_TURN_BURST + 1] == [*firsts[:NEW_TURN_BURST], "inside"]
    assert log[NEW_TURN_BURST + 1 : actors + 2] == [*firsts[NEW_TURN_BURST:], "light"]


class Cell:
    """A stand-in for a queued cell: only its identity matters to the queues."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


def _worker(name: str, cells: list[Any]) -> Worker:
    worker = Worker(name)
    worker.queue.extend(cells)
    return worker


def test_balance_moves_the_longest_queue_s_tail_to_ours_in_order() -> None:
    cells: list[Any] = [Cell(f"c{i}") for i in range(8)]
    busy = _worker("busy", cells[:7])
    ours = _worker("ours", cells[7:])
    other = _worker("other", [])
    assert balance(ours, (busy, ours, other)) == 3
    # The three that ran most recently (the tail) join our tail, oldest first.
    assert list(busy.queue) == cells[:4]
    assert list(ours.queue) == [cells[7], *cells[4:7]]
    # Queues that differ by one are even enough.
    assert balance(ours, (busy, ours, other)) == 0
    assert balance(other, (_worker("two", cells[:2]), other)) == 1


def test_find_work_evens_queues_out_only_when_looking_outside_finds_nothing() -> None:
    cells: list[Any] = [Cell(f"c{i}") for i in range(6)]
    busy = _worker("busy", cells[:6])
    ours = _worker("ours", [])
    workers = (busy, ours)
    outside: deque[Runnable] = deque()
    # Our own queue is empty: looking outside first takes half of busy's (3),
    # runs the oldest of them and keeps the rest.
    assert find_work(ours, workers, outside, inject_first=True) is cells[3]
    assert list(ours.queue) == cells[4:6]
    assert ours.steals == 1
    # A cell from outside comes first, and nothing is moved then.
    outside.append(cells[0])
    assert find_work(ours, workers, outside, inject_first=True) is cells[0]
    assert list(ours.queue) == cells[4:6]
