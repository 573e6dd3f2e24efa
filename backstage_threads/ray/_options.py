"""Checks of spawn's options shared by `RaySystem.spawn` and ``context.spawn``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._validate import check_spawn_options

__all__ = ["check_spawn"]


def check_spawn(
    name: str | None,
    capacity: int | None,
    overflow: object,
    pinned: object,
    ray_options: Mapping[str, Any] | None,
) -> tuple[int | None, dict[str, Any]]:
    """Check spawn's options; return the capacity and the Ray options.

    Spawn's own options are checked as on threads.
    """
    capacity = check_spawn_options(name, capacity, overflow, pinned)
    if ray_options is None:
        return capacity, {}
    if not isinstance(ray_options, Mapping):
        raise TypeError(f"ray_options must be a mapping of Ray actor options, got {ray_options!r}")
    reserved = {"name", "namespace", "max_task_retries"} & set(ray_options)
    if reserved:
        raise ValueError(
            f"ray_options may not set {sorted(reserved)}: the system names its actors and "
            "never replays a call"
        )
    return capacity, dict(ray_options)
