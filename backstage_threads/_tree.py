"""Walks over an actor tree, made with the system's tree lock held.

They read each actor through `TreeNode`, declared here (the cell satisfies it,
and describes itself in a `StatusNode`), so the walks know no cell type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from ._status import StatusNode

__all__ = ["TreeNode", "live_leaves", "live_paths", "snapshot"]


class TreeNode(Protocol):
    """One actor of the tree, as a walk reads it (with the tree lock held)."""

    _path: str

    @property
    def is_alive(self) -> bool: ...
    @property
    def _children(self) -> Mapping[str, TreeNode] | None: ...
    def _status_node(self, children: tuple[StatusNode, ...]) -> StatusNode:
        """This actor's own status, over ``children`` (its subtree's)."""
        ...


def snapshot(cell: TreeNode) -> StatusNode:
    """The status of ``cell`` and its subtree (called with the tree lock held)."""
    children = tuple(snapshot(c) for c in cell._children.values()) if cell._children else ()
    return cell._status_node(children)


def live_paths(root: TreeNode) -> tuple[str, ...]:
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


def live_leaves(root: TreeNode) -> tuple[str, ...]:
    """Live actors with no live child, sorted: the ones a stopping tree waits on
    (tree lock held)."""
    paths: list[str] = []
    stack = [root]
    while stack:
        cell = stack.pop()
        live = cell._children.values() if cell._children else ()
        children = [child for child in live if child.is_alive]
        if cell.is_alive and not children:
            paths.append(cell._path)
        stack.extend(children)
    return tuple(sorted(paths))
