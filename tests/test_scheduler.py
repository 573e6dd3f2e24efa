"""The scheduler: statistics, fairness between actors, pinned threads, no-GIL import."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from support import WAIT, Counter, Echo, Latch, assert_clean_shutdown

import backstage_threads
from backstage_threads import DEFAULT_BUDGET, Actor, ActorSystem


def test_statistics_count_every_processed_message() -> None:
    system = ActorSystem("stats", workers=2)
    refs = [system.spawn(Counter, capacity=None) for _ in range(4)]
    for ref in refs:
        for _ in range(500):
            ref.tell(1)
    # Flush: each ask is processed after that actor's 500 tells.
    assert [ref.ask(0, timeout=WAIT) for ref in refs] == [500] * 4
    snapshot = system.statistics()
    assert len(snapshot.workers) == 2
    assert snapshot.messages <= 4 * 501
    assert_clean_shutdown(system)
    # Workers publish their counters when they exit, so after shutdown the
    # numbers are final and exact (while running they are a lagging snapshot).
    final = system.statistics()
    assert [w.name for w in final.workers] == ["stats-worker-0", "stats-worker-1"]
    assert final.messages == 4 * 501
    # Every turn ran on a worker, none on the asking thread.
    assert final.messages == sum(w.messages for w in final.workers)
    assert final.turns == sum(w.turns for w in final.workers)
    assert final.steals == sum(w.steals for w in final.workers)
    assert final.parks == sum(w.parks for w in final.workers)
    assert final.turns >= 4
    assert final.dead_letters == system.dead_letters.count == 0


def test_default_budget_and_worker_count() -> None:
    assert DEFAULT_BUDGET == 64
    system = ActorSystem("sized", workers=3)
    try:
        assert system.workers == 3
        assert repr(system) == "<ActorSystem 'sized' workers=3>"
    finally:
        assert_clean_shutdown(system)


class Progress:
    """How many messages the heavy actor has processed (touched by one worker only)."""

    def __init__(self) -> None:
        self.processed = 0


class Heavy(Actor[Any]):
    def __init__(self, progress: Progress, latch: Latch) -> None:
        self.progress = progress
        self.latch = latch

    def receive(self, message: Any) -> Any:
        if message == "hold":
            self.latch.hold()
            return None
        self.progress.processed += 1
        return self.progress.processed


class Light(Actor[Any]):
    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def receive(self, message: Any) -> Any:
        # Runs on the same (only) worker as Heavy, so this read is not racy.
        return self.progress.processed


HEAVY_MESSAGES = 10_000


def test_light_actor_gets_turns_while_a_heavy_actor_is_flooded() -> None:
    system = ActorSystem("fair", workers=1, budget=8)
    try:
        progress = Progress()
        latch = Latch()
        light = system.spawn(lambda: Light(progress), name="light")
        assert light.ask("warm-up", timeout=WAIT) == 0
        heavy = system.spawn(lambda: Heavy(progress, latch), name="heavy", capacity=None)
        # Hold the only worker inside Heavy while its whole backlog is queued.
        heavy.tell("hold")
        assert latch.entered.wait(WAIT)
        for i in range(HEAVY_MESSAGES):
            heavy.tell(i)
        reply = light.ask_future("how far?")
        latch.release.set()
        seen = reply.result(timeout=WAIT)
        # Light got a turn long before Heavy's backlog was done.
        assert 0 <= seen < HEAVY_MESSAGES
        assert seen < HEAVY_MESSAGES // 2
        assert heavy.ask("last", timeout=WAIT) == HEAVY_MESSAGES + 1
    finally:
        assert_clean_shutdown(system)


class Slow(Actor[Any]):
    """Each message holds the worker ~1 ms (a heavy message); counts into a shared list."""

    def __init__(self, index: int, done: list[int], order: list[int]) -> None:
        self.index = index
        self.done = done
        self.order = order

    def receive(self, message: Any) -> Any:
        if message == "count":
            return sum(self.done)
        time.sleep(0.001)
        self.done[self.index] += 1
        self.order.append(self.index)
        return None


def hold_the_worker(system: ActorSystem) -> Latch:
    """Keep a one-worker system's worker busy until the latch is released."""
    latch = Latch()
    holder = system.spawn(lambda: Heavy(Progress(), latch), name="holder")
    holder.tell("hold")
    assert latch.entered.wait(WAIT)
    return latch


def test_heavy_messages_share_a_worker_turn_by_turn() -> None:
    # 4 actors x 40 heavy messages on one worker, all told before the first runs.
    # A turn bounded only by its budget (64) ran each actor to its end in one
    # turn: at half-time two had finished and two had not started. The time
    # slice (TURN_SLICE) ends a turn after a few of them.
    actors, each = 4, 40
    done = [0] * actors
    order: list[int] = []
    system = ActorSystem("slices", workers=1)
    try:
        refs = [system.spawn(Slow, i, done, order, capacity=None) for i in range(actors)]
        latch = hold_the_worker(system)
        for ref in refs:
            for _ in range(each):
                ref.tell("work")
        latch.release.set()
        for ref in refs:
            ref.ask("count", timeout=WAIT)
        assert done == [each] * actors
        half = order[: actors * each // 2]
        progress = [half.count(i) for i in range(actors)]
        assert min(progress) > 0, progress  # every actor had turns before half-time
        assert max(progress) < each, progress  # none ran to its end in one go
    finally:
        assert_clean_shutdown(system)


def test_a_message_from_outside_overtakes_a_backlog_of_heavy_turns() -> None:
    # One worker runs two heavy actors' backlogs, which after their first turns
    # sit in the worker's own queue; a message told from this plain thread goes
    # to the injection queue. Looking there every 61 turns let both backlogs
    # (4 turns) finish first; looking by the clock (INJECT_INTERVAL) lets it in
    # after a turn or two.
    each = 100
    done = [0, 0]
    order: list[int] = []
    system = ActorSystem("inject", workers=1)
    try:
        refs = [system.spawn(Slow, i, done, order, capacity=None) for i in range(2)]
        light = system.spawn(Slow, 0, done, [])  # replies how many heavy messages ran
        assert light.ask("count", timeout=WAIT) == 0
        latch = hold_the_worker(system)
        for ref in refs:
            for _ in range(each):
                ref.tell("work")
        latch.release.set()
        seen = light.ask("count", timeout=WAIT)
        assert seen < 2 * each, seen  # it did not wait for both backlogs
        for ref in refs:
            ref.ask("count", timeout=WAIT)
        assert done == [each, each]
    finally:
        assert_clean_shutdown(system)


class ThreadName(Actor[Any]):
    def receive(self, message: Any) -> Any:
        return threading.current_thread().name


def test_an_ask_never_runs_actor_code_on_the_asking_thread(system: ActorSystem) -> None:
    # Regression: asks to an idle actor used to run its turn on the asking thread.
    ref = system.spawn(ThreadName)
    ref.ask("warm up", timeout=WAIT)
    names = {ref.ask("where", timeout=WAIT) for _ in range(200)}
    workers = {w.name for w in system.statistics().workers}
    assert names <= workers
    assert threading.current_thread().name not in names


def test_pinned_actor_runs_on_its_own_thread() -> None:
    system = ActorSystem(workers=2)
    try:
        _check_pinned_and_shared_threads(system)
    finally:
        assert_clean_shutdown(system)


def _check_pinned_and_shared_threads(system: ActorSystem) -> None:
    pinned = system.spawn(ThreadName, name="p", pinned=True)
    shared = system.spawn(ThreadName, name="s")
    worker_names = {w.name for w in system.statistics().workers}
    pinned_names = {pinned.ask(i, timeout=WAIT) for i in range(20)}
    shared_names = {shared.ask(i, timeout=WAIT) for i in range(20)}
    assert len(pinned_names) == 1
    (pinned_name,) = pinned_names
    assert pinned_name.startswith("backstage-pinned-")
    assert pinned_name.endswith("/user/p")
    assert pinned_name not in worker_names
    assert pinned_name != threading.current_thread().name
    assert shared_names <= worker_names
    assert all(name.startswith("backstage-worker-") for name in shared_names)


def test_pinned_thread_exits_when_its_actor_stops(system: ActorSystem) -> None:
    pinned = system.spawn(ThreadName, name="p", pinned=True)
    name = pinned.ask("name", timeout=WAIT)
    thread = next(t for t in threading.enumerate() if t.name == name)
    pinned.stop()
    assert pinned.wait_stopped(timeout=WAIT)
    thread.join(WAIT)
    assert not thread.is_alive()


def test_many_actors_share_a_small_pool(system: ActorSystem) -> None:
    refs = [system.spawn(Echo) for _ in range(500)]
    futures = [ref.ask_future(i) for i, ref in enumerate(refs)]
    assert [f.result(timeout=WAIT) for f in futures] == list(range(500))
    names = {t.name for t in threading.enumerate() if t.name.startswith("backstage")}
    assert names == {"backstage-worker-0", "backstage-worker-1"}


@pytest.mark.skipif(
    not sysconfig.get_config_var("Py_GIL_DISABLED"), reason="needs a free-threaded build"
)
def test_import_keeps_the_gil_disabled() -> None:
    # A fresh interpreter: importing a module that is not marked free-threading
    # safe would silently turn the GIL back on.
    code = (
        "import sys, backstage_threads; "
        "from backstage_threads import ActorSystem; "
        "s = ActorSystem(workers=2); s.shutdown(10); "
        "print(sys._is_gil_enabled())"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    root = str(Path(backstage_threads.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=env,
    )
    assert result.stdout.strip() == "False"
    assert sys._is_gil_enabled() is False
