"""Testing kit: deterministic scheduling, manual time and probes.

Test your own actors without sleeps::

    from backstage_threads.testing import deterministic_system, Probe

    def test_counter() -> None:
        system, clock = deterministic_system(seed=7)
        with system:
            ref = system.spawn(Counter)
            assert ref.ask(5, timeout=1) == 5      # runs the turns on this thread
            clock.advance(10.0)                   # fires timers due in the next 10 s

The pytest plugin (``-p backstage_threads.testing.pytest_plugin``) provides
fixtures for both kinds of system; it is opt-in, so installing the package
changes nobody's test run.
"""

from __future__ import annotations

from .._system import ActorSystem
from ._clock import ManualClock
from ._deterministic import DeterministicScheduler, SchedulerStalledError
from ._probe import Probe

__all__ = [
    "DeterministicScheduler",
    "ManualClock",
    "Probe",
    "SchedulerStalledError",
    "deterministic_system",
]


def deterministic_system(
    seed: int | None = None, *, clock: ManualClock | None = None, name: str = "test"
) -> tuple[ActorSystem, ManualClock]:
    """An actor system whose turns run on this thread in a seeded order, on manual time.

    Returns the system and its clock; ``system._scheduler.seed`` (also in the
    system's repr) tells the seed to replay a failure.
    """
    clock = clock if clock is not None else ManualClock()
    scheduler = DeterministicScheduler(seed)
    return ActorSystem(name, dispatcher=scheduler, clock=clock), clock
