"""spawn's input: constructor arguments, non-Actor classes, context in __init__, ref.status."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from support import WAIT

from backstage_threads import (
    Actor,
    ActorInitializationError,
    ActorRef,
    ActorSystem,
    Application,
    ServiceStatus,
)
from backstage_threads.testing import DeterministicScheduler, ManualClock, deterministic_system


class Greeter(Actor[Any]):
    """Built with positional and keyword arguments; replies with them."""

    instances = 0  # counted under _lock, across restarts
    _lock = threading.Lock()

    def __init__(self, greeting: str, target: str, *, punctuation: str = ".") -> None:
        self.text = f"{greeting}, {target}{punctuation}"
        with Greeter._lock:
            Greeter.instances += 1

    def receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("crash")
        return self.text


class NotAnActor:
    def receive(self, message: Any) -> Any:
        return message


def test_spawn_passes_positional_and_keyword_arguments(system: ActorSystem) -> None:
    ref = system.spawn(Greeter, "Hello", "world", name="g", kwargs={"punctuation": "!"})
    assert ref.name == "g"
    assert ref.ask("?", timeout=WAIT) == "Hello, world!"


def test_constructor_arguments_are_used_again_on_restart(system: ActorSystem) -> None:
    options = {"punctuation": "?"}
    before = Greeter.instances
    ref = system.spawn(Greeter, "Hi", "there", kwargs=options)
    options["punctuation"] = "changed later"  # spawn copied the mapping
    with pytest.raises(RuntimeError, match="crash"):
        ref.ask("crash", timeout=WAIT)
    assert ref.ask("?", timeout=WAIT) == "Hi, there?"
    assert Greeter.instances == before + 2  # the restart built a second instance


def test_arguments_go_to_a_plain_factory_too(system: ActorSystem) -> None:
    def make(greeting: str, *, target: str) -> Greeter:
        return Greeter(greeting, target)

    ref = system.spawn(make, "Bye", kwargs={"target": "all"})
    assert ref.ask("?", timeout=WAIT) == "Bye, all."


def test_context_spawn_takes_arguments(system: ActorSystem) -> None:
    class Parent(Actor[Any]):
        def on_start(self) -> None:
            self.child = self.context.spawn(
                Greeter, "Hey", "kid", name="kid", kwargs={"punctuation": ";"}
            )

        def receive(self, message: Any) -> Any:
            return self.child

    child: ActorRef[Any] = system.spawn(Parent).ask("child", timeout=WAIT)
    assert child.path.endswith("/kid")
    assert child.ask("?", timeout=WAIT) == "Hey, kid;"


def test_application_add_takes_arguments() -> None:
    with ActorSystem(workers=1) as system:
        app = Application("argsapp", system=system)
        app.add("greeter", Greeter, "Yo", "app", kwargs={"punctuation": "~"})
        refs = app.start(WAIT)
        assert refs["greeter"].ask("?", timeout=WAIT) == "Yo, app~"
        app.stop(WAIT)


@pytest.mark.parametrize(
    "spawn",
    [
        lambda s: s.spawn(NotAnActor),
        lambda s: s.spawn(int),
        lambda s: Application("bad", system=s).add("x", NotAnActor),
    ],
    ids=["class", "builtin", "application"],
)
def test_a_class_that_is_not_an_actor_is_a_type_error_at_the_call(
    system: ActorSystem, spawn: Any
) -> None:
    before = system.status_tree()
    with pytest.raises(TypeError, match=r"(NotAnActor|int) is a class that does not derive"):
        spawn(system)
    assert system.status_tree().children == before.children  # nothing was spawned


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        (["punctuation"], r"kwargs must be a mapping.*\['punctuation'\]"),
        ({1: "x"}, "kwargs keys must be argument names"),
    ],
)
def test_bad_kwargs_is_a_type_error(system: ActorSystem, kwargs: Any, text: str) -> None:
    with pytest.raises(TypeError, match=text):
        system.spawn(Greeter, "a", "b", kwargs=kwargs)


def test_application_add_rejects_an_unknown_spawn_option() -> None:
    app = Application("opts")
    with pytest.raises(TypeError, match=r"unknown spawn option.*punctuation.*kwargs"):
        app.add("g", Greeter, "a", "b", punctuation="!")


def test_arguments_that_do_not_fit_fail_the_start() -> None:
    scheduler = DeterministicScheduler(1)
    with ActorSystem("det", dispatcher=scheduler, clock=ManualClock()) as system:
        failures: list[BaseException] = []

        class Parent(Actor[Any]):
            def on_start(self) -> None:
                self.context.spawn(Greeter, "only one")

            def on_child_failure(self, failure: Any) -> None:
                failures.append(failure.error)
                self.context.stop(failure.child)

            def receive(self, message: Any) -> Any:
                return message

        system.spawn(Parent)
        scheduler.run_until_idle()
        assert len(failures) == 1
        assert isinstance(failures[0], ActorInitializationError)
        assert isinstance(failures[0].__cause__, TypeError)


def test_context_in_init_says_to_use_on_start(system: ActorSystem) -> None:
    errors: list[BaseException] = []

    class EarlyBird(Actor[Any]):
        def __init__(self) -> None:
            try:
                _ = self.context
            except RuntimeError as exc:
                errors.append(exc)

        def receive(self, message: Any) -> Any:
            return message

    assert system.spawn(EarlyBird).ask("ok", timeout=WAIT) == "ok"
    (error,) = errors
    text = str(error)
    assert "after __init__ returns" in text and "on_start" in text
    assert "must be created by" not in text  # it was created by spawn


def test_ref_status_is_the_actors_current_status(system: ActorSystem) -> None:
    class Moody(Actor[Any]):
        def receive(self, message: Any) -> Any:
            self.context.set_status(message)
            return message

    ref = system.spawn(Moody)
    assert ref.ask(ServiceStatus.DEGRADED, timeout=WAIT) is ServiceStatus.DEGRADED
    assert ref.status is ServiceStatus.DEGRADED
    assert ref.ask(ServiceStatus.RUNNING, timeout=WAIT) is ServiceStatus.RUNNING
    assert ref.status is ServiceStatus.RUNNING
    ref.stop()
    assert ref.wait_stopped(WAIT)
    assert ref.status is ServiceStatus.STOPPED


def test_ref_status_on_the_manual_clock_sees_each_lifecycle_step() -> None:
    system, _, _ = deterministic_system(seed=2)
    with system:
        ref = system.spawn(Greeter, "a", "b")
        assert ref.status is ServiceStatus.STARTING  # no turn has run yet
        assert ref.ask("?", timeout=WAIT) == "a, b."
        assert ref.status is ServiceStatus.RUNNING
