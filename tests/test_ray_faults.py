"""The Ray backend when processes and nodes die, and its errors on bad input.

Every test here runs on the session's real local Ray cluster (marked ``ray``):
a worker process killed with SIGKILL is restarted by its supervisor; a node
removed from a two-node `ray.cluster_utils.Cluster` takes the actor with it and
the supervisor restarts it on the node left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from raykit import RAY_MARKS, WAIT, DeadLetterWaiter, Gate, by_value, hold, notify

from backstage_threads import Actor, ActorFailedError

pytestmark = RAY_MARKS


@pytest.fixture
def system(ray_cluster: Any) -> Iterator[Any]:
    by_value(__name__)
    from backstage_threads.ray import RaySystem

    made = RaySystem(f"faults-{uuid.uuid4().hex[:6]}")
    yield made
    assert made.shutdown(WAIT).clean


class Worker(Actor[Any]):
    def __init__(self, started: Any = None) -> None:
        self.started = started  # a Gate's address to notify at each (re)start

    def on_start(self) -> None:
        self.count = 0
        if self.started is not None:
            notify(self.started)

    def receive(self, message: Any) -> Any:
        import ray

        match message:
            case "pid":
                return os.getpid()
            case "node":
                return ray.get_runtime_context().get_node_id()
            case ("hold", address):
                hold(address)
            case int():
                self.count += message
                return self.count
        return None


class Keeper(Actor[Any]):
    """Supervises one `Worker`, ``w``, spawned with the given Ray options."""

    def __init__(self, options: dict[str, Any] | None = None, started: Any = None) -> None:
        self.options = options
        self.started = started

    def on_start(self) -> None:
        self.kid = self.context.spawn(Worker, self.started, name="w", ray_options=self.options)

    def receive(self, message: Any) -> Any:
        return self.kid


def _lost(system: Any) -> DeadLetterWaiter:
    from backstage_threads.ray import LostMailbox

    return DeadLetterWaiter(system, lambda letter: isinstance(letter.message, LostMailbox))


def test_a_killed_worker_process_is_restarted_by_its_supervisor(system: Any) -> None:
    keeper = system.spawn(Keeper, name="keeper")
    worker = keeper.ask("kid", timeout=WAIT)
    assert worker.ask(5, timeout=WAIT) == 5
    pid = worker.ask("pid", timeout=WAIT)
    lost = _lost(system)
    gate = Gate()
    try:
        worker.tell(("hold", gate.address))
        gate.wait_connected()  # busy: the next ask waits in its mailbox
        in_flight = worker.ask_future(1)
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(ActorFailedError, match="died"):
            in_flight.result(WAIT)
    finally:
        gate.close()
    (letter,) = lost.wait_for(1)  # the supervisor saw the death and said what was lost
    assert letter.path == "/user/keeper/w"
    assert "process died" in letter.reason
    assert worker.ask("pid", timeout=WAIT) != pid  # the same ref, a new process
    assert worker.ask(1, timeout=WAIT) == 1  # a new instance: the state is rebuilt
    node = system.status_tree().find("/user/keeper/w")
    assert node is not None
    assert node.restarts == 1


def test_losing_a_node_restarts_the_actor_on_the_other(system: Any, ray_cluster: Any) -> None:
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    head = ray.get_runtime_context().get_node_id()
    node = ray_cluster.add_node(num_cpus=1)
    ray_cluster.wait_for_nodes()
    started = Gate()
    try:
        try:
            away = {"scheduling_strategy": NodeAffinitySchedulingStrategy(node.node_id, soft=True)}
            home = {"scheduling_strategy": NodeAffinitySchedulingStrategy(head, soft=False)}
            keeper = system.spawn(Keeper, away, started.address, name="keeper", ray_options=home)
            worker = keeper.ask("kid", timeout=WAIT)
            started.wait_connected()
            assert worker.ask("node", timeout=WAIT) == node.node_id
            lost = _lost(system)
        finally:
            ray_cluster.remove_node(node)
        (letter,) = lost.wait_for(1)
        started.wait_connected()  # rebuilt on the head node by the keeper's RESTART
    finally:
        started.close()
    assert letter.path == "/user/keeper/w"
    # With max_task_retries=0 Ray fails a call at once while this driver still
    # sees the actor restarting; this call is queued until it sees it alive.
    ray.get(worker._handle.describe.options(max_task_retries=-1).remote(), timeout=WAIT)
    assert worker.ask("node", timeout=WAIT) == head
    found = system.status_tree().find("/user/keeper/w")
    assert found is not None
    assert found.restarts == 1  # one lost process, one failure
    assert len(lost.letters) == 1


# -- bad input --------------------------------------------------------------------------


def test_an_unpicklable_message_is_refused_whole(system: Any) -> None:
    import threading

    worker = system.spawn(Worker)
    with pytest.raises(TypeError, match=r"_thread\.lock.*pickled"):
        worker.tell(threading.Lock())
    with pytest.raises(TypeError, match="pickled"):
        worker.ask(("x", threading.Lock()), timeout=WAIT)
    worker.tell(2)  # nothing was half-sent: the next message goes straight through
    assert worker.ask(3, timeout=WAIT) == 5
    batched = system.spawn(Worker, capacity=None)  # its tells go out in batches
    with pytest.raises(TypeError, match=r"_thread\.lock.*pickled"):
        batched.tell(threading.Lock())
    batched.tell(2)
    assert batched.ask(3, timeout=WAIT) == 5


def test_a_class_defined_in_a_function_works(system: Any) -> None:
    offset = 40

    class Local(Actor[int]):
        def receive(self, message: int) -> int:
            return message + offset

    assert system.spawn(Local).ask(2, timeout=WAIT) == 42


def test_a_second_system_of_the_same_name_is_refused(system: Any) -> None:
    from backstage_threads.ray import RaySystem

    with pytest.raises(RuntimeError, match="already runs"):
        RaySystem(system.name)


def test_ray_not_initialised_is_a_clear_error() -> None:
    code = "from backstage_threads.ray import RaySystem; RaySystem('x')"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=WAIT, check=False
    )
    assert done.returncode == 1
    assert "Ray is not initialised" in done.stderr
    assert "ray.init()" in done.stderr


STALE = """
import ray
from backstage_threads import Actor, ActorSystemClosedError
from backstage_threads.ray import RaySystem

class Echo(Actor):
    def receive(self, message):
        return message

def calls(ref):
    return (lambda: ref.tell(1), lambda: ref.ask(1, timeout=30.0))

ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
system = RaySystem("stale")
refs = [system.spawn(Echo, name="bounded"), system.spawn(Echo, name="loose", capacity=None)]
assert [ref.ask(n, timeout=30.0) for ref, n in zip(refs, (1, 2))] == [1, 2]
assert system.shutdown(30.0).clean
for cluster in ("none", "another"):
    ray.shutdown()
    if cluster == "another":
        ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
    for ref in refs:
        for call in calls(ref):
            try:
                call()
            except ActorSystemClosedError as error:
                print(cluster, ref.path, error)
            else:
                print(cluster, ref.path, "NO ERROR")
ray.shutdown()
"""


def test_a_ref_from_a_shut_down_cluster_is_a_clear_error_not_a_hang() -> None:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # its own clusters
    done = subprocess.run(
        [sys.executable, "-c", STALE],
        capture_output=True, text=True, timeout=4 * WAIT, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 8 and "NO ERROR" not in done.stdout
    assert all("Ray is not initialised" in line for line in lines if line.startswith("none"))
    assert all("not on the cluster" in line for line in lines if line.startswith("another"))


def test_is_alive_and_status_ask_the_host(system: Any) -> None:
    from backstage_threads import ServiceStatus

    worker = system.spawn(Worker, capacity=None)
    assert worker.ask(1, timeout=WAIT) == 1
    assert worker.is_alive
    assert worker.status is ServiceStatus.RUNNING
    found = system.lookup(worker.path)
    assert found == worker and found._capacity is None  # a lookup keeps the capacity
    worker.stop()
    assert worker.wait_stopped(WAIT)
    assert not worker.is_alive
    assert worker.status is ServiceStatus.STOPPED
