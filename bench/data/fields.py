"""Field mapping: a raw split's columns → the family's canonical fields.

``source.fields`` maps each family field to a column (or to a list of columns: several
references); ``source.label_map`` maps raw label values to the task's labels. Rows keep their
raw row number (:data:`ROW`) until they are checked, so errors can name the file's row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bench.data.fingerprint import derive
from bench.errors import DataError, did_you_mean
from bench.families.base import Family
from bench.spec import SourceSpec, TaskSpec

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = ["ROW", "UNMAPPED", "canonical", "is_blank", "is_null"]

ROW = "__row__"
"""The column holding each row's 0-based row number in its files (dropped after the checks)."""

UNMAPPED = "\x00unmapped:"
"""Prefix of a raw label that ``label_map`` does not map, kept so the row check can name it."""


def canonical(
    raw: Dataset, spec: TaskSpec, source: SourceSpec, family: Family, origin: str, base: str
) -> Dataset:
    """``raw`` reduced to ``id``, the family's fields and :data:`ROW`.

    Rows without an ``id`` column are numbered ``<base>-<row>``; ids become strings; labels go
    through ``source.label_map`` (or become strings).

    Raises:
        DataError: A required (or explicitly mapped) field's column is missing, or
            ``source.fields`` / ``source.drop_empty`` names a field the family does not use.
    """
    wanted = [
        *family.required_fields,
        *(f for f in family.optional_fields if f not in family.required_fields),
    ]
    # A misspelt field name first: it explains the missing column that follows from it.
    for field in [*source.fields, *source.drop_empty]:
        if field not in wanted:
            raise DataError(
                f"task '{spec.name}': source.fields names '{field}', which the "
                f"{family.name} family "
                f"does not use{did_you_mean(field, wanted)}",
                fix=f"map only {', '.join(wanted)}",
            )
    mapping = _mapping(raw, source, family, wanted, origin)
    keep = [c for t in mapping.values() for c in ([t] if isinstance(t, str) else t)]
    ds = raw.select_columns(list(dict.fromkeys([*keep, ROW])))
    label_map = source.label_map

    def project(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        # Copy rather than rename: two fields may read the same column.
        out: dict[str, list[Any]] = {
            f: batch[c]
            if isinstance(c, str)
            else [list(v) for v in zip(*(batch[x] for x in c), strict=True)]
            for f, c in mapping.items()
        }
        if "id" not in mapping:
            out["id"] = [f"{base}-{r}" for r in batch[ROW]]
        else:
            out["id"] = [None if v is None else str(v) for v in out["id"]]
        if label_map is not None and "label" in out:
            out["label"] = [_map_label(v, label_map) for v in out["label"]]
        elif "label" in out:
            out["label"] = [None if is_null(v) else str(v) for v in out["label"]]
        out[ROW] = batch[ROW]
        return out

    return ds.map(
        project,
        batched=True,
        remove_columns=ds.column_names,
        desc=f"{spec.name}: fields",
        new_fingerprint=derive(ds._fingerprint, "fields", mapping, label_map, base),
    )


def _mapping(
    raw: Dataset, source: SourceSpec, family: Family, wanted: list[str], origin: str
) -> dict[str, str | list[str]]:
    """``{field: column or columns}`` for each wanted field the data has."""
    columns = [c for c in raw.column_names if c != ROW]
    mapping: dict[str, str | list[str]] = {}
    for field in wanted:
        target = source.fields.get(field, field)
        for column in [target] if isinstance(target, str) else target:
            if column in columns:
                continue
            if field in family.required_fields or field in source.fields:
                # A required field, or an optional one the task maps explicitly, must be there.
                hint = did_you_mean(column, columns)
                raise DataError(
                    f"{origin}: field '{field}' maps to column '{column}', which the data does "
                    f"not have{hint}; columns: {', '.join(columns)}",
                    fix=f"set source.fields.{field} to the column that holds it",
                )
            break
        else:
            mapping[field] = target
    return mapping


def is_null(value: Any) -> bool:
    """Whether a raw value is missing (``None`` or a float NaN, as pandas reads empty cells)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def is_blank(value: Any) -> bool:
    """Whether a value is missing or a string of whitespace only."""
    return is_null(value) or (isinstance(value, str) and not value.strip())


def _map_label(value: Any, label_map: Mapping[str, str]) -> Any:
    if is_null(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    key = str(value)
    # An unmapped raw label is kept (marked) so that the row check can name it.
    return label_map.get(key, f"{UNMAPPED}{key}")
