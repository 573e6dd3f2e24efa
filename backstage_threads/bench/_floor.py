"""The interpreter's floors for a ping-pong hop and an ask, measured beside the real thing.

A hop through any runtime costs at least: one ``receive`` call, one send (a
bounded-deque insert plus a test-and-set of a "scheduled" flag) and one turn
(a pop and a flag release). `trampoline_ping_pong` does exactly that and nothing
else, on one thread: no worker pool, no thread-local state, no supervision, no
statistics. Its rate is an upper bound for backstage_threads' ping-pong on the
same interpreter, which tells how much of the gap to a target is the runtime's
and how much is the interpreter's.

An ask from a plain thread crosses to another thread and back. `thread_round_trip`
times the least that costs: two threads handing a token over two bare locks,
each parking until the other releases it. No hand-off between threads that
park is faster on that interpreter; only spinning beats it (which the pool
does where threads run in parallel, see ``_spin.py``).
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque

__all__ = ["thread_round_trip", "trampoline_ping_pong"]

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


def thread_round_trip(trips: int) -> float:
    """Microseconds per round trip of a token between two threads over two locks."""
    there, back = threading.Lock(), threading.Lock()
    there.acquire()
    back.acquire()

    def peer() -> None:
        for _ in range(trips):
            there.acquire()
            back.release()

    thread = threading.Thread(target=peer, name="bench-floor-peer")
    thread.start()
    start = time.perf_counter()
    for _ in range(trips):
        there.release()
        back.acquire()
    elapsed = time.perf_counter() - start
    thread.join()
    return elapsed / trips * 1e6
