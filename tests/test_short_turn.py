"""The short turn of a plain running actor: its first message inline, then the rest.

A plain actor's turn takes its first message without calling `_process` (the
per-hop path of a ping-pong). These tests pin what must not change with that:
the budget, the end of a turn at a failure, and asks as the first message.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import pytest

from backstage_threads import Actor, ActorSystem
from backstage_threads.testing import DeterministicScheduler, ManualClock


class Recorder(Actor[Any]):
    """Records (incarnation, message); raises on "boom"; answers asks with the message."""

    incarnations = 0

    def __init__(self, log: list[tuple[int, Any]]) -> None:
        Recorder.incarnations += 1
        self.incarnation = Recorder.incarnations
        self.log = log

    def receive(self, message: Any) -> Any:
        self.log.append((self.incarnation, message))
        if message == "boom":
            raise ValueError("boom")
        return message


def _system(budget: int) -> tuple[ActorSystem, DeterministicScheduler]:
    scheduler = DeterministicScheduler(seed=1, budget=budget)
    return ActorSystem("short", dispatcher=scheduler, clock=ManualClock()), scheduler


def _warm(system: ActorSystem, scheduler: DeterministicScheduler, log: list[Any]) -> Any:
    """A started actor whose next turns are short ones (its first turn was a full one)."""
    ref = system.spawn(lambda: Recorder(log), name="recorder")
    ref.tell("warm")
    scheduler.run_until_idle()
    log.clear()
    return ref


@pytest.mark.parametrize(("budget", "per_turn"), [(1, [1, 1, 1]), (2, [2, 1]), (64, [3])])
def test_a_short_turn_keeps_to_the_budget(budget: int, per_turn: list[int]) -> None:
    system, scheduler = _system(budget)
    with system:
        log: list[Any] = []
        ref = _warm(system, scheduler, log)
        for message in ("a", "b", "c"):
            ref.tell(message)
        ran = []
        while scheduler.idle is False:
            before = scheduler.messages
            scheduler.run_once()
            ran.append(scheduler.messages - before)
        assert ran == per_turn
        assert [message for _, message in log] == ["a", "b", "c"]


def test_a_failure_in_the_first_message_ends_the_short_turn() -> None:
    system, scheduler = _system(64)
    with system:
        log: list[Any] = []
        ref = _warm(system, scheduler, log)
        first = Recorder.incarnations
        ref.tell("boom")
        ref.tell("after")
        before = scheduler.messages
        scheduler.run_once()
        assert scheduler.messages - before == 1  # "after" waits for the directive
        scheduler.run_until_idle()
        # The supervisor restarted it before "after" was handed to receive.
        assert log == [(first, "boom"), (first + 1, "after")]


def test_an_ask_as_the_first_message_is_answered_and_a_failing_one_ends_the_turn() -> None:
    system, scheduler = _system(64)
    with system:
        log: list[Any] = []
        ref = _warm(system, scheduler, log)
        answer: Future[Any] = ref.ask_future("question")
        scheduler.run_until_idle()
        assert answer.result(timeout=0) == "question"

        failed: Future[Any] = ref.ask_future("boom")
        ref.tell("after")
        before = scheduler.messages
        scheduler.run_once()
        assert scheduler.messages - before == 1
        with pytest.raises(ValueError, match="boom"):
            failed.result(timeout=0)
        scheduler.run_until_idle()
        assert [message for _, message in log] == ["question", "boom", "after"]
        assert log[-1][0] == log[-2][0] + 1  # restarted in between
