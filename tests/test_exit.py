"""Leaving a program or a ``with ActorSystem()`` block: every exit ends, and says why.

The forgotten-shutdown scripts run in subprocesses and must exit with status 0
within a generous bound (`script_support.HANG`); on the old code they never
exited.
"""

from __future__ import annotations

import signal
import textwrap
from pathlib import Path
from typing import Any

import pytest
from script_support import Script, write_script
from support import WAIT, thread_exceptions

from backstage_threads import (
    Actor,
    ActorFailedError,
    ActorSystem,
    Directive,
    SupervisorStrategy,
)

FORGOTTEN = """
import sys, threading, time
from backstage_threads import Actor, ActorSystem

class Worker(Actor):
    def receive(self, message):
        sys.stdout.write("received " + message + "\\n")  # one write: main prints too
        sys.stdout.flush()
        if message == "sleep":
            time.sleep(3600)
        elif message == "lock":
            held = threading.Lock()
            held.acquire()
            held.acquire()  # never returns
        return message

system = ActorSystem("forgotten", workers=2, shutdown_timeout={shutdown})
ref = system.spawn(Worker, name="worker")
assert ref.ask("hello", timeout=10) == "hello"
for message in sys.argv[1:]:
    ref.tell(message)
sys.stdout.write("end of main\\n")
sys.stdout.flush()
"""


def forgotten(tmp: Path, shutdown: float = 0.5) -> Path:
    return write_script(tmp, "forgotten.py", textwrap.dedent(FORGOTTEN.format(shutdown=shutdown)))


def test_a_program_that_forgets_shutdown_exits(tmp_path: Path) -> None:
    with Script(forgotten(tmp_path)) as script:
        finished = script.finish()
    assert finished.returncode == 0, finished.describe()
    assert "end of main" in finished.stdout
    assert "Traceback" not in finished.stderr


@pytest.mark.parametrize("stuck", ["sleep", "lock"])
def test_a_forgotten_system_with_an_actor_stuck_in_receive_still_exits(
    stuck: str, tmp_path: Path
) -> None:
    # The actor never returns; the exit hook's shutdown gives up after the
    # system's shutdown_timeout and the stuck (daemon) thread does not hold the exit.
    with Script(forgotten(tmp_path), stuck) as script:
        script.wait_for(f"received {stuck}")
        finished = script.finish()
    assert finished.returncode == 0, finished.describe()
    assert "Traceback" not in finished.stderr


def test_the_exit_hook_warns_naming_the_forgotten_system(tmp_path: Path) -> None:
    with Script("-W", "always::ResourceWarning", forgotten(tmp_path)) as script:
        finished = script.finish()
    assert finished.returncode == 0, finished.describe()
    assert (
        "ResourceWarning: actor system 'forgotten' was never shut down; "
        "shutting it down at interpreter exit"
    ) in finished.stderr


SHUT_DOWN = """
from backstage_threads import ActorSystem

with ActorSystem("tidy", workers=1):
    pass
ActorSystem("explicit", workers=1).shutdown(10)
print("done", flush=True)
"""


def test_no_warning_for_systems_that_were_shut_down(tmp_path: Path) -> None:
    source = write_script(tmp_path, "tidy.py", textwrap.dedent(SHUT_DOWN))
    with Script("-W", "always::ResourceWarning", source) as script:
        finished = script.finish()
    assert finished.returncode == 0, finished.describe()
    assert "done" in finished.stdout
    assert "ResourceWarning" not in finished.stderr


def test_a_slow_exit_says_what_it_waits_for_and_ctrl_c_forces_it(tmp_path: Path) -> None:
    # shutdown_timeout=600: the exit hook's stop would take 10 minutes.
    with Script(forgotten(tmp_path, shutdown=600), "sleep") as script:
        script.wait_for("end of main")
        script.wait_for("still stopping actor system 'forgotten' at exit", stream="stderr")
        script.signal(signal.SIGINT)
        finished = script.finish()
    assert finished.returncode == 130, finished.describe()
    assert "waiting for /user/worker" in finished.stderr
    assert "Traceback" not in finished.stderr


# -- leaving the block after an escalation stopped the system --------------------------------


class Fails(Actor[Any]):
    def receive(self, message: Any) -> Any:
        raise ValueError("disk full")


def escalating_system() -> ActorSystem:
    return ActorSystem(
        "escalating",
        workers=1,
        guardian_strategy=SupervisorStrategy(lambda error: Directive.ESCALATE),
    )


def test_leaving_the_block_after_an_escalation_raises_the_root_cause() -> None:
    with (
        thread_exceptions() as reported,
        pytest.raises(ActorFailedError) as caught,
        escalating_system() as system,
    ):
        system.spawn(Fails, name="pool").tell("boom")
        assert system.wait_terminated(WAIT)
    error = caught.value
    assert len(reported) == 1  # reported once, when the system stopped
    assert str(error) == str(reported[0])
    assert error.path == "/user/pool"
    assert "/user/pool failed with ValueError('disk full')" in str(error)
    assert isinstance(error.__cause__, ValueError)
    assert str(error.__cause__) == "disk full"
    assert system.failure is not None
    assert error.__cause__ is system.failure.error.__cause__  # under the guardian's wrapper


def test_an_exception_already_leaving_the_block_is_not_replaced() -> None:
    with thread_exceptions(), pytest.raises(KeyError, match="mine"), escalating_system() as system:
        system.spawn(Fails, name="pool").tell("boom")
        assert system.wait_terminated(WAIT)
        raise KeyError("mine")


def test_leaving_the_block_without_a_failure_raises_nothing() -> None:
    with ActorSystem("fine", workers=1) as system:
        system.spawn(Fails, name="pool").tell("boom")  # restarted by /user: no escalation
    assert system.failure is None
