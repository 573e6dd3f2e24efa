"""Lifecycle: on_start / on_stop, stop order, names, lookup, default supervision."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from support import WAIT, DeadLetterLog, Echo, Latch, assert_clean_shutdown, spawn_full

from backstage_threads import (
    Actor,
    ActorRef,
    ActorSystem,
    BackstageError,
    DuplicateNameError,
)


class Journal:
    """A lock-guarded list shared by actors to record what happened, in order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: list[Any] = []

    def add(self, entry: Any) -> None:
        with self.lock:
            self.entries.append(entry)

    def snapshot(self) -> list[Any]:
        with self.lock:
            return list(self.entries)


class Lifecycle(Actor[Any]):
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def on_start(self) -> None:
        self.journal.add(("start", self.context.path))

    def receive(self, message: Any) -> Any:
        self.journal.add(("receive", self.context.path, message))
        if isinstance(message, tuple) and message[0] == "spawn":
            journal = self.journal
            return self.context.spawn(lambda: Lifecycle(journal), name=message[1])
        return message

    def on_stop(self) -> None:
        self.journal.add(("stop", self.context.path))


def test_on_start_runs_before_the_first_message(system: ActorSystem) -> None:
    journal = Journal()
    ref = system.spawn(lambda: Lifecycle(journal), name="a")
    ref.tell(1)
    assert ref.ask(2, timeout=WAIT) == 2
    assert journal.snapshot() == [
        ("start", "/user/a"),
        ("receive", "/user/a", 1),
        ("receive", "/user/a", 2),
    ]


def test_on_stop_runs_exactly_once() -> None:
    journal = Journal()
    system = ActorSystem(workers=2)
    ref = system.spawn(lambda: Lifecycle(journal), name="a")
    assert ref.ask("x", timeout=WAIT) == "x"
    ref.stop()
    ref.stop()  # idempotent
    assert ref.wait_stopped(timeout=WAIT)
    ref.stop()
    assert ref.wait_stopped(timeout=WAIT)
    assert_clean_shutdown(system)
    assert journal.snapshot().count(("stop", "/user/a")) == 1
    assert journal.snapshot()[-1] == ("stop", "/user/a")


def test_children_stop_before_parents(system: ActorSystem) -> None:
    journal = Journal()
    a = system.spawn(lambda: Lifecycle(journal), name="a")
    b = a.ask(("spawn", "b"), timeout=WAIT)
    c = a.ask(("spawn", "c"), timeout=WAIT)
    d = b.ask(("spawn", "d"), timeout=WAIT)
    assert [r.path for r in (b, c, d)] == ["/user/a/b", "/user/a/c", "/user/a/b/d"]
    a.stop()
    assert a.wait_stopped(timeout=WAIT)
    for ref in (b, c, d):
        assert not ref.is_alive
    stops = [entry[1] for entry in journal.snapshot() if entry[0] == "stop"]
    assert sorted(stops) == ["/user/a", "/user/a/b", "/user/a/b/d", "/user/a/c"]
    assert stops[-1] == "/user/a"
    assert stops.index("/user/a/b/d") < stops.index("/user/a/b")


def test_stopping_a_child_leaves_the_parent_running(system: ActorSystem) -> None:
    journal = Journal()
    a = system.spawn(lambda: Lifecycle(journal), name="a")
    b = a.ask(("spawn", "b"), timeout=WAIT)
    b.stop()
    assert b.wait_stopped(timeout=WAIT)
    assert a.is_alive
    assert a.ask("still here", timeout=WAIT) == "still here"
    assert system.lookup("/user/a/b") is None


def test_messages_sent_after_stop_are_dead_letters(system: ActorSystem) -> None:
    letters = DeadLetterLog()
    system.dead_letters.subscribe(letters)
    ref = system.spawn(Echo, name="gone")
    ref.stop()
    assert ref.wait_stopped(timeout=WAIT)
    ref.tell("late-1")  # no error: a message to a stopped actor is a dead letter
    ref.tell_nowait("late-2")
    ref.tell("late-3", timeout=0)
    got = letters.snapshot()
    assert [(dl.recipient, dl.message, dl.reason) for dl in got] == [
        (ref, "late-1", "actor stopped"),
        (ref, "late-2", "actor stopped"),
        (ref, "late-3", "actor stopped"),
    ]
    assert got[0].path == "/user/gone"
    assert system.dead_letters.count == 3


def test_pending_messages_at_stop_are_dead_letters(system: ActorSystem) -> None:
    letters = DeadLetterLog()
    system.dead_letters.subscribe(letters)
    ref, latch, log, lock = spawn_full(system, 3)
    ref.stop()
    latch.release.set()
    assert ref.wait_stopped(timeout=WAIT)
    with lock:
        assert log == ["first"]  # the message in hand completes; nothing after it
    got = letters.snapshot()
    assert [(dl.recipient, dl.message, dl.reason) for dl in got] == [
        (ref, 0, "actor stopped"),
        (ref, 1, "actor stopped"),
        (ref, 2, "actor stopped"),
    ]


def test_duplicate_sibling_name_raises(system: ActorSystem) -> None:
    journal = Journal()
    a = system.spawn(lambda: Lifecycle(journal), name="a")
    with pytest.raises(DuplicateNameError) as excinfo:
        system.spawn(Echo, name="a")
    assert isinstance(excinfo.value, ValueError)
    assert isinstance(excinfo.value, BackstageError)
    assert "'a'" in str(excinfo.value)
    # The same name under another parent is fine; a duplicate child is not.
    b = a.ask(("spawn", "a"), timeout=WAIT)
    assert b.path == "/user/a/a"
    with pytest.raises(DuplicateNameError):
        a.ask(("spawn", "a"), timeout=WAIT)
    # The original actor is untouched.
    assert system.lookup("/user/a") == a
    assert a.ask("ping", timeout=WAIT) == "ping"


def test_a_name_is_free_again_once_wait_stopped_returned(system: ActorSystem) -> None:
    # After wait_stopped() returned True the old actor is gone for good, so its
    # name must be available to a new sibling at once.
    duplicates = 0
    for i in range(1000):
        ref = system.spawn(Echo, name=f"n{i}")
        ref.stop()
        assert ref.wait_stopped(timeout=WAIT)
        try:
            system.spawn(Echo, name=f"n{i}")
        except DuplicateNameError:
            duplicates += 1
    assert duplicates == 0


def test_lookup_finds_actors_by_path(system: ActorSystem) -> None:
    journal = Journal()
    a = system.spawn(lambda: Lifecycle(journal), name="a")
    b = a.ask(("spawn", "b"), timeout=WAIT)
    assert system.lookup("/user/a") == a
    assert system.lookup("/user/a/b") == b
    assert system.lookup("/user/nope") is None
    assert system.lookup("/user/a/nope") is None
    assert system.lookup("/user/nope/b") is None
    b.stop()
    assert b.wait_stopped(timeout=WAIT)
    assert system.lookup("/user/a/b") is None


@pytest.mark.parametrize("path", ["user/a", "/a", "", "/user//a", "/user/a/", "/users/a"])
def test_lookup_rejects_malformed_paths(system: ActorSystem, path: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        system.lookup(path)
    assert repr(path) in str(excinfo.value)


# -- default supervision ---------------------------------------------------------------


class Fragile(Actor[str]):
    """Counts ``inc``; ``boom`` raises; the first ``hold`` blocks on the latch."""

    def __init__(self, journal: Journal, latch: Latch) -> None:
        self.journal = journal
        self.latch = latch
        self.count = 0

    def on_start(self) -> None:
        self.journal.add(("start", id(self)))

    def on_stop(self) -> None:
        self.journal.add(("stop", id(self)))

    def receive(self, message: str) -> Any:
        if message == "hold":
            self.latch.hold()
        elif message == "inc":
            self.count += 1
        elif message == "boom":
            raise RuntimeError("boom")
        elif message == "get":
            return self.count
        return None


def test_default_supervision_restarts_a_failed_actor(system: ActorSystem) -> None:
    journal = Journal()
    latch = Latch()
    latch.release.set()
    letters = DeadLetterLog()
    system.dead_letters.subscribe(letters)
    ref = system.spawn(lambda: Fragile(journal, latch), name="fragile")
    ref.tell("inc")
    ref.tell("inc")
    assert ref.ask("get", timeout=WAIT) == 2
    ref.tell("boom")
    # A new instance: the count starts again from zero.
    assert ref.ask("get", timeout=WAIT) == 0
    ref.tell("inc")
    assert ref.ask("get", timeout=WAIT) == 1
    assert ref.is_alive
    entries = journal.snapshot()
    assert [kind for kind, _ in entries] == ["start", "stop", "start"]
    first, second = entries[0][1], entries[2][1]
    assert entries[1][1] == first  # the old instance's on_stop ran
    assert first != second
    got = letters.snapshot()
    assert [(dl.recipient, dl.message) for dl in got] == [(ref, "boom")]
    assert got[0].reason.startswith("failed")


def test_restart_keeps_the_mailbox(system: ActorSystem) -> None:
    journal = Journal()
    latch = Latch()
    ref: ActorRef[str] = system.spawn(lambda: Fragile(journal, latch), pinned=True)
    ref.tell("hold")
    assert latch.entered.wait(WAIT)
    # Queued behind the failure while the actor is held.
    for message in ("inc", "boom", "inc", "inc", "inc"):
        ref.tell(message)
    latch.release.set()
    assert ref.ask("get", timeout=WAIT) == 3
    assert [kind for kind, _ in journal.snapshot()] == ["start", "stop", "start"]
    assert system.dead_letters.count == 1


class FailsOnStart(Actor[Any]):
    def __init__(self, attempts: list[int]) -> None:
        self.attempts = attempts

    def on_start(self) -> None:
        self.attempts.append(1)
        if len(self.attempts) == 1:
            raise RuntimeError("first start fails")

    def receive(self, message: Any) -> Any:
        return (message, len(self.attempts))


def test_a_failing_on_start_is_restarted(system: ActorSystem) -> None:
    attempts: list[int] = []
    ref = system.spawn(lambda: FailsOnStart(attempts))
    assert ref.ask("hi", timeout=WAIT) == ("hi", 2)
