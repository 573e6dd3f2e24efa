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
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["sigint_held_back", "start_thread"]

_CAN_MASK = hasattr(signal, "pthread_sigmask")
_SIGINT = {signal.SIGINT}


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
