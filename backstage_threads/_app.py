"""The application launcher: named actors with dependencies, started in order.

backstage writes ``[X, Y] -> Z`` for "X and Y need Z": Z starts first, X and Y
start once Z is Running, and they stop before Z. Here::

    app = Application("app")
    app.add("db", Database)
    app.add("api", Api, needs=["db"])
    app.run()            # blocks; SIGINT/SIGTERM shut it down gracefully

Components are children of one actor at ``/user/<app name>``.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._actor import Actor
from ._factory import Factory, actor_factory
from ._ref import ActorRef
from ._status import ServiceStatus
from ._system import ActorSystem
from ._validate import check_name, check_timeout

__all__ = ["Application"]

# The spawn options a component may set (its name is the component's name).
_SPAWN_OPTIONS = frozenset({"capacity", "overflow", "pinned"})


@dataclass(slots=True)
class _Component:
    name: str
    factory: Factory
    needs: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)


class _AppRoot(Actor[Any]):
    """The parent of an application's components; it takes no messages."""

    def receive(self, message: Any) -> Any:
        raise TypeError(f"an application's root takes no messages, got {message!r}")


class Application:
    """Compose an application from named actors and the actors they need.

    Thread safety: build it (`add`) on one thread; `start`, `stop` and `run`
    may then be called from any thread, one at a time.
    """

    def __init__(self, name: str = "app", *, system: ActorSystem | None = None) -> None:
        self.name = check_name(name)
        self._components: dict[str, _Component] = {}
        self._system = system
        self._own_system = system is None
        self._root: ActorRef[Any] | None = None
        self._refs: dict[str, ActorRef[Any]] = {}
        self._order: list[str] = []
        self._stop_requested = threading.Event()

    def add(
        self,
        name: str,
        factory: Callable[..., Actor[Any]],
        /,
        *args: Any,
        needs: Iterable[str] = (),
        kwargs: Mapping[str, Any] | None = None,
        **spawn_options: Any,
    ) -> Application:
        """Declare a component; ``needs`` names components that must run first.

        ``factory``, ``args`` and ``kwargs`` are as for ``spawn``:
        ``app.add("api", Api, "0.0.0.0", needs=["db"], kwargs={"port": 8080})``
        builds ``Api("0.0.0.0", port=8080)``. ``spawn_options`` are spawn's
        ``capacity``, ``overflow`` and ``pinned``.

        Raises:
            TypeError: If ``factory`` is a class that is not an `Actor` subclass
                or is not callable, or an option is not one of spawn's.
            ValueError: If ``name`` is invalid or already taken.
        """
        check_name(name)
        if name in self._components:
            raise ValueError(f"application {self.name!r} already has a component {name!r}")
        build = actor_factory(factory, args, kwargs, f"component {name!r}")
        if isinstance(needs, str):
            raise TypeError(f"needs must be a list of names, got the string {needs!r}")
        unknown = sorted(set(spawn_options) - _SPAWN_OPTIONS)
        if unknown:
            raise TypeError(
                f"component {name!r}: unknown spawn option(s) {', '.join(unknown)} "
                f"(allowed: {', '.join(sorted(_SPAWN_OPTIONS))}; constructor keyword "
                "arguments go in kwargs={...})"
            )
        self._components[name] = _Component(name, build, tuple(needs), dict(spawn_options))
        return self

    def order(self) -> list[str]:
        """The start order (dependencies first).

        Raises:
            ValueError: On an unknown dependency or a dependency cycle, naming it.
        """
        for component in self._components.values():
            for need in component.needs:
                if need not in self._components:
                    raise ValueError(
                        f"component {component.name!r} needs {need!r}, which is not in "
                        f"application {self.name!r} (known: {sorted(self._components)})"
                    )
        order: list[str] = []
        state: dict[str, int] = {}  # 1: on the current path, 2: placed

        def visit(name: str, path: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                cycle = [*path[path.index(name) :], name]
                raise ValueError(
                    f"dependency cycle in application {self.name!r}: {' -> '.join(cycle)}"
                )
            state[name] = 1
            for need in self._components[name].needs:
                visit(need, [*path, name])
            state[name] = 2
            order.append(name)

        for name in self._components:
            visit(name, [])
        return order

    @property
    def refs(self) -> dict[str, ActorRef[Any]]:
        """The running components' refs by name."""
        return dict(self._refs)

    def start(self, timeout: float | None = 10.0) -> dict[str, ActorRef[Any]]:
        """Start every component in dependency order; return their refs.

        Each component is spawned only when everything it needs is Running.

        Raises:
            ValueError: On an unknown dependency or a cycle (nothing is started).
            TimeoutError: If a component does not reach Running within
                ``timeout`` seconds; what started is stopped again.
        """
        order = self.order()
        timeout = check_timeout(timeout)
        if self._system is None:
            self._system = ActorSystem(self.name)
        root = self._root = self._system.spawn(_AppRoot, name=self.name)
        watcher = _StatusWatcher(self._system)
        try:
            for name in order:
                component = self._components[name]
                for need in component.needs:
                    watcher.wait_running(self._refs[need], timeout)
                self._refs[name] = root._cell.spawn(
                    component.factory, name=name, **component.options
                )
                self._order.append(name)
            for name in order:
                watcher.wait_running(self._refs[name], timeout)
        except BaseException:
            self.stop(timeout)
            raise
        finally:
            watcher.close()
        return dict(self._refs)

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop the components in reverse start order, then the app root.

        A system the application created itself (no ``system=``) is shut down too.
        """
        timeout = check_timeout(timeout)
        for name in reversed(self._order):
            ref = self._refs.pop(name)
            ref.stop()
            ref.wait_stopped(timeout)
        self._order.clear()
        if self._root is not None:
            self._root.stop()
            self._root.wait_stopped(timeout)
            self._root = None
        if self._own_system and self._system is not None:
            self._system.shutdown(timeout)  # no thread of ours outlives stop()
            self._system = None

    def request_stop(self) -> None:
        """Make `run` return (after a graceful stop); safe from any thread."""
        self._stop_requested.set()

    def run(self, timeout: float | None = 10.0) -> None:
        """Start, block until SIGINT/SIGTERM or `request_stop`, then stop gracefully."""
        previous: dict[signal.Signals, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.Signals.SIGINT, signal.Signals.SIGTERM):
                previous[signum] = signal.signal(signum, lambda *_: self.request_stop())
        try:
            self.start(timeout)
            # Wait in slices so the main thread gets to run signal handlers.
            while not self._stop_requested.wait(0.2):
                if self._system is not None and self._system.wait_terminated(0):
                    break
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self.stop(timeout)


class _StatusWatcher:
    """Waits for components to reach Running, via status subscriptions."""

    def __init__(self, system: ActorSystem) -> None:
        self._cond = threading.Condition()
        self._subscription = system.subscribe_status(self._changed)

    def _changed(self, ref: ActorRef[Any], old: ServiceStatus, new: ServiceStatus) -> None:
        with self._cond:
            self._cond.notify_all()

    def wait_running(self, ref: ActorRef[Any], timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while ref._cell.status is not ServiceStatus.RUNNING:
                if not ref.is_alive:
                    raise RuntimeError(f"{ref.path} stopped before it was Running")
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(
                        f"{ref.path} is {ref._cell.status.value}, not Running, after {timeout} s"
                    )
                self._cond.wait(remaining)

    def close(self) -> None:
        self._subscription.cancel()
