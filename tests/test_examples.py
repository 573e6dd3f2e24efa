"""Run every example as a user would, in a subprocess, with small sizes.

Each run is bounded by a timeout and checked for exit code 0 and for the
outcome it prints (counts that must add up), not just for not crashing.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
TIMEOUT = 120.0


def run_example(name: str, *args: str) -> str:
    """Run ``examples/<name>`` with ``args``; return its stdout (exit code 0 asserted)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, (
        f"{name} {' '.join(args)} exited with {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )
    return result.stdout


def number(pattern: str, text: str) -> int:
    """The integer captured by ``pattern`` in ``text`` (thousands separators allowed)."""
    match = re.search(pattern, text, re.MULTILINE)
    assert match is not None, f"{pattern!r} not found in output:\n{text}"
    return int(match.group(1).replace(",", ""))


def test_hello() -> None:
    out = run_example("hello.py", "--name", "tester")
    assert "Hello, Ada! (greeting #1)" in out
    assert "Hello, Grace! (greeting #2)" in out
    assert "ask replied: 'Hello, tester! (greeting #3)'" in out
    assert number(r"^greetings made: (\d+)$", out) == 3
    assert "greeter alive: False" in out


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ping_pong(workers: str) -> None:
    out = run_example("ping_pong.py", "--hops", "2000", "--workers", workers, "--timeout", "60")
    assert number(r"^hops: ([\d,]+)", out) == 2000
    assert number(r"ping=([\d,]+)", out) == 1000
    assert number(r"pong=([\d,]+)", out) == 1000
    assert number(r"total=([\d,]+)", out) == 2000
    assert number(r"^workers: (\d+)$", out) == int(workers)
    assert re.search(r"\(([\d,]+) hops/s\)", out)
    # 2 Meet + 1 Serve + 2000 balls + 2 Hits questions.
    assert number(r"^statistics: messages=([\d,]+)", out) == 2005


def test_word_count() -> None:
    out = run_example("word_count.py", "--limit", "50", "--workers", "2", "--timeout", "60")
    assert number(r"^counting identifiers in ([\d,]+) files", out) == 50
    assert number(r"^files: ([\d,]+) dealt", out) == 50
    assert number(r"^total identifiers: ([\d,]+)", out) > 0
    assert number(r"^lines: ([\d,]+)", out) > 0
    assert number(r"^wall time: [\d.]+ s with (\d+) workers$", out) == 2
    assert re.search(r"\([\d,]+ files/s\)", out)
    ranked = re.findall(r"^\s+(\d+)\. \w+\s+[\d,]+$", out, re.MULTILINE)
    assert ranked == [str(rank) for rank in range(1, 11)]
    # 50 files + 2 Finished to the counters, 50 partials + 2 Finished to the aggregator.
    assert number(r"^statistics: messages=([\d,]+)", out) == 104
    assert number(r"dead_letters=(\d+)", out) == 0


def test_word_count_reports_undecodable_files(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text("alpha = beta + alpha  # gamma\ns = 'delta'\n")
    (tmp_path / "bad.py").write_bytes(b"x = '\xff\xfe'\n")
    (tmp_path / "notes.txt").write_text("ignored = True\n")
    out = run_example("word_count.py", "--root", str(tmp_path), "--workers", "2", "--top", "2")
    assert number(r"^files: (\d+) dealt", out) == 2
    assert number(r"dealt, (\d+) undecodable", out) == 1
    assert re.search(r"skipped .*bad\.py: SyntaxError", out)
    # alpha twice and beta, s; the comment and the string literal do not count.
    assert re.search(r"^\s+1\. alpha\s+2$", out, re.MULTILINE)
    assert number(r"^total identifiers: (\d+)", out) == 4


@pytest.mark.parametrize(("jobs", "workers", "crash_every"), [("200", "3", "7"), ("300", "1", "3")])
def test_supervised_pool(jobs: str, workers: str, crash_every: str) -> None:
    out = run_example(
        "supervised_pool.py",
        *("--jobs", jobs, "--workers", workers, "--crash-every", crash_every),
        *("--timeout", "60"),
    )
    total, every = int(jobs), int(crash_every)
    succeeded = number(r"^succeeded: (\d+)$", out)
    failed = number(r"^failed: (\d+)", out)
    assert succeeded + failed == total
    assert failed == total // every
    expected_checksum = sum(n * n for n in range(1, total + 1) if n % every)
    assert number(r"^checksum of squares: (\d+)$", out) == expected_checksum
    restarts = [int(n) for n in re.findall(r"^restarts w\d+: (\d+)$", out, re.MULTILINE)]
    assert len(restarts) == int(workers)
    assert sum(restarts) == failed
    assert number(r"^total restarts: (\d+)$", out) == failed


def index_counts(db: Path) -> tuple[int, int, int, int]:
    """Row counts of an index_stdlib database: files, failed files, definitions, imports."""
    with closing(sqlite3.connect(db)) as conn:
        files, failed = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(status = 'failed'), 0) FROM files"
        ).fetchone()
        (definitions,) = conn.execute("SELECT COUNT(*) FROM definitions").fetchone()
        (imports,) = conn.execute("SELECT COUNT(*) FROM imports").fetchone()
    return files, failed, definitions, imports


def test_index_stdlib_is_rerunnable(tmp_path: Path) -> None:
    db = tmp_path / "x.sqlite3"
    args = ("--limit", "60", "--db", str(db), "--workers", "2", "--timeout", "60")
    out = run_example("index_stdlib.py", *args)
    assert number(r"^indexing ([\d,]+) files", out) == 60
    assert number(r"^parsed: ([\d,]+) files", out) == 60
    assert number(r"failed: (\d+) \(resumed", out) == 0
    assert "status tree:" in out and "writer [Running]" in out and "parser-1 [Running]" in out
    assert number(r"^wall time: [\d.]+ s, [\d,]+ files/s with (\d+) workers", out) == 2
    ranked = re.findall(r"^\s+(\d+)\. \S+\s+[\d,]+$", out, re.MULTILINE)
    assert ranked == [str(rank) for rank in range(1, 11)] * 2
    assert re.search(r"^module with the most functions: \S+ \([\d,]+ ", out, re.MULTILINE)
    first = index_counts(db)
    files, failed, definitions, imports = first
    assert (files, failed) == (60, 0)
    assert definitions > 0 and imports > 0
    assert number(r"definitions=([\d,]+)", out) == definitions
    assert number(r"imports=([\d,]+)", out) == imports

    # The same files again into the same database: rows replaced, none duplicated.
    out = run_example("index_stdlib.py", *args)
    assert index_counts(db) == first
    assert number(r"definitions=([\d,]+)", out) == definitions


def test_index_stdlib_compare_builds_equal_databases_three_ways(tmp_path: Path) -> None:
    # Bad files too: the executor's failure rows must read as the parsers' dead letters do.
    root = tmp_path / "src"
    root.mkdir()
    (root / "good.py").write_text("import os\nclass A:\n    def f(self): pass\n")
    (root / "broken.py").write_text("def broken(:\n")
    (root / "latin.py").write_bytes(b"x = '\xff'\n")
    (root / "nul.py").write_bytes(b"x = 1\0\n")
    out = run_example("index_stdlib.py", "--compare", "--root", str(root), "--workers", "2")
    assert number(r"^comparing on (\d+) files", out) == 4
    rows = re.findall(r"^  (.+?)\s+[\d.]+ s\s+[\d.]+x of 1 worker\s+\((\d+) files", out, re.M)
    assert [label for label, _ in rows] == [
        "actors, 1 worker",
        "actors, 2 workers",
        "ThreadPoolExecutor, 2 threads",
    ]
    assert {files for _, files in rows} == {"4"}
    assert re.search(
        r"^speed-up with 2 workers: [\d.]+x; executor / actors time: [\d.]+$", out, re.M
    )
    assert "databases: identical" in out


def test_index_stdlib_compare_refuses_other_backends() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "index_stdlib.py"), "--compare", "--backend", "ray"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 2
    assert "--compare runs on threads" in result.stderr or "--backend ray:" in result.stderr


def test_index_stdlib_resumes_parsers_on_bad_files(tmp_path: Path) -> None:
    root = tmp_path / "src"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("from . import mod\nimport os, sys\n")
    (root / "pkg" / "mod.py").write_text(
        "class A:\n    def f(self):\n        def g(): pass\n    async def h(self): pass\n"
        "if True:\n    from .sibling import thing\n"
    )
    (root / "broken.py").write_text("def broken(:\n")
    (root / "latin.py").write_bytes(b"x = '\xff'\n")
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "skipped.py").write_text("x = 1\n")
    db = tmp_path / "bad.sqlite3"
    out = run_example("index_stdlib.py", "--root", str(root), "--db", str(db), "--workers", "2")
    assert number(r"^indexing (\d+) files", out) == 4
    assert number(r"^parsed: (\d+) files", out) == 2
    assert number(r"failed: (\d+) \(resumed", out) == 2
    assert re.search(r"^  failed broken\.py: SyntaxError", out, re.MULTILINE)
    assert re.search(r"^  failed latin\.py: SyntaxError", out, re.MULTILINE)
    assert index_counts(db) == (4, 2, 4, 4)
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("SELECT qualname, kind, lineno FROM definitions ORDER BY lineno")
        assert rows.fetchall() == [
            ("A", "class", 1),
            ("A.f", "function", 2),
            ("A.f.<locals>.g", "function", 3),
            ("A.h", "async function", 4),
        ]
        imported = conn.execute("SELECT imported FROM imports ORDER BY imported").fetchall()
        assert [name for (name,) in imported] == ["os", "pkg", "pkg.sibling", "sys"]


def test_timers() -> None:
    out = run_example("timers.py", "--period", "0.1")
    assert out.splitlines() == [
        "send_after: alarms rang: tea",
        "send_after: the cancelled alarm rang: False",
        "send_every: 3 ticks, then cancelled (timer active: False)",
        "heartbeats stopped after 5; status tree says: monitor [Degraded]",
        "heartbeats resumed; heart sent 7, monitor received 7",
        "monitor status changes:",
        "  Starting -> Initializing",
        "  Initializing -> Running",
        "  Running -> Degraded",
        "  Degraded -> Running",
    ]


def test_app_launcher() -> None:
    out = run_example("app_launcher.py")
    assert "start order: db, cache, api" in out
    assert "started: cache, db, then api" in out  # db and cache in either order, api last
    assert "stop order: api, cache, db" in out
    assert re.search(r"^└── shop \[Running\]", out, re.MULTILINE)
    for name in ("db", "cache", "api"):
        assert re.search(rf"── {name} \[Running\] mailbox=0$", out, re.MULTILINE)
    assert "lookup 1: teapot (from db)" in out
    assert "lookup 1: teapot (from cache)" in out
    assert "lookup 9: None (from db)" in out


def test_tcp_lines_self_test() -> None:
    out = run_example("tcp_lines.py", "--self-test", "5", "--timeout", "30")
    assert re.search(r"^listening on 127\.0\.0\.1:\d+$", out, re.MULTILINE)
    assert "self-test: 5 clients, 25 lines sent, counter saw 25" in out
    assert out.splitlines()[-1] == "OK"


def test_pipeline_resources() -> None:
    out = run_example("pipeline_resources.py", "--workers", "3", "--timeout", "60")
    start = re.search(r"^start order: (.*)$", out, re.MULTILINE)
    assert start is not None, out
    steps = start.group(1).split(" -> ")
    # Spawned workers first, connection, then config: started in the order they need.
    assert steps[:2] == ["config: generation 1", "connection: opened generation 1"]
    assert sorted(steps[2:]) == [f"worker-{i}: started on generation 1" for i in range(3)]
    assert "wrote 3 rows to generation(s) [1]" in out
    after = re.search(r"^after the new config: (.*)$", out, re.MULTILINE)
    assert after is not None, out
    chain = after.group(1).split(" -> ")
    assert chain[:2] == ["config: generation 2", "connection: closed generation 1"]
    # Each worker stops on the old database and starts again once the new one
    # is published; how the workers' stops and the connection's new start
    # interleave is not ordered (they run on different actors).
    opened = chain.index("connection: opened generation 2")
    assert len(chain) == 3 + 2 * 3, chain
    for i in range(3):
        started = chain.index(f"worker-{i}: started on generation 2")
        assert 2 <= chain.index(f"worker-{i}: stopped (generation 1)") < started, chain
        assert opened < started, chain
    assert "wrote 3 rows to generation(s) [2]; it holds 3" in out
    dropped = re.search(r"^after stopping the connection: (.*)$", out, re.MULTILINE)
    assert dropped is not None, out
    assert dropped.group(1).split(" -> ")[0] == "connection: closed generation 2"
    assert number(r"^workers alive: (\d+)$", out) == 0
    assert (
        "statuses of worker-0: Starting -> Initializing -> Running -> Starting -> "
        "Initializing -> Running -> Stopping -> Stopped" in out
    )
