"""Nox sessions: the test suite on every GIL and no-GIL interpreter, lint, types, benchmarks.

Interpreters are looked up on PATH, plus the free-threaded build that
``.ci/provision-python-ft`` caches (``~/.cache/backstage_threads/cpython-3.13t``).
Locally a missing interpreter is skipped; with ``CI=true`` a missing 3.13t is an
error, so CI can never pass without exercising the no-GIL build.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ALL_PYTHONS = ["3.11", "3.12", "3.13", "3.13t", "3.14", "3.14t"]
REQUIRED_IN_CI = "3.13t"

_cache = Path(
    os.environ.get("BACKSTAGE_PYTHON_CACHE", Path.home() / ".cache" / "backstage_threads")
)
_ft_bin = _cache / "cpython-3.13t" / "bin"
if _ft_bin.is_dir() and str(_ft_bin) not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = f"{_ft_bin}{os.pathsep}{os.environ.get('PATH', '')}"


def _available() -> list[str]:
    found = [v for v in ALL_PYTHONS if shutil.which(f"python{v}")]
    if CI and REQUIRED_IN_CI not in found:
        found.append(REQUIRED_IN_CI)  # listed anyway so that nox fails on it
    return found


PYTHONS = _available() or ["3.11"]

nox.options.sessions = ["tests", "stress", "lint", "typecheck"]
nox.options.error_on_missing_interpreters = CI
nox.options.reuse_existing_virtualenvs = True


def _gil_check(session: nox.Session) -> None:
    session.run(
        "python",
        "-c",
        "import sys, sysconfig, backstage_threads; "
        "ft = bool(sysconfig.get_config_var('Py_GIL_DISABLED')); "
        "gil = getattr(sys, '_is_gil_enabled', lambda: True)(); "
        "print(f'{sys.version.split()[0]} free-threaded={ft} gil_enabled={gil}'); "
        "sys.exit(1 if ft and gil else 0)",
    )


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The test suite (unit, behaviour, examples and the quick stress tests)."""
    session.install("-e", ".[test]")
    _gil_check(session)
    session.run("python", "-m", "pytest", "-q", "-m", "not stress", *session.posargs)


@nox.session(python=[v for v in PYTHONS if v in {"3.11", "3.13t", "3.14t"}] or PYTHONS[:1])
def stress(session: nox.Session) -> None:
    """Real-thread stress tests, on the GIL baseline and the no-GIL build.

    Each stress test runs STRESS_REPEAT times (3 keeps a session to about a
    minute per interpreter on 2 cores); on GIL builds with a 1 us switch interval
    to widen race windows (see tests/conftest.py).
    """
    session.install("-e", ".[test]")
    _gil_check(session)
    session.env["BACKSTAGE_STRESS_REPEAT"] = os.environ.get("BACKSTAGE_STRESS_REPEAT", "3")
    session.run("python", "-m", "pytest", "-q", "-m", "stress", *session.posargs)


@nox.session(python=PYTHONS[0])
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", "backstage_threads", "tests", "examples", "noxfile.py")
    session.run("ruff", "format", "--check", "backstage_threads", "tests", "examples", "noxfile.py")


@nox.session(python=PYTHONS[0])
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package."""
    session.install("-e", ".[bench]", "mypy>=1.10", "pytest>=8")
    session.run("mypy", "--strict", "backstage_threads")


@nox.session(python=PYTHONS)
def bench(session: nox.Session) -> None:
    """Benchmarks against Pykka in the same run; pass --json PATH after --."""
    session.install("-e", ".[bench]")
    session.run("python", "-m", "backstage_threads.bench", *session.posargs)
