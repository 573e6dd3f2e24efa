"""Real-thread stress for async actors (``-m stress``): batches under contention.

The loop runs an async actor's messages in batches and, as the consumer, wakes
plain threads blocked on its full mailbox. Here many threads push into a small
BLOCK mailbox while others ask; nothing may be lost, duplicated or reordered.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from support import assert_clean_shutdown

from backstage_threads import ActorSystem, AsyncActor, Overflow

pytestmark = [pytest.mark.stress, pytest.mark.timeout(900)]

#: Bound of any single wait in a stress test: generous for a small shared machine.
STRESS_WAIT = 300.0

SENDERS = 8
ASKERS = 2
PER_THREAD = 10_000


class AsyncCollector(AsyncActor[Any]):
    """Keeps every ``(thread, seq)`` told; echoes asks; ``"log"`` returns the record."""

    def __init__(self) -> None:
        self.got: list[tuple[int, int]] = []

    async def receive(self, message: Any) -> Any:
        if message == "log":
            return self.got
        kind, thread, seq = message
        if kind == "ask":
            await asyncio.sleep(0)  # a real suspension inside the batch
            return (thread, seq)
        self.got.append((thread, seq))
        return None


def test_threads_block_on_a_small_async_mailbox_and_asks_interleave() -> None:
    system = ActorSystem(workers=2)
    try:
        ref = system.spawn(AsyncCollector, capacity=16, overflow=Overflow.BLOCK)
        barrier = threading.Barrier(SENDERS + ASKERS, timeout=STRESS_WAIT)
        errors: list[BaseException] = []
        wrong_replies: list[Any] = []

        def send(thread: int) -> None:
            barrier.wait()
            for seq in range(PER_THREAD):
                ref.tell(("tell", thread, seq), timeout=STRESS_WAIT)

        def ask(thread: int) -> None:
            barrier.wait()
            for seq in range(PER_THREAD // 10):
                reply = ref.ask(("ask", thread, seq), timeout=STRESS_WAIT)
                if reply != (thread, seq):
                    wrong_replies.append(reply)

        def guarded(body: Any, thread: int) -> None:
            try:
                body(thread)
            except BaseException as exc:
                errors.append(exc)

        threads = [
            threading.Thread(target=guarded, args=(send, t), name=f"sender-{t}")
            for t in range(SENDERS)
        ] + [
            threading.Thread(target=guarded, args=(ask, SENDERS + t), name=f"asker-{t}")
            for t in range(ASKERS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(STRESS_WAIT)
            assert not thread.is_alive(), f"{thread.name} hung"
        assert errors == []
        assert wrong_replies == []
        got = ref.ask("log", timeout=STRESS_WAIT)
        assert len(got) == SENDERS * PER_THREAD
        assert len(set(got)) == len(got)  # no duplicates
        for thread in range(SENDERS):
            assert [seq for t, seq in got if t == thread] == list(range(PER_THREAD))
        assert system.dead_letters.count == 0
    finally:
        assert_clean_shutdown(system, STRESS_WAIT)
