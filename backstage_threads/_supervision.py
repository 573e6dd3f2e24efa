"""Supervision: what a parent does when a child fails.

Built on the cell's primitive operations (resume, restart, stop, and failing the
supervisor itself), which the strategy sees through two Protocols declared here:
a `Supervised` child and its `Supervisor`. The cell satisfies both and knows
nothing of deciders, scopes, backoff or intensity limits, which all live here;
another backend's actors can be supervised by the same strategies.

Defaults follow OTP: restart, one-for-one, at most 3 restarts in 5 seconds per
supervisor, after which the supervisor escalates (fails itself).
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from . import _log
from ._errors import ActorFailedError, ActorInitializationError

if TYPE_CHECKING:
    from ._ref import ActorRef

__all__ = [
    "DEFAULT_STRATEGY",
    "Directive",
    "Failure",
    "Need",
    "RestartAfter",
    "Scope",
    "Supervised",
    "Supervisor",
    "SupervisorStrategy",
]


class Directive(enum.Enum):
    """What a supervisor does with a failed child (see also `RestartAfter`)."""

    RESUME = "resume"  # keep the instance and its state; continue with the next message
    RESTART = "restart"  # new instance from the factory; on_stop, then on_start
    STOP = "stop"  # stop the child (its queued messages become dead letters)
    ESCALATE = "escalate"  # stop the child and fail the supervisor itself


@dataclass(frozen=True, slots=True)
class RestartAfter:
    """Restart after a delay that grows with each restart (backstage's "reschedule").

    The n-th restart within the strategy's window waits
    ``min(max_delay, delay * factor**n)`` seconds, scaled by a random factor in
    ``[1 - jitter, 1 + jitter]`` so that siblings failing together do not all
    come back in the same instant. Messages keep queueing meanwhile.
    """

    delay: float
    max_delay: float = 30.0
    factor: float = 2.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        for name in ("delay", "max_delay", "factor"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"RestartAfter.{name} must be a number >= 0, got {value!r}")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"RestartAfter.jitter must be in [0, 1), got {self.jitter!r}")

    def backoff(self, attempt: int) -> float:
        """The delay before restart number ``attempt`` (0-based), with jitter."""
        try:
            grown = self.delay * self.factor**attempt
        except OverflowError:  # factor**attempt is past a float: capped anyway
            grown = self.max_delay
        base = min(self.max_delay, grown)
        return base * random.uniform(1 - self.jitter, 1 + self.jitter)


Decision = Directive | RestartAfter


class Need(Exception):
    """Raised by an actor to ask its supervisor for a directive.

    The decider receives the `Need` as the failure's error and may follow its
    advice or not; the default decider follows it.

    Attributes:
        advice: The directive the actor asks for.
    """

    def __init__(self, advice: Decision, reason: str = "") -> None:
        if not isinstance(advice, (Directive, RestartAfter)):
            raise TypeError(f"Need advice must be a Directive or RestartAfter, got {advice!r}")
        super().__init__(reason or f"needs {advice}")
        self.advice = advice


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


class Supervised(Protocol):
    """A child as its supervisor's strategy acts on it (an actor cell)."""

    @property
    def _path(self) -> str: ...
    def _request_resume(self) -> None: ...
    def _request_restart(self, running_too: bool = False) -> None: ...
    def _request_stop(self, reason: str | None) -> None: ...
    def _suspend(self) -> None: ...


class Supervisor(Protocol):
    """The supervising actor, as its strategy sees it (in the supervisor's turn)."""

    @property
    def _path(self) -> str: ...

    # Times of recent restarts, on the system's clock; kept by the strategy.
    _restart_log: list[float] | None

    def _child_cells(self) -> Sequence[Supervised]: ...
    def _now(self) -> float: ...
    def _schedule(self, delay: float, callback: Callable[[], object]) -> object: ...


class Scope(enum.Enum):
    """Which children a directive applies to."""

    ONE_FOR_ONE = "one_for_one"  # only the failed child
    ONE_FOR_ALL = "one_for_all"  # every child
    REST_FOR_ONE = "rest_for_one"  # the failed child and those spawned after it


Decider = Callable[[Exception], Decision]


def default_decider(error: Exception) -> Decision:
    """Follow a `Need`'s advice; stop an actor whose factory failed; else restart."""
    if isinstance(error, Need):
        return error.advice
    if isinstance(error, ActorInitializationError):
        return Directive.STOP
    return Directive.RESTART


class SupervisorStrategy:
    """How a supervisor treats its failed children.

    Args:
        decider: Maps the child's exception to a directive (default: follow a
            `Need`'s advice, stop on `ActorInitializationError`, else restart).
        scope: Which children the directive applies to.
        max_restarts: At most this many restarts by this supervisor ...
        within: ... within this many seconds; one more escalates instead (OTP's
            intensity 3 and period 5 by default).

    The strategy holds no per-supervisor state (the restart log lives in the
    supervisor's cell), so one instance can be shared by every actor of a class.
    """

    __slots__ = ("_decider", "max_restarts", "scope", "within")

    def __init__(
        self,
        decider: Decider = default_decider,
        *,
        scope: Scope = Scope.ONE_FOR_ONE,
        max_restarts: int = 3,
        within: float = 5.0,
    ) -> None:
        if not callable(decider):
            raise TypeError(f"decider must be callable, got {decider!r}")
        if not isinstance(scope, Scope):
            raise TypeError(f"scope must be a Scope member, got {scope!r}")
        if isinstance(max_restarts, bool) or not isinstance(max_restarts, int) or max_restarts < 0:
            raise ValueError(f"max_restarts must be an int >= 0, got {max_restarts!r}")
        if isinstance(within, bool) or not isinstance(within, (int, float)) or not within > 0:
            raise ValueError(f"within must be a number of seconds > 0, got {within!r}")
        self._decider = decider
        self.scope = scope
        self.max_restarts = max_restarts
        self.within = float(within)

    def decide(self, failure: Failure) -> Decision:
        """The decider's directive for ``failure``."""
        decision = self._decider(failure.error)
        if not isinstance(decision, (Directive, RestartAfter)):
            raise TypeError(f"decider returned {decision!r}; expected a Directive or RestartAfter")
        return decision

    def handle(self, supervisor: Supervisor, failure: Failure) -> None:
        """Apply the decision (called in the supervisor's own turn).

        Raises:
            ActorFailedError: To escalate; its ``__cause__`` is the child's error.
        """
        child: Supervised = failure.child._cell
        decision = self.decide(failure)
        if failure.hook == "on_stop":
            # The child is stopping or restarting anyway: only escalation applies.
            if decision is Directive.ESCALATE:
                error = ActorFailedError(
                    f"{child._path} failed in on_stop; supervisor escalated", path=child._path
                )
                error.__cause__ = failure.error
                raise error
            return
        if decision is Directive.RESUME and failure.hook == "factory":
            # No instance was built, so there is nothing to resume: build it
            # again, counted against max_restarts like any restart (Akka).
            decision = Directive.RESTART
        restarting = decision is Directive.RESTART or isinstance(decision, RestartAfter)
        attempt = self._count_restart(supervisor) if restarting else 0
        if attempt < 0:
            decision = Directive.ESCALATE
        if decision is Directive.RESUME:
            child._request_resume()
            return
        affected = self._affected(supervisor, child)
        if decision is Directive.STOP:
            for cell in affected:
                cell._request_stop(f"stopped by supervisor after {failure.error!r}")
        elif decision is Directive.RESTART:
            for cell in affected:
                cell._request_restart(running_too=cell is not child)
        elif isinstance(decision, RestartAfter):
            delay = decision.backoff(attempt)
            for cell in affected:
                cell._suspend()
            supervisor._schedule(delay, lambda: _restart_all(affected))
        else:
            child._request_stop(f"escalated {failure.error!r}")
            _log.escalated(child._path, supervisor._path, failure.error)
            error = ActorFailedError(
                f"{child._path} failed and its supervisor escalated", path=child._path
            )
            error.__cause__ = failure.error
            raise error

    def _affected(self, supervisor: Supervisor, child: Supervised) -> Sequence[Supervised]:
        if self.scope is Scope.ONE_FOR_ONE:
            return [child]
        siblings = supervisor._child_cells()
        if self.scope is Scope.ONE_FOR_ALL:
            return siblings
        return siblings[siblings.index(child) :] if child in siblings else [child]

    def _count_restart(self, supervisor: Supervisor) -> int:
        """Log one restart; return how many came before it, or -1 past the limit."""
        now = supervisor._now()  # the system's clock: manual time in tests
        log = supervisor._restart_log
        if log is None:
            log = supervisor._restart_log = []
        log[:] = [t for t in log if now - t < self.within]
        if len(log) >= self.max_restarts:
            return -1
        log.append(now)
        return len(log) - 1


def _restart_all(cells: Sequence[Supervised]) -> None:
    for cell in cells:
        cell._request_restart(running_too=True)


DEFAULT_STRATEGY = SupervisorStrategy()
