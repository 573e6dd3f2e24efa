"""Per-sender order across Ray: put each sender's calls back in the order it made them.

Ray runs the calls to a threaded actor in no guaranteed order ("async or threaded
actors do not guarantee task execution order", Ray's docs): two calls that
arrive together run on two of the host's threads, and either may reach the
mailbox first (we measured two fire-and-forget tells from one thread arriving
swapped). The thread backend
promises that each sender's messages arrive in the order sent, so every
`RayActorRef` numbers its calls: ``(sender, seq)``, where ``sender`` is a random
id of that ref object in that process and ``seq`` counts from 0 (a lock in the
ref keeps numbering and submitting together; both travel in the call's header,
``_wire.py``). The host lets call ``seq`` of a
sender take its place in the mailbox only after ``seq - 1`` took its place (was
queued, dropped or joined the BLOCK line), so per-sender order holds through
every overflow policy.

A gap is not waited on for ever: a call whose predecessor has not come after
``GAP_WAIT`` seconds goes ahead (its predecessor, should it ever come, is then
taken out of order). That only happens if a call is lost on the way, which Ray
reports to its sender. The table of senders is bounded (``MAX_SENDERS``, oldest
forgotten first); a forgotten sender's next call waits out one gap.

A call waiting for its turn holds one of the host's letter threads. It waits
for a call that Ray already ran or is about to run on another thread, so the
wait is short; it could only last the whole gap if every letter thread of the
host waited so at once while the predecessors stood in Ray's queue behind them
(as many reordered senders at one moment as the host has letter threads).

Thread safety: `turn` and `placed` run on the host's letter threads, any number
at once; ``_lock`` guards the tables, and each waiting call waits on an `Event`
of its own, set by the call before it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

__all__ = ["GAP_WAIT", "Sequencer"]

#: Seconds a call waits for its sender's previous call before it goes ahead.
GAP_WAIT = 2.0
#: Senders remembered per host.
MAX_SENDERS = 100_000


class Sequencer:
    """The next expected ``seq`` of each sender, and the calls waiting for their turn."""

    def __init__(self) -> None:
        # Guards _next and _waiting.
        self._lock = threading.Lock()
        self._next: OrderedDict[bytes, int] = OrderedDict()
        self._waiting: dict[tuple[bytes, int], threading.Event] = {}

    def turn(self, sender: bytes, seq: int) -> None:
        """Return when call ``seq`` of ``sender`` may take its place."""
        with self._lock:
            if seq <= self._next.get(sender, 0):
                return
            waiter = self._waiting[(sender, seq)] = threading.Event()
        try:
            waiter.wait(GAP_WAIT)  # False: the predecessor is lost on the way: go ahead
        finally:
            with self._lock:
                self._waiting.pop((sender, seq), None)

    def placed(self, sender: bytes, seq: int) -> None:
        """Call ``seq`` took its place: let ``seq + 1`` go."""
        with self._lock:
            following = max(self._next.get(sender, 0), seq + 1)
            self._next[sender] = following
            self._next.move_to_end(sender)
            if len(self._next) > MAX_SENDERS:
                self._next.popitem(last=False)
            waiter = self._waiting.get((sender, following))
        if waiter is not None:
            waiter.set()
