"""Messages the runtime itself delivers to an actor's `receive`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._ref import ActorRef

__all__ = ["ReceiveTimeout", "Terminated"]


@dataclass(frozen=True, slots=True)
class Terminated:
    """Delivered to a watcher when the watched actor stops (see ``context.watch``).

    Attributes:
        ref: The actor that stopped.
        reason: Why it stopped.
    """

    ref: ActorRef[Any]
    reason: str


@dataclass(frozen=True, slots=True)
class ReceiveTimeout:
    """Delivered when no message arrived within ``context.set_receive_timeout``.

    Attributes:
        idle_for: The receive timeout that elapsed, in seconds.
    """

    idle_for: float
