"""The scenarios measured on backstage_threads.

Every function runs in a fresh `ActorSystem` (see `fresh_system`) and returns
raw figures; `_scenarios` turns them into table rows. Where Pykka runs the same
workload, the driving and timing is shared with `_pykka` (see `_workloads`).
"""

from __future__ import annotations

import gc
import itertools
import sys
import threading
import time
import tracemalloc
from concurrent.futures import Future
from functools import partial
from typing import Any

from .. import Actor, ActorRef
from ._harness import FLUSH, WAIT, CollectorTime, check, fresh_system, rss_bytes, spin, timed
from ._workloads import (
    idle_cpu_percent,
    probe_during_flood,
    time_fan_in,
    time_ping_pong,
    time_round_robin,
    time_tells,
)

__all__ = [
    "ask_round_trip",
    "count",
    "cpu_scaling",
    "fairness",
    "fan_in",
    "heavy_latency",
    "heavy_progress",
    "idle_cpu",
    "ping_pong",
    "skynet",
    "spawn_idle",
]


class _Counter(Actor[Any]):
    """Counts messages; an ask of `FLUSH` returns the count."""

    def __init__(self) -> None:
        self.count = 0

    def receive(self, message: Any) -> Any:
        if message is FLUSH:
            return self.count
        self.count += 1
        return None


class _Echo(Actor[Any]):
    """Replies with what it gets; sent nothing (or only the flush ask), an idle actor."""

    def receive(self, message: Any) -> Any:
        return message


def count(workers: int | None, messages: int) -> float:
    """One sender thread tells ``messages`` to one unbounded actor; msgs/s."""
    with fresh_system(workers, "count") as system:
        ref = system.spawn(_Counter, capacity=None)
        elapsed, received = time_tells(ref, messages)
    check(received == messages, f"count: {received} of {messages} messages arrived")
    return messages / elapsed


def fan_in(workers: int | None, senders: int, each: int) -> float:
    """``senders`` threads each tell ``each`` to one default-capacity actor; msgs/s."""
    with fresh_system(workers, "fan-in") as system:
        ref = system.spawn(_Counter)
        elapsed, received = time_fan_in(ref, senders, each, "bench-sender")
    check(received == senders * each, f"fan-in: {received} of {senders * each} arrived")
    return senders * each / elapsed


class _Player(Actor[Any]):
    """Bounces a counter to its peer until it reaches zero, then settles ``done``."""

    def __init__(self, done: Future[float]) -> None:
        self.done = done
        self.peer: ActorRef[Any] | None = None

    def receive(self, message: Any) -> Any:
        if isinstance(message, ActorRef):
            self.peer = message
            return None
        if message == 0:
            self.done.set_result(time.perf_counter())
        else:
            assert self.peer is not None
            self.peer.tell(message - 1)
        return None


def ping_pong(workers: int | None, hops: int) -> float:
    """Two actors bounce a counter ``hops`` times; hops/s."""
    with fresh_system(workers, "ping-pong") as system:
        done: Future[float] = Future()
        ping = system.spawn(partial(_Player, done))
        pong = system.spawn(partial(_Player, done))
        return time_ping_pong(ping, pong, hops, done)


def ask_round_trip(workers: int | None, asks: int) -> float:
    """A plain thread asks an echo actor ``asks`` times; microseconds per ask."""
    with fresh_system(workers, "ask") as system:
        ref = system.spawn(_Echo)
        ref.ask(0, timeout=WAIT)  # started, and a worker warmed up
        ask = ref.ask
        with timed() as elapsed:
            for i in range(asks):
                ask(i, timeout=WAIT)
    return elapsed[0] / asks * 1e6


class _Cruncher(Actor[Any]):
    """Burns ``work`` spin iterations per message."""

    def __init__(self, work: int) -> None:
        self.work = work

    def receive(self, message: Any) -> Any:
        if message is FLUSH:
            return None
        return spin(self.work)


def cpu_scaling(workers: int, actors: int, messages: int, work: int) -> float:
    """Seconds for ``actors`` actors to do ``messages`` CPU-bound messages in all."""
    with fresh_system(workers, "cpu") as system:
        refs = [system.spawn(partial(_Cruncher, work)) for _ in range(actors)]
        return time_round_robin(refs, messages)


#: Small mailboxes for the skynet tree: a parent gets exactly 10 replies.
SKYNET_CAPACITY = 16
#: The tree's fan-out (the classic skynet benchmark).
SKYNET_FANOUT = 10


class _Skynet(Actor[Any]):
    """A skynet node: a leaf replies its index; a parent sums its children's replies."""

    def __init__(self, index: int, size: int, answer: Future[int] | None) -> None:
        self.index = index
        self.size = size
        self.answer = answer  # only the root has one; others reply to their parent
        self.total = 0
        self.pending = SKYNET_FANOUT

    def on_start(self) -> None:
        if self.size == 1:
            self._reply(self.index)
            return
        step = self.size // SKYNET_FANOUT
        spawn = self.context.spawn
        for i in range(SKYNET_FANOUT):
            spawn(
                partial(_Skynet, self.index + i * step, step, None),
                capacity=SKYNET_CAPACITY,
            )

    def receive(self, message: Any) -> Any:
        self.total += message
        self.pending -= 1
        if not self.pending:
            self._reply(self.total)
        return None

    def _reply(self, value: int) -> None:
        if self.answer is not None:
            self.answer.set_result(value)
        else:
            parent = self.context.parent
            assert parent is not None
            parent.tell(value)
        self.context.stop()


def skynet(workers: int | None, leaves: int) -> tuple[float, CollectorTime]:
    """Seconds for a 10-ary tree of ``leaves`` leaf actors to sum their indexes,
    and the garbage collector's share of the run."""
    size = 1
    while size < leaves:
        size *= SKYNET_FANOUT
    check(size == leaves, f"skynet needs a power of {SKYNET_FANOUT} leaves, got {leaves}")
    with fresh_system(workers, "skynet") as system:
        answer: Future[int] = Future()
        with CollectorTime() as collector, timed() as elapsed:
            system.spawn(partial(_Skynet, 0, leaves, answer), capacity=SKYNET_CAPACITY)
            total = answer.result(WAIT)
    expected = leaves * (leaves - 1) // 2
    check(total == expected, f"skynet summed {total}, expected {expected}")
    return elapsed[0], collector


def spawn_idle(workers: int | None, actors: int) -> tuple[float, float, float | None]:
    """Spawn ``actors`` idle actors.

    Returns:
        (actors spawned per second, tracemalloc bytes per actor, RSS bytes per
        actor or None). The rate comes from a run without tracemalloc, which
        slows allocation several-fold.
    """
    with fresh_system(workers, "spawn") as system:
        before = rss_bytes()
        with timed() as elapsed:
            refs = [system.spawn(_Echo) for _ in range(actors)]
            refs[-1].ask(FLUSH, timeout=WAIT)
        after = rss_bytes()
        del refs
    rss = None if before is None or after is None else (after - before) / actors
    gc.collect()
    tracemalloc.start()
    try:
        with fresh_system(workers, "spawn-traced") as system:
            gc.collect()
            base = tracemalloc.get_traced_memory()[0]
            traced = [system.spawn(_Echo) for _ in range(actors)]
            traced[-1].ask(FLUSH, timeout=WAIT)
            gc.collect()
            # The benchmark's own list of refs is not part of an actor's cost.
            used = tracemalloc.get_traced_memory()[0] - base - sys.getsizeof(traced)
            del traced
    finally:
        tracemalloc.stop()
    return actors / elapsed[0], used / actors, rss


def fairness(workers: int | None, flood: int) -> list[float]:
    """Ask latencies (seconds) of a light actor while another actor is flooded."""
    # Inline asks off: the probe asks must go through the scheduler, behind the
    # flooded actor's turns, or this would not measure fairness at all.
    with fresh_system(workers, "fairness") as system:
        heavy = system.spawn(_Counter)
        light = system.spawn(_Echo)
        light.ask(0, timeout=WAIT)
        latencies = probe_during_flood(heavy, light, flood, "bench-flooder")
        received = heavy.ask(FLUSH, timeout=WAIT)
    check(received == flood, f"fairness: {received} of {flood} flood messages arrived")
    return latencies


def idle_cpu(workers: int | None, actors: int, seconds: float) -> float:
    """Percent of one core the process burns while ``actors`` actors sit idle."""
    with fresh_system(workers, "idle") as system:
        refs = [system.spawn(_Echo) for _ in range(actors)]
        return idle_cpu_percent(refs, seconds)


class _Heavy(Actor[Any]):
    """Burns ``work`` spin iterations a message; counts its own progress in a shared list.

    ``progress[index]`` has this actor as its only writer. ``total`` numbers the
    messages done by all; whoever does number ``snapshot_at`` copies the list (the
    others' slots may move while it is copied: a few messages' noise), and number
    ``last`` sets ``done``.
    """

    def __init__(
        self,
        index: int,
        work: int,
        progress: list[int],
        total: itertools.count[int],
        snapshot_at: int,
        snapshot: list[list[int]],
        last: int,
        done: threading.Event,
    ) -> None:
        self.index = index
        self.work = work
        self.progress = progress
        self.total = total
        self.snapshot_at = snapshot_at
        self.snapshot = snapshot
        self.last = last
        self.done = done

    def receive(self, message: Any) -> Any:
        spin(self.work)
        self.progress[self.index] += 1
        number = next(self.total)
        if number == self.snapshot_at:
            self.snapshot.append(list(self.progress))
        if number == self.last:
            self.done.set()
        return None


class _Stamped(Actor[Any]):
    """Records, per message (a `time.perf_counter` stamp), how long it took to arrive."""

    def __init__(self, latencies: list[float]) -> None:
        self.latencies = latencies

    def receive(self, message: Any) -> Any:
        if message is not FLUSH:
            self.latencies.append(time.perf_counter() - message)
        return None


#: How often the probing thread tells the light actor (it sleeps in between).
HEAVY_PROBE_EVERY = 0.005


def heavy_latency(workers: int | None, actors: int, each: int, work: int) -> list[float]:
    """Latencies (seconds) from a plain thread's tell to a light actor's receive
    while ``actors`` actors each work through ``each`` heavy messages."""
    latencies: list[float] = []
    done = threading.Event()
    last = actors * each
    progress = [0] * actors
    total = itertools.count(1)
    with fresh_system(workers, "heavy") as system:
        light = system.spawn(_Stamped, latencies)
        heavy = [
            system.spawn(_Heavy, i, work, progress, total, 0, [], last, done) for i in range(actors)
        ]
        for _ in range(each):
            for ref in heavy:
                ref.tell(None)
        while not done.is_set():
            light.tell(time.perf_counter())
            done.wait(HEAVY_PROBE_EVERY)
        check(done.wait(WAIT), "heavy: the heavy messages did not finish")
        light.ask(FLUSH, timeout=WAIT)  # every probe told has arrived
    return latencies


def heavy_progress(workers: int | None, actors: int, each: int, work: int) -> list[int]:
    """Messages each of ``actors`` equally loaded actors had done when half of all were done."""
    progress = [0] * actors
    snapshot: list[list[int]] = []
    done = threading.Event()
    total = itertools.count(1)
    last = actors * each
    with fresh_system(workers, "progress") as system:
        refs = [
            system.spawn(_Heavy, i, work, progress, total, last // 2, snapshot, last, done)
            for i in range(actors)
        ]
        for ref in refs:
            for _ in range(each):
                ref.tell(None)
        check(done.wait(WAIT), "progress: the messages did not finish")
    return snapshot[0]
