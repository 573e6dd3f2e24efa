"""The dead-letter office: subscribe, exact count, snapshot, cancel, history bound."""

from __future__ import annotations

from typing import Any

import pytest
from support import WAIT, DeadLetterLog, Echo, assert_clean_shutdown

from backstage_threads import ActorRef, ActorSystem, DeadLetter, DeadLetters, Subscription


def stopped_actor(system: ActorSystem, name: str = "gone") -> ActorRef[Any]:
    ref = system.spawn(Echo, name=name)
    ref.stop()
    assert ref.wait_stopped(timeout=WAIT)
    return ref


def test_subscriber_receives_every_dead_letter(system: ActorSystem) -> None:
    ref = stopped_actor(system)
    letters = DeadLetterLog()
    subscription = system.dead_letters.subscribe(letters)
    assert isinstance(subscription, Subscription)
    for i in range(100):
        ref.tell(i)
    got = letters.snapshot()
    assert [dl.message for dl in got] == list(range(100))
    assert all(isinstance(dl, DeadLetter) for dl in got)
    assert all(dl.recipient == ref for dl in got)
    assert {dl.reason for dl in got} == {"actor stopped"}
    assert {dl.path for dl in got} == {"/user/gone"}
    assert system.dead_letters.count == 100


def test_recent_is_oldest_first_and_iterable(system: ActorSystem) -> None:
    ref = stopped_actor(system)
    for message in ("a", "b", "c"):
        ref.tell(message)
    recent = system.dead_letters.recent()
    assert isinstance(recent, tuple)
    assert [dl.message for dl in recent] == ["a", "b", "c"]
    assert [dl.message for dl in system.dead_letters] == ["a", "b", "c"]
    assert recent[0] == DeadLetter(ref, "a", "actor stopped")


def test_cancel_stops_delivery_but_not_counting(system: ActorSystem) -> None:
    ref = stopped_actor(system)
    kept = DeadLetterLog()
    cancelled = DeadLetterLog()
    system.dead_letters.subscribe(kept)
    subscription = system.dead_letters.subscribe(cancelled)
    ref.tell(1)
    subscription.cancel()
    subscription.cancel()  # idempotent
    ref.tell(2)
    with system.dead_letters.subscribe(cancelled):
        ref.tell(3)
    ref.tell(4)
    assert [dl.message for dl in kept.snapshot()] == [1, 2, 3, 4]
    assert [dl.message for dl in cancelled.snapshot()] == [1, 3]
    assert system.dead_letters.count == 4


def test_a_failing_subscriber_does_not_stop_the_others(system: ActorSystem) -> None:
    ref = stopped_actor(system)
    calls: list[Any] = []

    def bad(letter: DeadLetter) -> None:
        calls.append(letter.message)
        raise RuntimeError("subscriber bug")

    good = DeadLetterLog()
    system.dead_letters.subscribe(bad)
    system.dead_letters.subscribe(good)
    ref.tell("x")
    ref.tell("y")
    assert calls == ["x", "y"]
    assert [dl.message for dl in good.snapshot()] == ["x", "y"]
    assert system.dead_letters.count == 2


def test_history_is_bounded_but_the_count_is_exact() -> None:
    system = ActorSystem(workers=1, dead_letter_history=5)
    try:
        ref = stopped_actor(system)
        seen = DeadLetterLog()
        system.dead_letters.subscribe(seen)
        for i in range(50):
            ref.tell(i)
        assert [dl.message for dl in system.dead_letters.recent()] == list(range(45, 50))
        assert [dl.message for dl in system.dead_letters] == list(range(45, 50))
        assert system.dead_letters.count == 50
        # No len(): it could not say whether it means the total or the history.
        assert not hasattr(system.dead_letters, "__len__")
        assert len(seen.snapshot()) == 50
        assert system.statistics().dead_letters == 50
    finally:
        assert_clean_shutdown(system)


def test_record_without_recipient_has_a_dash_path() -> None:
    office = DeadLetters(history=2)
    office.record(None, "orphan", "no recipient")
    (letter,) = office.recent()
    assert letter.path == "-"
    assert (letter.recipient, letter.message, letter.reason) == (None, "orphan", "no recipient")


@pytest.mark.parametrize("bad", [None, 42, "callback"])
def test_subscribe_rejects_a_non_callable(system: ActorSystem, bad: Any) -> None:
    with pytest.raises(TypeError) as excinfo:
        system.dead_letters.subscribe(bad)
    assert repr(bad) in str(excinfo.value)


@pytest.mark.parametrize("bad", [-1, 1.5, "10"])
def test_history_must_be_a_non_negative_int(bad: Any) -> None:
    with pytest.raises(ValueError) as excinfo:
        DeadLetters(history=bad)
    assert repr(bad) in str(excinfo.value)
