"""No import cycles in bench: no module imports a name from a module that imports it back.

The scan reads every module's imports with :mod:`ast`, at module level and inside functions
alike (a lazy import is still a dependency: it only moves the failure to the first call), and
leaves out only imports under ``if TYPE_CHECKING:`` (never run) and a package's imports of its
own submodules (a package always contains them; importing a submodule imports the package
first anyway). Any strongly connected group of two or more modules is a cycle.

Each module that used to be in a cycle is also imported first in a fresh interpreter, and used
in the direction that used to come back.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(BENCH.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The bench modules ``module`` imports anywhere but under ``if TYPE_CHECKING:``."""
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack += node.orelse
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
        stack += list(ast.iter_child_nodes(node))
    return {m for m in found if m in known and m != module and not m.startswith(module + ".")}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {
        name: _imports(
            ast.parse(path.read_text(encoding="utf-8")), name, path.name == "__init__.py", known
        )
        for name, path in modules.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_scan_finds_a_cycle_when_there_is_one() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    tree = ast.parse(
        textwrap.dedent(
            """\
            from typing import TYPE_CHECKING
            from bench.x import thing
            if TYPE_CHECKING:
                from bench.y import Hint
            def f():
                from bench.z import lazy
            """
        )
    )
    assert _imports(tree, "bench.w", False, {"bench.x", "bench.y", "bench.z"}) == {
        "bench.x",
        "bench.z",
    }


def test_bench_has_no_import_cycles() -> None:
    graph = _graph()
    assert graph["bench.adapters.base"], "the scan sees imports"
    assert "bench.adapters.prediction_paths" in graph["bench.adapters.base"]  # a lazy one
    cycles = _cycles(graph)
    assert cycles == [], "modules that import each other (directly or round a loop): " + "; ".join(
        " <-> ".join(c) for c in cycles
    )


FIRST_IMPORTS = {
    "bench.adapters.predictions": (
        "from bench.adapters.predictions import default_name\n"
        "assert default_name('x/my-model.jsonl') == 'my-model'\n"
    ),
    "bench.adapters.base": (
        "from bench.adapters.base import parse_model_spec\n"
        "assert parse_model_spec('predictions:runs/gpt.jsonl').display_name == 'gpt'\n"
    ),
    "bench.leaderboard.html": "from bench.leaderboard.html import render_html\n",
    "bench.leaderboard.render": (
        "from bench.leaderboard.render import FILES, write_leaderboard\nassert FILES['html']\n"
    ),
    "bench.leaderboard.cells": "from bench.leaderboard.cells import fmt_value\n",
    "bench.adapters.prediction_paths": "from bench.adapters.prediction_paths import default_name\n",
}


@pytest.mark.parametrize("module", sorted(FIRST_IMPORTS))
def test_a_module_once_in_a_cycle_imports_first(module: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", FIRST_IMPORTS[module]],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
