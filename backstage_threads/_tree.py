"""Walks over an actor tree, each node's children read under that node's guard.

A walk sees every node's children as they were when it reached the node, not
the whole tree at one instant: an actor spawned or stopped meanwhile may be in
it or not, as with any read of a running system.

They read each actor through `TreeNode`, declared here (the cell satisfies it,
and describes itself in a `StatusNode`), so the walks know no cell type.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ._status import StatusNode

__all__ = ["TreeNode", "live_leaves", "live_paths", "snapshot"]


class TreeNode(Protocol):
    """One actor of the tree, as a walk reads it."""

    _path: str

    @property
    def is_alive(self) -> bool: ...
    def _child_cells(self) -> Sequence[TreeNode]:
        """The children (in spawn order), read under the node's guard."""
        ...

    def _status_node(self, children: tuple[StatusNode, ...]) -> StatusNode:
        """This actor's own status, over ``children`` (its subtree's)."""
        ...


def snapshot(cell: TreeNode) -> StatusNode:
    """The status of ``cell`` and its subtree."""
    children = tuple(snapshot(c) for c in cell._child_cells())
    return cell._status_node(children)


def live_paths(root: TreeNode) -> tuple[str, ...]:
    """The sorted paths of the live actors from ``root`` down."""
    paths: list[str] = []
    stack = [root]
    while stack:
        cell = stack.pop()
        if cell.is_alive:
            paths.append(cell._path)
        stack.extend(cell._child_cells())
    return tuple(sorted(paths))


def live_leaves(root: TreeNode) -> tuple[str, ...]:
    """Live actors with no live child, sorted: the ones a stopping tree waits on."""
    paths: list[str] = []
    stack = [root]
    while stack:
        cell = stack.pop()
        children = [child for child in cell._child_cells() if child.is_alive]
        if cell.is_alive and not children:
            paths.append(cell._path)
        stack.extend(children)
    return tuple(sorted(paths))
