"""`SystemView`: a Ray-hosted system as any process of the cluster sees it.

What a system offers beyond the driver that created it: `spawn` (through the
``/user`` guardian host), `lookup` (Ray's named actors, in the system's
namespace) and `status_tree`. Inside a Ray-hosted actor, ``self.context.system``
is one; `RaySystem` (``_system.py``) is the driver's, which adds the dead
letters, the failure and `shutdown`.

Thread safety: every method may be called from any thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

from .._actor import Actor
from .._deadletters import DeadLetters
from .._errors import ActorSystemClosedError
from .._factory import actor_factory
from .._mailbox import DEFAULT_CAPACITY
from .._overflow import Overflow
from .._statistics import ShutdownReport
from .._status import StatusNode
from ._options import check_spawn
from ._ref import OFFICE, RayActorRef, convert_error

__all__ = ["CALL_TIMEOUT", "SystemView"]

#: Seconds a spawn, a lookup or a status query may take on the cluster.
CALL_TIMEOUT = 30.0


class SystemView:
    """A system of actors on a Ray cluster, seen from a process that joined it.

    Args:
        name: The system's name.
        namespace: Its Ray namespace (default ``backstage_threads.<name>``).

    Raises:
        RuntimeError: If Ray is not initialised in this process.
        ValueError: If the system has no ``/user`` actor in that namespace.
    """

    def __init__(self, name: str, namespace: str | None = None) -> None:
        self._setup(name, namespace)
        self._guardian: Any = ray.get_actor(OFFICE, namespace=self._namespace)
        self._closed = False

    def _setup(self, name: str, namespace: str | None) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"system name must be a non-empty str, got {name!r}")
        if not ray.is_initialized():
            raise RuntimeError(
                "Ray is not initialised in this process: call ray.init() (a local cluster) or "
                "ray.init(address='auto') (join a running one) before RaySystem(...)"
            )
        if namespace is not None and (not isinstance(namespace, str) or not namespace):
            raise ValueError(f"namespace must be a non-empty str or None, got {namespace!r}")
        self.name = name
        self._namespace = namespace or f"backstage_threads.{name}"

    @property
    def namespace(self) -> str:
        """The Ray namespace this system's actors are named in."""
        return self._namespace

    def spawn(
        self,
        factory: Callable[..., Actor[Any]],
        /,
        *args: Any,
        name: str | None = None,
        capacity: int | None = DEFAULT_CAPACITY,
        overflow: Overflow = Overflow.BLOCK,
        pinned: bool = False,
        kwargs: Mapping[str, Any] | None = None,
        ray_options: Mapping[str, Any] | None = None,
    ) -> RayActorRef[Any]:
        """Start a top-level actor under ``/user`` in a Ray actor of its own.

        As `ActorSystem.spawn`. The factory and its arguments are pickled
        (cloudpickle: classes defined in ``__main__`` or in a function work);
        ``pinned`` runs every turn on the host's own thread (unpinned, an ask
        to an idle actor runs on the thread that brought it);
        ``ray_options`` go to Ray's ``.options()`` (``num_cpus``, ``resources``,
        ``scheduling_strategy``...).

        Raises:
            TypeError, ValueError, DuplicateNameError: As `ActorSystem.spawn`.
            ActorSystemClosedError: If the system is shut down.
        """
        build = actor_factory(factory, args, kwargs)
        capacity, options = check_spawn(name, capacity, overflow, pinned, ray_options)
        if self._closed:
            raise ActorSystemClosedError(f"actor system {self.name!r} is shut down; cannot spawn")
        call = self._guardian.spawn_child.remote(build, name, capacity, overflow, options, pinned)
        ref: RayActorRef[Any] = self._get(call, "spawn")
        return ref

    def lookup(self, path: str) -> RayActorRef[Any] | None:
        """The live actor at ``path`` (such as ``/user/app/db``), from any process, or None.

        Raises:
            ValueError: If ``path`` is not an absolute path under ``/user``.
        """
        if not isinstance(path, str) or not path.startswith("/user"):
            raise ValueError(f"actor paths start with '/user', got {path!r}")
        parts = [p for p in path.split("/")[2:] if p]
        if path != "/user" + "".join("/" + p for p in parts) or not parts:
            raise ValueError(f"malformed actor path {path!r}: expected '/user/name/name...'")
        try:
            handle = ray.get_actor(path, namespace=self._namespace)
            alive: bool
            overflow: str
            capacity: int | None
            alive, _, overflow, capacity = ray.get(handle.describe.remote(), timeout=CALL_TIMEOUT)
        except (ValueError, RayActorError, GetTimeoutError):
            return None
        if not alive:
            return None
        return RayActorRef(handle, path, self._namespace, Overflow(overflow), capacity)

    def status_tree(self) -> StatusNode:
        """A snapshot of every actor's status, from ``/user`` down (asked of each host)."""
        node: StatusNode = self._get(self._guardian.status_node.remote(), "status_tree")
        return node

    @property
    def dead_letters(self) -> DeadLetters:
        """Raises: dead letters gather in the driver's `RaySystem`."""
        raise RuntimeError(
            f"the dead letters of {self.name!r} gather in the driver that created it "
            "(its system.dead_letters), not in a worker process"
        )

    def shutdown(self, timeout: float | None = None) -> ShutdownReport:
        """Raises: only the driver that created the system shuts it down."""
        raise RuntimeError("only the driver that created a RaySystem can shut it down")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} namespace={self._namespace!r}>"

    # -- plumbing ------------------------------------------------------------------------

    def _get(self, call: Any, what: str) -> Any:
        try:
            return ray.get(call, timeout=CALL_TIMEOUT)
        except GetTimeoutError:
            raise TimeoutError(
                f"{what} got no answer from the cluster in {CALL_TIMEOUT} s"
            ) from None
        except (RayTaskError, RayActorError) as error:
            converted = convert_error(error, "/user")
            if isinstance(converted, RayActorError):
                raise ActorSystemClosedError(f"actor system {self.name!r} is gone") from error
            raise converted from None
