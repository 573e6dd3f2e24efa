"""Ctrl-C in every wait a main thread can block in through the public API.

Each test delivers one real SIGINT to the main thread while it waits, and its
handler raises `KeyboardInterrupt` exactly where the test says: `CtrlC` sends
SIGINT from a helper thread until the handler finds the main thread inside
one of the given functions (a signal that finds it elsewhere is ignored), so
the interrupt lands in the blocking wait itself however the threads are
scheduled. To reach the narrow gap inside ``threading.Condition.wait`` (after
it released its lock, before its ``try``), `condition_wait_gap` makes the
main thread's first ``Condition.wait`` raise SIGINT right there, as a signal
arriving at that instant would. Then each test checks that the wait raised
`KeyboardInterrupt` (not another exception) and that the runtime is still
consistent: no lock left held, no sender left in a mailbox's line, nothing
delivered that the interrupt withdrew, and the same wait still working.
"""

from __future__ import annotations

import _thread
import signal
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from script_support import Script, write_script
from support import WAIT, Echo, assert_clean_shutdown, spawn_full, spawn_held

from backstage_threads import Actor, ActorSystem, Application, Overflow, spawn_pool
from backstage_threads._envelope import Reply
from backstage_threads._interrupt import interrupts
from backstage_threads._safe_wait import Latch, Notifier, acquire
from backstage_threads._threads import join_thread
from backstage_threads._waiting import ThreadWaiter

_ORIGINAL_CONDITION_WAIT = threading.Condition.wait


def _gap_wait(self: threading.Condition, timeout: float | None = None) -> bool:
    """``Condition.wait`` whose first call on the main thread is interrupted in its gap
    (while a `CtrlC` is armed, and unless SIGINT is held back, as in a thread's start)."""
    if (
        _GAP.armed
        and threading.current_thread() is threading.main_thread()
        and signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, ())
    ):
        _GAP.armed = False
        saved = self._release_save()  # type: ignore[attr-defined]  # what wait() does first
        signal.raise_signal(signal.SIGINT)  # the handler raises here: lock released
        self._acquire_restore(saved)  # type: ignore[attr-defined]  # (it did not raise)
    return _ORIGINAL_CONDITION_WAIT(self, timeout)


class _Gap:
    enabled = False  # this test patched Condition.wait
    armed = False  # a CtrlC block is running


_GAP = _Gap()

#: Where the main thread waits, old code and new: a Ctrl-C is delivered inside one.
WAITS: tuple[Callable[..., Any], ...] = (
    acquire,  # where Notifier.wait_until, ThreadWaiter.wait and Reply.wait park
    Notifier.wait_until,
    ThreadWaiter.wait,
    Reply.wait,
    _gap_wait,
    _ORIGINAL_CONDITION_WAIT,
)


class CtrlC:
    """One Ctrl-C for the main thread, raised inside one of ``where``.

    A helper thread sends SIGINT to the main thread until the handler, run on
    the main thread, finds it in one of those functions and raises
    `KeyboardInterrupt` there, once, after calling ``then()``. Each round
    waits on an event: no sleep.
    """

    def __init__(self, *where: Callable[..., Any], then: Callable[[], object] = lambda: None):
        self._codes = {function.__code__ for function in where}
        self._then = then
        self.fired = threading.Event()
        # Set while the block runs: a signal that finds the main thread in one
        # of ``where`` before (in the kicker's own start) or after it is ignored.
        self._armed = threading.Event()
        self._done = threading.Event()
        self._main = threading.main_thread().ident
        self._thread = threading.Thread(target=self._kick, name="test-ctrl-c", daemon=True)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if (
            self._armed.is_set()
            and not self.fired.is_set()
            and frame is not None
            and frame.f_code in self._codes
        ):
            self.fired.set()
            _GAP.armed = False
            self._then()
            raise KeyboardInterrupt

    def _kick(self) -> None:
        assert self._main is not None
        while not self._done.wait(0.002) and not self.fired.is_set():
            signal.pthread_kill(self._main, signal.SIGINT)

    def __enter__(self) -> CtrlC:
        self._previous = signal.signal(signal.SIGINT, self._handle)
        self._thread.start()  # (its own start waits on a Condition: arm after it)
        _GAP.armed = _GAP.enabled
        self._armed.set()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._armed.clear()
        _GAP.armed = False
        self._done.set()
        self._thread.join(WAIT)
        signal.signal(signal.SIGINT, self._previous)


@pytest.fixture(params=["in the blocking wait", "in Condition.wait's gap"])
def ctrl_c(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., CtrlC]]:
    """Make a `CtrlC` that lands in the main thread's wait (or in the gap, if it has one)."""
    if request.param == "in Condition.wait's gap":
        monkeypatch.setattr(threading.Condition, "wait", _gap_wait)
        monkeypatch.setattr(_GAP, "enabled", True)
    yield lambda then=lambda: None: CtrlC(*WAITS, then=then)


class _Held(Actor[Any]):
    """Blocks in its first receive until ``release`` is set; sets ``entered`` on entry."""

    def __init__(self, release: threading.Event, entered: threading.Event | None = None) -> None:
        self.release = release
        self.entered = entered

    def receive(self, message: Any) -> Any:
        if self.entered is not None:
            self.entered.set()
        self.release.wait(WAIT)
        return message


class _HeldStart(Actor[Any]):
    """Stays Starting until ``release`` is set (its on_start waits for it)."""

    def __init__(self, release: threading.Event) -> None:
        self.release = release

    def on_start(self) -> None:
        self.release.wait(WAIT)

    def receive(self, message: Any) -> Any:
        return message


# -- the waits ------------------------------------------------------------------------------


def test_ctrl_c_in_wait_stopped_is_a_keyboard_interrupt(ctrl_c: Callable[..., CtrlC]) -> None:
    release = threading.Event()
    with ActorSystem("ctrl-c-stopped", workers=1) as system:
        ref = system.spawn(_Held, release, pinned=True)
        ref.tell("hold")
        with ctrl_c() as interrupt, pytest.raises(KeyboardInterrupt):
            ref.wait_stopped(WAIT)
        assert interrupt.fired.is_set()
        ref.stop()
        release.set()
        assert ref.wait_stopped(WAIT)  # the same wait still works


def test_ctrl_c_in_wait_terminated_is_a_keyboard_interrupt(ctrl_c: Callable[..., CtrlC]) -> None:
    system = ActorSystem("ctrl-c-terminated", workers=1)
    with ctrl_c() as interrupt, pytest.raises(KeyboardInterrupt):
        system.wait_terminated(WAIT)
    assert interrupt.fired.is_set()
    assert_clean_shutdown(system)
    assert system.wait_terminated(0)


def test_ctrl_c_in_shutdown_is_a_keyboard_interrupt_and_shutdown_can_be_called_again(
    ctrl_c: Callable[..., CtrlC],
) -> None:
    release, entered = threading.Event(), threading.Event()
    system = ActorSystem("ctrl-c-shutdown", workers=1)
    system.spawn(_Held, release, entered, pinned=True).tell("hold")
    # Held before the stop is sent: else the stop, a system message, goes first
    # and the actor stops at once, with nothing for shutdown to wait for.
    assert entered.wait(WAIT)
    with ctrl_c() as interrupt, pytest.raises(KeyboardInterrupt):
        system.shutdown(WAIT)  # waits for the held actor
    assert interrupt.fired.is_set()
    release.set()
    assert_clean_shutdown(system)


def test_ctrl_c_in_the_pools_wait_for_routees_is_a_keyboard_interrupt(
    ctrl_c: Callable[..., CtrlC],
) -> None:
    # One worker, busy: the pool actor cannot start, so spawn_pool waits for routees.
    release = threading.Event()
    with ActorSystem("ctrl-c-pool", workers=1) as system:
        entered = threading.Event()
        system.spawn(_Held, release, entered).tell("hold the only worker")
        assert entered.wait(WAIT)  # (else the pool actor may start first: no wait)
        with ctrl_c() as interrupt, pytest.raises(KeyboardInterrupt):
            spawn_pool(system, Echo, size=2, name="pool", timeout=WAIT)
        assert interrupt.fired.is_set()
        release.set()
        pool = spawn_pool(system, Echo, size=2, name="pool-2", timeout=WAIT)
        assert pool.ask("hello", timeout=WAIT) == "hello"


def test_ctrl_c_in_the_applications_wait_for_running_is_a_keyboard_interrupt(
    ctrl_c: Callable[..., CtrlC],
) -> None:
    # The wait that raised RuntimeError in the double-Ctrl-C stress test on 3.13t.
    release = threading.Event()
    app = Application("ctrl-c-start")
    app.add("slow", _HeldStart, release)
    try:
        # (released as the interrupt comes: the stop that follows waits for it)
        with ctrl_c(then=release.set) as interrupt, pytest.raises(KeyboardInterrupt):
            app.start(timeout=WAIT)
        assert interrupt.fired.is_set()
    finally:
        release.set()
        app.stop(WAIT)
    assert app.system is None  # start's interrupted stop shut its own system down


def test_ctrl_c_in_application_run_is_a_keyboard_interrupt(ctrl_c: Callable[..., CtrlC]) -> None:
    app = Application("ctrl-c-run")
    app.add("echo", Echo)
    with ctrl_c() as interrupt, pytest.raises(KeyboardInterrupt):
        app.run(timeout=WAIT)  # started, then waits for a stop request
    assert interrupt.fired.is_set()
    assert app.system is None  # stopped gracefully before the interrupt went on


def test_ctrl_c_in_ask_is_a_keyboard_interrupt_and_the_late_reply_goes_nowhere(
    ctrl_c: Callable[..., CtrlC],
) -> None:
    with ActorSystem("ctrl-c-ask", workers=1) as system:
        ref, latch, log, lock = spawn_held(system)
        with ctrl_c() as interrupt, pytest.raises(KeyboardInterrupt):
            ref.ask("question", timeout=WAIT)
        assert interrupt.fired.is_set()
        latch.release_and_drain("question")  # answered into a reply nobody reads
        assert ref.ask("again", timeout=WAIT) == "again"
        with lock:
            assert log == ["first", "question", "again"]


# -- a BLOCK send: the sender leaves the line -----------------------------------------------


def test_ctrl_c_in_a_blocked_tell_takes_the_sender_out_of_the_line(
    ctrl_c: Callable[..., CtrlC],
) -> None:
    # The interrupted sender used to stay in the line: the next room that came
    # admitted (sent) the message of a sender that had been told it was
    # interrupted, and a stop would have dropped it without a dead letter.
    with ActorSystem("ctrl-c-tell", workers=1) as system:
        ref, latch, log, lock = spawn_full(system, capacity=2, overflow=Overflow.BLOCK)
        with ctrl_c() as interrupt, pytest.raises(KeyboardInterrupt):
            ref.tell("interrupted", timeout=WAIT)
        assert interrupt.fired.is_set()
        assert not ref._cell._waiters  # nobody left in line
        latch.release_and_drain(1)
        assert ref.ask("after", timeout=WAIT) == "after"
        with lock:
            assert log == ["first", 0, 1, "after"]  # the interrupted message was not sent
    assert system.dead_letters.count == 0


def test_ctrl_c_in_a_blocked_ask_takes_the_sender_out_of_the_line(
    ctrl_c: Callable[..., CtrlC],
) -> None:
    with ActorSystem("ctrl-c-ask-full", workers=1) as system:
        ref, latch, log, lock = spawn_full(system, capacity=1, overflow=Overflow.BLOCK)
        with ctrl_c() as interrupt, pytest.raises(KeyboardInterrupt):
            ref.ask("interrupted", timeout=WAIT)
        assert interrupt.fired.is_set()
        assert not ref._cell._waiters
        ref.stop()
        latch.release.set()
        assert ref.wait_stopped(WAIT)
        with lock:
            assert log == ["first"]
    # The queued 0 is a dead letter; the interrupted ask went back to its sender.
    assert [letter.message for letter in system.dead_letters.recent()] == [0]


def test_a_ctrl_c_that_misses_the_lock_wait_is_seen_before_the_wait_ends() -> None:
    # interrupt_main() runs the handler without waking the lock wait, as a SIGINT
    # that lands just before the futex wait starts does (about 1 in 100): the old
    # wait saw it only when it ended (here: when the helper shut the system down).
    system = ActorSystem("ctrl-c-missed", workers=1)
    codes = {function.__code__ for function in WAITS}
    main = threading.main_thread().ident
    interrupted = threading.Event()
    running_at_interrupt: list[bool] = []

    def trip_once_waiting() -> None:
        while not interrupted.wait(0.002):
            frame = sys._current_frames().get(main)
            if frame is not None and frame.f_code in codes:
                _thread.interrupt_main()
                break
        if not interrupted.wait(WAIT):
            system.shutdown(WAIT)  # (ends the old code's wait)

    helper = threading.Thread(target=trip_once_waiting)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        helper.start()
        with pytest.raises(KeyboardInterrupt):
            try:
                system.wait_terminated()  # no timeout: only the interrupt ends it
            except KeyboardInterrupt:
                running_at_interrupt.append(not system.wait_terminated(0))
                raise
    finally:
        interrupted.set()
        signal.signal(signal.SIGINT, previous)
        helper.join(WAIT)
    assert running_at_interrupt == [True]
    assert_clean_shutdown(system)


#: Where a join waits: 3.11's Thread.join, 3.13's, and the held-back join's slices.
JOINS: tuple[Callable[..., Any], ...] = (
    getattr(threading.Thread, "_wait_for_tstate_lock", threading.Thread.join),  # (3.11, 3.12)
    threading.Thread.join,  # (3.13)
    join_thread,
    signal.pthread_sigmask,  # (3.11: SIGINT is let in between slices, here)
)


def test_ctrl_c_in_a_shutdown_join_leaves_a_running_thread_reported_alive() -> None:
    # On 3.11 a KeyboardInterrupt inside Thread.join marked the thread stopped
    # while it still ran; the shutdown called again then reported it gone.
    entered, release = threading.Event(), threading.Event()
    system = ActorSystem("ctrl-c-join", workers=1)

    def slow_subscriber(event: object) -> None:
        entered.set()
        release.wait(WAIT)

    system.events.subscribe(str, slow_subscriber)
    system.events.publish("hold the delivery thread")
    assert entered.wait(WAIT)
    try:
        with CtrlC(*JOINS) as interrupt, pytest.raises(KeyboardInterrupt):
            system.shutdown(WAIT)  # joins the event stream's thread last
        assert interrupt.fired.is_set()
        assert system.shutdown(0).threads_alive == ("ctrl-c-join-events",)
    finally:
        release.set()
    assert_clean_shutdown(system)


# -- the primitives: an interrupt anywhere leaves them working ------------------------------


def test_a_latch_interrupted_in_wait_still_wakes_every_other_waiter() -> None:
    latch = Latch()
    woke = threading.Event()

    def other() -> None:
        if latch.wait(WAIT):
            woke.set()

    thread = threading.Thread(target=other)
    thread.start()
    with CtrlC(acquire) as interrupt, pytest.raises(KeyboardInterrupt):
        latch.wait(WAIT)
    assert interrupt.fired.is_set()
    latch.set()
    assert woke.wait(WAIT)
    thread.join(WAIT)
    assert latch.wait(0)


def test_a_notifier_wait_honours_its_timeout_and_forgets_the_waiter() -> None:
    notifier = Notifier()
    assert notifier.wait_until(lambda: False, 0.01) is False
    assert notifier.wait_until(lambda: False, 0) is False
    assert notifier._waiters == []  # nothing piles up over repeated short waits


# -- the whole program: one Ctrl-C, status 130 -----------------------------------------------

BLOCKED_MAIN = """
import sys, threading
from backstage_threads import Actor, ActorSystem, Overflow

def say(line):
    sys.stdout.write(line + "\\n")  # one write: the actor's lines do not interleave
    sys.stdout.flush()

class Held(Actor):
    def __init__(self, entered, release):
        self.entered = entered
        self.release = release
    def receive(self, message):
        say(f"received {{message}}")
        self.entered.set()
        self.release.wait(60)

entered, release = threading.Event(), threading.Event()
try:
    with ActorSystem("blocked-main", workers=1, shutdown_timeout=10) as system:
        ref = system.spawn(Held, entered, release, capacity=1, overflow=Overflow.BLOCK, pinned=True)
        ref.tell("first")
        entered.wait(10)
        ref.tell("queued")  # fills the mailbox
        try:  # (entered first: the Ctrl-C may land as "waiting" is written)
            say("waiting")
            {wait}
        finally:
            release.set()
except KeyboardInterrupt:
    say("interrupted")
    sys.exit(130)
"""


@pytest.mark.parametrize(
    "wait", ["ref.tell('blocked')", "ref.wait_stopped()", "system.wait_terminated()"]
)
def test_one_sigint_into_a_main_thread_blocked_in_a_wait_exits_130(
    wait: str, tmp_path: Path
) -> None:
    source = write_script(tmp_path, "blocked.py", textwrap.dedent(BLOCKED_MAIN.format(wait=wait)))
    with Script(source) as script:
        script.wait_for("waiting")
        script.signal(signal.SIGINT)
        finished = script.finish()
    assert finished.returncode == 130, finished.describe()
    assert "Traceback" not in finished.stderr, finished.describe()
    assert "stopping actor system 'blocked-main' gracefully" in finished.stderr
    assert "interrupted" in finished.stdout.splitlines()
    assert "received blocked" not in finished.stdout  # withdrawn, not sent late


def _sigint_on_entering(code: Any) -> Callable[[FrameType, str, Any], None]:
    """A tracer that simulates a SIGINT arriving as ``code`` is entered (once)."""
    fired: list[bool] = []

    def tracer(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code is code and not fired:
            fired.append(True)
            _thread.interrupt_main()  # handled at the next check: the entry itself

    return tracer


@pytest.mark.parametrize("pinned", [False, True])
def test_a_ctrl_c_as_tell_hands_the_actor_to_its_dispatcher_comes_after_the_send(
    pinned: bool,
) -> None:
    # tell has taken the actor's flag and enters the dispatcher's submit when the
    # SIGINT is handled. Raised there, it left the actor flagged but never
    # queued: the message and every later one waited for ever (the ask below
    # timed out). Now the handler has it delivered again after the send.
    interrupts._last = None  # (an earlier test's Ctrl-C must not make this one a second press)
    with ActorSystem("window", workers=1) as system:
        ref = system.spawn(Echo, pinned=pinned)
        assert ref.ask("warm", timeout=WAIT) == "warm"  # idle: the next tell dispatches
        cell: Any = ref._cell
        submit = cell._dispatch.__func__.__code__  # the pool's or the pinned thread's
        sent = False
        sys.settrace(_sigint_on_entering(submit))  # type: ignore[arg-type]
        try:
            try:
                ref.tell("hello")
                sent = True
            finally:
                sys.settrace(None)
            Latch().wait(WAIT)  # the Ctrl-C, delivered again, ends this wait
        except KeyboardInterrupt:
            pass
        else:
            pytest.fail("the Ctrl-C was lost")
        assert sent, "the Ctrl-C cut the send in two"
        assert ref.ask("after", timeout=WAIT) == "after"  # the actor was queued and runs
    interrupts._last = None  # handled: the next test's Ctrl-C is a first press too
