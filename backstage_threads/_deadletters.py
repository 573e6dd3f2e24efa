"""Dead letters: the record of every message that was not processed."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import _log
from ._subscription import Subscribers, Subscription

if TYPE_CHECKING:
    from ._ref import ActorRef

__all__ = ["DeadLetter", "DeadLetters"]

#: How many dead letters `DeadLetters` keeps for inspection by default. The total
#: count is always exact; only the history is bounded, so a flood of dead letters
#: cannot grow memory without limit. Subscribers see every one.
DEFAULT_HISTORY = 10_000


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that was not processed.

    Attributes:
        recipient: The actor the message was sent to.
        message: The message itself.
        reason: Why it was not processed (``"actor stopped"``,
            ``"mailbox full (DROP_NEWEST)"``, ``"failed: ValueError(...)"``, ...).
    """

    recipient: ActorRef[object] | None
    message: object
    reason: str

    @property
    def path(self) -> str:
        """The recipient's path, or ``"-"`` when there was no recipient."""
        return self.recipient.path if self.recipient is not None else "-"


class DeadLetters:
    """The dead-letter office of one actor system.

    `count` is the exact total; `recent` (and iterating) gives only the last
    ``history`` dead letters, so a flood cannot grow memory. There is no
    ``len()``: it would have to choose between the two.

    Thread safety: every method may be called from any thread. Subscribers are
    called on the thread that records the dead letter, never while the internal
    lock is held; an exception raised by a subscriber is swallowed so that one
    bad subscriber cannot stop the others or the runtime.
    """

    def __init__(self, history: int = DEFAULT_HISTORY) -> None:
        if not isinstance(history, int) or history < 0:
            raise ValueError(f"dead letter history must be an int >= 0, got {history!r}")
        # Guards _count. Dead letters are the slow path.
        self._lock = threading.Lock()
        self._count = 0
        self._subscribers = Subscribers("dead letter")
        # deque.append on a bounded deque is atomic: no lock needed.
        self._history: deque[DeadLetter] = deque(maxlen=history)

    def record(self, recipient: ActorRef[object] | None, message: object, reason: str) -> None:
        """Record one dead letter and tell the subscribers."""
        letter = DeadLetter(recipient, message, reason)
        self._history.append(letter)
        with self._lock:
            self._count += 1
        _log.dead_letter(letter.path, message, reason)
        for subscription in self._subscribers.current:
            try:
                subscription.callback(letter)
            except Exception:  # noqa: BLE001 - one bad subscriber must not break delivery
                pass

    def subscribe(self, callback: Callable[[DeadLetter], object]) -> Subscription:
        """Call ``callback(dead_letter)`` for every dead letter from now on.

        Raises:
            TypeError: If ``callback`` is not callable.
        """
        return self._subscribers.add(callback)

    @property
    def count(self) -> int:
        """How many dead letters were recorded in all, exact (not only the recent ones)."""
        with self._lock:
            return self._count

    def recent(self) -> tuple[DeadLetter, ...]:
        """The most recent dead letters, oldest first: at most the history size.

        Older ones are forgotten (`count` still counts them); subscribers see
        every one.
        """
        return tuple(self._history)

    def __iter__(self) -> Iterator[DeadLetter]:
        """Iterate over `recent` (the bounded history, not every dead letter)."""
        return iter(self.recent())
