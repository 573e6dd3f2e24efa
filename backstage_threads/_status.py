"""Service statuses and the immutable status-tree snapshot."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any

__all__ = ["SETTABLE", "ServiceStatus", "StatusNode"]


class ServiceStatus(enum.Enum):
    """backstage's service statuses.

    The runtime moves the automatic ones (STARTING -> INITIALIZING -> RUNNING ->
    STOPPING -> STOPPED; OUTAGE while a failed actor awaits its supervisor); an
    actor may set DEGRADED, MAINTENANCE, IDLE, OUTAGE or RUNNING itself.
    """

    STARTING = "Starting"
    INITIALIZING = "Initializing"
    RUNNING = "Running"
    DEGRADED = "Degraded"
    MAINTENANCE = "Maintenance"
    IDLE = "Idle"
    OUTAGE = "Outage"
    STOPPING = "Stopping"
    STOPPED = "Stopped"


#: The statuses an actor may set on itself with ``context.set_status``.
SETTABLE = frozenset(
    {
        ServiceStatus.RUNNING,
        ServiceStatus.DEGRADED,
        ServiceStatus.MAINTENANCE,
        ServiceStatus.IDLE,
        ServiceStatus.OUTAGE,
    }
)


@dataclass(frozen=True, slots=True)
class StatusNode:
    """One actor in a status-tree snapshot; `str()` renders the whole subtree."""

    path: str
    name: str
    status: ServiceStatus
    since: float
    mailbox_depth: int
    restarts: int
    children: tuple[StatusNode, ...]

    def __str__(self) -> str:
        lines: list[str] = []
        self._render(lines, "", "")
        return "\n".join(lines)

    def _render(self, lines: list[str], lead: str, child_lead: str) -> None:
        extra = f" restarts={self.restarts}" if self.restarts else ""
        lines.append(f"{lead}{self.name} [{self.status.value}] mailbox={self.mailbox_depth}{extra}")
        for index, child in enumerate(self.children):
            last = index == len(self.children) - 1
            child._render(
                lines,
                child_lead + ("└── " if last else "├── "),
                child_lead + ("    " if last else "│   "),
            )

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (JSON-ready) of this subtree."""
        return {
            "path": self.path,
            "name": self.name,
            "status": self.status.value,
            "since": self.since,
            "mailbox_depth": self.mailbox_depth,
            "restarts": self.restarts,
            "children": [child.to_dict() for child in self.children],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """This subtree as a JSON document."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def find(self, path: str) -> StatusNode | None:
        """The node at ``path`` in this subtree, or None."""
        if self.path == path:
            return self
        for child in self.children:
            if path == child.path or path.startswith(child.path + "/"):
                return child.find(path)
        return None

    def walk(self) -> list[StatusNode]:
        """Every node of this subtree, parents before children."""
        nodes = [self]
        for child in self.children:
            nodes.extend(child.walk())
        return nodes
