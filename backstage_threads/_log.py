"""Logging through loguru, with the actor's path bound as ``extra["actor"]``.

The package is disabled by default (see ``__init__``); ``logger.enable(
"backstage_threads")`` turns it on. Levels: per-actor start and stop are TRACE
(so a million short-lived actors cost one level check each, about 0.2 us, when
nobody listens); dead letters DEBUG; restarts INFO; escalations WARNING;
failures ERROR with their traceback. Nothing here runs on the per-message path
or while an internal lock is held: callers log after releasing their locks.
"""

from __future__ import annotations

from loguru import logger

__all__ = ["dead_letter", "escalated", "failed", "lifecycle", "restarting", "stopped"]

# Longest message repr put in a log line; keeps a huge payload out of the log.
_REPR_LIMIT = 200


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."


def lifecycle(path: str, event: str) -> None:
    """An actor started or stopped (TRACE)."""
    logger.trace("{actor} {event}", actor=path, event=event)


def stopped(path: str, reason: str) -> None:
    """An actor stopped (TRACE; the line is formatted only if someone listens)."""
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
