"""The first layer of a cell above its mailbox: who the actor is.

Every layer of the cell (see ``__init__``) reads these fields; they are set once
by `ActorCell.__init__`, except ``_state`` and ``_actor``, which only the turn
that holds the scheduled flag writes (``_state`` to STOPPING/STOPPED under the
system's tree lock as well), and ``restarts``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._mailbox import Mailbox
from ._states import STOPPED

if TYPE_CHECKING:
    from .._actor import Actor
    from .._factory import Factory
    from .._ref import ActorRef
    from .._system import ActorSystem
    from ._turn import ActorCell

__all__ = ["CellBase"]


class CellBase(Mailbox):
    """An actor's identity: its system, name, path, ref, state and instance."""

    __slots__ = (
        "__weakref__",
        "_actor",
        "_factory",
        "_name",
        "_path",
        "_ref",
        "_state",
        "_stop_reason",
        "_system",
        "restarts",
    )

    _system: ActorSystem
    _name: str
    _path: str
    _factory: Factory
    _actor: Actor[Any] | None
    _ref: ActorRef[Any]
    _state: str
    _stop_reason: str
    restarts: int

    def _as_cell(self) -> ActorCell:
        """This cell as the whole `ActorCell` (which every cell is): for the
        lower layers, which pass themselves on to code that takes a cell."""
        raise NotImplementedError

    @property
    def is_alive(self) -> bool:
        """True until the actor has stopped."""
        return self._state is not STOPPED
