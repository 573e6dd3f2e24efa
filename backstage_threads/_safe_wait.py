"""Waits that a Ctrl-C cannot break: `Notifier` (a Condition for ``notify_all``) and `Latch`.

CPython runs the SIGINT handler on the main thread between bytecodes, and the
default one raises `KeyboardInterrupt` right there, wherever that is: also
inside ``threading.Condition.wait`` after it released the condition's lock
and before its ``try`` (the handler runs as the C call that released the lock
returns). The lock is then left released, and the caller's ``with cond:``
releases it a second time: ``RuntimeError: release unlocked lock`` (``cannot
release un-acquired lock`` for an RLock) replaces the `KeyboardInterrupt`,
and the exit status is 1, not 130. ``threading.Event.wait`` is built that way
(``with self._cond: ... self._cond.wait(timeout)``, over a plain Lock), on
3.11 and 3.13t alike, and over a plain Lock it is worse: the second release
may release the lock while a ``set()`` on another thread holds it, and that
thread then fails. Seen in the double-Ctrl-C stress test of
``app_launcher.py`` on 3.13t (in Application's wait for Running). Taking a
lock with ``lock.acquire()`` and then entering a ``try`` is no way out either:
the handler may run as ``acquire`` returns, before the ``try``, and the lock
stays held for ever (``with lock:`` has no such gap: its ``__enter__`` is
called by the interpreter with no handler check before the body).

So every wait a user's main thread can block in parks on a C lock of its own,
created held, that only the other side releases, and registers it with a
``with`` block. An interrupt at any point then leaves no lock held and none
released twice; at worst it leaves that waiter's own lock registered, where
the next notification releases it harmlessly.

Both honour their timeout (one deadline for the whole wait) and are
interruptible on POSIX: a blocking ``lock.acquire`` returns early on a
signal and runs the handler there (since Python 3.2; checked on 3.11 and
3.13t). But not always at once: a SIGINT that lands between the
interpreter's last check for signals and the start of the futex wait is
seen only when that wait returns (CPython cannot unmask and wait in one
step; about 1 in 100 signals timed to land there, see ``_interrupt.py``),
so a wait with no timeout would sit out the Ctrl-C until whatever it waits
for happens, perhaps never. So the main thread's waits park through
`acquire`, in slices of at most `MAIN_SLICE` seconds; each slice's end runs
the pending handler. Other threads never run signal handlers and park once.

Constants:
    `MAIN_SLICE` = 0.1 s: a Ctrl-C that hit that gap is still noticed
    within a tenth of a second (a delay a person does not notice), and a
    main thread blocked for an hour wakes 36,000 times, a few milliseconds
    of CPU in all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["MAIN_SLICE", "Latch", "Notifier", "acquire"]

#: Seconds a wait on the main thread parks at a time (see the module docstring).
MAIN_SLICE = 0.1


def acquire(lock: threading.Lock, timeout: float | None) -> bool:
    """``lock.acquire(timeout=...)`` (None: no limit) that sees a Ctrl-C soon.

    On the main thread it parks in slices of `MAIN_SLICE` (see the module
    docstring); the deadline is the caller's.
    """
    if threading.get_ident() != threading.main_thread().ident:
        return lock.acquire(timeout=-1 if timeout is None else timeout)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        remaining = MAIN_SLICE if deadline is None else deadline - time.monotonic()
        if lock.acquire(timeout=max(0.0, min(MAIN_SLICE, remaining))):
            return True
        if deadline is not None and remaining <= MAIN_SLICE:
            return False


class Notifier:
    """Threads wait until a condition they test holds; `notify_all` says it may.

    The ``threading.Condition`` pattern without the shared lock (see the
    module docstring): what ``ready`` reads is written by the notifier before
    it calls `notify_all`, with whatever guards it on its own.

    Thread safety: every method may be called from any thread.
    """

    __slots__ = ("_lock", "_waiters")

    def __init__(self) -> None:
        # Guards _waiters; held only for an append, a remove or the swap in
        # notify_all, never while anyone waits. Reentrant: a signal handler
        # (SIGTERM's, in Application.run) sets a latch on the main thread,
        # possibly while that thread holds this lock in wait_until.
        self._lock = threading.RLock()
        # One lock per parked waiter, created held; notify_all releases each once.
        self._waiters: list[threading.Lock] = []

    def notify_all(self) -> None:
        """Wake every waiter, to test its condition again."""
        with self._lock:
            waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.release()

    def wait_until(self, ready: Callable[[], bool], timeout: float | None) -> bool:
        """Wait until ``ready()`` is true or ``timeout`` seconds (None: no limit)
        have passed; the last value of ``ready()``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            waiter = threading.Lock()
            waiter.acquire()
            with self._lock:
                self._waiters.append(waiter)
            # Tested after joining: a notification after this test wakes us.
            if ready():
                self._forget(waiter)
                return True
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                self._forget(waiter)
                return False
            if not acquire(waiter, remaining):
                self._forget(waiter)  # (notified ones were taken out by notify_all)

    def _forget(self, waiter: threading.Lock) -> None:
        with self._lock:
            try:
                self._waiters.remove(waiter)
            except ValueError:
                pass  # notify_all took it out (and released it) first


class Latch:
    """A flag that is set once and never cleared, and that threads wait for.

    As ``threading.Event`` without ``clear``, but a `KeyboardInterrupt`
    raised anywhere inside `wait` leaves it consistent.

    Thread safety: every method may be called from any thread.
    """

    __slots__ = ("_flag", "_notifier")

    def __init__(self) -> None:
        # Invariant: once True, stays True. A plain store and load (atomic).
        self._flag = False
        self._notifier = Notifier()

    def is_set(self) -> bool:
        """True once `set` has been called."""
        return self._flag

    def set(self) -> None:
        """Set the flag and wake every waiter. Idempotent."""
        self._flag = True
        self._notifier.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until set or ``timeout`` seconds (None: no limit) have passed; the flag."""
        return self._flag or self._notifier.wait_until(self.is_set, timeout)
