"""`RaySystem`: the same actors, supervision and refs, on a Ray cluster.

The driver's `RaySystem` creates the ``/user`` guardian as a host (a Ray actor
named ``/user`` in the system's namespace, ``backstage_threads.<name>`` by
default) that supervises top-level actors with ``guardian_strategy`` and is
also the system's dead-letter office (``_office.py``). Every actor lives in a
host of its own, named by its path; `spawn` asks the guardian to create it, so
top-level actors are owned by the guardian and children by their parents.

In the driver a thread (``backstage-ray-<name>-office``) long-polls the office
and records every dead letter into ``system.dead_letters`` and the failure
that stopped the system, if one did, into ``system.failure``.

Inside a worker process ``self.context.system`` is an *attached* `RaySystem`:
it spawns top-level actors and looks actors up, but the dead letters, the
failure and `shutdown` belong to the driver that created the system.

Thread safety: every public method may be called from any thread.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import ray
from loguru import logger
from ray.exceptions import GetTimeoutError, RayActorError

from .._actor import Root
from .._clock import remaining
from .._deadletters import DEFAULT_HISTORY, DeadLetters
from .._errors import root_cause
from .._overflow import Overflow
from .._statistics import ShutdownReport
from .._supervision import Failure, SupervisorStrategy
from .._validate import check_timeout
from ._host import HostActor
from ._ref import OFFICE, RayActorRef
from ._spec import HostSpec, Stop
from ._view import CALL_TIMEOUT, SystemView

__all__ = ["RaySystem"]

#: Default seconds `shutdown` gives the actors to stop.
DEFAULT_SHUTDOWN_TIMEOUT = 10.0
#: Seconds each long poll of the office waits for dead letters.
DRAIN_WAIT = 0.5
#: Seconds beyond its timeout that shutdown waits for the guardian's answer (it
#: times its own wait out; this covers the trip back).
CALL_GRACE = 1.0


class RaySystem(SystemView):
    """A tree of actors hosted on a Ray cluster, with the `ActorSystem` surface.

    Ray must be initialised first (``ray.init()`` for a local cluster,
    ``ray.init(address="auto")`` to join one). Use it as a context manager:
    leaving the block shuts the system down (it does not shut Ray down).

    Args:
        name: The system's name; one system of a name per namespace.
        namespace: The Ray namespace its actors are named in (default
            ``backstage_threads.<name>``).
        guardian_strategy: How ``/user`` supervises top-level actors.
        child_stop_timeout: Seconds a stopping actor waits for its children.
        dead_letter_history: How many recent dead letters to keep.
        shutdown_timeout: Seconds leaving the ``with`` block gives `shutdown`.

    Raises:
        RuntimeError: If Ray is not initialised, or this system's namespace
            already has a running system.
    """

    def __init__(
        self,
        name: str = "backstage",
        *,
        namespace: str | None = None,
        guardian_strategy: SupervisorStrategy | None = None,
        child_stop_timeout: float | None = DEFAULT_SHUTDOWN_TIMEOUT,
        dead_letter_history: int = DEFAULT_HISTORY,
        shutdown_timeout: float | None = DEFAULT_SHUTDOWN_TIMEOUT,
    ) -> None:
        self._setup(name, namespace)
        self._closed = False
        self._failure: Failure | None = None
        self._terminated = threading.Event()
        if guardian_strategy is not None and not isinstance(guardian_strategy, SupervisorStrategy):
            raise TypeError(
                f"guardian_strategy must be a SupervisorStrategy, got {guardian_strategy!r}"
            )
        self._shutdown_timeout = check_timeout(shutdown_timeout, "shutdown_timeout")
        self._dead_letters = DeadLetters(dead_letter_history)
        try:
            ray.get_actor(OFFICE, namespace=self._namespace)
        except ValueError:
            pass
        else:
            raise RuntimeError(
                f"a RaySystem already runs in Ray namespace {self._namespace!r} on this "
                "cluster; give this one another name (or namespace=)"
            )
        spec = HostSpec(
            self._namespace, name, OFFICE, Root, None, Overflow.BLOCK, None,
            check_timeout(child_stop_timeout, "child_stop_timeout"), guardian_strategy,
        )  # fmt: skip
        self._guardian = HostActor.options(
            name=OFFICE, namespace=self._namespace, max_restarts=0, max_task_retries=0
        ).remote(spec)
        try:
            ray.get(self._guardian.describe.remote(), timeout=CALL_TIMEOUT)
        except GetTimeoutError:
            ray.kill(self._guardian)
            raise RuntimeError(
                f"the Ray cluster did not start the /user actor of {name!r} within "
                f"{CALL_TIMEOUT} s (is the cluster reachable and has it room for actors?)"
            ) from None
        self._stopping = threading.Event()
        self._gatherer = threading.Thread(
            target=self._gather, name=f"backstage-ray-{name}-office", daemon=True
        )
        self._gatherer.start()

    # -- public API ----------------------------------------------------------------------

    @property
    def dead_letters(self) -> DeadLetters:
        """Every dead letter of the system, gathered from all its processes.

        They arrive through the office thread a moment after they happen
        (wait with ``dead_letters.subscribe``, not by sleeping).

        """
        return self._dead_letters

    @property
    def failure(self) -> Failure | None:
        """The failure that escalated to the top and stopped the system, if any."""
        return self._failure

    def wait_terminated(self, timeout: float | None = None) -> bool:
        """Wait until every actor has stopped; return False on timeout."""
        return self._terminated.wait(check_timeout(timeout))

    def shutdown(self, timeout: float | None = DEFAULT_SHUTDOWN_TIMEOUT) -> ShutdownReport:
        """Stop every actor (children first), gather the last dead letters, free the hosts.

        Idempotent. Ray itself keeps running (``ray.shutdown()`` is yours).
        """
        timeout = check_timeout(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        if self._closed:
            return ShutdownReport(True, (), ())
        self._closed = True
        stopped = True
        try:
            self._guardian.control.remote(Stop("actor system shut down"))
            left = remaining(deadline)
            reason = ray.get(self._guardian.until_stopped.remote(left), timeout=_graced(left))
            stopped = reason is not None
        except GetTimeoutError:
            stopped = False
        except RayActorError:
            pass  # the guardian is gone already
        self._stopping.set()
        self._gatherer.join(remaining(deadline))
        ray.kill(self._guardian, no_restart=True)
        self._terminated.set()
        alive = (self._gatherer.name,) if self._gatherer.is_alive() else ()
        report = ShutdownReport(stopped and not alive, () if stopped else ("/user",), alive)
        if not report.clean:
            logger.bind(system=self.name).warning("shutdown incomplete: {}", report)
        return report

    def __enter__(self) -> RaySystem:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown(self._shutdown_timeout)

    # -- plumbing ------------------------------------------------------------------------

    def _gather(self) -> None:
        """The office thread: dead letters and the system failure into this driver."""
        last = False
        while not last:
            last = self._stopping.is_set()  # one more drain after the stop
            try:
                items, failure = ray.get(
                    self._guardian.drain.remote(0.0 if last else DRAIN_WAIT), timeout=CALL_TIMEOUT
                )
            except Exception:  # noqa: BLE001 - the office is gone: nothing more will come
                return
            for recipient, message, reason in items:
                self._dead_letters.record(recipient, message, reason)
            if failure is not None and self._failure is None:
                path, error, message, hook = failure
                path, cause = root_cause(error, path)
                if not isinstance(cause, Exception):
                    cause = error
                self._failure = Failure(_PathRef(path), cause, message, hook)
                logger.bind(system=self.name).error("system stopped by {}: {!r}", path, error)


class _PathRef(RayActorRef[Any]):
    """A stand-in ref naming the actor of a system failure (its host may be gone)."""

    __slots__ = ()

    def __init__(self, path: str) -> None:  # no handle: only the path is known
        self._path = path
        self._handle = None
        self._outbox = None
        self._connection = None

    def __hash__(self) -> int:
        return hash(self._path)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _PathRef) and other._path == self._path

    def __repr__(self) -> str:
        return f"<RayActorRef {self._path} (gone)>"


def _graced(timeout: float | None) -> float | None:
    """How long to wait for an answer the guardian gives within ``timeout``."""
    return None if timeout is None else timeout + CALL_GRACE
