"""`Subscription`: the handle returned by every subscribe call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

__all__ = ["Subscription"]


class _Publisher(Protocol):
    def _unsubscribe(self, subscription: Subscription) -> None: ...


class Subscription:
    """Cancels one subscription (to dead letters, status changes...)."""

    __slots__ = ("_owner", "callback")

    def __init__(self, owner: _Publisher, callback: Callable[..., object]) -> None:
        self._owner = owner
        self.callback = callback

    def cancel(self) -> None:
        """Stop delivering to this subscriber. Idempotent."""
        self._owner._unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cancel()
