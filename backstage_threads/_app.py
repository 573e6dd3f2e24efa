"""The application launcher: named actors with dependencies, started in order.

backstage writes ``[X, Y] -> Z`` for "X and Y need Z": Z starts first, X and Y
start once Z is Running, and they stop before Z. Here::

    app = Application("app")
    app.add("db", Database)
    app.add("api", Api, needs=["db"])
    app.run()            # blocks; SIGINT/SIGTERM shut it down gracefully

Components are children of one actor at ``/user/<app name>``. A need may also
be a resource (a `ResourceKey` or a type) that another component publishes:
the component is then spawned at once and waits, Initializing and holding no
worker, until the resource is visible to it (the same start dependencies as an
actor class's ``needs``; see ``_cell/_resourcing``).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any

from ._actor import Actor, Root
from ._cell import ActorCell
from ._clock import remaining
from ._factory import Factory, actor_factory
from ._interrupt import interrupts
from ._ref import ActorRef
from ._resource_keys import check_key
from ._safe_wait import Latch, Notifier
from ._status import ServiceStatus
from ._status_server import StatusServer
from ._system import ActorSystem
from ._validate import check_name, check_timeout

if TYPE_CHECKING:
    from ._resource_keys import ResourceKey

__all__ = ["Application"]

#: Seconds between checks, while `Application.run` waits, that the system has not
#: stopped by itself (an escalation); a stop request or a signal wakes it at once.
_POLL_SYSTEM = 0.2
# The spawn options a component may set (its name is the component's name).
_SPAWN_OPTIONS = frozenset({"capacity", "overflow", "pinned"})


@dataclass(slots=True)
class _Component:
    name: str
    factory: Factory
    needs: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)


class Application:
    """Compose an application from named actors and the actors they need.

    Args:
        name: The application's name (its actors live under ``/user/<name>``).
        system: The system to run in (default: one of its own, shut down by `stop`).
        serve_status: A port to serve the status page on while the application
            runs (``0``: any free port; see `status_server` for its URL), as
            ``system.serve_status(port)`` does; None (the default) serves nothing.

    Thread safety: build it (`add`) on one thread; `start`, `stop` and `run`
    may then be called from any thread, one at a time.
    """

    def __init__(
        self,
        name: str = "app",
        *,
        system: ActorSystem | None = None,
        serve_status: int | None = None,
    ) -> None:
        self.name = check_name(name)
        if serve_status is not None and (
            isinstance(serve_status, bool) or not isinstance(serve_status, int)
        ):
            raise TypeError(f"serve_status must be a port (an int) or None, got {serve_status!r}")
        self._serve_status = serve_status
        self._status_server: StatusServer | None = None
        self._components: dict[str, _Component] = {}
        self._system = system
        self._own_system = system is None
        self._root: ActorRef[Any] | None = None
        self._refs: dict[str, ActorRef[Any]] = {}
        self._order: list[str] = []
        self._stop_requested = Latch()  # (not an Event: see _safe_wait.py)

    def add(
        self,
        name: str,
        factory: Callable[..., Actor[Any]],
        /,
        *args: Any,
        needs: Iterable[str | ResourceKey[Any] | type[Any]] = (),
        kwargs: Mapping[str, Any] | None = None,
        **spawn_options: Any,
    ) -> Application:
        """Declare a component; ``needs`` names components that must run first,
        or resources (`ResourceKey` objects, types) that must be published first.

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
        needs = tuple(needs)
        keys = tuple(check_key(need) for need in needs if not isinstance(need, str))
        if keys:
            build = _needing(build, keys)
        unknown = sorted(set(spawn_options) - _SPAWN_OPTIONS)
        if unknown:
            raise TypeError(
                f"component {name!r}: unknown spawn option(s) {', '.join(unknown)} "
                f"(allowed: {', '.join(sorted(_SPAWN_OPTIONS))}; constructor keyword "
                "arguments go in kwargs={...})"
            )
        names = tuple(need for need in needs if isinstance(need, str))
        self._components[name] = _Component(name, build, names, dict(spawn_options))
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
    def system(self) -> ActorSystem | None:
        """The system the application runs in (None before `start` of its own one)."""
        return self._system

    @property
    def status_server(self) -> StatusServer | None:
        """The status server while the application runs with ``serve_status``."""
        return self._status_server

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
        if self._serve_status is not None and self._status_server is None:
            try:
                self._status_server = self._system.serve_status(self._serve_status)
            except BaseException:
                self.stop(timeout)
                raise
        root = self._root = self._system.spawn(Root, name=self.name)
        watcher = _StatusWatcher(self._system)
        try:
            for name in order:
                component = self._components[name]
                for need in component.needs:
                    watcher.wait_running(self._refs[need], timeout)
                self._refs[name] = _context_of(root).spawn(
                    component.factory, name=name, **component.options
                )
                self._order.append(name)
            for name in order:
                watcher.wait_running(self._refs[name], timeout)
        except KeyboardInterrupt:  # Ctrl-C: the same announced, forceable stop as run's
            self._stop_saying("interrupted", "Ctrl-C again to force", timeout)
            raise
        except BaseException:
            self.stop(timeout)
            raise
        finally:
            watcher.close()
        return dict(self._refs)

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop the components in reverse start order, then the app root.

        A system the application created itself (no ``system=``) is shut down
        too. ``timeout`` bounds the whole stop: a component that does not stop
        in time is left behind (it was asked to stop) and the rest go on.
        """
        timeout = check_timeout(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        for name in reversed(self._order):
            ref = self._refs.pop(name)
            ref.stop()
            ref.wait_stopped(remaining(deadline))
        self._order.clear()
        if self._root is not None:
            self._root.stop()
            self._root.wait_stopped(remaining(deadline))
            self._root = None
        if self._status_server is not None:
            self._status_server.close(remaining(deadline))
            self._status_server = None
        if self._own_system and self._system is not None:
            self._system.shutdown(remaining(deadline))  # no thread of ours outlives stop()
            self._system = None

    def request_stop(self) -> None:
        """Make `run` return (after a graceful stop); safe from any thread."""
        self._stop_requested.set()

    def run(self, timeout: float | None = 10.0) -> None:
        """Start, block until Ctrl-C, SIGTERM or `request_stop`, then stop gracefully.

        ``timeout`` bounds the start and, separately, the stop. Called from the
        main thread, ``run`` handles signals the program has no handler of its
        own for, by the rules of ``with ActorSystem()``: the first Ctrl-C
        raises `KeyboardInterrupt` here, and ``run`` stops the application
        gracefully (saying so on stderr, and after a second what it still
        waits for) and re-raises it; a second Ctrl-C forces the exit with
        status 130. SIGTERM stops gracefully too, and ``run`` then returns.
        ``run`` also returns if the system stops by itself (an escalation).

        Raises:
            KeyboardInterrupt: After the graceful stop that Ctrl-C started.
            TimeoutError: If a component does not reach Running within ``timeout``.
        """
        timeout = check_timeout(timeout)
        terminated = Latch()
        guarded = interrupts.enter()
        previous_term = self._catch_sigterm(terminated)
        try:
            try:
                self.start(timeout)
                while not self._stop_requested.wait(_POLL_SYSTEM):
                    if self._system is not None and self._system.wait_terminated(0):
                        break
            except KeyboardInterrupt:
                self._stop_saying("interrupted", "Ctrl-C again to force", timeout)
                raise
            except BaseException:
                self.stop(timeout)
                raise
            if terminated.is_set():
                self._stop_saying("terminated (SIGTERM)", "Ctrl-C to force", timeout)
            else:
                self.stop(timeout)
        finally:
            if previous_term is not None and signal.getsignal(signal.SIGTERM) is previous_term[1]:
                signal.signal(signal.SIGTERM, previous_term[0])
            interrupts.leave(guarded)

    def _catch_sigterm(self, terminated: Latch) -> tuple[Any, Any] | None:
        """Make SIGTERM request a graceful stop; ``(previous, ours)``, or None if not ours."""
        if threading.current_thread() is not threading.main_thread():
            return None
        previous = signal.getsignal(signal.SIGTERM)
        if previous is not signal.SIG_DFL:
            return None  # the program's own handler (or SIG_IGN): leave it alone

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            terminated.set()
            self.request_stop()

        signal.signal(signal.SIGTERM, on_sigterm)
        return previous, on_sigterm

    def _stop_saying(self, reason: str, hint: str, timeout: float | None) -> None:
        """`stop`, announced on stderr, reporting what it waits for if it drags."""
        system = self._system
        if self._root is None and not (self._own_system and system is not None):
            self.stop(timeout)  # nothing left running (start already stopped it)
            return
        prefix = f"/user/{self.name}"

        def waiting_for() -> list[str]:
            if system is None:
                return []
            paths = system._waiting_for()
            return [p for p in paths if p == prefix or p.startswith(prefix + "/")] or list(paths)

        with interrupts.stopping(f"application {self.name!r}", waiting_for, timeout, reason, hint):
            self.stop(timeout)


class _StatusWatcher:
    """Waits for components to reach Running, via status subscriptions."""

    def __init__(self, system: ActorSystem) -> None:
        # Not a Condition: a Ctrl-C in its wait turned into RuntimeError (see
        # _safe_wait.py; seen in the double-Ctrl-C stress test on 3.13t).
        self._changed = Notifier()
        self._subscription = system.subscribe_status(self._status_changed)

    def _status_changed(self, ref: ActorRef[Any], old: ServiceStatus, new: ServiceStatus) -> None:
        self._changed.notify_all()

    def wait_running(self, ref: ActorRef[Any], timeout: float | None) -> None:
        def settled() -> bool:
            return ref.status is ServiceStatus.RUNNING or not ref.is_alive

        self._changed.wait_until(settled, timeout)
        if ref.status is ServiceStatus.RUNNING:
            return
        if not ref.is_alive:
            raise RuntimeError(f"{ref.path} stopped before it was Running")
        raise TimeoutError(f"{ref.path} is {ref.status.value}, not Running, after {timeout} s")

    def close(self) -> None:
        self._subscription.cancel()


def _needing(build: Factory, keys: tuple[object, ...]) -> Factory:
    """``build``, whose actors also need ``keys`` before they start."""

    def make() -> Actor[Any]:
        actor = build()
        if isinstance(actor, Actor):  # (anything else fails the start as usual)
            actor.needs = (*actor.needs, *keys)  # type: ignore[arg-type]
        return actor

    return make


def _context_of(root: ActorRef[Any]) -> ActorCell:
    """The application root's cell, to spawn the components under it.

    (The root takes no messages and runs no code of its own, so spawning its
    children from the launcher's thread races with nothing; `ActorContext.spawn`
    takes the parent's guard.)
    """
    cell = root._cell
    assert isinstance(cell, ActorCell)  # a thread-backend ref always holds a cell
    return cell
