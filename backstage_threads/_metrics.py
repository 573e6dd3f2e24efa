"""The metrics snapshot `ActorSystem.metrics` returns: frozen, typed, read racily.

What is counted where (the recorder is ``_metrics_recorder.py``):

* messages processed: one int slot per actor (``_processed``), added to at the
  end of each turn by the thread running that turn. Turns of one actor never
  overlap, so a plain increment is exact; a read from another thread sees the
  value of some recent turn (a reply can arrive before the turn that sent it
  has added its messages: counts are exact once the actor is idle);
* restarts: the actor's own ``restarts``; mailbox depth: the queue's length now;
* failures, dead letters by reason and the sampled receive durations: in a
  small per-actor entry that exists only for actors that have one of those,
  written under the recorder's lock (slow paths: a failure, a dead letter, one
  turn in `SAMPLE_EVERY`);
* turns, steals and parks: the scheduler's per-worker counters;
* spawns and stops: per system, under the recorder's lock.

Aggregates by actor class add the counters of stopped actors of that class
(folded in when each stops), so they never go backwards.

Receive durations are sampled: a pool worker times one turn in `SAMPLE_EVERY`
(a pinned actor's thread, whose hand-offs cost far more than two clock reads,
times every turn after its first) and records, for each message of it, the
turn's time divided by its messages, so a sample includes the turn's fixed
cost (about a microsecond) and, in a turn that starts or restarts the actor,
its ``on_start``. Turns that run on the event loop (async actors) and turns of
a custom dispatcher (the testing kit's) are not timed.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ._dispatcher import SAMPLE_EVERY, WorkerStatistics

__all__ = [
    "BUCKETS",
    "SAMPLE_EVERY",
    "ActorClassMetrics",
    "ActorMetrics",
    "DurationHistogram",
    "SystemMetrics",
    "bucket_of",
]

#: Upper bounds (seconds) of the receive-duration buckets, from 1 us to 10 s;
#: a last bucket (+Inf) takes the rest.
BUCKETS: tuple[float, ...] = (
    1e-6,
    5e-6,
    1e-5,
    5e-5,
    1e-4,
    5e-4,
    1e-3,
    5e-3,
    1e-2,
    5e-2,
    1e-1,
    5e-1,
    1.0,
    10.0,
)
# The same bounds in nanoseconds, for `bucket_of`.
_BOUNDS_NS = tuple(round(bound * 1e9) for bound in BUCKETS)


def bucket_of(nanoseconds: int) -> int:
    """The index of the bucket (``len(BUCKETS)`` for +Inf) a duration falls in."""
    return bisect_left(_BOUNDS_NS, nanoseconds)


@dataclass(frozen=True, slots=True)
class DurationHistogram:
    """A histogram of sampled receive durations.

    Attributes:
        counts: Messages per bucket (not cumulative): one entry per bound in
            `BUCKETS`, then one for longer durations.
        count: Sampled messages in all.
        sum: Their total duration, seconds.
    """

    counts: tuple[int, ...]
    count: int
    sum: float

    @property
    def bounds(self) -> tuple[float, ...]:
        """The buckets' upper bounds in seconds (the last bucket is +Inf)."""
        return BUCKETS

    @property
    def mean(self) -> float | None:
        """The mean sampled duration in seconds, or None without samples."""
        return self.sum / self.count if self.count else None

    def cumulative(self) -> tuple[tuple[float, int], ...]:
        """``(upper bound, messages at most that long)`` pairs, ending with +Inf."""
        pairs: list[tuple[float, int]] = []
        total = 0
        for bound, count in zip((*BUCKETS, float("inf")), self.counts, strict=True):
            total += count
            pairs.append((bound, total))
        return tuple(pairs)


#: The histogram of an actor nothing was sampled from (shared: it is immutable).
EMPTY_HISTOGRAM = DurationHistogram((0,) * (len(BUCKETS) + 1), 0, 0.0)


def histogram(counts: list[int], total_ns: int) -> DurationHistogram:
    """A snapshot of ``counts`` (per bucket) and their total in nanoseconds."""
    return DurationHistogram(tuple(counts), sum(counts), total_ns / 1e9)


def frozen_counts(counts: Mapping[str, int]) -> Mapping[str, int]:
    """A read-only copy of ``counts``, sorted by key."""
    return MappingProxyType(dict(sorted(counts.items())))


@dataclass(frozen=True, slots=True)
class ActorMetrics:
    """The metrics of one live actor.

    Attributes:
        path: The actor's path (``/user/pool/worker-1``).
        actor_class: The qualified name of its class (``mymodule.Worker``).
        mailbox_depth: Messages waiting now (queue and overflow).
        processed: Messages handed to ``receive``, failed ones included.
        restarts: Times it was restarted.
        failures: Times a hook of it raised (``receive``, ``on_start``, ...).
        dead_letters: Its dead letters by reason (``"failed"``,
            ``"actor stopped"``, ``"mailbox full (DROP_NEWEST)"``, ...).
        receive_duration: Sampled receive durations.
    """

    path: str
    actor_class: str
    mailbox_depth: int
    processed: int
    restarts: int
    failures: int
    dead_letters: Mapping[str, int]
    receive_duration: DurationHistogram


@dataclass(frozen=True, slots=True)
class ActorClassMetrics:
    """The metrics of every actor of one class, stopped ones included.

    Attributes:
        actor_class: The qualified class name.
        actors: How many of them are alive now.
        mailbox_depth: Messages waiting now in the live ones' mailboxes.
        processed, restarts, failures, dead_letters, receive_duration: As in
            `ActorMetrics`, summed over every actor of the class that ever ran.
    """

    actor_class: str
    actors: int
    mailbox_depth: int
    processed: int
    restarts: int
    failures: int
    dead_letters: Mapping[str, int]
    receive_duration: DurationHistogram


@dataclass(frozen=True, slots=True)
class SystemMetrics:
    """A snapshot of one actor system's metrics (see `ActorSystem.metrics`).

    Attributes:
        system: The system's name.
        actors: Every live actor, ``/user`` first, parents before children.
        classes: The per-class aggregates, sorted by class name.
        workers: Per worker thread: turns, messages, steals, parks.
        spawned: Actors spawned since the system started (``/user`` not counted).
        stopped: Actors that have stopped since.
        dead_letters: Dead letters in all, by reason.
    """

    system: str
    actors: tuple[ActorMetrics, ...]
    classes: tuple[ActorClassMetrics, ...]
    workers: tuple[WorkerStatistics, ...]
    spawned: int
    stopped: int
    dead_letters: Mapping[str, int]

    def actor(self, path: str) -> ActorMetrics | None:
        """The metrics of the live actor at ``path``, or None."""
        return next((actor for actor in self.actors if actor.path == path), None)

    def actor_class(self, name: str) -> ActorClassMetrics | None:
        """The aggregate of class ``name`` (qualified, or just the class's name), or None."""
        for entry in self.classes:
            if entry.actor_class == name or entry.actor_class.rpartition(".")[2] == name:
                return entry
        return None
