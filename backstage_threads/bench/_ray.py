"""The Ray backend measured against plain Ray actor calls in the same run (``--ray``).

Imported only when ``--ray`` is given: the default bench needs no Ray. Both
sides run on the same local cluster with the same actor work (add a number to
a counter), so the ratio is what our layer costs (or saves) on top of Ray:

* ask round trip: ``ref.ask(0)`` against ``ray.get(actor.add.remote(0))``,
  in `ASK_ROUNDS` rounds that alternate between the two sides (the median
  round of each): this machine is shared and a freshly started cluster is
  busier in its first seconds, so measuring one side after the other once
  put 1.0x to 1.5x between runs of the same code;
* tell throughput: ``ref.tell(1)`` to an unbounded mailbox (our tells are
  batched into one Ray call while the previous one is being submitted,
  ``ray/_outbox.py``) against ``actor.add.remote(1)`` fire-and-forget calls,
  each side ended by one ask that proves every message was processed;
* tell under BLOCK with a capacity (each tell waits for the host's verdict:
  one round trip), reported for what it costs.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import ray

from .. import Actor, Overflow
from ..ray import RaySystem
from ._harness import WAIT, Config, Row, Target, check

__all__ = ["ray_rows"]

#: The round trip the issue allows our ask on top of a raw Ray call (1.2x).
ASK_RATIO = 1.2
#: Rounds of asks per side, alternating ours and raw Ray's.
ASK_ROUNDS = 10


class _Counter(Actor[int]):
    def on_start(self) -> None:
        self.total = 0

    def receive(self, message: int) -> int:
        self.total += message
        return self.total


class _Plain:
    """The same work as a plain Ray actor (sync, Ray's default concurrency of 1)."""

    def __init__(self) -> None:
        self.total = 0

    def add(self, value: int) -> int:
        self.total += value
        return self.total


def _ask_round_trips(
    ours: Callable[[], object], raw: Callable[[], object], n: int
) -> tuple[float, float]:
    """Microseconds per ask of each side: the median of `ASK_ROUNDS` rounds of
    ``n // ASK_ROUNDS`` asks each, the sides taking turns round by round."""
    each = max(1, n // ASK_ROUNDS)
    rounds: tuple[list[float], list[float]] = ([], [])
    for _ in range(ASK_ROUNDS):
        for ask, times in zip((ours, raw), rounds, strict=True):
            start = time.perf_counter()
            for _ in range(each):
                ask()
            times.append((time.perf_counter() - start) / each * 1e6)
    return statistics.median(rounds[0]), statistics.median(rounds[1])


def _ours(system: RaySystem, n_tells: int) -> tuple[float, float]:
    """Tells per second to an unbounded mailbox, then under BLOCK."""
    ref = system.spawn(_Counter, capacity=None)
    ref.ask(0, timeout=WAIT)
    start = time.perf_counter()
    for _ in range(n_tells):
        ref.tell(1)
    check(ref.ask(0, timeout=WAIT) == n_tells, "ours: every tell counted")
    tells = n_tells / (time.perf_counter() - start)
    bounded = system.spawn(_Counter, capacity=1000, overflow=Overflow.BLOCK)
    bounded.ask(0, timeout=WAIT)
    few = max(1, n_tells // 10)
    start = time.perf_counter()
    for _ in range(few):
        bounded.tell(1, timeout=WAIT)
    check(bounded.ask(0, timeout=WAIT) == few, "ours: every BLOCK tell counted")
    block = few / (time.perf_counter() - start)
    return tells, block


def _raw(n_tells: int) -> float:
    """Fire-and-forget calls per second to a plain Ray actor."""
    plain: Any = ray.remote(_Plain).remote()
    try:
        ray.get(plain.add.remote(0), timeout=WAIT)
        start = time.perf_counter()
        for _ in range(n_tells):
            plain.add.remote(1)
        check(ray.get(plain.add.remote(0), timeout=WAIT) == n_tells, "raw: every call counted")
        return n_tells / (time.perf_counter() - start)
    finally:
        ray.kill(plain)


def _asks(system: RaySystem, n_asks: int) -> tuple[float, float]:
    """Ask round trips of ours and of a plain Ray actor, in alternating rounds."""
    ref = system.spawn(_Counter, capacity=None)
    plain: Any = ray.remote(_Plain).remote()
    try:
        for _ in range(20):  # warm: each side's process and its path
            ref.ask(0, timeout=WAIT)
            ray.get(plain.add.remote(0), timeout=WAIT)
        return _ask_round_trips(
            lambda: ref.ask(0, timeout=WAIT),
            lambda: ray.get(plain.add.remote(0), timeout=WAIT),
            n_asks,
        )
    finally:
        ray.kill(plain)


def ray_rows(config: Config) -> list[Row]:
    """The Ray rows (the peer column is plain Ray, not Pykka); starts Ray if needed."""
    quick = config.sizes.asks < 10_000
    n_asks, n_tells = (250, 2_000) if quick else (1_000, 10_000)
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        with RaySystem(f"bench-{os.getpid()}") as system:
            ask_us, raw_ask_us = _asks(system, n_asks)
            tells, block = _ours(system, n_tells)
        raw_tells = _raw(n_tells)
    finally:
        if started:
            ray.shutdown()
    return [
        Row(
            "ray",
            f"ask round trip, {n_asks:,} asks a side (peer column: raw Ray actor call)",
            "us",
            ask_us,
            raw_ask_us,
            Target("ratio", "<=", ASK_RATIO),
        ),
        Row(
            "ray",
            f"{n_tells:,} tells, unbounded mailbox (peer column: raw Ray calls)",
            "msg/s",
            tells,
            raw_tells,
            Target("ratio", ">=", 1.0),
            note="ours batches the tells made while a call is submitted into one call",
        ),
        Row(
            "ray",
            f"{max(1, n_tells // 10):,} tells, BLOCK capacity 1000 (peer column: raw Ray calls)",
            "msg/s",
            block,
            raw_tells,
            note="each BLOCK tell waits for the host's verdict: one round trip",
        ),
    ]
