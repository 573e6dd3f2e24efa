"""Count identifiers across the Python standard library with a pool of actors.

The data is real and on every machine: every ``.py`` file of the running
interpreter's standard library (``sysconfig.get_paths()["stdlib"]``, without
``site-packages``).

Shows:
    * a pipeline: the main thread reads files and deals them round-robin to N
      counter actors; each counter decodes and tokenizes its files in pure
      Python (CPU-bound, so on a free-threaded build the counters run in
      parallel) and sends one partial count per file to a single aggregator;
    * backpressure at both stages, with no message lost: a counter's mailbox is
      bounded, so the main thread's `tell` blocks while that counter is behind;
      the aggregator's mailbox holds 64 messages under `Overflow.BLOCK`, so a
      counter that outruns it is muted (not scheduled again) until it drains;
    * completion without sleeping: after its last file each counter sends the
      aggregator a `Finished` marker (after its partials, since one sender's
      messages stay in order); when every counter has finished, the aggregator
      settles a future that the main thread waits on with a timeout;
    * failures as data: a file that does not decode (in the encoding its coding
      cookie declares, else UTF-8) is counted and reported, not fatal.

Run:
    python examples/word_count.py [--workers N] [--limit N] [--top N] [--root DIR]
        [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import io
import keyword
import os
import string
import sysconfig
import time
import tokenize
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backstage_threads import Actor, ActorRef, ActorSystem, Overflow, SystemStatistics

#: The aggregator's mailbox bound: small, so that counters feel its backpressure.
AGGREGATOR_CAPACITY = 64
#: Each counter's mailbox bound: a few files in hand, so the reader stays close behind.
COUNTER_CAPACITY = 8
_IDENTIFIER_CHARS = frozenset(string.ascii_letters + string.digits + "_")
_SKIPPED_DIRS = frozenset({"site-packages", "dist-packages", "__pycache__"})
_STRING_PREFIXES = frozenset({"r", "u", "b", "f", "br", "rb", "fr", "rf"})


# -- messages ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file to count: its path (for reports) and its raw bytes."""

    path: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Partial:
    """One file's identifier counts, or the reason it could not be decoded."""

    path: str
    counts: Counter[str]
    lines: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Finished:
    """A counter has sent the partials of every file it was dealt."""

    counter: str


@dataclass(slots=True)
class Totals:
    """What the aggregator hands back when every counter has finished."""

    counts: Counter[str] = field(default_factory=Counter)
    files: int = 0
    lines: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)


# -- actors --------------------------------------------------------------------------------


class WordCounter(Actor[SourceFile | Finished]):
    """Decodes and tokenizes files; sends each file's counts to the aggregator."""

    def __init__(self, aggregator: ActorRef[Partial | Finished]) -> None:
        self.aggregator = aggregator
        # Per-actor copies: on a free-threaded build, objects shared by every
        # worker thread would have their reference counts contended.
        self.keywords = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist)
        self.identifier_chars = frozenset(_IDENTIFIER_CHARS)

    def receive(self, message: SourceFile | Finished) -> None:
        if isinstance(message, Finished):
            self.aggregator.tell(Finished(self.context.name))
            return
        try:
            # The source encoding as Python reads it: a PEP 263 coding cookie or
            # a BOM, else UTF-8.
            encoding, _ = tokenize.detect_encoding(io.BytesIO(message.data).readline)
            text = message.data.decode(encoding)
        except (SyntaxError, UnicodeDecodeError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            self.aggregator.tell(Partial(message.path, Counter(), 0, error))
            return
        counts: Counter[str] = Counter()
        lines = 0
        quote: str | None = None
        for line in text.splitlines():
            lines += 1
            quote = self.tokenize(line, quote, counts)
        self.aggregator.tell(Partial(message.path, counts, lines))

    def tokenize(self, line: str, quote: str | None, counts: Counter[str]) -> str | None:
        """Count the identifiers of one line; return the triple quote left open, if any.

        A deliberately plain character scanner (pure Python, CPU-bound) that
        skips comments, string literals (``quote`` carries an open triple-quoted
        string from line to line), numbers, keywords and string prefixes.
        """
        chars = self.identifier_chars
        keywords = self.keywords
        end = len(line)
        index = 0
        if quote is not None:
            close = line.find(quote)
            if close < 0:
                return quote
            index = close + 3
        while index < end:
            char = line[index]
            if char in chars:
                start = index
                while index < end and line[index] in chars:
                    index += 1
                word = line[start:index]
                if index < end and line[index] in "'\"" and word.lower() in _STRING_PREFIXES:
                    continue  # the r of r"...", the f of f'...'
                if not word[0].isdigit() and word not in keywords:
                    counts[word] += 1
            elif char == "#":
                return None
            elif char == '"' or char == "'":
                if line.startswith(char * 3, index):
                    close = line.find(char * 3, index + 3)
                    if close < 0:
                        return char * 3
                    index = close + 3
                else:
                    index = _string_end(line, index + 1, char)
            else:
                index += 1
        return None


def _string_end(line: str, index: int, quote: str) -> int:
    """The index just past the single-quoted string whose body starts at ``index``."""
    end = len(line)
    while index < end:
        char = line[index]
        if char == "\\":
            index += 2
        elif char == quote:
            return index + 1
        else:
            index += 1
    return end


class Aggregator(Actor[Partial | Finished]):
    """Merges partial counts; settles ``done`` once every counter has finished."""

    def __init__(self, counters: int, done: Future[Totals]) -> None:
        self.pending = counters
        self.done = done
        self.totals = Totals()

    def receive(self, message: Partial | Finished) -> None:
        if isinstance(message, Finished):
            self.pending -= 1
            if self.pending == 0:
                self.done.set_result(self.totals)
            return
        totals = self.totals
        totals.files += 1
        if message.error is not None:
            totals.failures.append((message.path, message.error))
            return
        totals.lines += message.lines
        totals.counts.update(message.counts)


# -- driver --------------------------------------------------------------------------------


def stdlib_root() -> Path:
    """The running interpreter's standard library directory."""
    return Path(sysconfig.get_paths()["stdlib"])


def python_files(root: Path, limit: int | None) -> list[Path]:
    """Every ``.py`` file under ``root`` (sorted, so runs are comparable), at most ``limit``."""
    found: list[Path] = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in _SKIPPED_DIRS)
        found.extend(Path(directory, name) for name in sorted(files) if name.endswith(".py"))
    return found if limit is None else found[:limit]


def deal(paths: list[Path], counters: list[ActorRef[Any]], timeout: float) -> list[str]:
    """Read each file and tell it to the next counter; return unreadable files.

    `tell` blocks (up to ``timeout``) while the chosen counter's mailbox is full:
    this is where the pipeline's backpressure reaches the reader.
    """
    unreadable: list[str] = []
    for index, path in enumerate(paths):
        try:
            data = path.read_bytes()
        except OSError as exc:
            unreadable.append(f"{path}: {exc.strerror}")
            continue
        counters[index % len(counters)].tell(SourceFile(str(path), data), timeout=timeout)
    for counter in counters:
        counter.tell(Finished("main"), timeout=timeout)
    return unreadable


def report(
    totals: Totals,
    unreadable: list[str],
    top: int,
    elapsed: float,
    workers: int,
    stats: SystemStatistics,
) -> None:
    print(f"files: {totals.files:,} dealt, {len(totals.failures)} undecodable", end="")
    print(f", {len(unreadable)} unreadable ({totals.files / elapsed:,.0f} files/s)")
    for path, reason in totals.failures + [(entry, "unreadable") for entry in unreadable]:
        print(f"  skipped {path}: {reason}")
    print(f"lines: {totals.lines:,}")
    print(f"top {top} identifiers:")
    for rank, (word, count) in enumerate(totals.counts.most_common(top), start=1):
        print(f"  {rank:>2}. {word:<20} {count:>10,}")
    total = sum(totals.counts.values())
    print(f"total identifiers: {total:,} ({len(totals.counts):,} distinct)")
    print(f"wall time: {elapsed:.2f} s with {workers} workers")
    print(
        f"statistics: messages={stats.messages:,} turns={stats.turns:,} "
        f"steals={stats.steals:,} parks={stats.parks:,} dead_letters={stats.dead_letters}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="worker threads and counter actors (default: the CPU count, %(default)s)",
    )
    parser.add_argument(
        "--limit", type=int, default=None, metavar="N", help="count at most N files (default: all)"
    )
    parser.add_argument(
        "--top",
        type=int,
        default=10,
        metavar="N",
        help="how many identifiers to list (default: %(default)s)",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=None,
        metavar="DIR",
        help="count the .py files under DIR (default: this interpreter's standard library)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="bound on every wait (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be >= 1")
    if args.limit is not None and args.limit < 0:
        parser.error("--limit must be >= 0")

    root = args.root or stdlib_root()
    paths = python_files(root, args.limit)

    started = time.perf_counter()
    with ActorSystem("word-count", workers=args.workers) as system:
        print(f"counting identifiers in {len(paths):,} files under {root}", flush=True)
        done: Future[Totals] = Future()
        aggregator = system.spawn(
            lambda: Aggregator(args.workers, done),
            name="aggregator",
            capacity=AGGREGATOR_CAPACITY,
            overflow=Overflow.BLOCK,
        )
        counters = [
            system.spawn(
                lambda: WordCounter(aggregator), name=f"counter-{i}", capacity=COUNTER_CAPACITY
            )
            for i in range(args.workers)
        ]
        unreadable = deal(paths, counters, args.timeout)
        totals = done.result(timeout=args.timeout)  # TimeoutError if the pipeline stalls
        elapsed = time.perf_counter() - started
    # Workers publish their counters every 64 turns and when they exit, so the
    # statistics are exact once the system has shut down.
    stats = system.statistics()
    report(totals, unreadable, args.top, elapsed, system.workers, stats)
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:  # Ctrl-C: the actor system has already stopped gracefully
        raise SystemExit(130) from None
