"""What ``spawn`` builds an actor from: a class or factory, and its arguments.

``spawn(Cls, a, b, name="x", kwargs={"k": 1})`` keeps ``Cls(a, b, k=1)`` as the
cell's zero-argument factory, called again on every restart with the same
argument objects. What can be checked at the call is checked there: a class
that is not an `Actor` subclass, a factory that is not callable, ``kwargs``
that is not a mapping of names. Whether the arguments fit the constructor is
not checked at the call (``inspect.signature`` costs 12-48 us per class, more
than a whole spawn); a constructor that rejects them fails the actor's start,
which reaches the supervisor as `ActorInitializationError`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from ._actor import Actor

__all__ = ["Factory", "actor_factory"]

#: The zero-argument callable a cell calls to build (and rebuild) its actor.
Factory = Callable[[], Actor[Any]]


def actor_factory(
    factory: object,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any] | None,
    what: str = "spawn()",
) -> Factory:
    """Check ``factory`` and bind ``args``/``kwargs`` to it.

    Raises:
        TypeError: If ``factory`` is a class that is not an `Actor` subclass,
            is not callable, or ``kwargs`` is not a mapping with str keys.
    """
    if isinstance(factory, type):
        if not issubclass(factory, Actor):
            raise TypeError(
                f"{what} needs an Actor subclass or a callable returning an actor; "
                f"{factory.__module__}.{factory.__qualname__} is a class that does not "
                "derive from Actor"
            )
    elif not callable(factory):
        raise TypeError(
            f"{what} needs an Actor subclass or a callable returning an actor, got {factory!r}"
        )
    if kwargs is None:
        bound: dict[str, Any] = {}
    elif not isinstance(kwargs, Mapping):
        raise TypeError(
            f"kwargs must be a mapping of keyword arguments for the constructor, got {kwargs!r}"
        )
    else:
        bound = dict(kwargs)  # a copy: later changes by the caller do not leak into restarts
        bad = [key for key in bound if not isinstance(key, str)]
        if bad:
            raise TypeError(f"kwargs keys must be argument names (str), got {bad[0]!r}")
    build: Callable[..., Actor[Any]] = factory
    if not args and not bound:
        return build
    return functools.partial(build, *args, **bound)
