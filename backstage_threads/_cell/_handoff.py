"""The async hand-off: an async actor's coroutines run on the system's event loop.

A turn of an `AsyncActor` hands the loop a coroutine (a batch of messages, or
an ``on_start``/``on_stop`` hook) and ends holding the scheduled flag, parked
with the muting layer's handshake, so it holds no worker meanwhile. When the
coroutine ends, the loop thread records its outcome in ``_outcome`` and
resumes the cell; the next turn settles it (reports a failure, finishes the
start, the stop or the restart). This is the cell's only contact with asyncio;
the loop itself lives in ``_aio``.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from .._actor import Actor, AsyncActor
from .._aio import LoopBridge
from .._envelope import Ask, settle_error, settle_result
from .._errors import ActorStoppedError, ActorSystemClosedError
from .._request import Adapted
from ._resourcing import Resourcing
from ._states import ON_RESTART, ON_START, ON_STOP, PENDING, RUNNING

__all__ = ["AsyncHandoff"]


class AsyncHandoff(Resourcing):
    """Running an async actor's batches and hooks on the loop, parked meanwhile."""

    __slots__ = ("_bridge",)

    # The event-loop bridge; None for an actor that is not an AsyncActor.
    _bridge: LoopBridge | None

    def _attach(self, actor: Actor[Any]) -> None:
        if isinstance(actor, AsyncActor) and self._bridge is None:
            self._bridge = self._system._loop_bridge()

    def _hand_over(self, result: object, marker: object, hook: str) -> bool:
        """If ``result`` is an async actor's hook coroutine, run it on the loop.

        The turn ends holding the scheduled flag; when the coroutine ends, the
        next turn's `_settle_outcome` carries on from ``marker``. Meanwhile no
        message or system message is handled. Returns False when there is
        nothing to hand over (a plain hook already ran) or the loop has already
        shut down (reported).
        """
        bridge = self._bridge
        if bridge is None or not asyncio.iscoroutine(result):
            return False
        if self._handshake is None:
            self._handshake = threading.Lock()
        self._outcome = PENDING  # before submitting: the hook may finish at once
        try:
            bridge.submit(bridge.bounded(result), lambda task: self._async_done([marker], task))
        except ActorSystemClosedError as exc:
            self._outcome = None
            self._report_quietly(hook, exc)
            return False
        return True

    def _process_async(self, budget: int) -> int:
        """Hand the actor to the loop, which runs a batch of messages; park meanwhile.

        The cell keeps its scheduled flag, so the loop's batch owns the actor as
        a turn would: it takes up to ``budget`` messages, one receive at a time,
        and settles each ask as it goes. One worker-to-loop hand-off and one back
        per batch (not per message) is what lets a plain thread stream messages
        to an async actor at the loop's speed.
        """
        item = self._pop_message()
        if item is None:
            return 0
        bridge = self._bridge
        assert bridge is not None
        if self._handshake is None:
            self._handshake = threading.Lock()
        # The message in hand, for the outcome when a receive fails.
        in_hand = [item]
        # Set before submitting: the batch may finish at once.
        self._outcome = PENDING
        batch = self._run_batch(in_hand, budget)
        bridge.submit(batch, lambda task: self._async_done(in_hand, task))
        return 1

    async def _run_batch(self, in_hand: list[object], budget: int) -> None:
        # Runs on the loop thread while the cell is parked. A failing receive
        # ends the batch; its message and error reach the next turn through
        # _async_done, which reports them to the supervisor as a turn does.
        actor = self._actor
        assert actor is not None
        item = in_hand[0]
        count = 0
        while True:
            ask = item if type(item) is Ask else None
            if type(item) is Adapted:  # a context.ask outcome: adapt it in this turn
                item = item.open()
            self._processed += 1  # metrics: the loop owns the actor while the cell is parked
            result = actor.receive(item if ask is None else ask.message)
            if asyncio.iscoroutine(result):  # (a plain def receive returns its reply)
                result = await result
            if ask is not None:
                settle_result(ask.reply, result)
            count += 1
            if (self._waiters or self._muted) and not self._sys:
                self._room_made()
            if count >= budget or self._sys or self._state is not RUNNING:
                return
            next_item = self._pop_message()
            if next_item is None:
                return
            item = in_hand[0] = next_item

    def _pop_message(self) -> object | None:
        # Look at the spill before the queue, for the reason given in _process.
        spill = self._spill
        take_spilled = spill.popleft if spill else None
        try:
            return self._queue.popleft()
        except IndexError:
            return take_spilled() if take_spilled is not None else None

    def _async_done(self, in_hand: list[object], task: asyncio.Task[Any]) -> None:
        # Runs on the loop thread when a batch has ended.
        error: BaseException | None
        if task.cancelled():
            error = ActorStoppedError(f"{self._path}: receive cancelled at shutdown")
        else:
            error = task.exception()
        self._outcome = (in_hand[0], error)
        if not self._arrive():
            self._dispatch(self)  # the turn already ended parked: resume it

    def _settle_outcome(self) -> None:
        outcome = self._outcome
        self._outcome = None
        assert isinstance(outcome, tuple)
        item, error = outcome
        if item is ON_START:
            if error is None:
                self._started()
            else:
                self._fail(self._as_exception(error, "on_start"), None, "on_start")
            return
        if item is ON_STOP or item is ON_RESTART:
            if error is not None:
                self._report_quietly("on_stop", self._as_exception(error, "on_stop"))
            if item is ON_STOP:
                self._finish_stop(False)
            else:
                self._continue_restart()
            return
        if error is None:
            return  # the batch settled every ask it ran
        is_ask = type(item) is Ask
        failure = self._receive_failed(error, item.message if is_ask else item)
        if is_ask:
            settle_error(item.reply, failure)
