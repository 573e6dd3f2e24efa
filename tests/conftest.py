"""Fixtures shared by the backstage_threads tests (helpers live in support.py)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator

import pytest
from support import assert_clean_shutdown

from backstage_threads import ActorSystem


@pytest.fixture
def system() -> Iterator[ActorSystem]:
    """An `ActorSystem(workers=2)`, shut down (and checked clean) afterwards."""
    sys_ = ActorSystem(workers=2)
    try:
        yield sys_
    finally:
        assert_clean_shutdown(sys_)


def pytest_configure(config: pytest.Config) -> None:
    """Let the scripts the tests start receive Ctrl-C even if pytest runs in the background.

    A non-interactive shell starts a background job with SIGINT ignored, a child
    process inherits an ignored signal, and a Python program that starts with
    SIGINT ignored keeps it so (as it should: that is how ``nohup`` works), so
    every test that presses Ctrl-C on a script would hang until killed. A
    handled signal is reset to the default in a child, so handle it here.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the Ray tests unless asked for with ``-m`` (``nox -s ray`` runs ``-m ray``).

    A Ray cluster costs seconds and processes on a shared 2-core machine, so a
    plain ``pytest`` (or ``-m "not stress"``) never starts one.
    """
    if "ray" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="needs a Ray cluster: select it with -m ray (nox -s ray)")
    for item in items:
        if item.get_closest_marker("ray") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[object]:
    """A real local Ray cluster shared by the session's Ray tests (see raykit.py)."""
    from raykit import start_cluster, stop_cluster

    cluster = start_cluster()
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Repeat every stress test BACKSTAGE_STRESS_REPEAT times (nox -s stress sets it)."""
    repeat = int(os.environ.get("BACKSTAGE_STRESS_REPEAT", "1"))
    if repeat > 1 and metafunc.definition.get_closest_marker("stress") is not None:
        metafunc.fixturenames.append("stress_round")
        metafunc.parametrize("stress_round", range(repeat), ids=lambda i: f"round{i}")


@pytest.fixture(autouse=True)
def _narrow_switch_interval(request: pytest.FixtureRequest) -> Iterator[None]:
    """On GIL builds, switch threads every microsecond during stress tests.

    A 1 us interval (default 5 ms) makes the interpreter hand the GIL over
    between almost every pair of bytecodes, widening the race windows a no-GIL
    build has naturally.
    """
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    if request.node.get_closest_marker("stress") is None or not gil:
        yield
        return
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)
