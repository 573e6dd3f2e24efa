"""Reporting a failure that no caller is there to catch.

A failure that stops an actor system, an internal error in a turn and the death
of a worker thread have no caller to raise to. They are reported the way an
exception that ends a thread is: through `threading.excepthook`, which prints
the traceback to stderr unless the program installed its own hook. So they are
never silent, whether or not loguru's output for the package is enabled.
"""

from __future__ import annotations

import threading

__all__ = ["report_uncaught"]


def report_uncaught(error: BaseException) -> None:
    """Hand ``error`` to `threading.excepthook`, as if it ended this thread."""
    args = threading.ExceptHookArgs(
        (type(error), error, error.__traceback__, threading.current_thread())
    )
    threading.excepthook(args)
