"""One set of behaviour scenarios, run on both backends: threads and a real Ray cluster.

Each test takes the ``backend`` fixture, a function that makes a system:
`ActorSystem(workers=2)` or a `RaySystem` on the session's local Ray cluster.
The Ray half is marked ``ray`` (deselected by the default nox sessions, run by
``nox -s ray``) and skipped where Ray cannot be imported; the thread half runs
everywhere and keeps the scenarios honest.

Actors wait on a `Gate` (a socket of this process) instead of sleeping, so
"the actor is busy" and "the actor is done" are facts, not timings.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from raykit import RAY_MARKS, WAIT, DeadLetterWaiter, Gate, by_value, hold, notify

from backstage_threads import (
    Actor,
    ActorSystem,
    AskTimeoutError,
    Directive,
    MailboxFullError,
    Overflow,
    RestartAfter,
    SupervisorStrategy,
    Terminated,
)

_names = itertools.count()


@pytest.fixture(params=["threads", pytest.param("ray", marks=RAY_MARKS)])
def backend(request: pytest.FixtureRequest) -> Iterator[Callable[[], Any]]:
    """Makes systems of one backend; shuts each down (cleanly) afterwards."""
    made: list[Any] = []
    if request.param == "ray":
        request.getfixturevalue("ray_cluster")
        by_value(__name__)
        from backstage_threads.ray import RaySystem

        def make() -> Any:
            made.append(RaySystem(f"t{next(_names)}-{uuid.uuid4().hex[:6]}"))
            return made[-1]
    else:

        def make() -> Any:
            made.append(ActorSystem(workers=2))
            return made[-1]

    yield make
    for system in made:
        assert system.shutdown(WAIT).clean


# -- actors -------------------------------------------------------------------------


class Counter(Actor[Any]):
    def on_start(self) -> None:
        self.total = 0

    def receive(self, message: Any) -> Any:
        match message:
            case ("hold", address):
                hold(address)
                return "released"
            case ("echo", value):
                return value
            case ("boom", text):
                raise ValueError(text)
            case "get":
                return self.total
            case int():
                self.total += message
                return self.total
        raise TypeError(f"unexpected {message!r}")


class Parent(Actor[Any]):
    """Supervises one child, ``kid``, with the decision it was given."""

    def __init__(self, decision: Any) -> None:
        self.supervisor_strategy = SupervisorStrategy(lambda error: decision)

    def on_start(self) -> None:
        self.kid = self.context.spawn(Counter, name="kid")

    def receive(self, message: Any) -> Any:
        if message == "kid":
            return self.kid
        raise TypeError(f"unexpected {message!r}")


class Recorder(Actor[Any]):
    """Records (sender, i) pairs; says so on ``done`` once it has ``expected`` of them."""

    def __init__(self, expected: int, done: Any) -> None:
        self.expected = expected
        self.done = done

    def on_start(self) -> None:
        self.seen: list[tuple[int, int]] = []

    def receive(self, message: Any) -> Any:
        match message:
            case ("hold", address):
                hold(address)
            case ("log",):
                return list(self.seen)
            case (int() as sender, int() as i):
                self.seen.append((sender, i))
                if len(self.seen) == self.expected:
                    notify(self.done)
        return None


class Watcher(Actor[Any]):
    def on_start(self) -> None:
        self.got: list[tuple[str, str]] = []

    def receive(self, message: Any) -> Any:
        match message:
            case ("watch", ref, address):
                self.address = address
                self.context.watch(ref)
            case Terminated(ref=ref, reason=reason):
                self.got.append((ref.path, reason))
                notify(self.address)
            case "got":
                return list(self.got)
        return None


class Finder(Actor[Any]):
    """Looks an actor up through its own ``context.system`` and asks it."""

    def receive(self, message: Any) -> Any:
        ref = self.context.system.lookup(message)
        return None if ref is None else ref.ask("get", timeout=WAIT)


# -- tell, ask, timeout ---------------------------------------------------------------


def test_tell_ask_future_async(backend: Callable[[], Any]) -> None:
    system = backend()
    ref = system.spawn(Counter, name="counter")
    ref.tell(1)
    ref.tell(2)
    assert ref.ask(3, timeout=WAIT) == 6
    assert ref.ask_future(4).result(WAIT) == 10
    assert asyncio.run(ref.ask_async(5, timeout=WAIT)) == 15
    with pytest.raises(ValueError, match="no good"):
        ref.ask(("boom", "no good"), timeout=WAIT)
    assert ref.ask("get", timeout=WAIT) == 0  # restarted by /user: a new instance


def test_ask_timeout_drops_the_late_reply(backend: Callable[[], Any]) -> None:
    system = backend()
    ref = system.spawn(Counter)
    gate = Gate()
    try:
        ref.tell(("hold", gate.address))
        gate.wait_connected()
        with pytest.raises(AskTimeoutError):
            ref.ask(("echo", "late"), timeout=0.3)
    finally:
        gate.close()
    # The late reply is dropped: the next ask gets its own answer, once.
    assert ref.ask(("echo", "fresh"), timeout=WAIT) == "fresh"
    assert ref.ask(("echo", "again"), timeout=WAIT) == "again"


# -- supervision ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decision", "after"),
    [
        (Directive.RESUME, 1),
        (Directive.RESTART, 0),
        (RestartAfter(0.05), 0),
    ],
    ids=["resume", "restart", "restart_after"],
)
def test_supervision_keeps_or_rebuilds_state(
    backend: Callable[[], Any], decision: Any, after: int
) -> None:
    system = backend()
    parent = system.spawn(Parent, decision, name="p")
    kid = parent.ask("kid", timeout=WAIT)
    kid.tell(1)
    with pytest.raises(ValueError):
        kid.ask(("boom", "x"), timeout=WAIT)
    assert kid.ask("get", timeout=WAIT) == after
    node = system.status_tree().find("/user/p/kid")
    assert node is not None
    assert node.restarts == (0 if decision is Directive.RESUME else 1)


def test_supervision_stop(backend: Callable[[], Any]) -> None:
    system = backend()
    parent = system.spawn(Parent, Directive.STOP, name="p")
    kid = parent.ask("kid", timeout=WAIT)
    with pytest.raises(ValueError):
        kid.ask(("boom", "x"), timeout=WAIT)
    assert kid.wait_stopped(WAIT)
    assert system.lookup("/user/p/kid") is None


def test_supervision_escalate_restarts_the_parent(backend: Callable[[], Any]) -> None:
    system = backend()
    parent = system.spawn(Parent, Directive.ESCALATE, name="p")
    kid = parent.ask("kid", timeout=WAIT)
    with pytest.raises(ValueError):
        kid.ask(("boom", "x"), timeout=WAIT)
    assert kid.wait_stopped(WAIT)  # the parent's restart stopped it
    new_kid = parent.ask("kid", timeout=WAIT)
    assert new_kid != kid
    assert new_kid.ask(2, timeout=WAIT) == 2
    node = system.status_tree().find("/user/p")
    assert node is not None
    assert node.restarts == 1


# -- bounded mailboxes, 4 concurrent senders ------------------------------------------

SENDERS, EACH, CAPACITY = 4, 25, 8


@pytest.mark.parametrize("policy", list(Overflow), ids=lambda p: p.name)
def test_overflow_exact_accounting(backend: Callable[[], Any], policy: Overflow) -> None:
    system = backend()
    total = SENDERS * EACH
    expected = total if policy is Overflow.BLOCK else CAPACITY
    held, done = Gate(), Gate()
    ref = system.spawn(Recorder, expected, done.address, capacity=CAPACITY, overflow=policy)
    numbered = DeadLetterWaiter(system, lambda letter: isinstance(letter.message, tuple))
    rejected = [0] * SENDERS
    barrier = threading.Barrier(SENDERS)

    def send(sender: int) -> None:
        barrier.wait(WAIT)
        for i in range(EACH):
            try:
                ref.tell((sender, i), timeout=WAIT)
            except MailboxFullError:
                rejected[sender] += 1
        flush = getattr(ref, "flush", None)
        if flush is not None:
            # On Ray, DROP tells return before the host has seen them; flush
            # returns once each is queued or dropped. (On threads a tell is
            # placed before it returns.)
            assert flush(WAIT)

    try:
        ref.tell(("hold", held.address))
        held.wait_connected()  # the actor is busy: the mailbox fills
        threads = [threading.Thread(target=send, args=(k,)) for k in range(SENDERS)]
        for thread in threads:
            thread.start()
        if policy is Overflow.BLOCK:
            held.release()  # the senders wait for room as the actor drains
        for thread in threads:
            thread.join(WAIT)
        held.release()
        done.wait_connected()
    finally:
        held.close()
        done.close()
    seen = ref.ask(("log",), timeout=WAIT)  # the mailbox is empty now
    sent = {(k, i) for k in range(SENDERS) for i in range(EACH)}
    for k in range(SENDERS):  # each sender's order holds
        mine = [i for sender, i in seen if sender == k]
        assert mine == sorted(mine)
    assert len(seen) == expected
    if policy is Overflow.BLOCK:
        assert set(seen) == sent
        assert numbered.letters == []
    elif policy is Overflow.FAIL:
        assert sum(rejected) == total - CAPACITY
        assert numbered.letters == []
    else:
        letters = numbered.wait_for(total - CAPACITY)
        dropped = {letter.message for letter in letters}
        assert len(letters) == total - CAPACITY
        assert dropped.isdisjoint(seen)
        assert dropped | set(seen) == sent
        word = "DROP_NEWEST" if policy is Overflow.DROP_NEWEST else "DROP_OLDEST"
        assert {letter.reason for letter in letters} == {
            "mailbox full (DROP_NEWEST)"
            if word == "DROP_NEWEST"
            else "evicted from full mailbox (DROP_OLDEST)"
        }
        assert {letter.path for letter in letters} == {ref.path}


# -- lookup and watch -----------------------------------------------------------------


def test_lookup_from_outside_and_inside(backend: Callable[[], Any]) -> None:
    system = backend()
    parent = system.spawn(Parent, Directive.RESTART, name="a")
    parent.ask("kid", timeout=WAIT).tell(7)
    found = system.lookup("/user/a/kid")
    assert found is not None
    assert found.ask("get", timeout=WAIT) == 7
    assert system.lookup("/user/a/nobody") is None
    with pytest.raises(ValueError, match="/user"):
        system.lookup("a/kid")
    finder = system.spawn(Finder)
    assert finder.ask("/user/a/kid", timeout=WAIT) == 7


def test_watch_delivers_terminated(backend: Callable[[], Any]) -> None:
    system = backend()
    target = system.spawn(Counter, name="target")
    watcher = system.spawn(Watcher)
    gate = Gate()
    try:
        watcher.ask(("watch", target, gate.address), timeout=WAIT)  # a ref inside a message
        target.stop()
        gate.wait_connected()
    finally:
        gate.close()
    got = watcher.ask("got", timeout=WAIT)
    assert [path for path, _ in got] == ["/user/target"]
