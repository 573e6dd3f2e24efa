"""Rendering results: the text table and the JSON document."""

from __future__ import annotations

import json
import os
import platform
import sys
import sysconfig
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ._harness import Row

__all__ = ["environment", "figure", "format_table", "write_json"]

_HEADERS = ("scenario", "measure", "unit", "backstage_threads", "pykka", "ratio", "target", "met")


def environment() -> dict[str, Any]:
    """The interpreter, machine and platform the figures were measured on."""
    is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
    return {
        "python": sys.version,
        "implementation": platform.python_implementation(),
        "free_threaded_build": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        "gil_enabled": is_gil_enabled() if is_gil_enabled is not None else True,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }


def figure(value: float | None) -> str:
    """A figure as the tables show it (three significant digits, or a whole number)."""
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _cells(row: Row) -> tuple[str, ...]:
    ratio = row.ratio
    met = row.met
    target = row.target
    return (
        row.scenario,
        row.name,
        row.unit,
        figure(row.ours),
        figure(row.pykka),
        "n/a" if ratio is None else f"{ratio:.2f}x",
        "" if target is None else target.describe(),
        "" if target is None else ("n/a" if met is None else ("met" if met else "NOT MET")),
    )


def format_table(rows: Sequence[Row]) -> str:
    """The rows as an aligned text table, with notes listed below it."""
    body = [_HEADERS, *(_cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in body) for i in range(len(_HEADERS))]
    # Left-align the text columns, right-align the figures.
    aligned_left = {0, 1, 2, 6, 7}
    lines = []
    for number, line in enumerate(body):
        cells = [
            cell.ljust(width) if i in aligned_left else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    notes = [f"  {row.name}: {row.note}" for row in rows if row.note]
    if notes:
        lines += ["", "notes:", *notes]
    return "\n".join(lines)


def write_json(path: Path, rows: Sequence[Row], extra: dict[str, Any]) -> None:
    """Write every figure plus the environment to ``path`` as JSON."""
    document = {
        "environment": environment(),
        **extra,
        "results": [
            {**asdict(row), "ratio": row.ratio, "met": row.met, "target": _target(row)}
            for row in rows
        ],
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def _target(row: Row) -> dict[str, Any] | None:
    if row.target is None:
        return None
    return {**asdict(row.target), "text": row.target.describe()}
