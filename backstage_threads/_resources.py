"""Scoped resources: typed keys, the messages they deliver, and the registry a system owns.

An actor publishes a value under a key in a *scope*: its own subtree (the
default), its parent's subtree (its siblings and their subtrees), or the whole
system (backstage's "expose"). A lookup from an actor at ``/user/a/b`` takes the
nearest value up the tree: the one published in ``/user/a/b``'s scope, else in
``/user/a``'s, else ``/user``'s, else the system's. Publishing again in the
same scope replaces the value with a new version (versions only go up).

The registry keeps, under one lock (`_lock`), the entries, who owns them, the
actors that subscribe to or link to each key ("watches") and the actors
waiting for keys before they start. Every change computes, under the lock,
what each watcher now sees as the nearest value, and queues the consequences
(a `Published` or `Dropped` message, a broken link, a start that may go on) in
an outbox. The outbox is emptied outside the lock by one thread at a time
(whoever takes `_draining`), in the order the changes were made, so a
subscriber receives every version in order and no runtime code (a dead
letter's subscribers, say) runs under the lock. The consequences only post to
mailboxes or system queues: the actors handle them in their own turns.

The registry sees actors through `Holder`, declared here: the cell layer
``_cell/_resourcing`` implements it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from loguru import logger

from ._errors import ResourceLostError, ResourceTimeoutError
from ._resource_cycles import cycle_error, find_cycle
from ._resource_keys import Dropped, LinkAction, Published, Visibility, key_name

if TYPE_CHECKING:
    from ._ref import ActorRef
    from ._timers import TimerHandle

__all__ = ["Holder", "ResourceRegistry"]


class Holder(Protocol):
    """What the registry needs of an actor (its cell implements it)."""

    @property
    def _path(self) -> str: ...
    @property
    def _ref(self) -> ActorRef[Any]: ...
    def _deliver(self, message: object) -> None:
        """Post a `Published`/`Dropped` into the mailbox, never waiting."""
        ...

    def _resources_ready(self) -> None:
        """Every resource the actor waits for to start is visible now."""
        ...

    def _resources_failed(self, error: Exception) -> None:
        """The start wait failed (a timeout, a cycle)."""
        ...

    def _resource_lost(self, error: Exception, action: LinkAction) -> None:
        """A linked resource was dropped or replaced, or never appeared."""
        ...


class _Entry:
    __slots__ = ("publisher", "scope", "value", "version")

    def __init__(self, scope: str, value: object, version: int, publisher: Holder) -> None:
        self.scope = scope
        self.value = value
        self.version = version
        self.publisher = publisher


class _Link:
    __slots__ = ("on_drop", "on_replace", "pending_from", "timer")

    def __init__(self, on_drop: LinkAction, on_replace: LinkAction | None) -> None:
        self.on_drop = on_drop
        self.on_replace = on_replace
        self.timer: TimerHandle | None = None
        # The publisher whose restart withdrew the value, while a replacement is awaited.
        self.pending_from: Holder | None = None


class _Watch:
    """One actor's subscription to, and/or link to, one key."""

    __slots__ = ("holder", "link", "seen", "subscribed")

    def __init__(self, holder: Holder) -> None:
        self.holder = holder
        self.subscribed = False
        self.link: _Link | None = None
        # (entry, version) last reported to this watcher; None: nothing visible.
        self.seen: tuple[_Entry, int] | None = None


class _Wait:
    __slots__ = ("failed", "keys", "provides", "timer")

    def __init__(self, keys: tuple[object, ...], provides: tuple[object, ...]) -> None:
        self.keys = keys
        self.provides = provides
        self.timer: TimerHandle | None = None
        # Set once the wait has failed; kept until the actor handles the failure.
        self.failed = False


def _scopes(path: str) -> Iterable[str]:
    """The scopes visible from ``path``, nearest first (``""`` is the system's)."""
    while path:
        yield path
        path = path.rpartition("/")[0]
    yield ""


def _sees(path: str, scope: str) -> bool:
    return not scope or path == scope or path.startswith(scope + "/")


class ResourceRegistry:
    """Every resource of one actor system, with their watchers and waiters.

    Thread safety: every method may be called from any thread; the cell layer
    calls the mutating ones from the actor's own turn.
    """

    def __init__(self, schedule: Callable[[float, Callable[[], object]], TimerHandle]) -> None:
        self._schedule = schedule
        # Guards every field below but the outbox; never held while an outbox
        # action (or any other runtime or user code) runs.
        self._lock = threading.Lock()
        self._entries: dict[object, dict[str, _Entry]] = {}
        # Last version per (key, scope), kept across a publisher's restart so that
        # versions only go up; forgotten when the scope's last publisher stops.
        self._versions: dict[tuple[object, str], int] = {}
        self._owned: dict[Holder, set[tuple[object, str]]] = {}
        self._watches: dict[object, dict[Holder, _Watch]] = {}
        self._waits: dict[Holder, _Wait] = {}
        # Every holder that published, watched or waited since it was last
        # forgotten. Invariant: only the holder's own turn adds it, so that turn
        # may test membership without the lock (`involves`).
        self._holders: set[Holder] = set()
        # Consequences of changes, in change order (deque append/popleft are atomic).
        self._outbox: deque[Callable[[], None]] = deque()
        # Held by the one thread emptying the outbox.
        self._draining = threading.Lock()

    # -- reading ------------------------------------------------------------------------

    def lookup(self, path: str, key: object) -> object | None:
        """The nearest value of ``key`` visible from ``path``, or None."""
        with self._lock:
            entry = self._nearest(key, path)
        return None if entry is None else entry.value

    def published(self) -> list[tuple[str, str, int, str]]:
        """``(key name, scope, version, publisher path)`` of every live resource."""
        with self._lock:
            return sorted(
                (key_name(key), scope or "system", entry.version, entry.publisher._path)
                for key, entries in self._entries.items()
                for scope, entry in entries.items()
            )

    def waiting(self, holder: Holder) -> bool:
        """True while ``holder`` waits for resources before it starts."""
        with self._lock:
            return holder in self._waits

    def has_waits(self) -> bool:
        """False when no actor waits to start (a racy read: a hint for the fast path)."""
        return bool(self._waits)

    def involves(self, holder: Holder) -> bool:
        """Whether ``holder`` has anything to forget (called from its own turn)."""
        return holder in self._holders

    def _nearest(self, key: object, path: str) -> _Entry | None:
        entries = self._entries.get(key)
        if entries:
            for scope in _scopes(path):
                entry = entries.get(scope)
                if entry is not None:
                    return entry
        return None

    # -- publishing ---------------------------------------------------------------------

    def publish(self, holder: Holder, key: object, value: object, visibility: Visibility) -> int:
        """Publish (or replace) ``key`` in the scope ``visibility`` gives; its version."""
        path = holder._path
        if visibility is Visibility.SUBTREE:
            scope = path
        elif visibility is Visibility.SIBLINGS:
            scope = path.rpartition("/")[0]
        else:
            scope = ""
        with self._lock:
            entries = self._entries.setdefault(key, {})
            old = entries.get(scope)
            if old is not None and old.publisher is not holder:
                self._owned[old.publisher].discard((key, scope))  # the new one owns it now
            version = self._versions.get((key, scope), 0) + 1
            self._versions[(key, scope)] = version
            entries[scope] = _Entry(scope, value, version, holder)
            self._owned.setdefault(holder, set()).add((key, scope))
            self._holders.add(holder)
            self._changed(key, scope, None)
            self._start_ready()
        self._flush()
        return version

    def forget(self, holder: Holder, reason: str, restarting: bool) -> None:
        """``holder`` stops or restarts: drop what it published, end its watches and wait.

        A restart withdraws its resources as a *replacement* to come (links
        with an ``on_replace`` action fire; others wait for the new version);
        a stop drops them.
        """
        with self._lock:
            self._holders.discard(holder)
            wait = self._waits.pop(holder, None)
            if wait is not None and wait.timer is not None:
                wait.timer.cancel()
            for watches in self._watches.values():
                watch = watches.pop(holder, None)
                if watch is not None and watch.link is not None and watch.link.timer is not None:
                    watch.link.timer.cancel()
            for key, scope in self._owned.pop(holder, ()):
                entries = self._entries[key]
                del entries[scope]
                if not entries:
                    del self._entries[key]
                if not restarting:
                    self._versions.pop((key, scope), None)
                self._changed(key, scope, reason if not restarting else None)
            if not restarting:
                self._orphaned(holder, reason)
            self._watches = {key: w for key, w in self._watches.items() if w}
        self._flush()

    # -- watching -----------------------------------------------------------------------

    def subscribe(self, holder: Holder, key: object) -> None:
        """Send ``holder`` a `Published` for every version visible to it, then `Dropped`.

        Raises:
            ValueError: If ``holder`` already subscribes to ``key``.
        """
        with self._lock:
            watch = self._watch(holder, key)
            if watch.subscribed:
                raise ValueError(
                    f"{holder._path} already subscribes to resource {key_name(key)}; "
                    "subscribe once (unsubscribe first to start again)"
                )
            watch.subscribed = True
            entry = self._nearest(key, holder._path)
            if watch.seen is None and entry is not None:
                watch.seen = (entry, entry.version)
            if entry is not None:
                self._outbox.append(self._published_note(holder, key, entry))
        self._flush()

    def unsubscribe(self, holder: Holder, key: object) -> bool:
        """Stop the `Published`/`Dropped` messages; False if there was no subscription."""
        with self._lock:
            watch = self._watches.get(key, {}).get(holder)
            if watch is None or not watch.subscribed:
                return False
            watch.subscribed = False
            self._prune(key, watch)
            return True

    def link(
        self,
        holder: Holder,
        key: object,
        on_drop: LinkAction,
        on_replace: LinkAction | None,
        timeout: float | None,
    ) -> None:
        """Tie ``holder``'s life to the nearest value of ``key`` (see ``context.link``).

        Raises:
            ValueError: If ``holder`` already links to ``key``.
        """
        with self._lock:
            watch = self._watch(holder, key)
            if watch.link is not None:
                raise ValueError(f"{holder._path} already links to resource {key_name(key)}")
            link = watch.link = _Link(on_drop, on_replace)
            entry = self._nearest(key, holder._path)
            if entry is not None:
                watch.seen = (entry, entry.version)
            elif timeout is not None:
                link.timer = self._schedule(
                    timeout, lambda: self._link_expired(holder, key, link, timeout)
                )

    def _watch(self, holder: Holder, key: object) -> _Watch:
        self._holders.add(holder)
        watches = self._watches.setdefault(key, {})
        watch = watches.get(holder)
        if watch is None:
            watch = watches[holder] = _Watch(holder)
        return watch

    def _prune(self, key: object, watch: _Watch) -> None:
        if not watch.subscribed and watch.link is None:
            watches = self._watches.get(key, {})
            watches.pop(watch.holder, None)
            if not watches:
                self._watches.pop(key, None)

    def _link_expired(self, holder: Holder, key: object, link: _Link, timeout: float) -> None:
        # On the timer thread.
        with self._lock:
            watch = self._watches.get(key, {}).get(holder)
            if watch is None or watch.link is not link or watch.seen is not None:
                return
            watch.link = None
            self._prune(key, watch)
            error = ResourceTimeoutError(
                f"{holder._path} links to resource {key_name(key)}, which was not published "
                f"within {timeout} s",
                keys=(key,),
            )
            self._outbox.append(partial(holder._resource_lost, error, LinkAction.FAIL))
        self._flush()

    def _changed(self, key: object, scope: str, dropped: str | None) -> None:
        """Queue what ``key``'s change in ``scope`` means to its watchers (lock held).

        ``dropped`` is the reason of a drop, or None for a publish or a restart's
        withdrawal.
        """
        for watch in list(self._watches.get(key, {}).values()):
            holder = watch.holder
            if not _sees(holder._path, scope):
                continue
            entry = self._nearest(key, holder._path)
            now = None if entry is None else (entry, entry.version)
            before = watch.seen
            if now == before:
                continue
            watch.seen = now
            if watch.subscribed:
                if entry is not None:
                    self._outbox.append(self._published_note(holder, key, entry))
                elif before is not None:
                    reason = dropped or "publisher restarting"
                    note: Dropped[Any] = Dropped(key, before[1], reason)  # type: ignore[arg-type]
                    self._outbox.append(partial(holder._deliver, note))
            link = watch.link
            if link is None:
                continue
            if link.timer is not None and entry is not None:
                link.timer.cancel()
                link.timer = None
            if before is None:
                link.pending_from = None  # (re)armed on the value now visible
            elif entry is None and dropped is not None:
                self._break(key, watch, link.on_drop, f"dropped: {dropped}")
            elif link.on_replace is not None:
                what = "withdrawn: its publisher is restarting" if entry is None else "replaced"
                self._break(key, watch, link.on_replace, what)
            elif entry is None:
                link.pending_from = before[0].publisher  # wait for its next version

    def _orphaned(self, publisher: Holder, reason: str) -> None:
        """Links waiting for a replacement from ``publisher``, which stopped instead."""
        for key, watches in self._watches.items():
            for watch in list(watches.values()):
                link = watch.link
                if link is not None and link.pending_from is publisher:
                    self._break(key, watch, link.on_drop, f"dropped: {reason}")

    def _break(self, key: object, watch: _Watch, action: LinkAction, what: str) -> None:
        holder = watch.holder
        watch.link = None
        self._prune(key, watch)
        error = ResourceLostError(
            f"{holder._path}: linked resource {key_name(key)} was {what}", key=key
        )
        self._outbox.append(partial(holder._resource_lost, error, action))

    @staticmethod
    def _published_note(holder: Holder, key: object, entry: _Entry) -> Callable[[], None]:
        note = Published(key, entry.value, entry.version, entry.publisher._ref)  # type: ignore[arg-type]
        return partial(holder._deliver, note)

    # -- start dependencies -------------------------------------------------------------

    def wait(
        self,
        holder: Holder,
        keys: tuple[object, ...],
        provides: tuple[object, ...],
        timeout: float | None,
    ) -> bool:
        """Register ``holder`` to start once ``keys`` are all visible to it.

        Returns False if they already are (start now). Otherwise `Holder._resources_ready`
        follows once they are, or `Holder._resources_failed` after ``timeout``
        seconds, or at once if the wait closes a cycle of actors that each wait
        for a key another one ``provides``.
        """
        with self._lock:
            if all(self._nearest(key, holder._path) is not None for key in keys):
                return False
            self._waits[holder] = wait = _Wait(keys, provides)
            self._holders.add(holder)
            cycle = self._cycle(holder)
            if cycle:
                self._fail_cycle(cycle)
            elif timeout is not None:
                wait.timer = self._schedule(
                    timeout, lambda: self._wait_expired(holder, wait, timeout)
                )
        self._flush()
        return True

    def end_wait(self, holder: Holder) -> None:
        """``holder`` has handled its failed wait (or gave up waiting)."""
        with self._lock:
            wait = self._waits.pop(holder, None)
        if wait is not None and wait.timer is not None:
            wait.timer.cancel()

    def _missing(self, holder: Holder, wait: _Wait) -> list[object]:
        return [key for key in wait.keys if self._nearest(key, holder._path) is None]

    def _start_ready(self) -> None:
        # Lock held: the waits that the last publish completed.
        for holder, wait in list(self._waits.items()):
            if not wait.failed and not self._missing(holder, wait):
                del self._waits[holder]
                if wait.timer is not None:
                    wait.timer.cancel()
                self._outbox.append(holder._resources_ready)

    def _wait_expired(self, holder: Holder, wait: _Wait, timeout: float) -> None:
        # On the timer thread.
        with self._lock:
            if self._waits.get(holder) is not wait or wait.failed:
                return
            wait.failed = True
            missing = tuple(self._missing(holder, wait))
            names = ", ".join(key_name(key) for key in missing)
            error = ResourceTimeoutError(
                f"{holder._path} needs resource(s) {names} to start; not published within "
                f"{timeout} s (needs_timeout)",
                keys=missing,
            )
            self._outbox.append(partial(holder._resources_failed, error))
        self._flush()

    def _cycle(self, start: Holder) -> list[tuple[Holder, object]]:
        waits = {h: w for h, w in self._waits.items() if not w.failed}
        missing = {h: self._missing(h, w) for h, w in waits.items()}
        return find_cycle(start, missing, {h: w.provides for h, w in waits.items()})

    def _fail_cycle(self, cycle: list[tuple[Holder, object]]) -> None:
        for holder, _ in cycle:
            wait = self._waits[holder]
            wait.failed = True
            if wait.timer is not None:
                wait.timer.cancel()
            error = cycle_error(cycle, lambda h: h._path)
            self._outbox.append(partial(holder._resources_failed, error))

    # -- the outbox ---------------------------------------------------------------------

    def _flush(self) -> None:
        """Run the queued consequences in order, on one thread at a time.

        Whoever fails to take `_draining` leaves its actions to the holder, which
        re-checks after releasing it (the mailbox's scheduled-flag pattern).
        """
        outbox = self._outbox
        while outbox:
            if not self._draining.acquire(False):
                return
            try:
                while outbox:
                    action = outbox.popleft()
                    try:
                        action()
                    except Exception:  # noqa: BLE001 - one failed post must not stop the rest
                        logger.opt(exception=True).error("resource notification failed")
            finally:
                self._draining.release()
