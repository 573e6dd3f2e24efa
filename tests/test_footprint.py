"""An idle actor stays small: its mailbox gets a queue only with its first message.

Every mailbox starts on one shared queue that can hold nothing (see
``_mailbox._NO_QUEUE``); each way of sending must give the actor its own queue
on the first message and deliver it, under every overflow policy.
"""

from __future__ import annotations

import gc
import threading
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from support import WAIT, Recorder, Relay

from backstage_threads import ActorRef, ActorSystem, Overflow
from backstage_threads._mailbox import _NO_QUEUE
from backstage_threads.testing import deterministic_system

#: The issue's budget for an idle actor (tracemalloc bytes, after its first turn).
IDLE_BYTES = 1024

FIRST_SENDS: dict[str, Callable[[ActorRef[Any]], None]] = {
    "tell": lambda ref: ref.tell("first"),
    "tell with timeout": lambda ref: ref.tell("first", timeout=WAIT),
    "tell_nowait": lambda ref: ref.tell_nowait("first"),
    "ask_future": lambda ref: ref.ask_future("first").result(WAIT),
}


@pytest.mark.parametrize("overflow", list(Overflow))
@pytest.mark.parametrize("send", list(FIRST_SENDS))
def test_the_first_message_by_every_send_reaches_an_actor_that_had_none(
    system: ActorSystem, overflow: Overflow, send: str
) -> None:
    ref = system.spawn(Recorder, capacity=4, overflow=overflow)
    assert ref.ask_future("log").result(WAIT) == []  # started; that ask gave it a queue
    fresh = system.spawn(Recorder, capacity=4, overflow=overflow)
    FIRST_SENDS[send](fresh)
    assert fresh.ask("log", timeout=WAIT)[:1] == ["first"]
    assert system.dead_letters.count == 0


@pytest.mark.parametrize("overflow", list(Overflow))
def test_the_first_message_from_an_actor_reaches_an_actor_that_had_none(
    system: ActorSystem, overflow: Overflow
) -> None:
    target = system.spawn(Recorder, capacity=4, overflow=overflow)
    relay = system.spawn(Relay, target)
    relay.tell("first")
    assert relay.ask("flush", timeout=WAIT) == "flushed"
    assert target.ask("log", timeout=WAIT) == ["first"]


def test_the_first_message_reaches_an_actor_under_the_deterministic_scheduler() -> None:
    system, _, scheduler = deterministic_system(seed=7)
    with system:
        ref = system.spawn(Recorder, capacity=1, overflow=Overflow.BLOCK)
        scheduler.run_until_idle()
        ref.tell("first", timeout=WAIT)
        ref.tell("second", timeout=WAIT)  # full: this thread drives the turns for room
        assert ref.ask("log", timeout=WAIT) == ["first", "second"]


class Started(Recorder):
    def __init__(self, started: threading.Event) -> None:
        super().__init__()
        self.started = started

    def on_start(self) -> None:
        self.started.set()


def test_an_idle_actor_has_no_queue_of_its_own_until_its_first_message(
    system: ActorSystem,
) -> None:
    started = threading.Event()
    idle = system.spawn(Started, started)
    assert started.wait(WAIT)  # its first turn ran and gave it no queue
    assert idle._cell._queue is _NO_QUEUE
    idle.tell("first")
    assert idle._cell._queue is not _NO_QUEUE
    assert len(_NO_QUEUE) == 0  # nothing ever lands in the shared one


def test_an_idle_actor_costs_at_most_a_kilobyte() -> None:
    actors = 2_000
    with ActorSystem("footprint", workers=2) as system:
        system.spawn(Recorder).ask("log", timeout=WAIT)  # warm the system's own structures
        gc.collect()
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            refs = [system.spawn(Recorder) for _ in range(actors)]
            refs[-1].ask("log", timeout=WAIT)  # (the others have started or are about to)
            gc.collect()
            used = tracemalloc.get_traced_memory()[0] - base
        finally:
            tracemalloc.stop()
        per_actor = (used - refs.__sizeof__()) / actors
        assert per_actor <= IDLE_BYTES, f"{per_actor:.0f} B per idle actor"
