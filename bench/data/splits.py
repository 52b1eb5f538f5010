"""One role's split: read the source, map the fields, drop, shuffle and slice, check, fingerprint.

``source.splits`` maps the roles ``train`` / ``validation`` / ``test`` to split expressions such
as ``train``, ``validation`` or ``all[:80%]``; slicing happens after an optional seeded shuffle,
so an 80/20 split is declared, not computed by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench.data.checks import check_rows
from bench.data.downloads import load_hub, load_sacrebleu
from bench.data.fields import ROW, canonical, is_blank
from bench.data.files import describe, fetch
from bench.data.fingerprint import dataset_fingerprint, derive
from bench.data.overrides import resolve_source
from bench.data.readers import read_files
from bench.errors import DataError, did_you_mean
from bench.families.base import Family
from bench.spec import SourceSpec, TaskSpec

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = ["LoadedSplit", "load_split", "parse_split"]

_SPLIT_RE = re.compile(r"^(?P<base>[A-Za-z0-9_.-]+)(?:\[(?P<start>-?\d*%?):(?P<stop>-?\d*%?)\])?$")


@dataclass(frozen=True)
class LoadedSplit:
    """One role's examples (``train`` / ``validation`` / ``test``) and where they came from.

    Attributes:
        dataset: Canonical columns: ``id`` and the family's fields.
        fingerprint: SHA-256 (16 hex) of the rows' content.
        origin: Human-readable description of the files or hub split read.
        dropped: Rows dropped by ``source.drop_empty`` before splitting.
    """

    dataset: Dataset
    fingerprint: str
    origin: str
    dropped: int = 0


def parse_split(expr: str) -> tuple[str, str | None, str | None]:
    """Split ``"train[:80%]"`` into ``("train", "", "80%")``; no brackets gives ``None`` bounds.

    Raises:
        DataError: ``expr`` is not a split expression.
    """
    m = _SPLIT_RE.match(expr)
    if not m:
        raise DataError(
            f"'{expr}' is not a split expression", fix="write e.g. train or train[:80%]"
        )
    return m["base"], m["start"], m["stop"]


def _bound(text: str | None, n: int, default: int) -> int:
    if text is None or text == "":
        return default
    # Percent bounds round to the nearest row, as datasets' ReadInstruction does by default.
    value = round(float(text[:-1]) * n / 100) if text.endswith("%") else int(text)
    if value < 0:
        value += n
    return max(0, min(n, value))


def load_split(
    spec: TaskSpec,
    family: Family,
    role: str,
    *,
    data_override: str | Path | None = None,
    limit: int | None = None,
) -> LoadedSplit:
    """Load one role's split of ``spec``'s data as canonical columns.

    Args:
        spec: The task.
        family: The task's family (which fields rows need).
        role: ``train``, ``validation`` or ``test``.
        data_override: A local copy of the original release (``--data``).
        limit: Keep only the first ``limit`` examples (after slicing).

    Raises:
        DataError: Missing files, undecodable bytes, missing columns, bad rows, empty splits.
    """
    source = resolve_source(spec, data_override)
    expr = source.splits.get(role)  # type: ignore[call-overload]
    if expr is None:
        raise DataError(f"task '{spec.name}' has no '{role}' split", fix="add it to source.splits")
    base, start, stop = parse_split(expr)
    raw, origin, fmt = _load_raw(spec, source, base)
    if ROW not in raw.column_names:
        raw = raw.add_column(ROW, np.arange(len(raw), dtype=np.int64))
    ds = canonical(raw, spec, source, family, origin, base)
    before = len(ds)
    if source.drop_empty:
        ds = _drop_empty(ds, list(source.drop_empty))
    dropped = before - len(ds)
    if source.shuffle_seed is not None:
        ds = ds.shuffle(seed=source.shuffle_seed)
    n = len(ds)
    lo, hi = _bound(start, n, 0), _bound(stop, n, n)
    if (lo, hi) != (0, n):
        # An empty range is selected as [] (datasets rejects range(n, n) as out of bounds).
        ds = ds.select(range(lo, hi) if hi > lo else [])
    if limit is not None:
        ds = ds.select(range(min(limit, len(ds))))
    if len(ds) == 0:
        raise DataError(
            f"task '{spec.name}': split '{role}' ({expr}) of {origin} is empty",
            fix="check the files and the split expression",
        )
    check_rows(ds, spec, source, family, origin, fmt)
    ds = ds.remove_columns([ROW])
    return LoadedSplit(
        dataset=ds, fingerprint=dataset_fingerprint(ds), origin=origin, dropped=dropped
    )


def _drop_empty(ds: Dataset, fields: list[str]) -> Dataset:
    """``ds`` without the rows whose value of any of ``fields`` is null or blank."""
    return ds.filter(
        lambda batch: [
            all(not is_blank(batch[f][j]) for f in fields) for j in range(len(batch["id"]))
        ],
        batched=True,
        new_fingerprint=derive(ds._fingerprint, "drop_empty", fields),
    )


def _load_raw(spec: TaskSpec, source: SourceSpec, base: str) -> tuple[Dataset, str, str]:
    """Split ``base`` of ``source`` as read (before field mapping), its origin and its format."""
    if source.kind == "hub":
        return load_hub(spec, source, base)
    if source.kind == "sacrebleu":
        return load_sacrebleu(spec, source)
    files = source.files or {}
    if base not in files:
        raise DataError(
            f"task '{spec.name}': split '{base}' names no file{did_you_mean(base, files)}",
            fix=f"use one of the file keys: {', '.join(sorted(files))}",
        )
    fmt = source.format or "jsonl"
    paths = fetch(spec, source, files[base], fmt)
    origin = describe(paths)
    return read_files(fmt, paths, origin, source), origin, fmt
