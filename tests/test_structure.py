"""The package's shape: small modules, a cell without a __dict__, a public context."""

from __future__ import annotations

import pydoc
from pathlib import Path
from typing import Any

from support import WAIT, assert_clean_shutdown

import backstage_threads
from backstage_threads import Actor, ActorContext, ActorSystem

PACKAGE = Path(backstage_threads.__file__).parent

#: No module of the package grows past this many lines (one concept per room).
MAX_LINES = 500


def test_no_module_is_over_the_line_limit() -> None:
    sizes = {
        str(path.relative_to(PACKAGE)): len(path.read_text().splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


class Holder(Actor[Any]):
    def receive(self, message: Any) -> Any:
        return self.context


def test_a_cell_has_no_dict_and_is_the_actors_context() -> None:
    system = ActorSystem(workers=1)
    try:
        context = system.spawn(Holder).ask("context", timeout=WAIT)
        assert isinstance(context, ActorContext)
        assert not hasattr(context, "__dict__")
    finally:
        assert_clean_shutdown(system)


def test_help_of_actor_context_shows_the_api_and_no_runtime_internals() -> None:
    text = pydoc.render_doc(ActorContext, renderer=pydoc.plaintext)
    for name in ("spawn", "watch", "send_after", "set_receive_timeout", "ask", "pipe", "parent"):
        assert name in text
    for internal in ("_run_turn", "_mailbox", "Lifecycle", "_process", "_post"):
        assert internal not in text
    assert [c.__name__ for c in ActorContext.__mro__] == ["ActorContext", "object"]
