"""The package's shape: small modules, layers without a circle, a cell without a
__dict__, a public context."""

from __future__ import annotations

import ast
import pydoc
from collections.abc import Iterator
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


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imported(module: str, path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """The package's modules that ``module`` imports, anywhere in it (under
    ``if TYPE_CHECKING:`` and inside functions too). ``from . import x`` counts as
    an import of the submodule ``x`` only, as it is one."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                if f"{source}.{alias.name}" in modules:
                    yield f"{source}.{alias.name}"
                elif source in modules:
                    yield source
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name in modules)


def _import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: set(_imported(name, path, modules)) - {name} for name, path in modules.items()}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_package_has_no_import_circle_not_even_through_type_only_imports() -> None:
    graph = _import_graph()
    assert "backstage_threads._cell._turn" in graph  # the walk sees subpackages
    assert _circles(graph) == []


def test_the_circle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(graph) == [["a", "b", "c"]]


#: The core: mailbox, scheduler, refs and what they stand on. None of it may
#: name an actor, a cell, a system, supervision, asyncio actors or the test kit.
CORE = {
    "_mailbox", "_waiting", "_envelope", "_scheduler", "_dispatcher", "_pinned",
    "_timers", "_local", "_spin", "_worker", "_ref", "_asks", "_aio", "_errors", "_overflow",
    "_status", "_clock", "_log", "_validate", "_report", "_subscription",
    "_interrupt", "_threads", "_safe_wait", "_exports", "_version", "_no_interrupt",
    "_counter", "_pool_tuning",
}  # fmt: skip


def test_the_core_imports_nothing_above_it() -> None:
    graph = _import_graph()
    above = {
        f"backstage_threads.{name}"
        for name in ("_actor", "_cell", "_system", "_supervision", "_app", "testing", "aio")
    }
    for name in CORE:
        imported = graph[f"backstage_threads.{name}"]
        assert not {m for m in imported if any(m.startswith(a) for a in above)}, name


def test_the_cell_names_no_system_class_and_the_runtime_no_test_kit() -> None:
    graph = _import_graph()
    for name, imported in graph.items():
        if name.startswith("backstage_threads._cell"):
            assert "backstage_threads._system" not in imported, name
        if not name.startswith("backstage_threads.testing"):
            assert not any(m.startswith("backstage_threads.testing") for m in imported), name


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
    for name in ("spawn", "watch", "send_after", "set_receive_timeout", "ask", "pipe", "parent",
                 "publish", "lookup", "need", "subscribe", "link"):  # fmt: skip
        assert name in text
    for internal in ("_run_turn", "_mailbox", "Lifecycle", "_process", "_post"):
        assert internal not in text
    assert [c.__name__ for c in ActorContext.__mro__] == [
        "ActorContext",
        "Spawning",
        "ResourceContext",
        "object",
    ]
