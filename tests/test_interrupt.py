"""Ctrl-C in ``with ActorSystem()`` and ``Application.run``: graceful first, forced second.

Each subprocess test waits for a line proving the script reached the state
under test, then signals it; every wait is bounded (`script_support.HANG`) and a
hang kills the script and fails the test. The pause between the two signals of a
double press is the scenario itself (a terminal's SIGINT plus an impatient
user), not a wait for something to happen.
"""

from __future__ import annotations

import random
import signal
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from script_support import REPO, Finished, Script, write_script

from backstage_threads import Actor, ActorSystem
from backstage_threads._threads import start_thread

EXAMPLES = REPO / "examples"

GRACEFUL = "interrupted; stopping actor system {name!r} gracefully (Ctrl-C again to force)"
FORCED = "backstage_threads: interrupted again; exiting now (status 130)"


# -- the long-running examples, two SIGINTs 5-20 ms apart -----------------------------------


def long_running(tmp: Path) -> dict[str, tuple[list[str], str]]:
    """Each long-running example: small arguments, and a stdout line printed once
    its actor system is running (so the signals find it still at work)."""
    return {
        "index_stdlib": (
            [str(EXAMPLES / "index_stdlib.py"), "--workers", "2", "--db", str(tmp / "i.db")],
            "indexing ",
        ),
        "word_count": ([str(EXAMPLES / "word_count.py"), "--workers", "2"], "counting identifiers"),
        "tcp_lines": ([str(EXAMPLES / "tcp_lines.py")], "listening on"),
        "app_launcher": ([str(EXAMPLES / "app_launcher.py"), "--serve"], "serving;"),
    }


def double_interrupt(args: list[str], ready: str, rng: random.Random) -> Finished:
    with Script(*args) as script:
        script.wait_for(ready)
        script.signal(signal.SIGINT)
        time.sleep(rng.uniform(0.005, 0.020))  # the impatient second press
        script.signal(signal.SIGINT)
        return script.finish()


def check_quiet_130(name: str, finished: Finished) -> None:
    assert finished.returncode in (130, 0), f"{name}: {finished.describe()}"
    assert "Traceback" not in finished.stderr, f"{name}: {finished.describe()}"


EXAMPLE_NAMES = ["index_stdlib", "word_count", "tcp_lines", "app_launcher"]


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_two_quick_sigints_end_each_long_running_example_quietly(name: str, tmp_path: Path) -> None:
    args, ready = long_running(tmp_path)[name]
    rng = random.Random()
    for _ in range(3):
        check_quiet_130(name, double_interrupt(args, ready, rng))


@pytest.mark.stress
@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_two_quick_sigints_20_times_never_hang_an_example(name: str, tmp_path: Path) -> None:
    args, ready = long_running(tmp_path)[name]
    rng = random.Random()
    for _ in range(20):
        check_quiet_130(name, double_interrupt(args, ready, rng))


@pytest.mark.parametrize("name", ["index_stdlib", "word_count"])
def test_one_sigint_stops_an_example_gracefully_with_status_130(name: str, tmp_path: Path) -> None:
    args, ready = long_running(tmp_path)[name]
    with Script(*args) as script:
        script.wait_for(ready)
        script.signal(signal.SIGINT)
        finished = script.finish()
    assert finished.returncode == 130, finished.describe()
    system = {"index_stdlib": "index", "word_count": "word-count"}[name]
    assert GRACEFUL.format(name=system) in finished.stderr, finished.describe()
    assert "Traceback" not in finished.stderr, finished.describe()
    assert FORCED not in finished.stderr


# -- scripted scenarios ---------------------------------------------------------------------

# A with-block whose actor is busy in receive; the main thread waits in the body.
# Ctrl-C ends it with status 130 (the KeyboardInterrupt is caught around main).
# The script's own waits are short slices: CPython notices a signal that lands
# just as the main thread enters a lock wait only when that wait ends.
BUSY_SYSTEM = """
import signal, sys, threading, time
from backstage_threads import Actor, ActorSystem

def pause():
    while not threading.Event().wait(0.05):
        pass

class Busy(Actor):
    def receive(self, message):
        sys.stdout.write("busy\\n")
        sys.stdout.flush()
        time.sleep(message)

def main():
    with ActorSystem("busy-system", workers=2, shutdown_timeout={shutdown}) as system:
        system.spawn(Busy, name="worker").tell({busy_for})
        try:
            pause()
        finally:
            {finally_body}
    return 0

try:
    sys.exit(main())
except KeyboardInterrupt:
    {after_body}
    sys.exit(130)
"""


def busy_script(
    tmp: Path,
    *,
    shutdown: float = 2.0,
    busy_for: float = 30.0,
    finally_body: str = "pass",
    after_body: str = "pass",
) -> Path:
    source = BUSY_SYSTEM.format(
        shutdown=shutdown, busy_for=busy_for, finally_body=finally_body, after_body=after_body
    )
    return write_script(tmp, "busy.py", textwrap.dedent(source))


def test_first_sigint_with_a_busy_actor_says_what_it_waits_for_and_is_bounded(
    tmp_path: Path,
) -> None:
    # The actor's receive runs for 30 s; the graceful stop gives up after the
    # system's shutdown_timeout (2 s) instead of sitting silent.
    with Script(busy_script(tmp_path)) as script:
        script.wait_for("busy")
        script.signal(signal.SIGINT)
        finished = script.finish()
    assert finished.returncode == 130, finished.describe()
    lines = finished.stderr.splitlines()
    assert f"backstage_threads: {GRACEFUL.format(name='busy-system')}" in lines
    waiting = [line for line in lines if "still stopping actor system 'busy-system'" in line]
    assert len(waiting) == 1, finished.describe()
    assert "waiting for /user/worker" in waiting[0]
    assert "Traceback" not in finished.stderr
    assert FORCED not in finished.stderr


def test_second_sigint_during_the_graceful_stop_forces_exit_130(tmp_path: Path) -> None:
    # shutdown_timeout=600: only the forced exit can end this before HANG.
    with Script(busy_script(tmp_path, shutdown=600, busy_for=3600)) as script:
        script.wait_for("busy")
        script.signal(signal.SIGINT)
        script.wait_for("gracefully", stream="stderr")
        script.signal(signal.SIGINT)
        finished = script.finish()
    assert finished.returncode == 130, finished.describe()
    assert FORCED in finished.stderr
    assert "Traceback" not in finished.stderr


def test_second_sigint_forces_exit_even_when_the_main_thread_cannot_run_handlers(
    tmp_path: Path,
) -> None:
    # The main thread blocks SIGINT before __exit__, standing in for a main
    # thread that entered a lock wait just as the signal came (CPython then runs
    # the handler only when the wait ends): the stop's watcher thread still sees
    # the signal through the wakeup fd and forces the exit.
    finally_body = "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})"
    source = busy_script(tmp_path, shutdown=600, busy_for=3600, finally_body=finally_body)
    with Script(source) as script:
        script.wait_for("busy")
        script.signal(signal.SIGINT)
        # By the "still stopping" report the main thread is long blocked in the stop.
        script.wait_for("still stopping", stream="stderr")
        script.signal(signal.SIGINT)
        finished = script.finish()
    assert finished.returncode == 130, finished.describe()
    assert FORCED in finished.stderr


def test_second_sigint_while_the_body_is_still_unwinding_forces_exit(tmp_path: Path) -> None:
    # The second press lands before __exit__ runs (in the body's finally).
    finally_body = 'print("unwinding", flush=True); pause()'
    with Script(busy_script(tmp_path, shutdown=600, finally_body=finally_body)) as script:
        script.wait_for("busy")
        script.signal(signal.SIGINT)
        script.wait_for("unwinding")
        script.signal(signal.SIGINT)
        finished = script.finish()
    assert finished.returncode == 130, finished.describe()
    assert FORCED in finished.stderr
    assert "Traceback" not in finished.stderr


def test_second_sigint_after_the_block_was_left_forces_exit(tmp_path: Path) -> None:
    # The second press lands on the way out, after the graceful stop finished.
    after_body = 'print("left", flush=True); pause()'
    source = busy_script(tmp_path, busy_for=0.0, after_body=after_body)
    with Script(source) as script:
        script.wait_for("busy")
        script.signal(signal.SIGINT)
        script.wait_for("left")
        script.signal(signal.SIGINT)
        finished = script.finish()
    assert finished.returncode == 130, finished.describe()
    assert FORCED in finished.stderr
    assert "Traceback" not in finished.stderr


NOT_OURS = """
import signal, sys, threading
from backstage_threads import ActorSystem

pressed = threading.Event()
signal.signal(signal.SIGINT, lambda *_: pressed.set())
with ActorSystem("theirs", workers=1):
    print("ready", flush=True)
    while not pressed.wait(0.05):  # slices: see BUSY_SYSTEM
        pass
print("handled by the program", flush=True)
"""


def test_a_programs_own_sigint_handler_is_left_alone(tmp_path: Path) -> None:
    with Script(write_script(tmp_path, "own.py", textwrap.dedent(NOT_OURS))) as script:
        script.wait_for("ready")
        script.signal(signal.SIGINT)
        finished = script.finish()
    assert finished.returncode == 0, finished.describe()
    assert "handled by the program" in finished.stdout
    assert "backstage_threads:" not in finished.stderr


APP = """
import sys, time
from backstage_threads import Actor, Application

class Busy(Actor):
    def on_start(self):
        self.context.self.tell({busy_for})
    def receive(self, message):
        print("busy", flush=True)
        time.sleep(message)

app = Application("shop")
app.add("worker", Busy)
try:
    app.run(timeout={timeout})
except KeyboardInterrupt:
    sys.exit(130)
print("run returned", flush=True)
"""


def app_script(tmp: Path, *, busy_for: float, timeout: float) -> Path:
    source = APP.format(busy_for=busy_for, timeout=timeout)
    return write_script(tmp, "app.py", textwrap.dedent(source))


def test_application_run_first_sigint_is_graceful_and_reports_what_it_waits_for(
    tmp_path: Path,
) -> None:
    with Script(app_script(tmp_path, busy_for=30, timeout=2)) as script:
        script.wait_for("busy")
        script.signal(signal.SIGINT)
        finished = script.finish()
    assert finished.returncode == 130, finished.describe()
    assert (
        "backstage_threads: interrupted; stopping application 'shop' gracefully "
        "(Ctrl-C again to force)"
    ) in finished.stderr
    assert "still stopping application 'shop': waiting for /user/shop/worker" in finished.stderr
    assert "Traceback" not in finished.stderr


def test_application_run_second_sigint_forces_exit_130(tmp_path: Path) -> None:
    with Script(app_script(tmp_path, busy_for=3600, timeout=600)) as script:
        script.wait_for("busy")
        script.signal(signal.SIGINT)
        script.wait_for("gracefully", stream="stderr")
        script.signal(signal.SIGINT)
        finished = script.finish()
    assert finished.returncode == 130, finished.describe()
    assert FORCED in finished.stderr


def test_application_run_sigterm_stops_gracefully_and_returns(tmp_path: Path) -> None:
    with Script(app_script(tmp_path, busy_for=0, timeout=10)) as script:
        script.wait_for("busy")
        script.signal(signal.SIGTERM)
        finished = script.finish()
    assert finished.returncode == 0, finished.describe()
    assert "run returned" in finished.stdout
    assert "terminated (SIGTERM); stopping application 'shop' gracefully" in finished.stderr


# -- the handler in process -----------------------------------------------------------------


class Idle(Actor[Any]):
    def receive(self, message: Any) -> Any:
        return message


@pytest.fixture
def default_sigint() -> Iterator[None]:
    """Start and end with Python's default SIGINT handler."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("default_sigint")
def test_the_handler_is_installed_for_the_block_and_restored_after() -> None:
    with ActorSystem("outer", workers=1):
        ours = signal.getsignal(signal.SIGINT)
        assert ours is not signal.default_int_handler
        with ActorSystem("inner", workers=1):
            assert signal.getsignal(signal.SIGINT) is ours  # nested: shared
        assert signal.getsignal(signal.SIGINT) is ours
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.usefixtures("default_sigint")
def test_the_first_sigint_raises_keyboardinterrupt_as_the_default_does() -> None:
    with pytest.raises(KeyboardInterrupt), ActorSystem("pressed", workers=1) as system:
        ref = system.spawn(Idle)
        assert ref.ask("x", timeout=10) == "x"
        signal.raise_signal(signal.SIGINT)
        pytest.fail("the SIGINT did not interrupt the body")
    assert not ref.is_alive  # stopped gracefully on the way out


def test_no_handler_is_installed_from_another_thread() -> None:
    seen: list[Any] = []

    def body() -> None:
        with ActorSystem("side", workers=1):
            seen.append(signal.getsignal(signal.SIGINT))

    before = signal.getsignal(signal.SIGINT)
    thread = threading.Thread(target=body)
    thread.start()
    thread.join(10)
    assert seen == [before]


def test_a_custom_handler_is_not_replaced() -> None:
    def mine(signum: int, frame: Any) -> None:
        pass

    previous = signal.signal(signal.SIGINT, mine)
    try:
        with ActorSystem("custom", workers=1):
            assert signal.getsignal(signal.SIGINT) is mine
        assert signal.getsignal(signal.SIGINT) is mine
    finally:
        signal.signal(signal.SIGINT, previous)


class InterruptedStart(threading.Thread):
    """A thread whose start is hit by a SIGINT midway (as Thread.start's own wait can be)."""

    def __init__(self) -> None:
        super().__init__(target=lambda: None, daemon=True)
        self.started_fully = False

    def start(self) -> None:
        signal.raise_signal(signal.SIGINT)
        self.started_fully = True
        super().start()


@pytest.mark.usefixtures("default_sigint")
def test_a_sigint_during_a_runtime_thread_start_waits_until_the_start_is_done() -> None:
    thread = InterruptedStart()
    with pytest.raises(KeyboardInterrupt):
        start_thread(thread)
    assert thread.started_fully  # the interrupt came after the start, not inside it
    thread.join(10)
    assert not thread.is_alive()


@pytest.mark.usefixtures("default_sigint")
def test_a_sigint_handled_as_the_start_blocks_it_leaves_sigint_unblocked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A SIGINT that came just before start_thread blocked SIGINT is handled by
    # pthread_sigmask itself as it returns, after the mask took effect. The old
    # start lost the previous mask with that interrupt: SIGINT stayed blocked
    # in the main thread, and no later Ctrl-C reached it.
    real = signal.pthread_sigmask

    def interrupted_as_it_blocks(how: int, mask: Any) -> set[signal.Signals]:
        previous = real(how, mask)
        if how == signal.SIG_BLOCK and signal.SIGINT in mask:
            raise KeyboardInterrupt  # what the handler does from inside the call
        return previous

    monkeypatch.setattr(signal, "pthread_sigmask", interrupted_as_it_blocks)
    thread = threading.Thread(target=lambda: None, daemon=True)
    try:
        with pytest.raises(KeyboardInterrupt):
            start_thread(thread)
        assert signal.SIGINT not in real(signal.SIG_BLOCK, ())
    finally:
        real(signal.SIG_UNBLOCK, {signal.SIGINT})  # (for the tests after a failure)
    assert not thread.is_alive()  # (never started)
