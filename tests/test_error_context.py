"""No internal exception is chained into a user-facing error.

A full mailbox is detected by the deque's IndexError; it used to show up in every
traceback of a send that had to wait or was refused ("During handling of the
above exception, another exception occurred"), and a dead-letter subscriber or a
reply future's callback ran while it was being handled.
"""

from __future__ import annotations

import asyncio
import sys
import traceback
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import pytest
from support import WAIT, run_thread, spawn_full, spawn_held, watch_blocked_senders

from backstage_threads import (
    ActorStoppedError,
    ActorSystem,
    DeadLetter,
    MailboxFullError,
    Overflow,
    SendTimeoutError,
)


def assert_no_internal_context(error: BaseException) -> None:
    """``error`` chains nothing internal: no context, or a suppressed one."""
    assert error.__context__ is None or error.__suppress_context__, repr(error.__context__)
    rendered = "".join(traceback.format_exception(error))
    assert "IndexError" not in rendered, rendered


def raised(call: Callable[[], object]) -> BaseException:
    with pytest.raises(Exception) as excinfo:
        call()
    return excinfo.value


def test_mailbox_full_error_under_fail_has_no_context(system: ActorSystem) -> None:
    ref, latch, _, _ = spawn_full(system, 2, overflow=Overflow.FAIL)
    for send in (lambda: ref.tell("x"), lambda: ref.tell_nowait("x"), lambda: ref.ask("x")):
        error = raised(send)
        assert isinstance(error, MailboxFullError)
        assert_no_internal_context(error)

    async def tell_async() -> None:
        await ref.tell_async("x")

    error = raised(lambda: asyncio.run(tell_async()))
    assert isinstance(error, MailboxFullError)
    assert_no_internal_context(error)
    latch.release.set()


def test_tell_nowait_on_a_full_block_mailbox_has_no_context(system: ActorSystem) -> None:
    ref, latch, _, _ = spawn_full(system, 2, overflow=Overflow.BLOCK)
    error = raised(lambda: ref.tell_nowait("x"))
    assert isinstance(error, MailboxFullError)
    assert_no_internal_context(error)
    latch.release.set()


def test_send_timeout_error_has_no_context(system: ActorSystem) -> None:
    ref, latch, _, _ = spawn_full(system, 2, overflow=Overflow.BLOCK)
    for timeout in (0.0, 0.01):
        error = raised(lambda: ref.tell("x", timeout=timeout))  # (called at once)
        assert isinstance(error, SendTimeoutError)
        assert_no_internal_context(error)
    error = raised(lambda: ref.ask("x", timeout=0.01))
    assert isinstance(error, TimeoutError)
    assert_no_internal_context(error)

    async def tell_async() -> None:
        await ref.tell_async("x", timeout=0.01)

    error = raised(lambda: asyncio.run(tell_async()))
    assert isinstance(error, SendTimeoutError)
    assert_no_internal_context(error)
    latch.release.set()


def test_actor_stopped_error_for_a_waiting_sender_has_no_context(system: ActorSystem) -> None:
    ref, latch, _, _ = spawn_full(system, 2, overflow=Overflow.BLOCK)
    blocked = watch_blocked_senders(ref)
    senders = [
        lambda: ref.tell("waits", timeout=WAIT),
        lambda: asyncio.run(ref.tell_async("awaits", timeout=WAIT)),
    ]
    started = []
    for send in senders:
        blocked.clear()
        started.append(run_thread(send))
        assert blocked.wait(WAIT), "the sender never waited"
    ref.stop()
    latch.release.set()
    for sender, outcome in started:
        sender.join(WAIT)
        assert len(outcome) == 1 and outcome[0][0] == "raised", outcome
        error = outcome[0][1]
        assert isinstance(error, ActorStoppedError)
        assert_no_internal_context(error)


@pytest.mark.parametrize("policy", [Overflow.DROP_NEWEST, Overflow.DROP_OLDEST])
def test_dead_letter_errors_have_no_context(system: ActorSystem, policy: Overflow) -> None:
    handling: list[object] = []

    def subscriber(letter: DeadLetter) -> None:
        # User code: it must not run while the runtime handles an IndexError.
        handling.append(sys.exc_info()[1])

    system.dead_letters.subscribe(subscriber)
    ref, latch, _, _ = spawn_held(system, capacity=1, overflow=policy)
    first: Future[Any] = ref.ask_future("queued")  # fills the mailbox
    second: Future[Any] = ref.ask_future("overflow")  # one of the two is dropped
    dropped = second if policy is Overflow.DROP_NEWEST else first
    error = dropped.exception(timeout=WAIT)
    assert isinstance(error, MailboxFullError)
    assert_no_internal_context(error)
    error = raised(lambda: dropped.result(timeout=WAIT))
    assert_no_internal_context(error)
    assert handling == [None]
    latch.release.set()
    kept = first if dropped is second else second
    assert kept.result(timeout=WAIT) in ("queued", "overflow")
