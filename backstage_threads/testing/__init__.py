"""Testing kit: deterministic scheduling, manual time and probes.

Test your own actors without sleeps::

    from backstage_threads.testing import deterministic_system, Probe

    def test_counter() -> None:
        system, clock, scheduler = deterministic_system(seed=7)
        with system:
            ref = system.spawn(Counter)
            assert ref.ask(5, timeout=1) == 5      # runs the turns on this thread
            clock.advance(10.0)                   # fires timers due in the next 10 s
            scheduler.run_until_idle()            # runs whatever is left to run

The pytest plugin (``-p backstage_threads.testing.pytest_plugin``) provides
fixtures for both kinds of system; it is opt-in, so installing the package
changes nobody's test run.
"""

from __future__ import annotations

from typing import NamedTuple

from .._exports import publish
from .._system import ActorSystem
from ._clock import ManualClock
from ._deterministic import DeterministicScheduler, SchedulerStalledError
from ._probe import Probe

__all__ = [
    "DeterministicScheduler",
    "DeterministicSystem",
    "ManualClock",
    "Probe",
    "SchedulerStalledError",
    "deterministic_system",
]


class DeterministicSystem(NamedTuple):
    """What `deterministic_system` returns: ``system, clock, scheduler = ...``.

    Attributes:
        system: The actor system; use it as usual.
        clock: Its manual clock: ``clock.advance(s)`` fires what falls due.
        scheduler: What runs its turns: ``run_once``, ``run_until_idle``, and
            ``seed`` to replay a failure.
    """

    system: ActorSystem
    clock: ManualClock
    scheduler: DeterministicScheduler


def deterministic_system(
    seed: int | None = None, *, clock: ManualClock | None = None, name: str = "test"
) -> DeterministicSystem:
    """An actor system whose turns run on this thread in a seeded order, on manual time.

    Returns the system, its clock and its scheduler (whose ``seed`` replays a
    failure; None picks one at random).
    """
    clock = clock if clock is not None else ManualClock()
    scheduler = DeterministicScheduler(seed)
    system = ActorSystem(name, dispatcher=scheduler, clock=clock)
    return DeterministicSystem(system, clock, scheduler)


publish(globals(), __all__, __name__)
