"""The interpreter's floor for a ping-pong hop, measured beside the real thing.

A hop through any runtime costs at least: one ``receive`` call, one send (a
bounded-deque insert plus a test-and-set of a "scheduled" flag) and one turn
(a pop and a flag release). `trampoline_ping_pong` does exactly that and nothing
else, on one thread: no worker pool, no thread-local state, no supervision, no
statistics. Its rate is an upper bound for backstage_threads' ping-pong on the
same interpreter, which tells how much of the gap to a target is the runtime's
and how much is the interpreter's.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque

__all__ = ["trampoline_ping_pong"]

_END = sys.maxsize


class _Cell:
    """The least a mailbox can be: a bounded deque and a scheduled flag."""

    __slots__ = ("peer", "queue", "run_queue", "scheduled")

    def __init__(self, run_queue: deque[_Cell]) -> None:
        self.queue: deque[int] = deque(maxlen=1024)
        self.scheduled = threading.Lock()
        self.run_queue = run_queue
        self.peer: _Cell | None = None

    def tell(self, message: int) -> None:
        self.queue.insert(_END, message)
        if self.scheduled.acquire(False):
            self.run_queue.append(self)

    def receive(self, message: int) -> None:
        if message:
            assert self.peer is not None
            self.peer.tell(message - 1)

    def turn(self) -> None:
        queue = self.queue
        receive = self.receive
        while queue:
            receive(queue.popleft())
        self.scheduled.release()
        if queue and self.scheduled.acquire(False):
            self.run_queue.append(self)


def trampoline_ping_pong(hops: int) -> float:
    """Bounce a counter ``hops`` times between two bare cells on this thread; hops/s."""
    run_queue: deque[_Cell] = deque()
    ping, pong = _Cell(run_queue), _Cell(run_queue)
    ping.peer, pong.peer = pong, ping
    pop = run_queue.popleft
    start = time.perf_counter()
    ping.tell(hops)
    while run_queue:
        pop().turn()
    return hops / (time.perf_counter() - start)
