"""Row checks: every row of a split is valid for its family, has an id, and no id repeats.

The first bad row is named with its file, row (and line, where the format has lines) and
field. Repeated ids are found through an 8-byte hash per row rather than a dict of every id,
which would grow with the test set; a repeated hash is then confirmed on the ids themselves,
so the error names the same rows a dict of ids would.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.data.fields import ROW, UNMAPPED
from bench.errors import DataError
from bench.families.base import Family
from bench.spec import SourceSpec, TaskSpec

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = ["check_rows", "id_key", "row_name"]


def row_name(fmt: str, row: int) -> str:
    """How an error names data row ``row`` (0-based) of a ``fmt`` file: with its line number
    where the format has lines (``row 3 (line 5, after the header)`` for CSV)."""
    if fmt == "jsonl":
        return f"row {row} (line {row + 1})"
    if fmt in ("word-pairs", "analogy"):
        return f"line {row + 1}"  # these readers number their rows by line
    if fmt in ("csv", "tsv"):
        return f"row {row} (line {row + 2}, after the header)"
    if fmt in ("text", "aligned-text"):
        return f"row {row} (line {row + 1})"
    return f"row {row}"


def check_rows(
    ds: Dataset, spec: TaskSpec, source: SourceSpec, family: Family, origin: str, fmt: str
) -> None:
    """Raise for the first bad row of ``ds`` (canonical columns and :data:`ROW`).

    A row is bad when its label is one ``source.label_map`` does not map, when the family's
    :meth:`~bench.families.base.Family.check_row` rejects it, when it has no id, or when its id
    repeats an earlier row's. A repeat before a bad row is reported first.

    Raises:
        DataError: Naming the file, the row and the field, and the fix.
    """
    keys = np.zeros(len(ds), dtype=np.uint64)
    i = 0
    for batch in ds.iter(batch_size=4096):
        for j in range(len(batch[ROW])):
            row = {k: v[j] for k, v in batch.items()}
            problem = _problem(row, spec, source, family, f"{origin}: {row_name(fmt, row[ROW])}")
            if problem is not None:
                _check_repeats(ds, keys[:i], origin, fmt)  # a repeat before this row comes first
                raise problem
            keys[i] = id_key(row["id"])
            i += 1
    _check_repeats(ds, keys[:i], origin, fmt)


def _problem(
    row: dict[str, Any], spec: TaskSpec, source: SourceSpec, family: Family, where: str
) -> DataError | None:
    label = row.get("label")
    if isinstance(label, str) and label.startswith(UNMAPPED):
        raw = label.removeprefix(UNMAPPED)
        return DataError(
            f"{where}: field 'label' is '{raw}', which source.label_map does not map "
            f"(it maps {sorted((source.label_map or {}).keys())})",
            fix="fix the row or add the value to label_map",
        )
    why = family.check_row(row, spec)
    if why:
        return DataError(f"{where} (id {row.get('id')!r}): {why}", fix="fix or remove the row")
    if row["id"] is None:
        return DataError(f"{where}: field 'id' is missing", fix="give every row an id")
    return None


def id_key(rid: Any) -> int:
    """An 8-byte hash of a row id (BLAKE2b), as an unsigned integer."""
    blob = rid.encode("utf-8", "surrogatepass") if isinstance(rid, str) else repr(rid).encode()
    return int.from_bytes(hashlib.blake2b(blob, digest_size=8).digest(), "little")


def _check_repeats(ds: Dataset, keys: np.ndarray, origin: str, fmt: str) -> None:
    """Raise for the first of the first ``len(keys)`` rows whose id repeats an earlier row's."""
    if len(keys) < 2:
        return
    distinct, counts = np.unique(keys, return_counts=True)
    shared = np.flatnonzero(np.isin(keys, distinct[counts > 1]))
    if not len(shared):
        return
    # Only rows whose key another row has too; confirmed on the ids (two ids may share a key).
    rows = ds.select(shared).select_columns(["id", ROW])
    ids = np.asarray(rows["id"], dtype=object)
    seen, first = np.unique(ids, return_index=True)  # each id's first occurrence
    repeats = np.setdiff1d(np.arange(len(ids)), first)
    if not len(repeats):
        return
    r = int(repeats[0])
    earlier = int(first[np.searchsorted(seen, ids[r])])
    row_numbers = rows[ROW]
    raise DataError(
        f"{origin}: {row_name(fmt, row_numbers[r])}: id {ids[r]!r} repeats row "
        f"{row_numbers[earlier]}",
        fix="make ids unique",
    )
