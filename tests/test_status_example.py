"""``examples/index_stdlib.py --serve-status``: its status server, as a user would curl it.

The example runs in a subprocess on a small slice of the standard library and
holds its page up once indexed (until its piped input ends). Meanwhile the test
reads ``/service`` (every actor named), ``/metrics`` (parsed back by
prometheus_client) and ``/events`` (the stop of the progress actor streams
in), then ends the hold and checks the run's own output.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from test_status_server import EventStream

REPO = Path(__file__).resolve().parent.parent
TIMEOUT = 120.0


def paths(node: dict[str, Any]) -> list[str]:
    return [node["path"], *(p for child in node["children"] for p in paths(child))]


def test_index_stdlib_serves_its_status(tmp_path: Path) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    db = tmp_path / "index.sqlite3"
    errors = (tmp_path / "stderr.txt").open("w+")  # a file: it can never fill and block
    process = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "examples" / "index_stdlib.py"),
            *("--limit", "120", "--workers", "2", "--db", str(db)),
            *("--serve-status", "0", "--hold-status", str(TIMEOUT), "--timeout", str(TIMEOUT)),
        ],
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    # Reads of its output end when it exits; this bounds that (kill => EOF).
    watchdog = threading.Timer(TIMEOUT, process.kill)
    watchdog.start()
    try:
        assert process.stdout is not None and process.stdin is not None
        lines: list[str] = []
        for line in process.stdout:  # until the hold begins: every actor is up then
            lines.append(line)
            if line.startswith("indexed; status page kept up"):
                break
        found = [m for line in lines if (m := re.match(r"status page: (\S+)", line))]
        assert found, "".join(lines)
        url = found[0].group(1)
        port = int(url.rsplit(":", 1)[1].strip("/"))

        with urllib.request.urlopen(url + "service", timeout=TIMEOUT) as response:
            tree = json.loads(response.read())
        pipeline = "/user/pipeline"
        assert set(paths(tree)) == {
            "/user",
            pipeline,
            f"{pipeline}/progress",
            f"{pipeline}/writer",
            f"{pipeline}/parsers",
            f"{pipeline}/parsers/parser-0",
            f"{pipeline}/parsers/parser-1",
        }

        with urllib.request.urlopen(url + "metrics", timeout=TIMEOUT) as response:
            text = response.read().decode()
        processed = {
            sample.labels["path"]: sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "backstage_actor_messages_processed_total"
        }
        parsers = (
            processed[f"{pipeline}/parsers/parser-0"] + processed[f"{pipeline}/parsers/parser-1"]
        )
        assert parsers >= 120  # every file, and a drain each

        stream = EventStream(port)
        try:
            stream.wait("tree")
            process.stdin.close()  # ends the hold: the progress actor stops
            change = stream.wait("status", lambda d: d["path"] == f"{pipeline}/progress")
            assert change["new"] == "Stopping"
        finally:
            stream.close()
        rest = process.stdout.read()  # to the end: the example has exited
        process.wait(TIMEOUT)
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.wait(TIMEOUT)
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()
        errors.seek(0)
        stderr = errors.read()
        errors.close()
    assert process.returncode == 0, stderr
    output = "".join(lines) + rest
    assert re.search(r"parsed: 1[0-9]{2} files, failed: \d+", output), output
