"""Finding task files and resolving task selectors.

Task roots, searched in order: the folders given with ``--tasks-dir``, the folders in
``BENCH_TASKS_PATH`` (``os.pathsep``-separated), the built-in tasks (``tasks/`` of a source
checkout, or ``bench/_tasks`` in an installed wheel), then the task folders of installed plugins
(``tasks.NAME`` entry points in the group ``bench.plugins``). A task's suite is its first folder
under its root (``smoke``, ``standard``). Task names are unique across all roots: two files
defining one name are an error that names both.

A selector is a task name, a family, suite or tag name, a glob over task names, ``SUITE-LANG``
(``standard-zh``), a prefixed kind (``family:qa``, ``lang:zh``, ``suite:smoke``, ``tag:wmt``) or
``all``; several selectors are joined with commas (see :func:`select_tasks`).
"""

from __future__ import annotations

import fnmatch
import glob
import importlib
import json
import os
import re
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import TaskNotFound, TaskSpecError, did_you_mean
from bench.spec import TaskSpec, load_task

__all__ = [
    "SELECTOR_KINDS",
    "TaskRoot",
    "TestCounts",
    "builtin_tasks_root",
    "data_stamp",
    "discover",
    "find_task",
    "not_found_hint",
    "plugin_task_roots",
    "select_tasks",
    "task_origin",
    "task_roots",
]


@dataclass(frozen=True)
class TaskRoot:
    """A folder of task files and where it comes from.

    Attributes:
        path: The folder.
        origin: ``--tasks-dir``, ``BENCH_TASKS_PATH``, ``builtin`` or ``plugin DIST VERSION``.
    """

    path: Path
    origin: str


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


def plugin_task_roots() -> list[TaskRoot]:
    """The task folders of installed plugins (``tasks.NAME`` entry points).

    Raises:
        TaskSpecError: An entry point cannot be imported or does not name a folder on disk.
    """
    from bench.registry import registry

    roots = []
    for folder in registry.task_folders():
        where = f"entry point 'tasks.{folder.name}' = '{folder.target}' ({folder.origin})"
        try:
            obj = _resolve_folder(folder.target)
        except (ImportError, AttributeError) as exc:
            raise TaskSpecError(
                f"{where} cannot be resolved: {exc}",
                fix="reinstall the plugin, or point the entry point at 'package:ATTR' where ATTR "
                "is a folder path or importlib.resources.files(package) / 'tasks'",
            ) from exc
        path = _as_folder(obj)
        if path is None or not path.is_dir():
            raise TaskSpecError(
                f"{where} names {obj!r}, which is not a folder on disk",
                fix="ship the task files as package data and install the plugin unzipped",
            )
        roots.append(TaskRoot(path, folder.origin))
    return roots


def _resolve_folder(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module_name.strip())
    for part in filter(None, attr.strip().split(".")):
        obj = getattr(obj, part)
    if callable(obj):  # a function returning the folder
        obj = obj()
    return obj


def _as_folder(obj: Any) -> Path | None:
    """A folder on disk from a path, a Traversable or a package."""
    if isinstance(obj, types.ModuleType):
        locations = list(getattr(obj, "__path__", []) or [])
        if locations:
            return Path(locations[0])
        return Path(obj.__file__).parent if obj.__file__ else None
    if isinstance(obj, str | os.PathLike):
        return Path(obj)
    # An importlib.resources Traversable of a package installed as plain files is a Path
    # (PosixPath, or a MultiplexedPath for namespace packages): both name their folder.
    text = str(obj)
    if text and hasattr(obj, "iterdir") and Path(text).is_dir():
        return Path(text)
    return None


def _all_roots(extra: Iterable[str | Path]) -> list[TaskRoot]:
    given = [Path(p) for p in extra]
    env = [Path(p) for p in os.environ.get("BENCH_TASKS_PATH", "").split(os.pathsep) if p]
    labelled = [
        *(TaskRoot(p, "--tasks-dir") for p in given),
        *(TaskRoot(p, "BENCH_TASKS_PATH") for p in env),
        TaskRoot(builtin_tasks_root(), "builtin"),
        *plugin_task_roots(),
    ]
    out: list[TaskRoot] = []
    seen: set[Path] = set()
    for root in labelled:
        key = root.path.resolve()
        if key not in seen:
            seen.add(key)
            out.append(root)
    return out


def discover(extra: Iterable[str | Path] = (), *, check_names: bool = True) -> dict[str, TaskSpec]:
    """Load every task file under the roots (plugin task folders included), keyed by name.

    Raises:
        TaskSpecError: A file is invalid, or two files define the same task name (the message
            names both files and where each comes from).
    """
    tasks: dict[str, TaskSpec] = {}
    origins: dict[str, str] = {}
    for root in _all_roots(extra):
        if not root.path.is_dir():
            continue
        paths = sorted([*root.path.rglob("*.yaml"), *root.path.rglob("*.yml")])
        for path in paths:
            rel = path.relative_to(root.path)
            suite = rel.parts[0] if len(rel.parts) > 1 else _root_suite(root)
            spec = load_task(path, suite=suite, check_names=check_names)
            if spec.name in tasks:
                raise TaskSpecError(
                    f"{path} ({root.origin}): task '{spec.name}' is also defined in "
                    f"{tasks[spec.name].path} ({origins[spec.name]})",
                    fix="task names are unique across all task folders; rename one",
                )
            tasks[spec.name] = spec
            origins[spec.name] = root.origin
    return tasks


def _root_suite(root: TaskRoot) -> str | None:
    """The suite of a task file at the top of a user's folder (``--tasks-dir`` or
    ``BENCH_TASKS_PATH``): the folder's name, so ``bench run -t FOLDER`` runs them all. The
    built-in and plugin roots keep their files in suite folders."""
    if root.origin in ("--tasks-dir", "BENCH_TASKS_PATH"):
        return root.path.resolve().name or None
    return None


_HINT_DEPTH = 3
"""How deep under the current folder :func:`not_found_hint` looks for a task file."""


def not_found_hint(name: str) -> str:
    """The fix of a "no task" error: where a task file called ``name`` lies under the current
    folder (and the ``--tasks-dir`` that finds it), else how to name a folder of task files."""
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        here = Path.cwd()
        for depth in range(_HINT_DEPTH + 1):
            for ext in ("yaml", "yml"):
                pattern = "/".join(["*"] * depth + [f"{name}.{ext}"])
                for found in sorted(here.glob(pattern)):
                    folder = found.parent.relative_to(here).as_posix()
                    return (
                        f"{found.relative_to(here).as_posix()} defines it: pass --tasks-dir "
                        f"{folder} (or add the folder to BENCH_TASKS_PATH)"
                    )
    return (
        "see `bench tasks list`; task files outside the built-in catalog need --tasks-dir "
        "FOLDER (or BENCH_TASKS_PATH)"
    )


def task_origin(spec: TaskSpec, extra: Iterable[str | Path] = ()) -> str:
    """Where a task file comes from: ``builtin``, ``BENCH_TASKS_PATH``, ``--tasks-dir``,
    ``plugin DIST VERSION``, or ``file`` for a task file given by path."""
    if spec.path is None:
        return "file"
    path = spec.path.resolve()
    for root in _all_roots(extra):
        if path.is_relative_to(root.path.resolve()):
            return root.origin
    return "file"


def find_task(name: str, extra: Iterable[str | Path] = ()) -> TaskSpec:
    """The task called ``name`` (or the task file at path ``name``)."""
    if name.endswith((".yaml", ".yml")) and Path(name).is_file():
        return load_task(name)
    tasks = discover(extra)
    if name not in tasks:
        raise TaskNotFound(
            f"unknown task '{name}'{did_you_mean(name, tasks)}",
            fix=not_found_hint(name),
        )
    return tasks[name]


SELECTOR_KINDS = ("family", "lang", "suite", "tag")
"""The prefixes of a selector that names one kind only: ``family:qa``, ``lang:zh``,
``suite:standard``, ``tag:wmt``."""


def _base_language(code: str) -> str:
    return code.split("-")[0].lower()


def _matches(part: str, tasks: dict[str, TaskSpec]) -> list[TaskSpec]:
    """The tasks one selector part picks (see :func:`select_tasks`)."""
    kind, colon, value = part.partition(":")
    if colon and kind in SELECTOR_KINDS:
        if kind == "family":
            return [t for t in tasks.values() if t.family == value]
        if kind == "suite":
            return [t for t in tasks.values() if t.suite == value]
        if kind == "tag":
            return [t for t in tasks.values() if value in t.tags]
        lang = _base_language(value)
        exact = "-" in value
        return [
            t
            for t in tasks.values()
            if any((x == value) if exact else _base_language(x) == lang for x in t.languages)
        ]
    if part == "all":
        return list(tasks.values())
    if part in tasks:
        return [tasks[part]]
    found = [
        t
        for t in tasks.values()
        if t.family == part
        or t.suite == part
        or part in t.tags
        or fnmatch.fnmatchcase(t.name, part)
    ]
    if not found and "-" in part:  # SUITE-LANG: standard-zh, smoke-en
        suite, _, lang = part.rpartition("-")
        found = [
            t
            for t in tasks.values()
            if t.suite == suite and lang in {_base_language(x) for x in t.languages}
        ]
    return found


def select_tasks(selector: str, extra: Iterable[str | Path] = ()) -> list[TaskSpec]:
    """Resolve a selector into tasks, sorted by name within each part, parts in order.

    A selector is comma-separated parts, each picking tasks: ``all``; a task name or task
    file; a family, suite or tag name; a glob over task names (``wmt2?-*``); ``SUITE-LANG``
    (``standard-zh``: the suite's tasks with that language on either side); or one kind
    only: ``family:qa``, ``lang:zh`` (``lang:zh-Hant`` for that script only), ``suite:smoke``,
    ``tag:wmt``.

    Raises:
        TaskNotFound: A part picks no task (with a did-you-mean and where task files are).
    """
    tasks = discover(extra)
    chosen: dict[str, TaskSpec] = {}
    for part in (p.strip() for p in selector.split(",")):
        if not part:
            continue
        if part.endswith((".yaml", ".yml")) and Path(part).is_file():
            spec = load_task(part)
            chosen[spec.name] = spec
            continue
        matched = _matches(part, tasks)
        if not matched:
            words = [
                *tasks,
                *{t.family for t in tasks.values()},
                *{t.suite or "" for t in tasks.values()},
                *{tag for t in tasks.values() for tag in t.tags},
                *(f"{k}:" for k in SELECTOR_KINDS),
            ]
            raise TaskNotFound(
                f"no task matches '{part}'{did_you_mean(part, words)}",
                fix="use a task name, family, suite, tag, glob, SUITE-LANG, family:/lang:/"
                "suite:/tag: or 'all'; " + not_found_hint(part),
            )
        for t in sorted(matched, key=lambda t: t.name):
            chosen.setdefault(t.name, t)
    return list(chosen.values())


_STAMP_FILE_LIMIT = 5000
"""A source folder with more files than this is not stamped (its counts are never cached)."""


def data_stamp(spec: TaskSpec) -> str | None:
    """A cheap identity of a ``builtin`` or ``local`` task's data as it is on disk now: the
    task spec's hash and, for every file under the source's folder, its path, size and
    modification time (no file is read). A folder that does not exist is stamped as missing
    when every file name is inside it (its data cannot load, and the stamp changes once the
    folder appears). ``None`` when the source is remote (hub, url, sacrebleu), its folder is
    not a folder, is missing while a file name reaches outside it, or holds more than 5,000
    files.

    It keys display-only figures (:class:`TestCounts`), never a score: a score's data
    identity is the content fingerprint computed when the split is loaded.
    """
    from bench import __version__
    from bench.identity import short_hash

    source = spec.source
    if source.kind not in ("builtin", "local") or not source.files:
        return None
    location = Path(source.location or "").expanduser()
    if source.kind == "builtin":
        root = Path(__file__).parent / "builtin" / location
    elif not location.is_absolute() and spec.path is not None:
        root = spec.path.parent / location
    else:
        root = location
    if not root.exists() and all(_inside(name) for name in _file_names(source.files)):
        return short_hash(
            {"bench": __version__, "spec": spec.spec_hash(), "root": str(root), "files": None}
        )
    if not root.is_dir():
        return None
    entries = []
    for i, name in enumerate(sorted(glob.glob(str(root / "**" / "*"), recursive=True))):
        if i >= _STAMP_FILE_LIMIT:
            return None
        try:
            st = os.stat(name)
        except OSError:
            return None
        if not os.path.isdir(name):
            entries.append([os.path.relpath(name, root), st.st_size, st.st_mtime_ns])
    return short_hash(
        {"bench": __version__, "spec": spec.spec_hash(), "root": str(root), "files": entries}
    )


def _file_names(files: dict[str, str | list[str]]) -> list[str]:
    return [n for names in files.values() for n in ([names] if isinstance(names, str) else names)]


def _inside(name: str) -> bool:
    """Whether a file name (or glob) of a source stays inside the source's folder."""
    path = Path(name).expanduser()
    return not path.is_absolute() and ".." not in path.parts


class TestCounts:
    """What ``bench tasks list`` shows in its "n scored" column, cached by :func:`data_stamp`.

    Counting a task's test examples means loading its data (and, for recommendation,
    preparing it), which imports ``datasets`` and takes seconds; the counts are kept in a small
    JSON file (``BENCH_HOME/task-counts.json``) keyed by each task's data stamp, so listing the
    catalog again reads task files only. A file that cannot be read or written is ignored: the
    counts are then computed each time.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            self._counts: dict[str, str] = {
                str(k): str(v) for k, v in loaded.items() if isinstance(v, str)
            }
        except (OSError, ValueError, AttributeError):
            self._counts = {}
        self._dirty = False

    def get(self, spec: TaskSpec, compute: Callable[[TaskSpec], str]) -> str:
        """The task's count: cached under its data stamp, else ``compute(spec)`` (kept when
        the task has a stamp)."""
        stamp = data_stamp(spec)
        key = f"{spec.name}:{stamp}" if stamp else None
        if key is not None and key in self._counts:
            return self._counts[key]
        value = compute(spec)
        if key is not None:
            self._counts[key] = value
            self._dirty = True
        return value

    def save(self) -> None:
        """Write the counts back when something was added (atomically; errors ignored)."""
        if not self._dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self._counts, sort_keys=True, indent=0), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            pass
