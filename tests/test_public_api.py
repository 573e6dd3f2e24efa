"""The public surface: what is exported, where it says it lives, the version, the seams."""

from __future__ import annotations

import importlib.metadata
import inspect
import queue
import threading
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
from support import WAIT, Echo

import backstage_threads
import backstage_threads.aio
import backstage_threads.testing
from backstage_threads import Actor, ActorSystem, Clock, MonotonicClock
from backstage_threads._version import __version__ as written_version
from backstage_threads.testing import (
    DeterministicScheduler,
    DeterministicSystem,
    ManualClock,
    deterministic_system,
)

ROOT = Path(__file__).resolve().parent.parent


def _classes_and_functions(module: Any) -> list[tuple[str, Any]]:
    return [
        (name, obj)
        for name in module.__all__
        if inspect.isclass(obj := getattr(module, name)) or inspect.isfunction(obj)
    ]


def test_every_public_class_and_function_says_it_is_from_the_package() -> None:
    public = _classes_and_functions(backstage_threads)
    assert len(public) > 30
    assert {name: obj.__module__ for name, obj in public} == {
        name: "backstage_threads" for name, _ in public
    }


def test_the_testing_kit_and_aio_exports_say_their_own_module() -> None:
    kit = _classes_and_functions(backstage_threads.testing)
    assert {name: obj.__module__ for name, obj in kit} == {
        name: "backstage_threads.testing" for name, _ in kit
    }
    aio = dict(_classes_and_functions(backstage_threads.aio))
    assert aio["AsyncActor"] is backstage_threads.AsyncActor
    assert aio.pop("AsyncActor").__module__ == "backstage_threads"  # a re-export
    assert {obj.__module__ for obj in aio.values()} == {"backstage_threads.aio"}


@pytest.mark.parametrize("name", ["HOOK_TIMEOUT", "Decider", "Decision", "Dispatcher"])
def test_what_the_readme_documents_is_exported(name: str) -> None:
    assert name in backstage_threads.__all__
    assert f"`{name}`" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_version_is_written_once_and_the_metadata_agrees() -> None:
    assert backstage_threads.__version__ == written_version
    assert importlib.metadata.version("backstage_threads") == written_version
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["hatch"]["version"]["path"] == "backstage_threads/_version.py"


def test_both_clocks_are_clocks_and_say_who_fires_the_timers() -> None:
    manual, real = ManualClock(), MonotonicClock()
    assert isinstance(manual, Clock)
    assert isinstance(real, Clock)

    class Timers:
        def next_due(self) -> float | None:
            return None

        def fire_due(self) -> int:
            return 0

    assert real.attach(Timers()) is False  # the timer service's thread fires
    assert manual.attach(Timers()) is True  # advance() fires


def test_a_clock_without_attach_is_refused_by_name() -> None:
    class NowOnly:
        def now(self) -> float:
            return 0.0

        def __repr__(self) -> str:
            return "<NowOnly clock>"

    with pytest.raises(TypeError, match=r"clock must be a Clock .*<NowOnly clock>"):
        ActorSystem(workers=1, clock=NowOnly())  # type: ignore[arg-type]


def test_a_custom_clock_that_moves_by_itself_gets_a_timer_thread() -> None:
    # A clock other than MonotonicClock used to get no timer thread (only a
    # getattr probe for the manual clock's attach): its timers never fired.
    class Shifted:
        """Real time, an hour ahead."""

        def now(self) -> float:
            return time.monotonic() + 3600.0

        def attach(self, timers: object) -> bool:
            return False

    fired: queue.Queue[Any] = queue.Queue()

    class Timed(Actor[Any]):
        def on_start(self) -> None:
            self.context.send_after(0.0, "due")

        def receive(self, message: Any) -> Any:
            fired.put(message)

    with ActorSystem(workers=1, clock=Shifted()) as system:
        system.spawn(Timed)
        assert fired.get(timeout=WAIT) == "due"
        assert any(t.name.endswith("-timers") for t in threading.enumerate())


def test_deterministic_system_hands_back_the_system_its_clock_and_its_scheduler() -> None:
    kit = deterministic_system(seed=9)
    assert isinstance(kit, DeterministicSystem)
    system, clock, scheduler = kit
    assert (kit.system, kit.clock, kit.scheduler) == (system, clock, scheduler)
    assert isinstance(clock, ManualClock)
    assert isinstance(scheduler, DeterministicScheduler)
    assert scheduler.seed == 9
    with system:
        ref = system.spawn(Echo)
        ref.tell("x")
        assert scheduler.run_until_idle() >= 1
