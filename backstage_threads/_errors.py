"""Exceptions raised by backstage_threads.

Every exception the package raises on purpose derives from `BackstageError`, and
also from the builtin a caller would naturally catch::

    BackstageError
    ├── ActorStoppedError (RuntimeError)     the target has stopped; the message is a dead letter
    ├── ActorSystemClosedError (RuntimeError) the system is shutting down or shut down
    ├── AskTimeoutError (TimeoutError)        no reply within the ask's timeout
    ├── MailboxFullError (RuntimeError)       FAIL policy or tell_nowait on a full mailbox
    ├── SendTimeoutError (TimeoutError)       a BLOCK send found no room within its timeout
    ├── DeadlockError (RuntimeError)          a call would wait on its own thread
    ├── DuplicateNameError (ValueError)       a sibling already has that name
    ├── ActorFailedError (RuntimeError)       wraps a failure whose original is its __cause__
    ├── ActorInitializationError (RuntimeError) the factory could not build the actor
    ├── ResourceTimeoutError (TimeoutError)   a needed or linked resource did not appear in time
    ├── ResourceCycleError (RuntimeError)     actors wait for each other's resources to start
    └── ResourceLostError (RuntimeError)      a linked resource was dropped or replaced

Misuse (a negative timeout, a non-callable factory) raises plain `ValueError` or
`TypeError` with a message naming the bad value and what is allowed.
"""

from __future__ import annotations

__all__ = [
    "ActorFailedError",
    "ActorInitializationError",
    "ActorStoppedError",
    "ActorSystemClosedError",
    "AskTimeoutError",
    "BackstageError",
    "DeadlockError",
    "DuplicateNameError",
    "MailboxFullError",
    "ResourceCycleError",
    "ResourceLostError",
    "ResourceTimeoutError",
    "SendTimeoutError",
]


class BackstageError(Exception):
    """Base class of every exception backstage_threads raises on purpose."""


class ActorStoppedError(BackstageError, RuntimeError):
    """The target actor has stopped; the message was recorded as a dead letter."""


class ActorSystemClosedError(BackstageError, RuntimeError):
    """The actor system is shutting down or has shut down."""


class AskTimeoutError(BackstageError, TimeoutError):
    """An ask received no reply within its timeout.

    The message may still be processed later; its reply is then discarded.
    """


class MailboxFullError(BackstageError, RuntimeError):
    """A mailbox had no room and the send was not allowed to wait."""


class SendTimeoutError(BackstageError, TimeoutError):
    """A send under `Overflow.BLOCK` found no room within its timeout."""


class DeadlockError(BackstageError, RuntimeError):
    """A blocking call would wait on the thread that has to answer it."""


class DuplicateNameError(BackstageError, ValueError):
    """A sibling actor already has the requested name."""


class ActorFailedError(BackstageError, RuntimeError):
    """An actor failed; the original exception is this error's ``__cause__``.

    Attributes:
        path: The path of the actor that failed, when known.
    """

    def __init__(self, *args: object, path: str | None = None) -> None:
        super().__init__(*args)
        self.path = path


def root_cause(error: BaseException, path: str) -> tuple[str, BaseException]:
    """The actor path and the exception an escalation chain started from.

    Follows ``__cause__`` through the `ActorFailedError` wrappers that each
    escalating supervisor (or a wrapped BaseException) adds; ``path`` is the
    answer when no wrapper names one.
    """
    while isinstance(error, ActorFailedError) and error.__cause__ is not None:
        path = error.path or path
        error = error.__cause__
    return path, error


class ActorInitializationError(BackstageError, RuntimeError):
    """An actor's factory raised or returned something that is not an Actor.

    The original error is the ``__cause__``. The default decider stops such an
    actor (as Akka does) instead of restarting a factory that cannot work.
    """


class ResourceTimeoutError(BackstageError, TimeoutError):
    """A resource an actor needs to start (or links to) was not published in time.

    Attributes:
        keys: The keys still missing.
    """

    def __init__(self, *args: object, keys: tuple[object, ...] = ()) -> None:
        super().__init__(*args)
        self.keys = keys


class ResourceCycleError(BackstageError, RuntimeError):
    """Actors wait, to start, for resources that only the others would publish.

    Attributes:
        cycle: The paths of the actors in the cycle, in order.
    """

    def __init__(self, *args: object, cycle: tuple[str, ...] = ()) -> None:
        super().__init__(*args)
        self.cycle = cycle


class ResourceLostError(BackstageError, RuntimeError):
    """A resource an actor linked to was dropped or replaced (``LinkAction.FAIL``).

    Attributes:
        key: The resource's key.
    """

    def __init__(self, *args: object, key: object = None) -> None:
        super().__init__(*args)
        self.key = key
