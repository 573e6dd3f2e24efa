"""``import backstage_threads.ray`` says at once why it cannot work, where it cannot.

Runs on every interpreter (no cluster is started): on a free-threaded build the
import must fail naming the reason and what to run instead; without Ray it must
say how to install it; with Ray it must succeed.
"""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
import sysconfig

import pytest


def _import_in_a_fresh_interpreter() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import backstage_threads.ray"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.skipif(
    not sysconfig.get_config_var("Py_GIL_DISABLED"), reason="needs a free-threaded build"
)
def test_free_threaded_import_fails_saying_why_and_what_instead() -> None:
    with pytest.raises(ImportError, match="free-threaded") as caught:
        importlib.import_module("backstage_threads.ray")
    message = str(caught.value)
    assert "backstage_threads[ray]" in message
    assert "GIL build" in message


@pytest.mark.skipif(
    bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    or importlib.util.find_spec("ray") is not None,
    reason="needs a GIL build without Ray",
)
def test_import_without_ray_says_how_to_install_it() -> None:
    done = _import_in_a_fresh_interpreter()
    assert done.returncode == 1
    assert "pip install 'backstage_threads[ray]'" in done.stderr


@pytest.mark.skipif(
    bool(sysconfig.get_config_var("Py_GIL_DISABLED")) or importlib.util.find_spec("ray") is None,
    reason="needs a GIL build with Ray",
)
def test_import_with_ray_works_and_publishes_its_names() -> None:
    module = importlib.import_module("backstage_threads.ray")
    assert module.__all__ == sorted(module.__all__)
    for name in module.__all__:
        assert getattr(module, name).__module__ == "backstage_threads.ray"
