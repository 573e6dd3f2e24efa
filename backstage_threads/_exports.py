"""`publish`: public names report the module users import them from."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping

__all__ = ["publish"]


def publish(namespace: Mapping[str, object], names: Iterable[str], module: str) -> None:
    """Set ``__module__`` to ``module`` on the classes and functions among ``names``
    that a private module of this package defines.

    As httpx does: ``help()``, reprs, tracebacks and pickles then say
    ``backstage_threads.ActorRef`` instead of ``backstage_threads._ref.ActorRef``.
    A name that a public module already claimed (``backstage_threads.aio``
    re-exports `AsyncActor`, which the package published first) keeps it.
    Called once, at the end of each public module's import.
    """
    for name in names:
        obj = namespace[name]
        if not (isinstance(obj, type) or inspect.isfunction(obj)):
            continue  # constants and type aliases have no module of their own
        parts = obj.__module__.split(".")
        if parts[0] == "backstage_threads" and any(part.startswith("_") for part in parts):
            obj.__module__ = module
