"""Routing: how a pool picks the routee for a message (round robin, least loaded, by key).

A `Routing` chooses among the live routees on the sender's thread; it must be
safe to call from many threads at once.
"""

from __future__ import annotations

import bisect
import threading
import zlib
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Protocol, cast

from ._ref import ActorRef

__all__ = ["ConsistentHash", "LeastLoaded", "RoundRobin", "Routing"]

#: Points per routee on the consistent-hash ring: with 64, the keys move by
#: about 1/n (within a few percent) when a routee is added to n.
DEFAULT_REPLICAS = 64


class Routing(Protocol):
    """Picks the routee for a message (from a non-empty sequence)."""

    def choose(self, message: object, routees: Sequence[ActorRef[Any]]) -> ActorRef[Any]: ...


class RoundRobin:
    """Each routee in turn."""

    def __init__(self) -> None:
        # Guards _next (many senders route at once).
        self._lock = threading.Lock()
        self._next = 0

    def choose(self, message: object, routees: Sequence[ActorRef[Any]]) -> ActorRef[Any]:
        with self._lock:
            index = self._next
            self._next = index + 1
        return routees[index % len(routees)]


class _Depth(Protocol):
    def depth(self) -> int: ...


class LeastLoaded:
    """The routee with the fewest messages waiting (the first of those on a tie).

    The depths are read without a lock, so two senders at once may pick the
    same routee: it balances load, it does not reserve it.
    """

    def choose(self, message: object, routees: Sequence[ActorRef[Any]]) -> ActorRef[Any]:
        return min(routees, key=lambda ref: cast(_Depth, ref._cell).depth())


class ConsistentHash:
    """The routee that owns ``key(message)`` on a hash ring of the routees' names.

    Messages with equal keys go to the same routee (so they keep their order);
    when the pool resizes, only about 1/n of the keys move.

    Args:
        key: Maps a message to its hashable routing key.
        replicas: Points per routee on the ring.
    """

    def __init__(self, key: Callable[[Any], Hashable], *, replicas: int = DEFAULT_REPLICAS) -> None:
        if not callable(key):
            raise TypeError(f"ConsistentHash needs a key function, got {key!r}")
        self._key = key
        self._replicas = replicas
        # The ring of the last routee tuple seen, replaced whole (an atomic read).
        self._ring: tuple[tuple[ActorRef[Any], ...], list[int], list[ActorRef[Any]]] = (
            (),
            [],
            [],
        )

    def choose(self, message: object, routees: Sequence[ActorRef[Any]]) -> ActorRef[Any]:
        key = self._key(message)
        try:
            digest = hash(key)
        except TypeError:
            raise TypeError(
                f"ConsistentHash: the key {key!r} of {message!r} is unhashable"
            ) from None
        point = zlib.crc32(digest.to_bytes(8, "little", signed=True))  # spread small ints
        ring = self._ring
        if ring[0] != tuple(routees):
            ring = self._ring = self._build(tuple(routees))
        _, points, owners = ring
        index = bisect.bisect(points, point) % len(points)
        return owners[index]

    def _build(
        self, routees: tuple[ActorRef[Any], ...]
    ) -> tuple[tuple[ActorRef[Any], ...], list[int], list[ActorRef[Any]]]:
        pairs = sorted(
            (zlib.crc32(f"{ref.path}#{i}".encode()), ref)
            for ref in routees
            for i in range(self._replicas)
        )
        return routees, [p for p, _ in pairs], [r for _, r in pairs]
