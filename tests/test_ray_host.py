"""The threaded host (``backstage_threads/ray/_host.py``) on a real local Ray cluster.

The host is a *threaded* Ray actor with a bounded thread pool per concurrency
group. These tests hold its guarantees where the pools run out: asks beyond
the letter threads and long-polls beyond the watch threads wait in Ray's queue
and are all answered; caller-runs asks (an ask to an idle actor runs its
``receive`` on the Ray thread that brought it) keep turns one at a time, each
sender's order, and the receive timeout; a pinned actor runs every turn on its
own thread. Actors wait on a `Gate` (a socket), never on a sleep.
"""

from __future__ import annotations

import inspect
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from raykit import RAY_MARKS, WAIT, Gate, by_value, hold, notify

from backstage_threads import Actor, Overflow, ReceiveTimeout, SendTimeoutError

pytestmark = RAY_MARKS


@pytest.fixture
def system(ray_cluster: Any) -> Iterator[Any]:
    by_value(__name__)
    from backstage_threads.ray import RaySystem

    made = RaySystem(f"host-{uuid.uuid4().hex[:6]}")
    yield made
    assert made.shutdown(WAIT).clean


class Log(Actor[Any]):
    """Logs what it receives; says if two turns ever overlapped."""

    def on_start(self) -> None:
        self.seen: list[Any] = []
        self.inside = False
        self.overlaps = 0

    def receive(self, message: Any) -> Any:
        if self.inside:
            self.overlaps += 1
        self.inside = True
        try:
            match message:
                case ("hold", address):
                    hold(address)
                case "log":
                    return list(self.seen)
                case "overlaps":
                    return self.overlaps
                case "thread":
                    return threading.current_thread().name
                case _:
                    self.seen.append(message)
                    return message
        finally:
            self.inside = False
        return None


class Idle(Actor[Any]):
    """Counts its receive timeouts; notifies ``address`` at the first one."""

    def __init__(self, seconds: float, address: Any) -> None:
        self.seconds = seconds
        self.address = address

    def on_start(self) -> None:
        self.timeouts = 0
        self.context.set_receive_timeout(self.seconds)

    def receive(self, message: Any) -> Any:
        if isinstance(message, ReceiveTimeout):
            self.timeouts += 1
            if self.timeouts == 1 and self.address is not None:
                notify(self.address)
            return None
        return self.timeouts


def test_the_host_is_a_threaded_ray_actor_with_bounded_pools() -> None:
    from backstage_threads.ray import _host

    coroutines = [
        name
        for name, member in inspect.getmembers(_host.Host)
        if inspect.iscoroutinefunction(member)
    ]
    assert coroutines == []  # one async method would make Ray run the host as an async actor
    pools = [
        _host.LETTER_THREADS,
        _host.CONTROL_THREADS,
        _host.QUERY_THREADS,
        _host.WATCH_THREADS,
        _host.OFFICE_THREADS,
    ]
    assert all(1 <= threads <= 64 for threads in pools)


def test_asks_beyond_the_letter_threads_are_all_answered_in_order(system: Any) -> None:
    from backstage_threads.ray._host import LETTER_THREADS

    ref = system.spawn(Log, capacity=None)
    gate = Gate()
    try:
        ref.tell(("hold", gate.address))
        gate.wait_connected()  # busy: every ask below waits, holding a thread or queued
        futures = [ref.ask_future(i) for i in range(2 * LETTER_THREADS + 5)]
    finally:
        gate.close()
    assert [future.result(WAIT) for future in futures] == list(range(len(futures)))
    assert ref.ask("log", timeout=WAIT) == list(range(len(futures)))


def test_long_polls_beyond_the_watch_threads_all_end_at_the_stop(system: Any) -> None:
    import ray

    from backstage_threads.ray._host import WATCH_THREADS

    ref = system.spawn(Log)
    polls = [ref._handle.until_stopped.remote(None) for _ in range(3 * WATCH_THREADS)]
    expired = [ref.wait_stopped(0.01) for _ in range(WATCH_THREADS)]  # each gives its thread back
    assert expired == [False] * WATCH_THREADS
    ref.stop()
    # Every poll ends: with the stop's reason, or, for one still queued in Ray
    # when the parent reaped the host, with the host gone (Ray orders a group's
    # queued calls per caller only, so the parent's quiesce may overtake this
    # driver's polls). `wait_stopped` reads a gone host as stopped.
    done, pending = ray.wait(polls, num_returns=len(polls), timeout=WAIT)
    assert not pending
    answers = []
    for poll in done:
        try:
            answers.append(ray.get(poll, timeout=WAIT))
        except ray.exceptions.RayActorError:
            answers.append("host gone")
    assert set(answers) <= {"stopped", "host gone"} and "stopped" in answers
    assert ref.wait_stopped(WAIT)


def test_caller_runs_asks_keep_turns_one_at_a_time_and_each_senders_order(system: Any) -> None:
    senders, each = 4, 30
    ref = system.spawn(Log, capacity=None)
    barrier = threading.Barrier(senders)
    answers: list[list[Any]] = [[] for _ in range(senders)]

    def send(sender: int) -> None:
        barrier.wait(WAIT)
        for i in range(each):
            if i % 3:
                ref.tell((sender, i))
            else:
                answers[sender].append(ref.ask((sender, i), timeout=WAIT))

    threads = [threading.Thread(target=send, args=(k,)) for k in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    seen = ref.ask("log", timeout=WAIT)
    assert ref.ask("overlaps", timeout=WAIT) == 0
    assert sorted(seen) == [(k, i) for k in range(senders) for i in range(each)]
    for k in range(senders):
        assert [i for sender, i in seen if sender == k] == list(range(each))
        assert answers[k] == [(k, i) for i in range(0, each, 3)]


def test_caller_runs_asks_do_not_fire_the_receive_timeout(system: Any) -> None:
    ref = system.spawn(Idle, WAIT, None)
    assert [ref.ask("count", timeout=WAIT) for _ in range(30)] == [0] * 30


def test_the_receive_timeout_fires_when_idle(system: Any) -> None:
    gate = Gate()
    try:
        ref = system.spawn(Idle, 0.05, gate.address)
        gate.wait_connected()
    finally:
        gate.close()
    assert ref.ask("count", timeout=WAIT) >= 1


def test_a_pinned_actor_runs_every_turn_on_its_own_thread(system: Any) -> None:
    ref = system.spawn(Log, pinned=True)
    names = {ref.ask("thread", timeout=WAIT) for _ in range(10)}
    assert len(names) == 1
    assert names.pop().startswith("backstage-turns/user/")


def test_a_block_tell_that_timed_out_is_not_delivered(system: Any) -> None:
    ref = system.spawn(Log, capacity=1, overflow=Overflow.BLOCK)
    gate = Gate()
    try:
        ref.tell(("hold", gate.address))
        gate.wait_connected()
        ref.tell("queued", timeout=WAIT)  # the one place
        with pytest.raises(SendTimeoutError):
            ref.tell("late", timeout=0.2)
    finally:
        gate.close()
    assert ref.ask("log", timeout=WAIT) == ["queued"]
