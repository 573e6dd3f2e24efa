"""Where a Ctrl-C waits a few bytecodes: between taking an actor's flag and queueing it.

Whoever takes an actor's "scheduled" flag (a sender, with ``acquire(False)``)
must hand the actor to its dispatcher, which queues it and maybe wakes a
worker. CPython runs the SIGINT handler on the main thread between bytecodes,
including at the entry of the dispatcher's ``submit``: a `KeyboardInterrupt`
raised there used to leave the actor flagged and never queued, so it never
ran again (every later sender found the flag taken). Holding the signal back
with a mask costs two system calls a message; instead the runtime marks those
functions here, at import, and the interrupt guard's handler (``_interrupt``)
delivers a SIGINT that lands in one of them again at the next check, which
comes once the send has returned: the interrupt is late by a few bytecodes,
never lost.

Two kinds:

* `send_window`: a sender's own function (``Mailbox._post`` and the like).
  Deferred only while it is the innermost frame: what it calls to *wait* for
  room stays interruptible (an interrupted BLOCK sender leaves the line).
* `dispatcher`: a dispatcher's ``submit`` and what it calls. Deferred while it
  is anywhere on the stack (even inside ``queue.Queue.put``): dispatchers
  never block and run no user code.

Only under the guard's handler (``with ActorSystem()``, `Application.run`); a
program that keeps Python's default handler keeps its behaviour.
"""

from __future__ import annotations

from collections.abc import Callable
from types import CodeType, FrameType
from typing import TypeVar

__all__ = ["dispatcher", "in_window", "send_window"]

F = TypeVar("F", bound=Callable[..., object])

# Filled at import by the decorators below, read by the SIGINT handler.
_SEND_WINDOWS: set[CodeType] = set()
_DISPATCHERS: set[CodeType] = set()
#: How far up the stack a dispatcher is looked for: a dispatcher's deepest
#: call (``queue.Queue.put`` -> ``Condition.notify`` -> ...) is a few frames
#: below it.
_DEPTH = 8


def send_window(function: F) -> F:
    """Mark a sender's function that takes a flag and dispatches (see above)."""
    _SEND_WINDOWS.add(function.__code__)
    return function


def dispatcher(function: F) -> F:
    """Mark a dispatcher's function (see above)."""
    _DISPATCHERS.add(function.__code__)
    return function


def in_window(frame: FrameType | None) -> bool:
    """True if a SIGINT handled at ``frame`` must be delivered again later."""
    if frame is None:
        return False
    if frame.f_code in _SEND_WINDOWS:
        return True
    for _ in range(_DEPTH):
        if frame.f_code in _DISPATCHERS:
            return True
        back = frame.f_back
        if back is None:
            return False
        frame = back
    return False
