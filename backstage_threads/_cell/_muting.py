"""Muting: backpressure between actors without blocking a worker (Pony's muting).

An actor that sends to a full BLOCK mailbox from a pool worker has its message
accepted beyond capacity (the mailbox's spill) and is *muted*: its turn ends
holding its scheduled flag, so it is not scheduled again until the target has
drained and unmutes it. Ending the turn and being unmuted race; a two-party
handshake (``_handshake``, a lock) decides who resubmits: the second of the two
to arrive does. The same handshake parks an async actor while the event loop
runs its coroutine (see ``_handoff``).

Invariant: only the actor's own turn writes ``_mute_target``; the unmuter (who
removed the actor from ``target._muted``) only arrives at the handshake.
"""

from __future__ import annotations

import threading

from .._local import TurnOwner
from ._system_queue import SystemQueue

__all__ = ["Muting"]


class Muting(SystemQueue):
    """Sender-side backpressure: mute episodes and the park/resume handshake."""

    __slots__ = ("_handshake", "_mute_target")

    # The mailbox this actor is muted on, set and cleared by its own turn.
    _mute_target: Muting | None
    # Two-party handshake between a parked turn's end and whoever resumes it.
    _handshake: threading.Lock | None

    def _mute_sender(self, sender: TurnOwner) -> None:
        """Register ``sender`` (running on this thread) as muted on this mailbox."""
        assert isinstance(sender, Muting)  # every turn owner is a cell
        muted = self._muted_queue()
        if sender._handshake is None:
            sender._handshake = threading.Lock()
        sender._mute_target = self
        sender._plain = False  # (its short turn must end as a full one, parked)
        muted.append(sender)

    def _arrive(self) -> bool:
        """Arrive at the handshake between a parked turn's end and its
        resumption (an unmute, or the loop's coroutine ending): True if first."""
        handshake = self._handshake
        assert handshake is not None
        if handshake.acquire(False):
            return True
        handshake.release()  # second to arrive: reset it for the next episode
        return False

    def _park_muted(self, target: Muting) -> bool:
        # Invariant: only this actor's own turn writes _mute_target; the unmuter
        # (whoever removed us from target._muted) only arrives at the handshake.
        assert target._muted is not None
        if self._muted or self._sys:
            # Someone is muted on us (parking too could close a cycle of muted
            # actors that nobody drains), or a system message waits. Withdraw,
            # unless the unmute already began.
            try:
                target._muted.remove(self)
                self._mute_target = None
                return False
            except ValueError:
                pass
        return self._arrive()

    def _unmute(self) -> None:
        """End a mute episode; called once per episode, by whoever dequeued us."""
        if not self._arrive():
            self._dispatch(self)  # its turn already ended parked: resubmit it

    def _wake_parked(self) -> None:
        target = self._mute_target
        muted = target._muted if target is not None else None
        if muted is None:
            return
        try:
            muted.remove(self)
        except ValueError:
            return  # not registered yet (its turn will see our message) or already unmuted
        self._unmute()
