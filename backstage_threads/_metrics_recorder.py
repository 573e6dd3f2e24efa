"""`MetricsRecorder`: what an actor system counts beyond its cells' own slots.

Invariant: nothing here runs on the per-message path. The per-message counter
is the cell's ``_processed`` slot (see ``_metrics.py``); this module is called
only on slow paths: a sampled turn (one in `SAMPLE_EVERY` per worker), a
failure, a dead letter, a spawn, a stop, and a snapshot. Each takes the
recorder's one lock for a few dict and list updates, never while user code or
logging runs.

Races considered:

* a cell's counters are folded into its class's totals when it stops (in its
  final turn); a sample or a dead letter that comes later finds the cell
  stopped and goes straight to the class totals. Both checks and the fold
  happen under the lock, after the cell's state became STOPPED, so nothing is
  counted twice or lost;
* a snapshot reads the live cells' slots without their turns' cooperation:
  each read is one attribute load (atomic), so it sees some recent value.
"""

from __future__ import annotations

import functools
import threading
import types
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast

from ._counter import ShardedCounter
from ._metrics import (
    BUCKETS,
    EMPTY_HISTOGRAM,
    ActorClassMetrics,
    ActorMetrics,
    DurationHistogram,
    SystemMetrics,
    bucket_of,
    frozen_counts,
    histogram,
)

if TYPE_CHECKING:
    from ._deadletters import DeadLetter, DeadLetters
    from ._dispatcher import WorkerStatistics

__all__ = ["MetricsNode", "MetricsRecorder", "reason_label"]

#: Distinct dead-letter reasons kept per actor, class and system; later ones
#: are counted under "other" (reasons become Prometheus labels: keep them few).
MAX_REASONS = 16
_NBUCKETS = len(BUCKETS) + 1


class MetricsNode(Protocol):
    """One actor as the recorder reads it (the cell satisfies it)."""

    @property
    def _path(self) -> str: ...
    @property
    def restarts(self) -> int: ...
    @property
    def _processed(self) -> int: ...
    @property
    def _actor(self) -> object | None: ...
    @property
    def _factory(self) -> Callable[[], object]: ...
    @property
    def _bridge(self) -> object | None: ...
    @property
    def is_alive(self) -> bool: ...
    def _child_cells(self) -> Sequence[object]:  # of MetricsNodes
        """The live children, read under the node's own guard."""
        ...

    def depth(self) -> int: ...


def reason_label(reason: str) -> str:
    """A dead letter's reason without its details: ``"failed: ValueError('x')"``
    becomes ``"failed"``."""
    return reason.partition(":")[0].strip()[:80] or "unknown"


# Qualified names by class, so that a stop (which counts its actor under its
# class) does not format one: a dict read and write are each atomic, and two
# threads that both miss store the same string.
_class_names: dict[type[Any], str] = {}


def actor_class(cell: MetricsNode) -> str:
    """The qualified class name of the cell's actor (or of what its factory builds)."""
    actor = cell._actor
    if actor is not None:
        kind: type[Any] = type(actor)
        name = _class_names.get(kind)
        if name is None:
            name = _class_names[kind] = f"{kind.__module__}.{kind.__qualname__}"
        return name
    else:
        factory: object = cell._factory
        while isinstance(factory, functools.partial):
            factory = factory.func
        if isinstance(factory, types.FunctionType):  # a lambda or function: its name
            return f"{factory.__module__}.{factory.__qualname__}"
        kind = factory if isinstance(factory, type) else type(factory)
    return f"{kind.__module__}.{kind.__qualname__}"


def _count(counts: dict[str, int], key: str, amount: int = 1) -> None:
    if key not in counts and len(counts) >= MAX_REASONS:
        key = "other"
    counts[key] = counts.get(key, 0) + amount


class _Entry:
    """The slow-path counters of one actor (or, retired, of a class)."""

    __slots__ = ("buckets", "dead_letters", "failures", "processed", "restarts", "total_ns")

    def __init__(self) -> None:
        self.failures = 0
        self.dead_letters: dict[str, int] = {}
        # None until the first sample: most entries never get one.
        self.buckets: list[int] | None = None
        self.total_ns = 0
        # Used only for retired totals (a live actor's are its cell's slots).
        self.processed = 0
        self.restarts = 0

    def observe(self, nanoseconds: int, messages: int) -> None:
        if self.buckets is None:
            self.buckets = [0] * _NBUCKETS
        self.buckets[bucket_of(nanoseconds // messages)] += messages
        self.total_ns += nanoseconds

    def absorb(self, other: _Entry) -> None:
        self.failures += other.failures
        for reason, count in other.dead_letters.items():
            _count(self.dead_letters, reason, count)
        if other.buckets is not None:
            if self.buckets is None:
                self.buckets = [0] * _NBUCKETS
            for index, count in enumerate(other.buckets):
                self.buckets[index] += count
            self.total_ns += other.total_ns
        self.processed += other.processed
        self.restarts += other.restarts

    def histogram(self) -> DurationHistogram:
        if self.buckets is None:
            return EMPTY_HISTOGRAM
        return histogram(self.buckets, self.total_ns)


class MetricsRecorder:
    """Counts failures, dead letters, sampled durations, spawns and stops.

    Thread safety: every method may be called from any thread.
    """

    def __init__(self, name: str, dead_letters: DeadLetters) -> None:
        self._name = name
        # Guards _entries, _retired, _reasons and _stopped (_spawned: see spawned()).
        self._lock = threading.Lock()
        # Live actors that have slow-path counts. Invariant: no stopped cell is
        # a key (its entry is folded into _retired when it stops).
        self._entries: dict[MetricsNode, _Entry] = {}
        # By class name: the totals of stopped actors, and what came after.
        self._retired: dict[str, _Entry] = {}
        self._reasons: dict[str, int] = {}
        # Added to by every spawning thread (workers and plain threads alike),
        # without a lock shared between them (see spawned()).
        self._spawned = ShardedCounter()
        self._stopped = 0
        dead_letters.subscribe(self.dead_letter)

    # -- recording (slow paths) -------------------------------------------------------

    def sample(self, runnable: object, nanoseconds: int, messages: int) -> None:
        """A timed turn of ``runnable`` (a cell) ran ``messages`` messages."""
        cell = cast(MetricsNode, runnable)
        if cell._bridge is not None:
            return  # an async actor's turn only hands its batch to the loop
        with self._lock:
            self._entry(cell).observe(nanoseconds, messages)

    def failed(self, cell: object) -> None:
        """A hook of ``cell``'s actor raised."""
        with self._lock:
            self._entry(cast(MetricsNode, cell)).failures += 1

    def dead_letter(self, letter: DeadLetter) -> None:
        """Count ``letter`` (the recorder subscribes to the system's dead letters)."""
        reason = reason_label(letter.reason)
        cell = cast(MetricsNode, letter.recipient._cell) if letter.recipient is not None else None
        with self._lock:
            _count(self._reasons, reason)
            if cell is not None:
                _count(self._entry(cell).dead_letters, reason)

    def spawned(self) -> None:
        """An actor was spawned (from any thread).

        A per-thread count: `_lock` taken here cost a contended lock per spawn
        (27 % of spawn time on 3.11, where a worker holding it may be waiting
        for the GIL), and spawns are not serialised by any other lock.
        """
        self._spawned.add()

    def stopped(self, cell: object, root: bool) -> None:
        """``cell`` has stopped (its final turn, after its last message)."""
        node = cast(MetricsNode, cell)
        name = actor_class(node)
        with self._lock:
            if not root:
                self._stopped += 1
            retired = self._retired.get(name)
            if retired is None:
                retired = self._retired[name] = _Entry()
            entry = self._entries.pop(node, None)
            if entry is not None:
                retired.absorb(entry)
            retired.processed += node._processed
            retired.restarts += node.restarts

    def _entry(self, cell: MetricsNode) -> _Entry:
        # Called with _lock held.
        entry = self._entries.get(cell)
        if entry is not None:
            return entry
        if not cell.is_alive:  # folded already: count it in its class's totals
            name = actor_class(cell)
            entry = self._retired.get(name)
            if entry is None:
                entry = self._retired[name] = _Entry()
            return entry
        entry = self._entries[cell] = _Entry()
        return entry

    # -- reading ----------------------------------------------------------------------

    def snapshot(
        self,
        cells: list[MetricsNode],
        workers: tuple[WorkerStatistics, ...],
    ) -> SystemMetrics:
        """The metrics of ``cells`` (the live tree, parents first) and the totals."""
        rows = [(cell, actor_class(cell), cell.depth()) for cell in cells]
        with self._lock:
            entries = {cell: self._entries.get(cell) for cell, _, _ in rows}
            copies = {cell: _copy(entry) for cell, entry in entries.items() if entry is not None}
            classes = {name: _copy(entry) for name, entry in self._retired.items()}
            reasons = dict(self._reasons)
            stopped = self._stopped
        # Read after the stopped count: a spawn happens before its stop, so the
        # live count (spawned - stopped) is never negative.
        spawned = self._spawned.value
        actors: list[ActorMetrics] = []
        live: dict[str, list[int]] = {}  # class -> [actors, depth]
        for cell, name, depth in rows:
            entry = copies.get(cell) or _Entry()
            entry.processed = cell._processed
            entry.restarts = cell.restarts
            actors.append(
                ActorMetrics(
                    cell._path,
                    name,
                    depth,
                    entry.processed,
                    entry.restarts,
                    entry.failures,
                    frozen_counts(entry.dead_letters),
                    entry.histogram(),
                )
            )
            total = classes.get(name)
            if total is None:
                total = classes[name] = _Entry()
            total.absorb(entry)
            counts = live.setdefault(name, [0, 0])
            counts[0] += 1
            counts[1] += depth
        return SystemMetrics(
            system=self._name,
            actors=tuple(actors),
            classes=tuple(
                ActorClassMetrics(
                    name,
                    live.get(name, [0, 0])[0],
                    live.get(name, [0, 0])[1],
                    total.processed,
                    total.restarts,
                    total.failures,
                    frozen_counts(total.dead_letters),
                    total.histogram(),
                )
                for name, total in sorted(classes.items())
            ),
            workers=workers,
            spawned=spawned,
            stopped=stopped,
            dead_letters=frozen_counts(reasons),
        )


def _copy(entry: _Entry) -> _Entry:
    copy = _Entry()
    copy.absorb(entry)
    return copy


def live_cells(root: MetricsNode) -> list[MetricsNode]:
    """The live actors from ``root`` down, parents before children (each node's
    children as they were when the walk reached it)."""
    cells: list[MetricsNode] = []
    stack = [root]
    while stack:
        cell = stack.pop()
        if cell.is_alive:
            cells.append(cell)
        children = cast("Sequence[MetricsNode]", cell._child_cells())
        stack.extend(reversed(children))
    return cells
