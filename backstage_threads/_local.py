"""Per-thread runtime state: which worker, and which actor turn, this thread runs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

__all__ = ["TurnOwner", "current"]


class TurnOwner(Protocol):
    """The actor whose turn a thread runs, as the layers below the cell see it.

    (The actor cell satisfies it; this module sits below the cell and must
    not import it.)
    """

    @property
    def _path(self) -> str: ...

    @property
    def _mute_target(self) -> object | None: ...


class _Current(threading.local):
    """What the calling thread is doing for the runtime.

    Attributes:
        on_worker: True on a shared worker thread, which must never block on a
            full mailbox (a pool whose workers all block deadlocks).
        on_loop: True on an actor system's event-loop thread, where a blocking
            call would stall every async actor (it raises DeadlockError instead).
        cell: The actor whose turn this thread is running, or None.
        driver: Set on a thread that runs the actor turns itself (the owner of
            a single-threaded dispatcher): a call that would wait for an actor
            runs turns instead, ``driver(done)`` running them until ``done()``
            is true or no actor has work, and returning ``done()``.
    """

    on_worker: bool = False
    on_loop: bool = False
    cell: TurnOwner | None = None
    driver: Callable[[Callable[[], bool]], bool] | None = None


current = _Current()
