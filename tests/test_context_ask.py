"""Actors asking actors without blocking: ``context.ask`` and ``context.pipe``.

Every outcome (reply, failure, timeout, stop) arrives as one `Response` message
through the asker's mailbox; a late reply is a dead letter, never lost.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from support import WAIT, Echo, assert_clean_shutdown, spawn_held

from backstage_threads import (
    Actor,
    ActorContext,
    ActorRef,
    ActorStoppedError,
    ActorSystem,
    AskTimeoutError,
    AsyncActor,
    DeadLetter,
    MailboxFullError,
    Overflow,
    Response,
)
from backstage_threads._local import current
from backstage_threads.testing import DeterministicScheduler, ManualClock

# -- helper actors -------------------------------------------------------------------


@dataclass(frozen=True)
class Ask:
    """Tell an `Asker` to ask ``target`` (keyword options go to context.ask)."""

    target: ActorRef[Any]
    message: Any
    options: dict[str, Any]


@dataclass(frozen=True)
class Pipe:
    future: Future[Any]
    options: dict[str, Any]


@dataclass(frozen=True)
class Run:
    """Run ``fn(context)`` in the actor's turn; the ask gets its result."""

    fn: Callable[[ActorContext], Any]


class Asker(Actor[Any]):
    """Asks on command; puts every Response (or adapted message) in ``out``."""

    def __init__(self, out: queue.Queue[Any]) -> None:
        self.out = out

    def receive(self, message: Any) -> Any:
        match message:
            case Ask(target, payload, options):
                self.context.ask(target, payload, **options)
            case Pipe(future, options):
                self.context.pipe(future, **options)
            case Run(fn):
                return fn(self.context)
            case _:
                self.out.put(message)
        return None


class Service(Actor[Any]):
    """Replies ``n * 2``; raises ValueError on ``"boom"``."""

    def receive(self, message: Any) -> Any:
        if message == "boom":
            raise ValueError("boom")
        return message * 2 if isinstance(message, int) else message


def spawn_asker(system: ActorSystem, **options: Any) -> tuple[ActorRef[Any], queue.Queue[Any]]:
    out: queue.Queue[Any] = queue.Queue()
    return system.spawn(lambda: Asker(out), **options), out


def take(out: queue.Queue[Any]) -> Any:
    return out.get(timeout=WAIT)


class Letters:
    """A dead-letter subscriber that a test can wait on (a condition, not a sleep)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._letters: list[DeadLetter] = []

    def __call__(self, letter: DeadLetter) -> None:
        with self._cond:
            self._letters.append(letter)
            self._cond.notify_all()

    def snapshot(self) -> list[DeadLetter]:
        with self._cond:
            return list(self._letters)

    def wait_for(self, match: Callable[[DeadLetter], bool]) -> DeadLetter:
        found: list[DeadLetter] = []

        def seen() -> bool:
            found[:] = [d for d in self._letters if match(d)]
            return bool(found)

        with self._cond:
            assert self._cond.wait_for(seen, WAIT), f"no such dead letter in {self._letters}"
        return found[0]


@pytest.fixture
def letters(system: ActorSystem) -> Letters:
    log = Letters()
    system.dead_letters.subscribe(log)
    return log


# -- replies, failures, stops ---------------------------------------------------------


def test_reply_arrives_as_a_response_message(system: ActorSystem) -> None:
    asker, out = spawn_asker(system)
    service = system.spawn(Service)
    asker.tell(Ask(service, 21, {"timeout": WAIT, "tag": "answer"}))
    response = take(out)
    assert response == Response("answer", 42, None)
    assert response.ok and response.result() == 42
    assert out.empty()


def test_failure_of_the_target_arrives_as_the_error(system: ActorSystem) -> None:
    asker, out = spawn_asker(system)
    service = system.spawn(Service)
    asker.tell(Ask(service, "boom", {"timeout": WAIT, "tag": 7}))
    response = take(out)
    assert response.tag == 7 and not response.ok
    assert isinstance(response.error, ValueError)
    with pytest.raises(ValueError, match="boom"):
        response.result()


def test_stopped_target_answers_actor_stopped(system: ActorSystem) -> None:
    asker, out = spawn_asker(system)
    service = system.spawn(Service)
    service.stop()
    assert service.wait_stopped(WAIT)
    asker.tell(Ask(service, 1, {"timeout": WAIT}))
    response = take(out)
    assert isinstance(response.error, ActorStoppedError)


def test_target_stopping_with_the_request_queued_answers_actor_stopped(
    system: ActorSystem,
) -> None:
    asker, out = spawn_asker(system)
    target, latch, _, _ = spawn_held(system)
    asker.tell(Ask(target, "queued", {"timeout": WAIT}))
    assert asker.ask(Run(lambda ctx: "flushed"), timeout=WAIT) == "flushed"
    target.stop()
    latch.release.set()
    response = take(out)
    assert isinstance(response.error, ActorStoppedError)
    assert target.wait_stopped(WAIT)


def test_asking_itself_does_not_deadlock(system: ActorSystem) -> None:
    out: queue.Queue[Any] = queue.Queue()

    class SelfAsker(Actor[Any]):
        def receive(self, message: Any) -> Any:
            if message == "go":
                self.context.ask(self.context.self, "question", timeout=WAIT, tag="me")
            elif message == "question":
                return "answer"
            else:
                out.put(message)
            return None

    system.spawn(SelfAsker).tell("go")
    assert take(out) == Response("me", "answer", None)


def test_one_worker_chain_of_asks_completes() -> None:
    with ActorSystem(workers=1) as system:
        out: queue.Queue[Any] = queue.Queue()
        service = system.spawn(Service)

        class Middle(Actor[Any]):
            """Asks the service, then answers its own asker from the Response."""

            def __init__(self) -> None:
                self.pending: dict[int, Any] = {}

            def receive(self, message: Any) -> Any:
                if isinstance(message, Response):
                    out.put(message)
                elif isinstance(message, int):
                    self.context.ask(service, message, timeout=WAIT, tag=message)
                return None

        middle = system.spawn(Middle)
        for i in range(20):
            middle.tell(i)
        got = sorted((take(out) for _ in range(20)), key=lambda r: r.tag)
        assert [(r.tag, r.value) for r in got] == [(i, 2 * i) for i in range(20)]


def test_adapt_maps_the_response_in_the_askers_own_turn(system: ActorSystem) -> None:
    asker, out = spawn_asker(system)
    service = system.spawn(Service)
    seen: list[Any] = []

    @dataclass(frozen=True)
    class Doubled:
        value: int

    def adapt(response: Response) -> Doubled:
        seen.append(current.cell)  # which actor's turn runs the mapping
        return Doubled(response.result())

    asker.tell(Ask(service, 5, {"timeout": WAIT, "adapt": adapt}))
    assert take(out) == Doubled(10)
    assert seen == [asker._cell]


def test_adapt_that_raises_is_a_failure_of_the_asker(system: ActorSystem) -> None:
    asker, out = spawn_asker(system)
    service = system.spawn(Service)
    failed = Letters()
    system.dead_letters.subscribe(failed)

    def adapt(response: Response) -> Any:
        raise KeyError("cannot map")

    asker.tell(Ask(service, 5, {"timeout": WAIT, "adapt": adapt}))
    letter = failed.wait_for(lambda d: d.recipient == asker)
    assert "KeyError" in letter.reason and isinstance(letter.message.response, Response)
    # The default strategy restarted the asker: it still works.
    asker.tell(Ask(service, 1, {"timeout": WAIT}))
    assert take(out).value == 2


# -- timeouts and late replies ----------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_timeout_on_the_manual_clock_then_late_reply_is_a_dead_letter(seed: int) -> None:
    clock = ManualClock()
    scheduler = DeterministicScheduler(seed)
    system = ActorSystem("det", dispatcher=scheduler, clock=clock)
    with system:
        letters = Letters()
        system.dead_letters.subscribe(letters)
        asker, out = spawn_asker(system)
        service = system.spawn(Service)
        scheduler.run_until_idle()
        asker.tell(Ask(service, 3, {"timeout": 1.0, "tag": "slow"}))
        # Only the asker is runnable: its turn sends the request and the
        # service's turn has not run yet when the clock passes the timeout.
        assert scheduler.run_once()
        clock.advance(0.5)
        assert out.empty()
        clock.advance(0.5)
        scheduler.run_until_idle()  # the asker and the service, in the seed's order
        response = out.get_nowait()
        assert response.tag == "slow" and isinstance(response.error, AskTimeoutError)
        assert isinstance(response.error, TimeoutError)
        assert out.empty()  # exactly one outcome
        late = [d for d in letters.snapshot() if d.recipient == asker]
        assert len(late) == 1
        assert late[0].message == Response("slow", 6, None)
        assert "late reply" in late[0].reason and "timed out" in late[0].reason


def test_reply_before_the_timeout_cancels_it() -> None:
    clock = ManualClock()
    scheduler = DeterministicScheduler(3)
    with ActorSystem("det", dispatcher=scheduler, clock=clock) as system:
        asker, out = spawn_asker(system)
        service = system.spawn(Service)
        asker.tell(Ask(service, 4, {"timeout": 1.0}))
        scheduler.run_until_idle()
        assert out.get_nowait().value == 8
        assert clock.advance(5.0) == 0  # the timer was cancelled
        scheduler.run_until_idle()
        assert out.empty()
        assert system.dead_letters.count == 0


def test_threaded_timeout_then_late_reply_is_a_dead_letter(
    system: ActorSystem, letters: Letters
) -> None:
    asker, out = spawn_asker(system)
    target, latch, _, _ = spawn_held(system)  # busy: it cannot answer in time
    asker.tell(Ask(target, "late", {"timeout": 0.05, "tag": "t"}))
    response = take(out)
    assert isinstance(response.error, AskTimeoutError)
    assert target.path in str(response.error)
    latch.release.set()
    letter = letters.wait_for(lambda d: d.recipient == asker)
    assert letter.message == Response("t", "late", None)
    assert "late reply" in letter.reason
    assert out.empty()


def test_reply_to_a_stopped_asker_is_a_dead_letter(system: ActorSystem, letters: Letters) -> None:
    asker, out = spawn_asker(system)
    target, latch, _, _ = spawn_held(system)
    asker.tell(Ask(target, "to nobody", {"timeout": WAIT, "tag": "gone"}))
    assert asker.ask(Run(lambda ctx: "sent"), timeout=WAIT) == "sent"
    asker.stop()
    assert asker.wait_stopped(WAIT)
    latch.release.set()
    letter = letters.wait_for(lambda d: d.recipient == asker)
    assert letter.message == Response("gone", "to nobody", None)
    assert out.empty()


def test_exactly_one_outcome_when_replies_race_the_timeout() -> None:
    with ActorSystem(workers=4) as system:
        letters = Letters()
        system.dead_letters.subscribe(letters)
        asker, out = spawn_asker(system)
        service = system.spawn(Service)
        n = 300
        for i in range(n):
            asker.tell(Ask(service, i, {"timeout": 0.0, "tag": i}))
        responses = [take(out) for _ in range(n)]
        # FIFO: once this is answered every request above has been settled.
        assert asker.ask(Run(lambda ctx: "sent"), timeout=WAIT) == "sent"
        assert service.ask("flush", timeout=WAIT) == "flush"
        assert sorted(r.tag for r in responses) == list(range(n))
        timed_out = {r.tag for r in responses if isinstance(r.error, AskTimeoutError)}
        late = {d.message.tag for d in letters.snapshot() if d.recipient == asker}
        assert late == timed_out
        for r in responses:
            assert r.tag in timed_out or r.value == 2 * r.tag
        assert out.empty()


# -- full asker mailboxes ----------------------------------------------------------------


class HeldAsker(Actor[Any]):
    """A pinned asker held in ``receive`` while the test fills its mailbox.

    On an `Ask` it waits for ``go_ask``, asks, sets ``asked``, then waits for
    ``go`` before it takes its next message.
    """

    def __init__(self, out: queue.Queue[Any], events: dict[str, threading.Event]) -> None:
        self.out = out
        self.events = events

    def receive(self, message: Any) -> Any:
        if isinstance(message, Ask):
            self.events["held"].set()
            assert self.events["go_ask"].wait(WAIT)
            self.context.ask(message.target, message.message, **message.options)
            self.events["asked"].set()
            assert self.events["go"].wait(WAIT)
        else:
            self.out.put(message)
        return None


def spawn_held_asker(
    system: ActorSystem, capacity: int, **options: Any
) -> tuple[ActorRef[Any], queue.Queue[Any], dict[str, threading.Event]]:
    out: queue.Queue[Any] = queue.Queue()
    events = {name: threading.Event() for name in ("held", "go_ask", "asked", "go")}
    ref = system.spawn(lambda: HeldAsker(out, events), capacity=capacity, pinned=True, **options)
    return ref, out, events


def fill(asker: ActorRef[Any], events: dict[str, threading.Event], *messages: Any) -> None:
    assert events["held"].wait(WAIT)
    for message in messages:
        asker.tell_nowait(message)
    with pytest.raises(MailboxFullError):
        asker.tell_nowait("one too many")


def test_reply_from_a_worker_into_a_full_mailbox_neither_blocks_nor_mutes(
    system: ActorSystem,
) -> None:
    asker, out, events = spawn_held_asker(system, capacity=2)
    service = system.spawn(Service)
    asker.tell(Ask(service, 1, {"timeout": WAIT, "tag": "r"}))
    fill(asker, events, "a", "b")
    events["go_ask"].set()
    assert events["asked"].wait(WAIT)
    # FIFO: once this returns, the service's worker has posted the reply into
    # the full mailbox. Had it waited for room or been muted until the asker
    # drains, this ask would time out: the asker is held until "go".
    assert service.ask(5, timeout=WAIT) == 10
    assert asker._cell.depth() == 3  # accepted beyond capacity
    events["go"].set()
    assert [take(out) for _ in range(3)] == ["a", "b", Response("r", 2, None)]


def test_timeout_from_the_timer_thread_into_a_full_mailbox_never_blocks(
    system: ActorSystem, letters: Letters
) -> None:
    asker, out, events = spawn_held_asker(system, capacity=2)
    target, latch, _, _ = spawn_held(system)  # never answers in time
    asker.tell(Ask(target, "x", {"timeout": 0.0, "tag": "t"}))
    fill(asker, events, "a", "b")
    events["go_ask"].set()
    assert events["asked"].wait(WAIT)
    # Timers fire in deadline order on one thread: once this marker has run,
    # the request's timeout (due no later) was delivered.
    marker = threading.Event()
    system._timers.schedule(0.0, marker.set)
    assert marker.wait(WAIT)
    assert asker._cell.depth() == 3
    events["go"].set()
    got = [take(out) for _ in range(3)]
    assert got[:2] == ["a", "b"]
    assert got[2].tag == "t" and isinstance(got[2].error, AskTimeoutError)
    latch.release.set()
    assert letters.wait_for(lambda d: d.recipient == asker).message == Response("t", "x")


def test_reply_into_a_full_fail_mailbox_is_a_dead_letter(
    system: ActorSystem, letters: Letters
) -> None:
    asker, out, events = spawn_held_asker(system, capacity=1, overflow=Overflow.FAIL)
    service = system.spawn(Service)
    asker.tell(Ask(service, 1, {"timeout": WAIT, "tag": "r"}))
    fill(asker, events, "a")
    events["go_ask"].set()
    letter = letters.wait_for(lambda d: d.recipient == asker and d.message != "one too many")
    assert letter.message == Response("r", 2, None) and "not delivered" in letter.reason
    events["go"].set()
    assert take(out) == "a"
    assert service.ask(3, timeout=WAIT) == 6  # the worker that posted it is fine


# -- pipe ---------------------------------------------------------------------------------


def test_pipe_delivers_a_future_result_and_failure(system: ActorSystem) -> None:
    asker, out = spawn_asker(system)
    with ThreadPoolExecutor(1) as pool:
        asker.tell(Pipe(pool.submit(lambda: 6 * 7), {"tag": "ok"}))
        assert take(out) == Response("ok", 42, None)
        asker.tell(Pipe(pool.submit(lambda: 1 // 0), {"tag": "bad"}))
        failed = take(out)
        assert failed.tag == "bad" and isinstance(failed.error, ZeroDivisionError)


def test_pipe_of_a_cancelled_and_of_a_done_future(system: ActorSystem) -> None:
    asker, out = spawn_asker(system)
    cancelled: Future[Any] = Future()
    asker.tell(Pipe(cancelled, {"tag": "c"}))
    assert asker.ask(Run(lambda ctx: "piped"), timeout=WAIT) == "piped"
    assert cancelled.cancel()
    response = take(out)
    assert response.tag == "c" and isinstance(response.error, CancelledError)
    done: Future[Any] = Future()
    done.set_result("ready")
    asker.tell(Pipe(done, {"adapt": lambda r: ("adapted", r.value)}))
    assert take(out) == ("adapted", "ready")


def test_pipe_timeout_on_the_manual_clock_then_late_result_is_a_dead_letter() -> None:
    clock = ManualClock()
    scheduler = DeterministicScheduler(1)
    with ActorSystem("det", dispatcher=scheduler, clock=clock) as system:
        asker, out = spawn_asker(system)
        future: Future[Any] = Future()
        asker.tell(Pipe(future, {"timeout": 2.0, "tag": "p"}))
        scheduler.run_until_idle()
        clock.advance(2.0)
        scheduler.run_until_idle()
        response = out.get_nowait()
        assert type(response.error) is TimeoutError and "piped future" in str(response.error)
        future.set_result("too late")
        letters = system.dead_letters.recent()
        assert [d.message for d in letters] == [Response("p", "too late", None)]
        assert "late reply" in letters[0].reason
        scheduler.run_until_idle()
        assert out.empty()


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "text"),
    [
        (lambda ctx: ctx.ask("not a ref", 1, timeout=1), TypeError, "'not a ref'"),
        (lambda ctx: ctx.ask(ctx.self, 1, timeout=-1), ValueError, "-1"),
        (lambda ctx: ctx.ask(ctx.self, 1, timeout="soon"), TypeError, "'soon'"),
        (lambda ctx: ctx.ask(ctx.self, 1, timeout=1, adapt=3), TypeError, "3"),
        (lambda ctx: ctx.pipe("not a future"), TypeError, "'not a future'"),
        (lambda ctx: ctx.pipe(Future(), timeout=-2), ValueError, "-2"),
    ],
)
def test_bad_input_is_a_clear_error(
    system: ActorSystem, call: Callable[[ActorContext], Any], error: type[Exception], text: str
) -> None:
    asker, out = spawn_asker(system)
    with pytest.raises(error, match=text):
        asker.ask(Run(call), timeout=WAIT)
    echo = system.spawn(Echo)
    assert echo.ask("still fine", timeout=WAIT) == "still fine"
    assert out.empty()


def test_response_is_public_and_immutable() -> None:
    response = Response("t", 1)
    assert response.ok and response.error is None
    with pytest.raises(AttributeError):
        response.value = 2  # type: ignore[misc]


def test_shutdown_is_clean_with_a_request_timer_still_armed() -> None:
    system = ActorSystem(workers=2)
    asker, _ = spawn_asker(system)
    target, latch, _, _ = spawn_held(system)
    asker.tell(Ask(target, "pending", {"timeout": WAIT}))
    assert asker.ask(Run(lambda ctx: "sent"), timeout=WAIT) == "sent"
    latch.release.set()
    assert_clean_shutdown(system)


# -- async actors ---------------------------------------------------------------------------


def test_async_actors_ask_and_are_asked(system: ActorSystem) -> None:
    out: queue.Queue[Any] = queue.Queue()
    seen: list[Any] = []

    class AsyncService(AsyncActor[Any]):
        async def receive(self, message: Any) -> Any:
            return ("async", message)

    class AsyncAsker(AsyncActor[Any]):
        async def receive(self, message: Any) -> Any:
            if isinstance(message, Ask):
                self.context.ask(message.target, message.message, **message.options)
            else:
                out.put(message)

    def adapt(response: Response) -> Any:
        seen.append(threading.current_thread().name)  # the asker's batch, on the loop
        return ("adapted", response.value)

    service = system.spawn(AsyncService)
    asker = system.spawn(AsyncAsker)
    # The async service settles on the loop thread; the async asker's batch adapts.
    asker.tell(Ask(service, 1, {"timeout": WAIT, "adapt": adapt}))
    assert take(out) == ("adapted", ("async", 1))
    sync_asker, sync_out = spawn_asker(system)
    sync_asker.tell(Ask(service, 2, {"timeout": WAIT, "tag": "s"}))
    assert take(sync_out) == Response("s", ("async", 2), None)
    assert len(seen) == 1 and seen[0].endswith("-asyncio")
