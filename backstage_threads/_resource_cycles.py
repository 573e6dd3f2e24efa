"""Cycles of start dependencies: actors that each wait for a key another provides.

A waiting actor W points at a waiting actor P when a key W still misses is one
that P declares in ``provides``. A cycle of such edges can never resolve by
itself: every actor in it waits for one that waits. The registry looks for
one through each new waiter and fails its members at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from ._errors import ResourceCycleError
from ._resource_keys import key_name

__all__ = ["cycle_error", "find_cycle"]

H = TypeVar("H")


def find_cycle(
    start: H, missing: Mapping[H, Sequence[object]], provides: Mapping[H, Sequence[object]]
) -> list[tuple[H, object]]:
    """A cycle through ``start`` as (waiter, key it waits for) pairs, or []."""
    path: list[tuple[H, object]] = []
    visited: set[H] = set()

    def visit(waiter: H) -> bool:
        visited.add(waiter)
        for key in missing[waiter]:
            for other, keys in provides.items():
                if key not in keys:
                    continue
                path.append((waiter, key))
                if other is start or (other not in visited and visit(other)):
                    return True
                path.pop()
        return False

    return path if visit(start) else []


def cycle_error(cycle: Sequence[tuple[H, object]], path: Callable[[H], str]) -> ResourceCycleError:
    """The error naming every step: ``/user/a needs 'k' (provided by /user/b), which ...``."""
    text = ", which ".join(
        f"{path(waiter)} needs {key_name(key)} (provided by {path(cycle[(i + 1) % len(cycle)][0])})"
        for i, (waiter, key) in enumerate(cycle)
    )
    return ResourceCycleError(
        f"start dependency cycle: {text}", cycle=tuple(path(waiter) for waiter, _ in cycle)
    )
