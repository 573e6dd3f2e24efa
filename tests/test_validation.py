"""Misuse of the public API raises TypeError / ValueError naming the bad value.

After every rejected call, the same system still spawns and answers.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

import pytest
from support import WAIT, Counter, Echo, assert_clean_shutdown, system_threads

from backstage_threads import (
    ActorInitializationError,
    ActorRef,
    ActorSystem,
    Overflow,
    SupervisorStrategy,
    default_decider,
)


def assert_still_works(system: ActorSystem) -> None:
    ref = system.spawn(Counter)
    assert ref.ask(3, timeout=WAIT) == 3


@pytest.mark.parametrize(
    ("options", "error", "bad"),
    [
        pytest.param({"capacity": 0}, ValueError, 0, id="capacity-0"),
        pytest.param({"capacity": -1}, ValueError, -1, id="capacity-negative"),
        pytest.param({"capacity": 1.5}, TypeError, 1.5, id="capacity-float"),
        pytest.param({"capacity": True}, TypeError, True, id="capacity-bool"),
        pytest.param({"capacity": "8"}, TypeError, "8", id="capacity-str"),
        pytest.param({"overflow": "block"}, TypeError, "block", id="overflow-str"),
        pytest.param({"overflow": None}, TypeError, None, id="overflow-none"),
        pytest.param({"pinned": "yes"}, TypeError, "yes", id="pinned-str"),
        pytest.param({"name": ""}, ValueError, "", id="name-empty"),
        pytest.param({"name": "a/b"}, ValueError, "a/b", id="name-slash"),
        pytest.param({"name": "$x"}, ValueError, "$x", id="name-reserved"),
        pytest.param({"name": ".hidden"}, ValueError, ".hidden", id="name-dot"),
        pytest.param({"name": "a b"}, ValueError, "a b", id="name-space"),
        pytest.param({"name": 5}, TypeError, 5, id="name-int"),
    ],
)
def test_spawn_rejects_bad_options(
    system: ActorSystem, options: dict[str, Any], error: type[Exception], bad: Any
) -> None:
    with pytest.raises(error) as excinfo:
        system.spawn(Echo, **options)
    assert type(excinfo.value) is error
    assert repr(bad) in str(excinfo.value)
    assert_still_works(system)


@pytest.mark.parametrize(
    "bad", [None, 42, "Counter", Counter()], ids=["None", "int", "str", "instance"]
)
def test_spawn_rejects_a_non_callable_factory(system: ActorSystem, bad: Any) -> None:
    with pytest.raises(TypeError) as excinfo:
        system.spawn(bad)
    assert repr(bad) in str(excinfo.value)
    assert_still_works(system)


@pytest.mark.parametrize("bad", [-1, -0.001, math.nan, math.inf, "1", True], ids=repr)
@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda s, ref, t: ref.ask("x", timeout=t), id="ask"),
        pytest.param(lambda s, ref, t: ref.tell("x", timeout=t), id="tell"),
        pytest.param(lambda s, ref, t: ref.wait_stopped(timeout=t), id="wait_stopped"),
        pytest.param(lambda s, ref, t: s.wait_terminated(timeout=t), id="wait_terminated"),
    ],
)
def test_timeouts_must_be_finite_non_negative_numbers(
    system: ActorSystem,
    call: Callable[[ActorSystem, ActorRef[Any], Any], Any],
    bad: Any,
) -> None:
    ref = system.spawn(Echo)
    expected = TypeError if isinstance(bad, (str, bool)) else ValueError
    with pytest.raises(expected) as excinfo:
        call(system, ref, bad)
    assert repr(bad) in str(excinfo.value)
    # A rejected call sent nothing.
    assert system.dead_letters.count == 0
    assert ref.ask("still here", timeout=WAIT) == "still here"
    assert_still_works(system)


@pytest.mark.parametrize(
    ("options", "error", "bad"),
    [
        pytest.param({"workers": 0}, ValueError, 0, id="workers-0"),
        pytest.param({"workers": -2}, ValueError, -2, id="workers-negative"),
        pytest.param({"workers": 1.5}, TypeError, 1.5, id="workers-float"),
        pytest.param({"workers": True}, TypeError, True, id="workers-bool"),
        pytest.param({"budget": 0}, ValueError, 0, id="budget-0"),
        pytest.param({"budget": -8}, ValueError, -8, id="budget-negative"),
        pytest.param({"budget": "64"}, TypeError, "64", id="budget-str"),
        pytest.param({"shutdown_timeout": -1}, ValueError, -1, id="shutdown-timeout"),
        pytest.param({"dead_letter_history": -1}, ValueError, -1, id="history"),
        pytest.param({"name": ""}, ValueError, "", id="system-name"),
    ],
)
def test_actor_system_rejects_bad_options(
    options: dict[str, Any], error: type[Exception], bad: Any
) -> None:
    before = system_threads()
    with pytest.raises(error) as excinfo:
        ActorSystem(**options)
    assert type(excinfo.value) is error
    assert repr(bad) in str(excinfo.value)
    assert system_threads() == before  # no thread started for a rejected system


@pytest.mark.parametrize("bad", [-1, math.nan, "soon"], ids=repr)
def test_shutdown_rejects_a_bad_timeout(system: ActorSystem, bad: Any) -> None:
    with pytest.raises((TypeError, ValueError)) as excinfo:
        system.shutdown(bad)
    assert repr(bad) in str(excinfo.value)
    assert_still_works(system)


def test_rejected_child_spawn_inside_an_actor_leaves_the_parent_working(
    system: ActorSystem,
) -> None:
    class Parent(Echo):
        def receive(self, message: Any) -> Any:
            try:
                self.context.spawn(Echo, capacity=0)
            except ValueError as exc:
                return str(exc)
            return "spawned"

    ref = system.spawn(Parent)
    assert "got 0" in ref.ask("go", timeout=WAIT)
    assert ref.ask("again", timeout=WAIT) == ref.ask("go", timeout=WAIT)
    assert_still_works(system)


@pytest.mark.parametrize("returned", [42, None, "actor", Echo], ids=repr)
def test_factory_returning_a_non_actor_fails_the_actor(returned: Any) -> None:
    # The start fails with an ActorInitializationError whose cause is a
    # TypeError naming the value; the default decider stops that actor (a
    # factory that cannot build an actor is not retried). Messages sent to it
    # become dead letters, and the rest of the system carries on.
    seen: list[Exception] = []

    def decider(error: Exception) -> Any:
        seen.append(error)
        return default_decider(error)

    system = ActorSystem(workers=2, guardian_strategy=SupervisorStrategy(decider))
    dead = threading.Event()
    # A tell that races the stop can land in the queue just after the stop's
    # drain; the stopped actor's dispatcher dead-letters it a moment after
    # wait_stopped() returns, so wait for the dead letter itself.
    system.dead_letters.subscribe(
        lambda letter: dead.set() if letter.message == "never processed" else None
    )
    try:
        bad = system.spawn(lambda: returned, name="bad")
        bad.tell("never processed")
        assert bad.wait_stopped(timeout=WAIT)
        assert dead.wait(WAIT)
        assert not bad.is_alive
        assert len(seen) == 1 and isinstance(seen[0], ActorInitializationError)
        cause = seen[0].__cause__
        assert isinstance(cause, TypeError)
        assert repr(returned) in str(cause)
        assert "not an Actor" in str(cause)
        letters = [dl for dl in system.dead_letters.recent() if dl.recipient == bad]
        assert [dl.message for dl in letters] == ["never processed"]
        assert system.failure is None
        assert system.spawn(Echo).ask("still works", timeout=WAIT) == "still works"
    finally:
        assert_clean_shutdown(system)


def test_overflow_accepts_every_member(system: ActorSystem) -> None:
    refs = [system.spawn(Echo, capacity=2, overflow=o) for o in Overflow]
    assert [r.ask(o.name, timeout=WAIT) for r, o in zip(refs, Overflow)] == [
        o.name for o in Overflow
    ]
