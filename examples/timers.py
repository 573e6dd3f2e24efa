"""Timers: one-shot and periodic messages, receive timeouts, and a heartbeat monitor.

Shows:
    * ``context.send_after(delay, message)``: a message to yourself later; the
      returned `TimerHandle` cancels it (one alarm rings, a cancelled one never);
    * ``context.send_every(period, message)``: a periodic tick, cancelled from
      the actor's own turn after three ticks (no tick arrives afterwards);
    * ``context.set_receive_timeout(seconds)``: `ReceiveTimeout` arrives when no
      message came for that long. A heartbeat monitor uses it to mark itself
      DEGRADED with ``context.set_status`` when the heartbeats stop, and
      RUNNING again when they resume; the main thread follows the changes with
      ``system.subscribe_status`` and waits on events with timeouts.

Everything is driven by messages and bounded waits: the program never sleeps.
It finishes in about 20 periods (one second at the default period).

Run:
    python examples/timers.py [--period SECONDS] [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from backstage_threads import (
    Actor,
    ActorRef,
    ActorSystem,
    ReceiveTimeout,
    ServiceStatus,
    TimerHandle,
)

# -- send_after ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SetAlarms:
    """Set an alarm that rings and one that is cancelled before it can."""

    delay: float
    done: Future[list[str]]


@dataclass(frozen=True, slots=True)
class Ring:
    """An alarm going off (sent by the alarm clock to itself)."""

    label: str


class AlarmClock(Actor[SetAlarms | Ring]):
    """Rings alarms set with send_after; reports which ones rang."""

    def __init__(self) -> None:
        self.rang: list[str] = []
        self.done: Future[list[str]] | None = None

    def receive(self, message: SetAlarms | Ring) -> None:
        if isinstance(message, SetAlarms):
            self.done = message.done
            self.context.send_after(message.delay, Ring("tea"))
            cancelled = self.context.send_after(message.delay / 2, Ring("cancelled"))
            cancelled.cancel()
            # A last alarm, after both would have rung, closes the demo.
            self.context.send_after(message.delay * 2, Ring("close"))
        elif message.label == "close":
            assert self.done is not None
            self.done.set_result(self.rang)
        else:
            self.rang.append(message.label)


# -- send_every ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tick:
    """A periodic tick."""


@dataclass(frozen=True, slots=True)
class Check:
    """Sent once, well after the ticker was cancelled: report the ticks."""


@dataclass(frozen=True, slots=True)
class TickReport:
    """How many ticks arrived before and after the cancel."""

    ticks: int
    late: int
    active: bool


class Ticker(Actor[Tick | Check]):
    """Ticks every period; cancels its own timer after ``stop_after`` ticks."""

    def __init__(self, period: float, stop_after: int, done: Future[TickReport]) -> None:
        self.period = period
        self.stop_after = stop_after
        self.done = done
        self.ticks = 0
        self.late = 0
        self.timer: TimerHandle | None = None

    def on_start(self) -> None:
        self.timer = self.context.send_every(self.period, Tick())

    def receive(self, message: Tick | Check) -> None:
        assert self.timer is not None
        if isinstance(message, Check):
            self.done.set_result(TickReport(self.ticks, self.late, self.timer.active))
        elif not self.timer.active:
            # A tick already being delivered when we cancelled can still land.
            self.late += 1
        else:
            self.ticks += 1
            if self.ticks == self.stop_after:
                self.timer.cancel()
                self.context.send_after(3 * self.period, Check())


# -- set_receive_timeout: a heartbeat monitor -----------------------------------------------


@dataclass(frozen=True, slots=True)
class Beat:
    """Start beating ``count`` times, once per period; ``done`` gets the total sent."""

    count: int
    done: Future[int]


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """One heartbeat, numbered from 1, from the heart to the monitor."""

    number: int


@dataclass(frozen=True, slots=True)
class HowMany:
    """Ask the monitor how many heartbeats it has received."""


class Heart(Actor[Beat | Tick]):
    """Sends ``count`` heartbeats to the monitor, one per period, then falls silent."""

    def __init__(self, monitor: ActorRef[Any], period: float) -> None:
        self.monitor = monitor
        self.period = period
        self.sent = 0
        self.remaining = 0
        self.done: Future[int] | None = None
        self.timer: TimerHandle | None = None

    def receive(self, message: Beat | Tick) -> None:
        if isinstance(message, Beat):
            self.remaining = message.count
            self.done = message.done
            self.timer = self.context.send_every(self.period, Tick())
        elif self.remaining > 0:  # a Tick; one in flight after the cancel is ignored
            self.sent += 1
            self.remaining -= 1
            self.monitor.tell(Heartbeat(self.sent))
            if self.remaining == 0:
                assert self.timer is not None and self.done is not None
                self.timer.cancel()
                # Settled after the last tell, so an ask sent to the monitor
                # once this future is done queues behind the last heartbeat.
                self.done.set_result(self.sent)


class Monitor(Actor[Heartbeat | ReceiveTimeout | HowMany]):
    """DEGRADED after ``silence`` seconds without a heartbeat; RUNNING when one comes."""

    def __init__(self, silence: float) -> None:
        self.silence = silence
        self.beats = 0

    def on_start(self) -> None:
        self.context.set_receive_timeout(self.silence)

    def receive(self, message: Heartbeat | ReceiveTimeout | HowMany) -> int | None:
        if isinstance(message, HowMany):
            return self.beats
        if isinstance(message, ReceiveTimeout):
            # Re-delivered every `silence` seconds while silent: act on the first.
            if self.context.status is ServiceStatus.RUNNING:
                self.context.set_status(ServiceStatus.DEGRADED)
        else:
            self.beats += 1
            if self.context.status is ServiceStatus.DEGRADED:
                self.context.set_status(ServiceStatus.RUNNING)
        return None


# -- driver --------------------------------------------------------------------------------


class StatusLog:
    """Records one actor's status changes; lets the main thread wait for one.

    Thread safety: `changed` runs on worker threads; `_cond` guards `_changes`.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._cond = threading.Condition()
        self._changes: list[tuple[ServiceStatus, ServiceStatus]] = []

    def changed(self, ref: ActorRef[Any], old: ServiceStatus, new: ServiceStatus) -> None:
        if ref.path == self.path:
            with self._cond:
                self._changes.append((old, new))
                self._cond.notify_all()

    def wait_for(self, old: ServiceStatus, new: ServiceStatus, timeout: float) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: (old, new) in self._changes, timeout):
                raise TimeoutError(f"{self.path} did not go {old.value} -> {new.value}")

    def changes(self) -> list[tuple[ServiceStatus, ServiceStatus]]:
        with self._cond:
            return list(self._changes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--period",
        type=float,
        default=0.05,
        metavar="SECONDS",
        help="timer period (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="bound on every wait (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if not args.period > 0:
        parser.error("--period must be > 0")
    period: float = args.period

    with ActorSystem("timers", workers=2) as system:
        # send_after, and cancelling a one-shot timer.
        alarms: Future[list[str]] = Future()
        clock = system.spawn(AlarmClock, name="alarm-clock")
        clock.tell(SetAlarms(2 * period, alarms))
        rang = alarms.result(timeout=args.timeout)
        print(f"send_after: alarms rang: {', '.join(rang)}")
        print(f"send_after: the cancelled alarm rang: {'cancelled' in rang}")

        # send_every, cancelled from the actor's own turn.
        ticked: Future[TickReport] = Future()
        system.spawn(lambda: Ticker(period, 3, ticked), name="ticker")
        report = ticked.result(timeout=args.timeout)
        print(f"send_every: {report.ticks} ticks, then cancelled (timer active: {report.active})")
        if report.late:  # rare: a tick was being delivered at the moment of the cancel
            print(f"send_every: {report.late} tick in flight at the cancel was ignored")

        # set_receive_timeout: a heartbeat monitor that degrades and recovers.
        log = StatusLog("/user/monitor")
        with system.subscribe_status(log.changed):
            monitor = system.spawn(lambda: Monitor(silence=4 * period), name="monitor")
            heart = system.spawn(lambda: Heart(monitor, period), name="heart")
            first: Future[int] = Future()
            heart.tell(Beat(5, first))
            log.wait_for(ServiceStatus.RUNNING, ServiceStatus.DEGRADED, args.timeout)
            node = system.status_tree().find(monitor.path)
            assert node is not None
            print(
                f"heartbeats stopped after 5; status tree says: {node.name} [{node.status.value}]"
            )
            second: Future[int] = Future()
            heart.tell(Beat(2, second))
            log.wait_for(ServiceStatus.DEGRADED, ServiceStatus.RUNNING, args.timeout)
            changes = log.changes()
            sent = second.result(timeout=args.timeout)
            beats = monitor.ask(HowMany(), timeout=args.timeout)
            print(f"heartbeats resumed; heart sent {sent}, monitor received {beats}")
        # Up to the recovery: silence after the last two beats degrades it again.
        recovered = changes.index((ServiceStatus.DEGRADED, ServiceStatus.RUNNING))
        print("monitor status changes:")
        for old, new in changes[: recovered + 1]:
            print(f"  {old.value} -> {new.value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
