"""Starting the runtime's threads so that a Ctrl-C cannot break the start.

CPython's ``Thread.start`` waits on a `threading.Condition` until the new
thread runs. A `KeyboardInterrupt` raised inside that wait at the wrong
bytecode (while it re-acquires its lock) leaves the lock released, and the
interrupt turns into ``RuntimeError: release unlocked lock`` with a traceback:
seen once in several hundred runs of two SIGINTs into ``app_launcher.py
--serve`` on 3.13t, when the signal landed while a pinned actor's thread
started.

So a thread started from the main thread is started with SIGINT blocked in
the main thread; a SIGINT that comes meanwhile stays pending and Python runs
its handler as soon as the mask is put back, after the start. The new thread
inherits the mask, so SIGINT is never delivered to a runtime thread: the
kernel hands it to the main thread (or another thread that accepts it), which
is where Python handles it anyway.

`sigint_held_back` is that mask as a block, for the runtime's bookkeeping
around a main-thread wait (joining a mailbox's line of waiting senders, say)
that a `KeyboardInterrupt` must not cut in two. The mask is checked first
and put back as it was (a caller may hold SIGINT back itself), and the block
call sits inside the ``try``: ``pthread_sigmask`` runs the handler of a
signal that came just before it as it returns, after the mask took effect,
and the interrupt it raises must not leave SIGINT blocked for good (before
this, ``start_thread`` lost the old mask that way, and the main thread then
never saw a Ctrl-C again).

`join_thread` is ``Thread.join`` for the runtime's shutdowns. On 3.11 and
3.12 a `KeyboardInterrupt` raised inside ``Thread.join`` marks the thread as
stopped while it still runs (the handler CPython added for bpo-45274 sees the
running thread's own lock held and releases it): ``is_alive()`` then says
False, so a shutdown interrupted there and called again reported a live
thread gone. So on the main thread of those versions a join runs with SIGINT
held back, in slices of `JOIN_SLICE` seconds, and a Ctrl-C is handled between
two slices (``is_alive()``, which takes the same path, is asked under the
mask too). 3.13 joins in C and is interrupted cleanly.

Constants:
    `JOIN_SLICE` = 0.1 s, as ``_safe_wait.MAIN_SLICE``: a Ctrl-C waits at
    most that long, which a person does not notice.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["JOIN_SLICE", "join_thread", "sigint_held_back", "start_thread"]

#: Seconds a main-thread join on 3.11/3.12 holds SIGINT back at a time.
JOIN_SLICE = 0.1

_CAN_MASK = hasattr(signal, "pthread_sigmask")
_SIGINT = {signal.SIGINT}
# Thread.join's interrupt handling marks a running thread stopped (see above).
_JOIN_BREAKS = sys.version_info < (3, 13)


@contextmanager
def sigint_held_back() -> Iterator[None]:
    """Hold SIGINT back on the main thread meanwhile; its handler runs after the block.

    Elsewhere (another thread, no ``pthread_sigmask``) it does nothing: Python
    runs signal handlers only in the main thread.
    """
    if not _CAN_MASK or threading.current_thread() is not threading.main_thread():
        yield
        return
    if signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, ()):
        yield  # already held back by the caller: leave the mask alone
        return
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGINT)
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGINT)


def start_thread(thread: threading.Thread) -> None:
    """``thread.start()``, with SIGINT held back meanwhile on the main thread."""
    with sigint_held_back():
        thread.start()


def join_thread(thread: threading.Thread, timeout: float | None) -> bool:
    """``thread.join(timeout)`` (None: no limit), that a Ctrl-C cannot corrupt;
    whether the thread is still alive (ask this rather than ``is_alive()``: on
    3.11 and 3.12 an interrupt inside ``is_alive()`` breaks it the same way)."""
    if (
        not (_JOIN_BREAKS and _CAN_MASK)
        or threading.current_thread() is not threading.main_thread()
    ):
        thread.join(timeout)
        return thread.is_alive()
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        remaining = None if deadline is None else deadline - time.monotonic()
        with sigint_held_back():  # a Ctrl-C is handled as it ends, after the join
            thread.join(JOIN_SLICE if remaining is None else max(0.0, min(JOIN_SLICE, remaining)))
            alive = thread.is_alive()
        if not alive or (remaining is not None and remaining <= JOIN_SLICE):
            return alive
