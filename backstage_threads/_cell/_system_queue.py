"""System messages: start, stop, child events and directives, ahead of user messages.

They go through ``_sys``, a list (append and pop(0) are atomic), handled at the
start of every turn (see the lifecycle layer) before any user message; they cut
a turn short. The list is created with the first system message (under the
cell's guard): most actors never get one, and an idle actor must stay
small.
"""

from __future__ import annotations

from typing import Any

from .._no_interrupt import send_window
from ._base import CellBase
from ._states import RESTART, RESUME, STOP, SUSPEND, UNWATCH, WATCH

__all__ = ["SystemQueue"]


class SystemQueue(CellBase):
    """Posting system messages to an actor, from any thread."""

    __slots__ = ("_sys",)

    _sys: list[tuple[int, Any]] | None

    @send_window
    def _post_system(self, message: tuple[int, Any]) -> None:
        sysq = self._sys
        if sysq is None:
            with self._guard:
                if self._sys is None:
                    self._sys = []
                sysq = self._sys
        sysq.append(message)
        if self._scheduled.acquire(False):
            self._dispatch(self)
        else:
            # An actor may hold its flag while parked (muted): wake it, or a
            # stop or a child's failure would wait on a mailbox that may never
            # drain.
            self._wake_parked()

    def _wake_parked(self) -> None:
        """Called when a system message finds the flag held: a layer whose actor
        may hold it while parked (muting) wakes it here."""

    def _request_stop(self, reason: str | None) -> None:
        self._post_system((STOP, reason))

    def _request_resume(self) -> None:
        self._post_system((RESUME, None))

    def _request_restart(self, running_too: bool = False) -> None:
        """Restart after a failure; ``running_too`` also restarts a running actor
        (a sibling under ONE_FOR_ALL / REST_FOR_ONE)."""
        self._post_system((RESTART, running_too))

    def _suspend(self) -> None:
        self._post_system((SUSPEND, None))

    def _request_watch(self, watcher: object) -> None:
        """``watcher`` (a cell) gets `Terminated` when this actor stops."""
        self._post_system((WATCH, watcher))

    def _request_unwatch(self, watcher: object) -> None:
        self._post_system((UNWATCH, watcher))
