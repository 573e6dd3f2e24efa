"""Blocking asks made from inside an actor's turn: the wait-for graph.

A turn that blocks in ``ref.ask`` holds its worker and its own actor. Two rules
keep that from hanging:

* The pool compensates: the wait runs inside `Scheduler.blocking`, which starts
  a spare worker while this one is blocked (Java's ForkJoinPool "managed
  blocking"), so the target gets a thread even with ``workers=1``.
* An ask that can never complete fails at once with `DeadlockError`: asking
  itself, or closing a cycle of turns each blocked in an ask to the next
  (A asks B while B's turn is blocked asking A). The graph below has one edge
  per blocked turn; the check and the insertion happen under one lock, so of
  two turns that ask each other at the same instant exactly one sees the cycle.

The non-blocking way for actors to ask each other (``context.ask``) needs none
of this: its reply arrives as a message.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ._clock import remaining
from ._errors import DeadlockError

if TYPE_CHECKING:
    from ._envelope import Ask, Reply

__all__ = ["WaitForGraph"]


T = TypeVar("T")


class Party(Protocol):
    """An actor on either end of a blocking ask (a cell)."""

    @property
    def _path(self) -> str: ...


class Target(Party, Protocol):
    """The actor asked: it takes the ask into its mailbox."""

    def _post(self, message: object, timeout: float | None) -> None: ...


class WaitForGraph:
    """Which actor's turn is blocked asking which actor, for one actor system.

    Thread safety: every method may be called from any thread.
    """

    __slots__ = ("_blocking", "_edges", "_lock")

    def __init__(self, blocking: Callable[[Callable[[], Any]], Any]) -> None:
        # The dispatcher's managed-blocking call (`Scheduler.blocking`).
        self._blocking = blocking
        # Guards _edges: asker -> the actor its blocked turn waits on.
        self._lock = threading.Lock()
        self._edges: dict[Party, Party] = {}

    def ask(
        self,
        asker: Party,
        target: Target,
        item: Ask,
        reply: Reply,
        timeout: float | None,
        deadline: float | None,
    ) -> Any:
        """Post ``item`` from ``asker``'s turn and wait for ``reply``.

        Raises:
            DeadlockError: If the target's turn is (transitively) blocked on
                ``asker``, so the reply could never come.
        """
        self._enter(asker, target)
        try:
            target._post(item, timeout)  # from a pool worker: spills, never blocks
            return self._blocking(lambda: reply.wait(remaining(deadline), target._path, timeout))
        finally:
            with self._lock:
                self._edges.pop(asker, None)

    def _enter(self, asker: Party, target: Party) -> None:
        with self._lock:
            chain: list[Party] = []
            node: Party | None = target
            while node is not None and node is not asker:
                chain.append(node)
                node = self._edges.get(node)
            if node is None:
                self._edges[asker] = target
                return
        cycle = " -> ".join(cell._path for cell in (asker, *chain, asker))
        raise DeadlockError(
            f"a blocking ask from {asker._path} to {target._path} would never complete: "
            f"the turns form a cycle of blocked asks ({cycle}); use "
            "self.context.ask(...), whose reply arrives as a message"
        )
