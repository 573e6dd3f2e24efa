"""Children, supervision and death watch of a host (a mixin of `Host`).

Children. A host creates its children's Ray actors itself, so Ray makes it
their owner: if its process dies, they die with it (the parent's restart would
have stopped them anyway). Each child gets one long-poll ``until_stopped`` call
from its parent, whose end says how the child ended: a stop reason (it stopped;
the parent removes it and kills its idle Ray actor) or a Ray error. An
`ActorUnavailableError` means its process died and Ray is re-creating it: that
is a failure of the child (hook ``"process"``) for the parent's strategy, and
the parent records the lost mailbox as a `LostMailbox` dead letter, then polls
again once the child is back (one death, one failure). An `ActorDiedError`
means it is gone for good (no restart possible).

Supervision is the thread backend's own: the parent's ``on_child_failure``
(by default its `SupervisorStrategy`'s ``handle``, with the decider, scope,
intensity limit and `RestartAfter` backoff of ``_supervision.py``) acts on a
`Child` record through the `Supervised` Protocol and on the host through the
`Supervisor` Protocol; each order becomes a `Directive` or `Stop` control item
sent to the child's host. A dead process is a failure with hook ``"process"``:
RESUME then builds a new instance, as for a failed factory.

Death watch: ``context.watch(ref)`` holds one ``until_stopped`` call to the
target; its end delivers `Terminated` (with the stop reason, or the Ray
error's when the Ray actor is dead), except that an `ActorUnavailableError`
(the process died, a restart is under way) re-arms the call once the actor is
back (`_when_back`): a process death that the supervisor restarts is not a
termination, as a restart is not.

Thread safety: ``_family_lock`` guards ``children`` and ``watches``; every
other step runs in a turn of the actor (control items on the turn thread; a
``receive`` that spawns or watches may run on a Ray thread, in a caller-runs
turn, ``_turns.py``), except `spawn`, which may also run on a thread of the
host's query group (spawns from the driver).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import ray
from ray.exceptions import ActorUnavailableError, GetTimeoutError, RayActorError

from .._actor import Root
from .._errors import ActorFailedError, ActorStoppedError, DuplicateNameError
from .._overflow import Overflow
from .._signals import Terminated
from .._supervision import Failure, Supervised, Supervisor
from ._child import Child
from ._ref import RayActorRef
from ._spec import ChildFailed, ChildGone, HostSpec, LostMailbox, Stop, WatchFired
from ._state import HostState

if TYPE_CHECKING:
    from .._factory import Factory

__all__ = ["Family"]

#: Seconds a spawn waits for a stopped namesake's Ray actor to be gone.
NAME_WAIT = 10.0
#: Seconds a stopped host may take to answer its last calls before it is killed.
QUIESCE = 5.0


class _AsSupervisor:
    """A host as its strategy sees it (the `Supervisor` Protocol)."""

    __slots__ = ("_host",)

    def __init__(self, host: Family) -> None:
        self._host = host

    @property
    def _path(self) -> str:
        return self._host.spec.path

    @property
    def _restart_log(self) -> list[float] | None:
        return self._host.restart_log

    @_restart_log.setter
    def _restart_log(self, log: list[float] | None) -> None:
        self._host.restart_log = log

    def _child_cells(self) -> Sequence[Supervised]:
        return self._host.child_records()

    def _now(self) -> float:
        return time.monotonic()

    def _schedule(self, delay: float, callback: Callable[[], object]) -> object:
        return self._host.timers.schedule(delay, callback)


class Family(HostState):
    """The children-and-watches half of `Host`."""

    children: dict[str, Child]
    watches: dict[str, RayActorRef[Any]]

    def init_family(self) -> None:
        # Guards children, watches, _uid and _closing.
        self._family_lock = threading.Lock()
        self.children = {}
        self.watches = {}
        self._uid = 0
        self._closing = False
        self.restart_log: list[float] | None = None

    def child_records(self) -> list[Child]:
        with self._family_lock:
            return list(self.children.values())

    # -- spawning ------------------------------------------------------------------------

    def spawn(
        self,
        factory: Factory,
        name: str | None,
        capacity: int | None,
        overflow: Overflow,
        options: dict[str, Any],
        pinned: bool = False,
    ) -> RayActorRef[Any]:
        spec = self.spec
        ray_options = {"max_restarts": -1, "max_task_retries": 0, **options}
        for attempt in range(2):
            with self._family_lock:
                if self._closing or self.state in ("stopping", "stopped"):
                    raise ActorStoppedError(f"{spec.path} is stopping; cannot spawn")
                if name is None:
                    self._uid += 1
                    name = f"${self._uid}"
                if name in self.children:
                    raise DuplicateNameError(f"{spec.path} already has a child named {name!r}")
                path = f"{spec.path}/{name}"
                child_spec = HostSpec(
                    spec.namespace, spec.system, path, factory, capacity, overflow, self.ref,
                    spec.child_stop_timeout, pinned=pinned,
                )  # fmt: skip
                try:
                    handle = self.host_actor.options(
                        name=path, namespace=spec.namespace, **ray_options
                    ).remote(child_spec)
                except ValueError as error:
                    taken = error
                else:
                    child = Child(
                        RayActorRef(handle, path, spec.namespace, overflow, capacity), handle
                    )
                    self.children[name] = child
                    break
            # The name is still held by a stopped child on its way out (a
            # restart re-creates its children under the same names): wait.
            if attempt or not _wait_gone(path, spec.namespace, NAME_WAIT):
                raise DuplicateNameError(f"a Ray actor named {path!r} already exists") from taken
        self._poll(child.ref.name, child)
        return child.ref

    def _poll(self, name: str, child: Child) -> None:
        actor_id = child.handle._actor_id.hex()
        call = child.handle.until_stopped.remote()
        call.future().add_done_callback(
            lambda done: self.mailbox.control(ChildGone(name, actor_id, _outcome(done)))
        )

    def _when_back(
        self, handle: Any, then: Callable[[], None], gone: Callable[[object], object]
    ) -> None:
        """Run ``then`` (a turn's control item) once a restarting actor is alive again.

        After a process death Ray restarts the actor, and with
        ``max_task_retries=0`` a call made meanwhile fails at once ("the actor
        is restarting", Ray's PR 22818): a poll armed again at once failed so,
        again and again until the restart was done, and each failure counted
        as one more death of the child (seen: two restarts for one lost node).
        ``describe`` (idempotent, never waits) with retries is instead queued
        by Ray until the actor is alive; if it never will be, ``gone`` makes
        the control item for the error.
        """

        def back(done: Any) -> None:
            error = done.exception()
            self.mailbox.control(then if error is None else gone(error))

        try:
            handle.describe.options(max_task_retries=-1).remote().future().add_done_callback(back)
        except Exception as error:  # noqa: BLE001 - Ray refused the call: the actor is gone
            self.mailbox.control(gone(error))

    def stop_children(self, reason: str) -> None:
        """Stop every child and wait for them (at most ``child_stop_timeout``)."""
        with self._family_lock:
            children = list(self.children.values())
            self.children.clear()
        calls: dict[Any, Child] = {}
        for child in children:
            try:
                child.handle.control.remote(Stop(reason))
                calls[child.handle.until_stopped.remote(self.spec.child_stop_timeout)] = child
            except Exception:  # noqa: BLE001 - already gone
                pass
        finished: list[Any] = []
        if calls:
            finished, _ = ray.wait(
                list(calls), num_returns=len(calls), timeout=self.spec.child_stop_timeout
            )
        # Let those that stopped answer their last calls, then free every name.
        quiet = [calls[call].handle.quiesce.remote(QUIESCE) for call in finished]
        if quiet:
            ray.wait(quiet, num_returns=len(quiet), timeout=QUIESCE)
        for child in children:
            _kill(child.handle)

    def _release(self, handle: Any) -> None:
        """Kill a stopped child's Ray actor once the calls made to it are answered.

        (Ray's graceful ``exit_actor`` would keep the name of a restartable
        actor taken; ``ray.kill`` frees it at once, hence the wait before it.)
        The kill runs on the turn thread: a Ray call inside a Ray future's
        callback (Ray's own I/O thread) would deadlock this process's worker.
        """

        def later(_: object) -> None:
            self.mailbox.control(lambda: _kill(handle))

        try:
            handle.quiesce.remote(QUIESCE).future().add_done_callback(later)
        except Exception:  # noqa: BLE001 - already gone
            pass

    # -- supervision ---------------------------------------------------------------------

    def child_failed(self, report: ChildFailed) -> None:
        with self._family_lock:
            child = self.children.get(report.name)
        if child is not None:
            failure = Failure(child.supervised, report.error, report.message, report.hook)
            self._supervise(failure, child)

    def child_gone(self, gone: ChildGone) -> None:
        with self._family_lock:
            child = self.children.get(gone.name)
            if child is None or child.handle._actor_id.hex() != gone.actor_id:
                return  # already removed (stopped by us, or replaced)
            if not isinstance(gone.outcome, ActorUnavailableError):
                del self.children[gone.name]
        if isinstance(gone.outcome, ActorUnavailableError):
            error = ActorFailedError(
                f"the process hosting {child.ref.path} died ({gone.outcome})", path=child.ref.path
            )
            error.__cause__ = gone.outcome
            self.dead_letters.record(
                child.ref,
                LostMailbox(child.ref.path, str(gone.outcome).split("\n", 1)[0]),
                "actor process died: the message in hand and the queued messages were lost",
            )
            self._supervise(Failure(child.supervised, error, None, "process"), child)
            name, actor_id = gone.name, gone.actor_id
            self._when_back(
                child.handle,
                lambda: self._poll(name, child),
                lambda error: ChildGone(name, actor_id, error),
            )
        else:
            self._release(child.handle)

    def _supervise(self, failure: Failure, child: Child) -> None:
        """The actor's ``on_child_failure`` (by default its strategy's ``handle``)."""
        actor = self.actor
        if actor is None:  # a supervisor with no instance (its factory failed): default
            actor = Root()
            actor._context = self.context
        if self.spec.parent is None:
            actor.supervisor_strategy = self.spec.strategy
        try:
            actor.on_child_failure(failure)
        except ActorFailedError as error:  # the strategy escalated
            self._fail(error, None, "child")
        except Exception as error:  # noqa: BLE001 - a bad decider fails the supervisor
            self._fail(error, None, "supervisor")

    def as_supervisor(self) -> Supervisor:
        return _AsSupervisor(self)

    # -- death watch ---------------------------------------------------------------------

    def watch(self, ref: RayActorRef[Any]) -> None:
        key = ref._handle._actor_id.hex()
        with self._family_lock:
            if key in self.watches:
                return
            self.watches[key] = ref
        self._arm_watch(key, ref)

    def _arm_watch(self, key: str, ref: RayActorRef[Any]) -> None:
        call = ref._handle.until_stopped.remote()
        call.future().add_done_callback(
            lambda done: self.mailbox.control(WatchFired(key, _outcome(done)))
        )

    def _rearm_watch(self, key: str) -> None:
        with self._family_lock:
            target = self.watches.get(key)
        if target is not None:  # (not unwatched meanwhile)
            self._arm_watch(key, target)

    def unwatch(self, ref: RayActorRef[Any]) -> None:
        with self._family_lock:
            self.watches.pop(ref._handle._actor_id.hex(), None)

    def unwatch_all(self) -> None:
        with self._family_lock:
            self.watches.clear()

    def watch_fired(self, fired: WatchFired) -> None:
        with self._family_lock:
            ref = self.watches.get(fired.actor_id)
            if ref is None:
                return
            if isinstance(fired.outcome, ActorUnavailableError):
                ref = None  # restarting: keep watching
            else:
                del self.watches[fired.actor_id]
        if ref is None:
            target = self.watches.get(fired.actor_id)
            if target is not None:
                key = fired.actor_id
                self._when_back(
                    target._handle,
                    lambda: self._rearm_watch(key),
                    lambda error: WatchFired(key, error),
                )
            return
        outcome = fired.outcome
        reason = outcome if isinstance(outcome, str) else f"its Ray actor died ({outcome})"
        self.deliver(Terminated(ref, reason.split("\n", 1)[0]))


def _outcome(done: Any) -> object:
    """A finished ``until_stopped`` call: the reason, or the Ray error."""
    error = done.exception()
    return error if error is not None else done.result()


def _wait_gone(path: str, namespace: str, timeout: float) -> bool:
    """Wait until no live Ray actor holds ``path``; False if one still runs.

    A stopped host that was told to exit answers calls until it is gone, so
    this asks it again (each round is a real call, not a sleep) until Ray says
    it is dead and its name is free.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            old = ray.get_actor(path, namespace=namespace)
        except ValueError:
            return True
        try:
            alive: bool
            alive, _, _, _ = ray.get(old.describe.remote(), timeout=deadline - time.monotonic())
        except RayActorError:
            continue  # dead: the name is released with it
        except GetTimeoutError:
            return False
        if alive:
            return False  # a live actor really has the name
        try:
            ray.get(old.quiesce.remote(QUIESCE), timeout=max(0.0, deadline - time.monotonic()))
        except (RayActorError, GetTimeoutError):
            pass
        _kill(old)
    return False


def _kill(handle: Any) -> None:
    try:
        ray.kill(handle, no_restart=True)
    except Exception:  # noqa: BLE001 - already dead
        pass
