"""Actors wired by scoped resources instead of refs passed by hand.

The actors, siblings under one application root:
    * ``config`` publishes a `Config` (the database file, a generation number)
      for its siblings (``Visibility.SIBLINGS``), and publishes a new version
      when told to;
    * ``connection`` *needs* the config before it starts (``needs = (CONFIG,)``):
      until the config is published it stays Initializing, holding no worker.
      Its ``on_start`` opens a real SQLite database named by the config and
      publishes it as a `Database` resource; it *links* to the config with
      ``on_replace=LinkAction.RESTART``, so a new config restarts it on the
      new one (its old database is closed and withdrawn);
    * ``worker-0..N`` need the database and link to it: a replaced database
      (its publisher restarting) restarts them, and they start again once the
      new one is published; a dropped one (its publisher stopped) stops them.

The workers are spawned first, then the connection, then the config: the
start order still comes out config, connection, workers, because each waits
for what it needs. Then the driver replaces the config (the chain restarts in
order, and every worker writes into the new database), and finally stops the
connection (its database is dropped and every worker stops). Each step prints
the status tree and the journal of what happened, in order.

Run:
    python examples/pipeline_resources.py [--workers N] [--dir DIR] [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backstage_threads import (
    Actor,
    ActorRef,
    ActorSystem,
    Application,
    LinkAction,
    ResourceKey,
    ServiceStatus,
    Visibility,
)

APP = "pipeline"


@dataclass(frozen=True, slots=True)
class Config:
    """Where the data goes; a new generation means a new database file."""

    db_path: str
    generation: int


class Database:
    """A SQLite connection shared by the workers (each statement under its lock).

    Opened with ``check_same_thread=False`` because workers run on any worker
    thread; the lock serialises them, as one connection must be.
    """

    def __init__(self, path: str, generation: int) -> None:
        self.generation = generation
        self.path = path
        # Guards the connection: one statement (and commit) at a time.
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False)
        with self._lock, self._db:
            self._db.execute("CREATE TABLE IF NOT EXISTS items (worker TEXT, n INTEGER)")

    def insert(self, worker: str, n: int) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT INTO items VALUES (?, ?)", (worker, n))

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM items").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


CONFIG: ResourceKey[Config] = ResourceKey("config")
DATABASE: ResourceKey[Database] = ResourceKey("database")


class Journal:
    """The driver's record of what happened, in order (actors append, main waits)."""

    def __init__(self) -> None:
        # Guards _lines.
        self._changed = threading.Condition()
        self._lines: list[str] = []

    def add(self, line: str) -> None:
        with self._changed:
            self._lines.append(line)
            self._changed.notify_all()

    def wait_for(self, done: Callable[[list[str]], bool], timeout: float) -> list[str]:
        with self._changed:
            if not self._changed.wait_for(lambda: done(self._lines), timeout):
                raise TimeoutError(f"journal did not get there in {timeout} s: {self._lines}")
            return list(self._lines)

    def lines(self) -> list[str]:
        with self._changed:
            return list(self._lines)


@dataclass(frozen=True, slots=True)
class NewConfig:
    """Tell the config actor to publish the next generation."""


@dataclass(frozen=True, slots=True)
class Write:
    """Ask a worker to write ``n``; it replies with the generation it wrote to."""

    n: int


class ConfigActor(Actor[NewConfig]):
    provides = (CONFIG,)

    def __init__(self, directory: str, journal: Journal) -> None:
        self.directory = directory
        self.journal = journal
        self.generation = 0

    def on_start(self) -> None:
        self._publish()

    def receive(self, message: NewConfig) -> int:
        return self._publish()

    def _publish(self) -> int:
        self.generation += 1
        path = str(Path(self.directory, f"data-{self.generation}.sqlite3"))
        self.journal.add(f"config: generation {self.generation}")
        return self.context.publish(
            CONFIG, Config(path, self.generation), visibility=Visibility.SIBLINGS
        )


class ConnectionActor(Actor[object]):
    needs = (CONFIG,)
    provides = (DATABASE,)

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.db: Database | None = None

    def on_start(self) -> None:
        config = self.context.lookup(CONFIG)
        assert config is not None  # (it is a start dependency)
        self.db = Database(config.db_path, config.generation)
        self.context.link(CONFIG, on_replace=LinkAction.RESTART)  # a new config: restart
        self.context.publish(DATABASE, self.db, visibility=Visibility.SIBLINGS)
        self.journal.add(f"connection: opened generation {config.generation}")

    def receive(self, message: object) -> int:
        assert self.db is not None
        return self.db.count()

    def on_stop(self) -> None:
        if self.db is not None:
            self.journal.add(f"connection: closed generation {self.db.generation}")
            self.db.close()
            self.db = None


class Worker(Actor[Write]):
    needs = (DATABASE,)
    needs_timeout = 30.0

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.db: Database | None = None

    def on_start(self) -> None:
        self.db = self.context.lookup(DATABASE)
        assert self.db is not None
        # Replaced (its publisher restarts): restart, and start on the new one.
        # Dropped (its publisher stopped): stop.
        self.context.link(DATABASE, on_drop=LinkAction.STOP, on_replace=LinkAction.RESTART)
        self.journal.add(f"{self.context.name}: started on generation {self.db.generation}")

    def receive(self, message: Write) -> int:
        assert self.db is not None
        self.db.insert(self.context.name, message.n)
        return self.db.generation

    def on_stop(self) -> None:
        generation = self.db.generation if self.db is not None else "-"
        self.journal.add(f"{self.context.name}: stopped (generation {generation})")


def show(app: Application, title: str) -> None:
    assert app.system is not None
    print(f"-- {title}")
    print(app.system.status_tree().find(f"/user/{APP}"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workers", type=int, default=3, metavar="N", help="worker actors (default: %(default)s)"
    )
    parser.add_argument(
        "--dir",
        default=None,
        metavar="DIR",
        help="where the databases go (default: a temporary directory)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="bound on every wait (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be >= 1")
    with tempfile.TemporaryDirectory() as scratch:
        directory = args.dir or scratch
        return run(args.workers, directory, args.timeout)


def run(workers: int, directory: str, timeout: float) -> int:
    with ActorSystem("resources") as system:
        statuses: dict[str, list[str]] = {}
        lock = threading.Lock()  # guards statuses (changed on worker threads)

        def changed(ref: ActorRef[Any], old: ServiceStatus, new: ServiceStatus) -> None:
            with lock:
                statuses.setdefault(ref.name, [old.value]).append(new.value)

        with system.subscribe_status(changed):
            code = steps(system, workers, directory, timeout)
        with lock:
            for name in ("config", "connection", "worker-0"):
                print(f"statuses of {name}: {' -> '.join(statuses.get(name, []))}")
    return code


def steps(system: ActorSystem, workers: int, directory: str, timeout: float) -> int:
    journal = Journal()
    names = [f"worker-{i}" for i in range(workers)]
    app = Application(APP, system=system)
    # Declared in reverse of what they need: the resources put them in order.
    for name in names:
        app.add(name, Worker, journal)
    app.add("connection", ConnectionActor, journal)
    app.add("config", ConfigActor, directory, journal)
    started = time.perf_counter()
    refs = app.start(timeout)
    try:
        lines = journal.lines()
        print("start order:", " -> ".join(lines))
        show(app, "running")
        generations = {refs[n].ask(Write(i), timeout=timeout) for i, n in enumerate(names)}
        print(f"wrote {len(names)} rows to generation(s) {sorted(generations)}")

        before = len(journal.lines())
        refs["config"].ask(NewConfig(), timeout=timeout)  # publish generation 2
        restarted = journal.wait_for(
            lambda ls: sum("started on generation 2" in line for line in ls) == len(names),
            timeout,
        )
        print("after the new config:", " -> ".join(restarted[before:]))
        generations = {refs[n].ask(Write(i), timeout=timeout) for i, n in enumerate(names)}
        rows = refs["connection"].ask("count", timeout=timeout)
        print(f"wrote {len(names)} rows to generation(s) {sorted(generations)}; it holds {rows}")
        show(app, "after the new config")

        before = len(journal.lines())
        refs["connection"].stop()
        for name in names:
            refs[name].wait_stopped(timeout)
        stopped = journal.lines()[before:]
        print("after stopping the connection:", " -> ".join(stopped))
        alive = [n for n in names if refs[n].is_alive]
        print(f"workers alive: {len(alive)}")
        show(app, "after stopping the connection")
    finally:
        app.stop(timeout)
    print(f"done in {time.perf_counter() - started:.2f} s")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        raise SystemExit(130) from None
