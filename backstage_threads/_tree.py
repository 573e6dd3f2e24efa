"""Walks over an actor tree, made with the system's tree lock held."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._status import StatusNode

if TYPE_CHECKING:
    from ._cell import ActorCell

__all__ = ["live_paths", "snapshot"]


def snapshot(cell: ActorCell) -> StatusNode:
    """The status of ``cell`` and its subtree (called with the tree lock held)."""
    children = tuple(snapshot(c) for c in cell._children.values()) if cell._children else ()
    return StatusNode(
        path=cell._path,
        name=cell._name,
        status=cell._status,
        since=cell._status_since,
        mailbox_depth=cell.depth(),
        restarts=cell.restarts,
        children=children,
    )


def live_paths(root: ActorCell) -> tuple[str, ...]:
    """The sorted paths of the live actors from ``root`` down (tree lock held)."""
    paths: list[str] = []
    stack = [root]
    while stack:
        cell = stack.pop()
        if cell.is_alive:
            paths.append(cell._path)
        if cell._children:
            stack.extend(cell._children.values())
    return tuple(sorted(paths))
