"""The examples' command lines: ``--help``, their docstrings, and the main example's GIL hint.

Every example's ``--help`` exits 0, shows the default of every option that takes a
value, and lists exactly the options that the module docstring's ``Run:`` synopsis
names, each with the same metavar. The main example (``index_stdlib.py``) tells a user
on a GIL build, in one line on stderr, how to run it on the free-threaded build, and
says nothing of the kind where the GIL is off.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
TIMEOUT = 120.0
GIL_ENABLED = getattr(sys, "_is_gil_enabled", lambda: True)()
#: Wide enough that argparse wraps nothing: one usage line, one line per option.
COLUMNS = "1000"


def example_names() -> list[str]:
    return sorted(path.name for path in EXAMPLES.glob("*.py"))


def run(
    name: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``examples/<name>`` with ``args`` from the repository root."""
    full_env = dict(os.environ if env is None else env)
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), full_env.get("PYTHONPATH")]))
    full_env["COLUMNS"] = COLUMNS
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def parse_help(text: str) -> tuple[list[tuple[str, str | None]], dict[str, str]]:
    """The usage line's options as (flag, metavar or None), and each option's help text."""
    usage = text.split("\n\n", 1)[0]
    options = [
        (flag, metavar or None)
        for flag, metavar in re.findall(r"\[(--[\w-]+)(?: ([A-Z_]+))?\]", usage)
        if flag != "--help"
    ]
    helps: dict[str, str] = {}
    current: str | None = None
    for line in text.splitlines():
        entry = re.match(r"^  (?:-\w, )?(--[\w-]+)(?: [A-Z_]+)?(.*)$", line)
        if entry is not None:
            current = entry.group(1)
            helps[current] = entry.group(2).strip()
        elif current is not None and line.startswith("   "):
            helps[current] += " " + line.strip()  # help moved to the next line
        else:
            current = None
    return options, helps


def docstring(name: str) -> str:
    """The example's module docstring, with runs of whitespace made single spaces."""
    tree = ast.parse((EXAMPLES / name).read_text(encoding="utf-8"))
    text = ast.get_docstring(tree)
    assert text is not None, f"{name} has no module docstring"
    return " ".join(text.split())


@pytest.mark.parametrize("name", example_names())
def test_help_matches_docstring_and_shows_defaults(name: str) -> None:
    result = run(name, "--help")
    assert result.returncode == 0, f"{name} --help exited {result.returncode}:\n{result.stderr}"
    options, helps = parse_help(result.stdout)
    assert options, f"no options found in {name} --help:\n{result.stdout}"
    doc = docstring(name)
    for flag, metavar in options:
        shown = flag if metavar is None else f"{flag} {metavar}"
        assert f"[{shown}]" in doc, f"{name}: the docstring's Run: line lacks [{shown}]"
        if metavar is not None:
            assert "(default: " in helps.get(flag, ""), (
                f"{name} --help shows no default for {flag}: {helps.get(flag)!r}"
            )
    # And the other way round: the docstring names no flag that does not exist.
    documented = set(re.findall(r"(?<![\w-])--[a-z][\w-]*", doc))
    assert documented <= {flag for flag, _ in options}, (
        f"{name}: the docstring names flags --help does not have: "
        f"{sorted(documented - {flag for flag, _ in options})}"
    )


def load_index_stdlib() -> ModuleType:
    """examples/index_stdlib.py imported as a module (its main() does not run)."""
    spec = importlib.util.spec_from_file_location(
        "index_stdlib_example", EXAMPLES / "index_stdlib.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while created
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_gil_hint_names_a_free_threaded_command_only_on_gil_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = load_index_stdlib()
    # A machine with no free-threaded interpreter: the hint says how to provision one.
    monkeypatch.setenv("BACKSTAGE_PYTHON_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.chdir(REPO)
    hint = example.free_threaded_hint(["--limit", "5"])
    if not GIL_ENABLED:
        assert hint is None
        return
    assert hint is not None and "\n" not in hint
    assert "GIL build" in hint
    assert 'PY=$(bash .ci/provision-python-ft) && "$PY" -m pip install . && ' in hint
    assert hint.endswith('"$PY" examples/index_stdlib.py --limit 5')

    # A provisioned one (here a stand-in that cannot import the package): the hint
    # gives that interpreter, installing the package first.
    fake = tmp_path / "cache" / "cpython-3.13t" / "bin" / "python3.13t"
    fake.parent.mkdir(parents=True)
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    hint = example.free_threaded_hint(["--limit", "5"])
    assert hint is not None
    assert hint.endswith(f"{fake} -m pip install . && {fake} examples/index_stdlib.py --limit 5")


def test_gil_hint_interpreter_is_free_threaded() -> None:
    """Whatever interpreter the hint would name on this machine is really free-threaded."""
    found = load_index_stdlib().free_threaded_interpreter()
    if found is None:
        pytest.skip("no free-threaded interpreter on this machine")
    check = (
        "import sys, sysconfig; sys.exit(0 if sysconfig.get_config_var('Py_GIL_DISABLED') else 1)"
    )
    assert subprocess.run([found, "-c", check], timeout=TIMEOUT, check=False).returncode == 0


def test_index_stdlib_prints_the_gil_hint_first_on_stderr(tmp_path: Path) -> None:
    args = ("--limit", "3", "--workers", "2", "--db", str(tmp_path / "x.sqlite3"))
    result = run("index_stdlib.py", *args, "--timeout", "60")
    assert result.returncode == 0, result.stderr
    hints = [line for line in result.stderr.splitlines() if "free-threaded build" in line]
    if GIL_ENABLED:
        assert len(hints) == 1, result.stderr
        assert result.stderr.startswith("note: this is a GIL build of Python"), result.stderr
        assert hints[0].endswith(
            f"examples/index_stdlib.py --limit 3 --workers 2 --db {args[-1]} --timeout 60"
        )
    else:
        assert hints == [], result.stderr
        assert "GIL" not in result.stderr
