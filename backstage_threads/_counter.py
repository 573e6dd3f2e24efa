"""`ShardedCounter`: a count that many threads add to without sharing a lock.

Each thread adds to its own shard (an object only that thread writes); a read
sums the shards. On a free-threaded build a lock or an attribute shared by all
the adding threads is written by every core in turn, and every add then waits
for the cache line or the lock; a shard per thread is written by one core only.
Reads are racy but never go back: each shard only grows, so a later read sums
each shard at a later value.
"""

from __future__ import annotations

import threading

__all__ = ["ShardedCounter"]


class _Shard:
    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0  # written only by the shard's own thread


class ShardedCounter:
    """A monotonic count added to from any thread, summed on read.

    Memory: one small shard per thread that ever added (kept after the thread
    ends, so that its count stays in the total).
    """

    __slots__ = ("_local", "_lock", "_shards")

    def __init__(self) -> None:
        self._local = threading.local()
        # Guards appending to _shards (once per thread) and copying it to read.
        self._lock = threading.Lock()
        self._shards: list[_Shard] = []

    def add(self) -> None:
        """Add one (from any thread)."""
        try:
            shard: _Shard = self._local.shard
        except AttributeError:
            shard = self._new_shard()
        shard.n += 1

    def _new_shard(self) -> _Shard:
        shard = _Shard()
        with self._lock:
            self._shards.append(shard)
        self._local.shard = shard
        return shard

    @property
    def value(self) -> int:
        """The sum of every thread's adds so far."""
        with self._lock:
            shards = tuple(self._shards)
        return sum(shard.n for shard in shards)
