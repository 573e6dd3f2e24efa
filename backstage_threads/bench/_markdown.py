"""README's benchmark table, rendered from the JSON of bench runs (``--markdown``).

One column group per run (an interpreter, as the JSON's environment names it):
our figure, Pykka's and the ratio; then each run's verdict on the row's target.
Rows are matched by scenario and measure across runs, in the first run's order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._report import figure

__all__ = ["markdown_table"]


def _label(document: dict[str, Any]) -> str:
    env = document["environment"]
    version = env["python"].split()[0]
    kind = "no GIL" if not env["gil_enabled"] else "GIL"
    return f"{version}{'t' if env['free_threaded_build'] else ''} ({kind})"


def _verdict(result: dict[str, Any] | None) -> str:
    if result is None or result["target"] is None:
        return ""
    met = result["met"]
    return "n/a" if met is None else ("met" if met else "**not met**")


def markdown_table(paths: Sequence[Path]) -> str:
    """A Markdown table of the runs in ``paths`` (JSON written by ``--json``)."""
    documents = [json.loads(path.read_text(encoding="utf-8")) for path in paths]
    runs = [{(r["scenario"], r["name"]): r for r in document["results"]} for document in documents]
    header = ["measure"]
    for document in documents:
        label = _label(document)
        header += [f"{label} ours", "Pykka", "ratio"]
    header += ["target", *(f"{_label(d)}" for d in documents)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key in runs[0]:
        results = [run.get(key) for run in runs]
        first = results[0]
        assert first is not None
        cells = [f"{first['scenario']}: {first['name']} ({first['unit']})"]
        for result in results:
            if result is None:
                cells += ["-", "-", "-"]
                continue
            ratio = result["ratio"]
            cells += [
                figure(result["ours"]),
                "-" if result["pykka"] is None else figure(result["pykka"]),
                "-" if ratio is None else f"{ratio:.2f}x",
            ]
        target = first["target"]
        cells.append("-" if target is None else target["text"])
        cells += [_verdict(result) for result in results]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
