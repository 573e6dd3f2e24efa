"""Ctrl-C in ``with ActorSystem()`` and `Application.run`: graceful first, forced second.

The first Ctrl-C raises `KeyboardInterrupt` in the main thread, exactly as
Python's default handler does; the ``with`` block (or ``run``) that sees it
says on stderr that it is stopping the system gracefully, stops it within its
shutdown timeout, and, if that takes longer than `REPORT_AFTER` seconds, says
which actors it is still waiting for. A second Ctrl-C forces the exit: one line
on stderr, then ``os._exit(130)`` (128 + SIGINT, what a shell reports for a
process killed by Ctrl-C), without waiting for anything.

When the second press forces:
    While the guard's handler is installed, a SIGINT forces the exit if

    * a stop is under way that an interrupt (or SIGTERM, or the exit hook)
      started: from the moment ``__exit__`` / ``run`` sees the
      `KeyboardInterrupt` until the stop returns; or
    * it comes less than `FORCE_WINDOW` seconds after the previous SIGINT the
      handler received, or after such a stop finished.

    Any other SIGINT raises `KeyboardInterrupt`, as the default handler does.
    So a body that catches `KeyboardInterrupt` and carries on gets an ordinary
    `KeyboardInterrupt` from a Ctrl-C more than 2 s later.

The races this closes:
    A terminal sends SIGINT to the whole process group and an impatient user
    presses again: two SIGINTs a few milliseconds apart. The second can land
    (1) while the first `KeyboardInterrupt` is still unwinding the ``with``
    body, before ``__exit__`` runs; (2) inside ``__exit__``'s shutdown; or (3)
    after the block, while the program is on its way out (the example's
    ``except KeyboardInterrupt``, the interpreter's exit). Under the default
    handler each of these raises a second `KeyboardInterrupt`: in (2) it broke
    out of the graceful shutdown and left worker threads running, and the
    process hung for ever; in (3) it prints a traceback during the exit. The
    window rule makes all three a forced exit. That is also why the handler is
    not put back the moment the outermost block is left after an interrupt: it
    stays until `FORCE_WINDOW` has passed and is then put back by its next call
    (which then behaves as the default), or by the next ``with``. One window
    is left at the very end of the exit: CPython puts back the C default
    handler late in finalization, after the last Python code has run, and a
    SIGINT after that kills the process (status -2 instead of 130). So an
    `atexit` hook, registered at import and thus run after every hook
    registered later, ignores SIGINT for the rest of the exit if an interrupt
    came within `FORCE_WINDOW`: the process is then moments from exiting
    anyway, with the status the program chose.

A blocked main thread:
    CPython runs signal handlers only in the main thread, between bytecodes; a
    SIGINT that lands just as the main thread enters a lock wait is noticed
    only when that wait ends (about 1 in 100 signals timed to land there, on
    3.11 and 3.13t). During a stop that wait can be the whole shutdown
    timeout, so a stop also has a watcher thread (`_StopWatcher`) that reads
    the signal numbers the C-level handler writes to `signal.set_wakeup_fd`
    and forces the exit on SIGINT itself. The watcher also prints the "still
    waiting for" line.

Installation:
    Only in the main thread (the only one Python runs signal handlers in), only
    over `signal.default_int_handler` (a program's own SIGINT handler is never
    replaced, and then Ctrl-C is entirely the program's business), and once
    for nested blocks: the outermost installs, the others share it, and the
    default handler is put back when the outermost block is left (see above
    for the one delay).

Constants:
    `FORCE_WINDOW` = 2 s: much longer than the few milliseconds between two
    signals of one impatient press and than an interpreter's exit after a
    shutdown (13-17 ms from the end of main to the process's end, 3.11 and
    3.13t, 2-core VM), yet short enough that a program which catches the
    interrupt and carries on is back to the default soon.
    `REPORT_AFTER` = 1 s: a stop that takes longer is no longer "instant" to a
    person; saying what it waits for then replaces a silent pause.
"""

from __future__ import annotations

import _thread
import atexit
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType

from ._no_interrupt import in_window

__all__ = ["EXIT_STATUS", "FORCE_WINDOW", "REPORT_AFTER", "interrupts", "say_still_stopping"]

#: Exit status of a forced exit: 128 + SIGINT.
EXIT_STATUS = 130
#: Seconds after a SIGINT (or after the stop it caused) in which another one forces.
FORCE_WINDOW = 2.0
#: Seconds a stop may take before the actors it still waits for are listed.
REPORT_AFTER = 1.0
#: Seconds after which a SIGINT that landed in a send's dispatch window (see
#: _no_interrupt) is delivered again: a window lasts microseconds, and a person
#: does not notice a millisecond.
REDELIVER_AFTER = 0.001
#: At most this many paths are listed in the "still waiting for" line.
_MAX_LISTED = 8
#: Seconds between the stop watcher's checks once it has reported (it is woken at
#: once by a signal or by the end of the stop; this only bounds each select).
_WATCH_SLICE = 1.0
_PREFIX = "backstage_threads: "


def say(text: str) -> None:
    """Write one line to stderr and flush it; never raises (stderr may be gone)."""
    stream = sys.stderr
    if stream is None:
        return
    try:
        stream.write(f"{_PREFIX}{text}\n")
        stream.flush()
    except (OSError, ValueError, RuntimeError):
        pass  # closed or reentrant stream: nothing better to do with one line


class _Guard:
    """The process's SIGINT handler while any guarded block runs.

    Thread safety: `enter`, `leave` and `stopping` may be called from any
    thread; only main-thread calls install or restore the handler. ``_lock``
    guards the writes of ``_depth`` and ``_stopping``. The handler runs on the
    main thread between any two bytecodes, possibly while that thread holds
    ``_lock``, so it never takes the lock: it only reads those two counters
    and writes ``_last`` (single attribute loads and stores are atomic).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Guarded blocks now running that share the installed handler.
        self._depth = 0
        # Stops under way that an interrupt, SIGTERM or the exit hook started.
        self._stopping = 0
        # time.monotonic() of the last SIGINT handled, or of the end of the last
        # such stop; None before the first.
        self._last: float | None = None
        # One bound method, so ``signal.getsignal(SIGINT) is self._handler``
        # recognises our own handler.
        self._handler = self._handle

    def enter(self) -> bool:
        """Guard a block; True if this thread's Ctrl-C now goes through us."""
        if threading.current_thread() is not threading.main_thread():
            return False
        current = signal.getsignal(signal.SIGINT)
        if current is not self._handler:
            if current is not signal.default_int_handler:
                return False  # the program's own handler (or SIG_IGN): leave it alone
            signal.signal(signal.SIGINT, self._handler)
        with self._lock:
            self._depth += 1
        return True

    def leave(self, entered: bool) -> None:
        """End a block `enter` returned ``entered`` for."""
        if not entered:
            return
        with self._lock:
            self._depth -= 1
            outermost = self._depth == 0
        if outermost and not self._recent():
            self._restore()

    @contextmanager
    def stopping(
        self,
        what: str,
        waiting_for: Callable[[], Sequence[str]],
        timeout: float | None,
        reason: str | None = "interrupted",
        hint: str = "Ctrl-C again to force",
    ) -> Iterator[bool]:
        """Mark a stop of ``what`` under way; announce it and report if it drags.

        ``reason`` opens the announcement line and ``hint`` closes it
        (``reason=None``: no announcement, only the report after
        `REPORT_AFTER`); ``waiting_for`` lists the actors not yet stopped;
        ``timeout`` is the stop's bound, for the report. Yields whether a
        watcher thread reports and watches for SIGINT; if not (Python 3.12
        starts no thread late in the interpreter's exit), the caller reports
        itself with `say_still_stopping`.
        """
        if reason is not None:
            say(f"{reason}; stopping {what} gracefully ({hint})")
        with self._lock:
            self._stopping += 1
        main = threading.current_thread() is threading.main_thread()
        ours = main and signal.getsignal(signal.SIGINT) is self._handler
        watcher = _StopWatcher(what, waiting_for, timeout, watch_sigint=ours)
        try:
            yield watcher.running
        finally:
            watcher.finish()
            with self._lock:
                self._stopping -= 1
            self._last = time.monotonic()

    def _recent(self) -> bool:
        last = self._last
        return last is not None and time.monotonic() - last < FORCE_WINDOW

    def _restore(self) -> None:
        # Main thread only; we installed over the default, so that is what returns.
        main = threading.current_thread() is threading.main_thread()
        if main and signal.getsignal(signal.SIGINT) is self._handler:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    def quiet_exit(self) -> None:
        """At the end of the exit, after an interrupt: ignore further SIGINTs."""
        main = threading.current_thread() is threading.main_thread()
        if main and (self._stopping or self._recent()):
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if in_window(frame) and _redeliver(signum):
            # Between taking an actor's flag and queueing it (see _no_interrupt):
            # delivered again a moment later, after the send. Not a second press:
            # nothing is counted until then.
            return
        if self._stopping or self._recent():
            force_exit()
        if self._depth == 0:
            # Left installed after an interrupted block; the window has passed.
            self._restore()
        else:
            self._last = time.monotonic()
        raise KeyboardInterrupt


def _redeliver(signum: int) -> bool:
    """Have ``signum`` delivered again after `REDELIVER_AFTER`; False if no thread
    could be started for it (then the caller handles the signal now).

    Not raised from the handler itself: a signal raised there is handled at the
    handler's own next bytecode check, inside the same window. A bare thread,
    not a `threading.Thread`, whose start waits on a Condition.
    """
    try:
        _thread.start_new_thread(_deliver_later, (signum,))
    except RuntimeError:
        return False
    return True


def _deliver_later(signum: int) -> None:
    """Simulate ``signum`` arriving again after `REDELIVER_AFTER` (a helper thread)."""
    time.sleep(REDELIVER_AFTER)
    try:
        _thread.interrupt_main(signal.Signals(signum))
    except RuntimeError:
        pass  # the interpreter is finalizing: the process is exiting anyway


def force_exit(flush: bool = True) -> None:
    """Flush what can be flushed, say so, and end the process with `EXIT_STATUS`.

    ``flush=False`` from threads other than the main one: a flush there could
    wait for ever on a stream lock the blocked main thread holds.
    """
    for stream in (sys.stdout, sys.stderr) if flush else ():
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError, RuntimeError):
            pass  # a closed pipe, or the handler interrupted a write to it
    try:
        os.write(2, f"{_PREFIX}interrupted again; exiting now (status {EXIT_STATUS})\n".encode())
    except OSError:
        pass
    os._exit(EXIT_STATUS)


def say_still_stopping(what: str, paths: Sequence[str], remaining: float | None) -> None:
    """The one line saying what a slow stop of ``what`` still waits for."""
    if paths:
        shown = ", ".join(paths[:_MAX_LISTED])
        more = len(paths) - _MAX_LISTED
        awaited = f"{shown} and {more} more" if more > 0 else shown
    else:
        awaited = "its threads to exit"
    limit = "" if remaining is None else f"; gives up in {max(0.0, remaining):.0f} s"
    say(f"still stopping {what}: waiting for {awaited}{limit} (Ctrl-C to force)")


class _StopWatcher:
    """Watches one stop from a thread of its own: reports it once if it drags,
    and forces the exit on a SIGINT even while the main thread is blocked.

    Python runs signal handlers only when the main thread gets to run Python
    code, and a SIGINT that arrives just as the main thread enters a lock wait
    is seen only when that wait ends (measured: about 1 in 100 signals timed
    to land there, on 3.11 and 3.13t). So while a stop runs, the C-level
    handler also writes the signal number to a pipe (`signal.set_wakeup_fd`,
    taken only if no one else, such as an event loop, holds it) and this
    thread forces the exit when it reads SIGINT there. A zero byte (no signal
    has number 0) wakes it when the stop is over.
    """

    def __init__(
        self,
        what: str,
        waiting_for: Callable[[], Sequence[str]],
        timeout: float | None,
        watch_sigint: bool,
    ) -> None:
        self._what = what
        self._waiting_for = waiting_for
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        self._wakeup = False  # whether our pipe is the process's wakeup fd
        self._finished = threading.Event()
        # A daemon thread: it only prints or ends the process, and must never
        # be what holds the exit.
        self._thread: threading.Thread | None = threading.Thread(
            target=self._run, name="backstage-stop-watcher", daemon=True
        )
        try:
            self._thread.start()
        except RuntimeError:  # too late in the interpreter's exit for a thread
            self._thread = None
            return
        if watch_sigint:
            previous = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
            if previous == -1:
                self._wakeup = True
            else:
                signal.set_wakeup_fd(previous)  # someone else's: leave it to them

    @property
    def running(self) -> bool:
        """Whether the watcher thread could be started."""
        return self._thread is not None

    def _run(self) -> None:
        if hasattr(signal, "pthread_sigmask"):
            # Accept SIGINT here even if the main thread blocks it (see _threads.py).
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        report_at = time.monotonic() + REPORT_AFTER
        reported = False
        while not self._finished.is_set():
            wait = _WATCH_SLICE if reported else max(0.0, report_at - time.monotonic())
            ready, _, _ = select.select([self._read], [], [], wait)
            if ready:
                data = os.read(self._read, 512)
                if signal.SIGINT in data:
                    force_exit(flush=False)  # the main thread may hold a stream's lock
            elif not reported and not self._finished.is_set():
                reported = True
                self._report()

    def _report(self) -> None:
        try:
            paths = list(self._waiting_for())
        except Exception:  # noqa: BLE001 - a report must never break the stop
            paths = []
        remaining = None if self._deadline is None else self._deadline - time.monotonic()
        say_still_stopping(self._what, paths, remaining)

    def finish(self) -> None:
        """The stop is over: hand back the wakeup fd, end the thread."""
        if self._wakeup:
            current = signal.set_wakeup_fd(-1)
            if current != self._write:
                signal.set_wakeup_fd(current)  # replaced meanwhile: not ours to clear
        self._finished.set()
        if self._thread is not None:
            try:
                os.write(self._write, b"\0")  # wake it now rather than at its next slice
            except BlockingIOError:
                pass  # the pipe is full of signal numbers: it is awake anyway
            self._thread.join(REPORT_AFTER)
            if self._thread.is_alive():
                return  # still writing a report to a stalled stderr: keep its fds open
        os.close(self._read)
        os.close(self._write)


#: The process's one guard: a SIGINT handler is process-wide state by nature,
#: so this is the package's one piece of module-level mutable state besides the
#: exit hook's set of live systems (see ``_exit.py``).
interrupts = _Guard()
atexit.register(interrupts.quiet_exit)
