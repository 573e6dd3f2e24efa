"""Clocks: where timers read the time. The seam the testing kit's manual clock plugs into."""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "MonotonicClock"]


@runtime_checkable
class Clock(Protocol):
    """A source of monotonic time in seconds."""

    def now(self) -> float:
        """The current time in seconds; never goes backwards."""
        ...


class MonotonicClock:
    """The real clock: `time.monotonic`."""

    __slots__ = ()

    def now(self) -> float:
        return time.monotonic()
