"""The nine scenarios: each measures us (and Pykka where it has an equivalent) into rows."""

from __future__ import annotations

import gc
import os
import sys
import sysconfig
from collections.abc import Callable
from functools import partial
from types import ModuleType

from . import _bridge, _ours
from ._floor import thread_round_trip, trampoline_ping_pong
from ._harness import Config, Row, Target, calibrate_spin, percentile, spin
from ._workloads import time_executor

__all__ = ["SCENARIOS", "free_threaded"]

#: One CPU-scaling message costs about this many seconds of pure-Python work.
CPU_MESSAGE_SECONDS = 0.001
#: The speedup the CPU scenario must reach on a free-threaded build with >= 2 cores.
CPU_SPEEDUP_TARGET = 1.8
#: Bytes one idle actor may cost (issue 11's budget: 1 KiB).
IDLE_ACTOR_BYTES = 1024
#: Ping-pong hops/s as a share of the bare trampoline's, the same run (issue 11).
PING_PONG_FLOOR_SHARE = 0.5
#: Idle actors spawned per second (issue 11).
SPAWN_RATE_TARGET = 250_000
#: Seconds the full skynet (1,111,111 actors) may take on a free-threaded build (issue 11).
SKYNET_TARGET = 10.0
#: The light actor's p99 ask latency bound under a flood, in milliseconds.
FAIRNESS_P99_MS = 5.0
#: Issue 11's bounds for a light actor behind heavy messages, and for how evenly
#: equally loaded actors progress (Jain's index of their progress at half-time:
#: 1.0 all equal, 1/n only one moved).
HEAVY_WORST_MS = 20.0
PROGRESS_JAIN = 0.9
#: Percent of one core an idle system may burn.
IDLE_CPU_PERCENT = 2.0


def free_threaded() -> bool:
    """True on a free-threaded build running with the GIL disabled."""
    disabled = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    is_enabled: Callable[[], bool] | None = getattr(sys, "_is_gil_enabled", None)
    return disabled and is_enabled is not None and not is_enabled()


def _pykka(config: Config) -> ModuleType | None:
    """The Pykka side, imported on first use, or None when not measured."""
    if not config.pykka:
        return None
    from . import _pykka  # noqa: PLC0415 - Pykka is optional: import it lazily

    return _pykka


def _cores(config: Config) -> int:
    return config.workers if config.workers is not None else (os.cpu_count() or 1)


def _versus(
    config: Config,
    scenario: str,
    name: str,
    unit: str,
    ours: Callable[[], float],
    theirs: Callable[[ModuleType], float],
    target: Target | None = None,
    note: str = "",
) -> list[Row]:
    """A one-row scenario measured on both libraries (arguments in `Row` order).

    ``ours()`` runs first, then ``theirs(pykka side)`` when Pykka is measured
    (the Pykka figure is None otherwise).
    """
    peer = _pykka(config)
    figure = ours()
    return [Row(scenario, name, unit, figure, theirs(peer) if peer else None, target, note)]


def count(config: Config) -> list[Row]:
    n, pykka_n = config.sizes.count, config.sizes.count_pykka
    return _versus(
        config,
        "count",
        f"1 sender, {n:,} tells to 1 actor (Pykka {pykka_n:,})",
        "msg/s",
        lambda: _ours.count(config.workers, n),
        lambda peer: peer.count(pykka_n),
        Target("ratio", ">=", 3),
    )


def fan_in(config: Config) -> list[Row]:
    sizes = config.sizes
    senders, each, pykka_each = sizes.fan_in_senders, sizes.fan_in_each, sizes.fan_in_each_pykka
    return _versus(
        config,
        "fan-in",
        f"{senders} senders x {each:,} tells to 1 actor (Pykka x {pykka_each:,})",
        "msg/s",
        lambda: _ours.fan_in(config.workers, senders, each),
        lambda peer: peer.fan_in(senders, pykka_each),
        note="ours: default capacity (BLOCK); Pykka: unbounded",
    )


#: Short scenarios run this many times on each side and keep the best run, so a
#: burst of noise on the shared machine does not decide a ratio.
BEST_OF = 3


def _best(measure: Callable[[], float], pick: Callable[[list[float]], float] = max) -> float:
    """The best of `BEST_OF` runs of ``measure`` (``pick=min`` for times)."""
    return pick([measure() for _ in range(BEST_OF)])


def _with_floor(rows: list[Row], name: str, floor: float, note: str) -> list[Row]:
    """``rows`` and one more: what the same work costs on bare threads (see _floor)."""
    first = rows[0]
    return [*rows, Row(first.scenario, name, first.unit, floor, note=note)]


def ping_pong(config: Config) -> list[Row]:
    hops, pykka_hops = config.sizes.ping_pong, config.sizes.ping_pong_pykka
    rows = _versus(
        config,
        "ping-pong",
        f"2 actors, {hops:,} hops (Pykka {pykka_hops:,}), best of {BEST_OF}",
        "hops/s",
        lambda: _best(lambda: _ours.ping_pong(config.workers, hops)),
        lambda peer: _best(lambda: peer.ping_pong(pykka_hops)),
        note="Pykka's own figure moves by 2x between runs: the floor is the yardstick",
    )
    rows = _with_floor(
        rows,
        "floor: the same hops on a bare one-thread trampoline",
        _best(lambda: trampoline_ping_pong(hops)),
        "an upper bound for any thread-safe runtime on this interpreter (see _floor)",
    )
    ours, floor = rows[0].ours, rows[-1].ours
    share = Row(
        "ping-pong",
        "ours / the floor (higher is closer)",
        "ratio",
        ours / floor if ours is not None and floor else None,
        target=Target("ours", ">=", PING_PONG_FLOOR_SHARE),
    )
    return [*rows, share]


def ask(config: Config) -> list[Row]:
    asks, pykka_asks = config.sizes.asks, config.sizes.asks_pykka
    rows = _versus(
        config,
        "ask",
        f"ask round trip from a thread, {asks:,} asks (Pykka {pykka_asks:,}), best of {BEST_OF}",
        "us",
        lambda: _best(lambda: _ours.ask_round_trip(config.workers, asks), min),
        lambda peer: _best(lambda: peer.ask_round_trip(pykka_asks), min),
        Target("ratio", "<=", 0.5),
    )
    return _with_floor(
        rows,
        "floor: a token to another thread and back over two bare locks",
        _best(lambda: thread_round_trip(asks), min),
        "the least a hand-off between parking threads costs here (see _floor)",
    )


def cpu(config: Config) -> list[Row]:
    sizes = config.sizes
    work = calibrate_spin(CPU_MESSAGE_SECONDS)
    cores = _cores(config)
    one = _ours.cpu_scaling(1, sizes.cpu_actors, sizes.cpu_messages, work)
    many = _ours.cpu_scaling(cores, sizes.cpu_actors, sizes.cpu_messages, work)
    peer = _pykka(config)
    peer_speedup = None
    if peer:
        peer_one = peer.cpu_scaling(1, sizes.cpu_messages, work)
        peer_speedup = peer_one / peer.cpu_scaling(2, sizes.cpu_messages, work)
    applies = free_threaded() and cores >= 2
    task = partial(spin, work)
    pool_one = time_executor(1, sizes.cpu_messages, task)
    pool_many = time_executor(cores, sizes.cpu_messages, task)
    rows = [
        Row(
            "cpu",
            f"CPU speedup, {sizes.cpu_actors} actors x ~1 ms msgs, 1 -> {cores} workers "
            f"(Pykka: 1 -> 2 actors)",
            "x",
            one / many,
            peer_speedup,
            Target("ours", ">=", CPU_SPEEDUP_TARGET, applies=applies),
            note=f"{sizes.cpu_messages} msgs; 1 worker {one:.3f} s, {cores} workers {many:.3f} s"
            + ("" if applies else "; target applies only to free-threaded builds"),
        ),
        Row(
            "cpu",
            f"the same {sizes.cpu_messages} tasks on a ThreadPoolExecutor, 1 -> {cores} threads",
            "x",
            pool_one / pool_many,
            note=f"1 thread {pool_one:.3f} s, {cores} threads {pool_many:.3f} s",
        ),
        Row(
            "cpu",
            f"time at {cores} workers: ours / ThreadPoolExecutor's (lower is faster)",
            "ratio",
            many / pool_many,
            target=Target("ours", "<=", 1.0, applies=applies),
            note="the job a user without actors would write",
        ),
    ]
    return rows


def skynet(config: Config) -> list[Row]:
    leaves = config.sizes.skynet
    seconds, collector = _ours.skynet(config.workers, leaves)
    actors = leaves * 10 // 9
    return [
        Row(
            "skynet",
            f"skynet, 10-ary tree of {leaves:,} leaves (sum checked)",
            "s",
            seconds,
            target=Target(
                "ours", "<=", SKYNET_TARGET, applies=free_threaded() and leaves >= 1_000_000
            ),
            note=f"{actors:,} actors, {actors / seconds:,.0f} actors/s; "
            f"the collector ran {collector.runs} times for {collector.seconds:.2f} s "
            f"({collector.seconds / seconds:.0%}); Pykka: n/a (a thread per actor)",
        )
    ]


def spawn(config: Config) -> list[Row]:
    actors, pykka_actors = config.sizes.spawn, config.sizes.spawn_pykka
    rate, traced, rss = _ours.spawn_idle(config.workers, actors)
    peer = _pykka(config)
    gc.collect()
    return [
        Row(
            "spawn",
            f"spawn {actors:,} idle actors (Pykka {pykka_actors:,})",
            "actors/s",
            rate,
            peer.spawn(pykka_actors) if peer else None,
            target=Target("ours", ">=", SPAWN_RATE_TARGET),
        ),
        Row(
            "spawn",
            "memory per idle actor (tracemalloc)",
            "bytes",
            traced,
            target=Target("ours", "<=", IDLE_ACTOR_BYTES),
        ),
        Row("spawn", "memory per idle actor (RSS delta)", "bytes", rss),
    ]


def fairness(config: Config) -> list[Row]:
    flood, pykka_flood = config.sizes.flood, config.sizes.flood_pykka
    ours = _ours.fairness(config.workers, flood)
    single = _ours.fairness(1, flood)
    peer = _pykka(config)
    theirs = peer.fairness(pykka_flood) if peer else None
    name = f"light-actor ask latency under a {flood:,}-message flood (Pykka {pykka_flood:,})"
    rows = []
    for label, fraction, target in (
        ("p50", 0.5, None),
        ("p99", 0.99, Target("ours", "<=", FAIRNESS_P99_MS)),
    ):
        rows.append(
            Row(
                "fairness",
                f"{name}, {label}",
                "ms",
                percentile(ours, fraction) * 1e3,
                percentile(theirs, fraction) * 1e3 if theirs else None,
                target,
                note=f"{len(ours)} probes",
            )
        )
    rows.append(
        Row(
            "fairness",
            "same with 1 worker, p99",
            "ms",
            percentile(single, 0.99) * 1e3,
            target=Target("ours", "<=", FAIRNESS_P99_MS),
            note=f"{len(single)} probes",
        )
    )
    return rows


def jain_index(values: list[int]) -> float:
    """Jain's fairness index of ``values``: (sum x)^2 / (n * sum x^2)."""
    squares = sum(v * v for v in values)
    return sum(values) ** 2 / (len(values) * squares) if squares else 1.0


def heavy(config: Config) -> list[Row]:
    """Fairness when messages are heavy (~1 ms of CPU each)."""
    sizes = config.sizes
    work = calibrate_spin(CPU_MESSAGE_SECONDS)
    latencies: list[float] = []
    indices: list[float] = []
    for _ in range(sizes.heavy_rounds):
        latencies += _ours.heavy_latency(config.workers, sizes.heavy_actors, sizes.heavy_each, work)
        progress = _ours.heavy_progress(
            config.workers, sizes.progress_actors, sizes.progress_each, work
        )
        indices.append(jain_index(progress))
    name = (
        f"light actor's tell-to-receive latency, {sizes.heavy_actors} actors x "
        f"{sizes.heavy_each} msgs of ~1 ms"
    )
    note = f"{len(latencies)} probes from a plain thread in {sizes.heavy_rounds} run(s)"
    rows = [
        Row(
            "heavy",
            f"{name}, {label}",
            "ms",
            percentile(latencies, fraction) * 1e3,
            target=target,
            note=note,
        )
        for label, fraction, target in (
            ("p50", 0.5, None),
            ("p99", 0.99, Target("ours", "<=", FAIRNESS_P99_MS)),
            ("worst", 1.0, Target("ours", "<=", HEAVY_WORST_MS)),
        )
    ]
    rows.append(
        Row(
            "heavy",
            f"Jain's index of progress at half-time, {sizes.progress_actors} actors x "
            f"{sizes.progress_each} msgs of ~1 ms told up front (worst run)",
            "index",
            min(indices),
            target=Target("ours", ">=", PROGRESS_JAIN),
            note=", ".join(f"{i:.3f}" for i in indices),
        )
    )
    return rows


def idle(config: Config) -> list[Row]:
    actors, seconds = config.sizes.idle_actors, config.sizes.idle_seconds
    return _versus(
        config,
        "idle",
        f"idle CPU, {actors:,} idle actors over {seconds:g} s",
        "% core",
        lambda: _ours.idle_cpu(config.workers, actors, seconds),
        lambda peer: peer.idle_cpu(actors, seconds),
        Target("ours", "<", IDLE_CPU_PERCENT),
    )


def bridge(config: Config) -> list[Row]:
    """The asyncio bridge; the second column is raw janus (not Pykka)."""
    n = max(1_000, config.sizes.count // 10)
    return [
        Row(
            "bridge",
            f"sync -> async actor, {n:,} tells (peer column: raw janus)",
            "msg/s",
            _bridge.sync_to_async(config.workers, n),
            _bridge.janus_sync_to_async(n),
        ),
        Row(
            "bridge",
            f"async tell_async -> sync actor, {n:,} (peer column: raw janus)",
            "msg/s",
            _bridge.async_to_sync(config.workers, n),
            _bridge.janus_async_to_sync(n),
        ),
    ]


#: Scenario name (for ``--only``) -> scenario, in run order.
SCENARIOS: dict[str, Callable[[Config], list[Row]]] = {
    "count": count,
    "fan-in": fan_in,
    "ping-pong": ping_pong,
    "ask": ask,
    "cpu": cpu,
    "skynet": skynet,
    "spawn": spawn,
    "fairness": fairness,
    "heavy": heavy,
    "idle": idle,
    "bridge": bridge,
}
