"""Two actors bounce a counter back and forth: the cost of one actor-to-actor hop.

Shows:
    * actors that know each other through refs passed in messages;
    * completion without sleeping or polling: the actor that plays the last hop
      settles a `concurrent.futures.Future` carried in the serve message, and
      the main thread waits on it with a timeout;
    * `ask_future`: both players are then asked for their hit counts at once,
      and the main thread waits for both replies with one bounded wait.

Run:
    python examples/ping_pong.py [--hops N] [--workers N] [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import Future, wait
from dataclasses import dataclass
from typing import Any

from backstage_threads import Actor, ActorRef, ActorSystem


@dataclass(frozen=True, slots=True)
class Meet:
    """Introduce a player to its partner."""

    partner: ActorRef[Any]


@dataclass(frozen=True, slots=True)
class Serve:
    """Start a rally of ``hops`` actor-to-actor hops; ``done`` gets the last player's name."""

    hops: int
    done: Future[str]


@dataclass(frozen=True, slots=True)
class Hits:
    """Ask a player how many balls it has hit."""


@dataclass(frozen=True, slots=True)
class Ball:
    """The ball in play: ``remaining`` hops to go before the rally ends."""

    remaining: int
    done: Future[str]


class Player(Actor[Meet | Serve | Ball | Hits]):
    """Hits every ball back to its partner until no hops remain."""

    def __init__(self) -> None:
        self.partner: ActorRef[Any] | None = None
        self.hits = 0

    def receive(self, message: Meet | Serve | Ball | Hits) -> int | None:
        if type(message) is Ball:  # the hot path first
            self.hits += 1
            if message.remaining == 0:
                message.done.set_result(self.context.name)
            else:
                self._partner().tell(Ball(message.remaining - 1, message.done))
            return None
        if isinstance(message, Meet):
            self.partner = message.partner
        elif isinstance(message, Serve):
            self._partner().tell(Ball(message.hops - 1, message.done))
        elif isinstance(message, Hits):
            return self.hits
        return None

    def _partner(self) -> ActorRef[Any]:
        if self.partner is None:
            raise RuntimeError(f"{self.context.path} has no partner yet; send Meet first")
        return self.partner


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--hops",
        type=int,
        default=100_000,
        metavar="N",
        help="actor-to-actor hops (default: %(default)s)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="worker threads (default: the CPU count)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="bound on every wait (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.hops < 1:
        parser.error("--hops must be >= 1")

    with ActorSystem("ping-pong", workers=args.workers) as system:
        ping = system.spawn(Player, name="ping")
        pong = system.spawn(Player, name="pong")
        ping.tell(Meet(pong))
        pong.tell(Meet(ping))

        done: Future[str] = Future()
        started = time.perf_counter()
        ping.tell(Serve(args.hops, done))
        last = done.result(timeout=args.timeout)  # TimeoutError if the rally stalls
        elapsed = time.perf_counter() - started

        replies = [ping.ask_future(Hits()), pong.ask_future(Hits())]
        _, pending = wait(replies, timeout=args.timeout)
        if pending:
            raise TimeoutError(f"{len(pending)} player(s) did not report within {args.timeout} s")
        hits = [reply.result() for reply in replies]
    stats = system.statistics()  # exact after shutdown: workers publish as they exit

    print(f"hops: {args.hops:,}  last hit by: {last}")
    print(f"hits: ping={hits[0]:,} pong={hits[1]:,} total={sum(hits):,}")
    print(f"elapsed: {elapsed:.3f} s  ({args.hops / elapsed:,.0f} hops/s)")
    print(f"workers: {system.workers}")
    print(f"statistics: messages={stats.messages:,} turns={stats.turns:,} steals={stats.steals:,}")
    return 0 if sum(hits) == args.hops else 1


if __name__ == "__main__":
    raise SystemExit(main())
