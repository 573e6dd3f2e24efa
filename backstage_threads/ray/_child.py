"""`Child`: what a parent host keeps of one child, and how its strategy acts on it."""

from __future__ import annotations

from typing import Any

from ._ref import RayActorRef
from ._spec import Directive as Order
from ._spec import Stop

__all__ = ["Child"]


class Child:
    """What a parent keeps of one child; as `Supervised`, what its strategy acts on.

    The strategy's orders become `Directive` and `Stop` control items sent to
    the child's host (fire and forget: a child that is gone reports through its
    ``until_stopped`` call). ``restarts`` is counted here, by the parent, so that
    it survives the child's process.
    """

    __slots__ = ("handle", "ref", "restarts", "supervised")

    def __init__(self, ref: RayActorRef[Any], handle: Any) -> None:
        self.ref = ref
        self.handle = handle
        self.restarts = 0
        # The ref a Failure carries: the same actor, with this record as its cell.
        self.supervised: RayActorRef[Any] = RayActorRef(
            handle, ref.path, ref._namespace, ref._overflow, ref._capacity
        )
        self.supervised._cell = self  # type: ignore[assignment]

    @property
    def _path(self) -> str:
        return self.ref.path

    def _send(self, item: object) -> None:
        try:
            self.handle.control.remote(item)
        except Exception:  # noqa: BLE001 - gone: its until_stopped call reports it
            pass

    def _request_resume(self) -> None:
        self._send(Order("resume", self.restarts))

    def _request_restart(self, running_too: bool = False) -> None:
        self.restarts += 1
        self._send(Order("restart", self.restarts))

    def _request_stop(self, reason: str | None) -> None:
        self._send(Stop(reason))

    def _suspend(self) -> None:
        self._send(Order("suspend", self.restarts))
