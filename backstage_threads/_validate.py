"""Argument checks shared by the public API: clear errors naming the bad value."""

from __future__ import annotations

import math
import re

from ._overflow import Overflow

__all__ = [
    "check_capacity",
    "check_name",
    "check_positive_int",
    "check_spawn_options",
    "check_timeout",
]

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")


def check_timeout(value: float | None, what: str = "timeout") -> float | None:
    """Return ``value`` if it is None or a finite number >= 0, else raise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number of seconds or None, got {value!r}")
    if not value >= 0 or math.isinf(value):
        raise ValueError(f"{what} must be a finite number of seconds >= 0 or None, got {value!r}")
    return float(value)


def check_capacity(value: int | None) -> int | None:
    """Return ``value`` if it is None (unbounded) or an int >= 1, else raise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"capacity must be an int >= 1 or None (unbounded), got {value!r}")
    if value < 1:
        raise ValueError(f"capacity must be an int >= 1 or None (unbounded), got {value!r}")
    return value


def check_positive_int(value: int, what: str) -> int:
    """Return ``value`` if it is an int >= 1, else raise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int >= 1, got {value!r}")
    if value < 1:
        raise ValueError(f"{what} must be an int >= 1, got {value!r}")
    return value


def check_name(value: str) -> str:
    """Return ``value`` if it is a valid actor name, else raise.

    A name is letters, digits, ``_``, ``.`` and ``-``, not starting with ``.`` or
    ``-``; names starting with ``$`` are reserved for generated names.
    """
    if not isinstance(value, str):
        raise TypeError(f"actor name must be a str, got {value!r}")
    if not _NAME.fullmatch(value):
        raise ValueError(
            f"invalid actor name {value!r}: use letters, digits, '_', '.' and '-', "
            "starting with a letter, digit or '_'"
        )
    return value


def check_spawn_options(
    name: str | None, capacity: int | None, overflow: object, pinned: object
) -> int | None:
    """Check spawn's own options (every backend's ``spawn``); return the capacity."""
    if (
        name is None
        and type(capacity) is int
        and capacity >= 1
        and type(overflow) is Overflow
        and type(pinned) is bool
    ):
        return capacity  # the common spawn, in one test (it is on every spawn's path)
    if name is not None:
        check_name(name)
    capacity = check_capacity(capacity)
    if not isinstance(overflow, Overflow):
        raise TypeError(
            f"overflow must be an Overflow member ({', '.join(o.name for o in Overflow)}), "
            f"got {overflow!r}"
        )
    if not isinstance(pinned, bool):
        raise TypeError(f"pinned must be a bool, got {pinned!r}")
    return capacity
