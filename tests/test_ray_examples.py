"""The flagship on Ray: ``index_stdlib.py --backend ray`` builds the thread backend's database.

Both runs index the same files (real stdlib modules plus two that do not parse,
so the supervisor's RESUME and the failed-file dead letters are exercised
across processes); the Ray run joins the session's cluster through
``RAY_ADDRESS``. The databases must hold the same rows, table by table.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
from contextlib import closing
from pathlib import Path
from typing import Any

from raykit import RAY_MARKS, WAIT

pytestmark = RAY_MARKS

REPO = Path(__file__).resolve().parents[1]
#: Real modules of this interpreter's stdlib, small and varied (classes, nesting, imports).
MODULES = ("abc.py", "bisect.py", "colorsys.py", "fractions.py", "json/__init__.py", "shlex.py")
TABLES = {
    "files": "path",
    "definitions": "path, qualname, lineno",
    "imports": "path, imported, lineno",
}


def _tree(root: Path) -> None:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for name in MODULES:
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(stdlib / name, target)
    (root / "broken.py").write_text("def broken(:\n")
    (root / "latin.py").write_bytes(b"x = '\xff'\n")


def _index(root: Path, db: Path, backend: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "index_stdlib.py"), "--backend", backend,
         "--root", str(root), "--db", str(db), "--workers", "2", "--timeout", str(WAIT)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=4 * WAIT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{backend}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _rows(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    with closing(sqlite3.connect(db)) as conn:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
            for table, order in TABLES.items()
        }


def test_index_stdlib_on_ray_builds_the_same_database(ray_cluster: Any, tmp_path: Path) -> None:
    root = tmp_path / "src"
    _tree(root)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    threads = _index(root, tmp_path / "threads.db", "threads", env)
    env["RAY_ADDRESS"] = ray_cluster.address
    on_ray = _index(root, tmp_path / "ray.db", "ray", env)
    expected = _rows(tmp_path / "threads.db")
    assert len(expected["files"]) == len(MODULES) + 2
    assert len(expected["definitions"]) > 50 and len(expected["imports"]) > 10
    assert [row[2] for row in expected["files"]].count("failed") == 2
    assert _rows(tmp_path / "ray.db") == expected
    assert "parser processes on Ray" in on_ray and "workers (GIL" in threads
    for out in (threads, on_ray):
        assert "failed broken.py: SyntaxError" in out and "failed latin.py: SyntaxError" in out
