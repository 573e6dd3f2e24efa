"""Per-thread runtime state: which worker, and which actor turn, this thread runs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

__all__ = ["TurnOwner", "TurnSlot", "current"]


class TurnOwner(Protocol):
    """The actor whose turn a thread runs, as the layers below the cell see it.

    (The actor cell satisfies it; this module sits below the cell and must
    not import it.)
    """

    @property
    def _path(self) -> str: ...

    @property
    def _mute_target(self) -> object | None: ...


class TurnSlot:
    """Which actor's turn a thread is running: one small object per thread.

    The dispatcher that runs a turn writes ``cell`` before calling the cell's
    ``_run_turn`` and clears it after (a pool worker, which runs nothing else,
    before it next waits for work). A worker looks its slot up once, when its
    thread starts, and then pays an attribute write per turn instead of a
    thread-local write (which costs 2.5x as much on free-threaded 3.13, where a
    ping-pong hop is one turn).
    """

    __slots__ = ("cell",)

    def __init__(self) -> None:
        self.cell: TurnOwner | None = None


class _Current(threading.local):
    """What the calling thread is doing for the runtime.

    Attributes:
        on_worker: True on a shared worker thread, which must never block on a
            full mailbox (a pool whose workers all block deadlocks).
        on_loop: True on an actor system's event-loop thread, where a blocking
            call would stall every async actor (it raises DeadlockError instead).
        turn: This thread's `TurnSlot`: the actor whose turn it is running.
        cell: Read-only, ``turn.cell``: the actor whose turn this thread is
            running, or None.
        driver: Set on a thread that runs the actor turns itself (the owner of
            a single-threaded dispatcher): a call that would wait for an actor
            runs turns instead, ``driver(done)`` running them until ``done()``
            is true or no actor has work, and returning ``done()``.
    """

    on_worker: bool = False
    on_loop: bool = False
    driver: Callable[[Callable[[], bool]], bool] | None = None
    turn: TurnSlot

    def __init__(self) -> None:
        # Called once in each thread that touches `current` (threading.local).
        self.turn = TurnSlot()

    @property
    def cell(self) -> TurnOwner | None:
        return self.turn.cell


current = _Current()
