"""The contract at its edges: ask timeouts, BaseExceptions, blocking asks between
actors, internal errors and worker deaths, RESUME without an instance, backoff.

Each test here is a regression test: it failed before its fix (the comment says how).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from support import WAIT, assert_clean_shutdown, thread_exceptions

from backstage_threads import (
    Actor,
    ActorFailedError,
    ActorStoppedError,
    ActorSystem,
    AskTimeoutError,
    DeadlockError,
    Directive,
    RestartAfter,
    SupervisorStrategy,
)
from backstage_threads._cell import ActorCell
from backstage_threads._scheduler import Scheduler


class Blocker(Actor[Any]):
    """``receive`` waits for ``release`` (bounded), then answers "late"."""

    def __init__(self, entered: threading.Event, release: threading.Event) -> None:
        self.entered = entered
        self.release = release

    def receive(self, message: Any) -> Any:
        if message == "warm":
            return "warm"
        self.entered.set()
        self.release.wait(WAIT)
        return "late"


def test_ask_to_an_idle_busy_actor_times_out_while_receive_still_runs() -> None:
    # Regression: the asking thread ran the idle actor's turn itself, so the ask
    # returned "late" only when receive did, whatever its timeout said.
    entered, release = threading.Event(), threading.Event()
    system = ActorSystem(workers=2)
    try:
        ref = system.spawn(lambda: Blocker(entered, release))
        for _ in range(20):  # (the old code ran a turn inline only for an idle actor)
            assert ref.ask("warm", timeout=WAIT) == "warm"
        with pytest.raises(AskTimeoutError, match=r"within 0\.05 s"):
            ref.ask("x", timeout=0.05)
        assert entered.is_set()
        assert not release.is_set()  # receive is still running: the timeout was honoured
        release.set()
    finally:
        assert_clean_shutdown(system)


class Named(Actor[Any]):
    def receive(self, message: Any) -> Any:
        return threading.current_thread().name


@pytest.mark.parametrize("error", [SystemExit("bye"), KeyboardInterrupt(), GeneratorExit()])
def test_a_base_exception_in_receive_is_a_failure_and_the_worker_survives(
    error: BaseException,
) -> None:
    # Regression: it killed the worker thread and wedged the actor (still
    # "alive", asks timing out, shutdown unclean with a worker left running).
    class Exits(Actor[Any]):
        def receive(self, message: Any) -> Any:
            if message == "die":
                raise error
            return threading.current_thread().name

    system = ActorSystem(workers=1)
    try:
        ref = system.spawn(Exits)
        with pytest.raises(ActorFailedError, match="handled as a failure") as caught:
            ref.ask("die", timeout=WAIT)
        assert caught.value.__cause__ is error
        # Restarted by the default strategy, on the same (only) worker.
        assert ref.ask("alive?", timeout=WAIT) == f"{system.name}-worker-0"
        assert ref.is_alive
        assert system.statistics().worker_deaths == 0
    finally:
        assert_clean_shutdown(system)


def test_a_base_exception_in_on_start_reaches_the_supervisor() -> None:
    starts: list[int] = []

    class ExitsOnce(Actor[Any]):
        def on_start(self) -> None:
            starts.append(1)
            if len(starts) == 1:
                raise SystemExit("not yet")

        def receive(self, message: Any) -> Any:
            return len(starts)

    system = ActorSystem(workers=1)
    try:
        assert system.spawn(ExitsOnce).ask("n", timeout=WAIT) == 2
    finally:
        assert_clean_shutdown(system)


def test_resume_after_a_failed_construction_builds_the_actor_again() -> None:
    # Regression: RESUME with no instance hit an assertion in the worker, which
    # died; with one worker the whole system stopped answering.
    built: list[int] = []

    class Flaky(Actor[Any]):
        def __init__(self) -> None:
            built.append(1)
            if len(built) == 1:
                raise OSError("no database yet")

        def receive(self, message: Any) -> Any:
            return len(built)

    class Parent(Actor[Any]):
        supervisor_strategy = SupervisorStrategy(lambda e: Directive.RESUME)

        def on_start(self) -> None:
            self.child = self.context.spawn(Flaky, name="flaky")

        def receive(self, message: Any) -> Any:
            return self.child

    system = ActorSystem(workers=1)
    try:
        child = system.spawn(Parent).ask("child", timeout=WAIT)
        assert child.ask("built", timeout=WAIT) == 2
        assert system.statistics().worker_deaths == 0
    finally:
        assert_clean_shutdown(system)


def test_resume_after_construction_failures_counts_against_the_intensity() -> None:
    class Broken(Actor[Any]):
        def __init__(self) -> None:
            raise OSError("never works")

        def receive(self, message: Any) -> Any:
            return None

    stopped = threading.Event()

    class Parent(Actor[Any]):
        supervisor_strategy = SupervisorStrategy(lambda e: Directive.RESUME, max_restarts=3)

        def on_start(self) -> None:
            self.context.spawn(Broken, name="broken")

        def receive(self, message: Any) -> Any:
            return None

        def on_stop(self) -> None:
            stopped.set()

    escalate = SupervisorStrategy(lambda e: Directive.STOP)
    system = ActorSystem(workers=1, guardian_strategy=escalate)
    try:
        system.spawn(Parent, name="parent")
        # Three re-creations, then the parent escalates and /user stops it:
        # no endless loop of failing constructions.
        assert stopped.wait(WAIT)
    finally:
        assert_clean_shutdown(system)


@pytest.mark.parametrize("attempt", [0, 10, 1024, 10**6])
def test_backoff_is_capped_for_every_attempt(attempt: int) -> None:
    # Regression: 0.1 * 2.0**1024 raised OverflowError inside the supervisor.
    policy = RestartAfter(0.1, max_delay=1.0, jitter=0.0)
    assert policy.backoff(attempt) == min(1.0, 0.1 * 2 ** min(attempt, 64))
    assert RestartAfter(0.1, max_delay=1.0, factor=2).backoff(attempt) <= 1.1


class Relay(Actor[Any]):
    """Asks ``target`` (a blocking ask from inside a turn) and returns its answer."""

    def receive(self, message: Any) -> Any:
        target, payload = message
        return target.ask(payload, timeout=WAIT)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_blocking_ask_between_actors_completes_with_any_number_of_workers(
    workers: int,
) -> None:
    # Regression: it stalled for the whole timeout (always with one worker, and
    # often with two: the target sat in the blocked worker's own queue).
    system = ActorSystem(workers=workers)
    try:
        relay = system.spawn(Relay)
        echo = system.spawn(Named)
        for _ in range(20):
            assert relay.ask((echo, "hi"), timeout=WAIT).startswith(system.name)
        assert system.statistics().worker_deaths == 0
    finally:
        assert_clean_shutdown(system)
    # Spares retire; their counters are kept.
    final = system.statistics()
    assert final.spares == 0
    assert final.messages == sum(w.messages for w in final.workers)


def test_a_cycle_of_blocking_asks_fails_at_once_with_deadlock_error() -> None:
    class Ping(Actor[Any]):
        def receive(self, message: Any) -> Any:
            if message == "start":
                return self.peer.ask(("back", self.context.self), timeout=WAIT)
            self.peer = message
            return None

    class Pong(Actor[Any]):
        def receive(self, message: Any) -> Any:
            _, sender = message
            try:
                return sender.ask("too late", timeout=WAIT)
            except DeadlockError as exc:
                return str(exc)

    system = ActorSystem(workers=2)
    try:
        ping, pong = system.spawn(Ping, name="ping"), system.spawn(Pong, name="pong")
        ping.tell(pong)
        answer = ping.ask("start", timeout=WAIT)
        assert "cycle of blocked asks (/user/pong -> /user/ping -> /user/pong)" in answer
    finally:
        assert_clean_shutdown(system)


def test_an_internal_error_in_a_turn_fails_the_actor_and_keeps_the_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = ActorCell._process
    broken = {"left": 1}

    def process(self: ActorCell, budget: int) -> int:
        if self._path == "/user/victim" and broken["left"]:
            broken["left"] -= 1
            raise RuntimeError("runtime bug")
        return original(self, budget)

    monkeypatch.setattr(ActorCell, "_process", process)
    system = ActorSystem(workers=1)
    try:
        with thread_exceptions() as reported:
            victim = system.spawn(Named, name="victim")
            victim.tell("first")  # its turn raises inside the runtime
            # Failed to its supervisor (restart), then answering again.
            assert victim.ask("again", timeout=WAIT) == f"{system.name}-worker-0"
        assert [str(e) for e in reported] == [
            "internal error in a turn of /user/victim: RuntimeError('runtime bug')"
        ]
        assert isinstance(reported[0].__cause__, RuntimeError)
        stats = system.statistics()
        assert stats.internal_errors == 1
        assert stats.worker_deaths == 0
    finally:
        assert_clean_shutdown(system)


def test_a_worker_that_dies_is_replaced_and_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Scheduler._find_work
    broken = {"left": 1}

    def find_work(self: Scheduler, worker: Any, turns: int) -> Any:
        if broken["left"]:
            broken["left"] -= 1
            raise MemoryError("simulated")
        return original(self, worker, turns)

    monkeypatch.setattr(Scheduler, "_find_work", find_work)
    with thread_exceptions() as reported:
        system = ActorSystem(workers=1)
        try:
            ref = system.spawn(Named)
            assert ref.ask("who", timeout=WAIT) == f"{system.name}-worker-0"
            stats = system.statistics()
            assert stats.worker_deaths == 1
            assert stats.workers[0].deaths == 1
        finally:
            assert_clean_shutdown(system)
    assert len(reported) == 1
    assert "worker thread backstage-worker-0 of actor system 'backstage' died" in str(reported[0])


def test_errors_after_an_escalation_name_and_chain_the_root_cause() -> None:
    class Fails(Actor[Any]):
        def receive(self, message: Any) -> Any:
            raise ValueError("disk full")

    escalate = SupervisorStrategy(lambda e: Directive.ESCALATE)
    system = ActorSystem(workers=2, guardian_strategy=escalate)
    try:
        with thread_exceptions() as reported:
            pool = system.spawn(Fails, name="pool")
            agg = system.spawn(Named, name="agg")
            pool.tell("boom")
            assert system.wait_terminated(WAIT)
        assert len(reported) == 1
        with pytest.raises(ActorStoppedError) as caught:
            agg.ask("x", timeout=WAIT)
        text = str(caught.value)
        assert "/user/pool failed with ValueError('disk full')" in text
        assert caught.value.__cause__ is reported[0]
    finally:
        system.shutdown(WAIT)


def test_many_concurrent_blocking_asks_between_actors_all_complete() -> None:
    system = ActorSystem(workers=2)
    try:
        echo = system.spawn(Named)
        relays = [system.spawn(Relay) for _ in range(16)]
        barrier = threading.Barrier(4)
        answers: list[list[str]] = [[] for _ in range(4)]

        def client(k: int) -> None:
            barrier.wait(WAIT)
            for i in range(50):
                relay = relays[(k * 50 + i) % len(relays)]
                answers[k].append(relay.ask((echo, i), timeout=WAIT))

        threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT * 4)
        assert [len(a) for a in answers] == [50] * 4
        assert all(name.startswith(system.name) for a in answers for name in a)
    finally:
        assert_clean_shutdown(system)
    assert system.statistics().spares == 0
