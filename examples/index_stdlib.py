"""Index the Python standard library into SQLite with a supervised pipeline of actors.

The data is real and on every machine: every ``.py`` file of the running
interpreter's standard library (``sysconfig.get_paths()["stdlib"]``, without
``site-packages``, ``dist-packages`` and ``__pycache__``).

Shows:
    * a CPU-bound stage that scales with cores: the main thread deals files to
      a pool of parser actors (`spawn_pool`, least-loaded routing, one parser
      per worker thread by default) that parse them with `ast` and collect
      every definition (functions, async
      functions and classes, nested ones too, with qualified names and line
      numbers) and every import; on a free-threaded build they run in parallel;
    * an I/O stage on a dedicated thread: ONE writer actor, spawned with
      ``pinned=True`` because sqlite3 blocks and a connection must stay on one
      thread, batches the rows (``executemany`` every 500 rows, or on `Flush`);
    * resources instead of refs passed by hand: the writer publishes its own
      ref as the `WRITER` resource for its siblings' subtrees; the parsers
      declare ``needs = (WRITER,)``, so each starts only once the writer is
      there (until then it is Initializing and its files wait), and look it up;
    * backpressure end to end, with nothing dropped: the writer's mailbox holds
      32 messages under `Overflow.BLOCK`, so a parser that outruns it is muted
      (its worker moves on to other actors) until the writer drains; the
      parsers' own small mailboxes make the main thread's ``tell(...,
      timeout=...)`` wait while every parser is busy;
    * supervision: the stdlib ships files that do not parse on purpose (under
      ``test/``). A parser raises on them; its supervisor, the pool actor,
      resumes it (`Directive.RESUME` for SyntaxError, ValueError,
      UnicodeDecodeError and OSError), and the files are collected from
      ``system.dead_letters`` (reason ``"failed: ..."``) and reported;
    * timers and status: a `Progress` actor redraws a progress line on stderr
      with ``context.send_every`` (5 times a second) and reads the writer's
      mailbox depth from ``system.status_tree()``, which is printed at the end;
    * completion without sleeping: once every file is dealt, the main thread
      asks each parser to drain, then asks the writer to flush and commit; that
      ask returns the database's row counts (every wait has a timeout);
    * watching it run: with ``--serve-status PORT`` the system serves its live
      status page on http://127.0.0.1:PORT/ (and ``/service``, ``/metrics``,
      ``/events``) while it runs; ``--hold-status SECONDS`` keeps it up that
      long after the indexing, with every actor still there (Enter, or the end
      of a piped input, ends the wait sooner);
    * the same actors on a Ray cluster: ``--backend ray`` runs every actor in a
      Ray actor of its own (`backstage_threads.ray.RaySystem`: the parsers are
      processes, so they parse in parallel even with a GIL) and builds the same
      database, row for row. It starts a local Ray cluster, or joins the one
      ``RAY_ADDRESS`` names. The progress line is then written by the progress
      actor's process, into Ray's worker logs.

Rerunning is safe: a file's old rows are deleted in the same transaction that
inserts its new ones, and ``UNIQUE`` constraints with ``INSERT OR REPLACE``
keep the tables free of duplicates.

Run:
    python examples/index_stdlib.py [--workers N] [--db PATH] [--limit N] [--root DIR]
        [--timeout SECONDS] [--serve-status PORT] [--hold-status SECONDS]
        [--backend BACKEND] [--compare]

``--compare`` indexes the files three ways into temporary databases (the actors
with 1 worker, with ``--workers`` workers, and the same parse-and-write job on a
``concurrent.futures.ThreadPoolExecutor`` of as many threads, which is what a
user without actors would write), checks that the three databases are equal row
for row, and prints the times and speed-ups.

On a GIL build the parsers take turns on one core, so it first prints one line on
stderr with the command that runs it on the free-threaded build (the one on PATH or
the one ``.ci/provision-python-ft`` caches, else how to provision it).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib
import os
import shlex
import shutil
import sqlite3
import stat
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import threading
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from backstage_threads import (
    Actor,
    ActorRef,
    ActorSystem,
    BackstageError,
    DeadLetter,
    Directive,
    LeastLoaded,
    MailboxFullError,
    Overflow,
    Pool,
    ResourceKey,
    SupervisorStrategy,
    Visibility,
    spawn_pool,
)

#: The writer's mailbox bound: small, so that parsers feel its backpressure.
WRITER_CAPACITY = 32
#: Each parser's mailbox bound: a few files in hand, so the dealer stays close behind.
#: 16, not 4: with 4 the dealing main thread was woken for nearly every file and took
#: a core from the parsers (3.13t, 2 workers, whole stdlib: 5.7-6.6 s with 4 against
#: 5.2-5.6 s with 16, 1 -> 2 workers 1.54-1.60x against 1.69-1.76x).
PARSER_CAPACITY = 16
#: Rows the writer buffers before one ``executemany`` round and a commit.
BATCH_ROWS = 500
#: Seconds between progress redraws.
PROGRESS_INTERVAL = 0.2
_SKIPPED_DIRS = frozenset({"site-packages", "dist-packages", "__pycache__"})

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    module TEXT NOT NULL,
    status TEXT NOT NULL,          -- 'ok' or 'failed'
    error TEXT,
    size INTEGER,
    lines INTEGER
);
CREATE TABLE IF NOT EXISTS definitions (
    path TEXT NOT NULL,
    module TEXT NOT NULL,
    qualname TEXT NOT NULL,        -- as __qualname__: Outer.method, func.<locals>.inner
    kind TEXT NOT NULL,            -- 'class', 'function' or 'async function'
    lineno INTEGER NOT NULL,
    end_lineno INTEGER,
    parent TEXT,                   -- qualname of the enclosing definition, NULL at top level
    parent_lineno INTEGER,
    UNIQUE (path, qualname, lineno)
);
CREATE INDEX IF NOT EXISTS definitions_parent ON definitions (path, parent, parent_lineno);
CREATE TABLE IF NOT EXISTS imports (
    path TEXT NOT NULL,
    module TEXT NOT NULL,
    imported TEXT NOT NULL,        -- absolute module name (relative imports resolved)
    lineno INTEGER NOT NULL,
    UNIQUE (path, imported, lineno)
);
"""

DefinitionRow = tuple[str, str, str, str, int, int | None, str | None, int | None]
ImportRow = tuple[str, str, str, int]


# -- messages ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParseFile:
    """Parse the file at ``path``, whose module name is ``module``."""

    path: str
    module: str


@dataclass(frozen=True, slots=True)
class Drain:
    """Ask a parser to answer once the files dealt before it are done (replies a count)."""


@dataclass(frozen=True, slots=True)
class FileIndex:
    """One parsed file's rows, from a parser to the writer."""

    path: str
    module: str
    size: int
    lines: int
    definitions: tuple[DefinitionRow, ...]
    imports: tuple[ImportRow, ...]

    @property
    def rows(self) -> int:
        return len(self.definitions) + len(self.imports)


@dataclass(frozen=True, slots=True)
class FileFailed:
    """Record a file that could not be parsed (from the main thread to the writer)."""

    path: str
    module: str
    error: str


@dataclass(frozen=True, slots=True)
class Flush:
    """Ask the writer to write and commit what it holds; it replies with `Counts`."""


@dataclass(frozen=True, slots=True)
class Counts:
    """Row counts of the database after a flush."""

    files: int
    failed: int
    definitions: int
    imports: int


@dataclass(frozen=True, slots=True)
class Stages:
    """Ask the pipeline for its actors' refs (it replies with a filled-in `Stages`)."""

    parsers: Pool | tuple[ActorRef[Any], ...] | None = None
    writer: ActorRef[Any] | None = None
    progress: ActorRef[Any] | None = None


@dataclass(frozen=True, slots=True)
class Tick:
    """Redraw the progress line (sent by the progress actor's own timer)."""


@dataclass(frozen=True, slots=True)
class Parsed:
    """A parser finished one file."""


@dataclass(frozen=True, slots=True)
class Stored:
    """The writer committed a batch of ``files`` files and ``rows`` rows."""

    files: int
    rows: int


@dataclass(frozen=True, slots=True)
class PeakDepth:
    """Ask the progress actor for the deepest writer mailbox it saw."""


# -- parsing -------------------------------------------------------------------------------


def package_of(module: str, path: str) -> str:
    """The package that relative imports in ``module`` are resolved against."""
    return module if Path(path).name == "__init__.py" else module.rpartition(".")[0]


def resolve(package: str, level: int, name: str | None) -> str:
    """The absolute module name of ``from <level dots><name> import ...``."""
    if level == 0:
        return name or ""
    parts = package.split(".") if package else []
    if level - 1 >= len(parts):
        return "." * level + (name or "")  # beyond the top package: keep it as written
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, name] if name else base)


class Collector:
    """Collects one module's definitions (with qualified names) and imports.

    Definitions and imports are statements, so the walk follows statement
    bodies only and never descends into expressions: about five times cheaper
    than `ast.NodeVisitor` over every node, leaving `ast.parse` as the cost.
    """

    def __init__(self, path: str, module: str) -> None:
        self.path = path
        self.module = module
        self.package = package_of(module, path)
        self.definitions: list[DefinitionRow] = []
        self.imports: list[ImportRow] = []

    def walk(self, body: list[ast.stmt], scope: tuple[str, str, int] | None = None) -> None:
        """Collect from the statements ``body`` inside ``scope`` (qualname, kind, lineno)."""
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self._define(node, scope)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    self.imports.append((self.path, self.module, alias.name, node.lineno))
            elif isinstance(node, ast.ImportFrom):
                imported = resolve(self.package, node.level, node.module)
                self.imports.append((self.path, self.module, imported, node.lineno))
            else:  # if/for/while/with/try/match: definitions may hide in their bodies
                for field in ("body", "orelse", "finalbody"):
                    statements = getattr(node, field, None)
                    if isinstance(statements, list):
                        self.walk(statements, scope)
                for clause in getattr(node, "handlers", ()) or getattr(node, "cases", ()):
                    self.walk(clause.body, scope)

    def _define(
        self,
        node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef,
        scope: tuple[str, str, int] | None,
    ) -> None:
        if isinstance(node, ast.ClassDef):
            kind = "class"
        else:
            kind = "function" if isinstance(node, ast.FunctionDef) else "async function"
        parent: str | None = None
        parent_lineno: int | None = None
        qualname = node.name
        if scope is not None:
            parent, parent_kind, parent_lineno = scope
            joint = "." if parent_kind == "class" else ".<locals>."
            qualname = f"{parent}{joint}{node.name}"
        self.definitions.append(
            (
                self.path,
                self.module,
                qualname,
                kind,
                node.lineno,
                node.end_lineno,
                parent,
                parent_lineno,
            )
        )
        self.walk(node.body, (qualname, kind, node.lineno))


def index_file(message: ParseFile) -> FileIndex:
    """Read and parse one file.

    Raises:
        SyntaxError, ValueError, UnicodeDecodeError: If the file does not parse.
        OSError: If it cannot be read.
    """
    source = Path(message.path).read_bytes()
    tree = ast.parse(source, filename=message.path)  # honours the coding cookie
    collector = Collector(message.path, message.module)
    collector.walk(tree.body)
    return FileIndex(
        message.path,
        message.module,
        len(source),
        source.count(b"\n"),
        tuple(collector.definitions),
        tuple(collector.imports),
    )


# -- actors --------------------------------------------------------------------------------


#: The writer's ref, published by the writer itself for the parsers to find.
WRITER: ResourceKey[ActorRef[Any]] = ResourceKey("writer")


class Parser(Actor[ParseFile | Drain]):
    """Parses files (CPU-bound) and sends their rows to the writer."""

    needs = (WRITER,)  # started only once the writer has published itself

    def __init__(self, progress: ActorRef[Any], writer: ActorRef[Any] | None = None) -> None:
        self.progress = progress
        self.writer = writer  # given on Ray (no resources there yet), else looked up
        self.parsed = 0  # touched only by this actor's turns: no lock needed

    def on_start(self) -> None:
        if self.writer is None:
            self.writer = self.context.lookup(WRITER)
            assert self.writer is not None  # a start dependency: it is there

    def receive(self, message: ParseFile | Drain) -> int | None:
        if isinstance(message, Drain):
            return self.parsed
        try:
            index = index_file(message)
        except SyntaxError as exc:
            # Re-raised without the location tuple (the path is in the message), so
            # the dead letter's reason reads well. The supervisor decides what next.
            raise SyntaxError(f"{exc.msg} (line {exc.lineno})") from exc
        # From a worker this never waits: if the writer is full the message is
        # accepted and this parser is muted until the writer has drained.
        assert self.writer is not None  # set by __init__ or on_start
        self.writer.tell(index)
        self.progress.tell(Parsed())
        self.parsed += 1
        return None


class IndexDatabase:
    """The SQLite side of the job: buffers rows and writes them in batches.

    Used by one thread at a time (a connection must stay on its thread): the
    writer actor's pinned thread, or the executor version's main thread.
    """

    def __init__(self, db_path: str) -> None:
        self.db = sqlite3.connect(db_path)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.executescript(SCHEMA)
        self.files: list[tuple[str, str, str, str | None, int | None, int | None]] = []
        self.definitions: list[DefinitionRow] = []
        self.imports: list[ImportRow] = []

    def add(self, index: FileIndex) -> Stored | None:
        """Buffer a parsed file's rows; the batch written if that filled one."""
        self.files.append((index.path, index.module, "ok", None, index.size, index.lines))
        self.definitions.extend(index.definitions)
        self.imports.extend(index.imports)
        if len(self.definitions) + len(self.imports) >= BATCH_ROWS:
            return self.flush()
        return None

    def add_failed(self, failed: FileFailed) -> None:
        self.files.append((failed.path, failed.module, "failed", failed.error, None, None))

    def flush(self) -> Stored | None:
        """Write and commit what is buffered; what was written, or None if nothing."""
        if not self.files:
            return None
        db = self.db
        paths = [(row[0],) for row in self.files]
        with db:  # one transaction: a file's old rows go as its new rows arrive
            db.executemany("DELETE FROM definitions WHERE path = ?", paths)
            db.executemany("DELETE FROM imports WHERE path = ?", paths)
            db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)", self.files)
            db.executemany(
                "INSERT OR REPLACE INTO definitions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                self.definitions,
            )
            db.executemany("INSERT OR REPLACE INTO imports VALUES (?, ?, ?, ?)", self.imports)
        stored = Stored(len(self.files), len(self.definitions) + len(self.imports))
        self.files, self.definitions, self.imports = [], [], []
        return stored

    def counts(self) -> Counts:
        files, failed = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(status = 'failed'), 0) FROM files"
        ).fetchone()
        (definitions,) = self.db.execute("SELECT COUNT(*) FROM definitions").fetchone()
        (imports,) = self.db.execute("SELECT COUNT(*) FROM imports").fetchone()
        return Counts(files, failed, definitions, imports)

    def close(self) -> None:
        self.flush()
        self.db.close()


class Writer(Actor[FileIndex | FileFailed | Flush]):
    """Owns the SQLite connection (an `IndexDatabase`); batches rows and writes them.

    Pinned: its turns run on a dedicated thread, so blocking in sqlite3 never
    holds a shared worker and the connection never changes threads.
    """

    def __init__(self, db_path: str, progress: ActorRef[Any], publish: bool = True) -> None:
        self.db_path = db_path
        self.progress = progress
        self.publish = publish  # as the WRITER resource (threads); on Ray parsers get the ref
        self.db: IndexDatabase | None = None

    def on_start(self) -> None:
        self.db = IndexDatabase(self.db_path)
        if self.publish:  # for the parsers (in the pool, a sibling's subtree): they wait for it
            self.context.publish(WRITER, self.context.self, visibility=Visibility.SIBLINGS)

    def receive(self, message: FileIndex | FileFailed | Flush) -> Counts | None:
        assert self.db is not None  # opened by on_start
        if isinstance(message, FileIndex):
            stored = self.db.add(message)
            if stored is not None:
                self.progress.tell(stored)
        elif isinstance(message, FileFailed):
            self.db.add_failed(message)
        elif isinstance(message, Flush):
            self._flush()
            return self.db.counts()
        return None

    def on_stop(self) -> None:
        if self.db is not None:
            self._flush()
            self.db.close()
            self.db = None

    def _flush(self) -> None:
        assert self.db is not None
        stored = self.db.flush()
        if stored is not None:
            self.progress.tell(stored)


class Progress(Actor[Tick | Parsed | Stored | PeakDepth]):
    """Redraws a progress line on stderr at most 1/PROGRESS_INTERVAL times a second."""

    def __init__(self, total: int, writer_path: str, stream: TextIO | None = None) -> None:
        self.total = total
        self.writer_path = writer_path
        # Resolved where the actor is built: on Ray, in the actor's own process.
        self.stream = sys.stderr if stream is None else stream
        self.parsed = 0
        self.stored_files = 0
        self.stored_rows = 0
        self.depth = 0
        self.peak = 0
        self.ticks = 0
        # On a terminal, redraw one line in place; in a log, write a line a second.
        self.every = 1 if self.stream.isatty() else round(1.0 / PROGRESS_INTERVAL)
        self.started = time.perf_counter()

    def on_start(self) -> None:
        self.started = time.perf_counter()
        self.context.send_every(PROGRESS_INTERVAL, Tick())  # cancelled when we stop

    def receive(self, message: Tick | Parsed | Stored | PeakDepth) -> int | None:
        if isinstance(message, Parsed):
            self.parsed += 1
        elif isinstance(message, Stored):
            self.stored_files += message.files
            self.stored_rows += message.rows
        elif isinstance(message, Tick):
            node = self.context.system.status_tree().find(self.writer_path)
            self.depth = node.mailbox_depth if node is not None else 0
            self.peak = max(self.peak, self.depth)
            self.ticks += 1
            if self.ticks % self.every == 0:
                self._draw("\r" if self.every == 1 else "\n")
        elif isinstance(message, PeakDepth):
            return self.peak
        return None

    def on_stop(self) -> None:
        self._draw("\n")

    def _draw(self, end: str) -> None:
        rate = self.parsed / max(time.perf_counter() - self.started, 1e-9)
        start = "\r" if self.every == 1 else ""
        self.stream.write(
            f"{start}parsed {self.parsed:,}/{self.total:,} files ({rate:,.0f} files/s)"
            f"  stored {self.stored_files:,} files, {self.stored_rows:,} rows"
            f"  writer mailbox {self.depth:>2}/{WRITER_CAPACITY}{end}"
        )
        self.stream.flush()


def decide(error: Exception) -> Directive:
    """Resume a parser on a file that does not parse; a broken database is fatal."""
    if isinstance(error, (SyntaxError, ValueError, OSError)):  # UnicodeDecodeError too
        return Directive.RESUME
    if isinstance(error, sqlite3.Error):
        return Directive.ESCALATE
    return Directive.RESTART  # e.g. RecursionError: a fresh parser, same mailbox


class Pipeline(Actor[Stages]):
    """Supervises the parser pool, the writer and the progress line."""

    # RESUME does not count as a restart; the limit (over all the children)
    # only bounds restarts after unexpected errors.
    supervisor_strategy = SupervisorStrategy(decide, max_restarts=100, within=60.0)

    def __init__(self, parsers: int, db_path: str, total: int, pooled: bool = True) -> None:
        self.size = parsers
        self.db_path = db_path
        self.total = total
        self.pooled = pooled  # a pool of parsers (threads), or plain children (Ray)
        self.stages = Stages()

    def on_start(self) -> None:
        # Classes and arguments, not closures over self: on Ray the factory is
        # pickled to the child's process (and self holds this actor's context).
        spawn = self.context.spawn
        writer_path = f"{self.context.path}/writer"
        progress = spawn(Progress, self.total, writer_path, name="progress")
        writer = spawn(
            Writer,
            self.db_path,
            progress,
            self.pooled,
            name="writer",
            capacity=WRITER_CAPACITY,
            overflow=Overflow.BLOCK,
            pinned=True,
        )
        if self.pooled:  # threads: a pool, and the parsers find the writer themselves
            parsers: Pool | tuple[ActorRef[Any], ...] = spawn_pool(
                self.context,
                Parser,
                progress,
                size=self.size,
                routing=LeastLoaded(),
                name="parsers",
                routee_name="parser",
                capacity=PARSER_CAPACITY,
                supervisor_strategy=self.supervisor_strategy,
            )
        else:  # Ray: no pools or resources there yet; each parser is given the writer
            parsers = tuple(
                spawn(Parser, progress, writer, name=f"parser-{i}", capacity=PARSER_CAPACITY)
                for i in range(self.size)
            )
        self.stages = Stages(parsers, writer, progress)

    def receive(self, message: Stages) -> Stages:
        return self.stages


# -- driver --------------------------------------------------------------------------------


def stdlib_root() -> Path:
    """The running interpreter's standard library directory."""
    return Path(sysconfig.get_paths()["stdlib"])


def python_files(root: Path, limit: int | None) -> list[ParseFile]:
    """Every ``.py`` file under ``root`` with its module name (sorted), at most ``limit``."""
    found: list[ParseFile] = []
    if limit == 0:
        return found
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in _SKIPPED_DIRS)
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = Path(directory, name)
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__" and len(parts) > 1:
                parts.pop()
            found.append(ParseFile(str(path.resolve()), ".".join(parts)))
            if limit is not None and len(found) >= limit:
                return found
    return found


def deal(files: list[ParseFile], parsers: Pool | tuple[ActorRef[Any], ...], timeout: float) -> None:
    """Give each file to a parser: the pool's (least-loaded routing), or on Ray the
    next parser with room, waiting for one when all are busy.

    ``tell`` waits (up to ``timeout``) while that parser's mailbox is full: this
    is where the pipeline's backpressure reaches the main thread.
    """
    if isinstance(parsers, Pool):
        for message in files:
            parsers.tell(message, timeout=timeout)
        return
    count = len(parsers)
    for turn, message in enumerate(files):
        for offset in range(count):
            try:
                parsers[(turn + offset) % count].tell_nowait(message)
                break
            except MailboxFullError:
                continue
        else:
            parsers[turn % count].tell(message, timeout=timeout)


def drain(parsers: Pool | tuple[ActorRef[Any], ...], timeout: float) -> int:
    """Wait until every parser has handled what it was dealt; return files parsed."""
    refs = parsers.routees if isinstance(parsers, Pool) else parsers
    replies: list[Future[Any]] = [parser.ask_future(Drain()) for parser in refs]
    _, pending = wait(replies, timeout=timeout)
    if pending:
        raise TimeoutError(f"{len(pending)} parser(s) did not drain within {timeout} s")
    return sum(reply.result() for reply in replies)


def hold_status(seconds: float) -> None:
    """Wait ``seconds`` (the status page stays up meanwhile), or less if a
    terminal's user presses Enter or a piped input ends."""
    print(f"indexed; status page kept up for {seconds:g} s (Enter ends it)", flush=True)
    done = threading.Event()
    mode = os.fstat(sys.stdin.fileno()).st_mode if sys.stdin is not None else 0
    if sys.stdin is not None and (sys.stdin.isatty() or stat.S_ISFIFO(mode)):

        def read_line() -> None:  # a daemon thread: a line nobody types never holds the exit
            try:
                sys.stdin.readline()
            finally:
                done.set()

        threading.Thread(target=read_line, name="hold-status-input", daemon=True).start()
    done.wait(seconds)


def gil_state() -> str:
    is_enabled = getattr(sys, "_is_gil_enabled", None)
    return "GIL enabled" if is_enabled is None or is_enabled() else "GIL disabled"


def free_threaded_interpreter() -> str | None:
    """A free-threaded interpreter on this machine: on PATH, else the provisioned one.

    ``.ci/provision-python-ft`` (which ``python3 -m nox`` runs when needed) builds one
    into ``$BACKSTAGE_PYTHON_CACHE``, default ``~/.cache/backstage_threads``.
    """
    for name in ("python3.14t", "python3.13t"):
        found = shutil.which(name)
        if found is not None:
            return found
    cache = os.environ.get("BACKSTAGE_PYTHON_CACHE") or Path.home() / ".cache" / "backstage_threads"
    for candidate in (
        Path(cache, "cpython-3.13t", "bin", "python3.13t"),
        Path(cache, "bin", "python3.13t"),
    ):
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def free_threaded_hint(argv: list[str]) -> str | None:
    """One line telling how to rerun this on a free-threaded build; None if the GIL is off.

    With a GIL the parsers (pure-Python CPU work) take turns on one core however
    many ``--workers`` there are; the line gives the exact command that lets them
    run in parallel, installing the package there first if it is missing.
    """
    is_enabled = getattr(sys, "_is_gil_enabled", None)
    if is_enabled is not None and not is_enabled():
        return None
    cores = os.cpu_count() or 1
    use = f"use all {cores} cores" if cores > 1 else "run without a GIL"
    here = Path(__file__).resolve()
    script = shlex.join([_shown(here), *argv])
    if sysconfig.get_config_var("Py_GIL_DISABLED"):  # PYTHON_GIL=1, or an extension re-enabled it
        return (
            f"note: the GIL is enabled on this free-threaded build, so the parsers take turns on "
            f"one core; to see them {use}: PYTHON_GIL=0 "
            f"{shlex.quote(sys.executable)} {script}"
        )
    head = (
        f"note: this is a GIL build of Python ({sys.version.split()[0]}), so the parsers take "
        f"turns on one core; to see them {use}, run it on the free-threaded build"
    )
    project = here.parents[1]
    interpreter = free_threaded_interpreter()
    if interpreter is None:  # the provisioner builds one (about 2 minutes) and prints its path
        provision = shlex.quote(_shown(project / ".ci" / "provision-python-ft"))
        return (
            f"{head}, which this script provisions (a build of about 2 minutes, cached): "
            f'PY=$(bash {provision}) && "$PY" -m pip install {shlex.quote(_shown(project))} '
            f'&& "$PY" {script}'
        )
    python = shlex.quote(interpreter)
    try:  # as the script would import it (-P: no current directory on sys.path)
        probe = subprocess.run(
            [interpreter, "-P", "-c", "import backstage_threads"],
            capture_output=True,
            timeout=30,
            check=False,
        )
        ready = probe.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ready = False
    install = "" if ready else f"{python} -m pip install {shlex.quote(_shown(project))} && "
    return f"{head}: {install}{python} {script}"


def _shown(path: Path) -> str:
    """``path`` relative to the current directory when it is below it, else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def summarize(db_path: str) -> None:
    """Print three queries over the finished database."""
    with closing(sqlite3.connect(db_path)) as db:
        print("10 most imported modules (importing files):")
        rows = db.execute(
            "SELECT imported, COUNT(DISTINCT path) AS n FROM imports"
            " GROUP BY imported ORDER BY n DESC, imported LIMIT 10"
        ).fetchall()
        for rank, (module, n) in enumerate(rows, start=1):
            print(f"  {rank:>2}. {module:<40} {n:>6,}")
        print("10 largest classes (methods):")
        rows = db.execute(
            "SELECT c.module, c.qualname, COUNT(*) AS n FROM definitions AS c"
            " JOIN definitions AS m ON m.path = c.path AND m.parent = c.qualname"
            "  AND m.parent_lineno = c.lineno AND m.kind != 'class'"
            " WHERE c.kind = 'class' GROUP BY c.path, c.qualname, c.lineno"
            " ORDER BY n DESC, c.module, c.qualname LIMIT 10"
        ).fetchall()
        for rank, (module, qualname, n) in enumerate(rows, start=1):
            print(f"  {rank:>2}. {f'{module}.{qualname}':<50} {n:>6,}")
        row = db.execute(
            "SELECT module, COUNT(*) AS n FROM definitions WHERE kind != 'class'"
            " GROUP BY path ORDER BY n DESC, module LIMIT 1"
        ).fetchone()
        if row is not None:
            print(f"module with the most functions: {row[0]} ({row[1]:,} incl. methods)")


@contextmanager
def open_system(backend: str, workers: int, guardian_strategy: SupervisorStrategy) -> Iterator[Any]:
    """The actor system of the chosen backend, shut down on leaving.

    ``threads``: an `ActorSystem` with ``workers`` worker threads. ``ray``: a
    `RaySystem` on a local Ray cluster started here (or the one ``RAY_ADDRESS``
    names, left running); the same actors, each in a Ray actor of its own.
    """
    if backend == "threads":
        with ActorSystem("index", workers=workers, guardian_strategy=guardian_strategy) as system:
            yield system
        return
    import ray  # noqa: PLC0415 - Ray is optional: only this backend needs it

    from backstage_threads.ray import RaySystem  # noqa: PLC0415

    # Joining a running cluster takes no resource arguments; a local one gets no dashboard.
    joining = bool(os.environ.get("RAY_ADDRESS"))
    ray.init(log_to_driver=False, **({} if joining else {"include_dashboard": False}))
    try:
        with RaySystem(f"index-{os.getpid()}", guardian_strategy=guardian_strategy) as system:
            yield system
    finally:
        ray.shutdown()  # disconnects; stops the local cluster if it was started here


def wait_failures(
    failures: list[tuple[str, str]], cond: threading.Condition, count: int, timeout: float
) -> list[tuple[str, str]]:
    """Wait until ``count`` failed files were reported; return them sorted.

    On threads they are all in by the time the parsers drained; on Ray the dead
    letters travel through the system's office to this process a moment later.
    """
    with cond:
        if not cond.wait_for(lambda: len(failures) >= count, timeout):
            raise TimeoutError(f"{len(failures)} of {count} failed files reported in {timeout} s")
        return sorted(failures)


@dataclass
class Run:
    """What one indexing run produced, for the report."""

    parsed: int
    failed: list[tuple[str, str]]
    counts: Counts
    elapsed: float
    workers: int
    peak: int = 0
    tree: object = None
    stats: Any = None


def index_with_actors(
    files: list[ParseFile],
    db: str,
    workers: int,
    timeout: float,
    backend: str = "threads",
    serve: tuple[int, float] | None = None,
    cli: argparse.ArgumentParser | None = None,
    root: Path | None = None,
) -> Run:
    """Index ``files`` into ``db`` with the actor pipeline; ``serve`` is (port, hold).

    With ``root``, says what it indexes (after the status page's address, if any).

    Raises:
        BackstageError: If an escalation stopped the system.
    """
    failures: list[tuple[str, str]] = []
    # Guards failures (appended on worker threads, or on Ray's dead-letter thread).
    failures_cond = threading.Condition()

    def on_dead_letter(letter: DeadLetter) -> None:
        # Runs on the failing parser's thread, inside its turn: keep it short.
        if isinstance(letter.message, ParseFile) and letter.reason.startswith("failed"):
            with failures_cond:
                failures.append((letter.message.path, letter.reason.removeprefix("failed: ")))
                failures_cond.notify_all()

    started = time.perf_counter()
    # Anything the pipeline escalates stops the whole system (reported by main).
    fatal = SupervisorStrategy(lambda error: Directive.ESCALATE)
    with open_system(backend, workers, fatal) as system:
        if serve is not None:
            try:
                server = system.serve_status(serve[0])
            except (OSError, ValueError) as exc:
                if cli is None:
                    raise
                cli.error(f"--serve-status: {exc}")
            print(f"status page: {server.url} (also /service, /metrics, /events)", flush=True)
        if root is not None:
            print(f"indexing {len(files):,} files under {root} into {db}", flush=True)
        pipeline = system.spawn(
            Pipeline,
            workers,
            str(Path(db).resolve()),
            len(files),
            backend == "threads",
            name="pipeline",
        )
        with system.dead_letters.subscribe(on_dead_letter):
            stages: Stages = pipeline.ask(Stages(), timeout=timeout)
            assert stages.writer is not None and stages.progress is not None
            assert stages.parsers is not None
            deal(files, stages.parsers, timeout)
            parsed = drain(stages.parsers, timeout)
            failed = wait_failures(failures, failures_cond, len(files) - parsed, timeout)
        modules = {f.path: f.module for f in files}
        for path, reason in failed:
            stages.writer.tell(FileFailed(path, modules[path], reason), timeout=timeout)
        counts: Counts = stages.writer.ask(Flush(), timeout=timeout)
        elapsed = time.perf_counter() - started
        peak = stages.progress.ask(PeakDepth(), timeout=timeout)
        tree = system.status_tree()
        if serve is not None and serve[1] > 0:
            hold_status(serve[1])
        stages.progress.stop()  # draws the final progress line
        stages.progress.wait_stopped(timeout)
        count = getattr(system, "workers", workers)
    statistics = getattr(system, "statistics", None)  # the thread backend's counters
    stats = statistics() if statistics is not None else None
    return Run(parsed, failed, counts, elapsed, count, peak, tree, stats)


def failure_text(error: BaseException) -> str:
    """How a file's failure reads in the database (as the parser's dead letter says it)."""
    if isinstance(error, SyntaxError) and error.__cause__ is None:
        error = SyntaxError(f"{error.msg} (line {error.lineno})")
    return repr(error)


def index_with_executor(files: list[ParseFile], db: str, threads: int, timeout: float) -> Run:
    """The same job without actors, as a user of ``concurrent.futures`` would write it:
    the files parsed on a `ThreadPoolExecutor`, the rows written by this thread."""
    started = time.perf_counter()
    database = IndexDatabase(db)
    parsed = 0
    failed: list[tuple[str, str]] = []
    with ThreadPoolExecutor(threads, thread_name_prefix="index-executor") as executor:
        futures = [executor.submit(index_file, message) for message in files]
        for message, future in zip(files, futures, strict=True):
            error = future.exception(timeout)
            if error is None:
                database.add(future.result())
                parsed += 1
            else:
                failed.append((message.path, failure_text(error)))
    modules = {f.path: f.module for f in files}
    failed.sort()
    for path, reason in failed:
        database.add_failed(FileFailed(path, modules[path], reason))
    database.flush()
    counts = database.counts()
    elapsed = time.perf_counter() - started
    database.close()
    return Run(parsed, failed, counts, elapsed, threads)


def digest(db: str) -> str:
    """A digest of every row of the database, in a fixed order (equal databases, equal digests)."""
    hasher = hashlib.sha256()
    with closing(sqlite3.connect(db)) as conn:
        for table in ("files", "definitions", "imports"):
            for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4"):
                hasher.update(repr(row).encode())
    return hasher.hexdigest()


def compare(files: list[ParseFile], root: Path, workers: int, timeout: float) -> int:
    """``--compare``: the same files indexed with 1 worker, with ``workers``, and with a
    thread-pool executor of ``workers`` threads, into three databases that must be equal."""
    print(f"comparing on {len(files):,} files under {root} ({gil_state()})", flush=True)
    with tempfile.TemporaryDirectory(prefix="index-compare-") as tmp:
        runs = {
            "actors, 1 worker": index_with_actors(files, f"{tmp}/one.sqlite3", 1, timeout),
            f"actors, {workers} workers": index_with_actors(
                files, f"{tmp}/many.sqlite3", workers, timeout
            ),
            f"ThreadPoolExecutor, {workers} threads": index_with_executor(
                files, f"{tmp}/executor.sqlite3", workers, timeout
            ),
        }
        digests = {digest(f"{tmp}/{name}.sqlite3") for name in ("one", "many", "executor")}
    one = runs["actors, 1 worker"].elapsed
    for label, run in runs.items():
        print(
            f"  {label:<34} {run.elapsed:7.2f} s  {one / run.elapsed:5.2f}x of 1 worker"
            f"  ({run.counts.files:,} files, {run.counts.definitions:,} definitions)"
        )
    actors = runs[f"actors, {workers} workers"].elapsed
    pool = runs[f"ThreadPoolExecutor, {workers} threads"].elapsed
    speedup, versus = one / actors, pool / actors
    print(f"speed-up with {workers} workers: {speedup:.2f}x; executor / actors time: {versus:.2f}")
    same = len(digests) == 1
    print("databases: identical" if same else "databases: DIFFER")
    return 0 if same else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="worker threads and parser actors (default: the CPU count, %(default)s)",
    )
    parser.add_argument(
        "--db",
        default="stdlib_index.sqlite3",
        metavar="PATH",
        help="SQLite database to (re)write (default: %(default)s)",
    )
    parser.add_argument(
        "--limit", type=int, default=None, metavar="N", help="index at most N files (default: all)"
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=None,
        metavar="DIR",
        help="index the .py files under DIR (default: this interpreter's standard library)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="bound on every wait (default: %(default)s)",
    )
    parser.add_argument(
        "--serve-status",
        type=int,
        default=None,
        metavar="PORT",
        help="serve the live status page on 127.0.0.1:PORT while indexing, 0 for any free "
        "port (default: none)",
    )
    parser.add_argument(
        "--hold-status",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="with --serve-status: keep serving this long once indexed (default: %(default)s)",
    )
    parser.add_argument(
        "--backend",
        choices=("threads", "ray"),
        default="threads",
        metavar="BACKEND",
        help="'threads': the actors on threads in this process; 'ray': on a Ray cluster, "
        "each in a process of its own (needs backstage_threads[ray]) (default: %(default)s)",
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="index the files three ways (actors with 1 worker, with --workers, and a "
        "ThreadPoolExecutor) into temporary databases, check they are equal and print the "
        "speed-ups",
    )
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be >= 1")
    if not 0 <= args.hold_status <= args.timeout:
        parser.error("--hold-status must be from 0 to --timeout seconds")
    if args.limit is not None and args.limit < 0:
        parser.error("--limit must be >= 0")
    if args.backend == "ray" and args.serve_status is not None:
        parser.error("--serve-status needs --backend threads")
    if args.compare and (args.backend != "threads" or args.serve_status is not None):
        parser.error("--compare runs on threads, without --serve-status")
    if args.backend == "ray":
        try:  # where Ray cannot run, the backend's ImportError says why and what instead
            importlib.import_module("backstage_threads.ray")
        except ImportError as error:
            parser.error(f"--backend ray: {error}")
    hint = (
        None
        if args.backend == "ray"
        else free_threaded_hint(sys.argv[1:] if argv is None else argv)
    )
    if hint is not None:
        print(hint, file=sys.stderr, flush=True)
    # The stdlib's tests hold invalid escapes on purpose; parsing them warns.
    # Set once, before any thread starts (the warnings filters are process-wide).
    warnings.simplefilter("ignore", SyntaxWarning)
    warnings.simplefilter("ignore", DeprecationWarning)

    root = args.root or stdlib_root()
    files = python_files(root, args.limit)

    if args.compare:
        return compare(files, root, args.workers, args.timeout)
    print_status = None
    if args.serve_status is not None:
        print_status = (args.serve_status, args.hold_status)
    try:
        run = index_with_actors(
            files, args.db, args.workers, args.timeout, args.backend, print_status, parser, root
        )
    except BackstageError as exc:
        # An escalation stopped the system: the error names the actor that failed
        # and what it raised, and chains it (leaving the block raises it too).
        cause: BaseException = exc
        while cause.__cause__ is not None:
            cause = cause.__cause__
        print(f"\npipeline failed: {exc}\ncause: {cause!r}", file=sys.stderr)
        return 1
    parsed, failed, counts, elapsed, stats = (
        run.parsed,
        run.failed,
        run.counts,
        run.elapsed,
        run.stats,
    )
    print("status tree:")
    print(run.tree)
    print(f"parsed: {parsed:,} files, failed: {len(failed)} (resumed by the supervisor)")
    for path, reason in failed:
        shown = os.path.relpath(path, root) if path.startswith(str(root)) else path
        print(f"  failed {shown}: {textwrap.shorten(reason, 110, placeholder=' ...')}")
    print(
        f"database {args.db}: files={counts.files:,} failed={counts.failed:,} "
        f"definitions={counts.definitions:,} imports={counts.imports:,}"
    )
    summarize(str(args.db))
    spill = "more is muted parsers' spill"
    print(f"writer mailbox peak: {run.peak} (capacity {WRITER_CAPACITY}; {spill})")
    if stats is not None:
        print(
            f"statistics: messages={stats.messages:,} turns={stats.turns:,} "
            f"steals={stats.steals:,} dead_letters={stats.dead_letters:,}"
        )
    rate = len(files) / elapsed if elapsed > 0 else 0.0
    where = (
        f"{run.workers} workers"
        if args.backend == "threads"
        else f"{args.workers} parser processes on Ray"
    )
    print(
        f"wall time: {elapsed:.2f} s, {rate:,.0f} files/s with {where} "
        f"({gil_state()}, Python {sys.version.split()[0]})"
    )
    return 0 if parsed + len(failed) == len(files) else 1


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:  # Ctrl-C: the actor system has already stopped gracefully
        raise SystemExit(130) from None
