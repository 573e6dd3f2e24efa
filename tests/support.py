"""Helper actors and utilities shared by the backstage_threads tests.

Every wait in the suite is bounded by `WAIT` (generous, because the CI machine is
small and shared); nothing waits by sleeping.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from backstage_threads import Actor, ActorRef, ActorSystem, DeadLetter
from backstage_threads._waiting import WaiterQueue

#: Upper bound of any single wait in a non-stress test (seconds). A healthy run
#: never gets near it; it only turns a hang into a failure.
WAIT = 10.0

SYSTEM_NAME = "backstage"


def system_threads(prefix: str = SYSTEM_NAME) -> list[str]:
    """Names of live threads that a system called ``prefix`` started."""
    return sorted(t.name for t in threading.enumerate() if t.name.startswith(prefix))


def assert_clean_shutdown(system: ActorSystem, timeout: float = WAIT) -> None:
    report = system.shutdown(timeout)
    assert report.clean, report
    assert report.unstopped == ()
    assert report.threads_alive == ()
    assert system_threads(system.name) == []


@contextlib.contextmanager
def thread_exceptions() -> Iterator[list[BaseException]]:
    """Collect what is reported through `threading.excepthook` meanwhile.

    The runtime reports a failure that stops a system, an internal error and
    a worker's death there, so a test that provokes one catches it here (the
    hook is thread-safe: list.append is atomic).
    """
    seen: list[BaseException] = []
    previous = threading.excepthook

    def hook(args: Any) -> None:
        seen.append(args.exc_value)

    threading.excepthook = hook
    try:
        yield seen
    finally:
        threading.excepthook = previous


# -- helper actors -------------------------------------------------------------------


class Counter(Actor[int]):
    """README's example: adds what it is told, replies with the new total."""

    def __init__(self) -> None:
        self.total = 0

    def receive(self, message: int) -> int:
        self.total += message
        return self.total


class Echo(Actor[Any]):
    def receive(self, message: Any) -> Any:
        return message


class Recorder(Actor[Any]):
    """Appends every message to ``log`` (read it through an ask of ``"log"``)."""

    def __init__(self) -> None:
        self.log: list[Any] = []

    def receive(self, message: Any) -> Any:
        if message == "log":
            return list(self.log)
        self.log.append(message)
        return None


class BurstProducer(Actor[Any]):
    """On ``n``: sends ``0 .. n-1`` to the target from one receive, and returns ``n``.

    With a ``tag``, it sends ``(tag, 0) .. (tag, n-1)`` instead, so a consumer
    fed by several producers can check each producer's order.
    """

    def __init__(self, target: ActorRef[Any], tag: int | None = None) -> None:
        self.target = target
        self.tag = tag

    def receive(self, message: Any) -> Any:
        for seq in range(message):
            self.target.tell(seq if self.tag is None else (self.tag, seq))
        return message


class Relay(Actor[Any]):
    """Forwards every message to the target, one send per receive.

    ``"flush"`` is answered with ``"flushed"`` (and not forwarded): once that ask
    returns, everything told before it has been sent on.
    """

    def __init__(self, target: ActorRef[Any]) -> None:
        self.target = target

    def receive(self, message: Any) -> Any:
        if message == "flush":
            return "flushed"
        self.target.tell(message)
        return None


class Latch:
    """Two events that let a test hold an actor inside ``receive``.

    ``entered`` is set when the actor is inside receive; the actor then waits for
    ``release``. Use with `LatchedRecorder` spawned with ``pinned=True`` so the
    held actor blocks its own thread, not a shared worker.
    """

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.marks: dict[Any, threading.Event] = {}

    def mark(self, message: Any) -> threading.Event:
        """An event a `LatchedRecorder` sets once it has processed ``message``."""
        return self.marks.setdefault(message, threading.Event())

    def release_and_drain(self, last: Any) -> None:
        """Release the actor and wait until it processed ``last`` (a queued message)."""
        done = self.mark(last)
        self.release.set()
        assert done.wait(WAIT), f"the actor never processed {last!r}"

    def hold(self) -> None:
        self.entered.set()
        assert self.release.wait(WAIT), "the test never released the latch"


class LatchedRecorder(Actor[Any]):
    """Blocks on the latch for the first message, then records every message."""

    def __init__(self, latch: Latch, log: list[Any], lock: threading.Lock) -> None:
        self.latch = latch
        self.log = log
        self.lock = lock
        self.held = False

    def receive(self, message: Any) -> Any:
        if not self.held:
            self.held = True
            self.latch.hold()
        with self.lock:
            self.log.append(message)
        mark = self.latch.marks.get(message)
        if mark is not None:
            mark.set()
        return message


def spawn_held(
    system: ActorSystem, **options: Any
) -> tuple[ActorRef[Any], Latch, list[Any], threading.Lock]:
    """Spawn a pinned `LatchedRecorder` and hold it inside receive.

    ``options`` go to `ActorSystem.spawn` (``pinned=True`` is always added). The
    first message (``"first"``) is in hand when this returns. Returns (ref,
    latch, log, lock); the log gets every processed message once the latch is
    released (read it under the lock).
    """
    latch = Latch()
    log: list[Any] = []
    lock = threading.Lock()
    ref = system.spawn(lambda: LatchedRecorder(latch, log, lock), pinned=True, **options)
    ref.tell("first")
    assert latch.entered.wait(WAIT)
    return ref, latch, log, lock


def spawn_full(
    system: ActorSystem,
    capacity: int,
    **options: Any,
) -> tuple[ActorRef[Any], Latch, list[Any], threading.Lock]:
    """Spawn a pinned `LatchedRecorder` held inside receive with a full mailbox.

    The first message (``"first"``) is in hand; ``capacity`` more messages
    (``0 .. capacity-1``) fill the mailbox. Returns (ref, latch, log, lock); the
    log gets every processed message once the latch is released.
    """
    ref, latch, log, lock = spawn_held(system, capacity=capacity, **options)
    for i in range(capacity):
        ref.tell_nowait(i)
    return ref, latch, log, lock


class SignallingDeque(WaiterQueue):
    """A waiter line that sets ``appended`` on every append.

    Installed as a mailbox's (lazily created) waiter queue, it tells a test that a
    sender has joined the line to wait for room, so the test knows the sender is
    blocked without sleeping. White-box: relies on ``Mailbox._waiters``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.appended = threading.Event()

    def append(self, item: Any) -> None:
        super().append(item)
        self.appended.set()


def watch_blocked_senders(ref: ActorRef[Any]) -> threading.Event:
    """Return an event set once a plain thread waits for room in ``ref``'s mailbox."""
    cell = ref._cell
    assert cell._waiters is None, "install the watch before any sender blocks"
    waiters = SignallingDeque()
    cell._waiters = waiters
    return waiters.appended


class DeadLetterLog:
    """A thread-safe dead-letter subscriber."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.letters: list[DeadLetter] = []

    def __call__(self, letter: DeadLetter) -> None:
        with self.lock:
            self.letters.append(letter)

    def snapshot(self) -> list[DeadLetter]:
        with self.lock:
            return list(self.letters)


def run_thread(target: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """Start ``target`` on a plain thread; its outcome (result or exception) lands in the list."""
    outcome: list[Any] = []

    def body() -> None:
        try:
            outcome.append(("ok", target()))
        except BaseException as exc:
            outcome.append(("raised", exc))

    thread = threading.Thread(target=body, name="test-sender")
    thread.start()
    return thread, outcome
