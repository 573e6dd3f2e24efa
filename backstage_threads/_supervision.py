"""Supervision: what a parent does when a child fails.

Built on the cell's four primitive operations (resume, restart, stop, escalate);
the cell itself knows nothing of deciders, strategies or intensity limits.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._errors import ActorFailedError

if TYPE_CHECKING:
    from ._cell import ActorCell
    from ._ref import ActorRef

__all__ = ["DEFAULT_STRATEGY", "Directive", "Failure", "SupervisorStrategy"]


class Directive(enum.Enum):
    """What a supervisor does with a failed child."""

    RESUME = "resume"  # keep the instance and its state; continue with the next message
    RESTART = "restart"  # new instance from the factory; on_stop, then on_start
    STOP = "stop"  # stop the child (its queued messages become dead letters)
    ESCALATE = "escalate"  # stop the child and fail the supervisor itself


@dataclass(frozen=True, slots=True)
class Failure:
    """A child's failure, as its supervisor sees it.

    Attributes:
        child: The failed actor.
        error: The exception raised.
        message: The message in hand, or None when a lifecycle hook failed.
        hook: Where it failed: ``"receive"``, ``"on_start"``, ``"factory"``...
    """

    child: ActorRef[Any]
    error: Exception
    message: object
    hook: str


Decider = Callable[[Exception], Directive]


def restart_always(error: Exception) -> Directive:
    """The default decider: restart on any exception."""
    return Directive.RESTART


class SupervisorStrategy:
    """One-for-one supervision with a restart-intensity limit.

    Args:
        decider: Maps the child's exception to a `Directive` (default: restart).
        max_restarts: At most this many restarts of one child ...
        within: ... within this many seconds; one more escalates instead. The
            defaults (3 in 5 s) are OTP's supervisor defaults (intensity 3,
            period 5).

    The strategy holds no per-child state (that lives in the child's cell), so
    one instance can be shared by every actor of a class.
    """

    __slots__ = ("_decider", "max_restarts", "within")

    def __init__(
        self, decider: Decider = restart_always, *, max_restarts: int = 3, within: float = 5.0
    ) -> None:
        if not callable(decider):
            raise TypeError(f"decider must be callable, got {decider!r}")
        if isinstance(max_restarts, bool) or not isinstance(max_restarts, int) or max_restarts < 0:
            raise ValueError(f"max_restarts must be an int >= 0, got {max_restarts!r}")
        if not isinstance(within, (int, float)) or not within > 0:
            raise ValueError(f"within must be a number of seconds > 0, got {within!r}")
        self._decider = decider
        self.max_restarts = max_restarts
        self.within = float(within)

    def decide(self, failure: Failure) -> Directive:
        directive = self._decider(failure.error)
        if not isinstance(directive, Directive):
            raise TypeError(f"decider returned {directive!r}; expected a Directive")
        return directive

    def handle(self, context: ActorCell, failure: Failure) -> None:
        """Apply the decision to the failed child (called in the parent's turn)."""
        child = failure.child._cell
        directive = self.decide(failure)
        if directive is Directive.RESTART and not self._may_restart(child):
            directive = Directive.ESCALATE
        if directive is Directive.RESUME:
            child._request_resume()
        elif directive is Directive.RESTART:
            child._request_restart()
        elif directive is Directive.STOP:
            child._request_stop(f"stopped by supervisor after {failure.error!r}")
        else:
            child._request_stop(f"escalated {failure.error!r}")
            error = ActorFailedError(f"{child.path} failed: {failure.error!r}")
            error.__cause__ = failure.error
            raise error

    def _may_restart(self, child: ActorCell) -> bool:
        now = time.monotonic()
        log = child._restart_log
        if log is None:
            log = child._restart_log = []
        log[:] = [t for t in log if now - t < self.within]
        if len(log) >= self.max_restarts:
            return False
        log.append(now)
        return True


DEFAULT_STRATEGY = SupervisorStrategy()
