"""Fixtures shared by the backstage_threads tests (helpers live in support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support import assert_clean_shutdown

from backstage_threads import ActorSystem


@pytest.fixture
def system() -> Iterator[ActorSystem]:
    """An `ActorSystem(workers=2)`, shut down (and checked clean) afterwards."""
    sys_ = ActorSystem(workers=2)
    try:
        yield sys_
    finally:
        assert_clean_shutdown(sys_)
