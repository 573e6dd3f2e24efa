"""The threaded host's parts on their own, without a cluster: mailbox turns, BLOCK
waiters, per-sender order and the call header.

Each test drives one `HostMailbox` or `Sequencer` from plain threads; where a
thread may reach a wait before or after the step that ends it, both orders
give the outcome asserted (so nothing here depends on timing or sleeps).
"""

from __future__ import annotations

import threading
from typing import Any

from raykit import RAY_MARKS, WAIT

from backstage_threads import Overflow

pytestmark = RAY_MARKS


def _mailbox(capacity: int | None = None, overflow: Overflow = Overflow.BLOCK) -> Any:
    from backstage_threads.ray._mailbox import HostMailbox

    box = HostMailbox(capacity, overflow)
    box.release()  # the turn thread's first turn (the build) is over
    return box


def _letter(message: object) -> Any:
    from backstage_threads.ray._mailbox import Letter

    return Letter(message)


def _running(idle: float = WAIT) -> Any:
    return lambda: (True, idle)


def test_a_turn_starts_taken_by_the_turn_thread() -> None:
    from backstage_threads.ray._mailbox import HostMailbox

    box = HostMailbox(None, Overflow.BLOCK)
    assert not box.claim()  # the build runs first
    box.release()
    assert box.claim()


def test_a_caller_claims_a_turn_only_when_nothing_runs_or_waits() -> None:
    box = _mailbox()
    assert box.claim()
    assert not box.claim()  # one turn at a time
    box.release()
    box.offer(_letter("queued"), None)
    assert not box.claim()  # a letter waits before the caller's
    taken = box.take(_running())
    assert taken is not None and taken.letter is not None
    assert taken.letter.message == "queued"
    assert not box.claim()  # the turn thread holds the turn it took
    box.release()
    box.control("stop")
    assert not box.claim()  # control items go first
    assert box.take(_running()).control == "stop"
    box.release()
    box.close()
    assert not box.claim()


def test_take_serves_control_items_always_and_letters_only_while_running() -> None:
    box = _mailbox()
    box.offer(_letter("a"), None)
    assert box.take(lambda: (False, 0.0)) is None  # idle: the letter stays
    box.release()
    box.control("directive")
    assert box.take(lambda: (False, 0.0)).control == "directive"
    box.release()
    taken = box.take(_running())
    assert taken is not None and taken.letter is not None and taken.letter.message == "a"
    box.release()


def test_an_idle_take_holds_the_turn() -> None:
    box = _mailbox()
    assert box.take(_running(0.0)) is None  # idle that long: the turn is the taker's
    assert not box.claim()
    box.release()
    assert box.claim()


def test_take_waits_for_a_callers_turn_and_then_takes_what_came_meanwhile() -> None:
    box = _mailbox()
    assert box.claim()
    plans_while_busy: list[bool] = []
    busy = [True]
    got: list[Any] = []

    def plan() -> tuple[bool, float]:
        plans_while_busy.append(busy[0])
        return True, WAIT

    turn_thread = threading.Thread(target=lambda: got.append(box.take(plan)))
    turn_thread.start()
    box.offer(_letter("meanwhile"), None)
    busy[0] = False
    box.release()
    turn_thread.join(WAIT)
    assert got[0].letter.message == "meanwhile"
    assert True not in plans_while_busy  # never asked (never took) during the caller's turn


def test_a_block_waiter_is_admitted_by_the_take_that_makes_room() -> None:
    from backstage_threads.ray._mailbox import Offer

    box = _mailbox(capacity=1)
    box.offer(_letter("first"), None)
    outcomes: list[Any] = []
    sender = threading.Thread(target=lambda: outcomes.append(box.offer(_letter("second"), None)))
    sender.start()
    first = box.take(_running())
    box.release()
    sender.join(WAIT)
    assert outcomes == [(Offer.ADMITTED, None)]
    assert first.letter.message == "first"
    assert box.take(_running()).letter.message == "second"
    box.release()


def test_a_block_waiter_that_times_out_leaves_the_line() -> None:
    from backstage_threads.ray._mailbox import Offer

    box = _mailbox(capacity=1)
    box.offer(_letter("first"), None)
    assert box.offer(_letter("late"), 0.0) == (Offer.TIMEOUT, None)
    assert box.take(_running()).letter.message == "first"
    box.release()
    assert box.take(_running(0.0)) is None  # "late" was not admitted by that take
    box.release()


def test_close_answers_stopped_to_waiters_and_hands_back_the_queue() -> None:
    from backstage_threads.ray._mailbox import Offer

    box = _mailbox(capacity=1)
    box.offer(_letter("queued"), None)
    outcomes: list[Any] = []
    sender = threading.Thread(target=lambda: outcomes.append(box.offer(_letter("waiting"), None)))
    sender.start()
    left = box.close()
    sender.join(WAIT)
    assert [letter.message for letter in left] == ["queued"]
    assert outcomes == [(Offer.STOPPED, None)]
    assert box.offer(_letter("after"), None) == (Offer.STOPPED, None)


def test_the_sequencer_puts_a_senders_calls_back_in_order() -> None:
    from backstage_threads.ray._order import Sequencer

    order = Sequencer()
    placed: list[int] = []
    lock = threading.Lock()

    def call(seq: int) -> None:
        order.turn(b"s" * 16, seq)
        with lock:
            placed.append(seq)
        order.placed(b"s" * 16, seq)

    later = [threading.Thread(target=call, args=(seq,)) for seq in (3, 2, 1)]
    for thread in later:
        thread.start()
    call(0)
    for thread in later:
        thread.join(WAIT)
    assert placed == [0, 1, 2, 3]


def test_the_header_round_trips() -> None:
    from backstage_threads.ray._wire import pack, unpack

    sender = bytes(range(16))
    assert unpack(pack(sender, 7, 2.5, True)) == (sender, 7, 2.5, True)
    assert unpack(pack(sender, 0)) == (sender, 0, None, False)
