"""`Outbox`: a ref's fire-and-forget tells, sent to the host as few calls as possible.

Where a tell needs no verdict from the host (DROP_NEWEST, DROP_OLDEST, or no
capacity at all), `tell` only checks that the message pickles and appends it
here; one short-lived thread per busy outbox (the flusher) takes everything
appended so far and sends it as one ``tell_many`` call, then looks again. While
one call is being submitted (about 0.1-0.3 ms of Ray's work), the tells made
meanwhile gather into the next call: a sender that tells faster than Ray can
submit gets batches, a sender that tells rarely gets one call per tell.
This is where we beat plain Ray calls on throughput (see the bench's ``ray``
scenario).

Order. A batch takes its sequence number from the ref under the ref's lock,
in the same step that submits it (the host restores each sender's order by
those numbers, ``_order.py``); any other call of the ref (an ask, a BLOCK
tell, ``flush``) first sends what is pending, under the same lock, so no call
overtakes a tell made before it.

Nothing is lost silently: a batch whose call fails (the host's process died)
is recorded as dead letters by the ref, one per message; a batch that cannot
be submitted at all (Ray shut down in this process) is logged with its size.

Thread safety: `put` from any thread; the flusher is the only other reader.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from loguru import logger

__all__ = ["MAX_BATCH", "Outbox"]

#: Messages per ``tell_many`` call at most: a batch of 1,000 small messages is
#: ~10 KB pickled, past the point where a bigger batch saves anything measurable.
MAX_BATCH = 1_000


class Outbox:
    """Pending tells of one ref, and the flusher that sends them.

    Args:
        lock: The ref's lock (it numbers the ref's calls); guards ``_pending``
            and ``_flushing`` too, so that taking a batch and numbering it are
            one step.
        submit: Sends one batch (called with ``lock`` held).
        path: The actor's path, for the log.
    """

    __slots__ = ("_flushing", "_lock", "_path", "_pending", "_submit")

    def __init__(
        self, lock: threading.Lock, submit: Callable[[list[object]], None], path: str
    ) -> None:
        self._lock = lock
        self._submit = submit
        self._path = path
        self._pending: list[object] = []
        self._flushing = False

    def put(self, message: object) -> None:
        """Queue one tell; start the flusher if none runs."""
        with self._lock:
            self._pending.append(message)
            if self._flushing:
                return
            self._flushing = True
        # Not a daemon: an exiting process first hands its last tells to Ray.
        threading.Thread(target=self._flush, name=f"backstage-tells{self._path}").start()

    def send_pending(self) -> None:
        """Send what is pending now (the caller holds the ref's lock)."""
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            self._submit(batch)

    def _flush(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    self._flushing = False
                    return
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                try:
                    self._submit(batch)
                except Exception as error:  # noqa: BLE001 - reported, never silent
                    lost = len(batch) + len(self._pending)
                    self._pending = []
                    self._flushing = False
                    failed: BaseException | None = error
                else:
                    failed = None
            if failed is not None:
                logger.bind(actor=self._path).error(
                    "{} tell(s) to {} could not be sent: {!r}", lost, self._path, failed
                )
                return
