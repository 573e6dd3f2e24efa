"""The benchmark runs as a user runs it, at quick sizes, and reports sane figures.

Figures are not compared with any time limit (the machine is shared); the test
checks that each scenario ran, checked its own results and wrote its rows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TIMEOUT = 300.0
SCENARIOS = ("count", "ping-pong", "ask", "bridge", "heavy", "cpu")


def bench(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """``python -m backstage_threads.bench ARGS`` with this checkout's package first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "backstage_threads.bench", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_quick_bench_writes_a_row_per_measure(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = bench("--quick", "--only", ",".join(SCENARIOS), "--json", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(out.read_text(encoding="utf-8"))
    rows = document["results"]
    assert {row["scenario"] for row in rows} == set(SCENARIOS)
    for row in rows:
        assert row["ours"] is not None and row["ours"] > 0, row
    names = [row["name"] for row in rows if row["scenario"] == "ping-pong"]
    assert any(name.startswith("floor") for name in names), names
    assert any(name.startswith("ours / the floor") for name in names), names

    # README's table from that run's JSON (given twice: one column group per run).
    table = bench("--markdown", str(out), str(out), cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    version = sys.version.split()[0]
    assert lines[0].startswith(f"| measure | {version}") and lines[0].count(version) == 4
    assert len(lines) == 2 + len(rows)
    assert all(line.count(" | ") == lines[0].count(" | ") for line in lines[2:])
    share = next(line for line in lines if "ours / the floor" in line)
    assert "ours >= 0.5" in share


def test_markdown_names_a_missing_json(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    result = bench("--markdown", str(missing))
    assert result.returncode == 2
    assert f"no such file: {missing}" in result.stderr


def test_an_unknown_scenario_is_named_in_the_error() -> None:
    result = bench("--only", "count,warp")
    assert result.returncode == 2
    assert "warp" in result.stderr and "ping-pong" in result.stderr
