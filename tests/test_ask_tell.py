"""tell / ask / ask_future, ActorRef identity and the context API."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import pytest
from support import (
    WAIT,
    Counter,
    DeadLetterLog,
    Echo,
    Recorder,
    spawn_held,
    system_threads,
)

from backstage_threads import (
    Actor,
    ActorRef,
    ActorStoppedError,
    ActorSystem,
    AskTimeoutError,
    DeadlockError,
    Overflow,
)


def test_readme_example() -> None:
    with ActorSystem(workers=2) as system:
        ref = system.spawn(Counter, name="counter", capacity=1000, overflow=Overflow.BLOCK)
        ref.tell(5)
        assert ref.ask(1, timeout=1.0) == 6
        assert ref.ask_future(1).result(timeout=1) == 7
        ref.stop()
        assert ref.wait_stopped(timeout=1.0) is True
        assert not ref.is_alive
    assert system_threads() == []


def test_spawn_accepts_class_and_zero_arg_factory(system: ActorSystem) -> None:
    from_class = system.spawn(Counter, name="from-class")
    from_lambda = system.spawn(lambda: Counter(), name="from-lambda")  # noqa: PLW0108
    from_lambda.tell(10)
    assert from_class.ask(2, timeout=WAIT) == 2
    assert from_lambda.ask(2, timeout=WAIT) == 12


def test_factory_is_called_for_each_spawn(system: ActorSystem) -> None:
    instances: list[Counter] = []

    def factory() -> Counter:
        actor = Counter()
        instances.append(actor)
        return actor

    a = system.spawn(factory)
    b = system.spawn(factory)
    assert a.ask(1, timeout=WAIT) == 1
    assert b.ask(1, timeout=WAIT) == 1
    assert len(instances) == 2
    assert instances[0] is not instances[1]


def test_actor_ref_identity_ordering_and_repr(system: ActorSystem) -> None:
    b = system.spawn(Echo, name="b")
    a = system.spawn(Echo, name="a")
    assert a.path == "/user/a"
    assert a.name == "a"
    assert repr(a) == "<ActorRef /user/a>"
    same = system.lookup("/user/a")
    assert same is not None
    assert same == a
    assert hash(same) == hash(a)
    assert a != b
    assert a != "/user/a"
    assert {a, b, same} == {a, b}
    assert len({a, b, same}) == 2
    assert sorted([b, a]) == [a, b]
    assert a < b
    assert not b < a


def test_generated_names_are_unique(system: ActorSystem) -> None:
    refs = [system.spawn(Echo) for _ in range(20)]
    names = [ref.name for ref in refs]
    assert len(set(names)) == 20
    assert all(name.startswith("$") for name in names)
    assert all(ref.path == f"/user/{ref.name}" for ref in refs)


class ContextProbe(Actor[str]):
    def receive(self, message: str) -> Any:
        ctx = self.context
        if message == "info":
            parent = ctx.parent
            return (ctx.self, ctx.path, ctx.name, parent.path if parent else None, ctx.system)
        if message == "spawn-child":
            return ctx.spawn(ContextProbe, name="b")
        if message == "children":
            return ctx.children
        if message == "stop-self":
            ctx.stop()
            return "stopping"
        raise ValueError(message)


def test_context_self_parent_system_and_children(system: ActorSystem) -> None:
    a = system.spawn(ContextProbe, name="a")
    me, path, name, parent_path, sys_ = a.ask("info", timeout=WAIT)
    assert me == a
    assert (path, name, parent_path) == ("/user/a", "a", "/user")
    assert sys_ is system

    b = a.ask("spawn-child", timeout=WAIT)
    assert isinstance(b, ActorRef)
    assert b.path == "/user/a/b"
    me_b, path_b, _, parent_b, _ = b.ask("info", timeout=WAIT)
    assert me_b == b
    assert (path_b, parent_b) == ("/user/a/b", "/user/a")
    assert a.ask("children", timeout=WAIT) == (b,)
    assert system.lookup("/user/a/b") == b


def test_context_stop_stops_the_actor_after_the_message_in_hand(system: ActorSystem) -> None:
    a = system.spawn(ContextProbe, name="a")
    assert a.ask("stop-self", timeout=WAIT) == "stopping"
    assert a.wait_stopped(timeout=WAIT) is True
    assert not a.is_alive


def test_actor_created_outside_spawn_has_no_context() -> None:
    with pytest.raises(RuntimeError, match="no context"):
        _ = ContextProbe().context


# -- ask -------------------------------------------------------------------------------


def test_ask_returns_the_reply_and_tell_is_processed_in_order(system: ActorSystem) -> None:
    ref = system.spawn(Recorder)
    for i in range(100):
        ref.tell(i)
    assert ref.ask("log", timeout=WAIT) == list(range(100))


def test_ask_timeout_raises_ask_timeout_error_and_the_message_is_still_processed(
    system: ActorSystem,
) -> None:
    ref, latch, log, lock = spawn_held(system)
    with pytest.raises(AskTimeoutError) as excinfo:
        ref.ask("late", timeout=0.05)
    assert isinstance(excinfo.value, TimeoutError)
    assert "/user/" in str(excinfo.value)
    latch.release.set()
    assert ref.ask("flush", timeout=WAIT) == "flush"
    with lock:
        assert log == ["first", "late", "flush"]


class Failing(Actor[Any]):
    def __init__(self, error: Exception) -> None:
        self.error = error

    def receive(self, message: Any) -> Any:
        if message == "ok":
            return "fine"
        raise self.error


@pytest.mark.parametrize("message", ["boom", 42, ("a", 1), None])
def test_exception_in_receive_fails_the_ask_and_dead_letters_the_message(
    system: ActorSystem, message: Any
) -> None:
    error = KeyError("broken")
    letters = DeadLetterLog()
    system.dead_letters.subscribe(letters)
    ref = system.spawn(lambda: Failing(error))
    with pytest.raises(KeyError) as excinfo:
        ref.ask(message, timeout=WAIT)
    assert excinfo.value is error
    # The default supervisor restarts it; it keeps working.
    assert ref.ask("ok", timeout=WAIT) == "fine"
    # The failed message is a dead letter (also when the message is None).
    got = letters.snapshot()
    assert [(dl.recipient, dl.message) for dl in got] == [(ref, message)]
    assert got[0].reason.startswith("failed")
    assert "KeyError" in got[0].reason
    assert system.dead_letters.count == 1


def test_exception_in_receive_fails_the_ask_future_with_the_same_exception(
    system: ActorSystem,
) -> None:
    error = ValueError("bad value")
    ref = system.spawn(lambda: Failing(error))
    future = ref.ask_future("boom")
    assert future.exception(timeout=WAIT) is error
    assert ref.ask_future("ok").result(timeout=WAIT) == "fine"


def test_ask_stopped_actor_raises_actor_stopped_error(system: ActorSystem) -> None:
    ref = system.spawn(Echo)
    ref.stop()
    assert ref.wait_stopped(timeout=WAIT)
    with pytest.raises(ActorStoppedError):
        ref.ask("hello", timeout=WAIT)
    future = ref.ask_future("hello-future")
    assert isinstance(future.exception(timeout=WAIT), ActorStoppedError)
    letters = system.dead_letters.recent()
    assert [dl.message for dl in letters] == ["hello", "hello-future"]
    assert all(dl.recipient == ref and dl.reason == "actor stopped" for dl in letters)


class SelfAsker(Actor[str]):
    def receive(self, message: str) -> Any:
        if message == "ask-self":
            try:
                self.context.self.ask("inner", timeout=1.0)
            except DeadlockError as exc:
                return ("deadlock", str(exc))
            return ("no error", "")
        if message == "future-self":
            future = self.context.self.ask_future("inner")
            return isinstance(future, Future)
        return message


def test_ask_yourself_from_receive_raises_deadlock_error(system: ActorSystem) -> None:
    ref = system.spawn(SelfAsker, name="narcissus")
    kind, text = ref.ask("ask-self", timeout=WAIT)
    assert kind == "deadlock"
    assert "/user/narcissus" in text
    # A future to yourself does not wait, so it is allowed.
    assert ref.ask("future-self", timeout=WAIT) is True
    assert ref.ask("after", timeout=WAIT) == "after"


def test_ask_future_fails_with_actor_stopped_error_for_messages_left_at_stop(
    system: ActorSystem,
) -> None:
    ref, latch, log, lock = spawn_held(system)
    futures = [ref.ask_future(i) for i in range(3)]
    ref.stop()
    latch.release.set()
    assert ref.wait_stopped(timeout=WAIT)
    for future in futures:
        assert isinstance(future.exception(timeout=WAIT), ActorStoppedError)
    with lock:
        assert log == ["first"]
    letters = system.dead_letters.recent()
    assert [dl.message for dl in letters] == [0, 1, 2]
    assert {dl.reason for dl in letters} == {"actor stopped"}


def test_cancelled_ask_future_does_not_break_the_actor(system: ActorSystem) -> None:
    ref, latch, log, lock = spawn_held(system)
    future = ref.ask_future("cancelled")
    assert future.cancel() is True
    latch.release.set()
    assert ref.ask("next", timeout=WAIT) == "next"
    with lock:
        assert log == ["first", "cancelled", "next"]
