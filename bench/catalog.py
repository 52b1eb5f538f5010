"""Finding task files and resolving task selectors.

Task roots, searched in order: the folders in ``BENCH_TASKS_PATH`` (``os.pathsep``-separated),
then the built-in tasks (``tasks/`` of a source checkout, or ``bench/_tasks`` in an installed
wheel). A task's suite is its first folder under its root (``smoke``, ``standard``).

A selector is a task name, a family name, a suite name, a glob over task names, or ``all``;
several selectors are joined with commas.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable
from pathlib import Path

from bench.errors import TaskNotFound, TaskSpecError, did_you_mean
from bench.spec import TaskSpec, load_task

__all__ = ["builtin_tasks_root", "discover", "find_task", "select_tasks", "task_roots"]


def builtin_tasks_root() -> Path:
    """The built-in tasks folder (source checkout or installed package)."""
    here = Path(__file__).resolve().parent
    packaged = here / "_tasks"
    if packaged.is_dir():
        return packaged
    return here.parent / "tasks"


def task_roots(extra: Iterable[str | Path] = ()) -> list[Path]:
    """All task roots: ``extra``, then ``BENCH_TASKS_PATH``, then the built-in root."""
    roots = [Path(p) for p in extra]
    env = os.environ.get("BENCH_TASKS_PATH", "")
    roots += [Path(p) for p in env.split(os.pathsep) if p]
    roots.append(builtin_tasks_root())
    seen: list[Path] = []
    for r in roots:
        if r.resolve() not in [s.resolve() for s in seen]:
            seen.append(r)
    return seen


def discover(extra: Iterable[str | Path] = (), *, check_names: bool = True) -> dict[str, TaskSpec]:
    """Load every task file under the roots, keyed by name.

    Raises:
        TaskSpecError: A file is invalid, or two files define the same task name.
    """
    tasks: dict[str, TaskSpec] = {}
    for root in task_roots(extra):
        if not root.is_dir():
            continue
        paths = sorted([*root.rglob("*.yaml"), *root.rglob("*.yml")])
        for path in paths:
            rel = path.relative_to(root)
            suite = rel.parts[0] if len(rel.parts) > 1 else None
            spec = load_task(path, suite=suite, check_names=check_names)
            if spec.name in tasks:
                raise TaskSpecError(
                    f"{path}: task '{spec.name}' is also defined in {tasks[spec.name].path}",
                    fix="task names are unique across all task folders; rename one",
                )
            tasks[spec.name] = spec
    return tasks


def find_task(name: str, extra: Iterable[str | Path] = ()) -> TaskSpec:
    """The task called ``name`` (or the task file at path ``name``)."""
    if name.endswith((".yaml", ".yml")) and Path(name).is_file():
        return load_task(name)
    tasks = discover(extra)
    if name not in tasks:
        raise TaskNotFound(
            f"unknown task '{name}'{did_you_mean(name, tasks)}",
            fix="run `bench tasks list` to see the tasks",
        )
    return tasks[name]


def select_tasks(selector: str, extra: Iterable[str | Path] = ()) -> list[TaskSpec]:
    """Resolve a selector (names, families, suites, globs, ``all``; comma-separated)."""
    tasks = discover(extra)
    chosen: dict[str, TaskSpec] = {}
    for part in (p.strip() for p in selector.split(",")):
        if not part:
            continue
        if part.endswith((".yaml", ".yml")) and Path(part).is_file():
            spec = load_task(part)
            chosen[spec.name] = spec
            continue
        if part == "all":
            matched = list(tasks.values())
        elif part in tasks:
            matched = [tasks[part]]
        else:
            matched = [
                t
                for t in tasks.values()
                if t.family == part or t.suite == part or fnmatch.fnmatchcase(t.name, part)
            ]
        if not matched:
            words = [
                *tasks,
                *{t.family for t in tasks.values()},
                *{t.suite or "" for t in tasks.values()},
            ]
            raise TaskNotFound(
                f"no task matches '{part}'{did_you_mean(part, words)}",
                fix="use a task name, family, suite, glob or 'all' (see `bench tasks list`)",
            )
        for t in sorted(matched, key=lambda t: t.name):
            chosen.setdefault(t.name, t)
    return list(chosen.values())
