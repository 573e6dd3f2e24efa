"""Run every example as a user would, in a subprocess, with small sizes.

Each run is bounded by a timeout and checked for exit code 0 and for the
outcome it prints (counts that must add up), not just for not crashing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
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
