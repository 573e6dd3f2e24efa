"""The testing kit: deterministic scheduling, manual time, probes and the pytest plugin."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from backstage_threads import (
    Actor,
    ActorRef,
    ActorSystem,
    AskTimeoutError,
    Directive,
    ReceiveTimeout,
    RestartAfter,
    SupervisorStrategy,
    Terminated,
)
from backstage_threads._local import current
from backstage_threads.testing import (
    DeterministicScheduler,
    ManualClock,
    Probe,
    SchedulerStalledError,
    deterministic_system,
)

ROOT = Path(__file__).resolve().parent.parent


class Appender(Actor[int]):
    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    def receive(self, message: int) -> None:
        self.log.append(f"{self.name}{message}")  # one thread runs every turn


def interleaving(seed: int) -> list[str]:
    log: list[str] = []
    system, _, scheduler = deterministic_system(seed)
    with system:
        refs = [system.spawn(lambda n=n: Appender(n, log), name=n) for n in "abcd"]
        for i in range(5):
            for ref in refs:
                ref.tell(i)
        scheduler.run_until_idle()
    return log


def test_same_seed_same_interleaving_and_seeds_differ() -> None:
    assert interleaving(42) == interleaving(42)
    assert len({tuple(interleaving(seed)) for seed in range(6)}) > 1
    for seed in range(3):
        log = interleaving(seed)
        for name in "abcd":  # each actor still sees its own messages in order
            assert [e for e in log if e[0] == name] == [f"{name}{i}" for i in range(5)]


def test_livelock_is_reported_with_the_seed() -> None:
    class Bouncer(Actor[Any]):
        def receive(self, message: Any) -> None:
            self.context.self.tell(message)

    scheduler = DeterministicScheduler(seed=5, max_turns=1_000)
    system = ActorSystem("livelock", dispatcher=scheduler, clock=ManualClock())
    ref = system.spawn(Bouncer)
    ref.tell("again")
    with pytest.raises(SchedulerStalledError, match="seed 5"):
        scheduler.run_until_idle()
    scheduler.max_turns = 10_000_000
    ref.stop()
    scheduler.run_once()  # the stop is processed at the start of the next turn
    assert ref.wait_stopped(timeout=1)
    assert system.shutdown(1).clean


def test_ask_to_a_stopped_actor_fails_at_once() -> None:
    class Silent(Actor[Any]):
        def receive(self, message: Any) -> None:
            return None

    system, _, _ = deterministic_system(seed=1)
    with system:
        ref = system.spawn(Silent)
        assert ref.ask("x", timeout=1) is None
        ref.stop()
        assert ref.wait_stopped(timeout=1)
        with pytest.raises(Exception, match="stopped"):
            ref.ask("y", timeout=1)


def test_ask_that_nobody_can_answer_yet_raises_instead_of_hanging() -> None:
    class Crashy(Actor[Any]):
        supervisor_strategy = None

        def receive(self, message: Any) -> Any:
            if message == "boom":
                raise OSError("down")
            return "up"

    escalate_later = SupervisorStrategy(lambda e: RestartAfter(10.0, jitter=0.0))
    system, clock, _ = deterministic_system(seed=3)
    with system:

        class Sup(Actor[Any]):
            supervisor_strategy = escalate_later

            def on_start(self) -> None:
                self.child = self.context.spawn(Crashy, name="crashy")

            def receive(self, message: Any) -> Any:
                return self.child

        child = system.spawn(Sup).ask("child?", timeout=1)
        child.tell("boom")
        with pytest.raises(AskTimeoutError, match="ran out of work"):
            child.ask("status?", timeout=1)  # suspended until the backoff ends
        clock.advance(10.0)
        assert child.ask("status?", timeout=1) == "up"


class Ticker(Actor[Any]):
    def __init__(self, probe: ActorRef[Any]) -> None:
        self.probe = probe

    def on_start(self) -> None:
        self.context.send_after(1.0, "once")
        self.handle = self.context.send_every(0.25, "tick")

    def receive(self, message: Any) -> Any:
        if message == "cancel":
            self.handle.cancel()
        elif message != "sync":
            self.probe.tell(message)
        return None


def test_manual_clock_fires_timers_in_order(
    any_actor_system: ActorSystem, manual_clock: ManualClock, probe: Callable[..., Probe]
) -> None:
    p = probe()
    ticker = any_actor_system.spawn(lambda: Ticker(p.ref))
    ticker.ask("sync", timeout=2)  # on_start ran and armed the timers
    p.expect_no_message(0.05)
    assert manual_clock.advance(1.0) == 5  # 4 ticks and the one-shot
    # At t=1.0 the one-shot and the 4th tick tie; the one created first fires first.
    assert [p.receive() for _ in range(5)] == ["tick", "tick", "tick", "once", "tick"]
    ticker.ask("cancel", timeout=2)
    manual_clock.advance(1.0)
    p.expect_no_message(0.05)


def test_receive_timeout_on_manual_time(
    any_actor_system: ActorSystem, manual_clock: ManualClock, probe: Callable[..., Probe]
) -> None:
    p = probe()

    class Idle(Actor[Any]):
        def on_start(self) -> None:
            self.context.set_receive_timeout(2.0)

        def receive(self, message: Any) -> Any:
            p.ref.tell(message)
            return None

    ref = any_actor_system.spawn(Idle)
    ref.ask("hello", timeout=2)
    assert p.receive() == "hello"
    manual_clock.advance(1.5)
    p.expect_no_message(0.05)
    manual_clock.advance(1.0)
    assert isinstance(p.receive(), ReceiveTimeout)


def test_restart_backoff_obeys_manual_time(
    any_actor_system: ActorSystem, manual_clock: ManualClock, probe: Callable[..., Probe]
) -> None:
    p = probe()
    backoff = RestartAfter(1.0, factor=2.0, jitter=0.0)
    decided = threading.Event()

    def decider(error: Exception) -> RestartAfter:
        decided.set()  # the timer is armed later in this same supervisor turn
        return backoff

    class Crashy(Actor[Any]):
        def on_start(self) -> None:
            p.ref.tell("started")

        def receive(self, message: Any) -> Any:
            raise OSError("down")

    class Sup(Actor[Any]):
        supervisor_strategy = SupervisorStrategy(decider, max_restarts=10, within=100.0)

        def on_start(self) -> None:
            self.child = self.context.spawn(Crashy, name="crashy")

        def receive(self, message: Any) -> Any:
            if message == "crash":
                self.child.tell(message)

    sup = any_actor_system.spawn(Sup)
    sup.ask("sync", timeout=2)
    assert p.receive() == "started"
    for delay in (1.0, 2.0, 4.0):  # exponential backoff
        decided.clear()
        sup.ask("crash", timeout=2)
        driver = current.driver
        if driver is None:
            assert decided.wait(timeout=5)  # workers run the child and the supervisor
        else:
            assert driver(decided.is_set)  # run turns on this thread until decided
        sup.ask("sync", timeout=2)  # after the turn that armed the restart timer
        manual_clock.advance(delay * 0.99)
        p.expect_no_message(0.05)
        manual_clock.advance(delay * 0.02)
        assert p.receive() == "started"


def test_death_watch_on_both_schedulers(
    any_actor_system: ActorSystem, probe: Callable[..., Probe]
) -> None:
    p = probe()

    class Watcher(Actor[Any]):
        def receive(self, message: Any) -> Any:
            if isinstance(message, ActorRef):
                self.context.watch(message)
            else:
                p.ref.tell(message)

    class Quiet(Actor[Any]):
        def receive(self, message: Any) -> Any:
            return None

    watcher = any_actor_system.spawn(Watcher)
    target = any_actor_system.spawn(Quiet)
    watcher.ask(target, timeout=2)
    target.stop()
    terminated = p.expect_type(Terminated)
    assert terminated.ref == target


def test_supervision_restart_on_both_schedulers(any_actor_system: ActorSystem) -> None:
    class Counter(Actor[Any]):
        def on_start(self) -> None:
            self.count = 0

        def receive(self, message: Any) -> Any:
            if message == "boom":
                raise ValueError("boom")
            self.count += 1
            return self.count

    ref = any_actor_system.spawn(Counter)
    assert ref.ask("x", timeout=2) == 1
    with pytest.raises(ValueError):
        ref.ask("boom", timeout=2)
    assert ref.ask("x", timeout=2) == 1  # a fresh instance


def test_probe_drain_and_expect_failures(
    deterministic_actor_system: ActorSystem, probe: Callable[..., Probe]
) -> None:
    p = probe()
    for i in range(3):
        p.ref.tell(i)
    assert p.drain() == [0, 1, 2]
    p.ref.tell("x")
    with pytest.raises(AssertionError, match="expected 'y'"):
        p.expect("y")
    with pytest.raises(AssertionError, match="received nothing"):
        p.receive(timeout=0.01)


def test_plugin_reports_the_seed_and_is_opt_in(tmp_path: Path) -> None:
    test_file = tmp_path / "test_user.py"
    test_file.write_text(
        "from backstage_threads import Actor\n"
        "class A(Actor[int]):\n"
        "    def receive(self, m: int) -> int:\n"
        "        return m\n"
        "def test_fails(deterministic_actor_system):\n"
        "    ref = deterministic_actor_system.spawn(A)\n"
        "    assert ref.ask(1, timeout=1) == 2\n"
    )
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    with_plugin = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "backstage_threads.testing.pytest_plugin",
            "--backstage-seed",
            "1234",
            "-p",
            "no:cacheprovider",
            str(test_file),
        ],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert with_plugin.returncode == 1, with_plugin.stdout
    assert "deterministic scheduler seed: 1234" in with_plugin.stdout
    without = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(test_file)],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert "fixture 'deterministic_actor_system' not found" in without.stdout


def test_directive_resume_on_manual_clock_system() -> None:
    system, clock, _ = deterministic_system(seed=11)
    with system:

        class Keeps(Actor[Any]):
            supervisor_strategy = SupervisorStrategy(lambda e: Directive.RESUME)

            def on_start(self) -> None:
                self.n = 0

            def receive(self, message: Any) -> Any:
                self.n += 1
                if message == "boom":
                    raise KeyError(message)
                return self.n

        ref = system.spawn(Keeps)
        assert ref.ask("a", timeout=1) == 1
        with pytest.raises(KeyError):
            ref.ask("boom", timeout=1)
        assert ref.ask("b", timeout=1) == 1  # the guardian's default restarts
        assert clock.now() == 0.0
