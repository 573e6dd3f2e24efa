"""How an actor system is left: the end of a ``with`` block, and the interpreter's exit.

Leaving ``with ActorSystem()`` shuts the system down within its
``shutdown_timeout``; after a Ctrl-C that stop is announced and can be forced
(see ``_interrupt.py``). If a failure escalated to the top and stopped the
system, leaving the block raises an `ActorFailedError` naming the actor that
failed first and its error, chained to that error, unless the block is already
raising (its exception is not replaced).

Forgotten systems:
    A script that never calls ``shutdown()`` (nor leaves a ``with
    ActorSystem()`` block) must still exit. As `concurrent.futures.thread` does,
    one hook is registered at import with ``threading._register_atexit``, which
    runs when the main thread has finished and *before* the interpreter joins
    non-daemon threads (a plain `atexit` hook runs after that join, too late).
    Each system adds itself to a weak set when it starts and drops out when its
    shutdown returns. At exit the hook warns with a `ResourceWarning` naming
    each system that was never shut down (as an unclosed file does; shown with
    ``-W always::ResourceWarning`` or ``-X dev``) and shuts every one still in
    the set down gracefully, bounded by its ``shutdown_timeout``, one after the
    other. Ctrl-C during that stop forces the exit (see ``_interrupt.py``).
    Python 3.12 starts no new thread that late in the exit, so that stop reports
    from the main thread and a timer it would need stays unfired (the stop is
    bounded anyway).

Why the system's threads are daemon threads:
    The explicit shutdown (``shutdown()``, ``with``, or this hook) closes,
    wakes and joins every thread with a timeout, and that is what stops them
    in every normal case. But a join with a timeout cannot stop a thread that
    user code holds: an actor blocked for ever in ``receive`` (a
    ``time.sleep(3600)``, a ``lock.acquire()`` with no timeout). Such a thread
    outlives the bounded shutdown, and a non-daemon thread would then hang the
    interpreter's final join for ever, the hang this module exists to remove
    (`concurrent.futures` accepts it: its hook joins workers with no timeout).
    The other ways out are worse: ``os._exit`` from the hook skips every other
    exit handler and buffered output, and removing a thread from CPython's
    shutdown bookkeeping relies on private details that changed in 3.13. So
    worker, pinned, timer and event-loop threads are daemon threads: the
    daemon flag is the last resort behind the explicit, bounded shutdown, not
    a replacement for it, and it only ever decides anything for a thread that
    was still stuck in user code after the shutdown gave up on it.

Module-level state: the set of live systems is process-wide by nature (there
is one interpreter exit), the package's one exception to "each system owns its
state" besides the SIGINT handler.

This module is a part of `ActorSystem` kept apart (like one of Akka's
``dungeon`` traits of the actor cell): `leave_block` is the system's
``__exit__`` and `close_at_exit` its ``_close_at_exit``. It reads the system
through `Exiting`, declared here, so it sits below the system module.
"""

from __future__ import annotations

import atexit
import threading
import time
import warnings
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from ._clock import remaining
from ._errors import ActorFailedError, root_cause
from ._interrupt import REPORT_AFTER, interrupts, say_still_stopping

if TYPE_CHECKING:
    from ._supervision import Failure

__all__ = ["Exiting", "close_at_exit", "leave_block", "track", "untrack"]


class Exiting(Protocol):
    """An actor system, as leaving ``with`` and the exit hook need it."""

    @property
    def name(self) -> str: ...
    @property
    def _shutdown_timeout(self) -> float | None: ...
    @property
    def _shutdown_started(self) -> bool: ...
    @property
    def _failure(self) -> Failure | None: ...
    @property
    def _stop_cause(self) -> ActorFailedError | None: ...

    # Whether __enter__ routed Ctrl-C through the interrupt guard.
    _guarded: bool

    def shutdown(self, timeout: float | None) -> object: ...
    def _close_at_exit(self) -> None: ...
    def _waiting_for(self) -> tuple[str, ...]:
        """Live actors with no live child: the ones a stopping system waits on."""
        ...

    def _begin_stop(self, reason: str) -> None:
        """Refuse new actors and ask /user to stop; returns at once."""
        ...

    def _wait_root_stopped(self, timeout: float | None) -> bool: ...


# Guards _live: systems are created and shut down on any thread.
_lock = threading.Lock()
# Systems started and not yet shut down. Weak, so that the set never keeps a
# system alive; a system with running threads is referenced by them anyway.
_live: weakref.WeakSet[Exiting] = weakref.WeakSet()


def track(system: Exiting) -> None:
    """Shut ``system`` down at exit unless `untrack` is called first."""
    with _lock:
        _live.add(system)


def untrack(system: Exiting) -> None:
    """``system`` has shut down: nothing to do for it at exit."""
    with _lock:
        _live.discard(system)


def leave_block(
    system: Exiting,
    exc_type: type[BaseException] | None,
    exc: BaseException | None,
    tb: TracebackType | None,
) -> None:
    """Shut down within ``shutdown_timeout``; `ActorSystem.__exit__` is this function.

    Raises:
        ActorFailedError: If a failure escalated to the top and stopped the
            system (`ActorSystem.failure`) and the body is not already raising;
            its message names the actor that failed first and its error, and
            its ``__cause__`` is that original error.
    """
    timeout = system._shutdown_timeout
    try:
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            what = f"actor system {system.name!r}"
            with interrupts.stopping(what, system._waiting_for, timeout):
                system.shutdown(timeout)
        else:
            system.shutdown(timeout)
    finally:
        interrupts.leave(system._guarded)
        system._guarded = False
    failure, stop = system._failure, system._stop_cause
    if exc_type is None and failure is not None and stop is not None:
        path, cause = root_cause(failure.error, failure.child.path)
        raise ActorFailedError(str(stop), path=path) from cause


def close_at_exit(system: Exiting) -> None:
    """Warn about ``system`` if it was never shut down, and shut it down (main thread)."""
    if not system._shutdown_started:
        warnings.warn(
            f"actor system {system.name!r} was never shut down; shutting it down at "
            "interpreter exit (call shutdown() or use 'with ActorSystem()')",
            ResourceWarning,
            stacklevel=1,
            source=system,
        )
    what = f"actor system {system.name!r} at exit"
    timeout = system._shutdown_timeout
    deadline = None if timeout is None else time.monotonic() + timeout
    entered = interrupts.enter()
    try:
        with interrupts.stopping(what, system._waiting_for, timeout, reason=None) as watched:
            if watched:
                system.shutdown(timeout)
                return
            # No watcher thread (Python 3.12 starts none this late): report from here.
            system._begin_stop("actor system shut down at interpreter exit")
            stopped = system._wait_root_stopped(_shorter(REPORT_AFTER, deadline))
            left = remaining(deadline)
            if not stopped and (left is None or left > 0):
                say_still_stopping(what, system._waiting_for(), left)
            system.shutdown(left)
    finally:
        interrupts.leave(entered)


def _close_forgotten() -> None:
    with _lock:
        systems = list(_live)
    errors: list[Exception] = []
    for system in systems:
        try:
            system._close_at_exit()
        except Exception as exc:  # noqa: BLE001 - shut the others down, then raise it
            errors.append(exc)
    if errors:
        raise errors[0]


def _shorter(seconds: float, deadline: float | None) -> float:
    left = remaining(deadline)
    return seconds if left is None else min(seconds, left)


def _register() -> None:
    # threading._register_atexit is private but is what concurrent.futures
    # uses (3.9+); without it, a plain atexit hook still runs (after the join
    # of non-daemon threads, which ours are not).
    register: Callable[[Callable[[], None]], None] | None = getattr(
        threading, "_register_atexit", None
    )
    if register is None:
        atexit.register(_close_forgotten)
        return
    try:
        register(_close_forgotten)
    except RuntimeError:  # imported while the interpreter is already exiting
        atexit.register(_close_forgotten)


_register()
