"""Checks of spawn's options shared by `RaySystem.spawn` and ``context.spawn``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._overflow import Overflow
from .._validate import check_capacity, check_name

__all__ = ["check_spawn"]


def check_spawn(
    name: str | None,
    capacity: int | None,
    overflow: object,
    ray_options: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Check spawn's options (shared by `RaySystem.spawn`); return the Ray options."""
    if name is not None:
        check_name(name)
    check_capacity(capacity)
    if not isinstance(overflow, Overflow):
        raise TypeError(
            f"overflow must be an Overflow member ({', '.join(o.name for o in Overflow)}), "
            f"got {overflow!r}"
        )
    if ray_options is None:
        return {}
    if not isinstance(ray_options, Mapping):
        raise TypeError(f"ray_options must be a mapping of Ray actor options, got {ray_options!r}")
    reserved = {"name", "namespace", "max_task_retries"} & set(ray_options)
    if reserved:
        raise ValueError(
            f"ray_options may not set {sorted(reserved)}: the system names its actors and "
            "never replays a call"
        )
    return dict(ray_options)
