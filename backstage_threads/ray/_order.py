"""Per-sender order across Ray: put each sender's calls back in the order it made them.

Ray runs the calls to an async actor in no guaranteed order ("async or threaded
actors do not guarantee task execution order", Ray's docs), and we measured
two fire-and-forget tells from one thread arriving swapped. The thread backend
promises that each sender's messages arrive in the order sent, so every
`RayActorRef` numbers its calls: ``(sender, seq)``, where ``sender`` is a random
id of that ref object in that process and ``seq`` counts from 0 (a lock in the
ref keeps numbering and submitting together). The host lets call ``seq`` of a
sender take its place in the mailbox only after ``seq - 1`` took its place (was
queued, dropped or joined the BLOCK line), so per-sender order holds through
every overflow policy.

A gap is not waited on for ever: a call whose predecessor has not come after
``GAP_WAIT`` seconds goes ahead (its predecessor, should it ever come, is then
taken out of order). That only happens if a call is lost on the way, which Ray
reports to its sender. The table of senders is bounded (``MAX_SENDERS``, oldest
forgotten first); a forgotten sender's next call waits out one gap.

Thread safety: `turn` and `placed` run on the host's default event loop (the
tell and ask coroutines), one thread; no lock is needed.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

__all__ = ["GAP_WAIT", "Sequencer"]

#: Seconds a call waits for its sender's previous call before it goes ahead.
GAP_WAIT = 2.0
#: Senders remembered per host.
MAX_SENDERS = 100_000


class Sequencer:
    """The next expected ``seq`` of each sender, and the calls waiting for their turn."""

    def __init__(self) -> None:
        self._next: OrderedDict[str, int] = OrderedDict()
        self._waiting: dict[tuple[str, int], asyncio.Future[None]] = {}

    async def turn(self, sender: str, seq: int) -> None:
        """Return when call ``seq`` of ``sender`` may take its place."""
        expected = self._next.get(sender, 0)
        if seq <= expected:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[(sender, seq)] = waiter
        try:
            await asyncio.wait_for(waiter, GAP_WAIT)
        except TimeoutError:
            pass  # the predecessor is lost on the way: go ahead
        finally:
            self._waiting.pop((sender, seq), None)

    def placed(self, sender: str, seq: int) -> None:
        """Call ``seq`` took its place: let ``seq + 1`` go."""
        following = max(self._next.get(sender, 0), seq + 1)
        self._next[sender] = following
        self._next.move_to_end(sender)
        if len(self._next) > MAX_SENDERS:
            self._next.popitem(last=False)
        waiter = self._waiting.get((sender, following))
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
