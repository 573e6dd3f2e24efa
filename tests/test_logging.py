"""Logging: disabled by default, one line enables it, the actor path is bound."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from loguru import logger

from backstage_threads import Actor, ActorSystem, _log


class Fails(Actor[Any]):
    def receive(self, message: Any) -> Any:
        if message == "x":
            raise ValueError("bad input")
        return message


@pytest.fixture
def records() -> Iterator[list[dict[str, Any]]]:
    captured: list[dict[str, Any]] = []
    handler = logger.add(lambda m: captured.append(m.record), level="TRACE")
    try:
        yield captured
    finally:
        logger.remove(handler)
        logger.disable("backstage_threads")


def test_disabled_by_default(records: list[dict[str, Any]]) -> None:
    with ActorSystem(workers=1) as system:
        ref = system.spawn(Fails, name="quiet")
        with pytest.raises(ValueError):
            ref.ask("x", timeout=5)
    assert [r for r in records if r["name"].startswith("backstage_threads")] == []


def test_enabled_logs_lifecycle_failures_restarts_and_dead_letters(
    records: list[dict[str, Any]],
) -> None:
    logger.enable("backstage_threads")
    with ActorSystem(workers=1) as system:
        ref = system.spawn(Fails, name="loud")
        with pytest.raises(ValueError):
            ref.ask("x", timeout=5)
        assert ref.ask("after the restart", timeout=5) == "after the restart"
    mine = [r for r in records if r["extra"].get("actor") == "/user/loud"]
    levels = {r["level"].name for r in mine}
    assert {"TRACE", "ERROR", "INFO", "DEBUG"} <= levels
    error = next(r for r in mine if r["level"].name == "ERROR")
    assert error["exception"] is not None and "bad input" in str(error["exception"].value)
    assert any("dead letter" in r["message"] for r in mine)
    assert any("restarting" in r["message"] for r in mine)


# A fresh interpreter per case: loguru's activation state is process-wide, and
# the import-time default only happens once per process.
_SCRIPT = """
import sys
from loguru import logger
logger.remove()
lines = []
logger.add(lines.append, level="TRACE", format="{name} {message}")
{before}
import backstage_threads
{after}
from backstage_threads import Actor, ActorSystem

class Fails(Actor):
    def receive(self, message):
        raise ValueError("bad input")

with ActorSystem("logcheck", workers=1) as system:
    try:
        system.spawn(Fails, name="loud").ask("x", timeout=5)
    except ValueError:
        pass
ours = [line for line in lines if line.startswith("backstage_threads")]
print(len(ours), sum("/user/loud failed in receive" in line for line in ours))
"""


def _run_logging_script(before: str = "", after: str = "") -> tuple[int, int]:
    code = _SCRIPT.replace("{before}", before).replace("{after}", after)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    total, failures = done.stdout.split()
    return int(total), int(failures)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ('logger.enable("backstage_threads")', ""),
        ("", 'logger.enable("backstage_threads")'),
    ],
    ids=["enable-before-import", "enable-after-import"],
)
def test_enable_works_before_or_after_the_import(before: str, after: str) -> None:
    total, failures = _run_logging_script(before, after)
    assert failures == 1
    assert total > failures  # lifecycle lines too


def test_disabled_by_default_in_a_fresh_interpreter() -> None:
    assert _run_logging_script() == (0, 0)


def test_disable_before_import_is_kept_and_module_settings_survive() -> None:
    assert _run_logging_script('logger.disable("backstage_threads")') == (0, 0)
    # Only one module enabled before the import: the rest stays off by default.
    total, failures = _run_logging_script('logger.enable("backstage_threads._log")')
    assert failures == 1 and total > 0
    total, failures = _run_logging_script('logger.enable("backstage_threads._system")')
    assert failures == 0


def test_trace_lines_cost_no_loguru_call_unless_a_handler_takes_trace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two TRACE lines in every actor's life went through loguru's own checks
    # (0.56 us each on 3.13t) even with no handler below DEBUG.
    assert _log._core is logger._core  # this loguru still keeps its lowest level there
    calls: list[str] = []
    trace = logger.trace
    monkeypatch.setattr(logger, "trace", lambda text, **kw: calls.append(text) or trace(text, **kw))
    logger.enable("backstage_threads")
    try:
        if logger._core.min_level <= 5:  # type: ignore[attr-defined]
            pytest.skip("another handler takes TRACE in this process")
        with ActorSystem(workers=1) as system:
            system.spawn(Fails, name="unheard").ask("ok", timeout=5)
        assert calls == []
        captured: list[str] = []
        handler = logger.add(lambda m: captured.append(m.record["message"]), level="TRACE")
        try:
            with ActorSystem(workers=1) as system:
                system.spawn(Fails, name="heard").ask("ok", timeout=5)
        finally:
            logger.remove(handler)
        assert len(calls) >= 2
        assert any("/user/heard started" in line for line in captured)
        assert any("/user/heard stopped" in line for line in captured)
    finally:
        logger.disable("backstage_threads")
