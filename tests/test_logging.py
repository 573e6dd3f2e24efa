"""Logging: disabled by default, one line enables it, the actor path is bound."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from loguru import logger

from backstage_threads import Actor, ActorSystem


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
