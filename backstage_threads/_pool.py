"""Pools: N identical children of one actor, behind one `Pool` handle that routes.

`spawn_pool` starts a `PoolActor` (under a system or an actor context) that
spawns, watches and supervises the routees like any children. The `Pool` it
returns routes each message on the sender's thread, with its `Routing`,
straight to a routee (an ask's reply comes straight back from it, as Akka's
routers forward with the original sender). Messages sent to the pool actor's
own ref are routed by the pool actor in its turn.

The routee table is shared between the pool actor (the only writer, in its
turns) and the senders: a tuple replaced whole (one atomic store), read without
a lock; senders waiting for the first routees park on `_Routees._changed`. A
routee that stops (its supervisor's STOP, say) leaves the table; when the last
one has gone the pool stops itself. Resizing down takes routees out of the
table first and stops each once its mailbox is empty, so what it already holds
is still processed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from ._actor import Actor, Spawning
from ._clock import remaining
from ._errors import ActorStoppedError, AskTimeoutError
from ._factory import actor_factory
from ._local import current
from ._mailbox import DEFAULT_CAPACITY
from ._overflow import Overflow
from ._ref import ActorRef
from ._routing import RoundRobin, Routing
from ._safe_wait import Notifier
from ._signals import Terminated
from ._validate import check_name, check_positive_int, check_timeout

if TYPE_CHECKING:
    from ._supervision import SupervisorStrategy

__all__ = ["Pool", "PoolActor", "spawn_pool"]

#: Seconds between checks of a retired routee's mailbox, while a pool shrinks.
_REAP_EVERY = 0.01


class _Routees:
    """The live routees, shared by a pool actor and its senders."""

    def __init__(self) -> None:
        # Wakes senders waiting for routees after `current` or `closed` changed
        # (a Notifier, not a Condition: a Ctrl-C in the wait must stay one, see
        # _safe_wait.py). Only the pool actor's turns write the two fields.
        self._changed = Notifier()
        self.current: tuple[ActorRef[Any], ...] = ()
        self.closed = False

    def set(self, routees: tuple[ActorRef[Any], ...], closed: bool = False) -> None:
        self.current = routees
        self.closed = closed
        self._changed.notify_all()

    def wait(self, timeout: float | None, path: str) -> tuple[ActorRef[Any], ...]:
        if not self._changed.wait_until(lambda: bool(self.current or self.closed), timeout):
            raise AskTimeoutError(f"pool {path} had no routee within {timeout} s")
        current = self.current
        if not current:
            raise ActorStoppedError(f"pool {path} has stopped")
        return current


@dataclass(frozen=True, slots=True)
class _Resize:
    size: int


@dataclass(frozen=True, slots=True)
class _Reap:
    pass


class _Depth(Protocol):
    def depth(self) -> int: ...


class PoolActor(Actor[Any]):
    """The parent of a pool's routees (see `spawn_pool`)."""

    def __init__(
        self,
        build: Callable[[], Actor[Any]],
        size: int,
        routing: Routing,
        table: _Routees,
        options: Mapping[str, Any],
        strategy: SupervisorStrategy | None,
        prefix: str = "routee",
    ) -> None:
        self._prefix = prefix
        self._build = build
        self._size = size
        self._routing = routing
        self._table = table
        self._options = options
        self._serial = 0
        self._retired: list[ActorRef[Any]] = []
        if strategy is not None:
            self.supervisor_strategy = strategy

    def on_start(self) -> None:
        self._table.set(tuple(self._spawn() for _ in range(self._size)))

    def _spawn(self) -> ActorRef[Any]:
        ref = self.context.spawn(
            self._build, name=f"{self._prefix}-{self._serial}", **self._options
        )
        self._serial += 1
        self.context.watch(ref)
        return ref

    def receive(self, message: Any) -> Any:
        routees = self._table.current
        if isinstance(message, Terminated):
            left = tuple(r for r in routees if r != message.ref)
            self._table.set(left)
            if message.ref in self._retired:
                self._retired.remove(message.ref)
            elif not left and not self._retired:
                self.context.stop()  # every routee has gone: so does the pool
            return None
        if isinstance(message, _Resize):
            return self._resize(message.size)
        if isinstance(message, _Reap):
            for ref in list(self._retired):
                if cast(_Depth, ref._cell).depth() == 0:
                    self.context.stop(ref)
            if any(r.is_alive for r in self._retired):
                self.context.send_after(_REAP_EVERY, _Reap())
            return None
        if not routees:
            raise ActorStoppedError(f"pool {self.context.path} has no routee for {message!r}")
        self._routing.choose(message, routees).tell(message)
        return None

    def _resize(self, size: int) -> int:
        routees = self._table.current
        if size > len(routees):
            self._table.set(routees + tuple(self._spawn() for _ in range(size - len(routees))))
        elif size < len(routees):
            self._table.set(routees[:size])
            self._retired.extend(routees[size:])
            self.context.send_after(0.0, _Reap())
        return size

    def on_stop(self) -> None:
        self._table.set((), closed=True)


class Pool:
    """N routees behind one handle: `tell`, `ask`, `broadcast`, `resize`.

    Thread safety: every method may be called from any thread.
    """

    def __init__(self, ref: ActorRef[Any], routing: Routing, table: _Routees) -> None:
        self.ref = ref  # the pool actor (its tells are routed too)
        self._routing = routing
        self._table = table

    @property
    def path(self) -> str:
        """The pool actor's path."""
        return self.ref.path

    @property
    def routees(self) -> tuple[ActorRef[Any], ...]:
        """The routees messages go to now."""
        return self._table.current

    def _choose(self, message: object, timeout: float | None) -> ActorRef[Any] | None:
        routees = self._table.current
        if not routees:
            if current.on_worker or current.cell is not None:
                return None  # never wait on a worker: the pool actor routes it later
            routees = self._table.wait(timeout, self.path)
        return self._routing.choose(message, routees)

    def tell(self, message: object, *, timeout: float | None = None) -> None:
        """Send ``message`` to the routee the routing picks (as `ActorRef.tell`)."""
        timeout = check_timeout(timeout)
        routee = self._choose(message, timeout)
        (routee or self.ref).tell(message, timeout=timeout)

    def tell_nowait(self, message: object) -> None:
        """As `tell`, raising `MailboxFullError` at once if the routee is full."""
        routee = self._choose(message, 0.0)
        (routee or self.ref).tell_nowait(message)

    def ask(self, message: object, *, timeout: float | None = None) -> Any:
        """Ask the routee the routing picks; its reply (as `ActorRef.ask`)."""
        timeout = check_timeout(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        routees = self._table.current or self._table.wait(timeout, self.path)
        routee = self._routing.choose(message, routees)
        left = remaining(deadline)
        return routee.ask(message, timeout=left)

    def ask_future(self, message: object) -> Future[Any]:
        """Ask the routee the routing picks; a `concurrent.futures.Future` of its reply."""
        routees = self._table.current or self._table.wait(None, self.path)
        return self._routing.choose(message, routees).ask_future(message)

    def broadcast(self, message: object, *, timeout: float | None = None) -> int:
        """Send ``message`` to every routee; how many it went to."""
        routees = self._table.current
        if not routees and not (current.on_worker or current.cell is not None):
            routees = self._table.wait(check_timeout(timeout), self.path)
        for routee in routees:
            routee.tell(message, timeout=timeout)
        return len(routees)

    def resize(self, size: int, *, timeout: float | None = None) -> None:
        """Grow or shrink to ``size`` routees (shrinking lets each drain first)."""
        check_positive_int(size, "pool size")
        self.ref.ask(_Resize(size), timeout=timeout)

    def stop(self) -> None:
        """Stop the pool and its routees (what they hold becomes dead letters)."""
        self.ref.stop()

    def wait_stopped(self, timeout: float | None = None) -> bool:
        return self.ref.wait_stopped(timeout)

    def __repr__(self) -> str:
        return f"<Pool {self.path} routees={len(self._table.current)}>"


def spawn_pool(
    parent: Spawning,
    factory: Callable[..., Actor[Any]],
    /,
    *args: Any,
    size: int,
    routing: Routing | None = None,
    name: str | None = None,
    kwargs: Mapping[str, Any] | None = None,
    capacity: int | None = DEFAULT_CAPACITY,
    overflow: Overflow = Overflow.BLOCK,
    pinned: bool = False,
    supervisor_strategy: SupervisorStrategy | None = None,
    timeout: float | None = 10.0,
    routee_name: str = "routee",
) -> Pool:
    """Start a pool of ``size`` actors built as ``spawn(factory, *args, kwargs=...)``.

    ``parent`` is a system (a top-level pool) or an actor's context (a child
    pool). The routees get ``capacity``, ``overflow`` and ``pinned``; the pool
    actor supervises them with ``supervisor_strategy`` (default: restart).
    They are called ``<routee_name>-0``, ``-1``... (new ones count on).
    ``routing`` defaults to `RoundRobin`. Called from a plain thread, it
    returns once the routees are spawned (waiting at most ``timeout``
    seconds); from an actor's turn it never waits, and messages sent before
    the routees exist go through the pool actor, which routes them.

    Raises:
        ValueError: If ``size`` is not an int >= 1.
        AskTimeoutError: If the routees are not there within ``timeout``.
        TypeError: If ``factory`` is a class that is not an `Actor` subclass.
    """
    check_positive_int(size, "pool size")
    check_name(routee_name)
    routing = RoundRobin() if routing is None else routing
    build = actor_factory(factory, args, kwargs, "spawn_pool")
    table = _Routees()
    options = {"capacity": capacity, "overflow": overflow, "pinned": pinned}
    ref = parent.spawn(
        PoolActor, build, size, routing, table, options, supervisor_strategy, routee_name, name=name
    )
    if not (current.on_worker or current.cell is not None):
        table.wait(check_timeout(timeout), ref.path)
    return Pool(ref, routing, table)
