"""`Probe`: an actor that records what it receives, for assertions."""

from __future__ import annotations

import queue
import time
from typing import Any

from .._actor import Actor
from .._local import current
from .._ref import ActorRef
from .._system import ActorSystem
from .._validate import check_timeout

__all__ = ["Probe"]

_MISSING = object()


class _ProbeActor(Actor[Any]):
    def __init__(self, inbox: queue.SimpleQueue[Any]) -> None:
        self._inbox = inbox

    def receive(self, message: Any) -> Any:
        self._inbox.put(message)
        return None


class Probe:
    """A test double: send it messages (or watch with it) and assert on them.

    Works on the real threaded system and on the deterministic one (where the
    expectations run turns instead of waiting).

    Thread safety: the expectations are meant for one test thread.
    """

    def __init__(self, system: ActorSystem, name: str | None = None) -> None:
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        inbox = self._inbox
        self.ref: ActorRef[Any] = system.spawn(lambda: _ProbeActor(inbox), name=name, capacity=None)

    def _next(self, timeout: float | None) -> Any:
        driver = current.driver
        if driver is not None:
            driver(lambda: not self._inbox.empty())
            try:
                return self._inbox.get_nowait()
            except queue.Empty:
                return _MISSING
        try:
            return self._inbox.get(timeout=timeout)
        except queue.Empty:
            return _MISSING

    def receive(self, timeout: float = 3.0) -> Any:
        """The next message; AssertionError if none arrives within ``timeout``."""
        message = self._next(check_timeout(timeout))
        if message is _MISSING:
            raise AssertionError(f"{self.ref.path} received nothing within {timeout} s")
        return message

    def expect(self, message: Any, timeout: float = 3.0) -> Any:
        """Assert that the next message equals ``message``; return it."""
        got = self.receive(timeout)
        if got != message:
            raise AssertionError(f"{self.ref.path} expected {message!r}, received {got!r}")
        return got

    def expect_type(self, kind: type[Any], timeout: float = 3.0) -> Any:
        """Assert that the next message is an instance of ``kind``; return it."""
        got = self.receive(timeout)
        if not isinstance(got, kind):
            raise AssertionError(f"{self.ref.path} expected a {kind.__name__}, received {got!r}")
        return got

    def expect_no_message(self, within: float = 0.1) -> None:
        """Assert that nothing arrives within ``within`` seconds (at once when deterministic)."""
        check_timeout(within, "within")
        deadline = time.monotonic() + within
        message = self._next(
            None if current.driver is not None else max(0.0, deadline - time.monotonic())
        )
        if message is not _MISSING:
            raise AssertionError(f"{self.ref.path} expected no message, received {message!r}")

    def drain(self) -> list[Any]:
        """Every message received so far (after running pending turns when deterministic)."""
        driver = current.driver
        if driver is not None:
            driver(lambda: False)
        messages = []
        while True:
            try:
                messages.append(self._inbox.get_nowait())
            except queue.Empty:
                return messages
