"""The errors that report a failure nobody called: an escalation that stopped a
system, a worker thread's death, and what later sends are told."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from ._errors import ActorFailedError, root_cause

if TYPE_CHECKING:
    from ._supervision import Failure

__all__ = ["closed_error", "escalation_error", "worker_death_error"]

E = TypeVar("E", bound=BaseException)


def escalation_error(system: str, failure: Failure) -> tuple[ActorFailedError, str, BaseException]:
    """The error that reports ``failure`` stopping ``system``, with the path and
    the exception the escalation started from."""
    path, cause = root_cause(failure.error, failure.child.path)
    stop = ActorFailedError(
        f"actor system {system!r} stopped: {path} failed with {cause!r} "
        "and the failure escalated to /user",
        path=path,
    )
    stop.__cause__ = failure.error
    return stop, path, cause


def closed_error(stop: ActorFailedError | None, kind: type[E], text: str) -> E:
    """``kind(text)``, naming and chaining ``stop`` (what stopped the system) if any."""
    if stop is None:
        return kind(text)
    error = kind(f"{text} ({stop})")
    error.__cause__ = stop
    return error


def worker_death_error(
    system: str, worker: str, path: str | None, exc: BaseException
) -> ActorFailedError:
    """The error that reports a worker thread's death (its actor at ``path``)."""
    where = f" running {path}" if path is not None else ""
    error = ActorFailedError(
        f"worker thread {worker} of actor system {system!r} died{where}: {exc!r}; it was replaced",
        path=path,
    )
    error.__cause__ = exc
    return error
