"""What a hosting Ray actor is built from, and the control items hosts exchange.

Control items travel between hosts as arguments of the ``control`` remote
method and wait in the receiving host's control queue, which its turn thread
serves before any letter (Akka's system messages). All are small frozen
dataclasses: they pickle, and a turn thread matches on their type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._overflow import Overflow

if TYPE_CHECKING:
    from .._factory import Factory
    from .._ref import ActorRef
    from .._supervision import SupervisorStrategy

__all__ = [
    "ChildFailed",
    "ChildGone",
    "Directive",
    "HostSpec",
    "LostMailbox",
    "Stop",
    "WatchFired",
]


@dataclass(frozen=True, slots=True)
class HostSpec:
    """Everything a host needs to (re)build its actor; Ray keeps it for restarts.

    Attributes:
        namespace: The system's Ray namespace (every host of it is named there).
        system: The system's name.
        path: The actor's path, which is also its Ray actor name.
        factory: Builds the actor (called again on every restart).
        capacity: Mailbox bound, or None.
        overflow: The overflow policy.
        parent: The parent's ref; None for the ``/user`` guardian.
        child_stop_timeout: Seconds a stopping actor waits for its children.
        strategy: The guardian's strategy (None elsewhere: the actor's own).
        pinned: Every turn runs on the host's turn thread (no caller-runs
            turns, ``_turns.py``).
    """

    namespace: str
    system: str
    path: str
    factory: Factory
    capacity: int | None
    overflow: Overflow
    parent: ActorRef[Any] | None  # a RayActorRef
    child_stop_timeout: float | None
    strategy: SupervisorStrategy | None = None
    pinned: bool = False

    @property
    def name(self) -> str:
        """The actor's name among its siblings."""
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class Stop:
    """Stop after the message in hand (children first, then ``on_stop``)."""

    reason: str | None


@dataclass(frozen=True, slots=True)
class Directive:
    """A supervisor's order to a failed child.

    ``action`` is ``"resume"``, ``"restart"`` (a new instance; also builds one
    in a host re-created after its process died) or ``"suspend"`` (wait, failed,
    for a delayed restart). ``restarts`` is the child's restart count, kept by
    the parent so that it survives the child's process.
    """

    action: str
    restarts: int = 0


@dataclass(frozen=True, slots=True)
class ChildFailed:
    """A child reports its failure (it waits, suspended, for a directive)."""

    name: str
    error: Exception
    message: object
    hook: str


@dataclass(frozen=True, slots=True)
class ChildGone:
    """A child's ``until_stopped`` call ended: a stop reason, or the Ray error."""

    name: str
    actor_id: str
    outcome: object


@dataclass(frozen=True, slots=True)
class WatchFired:
    """A watched actor's ``until_stopped`` call ended."""

    actor_id: str
    outcome: object


@dataclass(frozen=True, slots=True)
class LostMailbox:
    """The dead letter for the mailbox of an actor whose process died.

    The messages queued there (and the one in hand) lived only in that process,
    so they cannot be listed one by one; this record says that they were lost,
    where and why. Messages whose calls failed with the process are recorded
    one by one by their senders.
    """

    path: str
    error: str
