"""An `Application`: named components started in dependency order, stopped in reverse.

The components:
    * ``db``: a real SQLite database (in memory), owned by a *pinned* actor,
      since sqlite3 blocks and a connection must stay on one thread;
    * ``cache``: a small in-memory LRU cache;
    * ``api``: an `AsyncActor` that serves lookups by awaiting ``cache`` and
      ``db`` with ``ask_async``; it *needs* both, so it starts only once they
      are Running, and stops before them.

Shows:
    * ``Application.add(name, factory, needs=[...])``, ``order()``, ``start()``
      (returns once every component is Running) and ``stop()`` (reverse order);
    * ``system.status_tree()`` of a running application;
    * ``system.lookup(path)``: how ``api`` finds its dependencies;
    * ``--serve``: ``app.run()`` instead, which blocks until Ctrl-C (SIGINT or
      SIGTERM) and then stops gracefully.

Run:
    python examples/app_launcher.py [--serve] [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import queue
import sqlite3
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from backstage_threads import Actor, ActorRef, ActorSystem, Application, AsyncActor

APP = "shop"

# -- messages ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Query:
    """Ask the database for a product's name by id (replies None if unknown)."""

    product_id: int


@dataclass(frozen=True, slots=True)
class Get:
    """Ask the cache for a key (replies None on a miss)."""

    key: object


@dataclass(frozen=True, slots=True)
class Put:
    """Store a value in the cache."""

    key: object
    value: object


@dataclass(frozen=True, slots=True)
class Lookup:
    """Ask the api for a product; it replies with a `Product`."""

    product_id: int


@dataclass(frozen=True, slots=True)
class Product:
    """The api's answer: the product's name and where it came from."""

    product_id: int
    name: str | None
    source: str


# -- components ----------------------------------------------------------------------------


class Database(Actor[Query]):
    """Owns an in-memory SQLite connection (pinned: one thread for its life)."""

    def __init__(self, events: queue.SimpleQueue[str]) -> None:
        self.events = events
        self.db: sqlite3.Connection | None = None

    def on_start(self) -> None:
        self.db = sqlite3.connect(":memory:")
        self.db.execute("CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        self.db.executemany(
            "INSERT INTO products VALUES (?, ?)",
            [(1, "teapot"), (2, "kettle"), (3, "strainer")],
        )
        self.db.commit()
        self.events.put("start db")

    def receive(self, message: Query) -> str | None:
        assert self.db is not None
        row = self.db.execute(
            "SELECT name FROM products WHERE id = ?", (message.product_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    def on_stop(self) -> None:
        if self.db is not None:
            self.db.close()
        self.events.put("stop db")


class Cache(Actor[Get | Put]):
    """A bounded least-recently-used cache."""

    def __init__(self, events: queue.SimpleQueue[str], size: int = 128) -> None:
        self.events = events
        self.size = size
        self.entries: OrderedDict[object, object] = OrderedDict()

    def on_start(self) -> None:
        self.events.put("start cache")

    def receive(self, message: Get | Put) -> object:
        if isinstance(message, Get):
            value = self.entries.get(message.key)
            if value is not None:
                self.entries.move_to_end(message.key)
            return value
        self.entries[message.key] = message.value
        self.entries.move_to_end(message.key)
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return None

    def on_stop(self) -> None:
        self.events.put("stop cache")


class Api(AsyncActor[Lookup]):
    """Serves product lookups from the cache, falling back to the database."""

    def __init__(self, events: queue.SimpleQueue[str], timeout: float) -> None:
        self.events = events
        self.timeout = timeout
        self.db: ActorRef[Any] | None = None
        self.cache: ActorRef[Any] | None = None

    async def on_start(self) -> None:
        # The application started db and cache first, so both are there.
        system = self.context.system
        self.db = system.lookup(f"/user/{APP}/db")
        self.cache = system.lookup(f"/user/{APP}/cache")
        if self.db is None or self.cache is None:
            raise RuntimeError("api started before its dependencies")
        self.events.put("start api")

    async def receive(self, message: Lookup) -> Product:
        assert self.db is not None and self.cache is not None
        key = ("product", message.product_id)
        name = await self.cache.ask_async(Get(key), timeout=self.timeout)
        if name is not None:
            return Product(message.product_id, name, "cache")
        name = await self.db.ask_async(Query(message.product_id), timeout=self.timeout)
        if name is not None:
            await self.cache.tell_async(Put(key, name), timeout=self.timeout)
        return Product(message.product_id, name, "db")

    async def on_stop(self) -> None:
        self.events.put("stop api")


# -- driver --------------------------------------------------------------------------------


def build(events: queue.SimpleQueue[str], system: ActorSystem, timeout: float) -> Application:
    """The application: api needs db and cache."""
    app = Application(APP, system=system)
    app.add("db", lambda: Database(events), pinned=True)
    app.add("cache", lambda: Cache(events))
    app.add("api", lambda: Api(events, timeout), needs=["db", "cache"])
    return app


def drain(events: queue.SimpleQueue[str]) -> list[str]:
    """Everything recorded so far, in order."""
    taken: list[str] = []
    while not events.empty():
        taken.append(events.get_nowait())
    return taken


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--serve", action="store_true", help="serve with app.run() until Ctrl-C, then stop"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="bound on every wait (default: %(default)s)",
    )
    args = parser.parse_args(argv)

    # Components record their starts and stops here: a thread-safe queue, since
    # on_start hooks run on different threads.
    events: queue.SimpleQueue[str] = queue.SimpleQueue()
    with ActorSystem("launcher", workers=2) as system:
        app = build(events, system, args.timeout)
        print(f"start order: {', '.join(app.order())}")
        if args.serve:
            print("serving; press Ctrl-C to stop", flush=True)
            app.run(timeout=args.timeout)  # start, wait for a signal, stop
            print(f"events: {', '.join(drain(events))}")
            return 0

        refs = app.start(timeout=args.timeout)  # every component is Running now
        started = [event.removeprefix("start ") for event in drain(events)]
        # db and cache start concurrently (in either order); api strictly after both.
        print(f"started: {', '.join(sorted(started[:-1]))}, then {started[-1]}")
        print("status tree:")
        print(system.status_tree())

        api = refs["api"]
        for product_id in (1, 1, 2, 9):
            product: Product = api.ask(Lookup(product_id), timeout=args.timeout)
            print(f"lookup {product_id}: {product.name} (from {product.source})")

        app.stop(timeout=args.timeout)  # reverse start order, each waited for
        print(f"stop order: {', '.join(e.removeprefix('stop ') for e in drain(events))}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:  # Ctrl-C: the actor system has already stopped gracefully
        raise SystemExit(130) from None
