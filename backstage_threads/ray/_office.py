"""Dead letters across processes: each host forwards, the ``/user`` host collects.

Every host records its dead letters (drops, messages to a stopped actor, failed
messages, mailboxes lost with a process) through a `Forwarder`, which batches
them into one ``record`` call to the office, the ``/user`` guardian host of the
system. The driver's `RaySystem` runs one thread that long-polls the office's
``drain`` and records each letter, as the same `DeadLetter` records the thread
backend makes, into ``system.dead_letters`` (whose subscribers then run in the
driver). Order is kept per host; letters from different hosts interleave in
the order the office received them.

No dead letter is dropped on the way unless the office itself is gone (the
system shut down), and the office keeps what it got until the driver drains it.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

import ray

from ._ref import OFFICE

__all__ = ["Forwarder", "OfficeQueue"]

#: One dead letter on its way: (recipient ref, message, reason).
Item = tuple[Any, object, str]


class Forwarder:
    """Batches one host's dead letters into ``record`` calls to the office.

    Thread safety: `record` may be called from any thread of the host; the
    batch is sent from a short-lived flush scheduled at most once at a time.
    """

    def __init__(self, namespace: str, local: OfficeQueue | None) -> None:
        self._namespace = namespace
        self._local = local  # set in the office's own host: no Ray call needed
        self._office: Any = None
        # Guards _pending and _flushing.
        self._lock = threading.Lock()
        self._pending: list[Item] = []
        self._flushing = False

    def record(self, recipient: Any, message: object, reason: str) -> None:
        """Queue one dead letter for the office."""
        if self._local is not None:
            self._local.add([(recipient, message, reason)])
            return
        with self._lock:
            self._pending.append((recipient, message, reason))
            if self._flushing:
                return
            self._flushing = True
        threading.Thread(target=self._flush, name="backstage-deadletters", daemon=True).start()

    def _flush(self) -> None:
        while True:
            with self._lock:
                batch, self._pending = self._pending, []
                if not batch:
                    self._flushing = False
                    return
            try:
                if self._office is None:
                    self._office = ray.get_actor(OFFICE, namespace=self._namespace)
                self._office.record.remote(batch)
            except Exception:  # noqa: BLE001 - the office is gone: the system shut down
                with self._lock:
                    self._flushing = False
                return


class OfficeQueue:
    """The office's queue of dead letters waiting for the driver to drain them.

    Thread safety: `add` and `fail` from any thread; `drain` on a thread of the
    office host's ``office`` group (the driver's one long-poll).
    """

    def __init__(self) -> None:
        # Guards _items and failure; a drain waits on it.
        self._cond = threading.Condition(threading.Lock())
        self._items: deque[Item] = deque()
        self.failure: tuple[str, Exception, object, str] | None = None

    def add(self, items: list[Item]) -> None:
        """Append letters and wake the driver's drain."""
        with self._cond:
            self._items.extend(items)
            self._cond.notify_all()

    def fail(self, path: str, error: Exception, message: object, hook: str) -> None:
        """Record the failure that escalated to the top (the first one wins)."""
        with self._cond:
            if self.failure is None:
                self.failure = (path, error, message, hook)
            self._cond.notify_all()

    def drain(self, wait: float) -> tuple[list[Item], Any]:
        """Everything queued (waiting up to ``wait`` s for something), and the failure."""
        with self._cond:
            self._cond.wait_for(lambda: self._items or self.failure is not None, wait)
            items = list(self._items)
            self._items.clear()
            return items, self.failure
