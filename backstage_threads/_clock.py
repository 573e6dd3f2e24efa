"""Clocks: where timers read the time, and who makes the timers fire.

`Clock` is the seam: the system's timer service reads ``now()`` and, once,
calls ``attach(timers)``, where the clock says who fires the timers. A clock
that moves by itself (`MonotonicClock`) declines, and the service sleeps until
each deadline on a thread of its own. A clock that moves only when told (a
manual clock in tests) keeps the `Timers` and fires what falls due as it moves;
then no timer thread runs.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "MonotonicClock", "Timers", "remaining"]


class Timers(Protocol):
    """What a clock that fires timers itself may do with a timer service."""

    def next_due(self) -> float | None:
        """The earliest pending deadline (in the clock's time), or None."""
        ...

    def fire_due(self) -> int:
        """Run every timer due by the clock's current time; return how many ran."""
        ...


@runtime_checkable
class Clock(Protocol):
    """A source of monotonic time in seconds, and who fires the timers on it."""

    def now(self) -> float:
        """The current time in seconds; never goes backwards."""
        ...

    def attach(self, timers: Timers) -> bool:
        """Meet a timer service that reads this clock; True if the clock fires its timers.

        Each timer service calls this once, when it is created. Return False to
        have the service wait for each deadline on a thread of its own (a clock
        that moves by itself); return True to fire them yourself, calling
        ``timers.fire_due()`` whenever the time moves (no timer thread runs).
        """
        ...


class MonotonicClock:
    """The real clock: `time.monotonic`; the timer service waits for its deadlines."""

    __slots__ = ()

    def now(self) -> float:
        return time.monotonic()

    def attach(self, timers: Timers) -> bool:
        return False  # time moves by itself: the service's thread fires the timers


def remaining(deadline: float | None) -> float | None:
    """Seconds left until ``deadline`` (a `time.monotonic` value), at least 0;
    None for no deadline."""
    return None if deadline is None else max(0.0, deadline - time.monotonic())
