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
"""

from __future__ import annotations

import signal
import threading

__all__ = ["start_thread"]

_CAN_MASK = hasattr(signal, "pthread_sigmask")


def start_thread(thread: threading.Thread) -> None:
    """``thread.start()``, with SIGINT held back meanwhile on the main thread."""
    if not _CAN_MASK or threading.current_thread() is not threading.main_thread():
        thread.start()
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
