"""Per-thread runtime state: which worker, and which actor turn, this thread runs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._cell import ActorCell

__all__ = ["current"]


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
    cell: ActorCell | None = None
    driver: Callable[[Callable[[], bool]], bool] | None = None


current = _Current()
