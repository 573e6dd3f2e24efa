"""Nox sessions: the test suite on every GIL and no-GIL interpreter, lint, types, benchmarks.

``python3 -m nox`` runs the default sessions (tests, stress, lint, typecheck) on every
interpreter it finds:

* ``python3.11`` ... ``python3.14t`` on PATH;
* every pyenv CPython >= 3.11 (the directories under ``$(pyenv root)/versions``, put on
  PATH here, since pyenv's shims answer only for the versions it has selected);
* the free-threaded 3.13t: on PATH, or in the cache that ``.ci/provision-python-ft``
  fills (``$BACKSTAGE_PYTHON_CACHE``, default ``~/.cache/backstage_threads``), whose
  ``bin/`` holds only ``python3.13t``.

Provisioning. 3.13t is always listed. Each session that runs on an interpreter requires
``interpreter(<python>)``, which reports where that interpreter is; ``interpreter(3.13t)``
runs ``.ci/provision-python-ft`` when none is found (once: the result is cached; building
it from source took 111 s on 2 cores), printing one line per phase. The dependency
is per interpreter, and nox resolves dependencies only for the sessions it runs, so
``nox -l`` and sessions that do not run on 3.13t (``-s lint typecheck``, ``-s tests-3.11``)
never provision. ``BACKSTAGE_NO_PROVISION=1`` opts out: 3.13t is then tested only if it is
already there.

Locally a missing interpreter is skipped (and a machine that cannot provision 3.13t
skips it with the reason). With ``CI=true`` 3.13t is required: if it is missing and
cannot be provisioned the run fails, so CI can never pass without exercising the no-GIL
build.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import nox

#: Sessions' ``requires=`` (here with ``{python}``) appeared in nox 2025.02.09.
nox.needs_version = ">=2025.2.9"

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
NO_PROVISION = os.environ.get("BACKSTAGE_NO_PROVISION", "").lower() in {"1", "true", "yes"}
ALL_PYTHONS = ["3.11", "3.12", "3.13", "3.13t", "3.14", "3.14t"]
FREE_THREADED = "3.13t"  # the one the provisioner provides, and the one CI requires
PROVISIONER = Path(__file__).resolve().parent / ".ci" / "provision-python-ft"
#: The provisioner's exit status for "this machine has no way to provision one".
CANNOT_PROVISION = 3

CACHE = Path(
    os.environ.get("BACKSTAGE_PYTHON_CACHE") or Path.home() / ".cache" / "backstage_threads"
)
CACHE_BIN = CACHE / "bin"  # holds only python3.13t: safe to put first on PATH


def _prepend_path(*directories: Path) -> None:
    """Put ``directories`` (in this order) ahead of PATH, each at most once."""
    path = os.environ.get("PATH", "").split(os.pathsep)
    new = [str(d) for d in directories if str(d) not in path]
    if new:
        os.environ["PATH"] = os.pathsep.join([*new, *path])


def _pyenv_bins() -> list[Path]:
    """The bin directories of pyenv's CPythons >= 3.11: GIL builds first, newest first."""
    root = os.environ.get("PYENV_ROOT")
    if shutil.which("pyenv"):
        found = subprocess.run(
            ["pyenv", "root"], capture_output=True, text=True, timeout=30, check=False
        )
        root = found.stdout.strip() if found.returncode == 0 else root
    versions = Path(root) / "versions" if root else None
    if versions is None or not versions.is_dir():
        return []
    chosen: list[tuple[bool, list[int], Path]] = []
    for entry in versions.iterdir():
        match = re.fullmatch(r"3\.(\d+)\.(\d+)(t?)", entry.name)
        if match and int(match[1]) >= 11 and (entry / "bin").is_dir():
            # A free-threaded build's bin/ also has python3.13: keep it behind the GIL ones.
            chosen.append((bool(match[3]), [-int(match[1]), -int(match[2])], entry / "bin"))
    return [bin_dir for _, _, bin_dir in sorted(chosen)]


def _find_interpreters() -> list[str]:
    """Set PATH up (pyenv, the cache) and return the Python versions that will run."""
    _prepend_path(*_pyenv_bins())
    if not shutil.which(f"python{FREE_THREADED}") and (CACHE_BIN / "python3.13t").is_file():
        _prepend_path(CACHE_BIN)
    found = [v for v in ALL_PYTHONS if shutil.which(f"python{v}")]
    if FREE_THREADED not in found and (CI or not NO_PROVISION):
        found.append(FREE_THREADED)  # interpreter(3.13t) provisions it, or says why not
    return sorted(found, key=ALL_PYTHONS.index)


PYTHONS = _find_interpreters() or ["3.11"]
STRESS_PYTHONS = [v for v in PYTHONS if v in {"3.11", "3.13t", "3.14t"}] or PYTHONS[:1]
#: lint and typecheck need one interpreter: a GIL one found here if any (never one that
#: still has to be provisioned).
TOOLS_PYTHON = next((v for v in PYTHONS if not v.endswith("t")), PYTHONS[0])

#: The Ray backend's session runs on this GIL build only (Ray has no free-threaded wheels).
RAY_PYTHON = "3.11"

nox.options.sessions = ["tests", "stress", "lint", "typecheck", "ray"]
nox.options.error_on_missing_interpreters = CI
nox.options.reuse_existing_virtualenvs = True
if hasattr(nox.options, "download_python"):  # nox >= 2025.10: never fetch interpreters
    nox.options.download_python = "never"


def _unavailable(session: nox.Session, reason: str) -> None:
    """3.13t cannot be had: an error in CI, else the 3.13t sessions are skipped."""
    if CI:
        session.error(f"{reason}; CI requires {FREE_THREADED}")
    session.skip(f"{reason}; the {FREE_THREADED} sessions will be skipped")


def _provision(session: nox.Session) -> str:
    """Run the provisioner (its progress lines go straight to stderr); return the path."""
    if NO_PROVISION:
        _unavailable(session, f"python{FREE_THREADED} not found and BACKSTAGE_NO_PROVISION is set")
    session.log(f"python{FREE_THREADED} not found: provisioning it into {CACHE}")
    done = subprocess.run(
        ["bash", str(PROVISIONER)], stdout=subprocess.PIPE, text=True, check=False
    )
    lines = done.stdout.splitlines()
    if done.returncode == 0 and lines:
        path = lines[-1]
        _prepend_path(Path(path).parent)
        return path
    if done.returncode == CANNOT_PROVISION:
        _unavailable(session, f"python{FREE_THREADED} cannot be provisioned on this machine")
    session.error(
        f"provisioning python{FREE_THREADED} failed (exit status {done.returncode}); see above"
    )


# Parametrized rather than python=PYTHONS: nox does not parametrize python for a session
# without a virtualenv, and this one must run before the interpreter exists.
@nox.session(venv_backend="none")
@nox.parametrize("version", PYTHONS, ids=PYTHONS)
def interpreter(session: nox.Session, version: str) -> None:
    """Report where this interpreter is; provision the free-threaded one if missing."""
    path = shutil.which(f"python{version}")
    if path is None and version == FREE_THREADED:
        path = _provision(session)
    if path is None:
        session.skip(f"python{version} is not installed")
    session.log(f"python{version}: {path}")


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


@nox.session(python=PYTHONS, requires=["interpreter({python})"])
def tests(session: nox.Session) -> None:
    """The test suite (unit, behaviour, examples and the quick stress tests)."""
    session.install("-e", ".[test]")
    _gil_check(session)
    session.run("python", "-m", "pytest", "-q", "-m", "not stress and not ray", *session.posargs)


@nox.session(python=STRESS_PYTHONS, requires=["interpreter({python})"])
def stress(session: nox.Session) -> None:
    """Real-thread stress tests, on the GIL baseline and the no-GIL build.

    Each stress test runs STRESS_REPEAT times (3 keeps a session to about a
    minute per interpreter on 2 cores); on GIL builds with a 1 us switch interval
    to widen race windows (see tests/conftest.py).
    """
    session.install("-e", ".[test]")
    _gil_check(session)
    session.env["BACKSTAGE_STRESS_REPEAT"] = os.environ.get("BACKSTAGE_STRESS_REPEAT", "3")
    session.run("python", "-m", "pytest", "-q", "-m", "stress and not ray", *session.posargs)


@nox.session(
    python=RAY_PYTHON,
    requires=[f"interpreter({RAY_PYTHON})"] if RAY_PYTHON in PYTHONS else [],
)
def ray(session: nox.Session) -> None:
    """The Ray backend's tests on a real local Ray cluster (marker ``ray``), on 3.11 only.

    The only session that installs Ray (the ``ray`` extra); the free-threaded
    sessions never do. The tests start one local cluster for the session (a
    head node with 2 CPUs, a second node added for the node-loss test) and shut
    it down at the end.
    """
    session.install("-e", ".[test,ray]")
    session.env["RAY_USAGE_STATS_ENABLED"] = "0"
    session.run("python", "-m", "pytest", "-q", "-m", "ray", *session.posargs)


@nox.session(python=TOOLS_PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", "backstage_threads", "tests", "examples", "noxfile.py")
    session.run("ruff", "format", "--check", "backstage_threads", "tests", "examples", "noxfile.py")


@nox.session(python=TOOLS_PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package."""
    # The Ray backend is type-checked against Ray itself on a GIL build (Ray has
    # no free-threaded wheels; there its modules are checked with Ray as Any).
    extras = ".[bench,metrics]" if TOOLS_PYTHON.endswith("t") else ".[bench,metrics,ray]"
    session.install("-e", extras, "mypy>=1.10", "pytest>=8")
    session.run("mypy", "--strict", "backstage_threads")


@nox.session(python=PYTHONS, requires=["interpreter({python})"])
def bench(session: nox.Session) -> None:
    """Benchmarks against Pykka in the same run; pass --json PATH after --."""
    session.install("-e", ".[bench]")
    session.run("python", "-m", "backstage_threads.bench", *session.posargs)
