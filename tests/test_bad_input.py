"""One table of bad input over the public API: a clear error of a documented type
naming the bad value, and the system still works afterwards."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from backstage_threads import (
    Actor,
    ActorRef,
    ActorSystem,
    ActorSystemClosedError,
    DeadlockError,
    DuplicateNameError,
    SupervisorStrategy,
)


class Echo(Actor[Any]):
    def receive(self, message: Any) -> Any:
        if isinstance(message, tuple) and message and message[0] == "call":
            return message[1](self.context)
        return message


def _ask_self(ref: ActorRef[Any]) -> Any:
    return ref.ask(("call", lambda ctx: ctx.self.ask("me", timeout=1)), timeout=5)


CASES: list[tuple[str, Callable[[ActorSystem, ActorRef[Any]], Any], type[BaseException], str]] = [
    ("capacity zero", lambda s, r: s.spawn(Echo, capacity=0), ValueError, "0"),
    ("capacity negative", lambda s, r: s.spawn(Echo, capacity=-5), ValueError, "-5"),
    ("unknown overflow", lambda s, r: s.spawn(Echo, overflow="spill"), TypeError, "'spill'"),
    ("non-callable factory", lambda s, r: s.spawn(42), TypeError, "42"),  # type: ignore[arg-type]
    ("duplicate sibling", lambda s, r: s.spawn(Echo, name="taken"), DuplicateNameError, "'taken'"),
    ("bad name", lambda s, r: s.spawn(Echo, name="a/b"), ValueError, "'a/b'"),
    ("relative path", lambda s, r: s.lookup("user/taken"), ValueError, "'user/taken'"),
    ("malformed path", lambda s, r: s.lookup("/user//taken"), ValueError, "'/user//taken'"),
    ("negative ask timeout", lambda s, r: r.ask(1, timeout=-1), ValueError, "-1"),
    ("negative tell timeout", lambda s, r: r.tell(1, timeout=-0.5), ValueError, "-0.5"),
    ("negative wait", lambda s, r: r.wait_stopped(timeout=-2), ValueError, "-2"),
    (
        "negative delay",
        lambda s, r: r.ask(("call", lambda ctx: ctx.send_after(-3, "x")), timeout=5),
        ValueError,
        "-3",
    ),
    (
        "zero period",
        lambda s, r: r.ask(("call", lambda ctx: ctx.send_every(0, "x")), timeout=5),
        ValueError,
        "0",
    ),
    ("ask yourself", lambda s, r: _ask_self(r), DeadlockError, "asked itself"),
    ("bad strategy", lambda s, r: SupervisorStrategy(max_restarts=-1), ValueError, "-1"),
]


@pytest.mark.parametrize(("case", "call", "error", "names"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_rejected_clearly_and_harmlessly(
    case: str,
    call: Callable[[ActorSystem, ActorRef[Any]], Any],
    error: type[BaseException],
    names: str,
) -> None:
    with ActorSystem(workers=2) as system:
        ref = system.spawn(Echo, name="taken")
        with pytest.raises(error) as info:
            call(system, ref)
        assert names in str(info.value), f"{case}: {info.value}"
        # Nothing was corrupted: a valid call still works.
        assert ref.ask("still fine", timeout=5) == "still fine"
        assert system.spawn(Echo).ask("new", timeout=5) == "new"


def test_sending_and_spawning_after_shutdown() -> None:
    system = ActorSystem(workers=1)
    ref = system.spawn(Echo)
    assert system.shutdown(5).clean
    with pytest.raises(ActorSystemClosedError, match="shut down"):
        ref.tell("late")
    with pytest.raises(ActorSystemClosedError, match="shut down"):
        system.spawn(Echo)
    assert [d.message for d in system.dead_letters.recent()] == ["late"]
