"""Helpers for the tests that run on both backends (threads and a real Ray cluster).

`Gate` lets an actor's ``receive`` wait, or say "done", across processes: a TCP
listener of the test process on 127.0.0.1; the actor gets only its address
(a picklable tuple). Nothing here sleeps: every wait is a socket operation with
a timeout.

`DeadLetterWaiter` waits (on a condition, with a timeout) until the system's
dead letters reach a count; on Ray they arrive through the office a moment
after they happen.
"""

from __future__ import annotations

import importlib.util
import socket
import sys
import sysconfig
import threading
from collections.abc import Callable
from typing import Any

import pytest

#: Why the Ray tests cannot run here, or None when they can.
RAY_MISSING: str | None = None
if sysconfig.get_config_var("Py_GIL_DISABLED"):
    RAY_MISSING = "Ray has no free-threaded build (ray-project/ray#47933)"
elif importlib.util.find_spec("ray") is None:
    RAY_MISSING = f"ray is not installed for {sys.executable} (pip install '.[ray]')"

#: Marks for a test (or a parameter) that needs the Ray cluster.
RAY_MARKS = [pytest.mark.ray, pytest.mark.skipif(RAY_MISSING is not None, reason=str(RAY_MISSING))]

#: Seconds any single wait of these tests may take (Ray restarts take a few).
WAIT = 60.0

Address = tuple[str, int]


class Gate:
    """A listening socket: actors `hold` on it or `notify` it from any process."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.address: Address = self._server.getsockname()[:2]
        self._held: list[socket.socket] = []

    def wait_connected(self, timeout: float = WAIT) -> None:
        """Wait until one actor connected (it holds, or it notified)."""
        self._server.settimeout(timeout)
        conn, _ = self._server.accept()
        self._held.append(conn)

    def release(self) -> None:
        """Let every holding actor go on."""
        for conn in self._held:
            conn.sendall(b"go")
            conn.close()
        self._held.clear()

    def close(self) -> None:
        self.release()
        self._server.close()


def hold(address: Address, timeout: float = WAIT) -> None:
    """Inside an actor: block until the test releases the gate (or the timeout)."""
    with socket.create_connection(address, timeout) as conn:
        conn.settimeout(timeout)
        conn.recv(2)


def notify(address: Address) -> None:
    """Inside an actor: tell the test something happened (returns at once)."""
    with socket.create_connection(address, WAIT) as conn:
        conn.sendall(b"!")


class DeadLetterWaiter:
    """Counts a system's dead letters as they arrive; wait for a count."""

    def __init__(self, system: Any, keep: Callable[[Any], bool] = lambda letter: True) -> None:
        self._cond = threading.Condition()
        self.letters: list[Any] = []
        self._keep = keep
        self._subscription = system.dead_letters.subscribe(self._add)

    def _add(self, letter: Any) -> None:
        if self._keep(letter):
            with self._cond:
                self.letters.append(letter)
                self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = WAIT) -> list[Any]:
        """Wait until at least ``count`` letters arrived; return them all."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.letters) >= count, timeout):
                raise AssertionError(f"{len(self.letters)} dead letters, expected {count}")
            return list(self.letters)


def start_cluster() -> Any:
    """One head node with 2 CPUs, this process connected as the driver."""
    import os

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray
    from ray import cloudpickle
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False}
    )
    ray.init(address=cluster.address, log_to_driver=False)
    # The tests' actor classes and these helpers travel by value: the worker
    # processes do not have tests/ on their path.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    return cluster


def stop_cluster(cluster: Any) -> None:
    """Disconnect and stop every node (no raylet is left behind)."""
    import ray

    ray.shutdown()
    cluster.shutdown()


def by_value(module_name: str) -> None:
    """Pickle a test module's classes by value for the Ray workers."""
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[module_name])
