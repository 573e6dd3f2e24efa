"""The same scenarios measured on Pykka, the peer (one OS thread per actor).

Imported only when Pykka is installed (see `available`); it runs in the same
process and interpreter as our scenarios, and the actors are driven and timed
by the same code (`_workloads`), so the figures compare like with like.
Every function stops the actors it started before returning.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

import pykka

from ._harness import FLUSH, WAIT, check, spin, timed
from ._workloads import (
    idle_cpu_percent,
    probe_during_flood,
    time_fan_in,
    time_ping_pong,
    time_round_robin,
    time_tells,
)

__all__ = ["ask_round_trip", "count", "cpu_scaling", "fairness", "fan_in", "ping_pong", "spawn"]


@contextmanager
def _started() -> Iterator[list[pykka.ActorRef[Any]]]:
    """Collect refs of started actors; stop them all (concurrently) on exit."""
    refs: list[pykka.ActorRef[Any]] = []
    try:
        yield refs
    finally:
        stops = [ref.stop(block=False) for ref in refs]
        for stop in stops:
            stop.get(timeout=WAIT)


class _Counter(pykka.ThreadingActor):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def on_receive(self, message: Any) -> Any:
        if message is FLUSH:
            return self.count
        self.count += 1
        return None


class _Echo(pykka.ThreadingActor):
    def on_receive(self, message: Any) -> Any:
        return message


def count(messages: int) -> float:
    """One sender thread tells ``messages`` to one actor; msgs/s."""
    with _started() as refs:
        ref = _Counter.start()
        refs.append(ref)
        elapsed, received = time_tells(ref, messages)
    check(received == messages, f"pykka count: {received} of {messages}")
    return messages / elapsed


def fan_in(senders: int, each: int) -> float:
    """``senders`` threads each tell ``each`` to one actor; msgs/s."""
    with _started() as refs:
        ref = _Counter.start()
        refs.append(ref)
        elapsed, received = time_fan_in(ref, senders, each, "pykka-sender")
    check(received == senders * each, f"pykka fan-in: {received} of {senders * each}")
    return senders * each / elapsed


class _Player(pykka.ThreadingActor):
    def __init__(self, done: Future[float]) -> None:
        super().__init__()
        self.done = done
        self.peer: pykka.ActorRef[Any] | None = None

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, pykka.ActorRef):
            self.peer = message
        elif message == 0:
            self.done.set_result(time.perf_counter())
        else:
            assert self.peer is not None
            self.peer.tell(message - 1)
        return None


def ping_pong(hops: int) -> float:
    """Two actors bounce a counter ``hops`` times with tell; hops/s."""
    with _started() as refs:
        done: Future[float] = Future()
        ping = _Player.start(done)
        pong = _Player.start(done)
        refs += [ping, pong]
        return time_ping_pong(ping, pong, hops, done)


def ask_round_trip(asks: int) -> float:
    """A plain thread asks an echo actor ``asks`` times; microseconds per ask."""
    with _started() as refs:
        ref = _Echo.start()
        refs.append(ref)
        ref.ask(0, timeout=WAIT)
        with timed() as elapsed:
            for i in range(asks):
                ref.ask(i, timeout=WAIT)
    return elapsed[0] / asks * 1e6


class _Cruncher(pykka.ThreadingActor):
    def __init__(self, work: int) -> None:
        super().__init__()
        self.work = work

    def on_receive(self, message: Any) -> Any:
        if message is FLUSH:
            return None
        return spin(self.work)


def cpu_scaling(actors: int, messages: int, work: int) -> float:
    """Seconds for ``actors`` actors to do ``messages`` CPU-bound messages in all."""
    with _started() as refs:
        refs += [_Cruncher.start(work) for _ in range(actors)]
        return time_round_robin(refs, messages)


def spawn(actors: int) -> float:
    """Start ``actors`` idle actors (one thread each); actors started per second."""
    with _started() as refs, timed() as elapsed:
        for _ in range(actors):
            refs.append(_Echo.start())
        refs[-1].ask(FLUSH, timeout=WAIT)
    return actors / elapsed[0]


def fairness(flood: int) -> list[float]:
    """Ask latencies (seconds) of a light actor while another actor is flooded."""
    with _started() as refs:
        heavy = _Counter.start()
        light = _Echo.start()
        refs += [heavy, light]
        light.ask(0, timeout=WAIT)
        latencies = probe_during_flood(heavy, light, flood, "pykka-flooder")
        received = heavy.ask(FLUSH, timeout=WAIT)
    check(received == flood, f"pykka fairness: {received} of {flood}")
    return latencies


def idle_cpu(actors: int, seconds: float) -> float:
    """Percent of one core the process burns while ``actors`` actors sit idle."""
    with _started() as refs:
        refs += [_Echo.start() for _ in range(actors)]
        return idle_cpu_percent(refs, seconds)
