"""The library-independent halves of the scenarios: drive actors and time them.

`_ours` and `_pykka` start their own actors, then hand the references to these
functions, so both libraries are driven and timed by the very same code. Each
function only needs `tell` and `ask` (see `BenchRef`); every ask waits at most
`WAIT`. An ask of `FLUSH` returns once the actor has processed everything sent
to it before.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from ._harness import FLUSH, WAIT, probe_while, timed

__all__ = [
    "BenchRef",
    "idle_cpu_percent",
    "probe_during_flood",
    "time_executor",
    "time_fan_in",
    "time_ping_pong",
    "time_round_robin",
    "time_tells",
]


class BenchRef(Protocol):
    """What the drivers use of an actor reference: ours and Pykka's both fit."""

    def tell(self, message: Any, /) -> None: ...

    def ask(self, message: Any, /, *, timeout: float | None = None) -> Any: ...


def time_tells(ref: BenchRef, messages: int) -> tuple[float, Any]:
    """Tell ``messages`` times from this thread, then flush.

    Returns:
        (seconds from the first tell until the flush returned, the flush's reply).
    """
    tell = ref.tell
    with timed() as elapsed:
        for _ in range(messages):
            tell(1)
        received = ref.ask(FLUSH, timeout=WAIT)
    return elapsed[0], received


def time_fan_in(ref: BenchRef, senders: int, each: int, thread_name: str) -> tuple[float, Any]:
    """``senders`` threads, released together by a barrier, each tell ``each`` times.

    The threads are named ``{thread_name}-{i}``.

    Returns:
        (seconds from the release until every sender finished and the flush
        returned, the flush's reply).
    """
    start = threading.Barrier(senders + 1)

    def send() -> None:
        tell = ref.tell
        start.wait(WAIT)
        for _ in range(each):
            tell(1)

    threads = [threading.Thread(target=send, name=f"{thread_name}-{i}") for i in range(senders)]
    for thread in threads:
        thread.start()
    start.wait(WAIT)
    with timed() as elapsed:
        for thread in threads:
            thread.join(WAIT)
        received = ref.ask(FLUSH, timeout=WAIT)
    return elapsed[0], received


def time_ping_pong(ping: BenchRef, pong: BenchRef, hops: int, done: Future[float]) -> float:
    """Introduce two players to each other, then bounce a counter ``hops`` times; hops/s.

    A player takes a reference as its peer, passes ``n - 1`` on for ``n`` and
    settles ``done`` with `time.perf_counter` when it gets 0.
    """
    ping.ask(pong, timeout=WAIT)
    pong.ask(ping, timeout=WAIT)
    start = time.perf_counter()
    ping.tell(hops)
    finish = done.result(WAIT)
    return hops / (finish - start)


def time_round_robin(refs: Sequence[BenchRef], messages: int) -> float:
    """Seconds for ``refs`` to process ``messages`` messages dealt round-robin.

    Every actor is flushed once before the clock starts (so all have started),
    and once more inside the timed span (so all have finished).
    """
    actors = len(refs)
    for ref in refs:
        ref.ask(FLUSH, timeout=WAIT)
    with timed() as elapsed:
        for i in range(messages):
            refs[i % actors].tell(i)
        for ref in refs:
            ref.ask(FLUSH, timeout=WAIT)
    return elapsed[0]


def time_executor(threads: int, messages: int, task: Callable[[], Any]) -> float:
    """Seconds for a `ThreadPoolExecutor` of ``threads`` to run ``task`` ``messages`` times.

    What a user without actors writes for the same CPU-bound job: submit every
    task, then wait for all. The threads are started (one warm-up task each)
    before the clock starts, as the actors are in `time_round_robin`.
    """
    with ThreadPoolExecutor(threads, thread_name_prefix="bench-executor") as pool:
        for warm in [pool.submit(time.sleep, 0.01) for _ in range(threads)]:
            warm.result(WAIT)
        with timed() as elapsed:
            futures = [pool.submit(task) for _ in range(messages)]
            for future in futures:
                future.result(WAIT)
    return elapsed[0]


def probe_during_flood(
    heavy: BenchRef, light: BenchRef, flood: int, thread_name: str
) -> list[float]:
    """Ask latencies (seconds) of ``light`` while a thread tells ``flood`` messages to ``heavy``.

    The flooding thread is named ``thread_name``; see `probe_while` for the probing.
    """

    def flood_heavy() -> None:
        tell = heavy.tell
        for i in range(flood):
            tell(i)

    flooder = threading.Thread(target=flood_heavy, name=thread_name)
    return probe_while(flooder, lambda: light.ask(0, timeout=WAIT))


def idle_cpu_percent(refs: Sequence[BenchRef], seconds: float) -> float:
    """Percent of one core the process burns over ``seconds`` once ``refs`` are flushed."""
    for ref in refs:
        ref.ask(FLUSH, timeout=WAIT)
    cpu_before = time.process_time()
    wall_before = time.perf_counter()
    time.sleep(seconds)
    cpu = time.process_time() - cpu_before
    wall = time.perf_counter() - wall_before
    return 100.0 * cpu / wall
