"""Logging through loguru, with the actor's path bound as ``extra["actor"]``.

The package is disabled by default (see ``__init__``); ``logger.enable(
"backstage_threads")`` turns it on. Levels: per-actor start and stop are TRACE
(so a million short-lived actors cost one test each when no handler takes
TRACE, see `_core`); dead letters DEBUG; restarts INFO; escalations WARNING;
failures ERROR with their traceback. Nothing here runs on the per-message path
or while an internal lock is held: callers log after releasing their locks.
"""

from __future__ import annotations

from typing import Any

from loguru import logger

__all__ = ["dead_letter", "escalated", "failed", "lifecycle", "restarting", "stopped"]

# Longest message repr put in a log line; keeps a huge payload out of the log.
_REPR_LIMIT = 200
# loguru's TRACE severity (fixed: loguru does not let a level's number change).
_TRACE_NO = 5


class _AlwaysHeard:
    """A stand-in for a loguru core whose handlers take every level."""

    min_level = 0


# loguru keeps the lowest level of its handlers in ``_core.min_level`` (add()
# and remove() update it; infinity with no handler). Reading it spares the
# per-actor TRACE calls when nothing would take them: loguru itself drops such
# a record only after its own checks, 0.26 us a call on 3.11 and 0.56 us on
# 3.13t, twice in every actor's life (5 % of a skynet actor on 3.13t). Should a
# loguru release lose the attribute, every call goes to loguru, as before.
_core: Any = getattr(logger, "_core", None)
if not isinstance(getattr(_core, "min_level", None), int | float):
    _core = _AlwaysHeard()


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."


def lifecycle(path: str, event: str) -> None:
    """An actor started or stopped (TRACE)."""
    if _core.min_level <= _TRACE_NO:  # some handler takes TRACE (see _core)
        logger.trace("{actor} {event}", actor=path, event=event)


def stopped(path: str, reason: str) -> None:
    """An actor stopped (TRACE; the line is formatted only if someone listens)."""
    if _core.min_level <= _TRACE_NO:  # (see _core)
        logger.trace("{actor} stopped ({reason})", actor=path, reason=reason)


def failed(path: str, hook: str, error: BaseException, message: object) -> None:
    """A hook raised; the supervisor decides next (ERROR, with traceback)."""
    detail = f" while handling {_short(message)}" if hook == "receive" else ""
    logger.opt(exception=error).error(
        "{actor} failed in {hook}{detail}", actor=path, hook=hook, detail=detail
    )


def restarting(path: str, restarts: int) -> None:
    """A supervisor restarts an actor (INFO)."""
    logger.info("{actor} restarting (restart #{restarts})", actor=path, restarts=restarts)


def escalated(path: str, supervisor: str, error: BaseException) -> None:
    """A supervisor escalates a child's failure (WARNING)."""
    logger.warning(
        "{actor} failure escalated by {supervisor}: {error}",
        actor=path,
        supervisor=supervisor,
        error=_short(error),
    )


def dead_letter(path: str, message: object, reason: str) -> None:
    """A message was not processed (DEBUG)."""
    logger.debug(
        "dead letter to {actor}: {message} ({reason})",
        actor=path,
        message=_short(message),
        reason=reason,
    )
