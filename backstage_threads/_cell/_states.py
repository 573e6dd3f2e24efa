"""The states, system-message kinds and markers the cell's layers share."""

from __future__ import annotations

from typing import Final

__all__ = [
    "CHILD_FAILED",
    "CHILD_STATUS",
    "CHILD_TERMINATED",
    "CRASHED",
    "FAILED",
    "NEW",
    "ON_RESTART",
    "ON_START",
    "ON_STOP",
    "PENDING",
    "RESOURCES_FAILED",
    "RESOURCES_READY",
    "RESOURCE_LOST",
    "RESTART",
    "RESTARTING",
    "RESUME",
    "RUNNING",
    "STOP",
    "STOPPED",
    "STOPPING",
    "STOP_TIMEOUT",
    "SUSPEND",
    "UNWATCH",
    "WATCH",
]

# Lifecycle states. Invariant: transitions only go forward, except
# FAILED -> RUNNING (resume or restart).
NEW: Final = "new"  # created, on_start not yet run
RUNNING: Final = "running"
FAILED: Final = "failed"  # suspended until the parent's directive
RESTARTING: Final = "restarting"  # waiting for its children to stop, then a new start
STOPPING: Final = "stopping"  # waiting for children, then on_stop
STOPPED: Final = "stopped"

# System message kinds; each system message is a (kind, payload) tuple.
STOP: Final = 1
CHILD_TERMINATED: Final = 2
CHILD_FAILED: Final = 3
RESUME: Final = 4
RESTART: Final = 5
WATCH: Final = 6
UNWATCH: Final = 7
SUSPEND: Final = 8
CHILD_STATUS: Final = 9
STOP_TIMEOUT: Final = 10
CRASHED: Final = 11  # the runtime raised outside this actor's turn (payload: the error)
# Resources (``_resourcing``): the start may go on; the start wait failed (payload:
# the error); a linked resource was lost (payload: (error, LinkAction)).
RESOURCES_READY: Final = 12
RESOURCES_FAILED: Final = 13
RESOURCE_LOST: Final = 14

# `_outcome` while an async actor's hook or batch coroutine is running.
PENDING: Final = object()
# The "messages" of outcomes that settle async lifecycle hooks: an on_start,
# an on_stop while stopping, an on_stop while restarting.
ON_START: Final = object()
ON_STOP: Final = object()
ON_RESTART: Final = object()
