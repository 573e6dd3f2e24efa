"""The bench's Ray rows (``--ray``): measured against plain Ray calls, only when asked.

No figure is judged here (the machine is shared): the rows must exist, carry both
figures and the issue's targets, and the default bench must never need Ray.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import sysconfig
from typing import Any

import pytest
from raykit import RAY_MARKS, WAIT

from backstage_threads.bench import QUICK, Config


@pytest.mark.skipif(
    bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    or importlib.util.find_spec("ray") is not None,
    reason="needs an interpreter without Ray",
)
def test_bench_ray_without_ray_is_a_clear_usage_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "backstage_threads.bench", "--ray", "--only", "ray"],
        capture_output=True, text=True, timeout=WAIT, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--ray" in done.stderr and "backstage_threads[ray]" in done.stderr


def test_the_default_bench_does_not_import_ray() -> None:
    code = "import sys, backstage_threads.bench; print('ray' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=WAIT, check=True
    )
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("_", [pytest.param(0, marks=RAY_MARKS)])
def test_ray_rows_compare_with_plain_ray_in_the_same_run(ray_cluster: Any, _: int) -> None:
    from backstage_threads.bench._ray import ray_rows

    rows = ray_rows(Config(QUICK, None, pykka=False))
    assert [row.scenario for row in rows] == ["ray"] * 3
    ask, tells, block = rows
    assert ask.unit == "us" and tells.unit == "msg/s" == block.unit
    for row in rows:
        assert row.ours is not None and row.ours > 0
        assert row.pykka is not None and row.pykka > 0  # the peer column: plain Ray
    assert ask.target is not None and ask.target.describe() == "ratio <= 1.2x"
    assert tells.target is not None and tells.target.describe() == "ratio >= 1x"
