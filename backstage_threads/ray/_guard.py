"""Fail the import of ``backstage_threads.ray`` at once, saying why, where Ray cannot run.

Imports nothing of Ray: it runs before the first ``import ray``.
"""

from __future__ import annotations

import sys
import sysconfig

__all__ = ["require_ray"]

_INSTEAD = (
    "run the Ray backend on a GIL build of CPython 3.11-3.14, for instance "
    "'python3.11 -m pip install \"backstage_threads[ray]\"' and then that python; "
    "the thread backend (backstage_threads.ActorSystem) runs on this interpreter"
)


def require_ray() -> None:
    """Raise ImportError if this interpreter is free-threaded or Ray is missing."""
    version = sys.version.split()[0]
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        raise ImportError(
            f"backstage_threads.ray needs Ray, which has no free-threaded build "
            f"(ray-project/ray#47933), and this Python {version} is free-threaded: {_INSTEAD}"
        )
    try:
        import ray  # noqa: F401, PLC0415 - the check itself
    except ImportError as error:
        raise ImportError(
            f"backstage_threads.ray needs Ray, which is not installed for this Python "
            f"({sys.executable}): pip install 'backstage_threads[ray]' (Ray >= 2.9, on a GIL "
            f"build of CPython 3.11-3.14). Its import failed with: {error}"
        ) from error
