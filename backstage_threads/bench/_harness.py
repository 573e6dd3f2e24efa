"""Shared pieces of the benchmarks: sizes, targets, result rows and measuring aids."""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from .. import ActorSystem

__all__ = [
    "FLUSH",
    "FULL",
    "PROBE_INTERVAL",
    "QUICK",
    "WAIT",
    "Config",
    "Row",
    "Sizes",
    "Target",
    "calibrate_spin",
    "check",
    "fresh_system",
    "percentile",
    "probe_while",
    "rss_bytes",
    "spin",
    "timed",
]

#: Seconds any single ask or join in a benchmark may wait before the run is
#: declared hung; generous because the machine may be shared.
WAIT = 120.0

#: The message that asks a benchmark actor for its state (and so flushes its mailbox).
FLUSH = None

#: Seconds between probes of the light actor ("every ~1 ms").
PROBE_INTERVAL = 0.001


@dataclass(frozen=True, slots=True)
class Sizes:
    """How much work each scenario does."""

    count: int
    count_pykka: int
    fan_in_senders: int
    fan_in_each: int
    fan_in_each_pykka: int
    ping_pong: int
    ping_pong_pykka: int
    asks: int
    asks_pykka: int
    cpu_messages: int
    cpu_actors: int
    skynet: int
    spawn: int
    spawn_pykka: int
    flood: int
    flood_pykka: int
    idle_actors: int
    idle_seconds: float
    heavy_actors: int
    heavy_each: int
    progress_actors: int
    progress_each: int
    heavy_rounds: int


#: The full sizes (Savina-like; skynet is the classic 1M tree).
FULL = Sizes(
    count=1_000_000,
    # Pykka queues ~140k tells/s here (3.11): 200k keep it near 1.5 s.
    count_pykka=200_000,
    fan_in_senders=8,
    fan_in_each=100_000,
    # 8 x 20k for Pykka, for the same reason.
    fan_in_each_pykka=20_000,
    ping_pong=200_000,
    # Pykka manages ~23k hops/s: 20k hops keep it near 1 s.
    ping_pong_pykka=20_000,
    asks=20_000,
    # Pykka's ask costs ~84 us: 5k asks keep it under half a second.
    asks_pykka=5_000,
    # 400 messages of ~1 ms each: ~0.4 s on one worker, enough to swamp noise.
    cpu_messages=400,
    cpu_actors=8,
    skynet=1_000_000,
    spawn=100_000,
    # Pykka needs ~0.4-0.8 s to start 2,000 actors (one thread each).
    spawn_pykka=2_000,
    flood=1_000_000,
    # Pykka queues ~500k tells/s; 200k keep its flood near the length of ours.
    flood_pykka=200_000,
    idle_actors=1_000,
    idle_seconds=2.0,
    # The heavy-message fairness run (issue 11): 8 actors x 300 messages of ~1 ms
    # on the pool while a plain thread probes a light actor; 32 x 200 told up
    # front for the progress index. 3 rounds: a plain thread that sleeps gets
    # only ~30 probes in per round on a 2-core machine whose cores are busy.
    heavy_actors=8,
    heavy_each=300,
    progress_actors=32,
    progress_each=200,
    heavy_rounds=3,
)

#: A smoke-test run that finishes in about 20 s.
QUICK = Sizes(
    count=100_000,
    count_pykka=20_000,
    fan_in_senders=8,
    fan_in_each=10_000,
    fan_in_each_pykka=2_000,
    ping_pong=20_000,
    ping_pong_pykka=2_000,
    asks=2_000,
    asks_pykka=500,
    cpu_messages=80,
    cpu_actors=8,
    skynet=10_000,
    spawn=10_000,
    spawn_pykka=200,
    flood=100_000,
    flood_pykka=20_000,
    idle_actors=200,
    idle_seconds=0.5,
    heavy_actors=8,
    heavy_each=40,
    progress_actors=16,
    progress_each=20,
    heavy_rounds=1,
)


@dataclass(frozen=True, slots=True)
class Config:
    """Options of one benchmark run.

    Attributes:
        sizes: The workload sizes.
        workers: Worker threads of our systems (None: the CPU count).
        pykka: Whether to measure Pykka as well.
    """

    sizes: Sizes
    workers: int | None
    pykka: bool


@dataclass(frozen=True, slots=True)
class Target:
    """A goal for one row: a bound on our figure or on the ours/Pykka ratio.

    Attributes:
        subject: What is bounded: ``"ours"`` or ``"ratio"`` (ours / Pykka).
        op: The comparison.
        bound: The bound.
        applies: False where the goal does not apply to this interpreter (the
            row is then only reported, as "n/a").
    """

    subject: Literal["ours", "ratio"]
    op: Literal[">=", "<=", "<"]
    bound: float
    applies: bool = True

    def describe(self) -> str:
        what = "ours" if self.subject == "ours" else "ratio"
        suffix = "x" if self.subject == "ratio" else ""
        return f"{what} {self.op} {self.bound:g}{suffix}"

    def check(self, ours: float | None, ratio: float | None) -> bool | None:
        """True/False when the target applies and can be judged, else None."""
        value = ours if self.subject == "ours" else ratio
        if not self.applies or value is None:
            return None
        if self.op == ">=":
            return value >= self.bound
        if self.op == "<=":
            return value <= self.bound
        return value < self.bound


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the results table.

    Attributes:
        scenario: The scenario's CLI name (``count``, ``skynet``...).
        name: What the row measures.
        unit: The unit of both figures.
        ours: The backstage_threads figure.
        pykka: The Pykka figure, or None when not measured.
        target: The goal, if any.
        note: Free text (sizes, caveats).
    """

    scenario: str
    name: str
    unit: str
    ours: float | None
    pykka: float | None = None
    target: Target | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """ours / Pykka, when both were measured."""
        if self.ours is None or not self.pykka:
            return None
        return self.ours / self.pykka

    @property
    def met(self) -> bool | None:
        """Whether the target was met (None: no target or not applicable)."""
        return None if self.target is None else self.target.check(self.ours, self.ratio)


@contextmanager
def fresh_system(workers: int | None, name: str = "bench") -> Iterator[ActorSystem]:
    """A new actor system, shut down on exit; an unclean shutdown raises.

    Raises:
        RuntimeError: If actors or threads outlived the shutdown.
    """
    system = ActorSystem(name, workers=workers)
    try:
        yield system
    finally:
        report = system.shutdown(WAIT)
    if not report.clean:
        raise RuntimeError(f"unclean shutdown of benchmark system {name!r}: {report}")


class CollectorTime:
    """How often the cyclic garbage collector ran in a block, and for how long.

    A `gc.callbacks` entry: CPython calls it at the start and the end of every
    collection, from the collecting thread, one collection at a time (on a
    free-threaded build with every other thread stopped), so the two fields
    need no lock. Read them after the block.
    """

    def __init__(self) -> None:
        self.runs = 0
        self.seconds = 0.0
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.runs += 1
            self.seconds += time.perf_counter() - self._start

    def __enter__(self) -> CollectorTime:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


@contextmanager
def timed() -> Iterator[list[float]]:
    """Measure the block with `time.perf_counter`; the elapsed seconds land in ``[0]``."""
    box = [0.0]
    start = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - start


def spin(iterations: int) -> int:
    """Pure-Python CPU work: a loop summing integers."""
    total = 0
    for i in range(iterations):
        total += i
    return total


def calibrate_spin(seconds: float) -> int:
    """How many `spin` iterations take ``seconds`` on this interpreter, one thread."""
    probe = 100_000  # ~2-5 ms: long enough to time, short enough to repeat
    best = min(_time_call(spin, probe) for _ in range(5))
    return max(1, round(probe * seconds / best))


def _time_call(func: Callable[[int], object], arg: int) -> float:
    start = time.perf_counter()
    func(arg)
    return time.perf_counter() - start


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of ``samples`` (``fraction`` in [0, 1])."""
    if not samples:
        raise ValueError("percentile of no samples")
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def rss_bytes() -> int | None:
    """The resident set size from /proc/self/statm after a full collection, or None."""
    gc.collect()
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            resident_pages = int(statm.read().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def probe_while(worker: threading.Thread, probe: Any) -> list[float]:
    """Start ``worker`` and time ``probe()`` every `PROBE_INTERVAL` until it ends."""
    latencies: list[float] = []
    worker.start()
    next_probe = time.perf_counter()
    while worker.is_alive():
        start = time.perf_counter()
        probe()
        latencies.append(time.perf_counter() - start)
        next_probe += PROBE_INTERVAL
        delay = next_probe - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        else:
            next_probe = time.perf_counter()  # fell behind: do not burst to catch up
    worker.join(WAIT)
    return latencies


def check(condition: bool, message: str) -> None:
    """Raise `RuntimeError` when a benchmark computed a wrong result."""
    if not condition:
        raise RuntimeError(f"benchmark result is wrong: {message}")
