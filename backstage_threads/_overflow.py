"""Overflow policies: what a send does when the target's mailbox is full."""

from __future__ import annotations

import enum

__all__ = ["Overflow"]


class Overflow(enum.Enum):
    """What `ActorRef.tell` does when the target's bounded mailbox is full.

    No policy loses a message silently: a message that is not enqueued is either
    rejected to the sender (an exception) or recorded as a dead letter.

    Attributes:
        BLOCK: A plain thread waits (up to its timeout) for room. A sender running
            on a shared worker never waits: its message is accepted beyond the
            capacity and the sending actor is *muted* (not scheduled again) until
            the target has drained, so backpressure travels upstream without
            parking a worker. A pinned actor's dedicated thread waits like a
            plain thread.
        FAIL: Raise `MailboxFullError` at once.
        DROP_NEWEST: Record the new message as a dead letter and return.
        DROP_OLDEST: Evict the oldest queued message to dead letters, then
            enqueue the new one.
    """

    BLOCK = "block"
    FAIL = "fail"
    DROP_NEWEST = "drop_newest"
    DROP_OLDEST = "drop_oldest"
