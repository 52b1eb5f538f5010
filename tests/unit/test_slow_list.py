"""``tests/slow_tests.txt`` names tests that exist: a renamed or deleted test would otherwise
drop out of the slow set silently and slow the fast subset down."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_listed_slow_test_is_defined() -> None:
    listed = [
        line.strip()
        for line in (REPO / "tests" / "slow_tests.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert listed, "tests/slow_tests.txt lists no tests"
    assert len(listed) == len(set(listed)), "tests/slow_tests.txt lists a test twice"
    defined: dict[str, set[str]] = {}
    missing = []
    for node in listed:
        path, _, name = node.partition("::")
        file = REPO / path
        if path not in defined:
            tree = ast.parse(file.read_text(encoding="utf-8")) if file.is_file() else None
            defined[path] = {
                f.name
                for f in (ast.walk(tree) if tree is not None else [])
                if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
            }
        if name.split("[")[0] not in defined[path]:
            missing.append(node)
    assert not missing, f"tests/slow_tests.txt names tests that do not exist: {missing}"
