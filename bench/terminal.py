"""What ``bench`` prints on a terminal: console width, tables that never truncate a number.

A table is printed in the first of three layouts that fits the console's width without cutting
any cell:

1. **wide**: one row per line, every column (a terminal of ~140 columns for ``bench run``);
2. **grouped**: the first column (the model, or the task) becomes a heading line above its rows
   and leaves the table, which frees its width;
3. **stacked**: under each heading, each row is a key (the next column) followed by
   ``label value`` fields, wrapped between fields, never inside one.

The same rows are available raw through :func:`table_csv` and :func:`table_json`
(``--format csv`` / ``--format json``), so a script never parses the rendering.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

__all__ = [
    "LAYOUTS",
    "Column",
    "make_console",
    "print_table",
    "render_table",
    "table_csv",
    "table_json",
    "write_rows",
]

LAYOUTS = ("wide", "grouped", "stacked")
"""The layouts of :func:`print_table`, from the widest to the narrowest."""

PIPE_WIDTH = 200
"""Width of a console whose stream is not a terminal and ``COLUMNS`` is unset: log files get
one line per row, as wide as a line needs to be."""


def make_console(*, stderr: bool = False, file: IO[str] | None = None) -> Console:
    """A console that prints text as written (no markup, emoji codes or highlighting: every
    string may quote the user) at the width of the terminal, or ``COLUMNS`` when it is set
    (also when the output is piped: ``COLUMNS=80 bench ... | less`` renders for 80 columns), or
    :data:`PIPE_WIDTH` when the stream is not a terminal and ``COLUMNS`` is unset."""
    stream: Any = file if file is not None else None
    probe = stream or (_stderr() if stderr else _stdout())
    columns = os.environ.get("COLUMNS", "")
    is_tty = bool(getattr(probe, "isatty", lambda: False)())
    width = int(columns) if columns.isdigit() and int(columns) > 0 else None
    if width is None and not is_tty:
        width = PIPE_WIDTH
    return Console(
        stderr=stderr,
        file=stream,
        highlight=False,
        markup=False,
        emoji=False,
        width=width,
    )


def _stdout() -> Any:
    import sys

    return sys.stdout


def _stderr() -> Any:
    import sys

    return sys.stderr


@dataclass(frozen=True)
class Column:
    """One column of a table.

    Attributes:
        name: The header (and the key in :func:`table_json`).
        numeric: Right-aligned in the table; never wrapped or cut in any layout.
        stack_label: The label before the value in the stacked layout; ``None`` uses
            ``name``, ``""`` prints the value alone (a value that names itself, like a metric).
    """

    name: str
    numeric: bool = False
    stack_label: str | None = None

    @property
    def label(self) -> str:
        """The label of this column's values in the stacked layout."""
        return self.name if self.stack_label is None else self.stack_label


Cell = str | Text


def _plain(cell: Cell) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def _table(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], title: str | None) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for col in columns:
        table.add_column(
            col.name,
            justify="right" if col.numeric else "left",
            no_wrap=True,
            overflow="fold",
        )
    for row in rows:
        table.add_row(*row)
    return table


def _width(console: Console, table: Table) -> int:
    """The width ``table`` needs to show every cell on one line (not clamped to the console)."""
    unbounded = console.options.update_width(1_000_000)
    return Measurement.get(console, unbounded, table).maximum


def _grouped(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], title: str | None) -> Table:
    """The table without its first column, each first-column value as a heading row."""
    table = _table(columns[1:], [], title)
    current: str | None = None
    for row in rows:
        head = _plain(row[0])
        if head != current:
            if current is not None:
                table.add_row(*([""] * (len(columns) - 1)))
            table.add_row(Text(head, style="bold"), *([""] * (len(columns) - 2)))
            current = head
        table.add_row(Text("  ") + _as_text(row[1]), *row[2:])
    return table


def _as_text(cell: Cell) -> Text:
    return cell.copy() if isinstance(cell, Text) else Text(str(cell))


def _stacked(
    console: Console, columns: Sequence[Column], rows: Sequence[Sequence[Cell]], width: int
) -> list[Text]:
    """Lines of the stacked layout: headings, then per row its key and its fields, wrapped
    between fields to ``width`` (a field longer than a whole line gets lines of its own,
    wrapped between words under the same indent)."""
    lines: list[Text] = []
    current: str | None = None
    indent, more = "  ", "      "
    for row in rows:
        head = _plain(row[0])
        if head != current:
            lines.append(Text(head, style="bold"))
            current = head
        line = Text(indent) + _as_text(row[1]) if len(columns) > 1 else Text(indent)
        for col, cell in zip(columns[2:], row[2:], strict=True):
            value = _as_text(cell)
            field = Text(f"{col.label} ") + value if col.label else value
            if len(more) + len(field) > width:  # prose longer than a line: wrapped, indented
                lines.append(line)
                for part in field.wrap(console, max(20, width - len(more)), overflow="fold"):
                    part.rstrip()
                    lines.append(Text(more) + part)
                line = Text(more)
                continue
            if line.plain.strip() and len(line) + 2 + len(field) > width:
                lines.append(line)
                line = Text(more) + field
            else:
                line = line + Text("  ") + field if line.plain.strip() else line + field
        if line.plain.strip():
            lines.append(line)
    return lines


def render_table(
    console: Console,
    columns: Sequence[Column],
    rows: Sequence[Sequence[Cell]],
    *,
    title: str | None = None,
    layout: str | None = None,
) -> tuple[str, list[Any]]:
    """The layout chosen for ``console``'s width (or ``layout`` when given) and the
    renderables to print, in order. Rows should be sorted by their first column, which the
    grouped and stacked layouts turn into headings."""
    width = console.width
    wide = _table(columns, rows, title)
    if layout == "wide" or (layout is None and _width(console, wide) <= width):
        return "wide", [wide]
    if len(columns) > 2:
        grouped = _grouped(columns, rows, title)
        if layout == "grouped" or (layout is None and _width(console, grouped) <= width):
            return "grouped", [grouped]
    renderables: list[Any] = []
    if title:
        renderables.append(Text(title, style="italic", justify="center"))
    renderables += _stacked(console, columns, rows, width)
    return "stacked", renderables


def print_table(
    console: Console,
    columns: Sequence[Column],
    rows: Sequence[Sequence[Cell]],
    *,
    title: str | None = None,
    caption: str | None = None,
) -> str:
    """Print ``rows`` in the widest layout of :data:`LAYOUTS` that fits ``console`` without
    cutting a cell; ``caption`` is printed below, wrapped as prose. Returns the layout used."""
    chosen, renderables = render_table(console, columns, rows, title=title)
    for item in renderables:
        console.print(item, overflow="fold", crop=False)
    if caption:
        console.print(Text(caption, style="dim"))
    return chosen


def table_json(columns: Sequence[Column], rows: Sequence[Sequence[Any]]) -> str:
    """The rows as a JSON list of objects keyed by column name (values as given: numbers stay
    numbers)."""
    data = [
        {
            col.name: (_plain(v) if isinstance(v, Text) else v)
            for col, v in zip(columns, row, strict=True)
        }
        for row in rows
    ]
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def table_csv(columns: Sequence[Column], rows: Sequence[Sequence[Any]]) -> str:
    """The rows as CSV with a header line (values as given; ``None`` as an empty field)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([c.name for c in columns])
    for row in rows:
        writer.writerow(["" if v is None else _plain(v) if isinstance(v, Text) else v for v in row])
    return buf.getvalue()


def write_rows(fmt: str, columns: Sequence[Column], rows: Sequence[Sequence[Any]]) -> None:
    """Write ``rows`` raw to stdout for ``--format csv`` (:func:`table_csv`) or ``--format
    json`` (:func:`table_json`)."""
    import sys

    sys.stdout.write((table_csv if fmt == "csv" else table_json)(columns, rows))
