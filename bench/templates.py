"""Commented task-file templates for ``bench new-task``: each family writes its own."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.errors import BenchError, TaskSpecError, UnknownName

__all__ = [
    "FIELD_SYNONYMS",
    "MAX_INFERRED_LABELS",
    "TABLE_FORMATS",
    "Customised",
    "FileColumns",
    "check_task_name",
    "customise_template",
    "match_fields",
    "read_columns",
    "task_template",
]


def _slug(name: str) -> str:
    """``name`` as a task name: ASCII lowercase, runs of other characters become ``-``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9._-]+", "-", ascii_name.lower())
    return re.sub(r"-{2,}", "-", slug).strip("-._")


def check_task_name(name: str) -> None:
    """Refuse a name that is not a task name (the file stem and the ``name:`` field).

    A task name is what ``--tasks`` selects and the file's stem, so it cannot hold a path
    (``../x``, ``/tmp/x``), spaces or capitals: such a name would write a file outside the
    chosen folder, or one that does not validate.

    Raises:
        TaskSpecError: ``name`` does not match the task-name pattern; the fix suggests one
            that does, where there is one.
    """
    from bench.spec import NAME

    if re.match(NAME, name):
        return
    slug = _slug(name.replace("/", "-").replace("\\", "-"))
    suggestion = f"use e.g. '{slug}'" if slug and re.match(NAME, slug) else "choose another name"
    raise TaskSpecError(
        f"'{name}' is not a task name: a task name is the file's stem, made of lowercase "
        "letters, digits, '.', '_' and '-', starting with a letter or digit (no folders: "
        "the folder is --dir)",
        fix=suggestion,
    )


def task_template(name: str, family: str) -> str:
    """A commented YAML template for a new task of ``family`` that validates as it is.

    The text is the family's :attr:`~bench.families.base.Family.new_task_template` with
    ``{name}`` replaced by ``name``.

    Raises:
        TaskSpecError: ``name`` is not a task name (see :func:`check_task_name`).
        UnknownName: ``family`` is not registered (with a did-you-mean), or has no template.
    """
    from bench.registry import registry

    check_task_name(name)
    cls = registry.get("family", family)
    template = cls.new_task_template
    if template is None:
        raise UnknownName(
            f"the {family} family has no task template for bench new-task",
            fix="copy a task file of that family and edit it",
        )
    return str(template).replace("{name}", name)


# --------------------------------------------------------------------------- customising

TABLE_FORMATS = ("csv", "tsv", "jsonl", "json", "text-files")
"""The formats ``bench new-task --format`` writes a template for."""

_EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "json", ".txt": "text"}

FIELD_SYNONYMS: dict[str, tuple[str, ...]] = {
    "text": ("text", "sentence", "review", "content", "document", "comment", "body", "txt"),
    "label": ("label", "labels", "sentiment", "polarity", "class", "target", "y", "rating"),
    "document": ("document", "article", "text", "content", "body", "source", "dialogue"),
    "references": ("references", "reference", "summary", "highlights", "target", "refs", "ref"),
    "source": ("source", "src", "input"),
    "question": ("question", "query", "q"),
    "context": ("context", "passage", "paragraph", "document"),
    "answers": ("answers", "answer", "answer_text", "gold"),
    "id": ("id", "idx", "guid", "uid", "qid"),
    "title": ("title",),
    "user": ("user", "user_id", "userid", "uid", "customer_id"),
    "item": ("item", "item_id", "itemid", "movie_id", "movieid", "product_id", "iid"),
    "timestamp": ("timestamp", "time", "ts", "datetime", "date"),
    "rating": ("rating", "score", "stars"),
}
"""Column names ``--from`` recognises for each family field, best first (matched without
regard to case, ``-`` or ``_``)."""

MAX_INFERRED_LABELS = 50
"""``--from`` fills ``labels:`` from the label column only when it holds at most this many
distinct values (more is not a label set)."""


@dataclass(frozen=True)
class FileColumns:
    """What ``--from`` read of a data file: its format, columns and (capped) distinct values
    per column."""

    path: Path
    format: str
    columns: tuple[str, ...]
    values: dict[str, tuple[str, ...]]


def read_columns(path: Path, fmt: str | None = None) -> FileColumns:
    """The columns of a data file in one of :data:`TABLE_FORMATS` (the header row of CSV/TSV,
    the keys of the first JSON Lines object or of the first object of a JSON list), with the
    distinct values of each column (up to :data:`MAX_INFERRED_LABELS` + 1).

    Raises:
        BenchError: The file is missing, unreadable, or has no header or object to read.
    """
    if not path.is_file():
        raise BenchError(f"--from {path}: no such file", fix="give the path of a data file")
    fmt = fmt or _EXTENSIONS.get(path.suffix.lower())
    if fmt not in ("csv", "tsv", "jsonl", "json"):
        raise BenchError(
            f"--from {path}: cannot tell the columns of a '{path.suffix}' file",
            fix="give a .csv, .tsv, .jsonl or .json file (or --format csv|tsv|jsonl|json)",
        )
    try:
        rows = list(_rows(path, fmt))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BenchError(
            f"--from {path}: cannot read it as {fmt} ({exc})",
            fix=f"check the file is {fmt} in UTF-8, or pass --format",
        ) from exc
    if not rows:
        raise BenchError(
            f"--from {path}: no header or record to read columns from",
            fix="give a file with a header row (CSV/TSV) or at least one object (JSON)",
        )
    columns = tuple(str(c) for c in rows[0])
    values: dict[str, tuple[str, ...]] = {}
    for col in columns:
        seen: dict[str, None] = {}
        for row in rows:
            value = row.get(col)
            if isinstance(value, str | int | bool) and len(seen) <= MAX_INFERRED_LABELS:
                seen.setdefault(str(value), None)
        values[col] = tuple(seen)
    return FileColumns(path, fmt, columns, values)


def _rows(path: Path, fmt: str, limit: int = 100_000) -> Iterator[dict[str, Any]]:
    if fmt in ("csv", "tsv"):
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle, delimiter="," if fmt == "csv" else "\t")
            for i, row in enumerate(reader):
                if i >= limit:
                    return
                yield row
            if reader.fieldnames and reader.line_num <= 1:
                yield dict.fromkeys(reader.fieldnames, "")  # a header with no rows
        return
    if fmt == "jsonl":
        with path.open(encoding="utf-8") as handle:
            for i, line in enumerate(handle):
                if i >= limit:
                    return
                if line.strip():
                    obj = json.loads(line)
                    if not isinstance(obj, dict):
                        raise ValueError(f"line {i + 1} is not a JSON object")
                    yield obj
        return
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict) and len(data) == 1 and isinstance(next(iter(data.values())), list):
        data = next(iter(data.values()))  # {"data": [...]}
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data[:1]):
        raise ValueError("the file is not a list of JSON objects")
    yield from data[:limit]


def _norm(name: str) -> str:
    return re.sub(r"[-_\s]", "", name.lower())


def match_fields(
    fields: Sequence[str], columns: Sequence[str], languages: Sequence[str] = ()
) -> dict[str, str]:
    """The column each family field reads: a column of the same name, else the first of
    :data:`FIELD_SYNONYMS` present; for translation, ``source`` and ``references`` also match
    columns named after the source and target language (``zh``, ``en``). Each column serves
    one field; a field with no match is left out."""
    by_norm = {_norm(c): c for c in columns}
    taken: set[str] = set()
    found: dict[str, str] = {}
    lang_names = {"source": languages[:1], "references": languages[1:2]}
    for field in fields:
        candidates = [field, *lang_names.get(field, ()), *FIELD_SYNONYMS.get(field, ())]
        for cand in candidates:
            col = by_norm.get(_norm(cand))
            if col is not None and col not in taken:
                found[field] = col
                taken.add(col)
                break
    return found


@dataclass
class Customised:
    """A template after :func:`customise_template`, with what the user should still do."""

    text: str
    notes: list[str]


def _flow(value: Any) -> str:
    """``value`` as one line of YAML (flow style; a scalar without the document end)."""
    dumped = yaml.safe_dump(
        value, default_flow_style=True, allow_unicode=True, width=10_000, sort_keys=False
    )
    return dumped.removesuffix("\n").removesuffix("\n...").strip()


def _set_value(text: str, key: str, value: Any, *, parent: str | None = None) -> str:
    """``text`` with the value of ``key`` (at any indent; under ``parent`` when given) set to
    ``value`` in flow style, keeping the line's comment; a block value below the key (lines
    indented deeper) is replaced too."""
    lines = text.split("\n")
    inside = parent is None
    for i, line in enumerate(lines):
        if parent is not None and re.match(rf"{re.escape(parent)}:", line):
            inside = True
            continue
        if parent is not None and inside and line and not line[0].isspace():
            inside = False
        m = re.match(rf"^(\s*){re.escape(key)}:(\s*)([^#]*?)(\s*)(#.*)?$", line)
        if not (inside and m):
            continue
        indent, comment = m.group(1), m.group(5)
        end = i + 1
        while end < len(lines) and (
            (lines[end].startswith(indent + " ") and lines[end].strip())
            or (lines[end].strip().startswith("#") and lines[end].startswith(indent + "  "))
        ):
            end += 1
        head = [f"{indent}{key}: {_flow(value)}"]
        if comment and len(head[0]) < 29:
            head = [f"{head[0].ljust(29)}{comment}"]
        elif comment:  # no room beside the value: the comment goes above it
            head = [f"{indent}{comment}", *head]
        return "\n".join([*lines[:i], *head, *lines[end:]])
    raise BenchError(f"the template has no '{key}:' to set", fix="report this as a bug in bench")


def _get(text: str, *path: str) -> Any:
    value: Any = yaml.safe_load(text)
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def customise_template(
    text: str,
    family: Any,
    *,
    languages: Sequence[str] | None = None,
    fmt: str | None = None,
    labels: Sequence[str] | None = None,
    columns: FileColumns | None = None,
    task_dir: Path | None = None,
) -> Customised:
    """The template ``text`` of ``family`` (a family class) with the user's choices filled in:
    ``languages``, the data ``fmt`` (file names follow it), the sentiment ``labels``, and,
    from ``columns`` (:func:`read_columns` of a data file), the file's folder and name, its
    format, ``fields:`` matched to its columns and, where no ``labels`` are given, the label
    column's values. Returns the text and notes on what could not be filled.

    Raises:
        BenchError: A choice the family's template cannot take (``--labels`` for a family
            without labels, a format the family cannot read).
    """
    notes: list[str] = []
    if languages:
        text = _set_value(text, "languages", list(languages))
    if labels is not None and _get(text, "labels") is None:
        raise BenchError(
            f"--labels: the {family.name} family has no labels",
            fix="leave --labels out (only sentiment tasks list labels)",
        )
    current = _get(text, "source", "format")
    fmt = fmt or (columns.format if columns else None)
    if fmt is not None and fmt != current:
        if current not in ("jsonl", "csv", "json", "tsv", "squad") or (
            fmt == "text-files" and family.name != "sentiment"
        ):
            raise BenchError(
                f"--format {fmt}: the {family.name} template reads format {current}",
                fix="leave --format out, or edit source.format after writing (formats: "
                "`bench tasks schema`)",
            )
        text = _set_value(text, "format", fmt, parent="source")
        files = _get(text, "source", "files") or {}
        if fmt == "text-files":
            new_files = {split: split for split in files}
            notes.append(
                "text-files: put one .txt file per example under LOCATION/SPLIT/LABEL/ "
                "(the label is the folder's name)"
            )
        else:
            new_files = {k: re.sub(r"\.\w+$", f".{fmt}", str(v)) for k, v in files.items()}
        text = _set_value(text, "files", new_files, parent="source")
    if columns is not None:
        text = _from_file(text, family, columns, task_dir, labels is None, notes)
    if labels is not None:
        text = _set_labels(text, list(labels))
    return Customised(text, notes)


def _set_labels(text: str, labels: list[str]) -> str:
    text = _set_value(text, "labels", labels)
    if _get(text, "prompt", "verbalizers") is not None:
        text = _set_value(text, "verbalizers", {x: x for x in labels}, parent="prompt")
    return text


def _from_file(
    text: str,
    family: Any,
    columns: FileColumns,
    task_dir: Path | None,
    infer_labels: bool,
    notes: list[str],
) -> str:
    path = columns.path.resolve()
    folder = path.parent
    if task_dir is not None:
        with contextlib.suppress(ValueError):  # ValueError: another drive (Windows)
            folder = Path(os.path.relpath(folder, task_dir.resolve()))
    text = _set_value(text, "location", folder.as_posix(), parent="source")
    name = path.name
    partner = name.replace("test", "train") if "test" in name else None
    files = (
        {"train": partner, "test": name}
        if partner and (path.parent / partner).is_file()
        else {"test": name}
    )
    text = _set_value(text, "files", files, parent="source")
    text = _set_value(text, "splits", {k: k for k in files}, parent="source")
    wanted = [*family.required_fields, *getattr(family, "optional_fields", ())]
    languages = _get(text, "languages") or []
    found = match_fields(wanted, columns.columns, languages)
    missing = [f for f in family.required_fields if f not in found]
    if found:  # a required field no column matched keeps its own name, for the user to edit
        mapping = {f: found.get(f, f) for f in family.required_fields}
        mapping.update({f: c for f, c in found.items() if f not in mapping})
        text = _set_value(text, "fields", mapping, parent="source")
    if missing:
        notes.append(
            f"no column of {columns.path.name} matched field(s) {', '.join(missing)} "
            f"(columns: {', '.join(columns.columns)}): add them under source.fields"
        )
    label_col = found.get("label")
    if infer_labels and label_col and _get(text, "labels") is not None:
        values = columns.values.get(label_col, ())
        if 2 <= len(values) <= MAX_INFERRED_LABELS:
            text = _set_labels(text, sorted(values))
        else:
            notes.append(
                f"column '{label_col}' has {len(values)} distinct values: set labels: by hand"
            )
    return text
