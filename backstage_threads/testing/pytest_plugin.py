"""Opt-in pytest plugin: fixtures for testing actors.

Enable it with ``pytest -p backstage_threads.testing.pytest_plugin`` or, in a
``conftest.py``, ``pytest_plugins = ["backstage_threads.testing.pytest_plugin"]``.
It is not registered as an entry point, so installing backstage_threads changes
nobody's test run.

Fixtures:
    manual_clock: a `ManualClock` at time 0.
    actor_system: a real threaded `ActorSystem` (2 workers) on `manual_clock`;
        shut down after the test, which fails if the shutdown was not clean.
    deterministic_actor_system: an `ActorSystem` whose turns run on the test's
        thread in a seeded order, on `manual_clock`. A failing test's report
        shows the seed; ``--backstage-seed N`` replays it.
    any_actor_system: parametrised over both of the above.
    probe: a factory, ``probe()`` -> a `Probe` on the test's system.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .._system import ActorSystem
from ._clock import ManualClock
from ._deterministic import DeterministicScheduler
from ._probe import Probe

_SEED_KEY = pytest.StashKey[int]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backstage-seed",
        type=int,
        default=None,
        help="seed for deterministic_actor_system (replays a failing interleaving)",
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    seed = item.stash.get(_SEED_KEY, None)
    if seed is not None and report.failed:
        report.sections.append(
            ("backstage_threads", f"deterministic scheduler seed: {seed} (--backstage-seed {seed})")
        )


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock()


def _threaded(clock: ManualClock) -> Iterator[ActorSystem]:
    system = ActorSystem("test", workers=2, clock=clock)
    try:
        yield system
    finally:
        report = system.shutdown(10.0)
    assert report.clean, f"actor system did not shut down cleanly: {report}"


def _deterministic(request: pytest.FixtureRequest, clock: ManualClock) -> Iterator[ActorSystem]:
    seed = request.config.getoption("--backstage-seed")
    scheduler = DeterministicScheduler(seed)
    request.node.stash[_SEED_KEY] = scheduler.seed
    system = ActorSystem("test", dispatcher=scheduler, clock=clock)
    try:
        yield system
    finally:
        report = system.shutdown(10.0)
    assert report.clean, f"actor system did not shut down cleanly: {report}"


@pytest.fixture
def actor_system(manual_clock: ManualClock) -> Iterator[ActorSystem]:
    yield from _threaded(manual_clock)


@pytest.fixture
def deterministic_actor_system(
    request: pytest.FixtureRequest, manual_clock: ManualClock
) -> Iterator[ActorSystem]:
    yield from _deterministic(request, manual_clock)


@pytest.fixture(params=["threaded", "deterministic"])
def any_actor_system(
    request: pytest.FixtureRequest, manual_clock: ManualClock
) -> Iterator[ActorSystem]:
    if request.param == "threaded":
        yield from _threaded(manual_clock)
    else:
        yield from _deterministic(request, manual_clock)


@pytest.fixture
def probe(request: pytest.FixtureRequest) -> Callable[..., Probe]:
    def make(system: ActorSystem | None = None, name: str | None = None) -> Probe:
        target: Any = system
        if target is None:
            for fixture in ("any_actor_system", "deterministic_actor_system", "actor_system"):
                if fixture in request.fixturenames:
                    target = request.getfixturevalue(fixture)
                    break
        if target is None:
            raise RuntimeError("probe() needs a system: pass one or use a system fixture")
        return Probe(target, name)

    return make
