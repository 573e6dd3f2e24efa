"""`ManualClock`: time that moves only when a test says so."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from .._validate import check_timeout

if TYPE_CHECKING:
    from .._clock import Timers

__all__ = ["ManualClock"]


class ManualClock:
    """A clock for tests: `advance` moves it and fires what falls due, in order.

    Pass it to ``ActorSystem(clock=...)`` (the testing kit does): timers,
    receive timeouts and restart backoff then obey it and no timer thread runs
    (it implements `Clock.attach` by keeping the timers and firing them itself).

    Thread safety: `now` may be read from any thread; `advance` is meant for the
    test's own thread.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        # Guards _services (each system attaches its timer service when created).
        self._lock = threading.Lock()
        self._services: list[Timers] = []

    def now(self) -> float:
        return self._now

    def attach(self, timers: Timers) -> bool:
        """Keep ``timers`` to fire as `advance` moves the time; True: no timer thread."""
        with self._lock:
            if timers not in self._services:
                self._services.append(timers)
        return True

    def advance(self, seconds: float) -> int:
        """Move time forward, firing every timer that falls due, earliest first.

        Each timer fires with the clock set to its own deadline, so periodic
        timers fire once per period crossed. Returns how many timers fired.

        Raises:
            ValueError: If ``seconds`` is negative.
        """
        seconds = check_timeout(seconds, "seconds") or 0.0
        target = self._now + seconds
        fired = 0
        while True:
            with self._lock:
                services = list(self._services)
            dues = [
                (due, index)
                for index, s in enumerate(services)
                if (due := s.next_due()) is not None
            ]
            if not dues:
                break
            due, index = min(dues)
            if due > target:
                break
            self._now = max(self._now, due)
            fired += services[index].fire_due()
        self._now = target
        return fired
