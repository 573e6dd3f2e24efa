"""The smallest backstage_threads program: one actor, a tell, an ask, a clean exit.

Shows:
    * an `Actor` subclass whose state (a greeting count) needs no lock;
    * `tell` (fire and forget) and `ask` (send and wait for the reply, bounded
      by a timeout);
    * graceful shutdown by leaving the ``with ActorSystem(...)`` block.

Run:
    python examples/hello.py [--name NAME] [--workers N]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from backstage_threads import Actor, ActorSystem


@dataclass(frozen=True, slots=True)
class Greet:
    """Ask the greeter to greet someone."""

    who: str


@dataclass(frozen=True, slots=True)
class HowMany:
    """Ask the greeter how many greetings it has made."""


class Greeter(Actor[Greet | HowMany]):
    """Greets people and counts how many it greeted."""

    def __init__(self) -> None:
        self.greeted = 0  # touched only by this actor's turns: no lock needed

    def receive(self, message: Greet | HowMany) -> str | int:
        if isinstance(message, HowMany):
            return self.greeted
        self.greeted += 1
        greeting = f"Hello, {message.who}! (greeting #{self.greeted})"
        print(f"[{self.context.path}] {greeting}", flush=True)
        return greeting


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--name", default="world", metavar="NAME", help="who to greet by ask (default: %(default)s)"
    )
    parser.add_argument(
        "--workers", type=int, default=2, metavar="N", help="worker threads (default: %(default)s)"
    )
    args = parser.parse_args(argv)

    with ActorSystem("hello", workers=args.workers) as system:
        greeter = system.spawn(Greeter, name="greeter")
        greeter.tell(Greet("Ada"))  # returns at once; the actor prints later
        greeter.tell(Greet("Grace"))
        # Messages from one sender arrive in order, so this reply comes after
        # both tells were handled.
        reply = greeter.ask(Greet(args.name), timeout=5.0)
        print(f"ask replied: {reply!r}")
        count = greeter.ask(HowMany(), timeout=5.0)
        print(f"greetings made: {count}")
    print(f"system shut down; greeter alive: {greeter.is_alive}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
