"""Death watch, timers and the receive timeout of one actor.

All three are touched only by the thread holding the actor's scheduled flag
(its own turn), so their fields need no lock; timer callbacks run on the timer
thread and only post messages.
"""

from __future__ import annotations

from .._errors import ActorStoppedError, BackstageError
from .._signals import ReceiveTimeout, Terminated
from .._timers import TimerHandle
from .._validate import check_timeout
from ._muting import Muting
from ._states import STOPPED, STOPPING

__all__ = ["Watching"]

# Prune fired one-shot timers from an actor's set once it holds this many, so an
# actor that calls send_after in a loop does not accumulate dead handles.
_TIMER_PRUNE_AT = 64


class _ReceiveTimeoutState:
    """The armed receive timeout of one actor (replaced, never mutated, by the actor)."""

    __slots__ = ("handle", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.handle: TimerHandle | None = None


class Watching(Muting):
    """Who watches this actor, and the timers it owns."""

    __slots__ = ("_last_active", "_receive_timeout", "_timers", "_watchers")

    _watchers: set[Watching] | None
    _timers: set[TimerHandle] | None
    _receive_timeout: _ReceiveTimeoutState | None
    # When the actor last processed a message (on the system's clock).
    _last_active: float

    def _add_watcher(self, watcher: Watching) -> None:
        if self._state is STOPPED:
            self._notify_watcher(watcher)
            return
        if self._watchers is None:
            self._watchers = set()
        self._watchers.add(watcher)

    def _notify_watcher(self, watcher: Watching) -> None:
        try:
            watcher._post(Terminated(self._ref, self._stop_reason), None)
        except BackstageError:
            pass  # the watcher is gone too; its dead letter is already recorded

    def _add_timer(self, delay: float, message: object, period: float | None) -> TimerHandle:
        if self._state is STOPPING or self._state is STOPPED:
            raise ActorStoppedError(f"{self._path} is stopping; cannot start a timer")
        handle = self._system._timers.schedule(delay, lambda: self._post(message, None), period)
        timers = self._timers
        if timers is None:
            timers = self._timers = set()
        elif len(timers) >= _TIMER_PRUNE_AT:
            timers.difference_update([t for t in timers if not t.active])
        timers.add(handle)
        return handle

    def _cancel_timers(self) -> None:
        if self._timers:
            for handle in self._timers:
                handle.cancel()
            self._timers = None
        if self._receive_timeout is not None:
            self._set_receive_timeout(None)

    def _set_receive_timeout(self, seconds: float | None) -> None:
        """Deliver `ReceiveTimeout` whenever no message arrived for ``seconds``.

        None turns it off. The timeout is re-armed after every delivery.
        """
        old = self._receive_timeout
        if old is not None and old.handle is not None:
            old.handle.cancel()
        if seconds is None:
            self._receive_timeout = None
            return
        seconds = check_timeout(seconds, "receive timeout") or 0.0
        if not seconds:
            raise ValueError(f"receive timeout must be > 0 seconds or None, got {seconds!r}")
        state = self._receive_timeout = _ReceiveTimeoutState(seconds)
        self._plain = False  # (turns now re-arm it: see ActorCell._end_turn)
        timers = self._system._timers
        self._last_active = timers.clock.now()
        state.handle = timers.schedule(seconds, lambda: self._receive_timeout_due(state))

    def _receive_timeout_due(self, state: _ReceiveTimeoutState) -> None:
        # Runs on the timer thread.
        if self._receive_timeout is not state or self._closed:
            return
        timers = self._system._timers
        now = timers.clock.now()
        due = self._last_active + state.seconds
        if now >= due:
            self._post(ReceiveTimeout(state.seconds), None)
            self._last_active = now
            due = now + state.seconds
        state.handle = timers.schedule(
            max(0.0, due - now), lambda: self._receive_timeout_due(state)
        )
