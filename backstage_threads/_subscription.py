"""`Subscription`, the handle a subscribe call returns, and `Subscribers`, the list behind it."""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["Subscribers", "Subscription"]


class Subscription:
    """Cancels one subscription (to dead letters, status changes...)."""

    __slots__ = ("_owner", "callback")

    def __init__(self, owner: Subscribers, callback: Callable[..., object]) -> None:
        self._owner = owner
        self.callback = callback

    def cancel(self) -> None:
        """Stop delivering to this subscriber. Idempotent."""
        self._owner.remove(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cancel()


class Subscribers:
    """The subscribers of one kind of event, copy-on-write.

    Publishers iterate `current` without a lock: it is a tuple that `add` and
    `remove` replace whole (an attribute read is atomic), never change.

    Thread safety: every method may be called from any thread.
    """

    __slots__ = ("_changed", "_lock", "_what", "current")

    def __init__(self, what: str, changed: Callable[[], None] | None = None) -> None:
        self._what = what  # named in errors: "dead letter", "status"
        # Called (under the lock) after every add and remove, by an owner that
        # keeps a cheap "anyone subscribed?" flag for its publishers.
        self._changed = changed
        # Guards replacing `current`, so that concurrent adds and removes
        # each see the other's tuple and none is lost.
        self._lock = threading.Lock()
        self.current: tuple[Subscription, ...] = ()

    def add(self, callback: Callable[..., object]) -> Subscription:
        """Subscribe ``callback``; the returned handle cancels it.

        Raises:
            TypeError: If ``callback`` is not callable.
        """
        if not callable(callback):
            raise TypeError(f"{self._what} subscriber must be callable, got {callback!r}")
        subscription = Subscription(self, callback)
        with self._lock:
            self.current = (*self.current, subscription)
            if self._changed is not None:
                self._changed()
        return subscription

    def remove(self, subscription: Subscription) -> None:
        """Unsubscribe ``subscription``; nothing happens if it already was."""
        with self._lock:
            self.current = tuple(s for s in self.current if s is not subscription)
            if self._changed is not None:
                self._changed()
