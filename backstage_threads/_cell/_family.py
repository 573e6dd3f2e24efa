"""A cell's family: its parent, and its children by name.

Children are registered under the parent's own ``_guard``, which also guards
the parent's STOPPING/STOPPED transitions (``_lifecycle``): a spawn either sees
its parent stopping and fails, or its child is in the dict the stop reads.
A child removes itself, under the parent's guard, as it stops (and then tells
the parent): a stopped child is never listed, and nothing of the parent's keeps
it alive until the parent's next turn, which may be a whole queue away.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Self

from .._errors import ActorStoppedError, ActorSystemClosedError, DuplicateNameError
from ._states import STOPPED, STOPPING
from ._watching import Watching

__all__ = ["Family"]


class Family(Watching):
    """The parent link and the children of a cell."""

    __slots__ = ("_child_uid", "_children", "_parent")

    _parent: Family | None
    # Guarded by _guard; None until the first child.
    _children: dict[str, Self] | None
    # The number in the last generated child name ($1, $2... per parent); under _guard.
    _child_uid: int

    def _add_child(self, name: str | None, make: Callable[[str], Self]) -> Self:
        """Create and register a child under this cell's guard; it is not yet scheduled."""
        system = self._system
        with self._guard:
            if self._state in (STOPPING, STOPPED):
                if system._closing:
                    raise system._closed_error(
                        ActorSystemClosedError,
                        f"cannot spawn under {self._path}: the actor system is shut down",
                    )
                raise ActorStoppedError(f"cannot spawn a child of {self._path}: it is stopping")
            children = self._children
            if children is None:
                children = self._children = {}
            if name is None:
                self._child_uid += 1
                name = f"${self._child_uid}"
            elif name in children and children[name]._state is not STOPPED:
                # (A stopped child leaves as it stops; until then, its name is
                # taken. A name is free as soon as wait_stopped() returns.)
                raise DuplicateNameError(
                    f"{self._path} already has a child named {name!r}; sibling names must be unique"
                )
            cell = make(name)
            children[name] = cell
        return cell

    def _forget_child(self, child: Self) -> None:
        """Called by a stopped ``child`` itself, before it tells this cell so."""
        with self._guard:
            children = self._children
            if children is not None and children.get(child._name) is child:
                del children[child._name]

    def _child(self, name: str) -> Self | None:
        """The child named ``name``, if it is registered."""
        with self._guard:
            return self._children.get(name) if self._children else None

    def _child_cells(self) -> list[Self]:
        """The live children in spawn order."""
        with self._guard:
            return list(self._children.values()) if self._children else []
