"""Side tables: files of a task's source that are not examples, such as a recommendation item
table (ids, titles, genres).

A side table is found, pinned and read like a split's files, and fingerprinted by content: what
a model is shown from it (titles) is part of the task's data, so it is part of the dataset and
train fingerprints of the runs that read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from bench.data.files import fetch
from bench.data.fingerprint import dataset_fingerprint
from bench.data.overrides import resolve_source
from bench.data.readers import read_files
from bench.errors import DataError, did_you_mean
from bench.spec import FileLayout, TaskSpec

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LoadedTable", "TableSpec", "load_table"]


class TableSpec(Protocol):
    """What a family's options say about a side table (e.g. the recommendation ``items``)."""

    @property
    def file(self) -> str:
        """A key of ``source.files``, or a file name in the source's folder."""
        ...

    @property
    def format(self) -> Any:
        """The table's format (``csv``, ``tsv``, ``jsonl``, ``json``, ``parquet``)."""
        ...

    @property
    def delimiter(self) -> str | None:
        """The CSV/TSV delimiter, when not the format's own."""
        ...

    @property
    def encoding(self) -> str:
        """The file's text encoding."""
        ...

    @property
    def columns(self) -> list[str] | None:
        """The column names of a header-less CSV/TSV file."""
        ...

    @property
    def fields(self) -> dict[str, str]:
        """``{field: column}`` of the columns the family reads."""
        ...


@dataclass(frozen=True)
class LoadedTable:
    """A side table and its content identity.

    Attributes:
        frame: The table's rows, every column read.
        fingerprint: SHA-256 (16 hex) of the rows' content (as :func:`dataset_fingerprint`).
        origin: The file read.
    """

    frame: pd.DataFrame
    fingerprint: str
    origin: str


def load_table(
    spec: TaskSpec, table: TableSpec, *, data_override: str | Path | None = None
) -> LoadedTable:
    """Read a side table of a task (e.g. recommendation item metadata).

    Args:
        spec: The task.
        table: ``file`` (a key of ``source.files`` or a file name in the source folder),
            ``format``, ``delimiter``, ``encoding``, ``columns`` and ``fields`` (the column
            names it needs).
        data_override: A local copy of the original release (``--data``).

    Raises:
        DataError: No such file, a file that differs from its pin or cannot be read, or a
            column named in ``table.fields`` that the file lacks.
    """
    source = resolve_source(spec, data_override)
    name = (source.files or {}).get(table.file, table.file)
    member = name if isinstance(name, str) else name[0]
    path = fetch(spec, source, member, table.format, key="options.items.file")[0]
    layout = FileLayout(
        format=table.format,
        columns=table.columns,
        delimiter=table.delimiter,
        encoding=table.encoding,
    )
    ds = read_files(table.format, [path], str(path), layout)
    frame = ds.to_pandas()
    missing = [c for c in table.fields.values() if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: no column {missing[0]!r}{did_you_mean(missing[0], list(frame.columns))}; "
            f"columns: {', '.join(map(str, frame.columns))}",
            fix="set options.items.fields (and options.items.columns for header-less files)",
        )
    return LoadedTable(frame=frame, fingerprint=dataset_fingerprint(ds), origin=str(path))
