"""Where a run's record goes: ``RESULTS/<model folder>/<task folder>/record.json``.

A model's folder is its display name made safe as one folder name (:func:`folder_name`), so
that distinct names get distinct folders: Unicode letters and digits and ``. _ = -`` are kept;
the ``:`` and ``,`` of a model spec (``baseline:textcnn,seed=1``) become ``-``; any other
character (spaces, brackets, slashes, emoji...) is replaced by ``-`` and, since two names could
then meet, a short hash of the whole display name is appended. Only names that differ in
nothing but ``:`` / ``,`` versus ``-`` can still share a folder, and that, like any other
collision, is refused before anything is written (:func:`check_plan`, :func:`run_folder`):
a folder holds the records of one display name.

A task's folder is the task name. A ``--limit`` run never replaces the record of a full run:
when the task folder holds a full run's record, the limited run writes beside it into
``<task>@limit-<N>`` (:func:`run_folder`); a full run replaces a limited one. Records carry
their limit (``task.limit``), and the leaderboard shows limited records in columns of their
own, labelled ``[limit N]``.

Example:
    >>> folder_name("baseline:tfidf-logreg")
    'baseline-tfidf-logreg'
    >>> folder_name("模型") == "模型"
    True
    >>> folder_name("gpt [ours]") != folder_name("gpt (ours)")
    True
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.errors import ResultsError
from bench.identity import short_hash
from bench.redaction import mask_spec

if TYPE_CHECKING:
    from bench.adapters.base import ModelSpec

__all__ = [
    "LIMIT_MARK",
    "check_plan",
    "distinct_names",
    "folder_name",
    "limited_folder",
    "owner",
    "run_folder",
]

LIMIT_MARK = "@limit-"
"""What separates a task's name from the limit in the folder of a limited run beside a full one."""

_KEPT = frozenset("._=-")
_SEPARATORS = frozenset(":,")  # a model spec's own separators: shown as "-", no hash
_MAX_BYTES = 200  # UTF-8 bytes of a folder name before the hash (file systems allow 255)
_HASH = 8


def folder_name(display_name: str) -> str:
    """The folder of a model's records: its display name made safe as one folder name.

    Letters and digits of any script and ``. _ = -`` are kept, ``:`` and ``,`` become ``-``;
    when anything else was replaced or dropped (or the name is very long, or starts or ends
    with ``.`` or ``-``), ``-`` and 8 hex digits of the display name's hash are appended.
    """
    out = []
    lossy = False
    for ch in display_name:
        if ch.isalnum() or ch in _KEPT or ch == "_":
            out.append(ch)
        elif ch in _SEPARATORS:
            out.append("-")
        else:
            out.append("-")
            lossy = True
    safe = "".join(out)
    trimmed = safe.strip("-.")
    if trimmed != safe or len(trimmed.encode("utf-8")) > _MAX_BYTES or not trimmed:
        lossy = True
    while len(trimmed.encode("utf-8")) > _MAX_BYTES:  # a CJK character is 3 bytes
        trimmed = trimmed[: -max(1, (len(trimmed.encode("utf-8")) - _MAX_BYTES) // 4)]
    trimmed = trimmed.rstrip("-.")
    if not lossy:
        return trimmed
    tag = short_hash(display_name, length=_HASH)
    trimmed = re.sub(r"-{2,}", "-", trimmed)  # the hash keeps it distinct: readable is enough
    return f"{trimmed}-{tag}" if trimmed else f"model-{tag}"


def limited_folder(task: str, limit: int) -> str:
    """The task folder of a ``--limit`` run written beside a full run: ``task@limit-N``."""
    return f"{task}{LIMIT_MARK}{limit}"


def owner(folder: Path) -> tuple[str, int | None] | None:
    """``(model display name, limit)`` of the record in ``folder`` (``None``: no record, or
    one too damaged to say; writing over it loses nothing readable)."""
    try:
        data = json.loads((folder / "record.json").read_text(encoding="utf-8"))
        name = data["model"]["name"]
        limit = data["task"].get("limit")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if not isinstance(name, str) or not (limit is None or isinstance(limit, int)):
        return None
    return name, limit


def run_folder(results: Path, display_name: str, task: str, limit: int | None) -> Path:
    """The folder a run's record is written into, checked against the records already there.

    ``RESULTS/<folder_name(display_name)>/<task>``; for a limited run (``limit`` set) whose
    task folder holds a full run's record, ``<task>@limit-N`` beside it.

    Raises:
        ResultsError: The folder holds the record of another model (another display name
            with the same folder name).
    """
    base = Path(results) / folder_name(display_name)
    folder = base / task
    found = owner(folder)
    if found is not None and found[0] == display_name and limit is not None and found[1] is None:
        folder = base / limited_folder(task, limit)
        found = owner(folder)
    if found is not None and found[0] != display_name:
        raise ResultsError(
            f"{folder} holds the record of model '{found[0]}', not '{display_name}': the two "
            "names share a results folder",
            fix="give one of the models another name (name=...), or use another --results folder",
        )
    return folder


def distinct_names(models: Sequence[ModelSpec]) -> list[ModelSpec]:
    """The model specs of a plan, with default names made distinct where specs share one.

    A spec without ``name=`` is named ``KIND:TARGET``, so two specs of one model with other
    parameters (``baseline:textcnn,seed=1`` and ``baseline:textcnn,seed=2``) would be one
    model: each such spec is named by its whole spec instead (secrets left out). A
    ``predictions:`` spec is named after its file's stem, so two files named alike in
    different folders (``a/out.jsonl``, ``b/out.jsonl``) are named after their paths instead
    (``a/out``, ``b/out``). Explicit names are never changed.
    """

    def defaulted(m: ModelSpec) -> bool:
        return m.display_name == m.default_name

    by_name: dict[str, set[tuple[str, str, tuple[tuple[str, str], ...]]]] = {}
    for m in models:
        by_name.setdefault(m.display_name, set()).add(_identity(m))
    out = []
    for m in models:
        if defaulted(m) and len(by_name[m.display_name]) > 1:
            if m.kind == "predictions":
                path = Path(m.target)
                m = replace(m, display_name=str(path.with_suffix("") if path.suffix else path))
            else:
                m = replace(m, display_name=m.spec_name)
        out.append(m)
    return out


def _identity(m: ModelSpec) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    return (m.kind, m.target, tuple(sorted(m.params.items())))


def check_plan(results: Path, models: Iterable[ModelSpec], tasks: Iterable[Any]) -> None:
    """Refuse, before any model is called, a plan whose records would overwrite each other.

    Refused: two different model specs with one display name; two display names with one
    folder (:func:`folder_name`); a task folder that holds another model's record.

    Raises:
        ResultsError: Naming both models (or the folder and its owner) and the fix.
    """
    specs: dict[str, ModelSpec] = {}
    folders: dict[str, str] = {}
    task_names = [t.name for t in tasks]
    for m in models:
        name = m.display_name
        first = specs.setdefault(name, m)
        if _identity(first) != _identity(m):
            raise ResultsError(
                f"two models are named '{name}' ({_masked(first)} and {_masked(m)}): their "
                "records would overwrite each other",
                fix="give each model its own name=...",
            )
        folder = folder_name(name)
        other = folders.setdefault(folder, name)
        if other != name:
            raise ResultsError(
                f"models '{other}' and '{name}' would write their records into the same "
                f"folder {Path(results) / folder}",
                fix="give one of them another name (name=...)",
            )
    for name in specs:
        for task in task_names:
            run_folder(Path(results), name, task, None)


def _masked(m: ModelSpec) -> str:
    return mask_spec(m.raw)
