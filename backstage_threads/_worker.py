"""One pool worker's state, the thread-local that names it, and stealing from it.

A worker's run queue is a deque: its own thread appends and pops from the
left; thieves pop from the right (each one atomic C call). Only its own
thread appends to it, so a thief that takes half of it (tokio, Go) leaves the
owner a consistent queue. A worker that is not idle evens its queue out with
the longest one (`balance`) from time to time: stealing alone never moves work
between two queues that both have some, so an uneven start (one worker
descheduled while cells arrived) would otherwise last as long as the cells
keep working, and give the cells on the longer queue fewer turns. See
``_scheduler`` for the pool around it.
"""

from __future__ import annotations

import random
import threading
from collections import deque

from ._dispatcher import Runnable

__all__ = ["RunQueue", "Worker", "WorkerLocal", "balance", "find_work", "steal"]


class RunQueue(deque[Runnable]):
    """A worker's run queue, and the cell that runs before it (``next``).

    ``next`` is the cell the running turn woke (see the Scheduler's design
    note); only the worker's own thread reads or writes it. It lives on the
    queue, which that thread allocated, rather than on `Worker`: on
    free-threaded builds a reference count is cheap only for the thread that
    allocated the object, and a submit reads it on every hop of a ping-pong.
    """

    __slots__ = ("next",)

    def __init__(self) -> None:
        super().__init__()
        self.next: Runnable | None = None


class Worker:
    """One worker thread's state.

    The counters are written only by the worker's own thread (no shared hot
    counter) and read, racily but harmlessly, by `Scheduler.statistics`.
    """

    __slots__ = (
        "burst",
        "deaths",
        "messages",
        "name",
        "parks",
        "queue",
        "spare",
        "steals",
        "thread",
        "turns",
        "wake",
    )

    def __init__(self, name: str, spare: bool = False) -> None:
        self.name = name
        self.spare = spare
        self.deaths = 0
        # Replaced by the worker's own thread when it first starts (see
        # Scheduler._run); a thief may see either, and finds this one empty.
        self.queue = RunQueue()
        # Held while the worker is not parked; released once per wake-up. Every
        # worker in the idle stack is released by exactly one waker.
        self.wake = threading.Lock()
        self.wake.acquire()
        self.thread: threading.Thread | None = None
        self.turns = 0
        self.messages = 0
        self.steals = 0
        self.parks = 0
        # Cells from outside started in a row (Scheduler's NEW_TURN_BURST);
        # only its own thread reads or writes it.
        self.burst = 0

    def publish(self, turns: int, messages: int) -> None:
        """Make the loop's running counts visible to `Scheduler.statistics`."""
        self.turns = turns
        self.messages = messages


class WorkerLocal(threading.local):
    """The worker a thread runs and its run queue (None on any other thread).

    ``queue`` is read on every submit; it is the worker's own queue, kept here
    so that a submit reads one attribute of this object and none of `Worker`.
    """

    worker: Worker | None = None
    queue: RunQueue | None = None


def steal(thief: Worker, workers: tuple[Worker, ...]) -> Runnable | None:
    """Move half of the first non-empty queue (from a random victim on) to ``thief``'s.

    Returns the oldest stolen cell, to run at once; None if every queue was empty.
    """
    count = len(workers)
    start = random.randrange(count) if count > 1 else 0
    for offset in range(count):
        victim = workers[(start + offset) % count]
        if victim is thief:
            continue
        take = (len(victim.queue) + 1) // 2
        if not take:
            continue
        stolen: list[Runnable] = []
        for _ in range(take):
            try:
                stolen.append(victim.queue.pop())
            except IndexError:
                break
        if stolen:
            thief.steals += 1
            first = stolen.pop()  # the oldest of the batch runs first
            thief.queue.extend(reversed(stolen))
            return first
    return None


def balance(worker: Worker, workers: tuple[Worker, ...]) -> int:
    """Move cells from the tail of the longest other queue to ``worker``'s until
    the two differ by at most one; returns how many moved.

    The cells at a queue's tail are the ones that ran most recently, so they
    join the tail of ours, behind the cells that have waited longer.
    """
    own = len(worker.queue)
    longest: Worker | None = None
    most = own + 1
    for other in workers:
        length = len(other.queue)
        if length > most:
            longest, most = other, length
    if longest is None:
        return 0
    moved: list[Runnable] = []
    for _ in range((most - own) // 2):
        try:
            moved.append(longest.queue.pop())
        except IndexError:
            break
    worker.queue.extend(reversed(moved))
    return len(moved)


def find_work(
    worker: Worker, workers: tuple[Worker, ...], inject: deque[Runnable], inject_first: bool
) -> Runnable | None:
    """The next cell for ``worker``: its own queue's, else the injection
    queue's, else a stolen one; None if there is none.

    ``inject_first`` (the pool's clock says so) looks at the injection queue
    first, and when it is empty evens the queues out (see `balance`).
    """
    if inject_first:
        try:
            return inject.popleft()
        except IndexError:
            worker.steals += balance(worker, workers) > 0
    try:
        return worker.queue.popleft()
    except IndexError:
        pass
    try:
        return inject.popleft()
    except IndexError:
        pass
    return steal(worker, workers)
