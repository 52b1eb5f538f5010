"""What every leaderboard format shows the same way: marks, number formats, and the rows of a
task as the renderers walk them.

Shared by :mod:`bench.leaderboard.render` (Markdown, CSV, JSON, LaTeX) and
:mod:`bench.leaderboard.html`, neither of which imports the other's names.

Example:
    >>> fmt_value(0.5), fmt_value(31.25, scale=100), fmt_mean(None)
    ('0.5000', '31.25', '—')
"""

from __future__ import annotations

import math
from typing import Any

from bench.leaderboard.build import Leaderboard

__all__ = [
    "MISSING",
    "PARTIAL_MARK",
    "TIE_MARK",
    "fmt_ci",
    "fmt_mean",
    "fmt_spread",
    "fmt_value",
    "has_spread",
    "is_missing",
    "metric_order",
    "primary_cells",
    "signatures",
    "task_rows",
]

TIE_MARK = "†"
"""Marks a cell tied with the best model of its column."""
PARTIAL_MARK = "‡"
"""Marks an aggregate over fewer tasks than the view has."""
MISSING = "—"
"""A missing value."""


def is_missing(value: Any) -> bool:
    """``None`` or NaN (pandas' missing value)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_value(value: Any, scale: float = 1.0) -> str:
    """A metric value: 2 decimals on 0–100 scales, 4 on 0–1; ``—`` when missing."""
    if is_missing(value):
        return MISSING
    return f"{float(value):.{2 if scale >= 100 else 4}f}"


def fmt_ci(row: Any) -> str:
    """A row's interval as every format shows it: ``[low, high]`` on the value's scale;
    ``n/a (n=3)`` when the run bootstrapped but withheld the interval (``ci_reason``: too few
    examples); ``""`` without an interval.

    Example:
        >>> fmt_ci({"ci_low": 0.25, "ci_high": 0.5, "scale": 1.0, "n": 40, "ci_reason": None})
        '[0.2500, 0.5000]'
        >>> fmt_ci({"ci_low": None, "ci_high": None, "scale": 1.0, "n": 1, "ci_reason": "n=1"})
        'n/a (n=1)'
    """
    lo, hi = row["ci_low"], row["ci_high"]
    if not (is_missing(lo) and is_missing(hi)):
        return f"[{fmt_value(lo, row['scale'])}, {fmt_value(hi, row['scale'])}]"
    if not is_missing(row.get("ci_reason")):
        return f"n/a (n={int(row['n'])})"
    return ""


def fmt_spread(row: Any) -> str:
    """A row's spread across prompt variants (or exemplar draws), as every format shows it:
    ``variants 0.6100–0.7200 (sd 0.0450)``; ``""`` for a row without one (every one-unit run).

    Example:
        >>> fmt_spread({"spread_axis": "variants", "spread_min": 0.61, "spread_max": 0.72,
        ...             "spread_std": 0.045, "scale": 1.0})
        'variants 0.6100–0.7200 (sd 0.0450)'
        >>> fmt_spread({"scale": 1.0})
        ''
    """
    axis = row.get("spread_axis")
    if is_missing(axis):
        return ""
    scale = row["scale"]
    return (
        f"{axis} {fmt_value(row['spread_min'], scale)}–{fmt_value(row['spread_max'], scale)} "
        f"(sd {fmt_value(row['spread_std'], scale)})"
    )


def has_spread(board: Leaderboard) -> bool:
    """Whether any row of the board has a spread across variants or draws."""
    return "spread_axis" in board.long and bool(board.long["spread_axis"].notna().any())


def fmt_mean(value: Any) -> str:
    """An aggregate (mean on 0–100, mean rank): 2 decimals; ``—`` when missing."""
    return MISSING if is_missing(value) else f"{float(value):.2f}"


def metric_order(board: Leaderboard, task: str) -> list[str]:
    """The task's metrics: primary first, then plain names, then per-class ones, by name."""
    primary = board.columns[task].primary_metric
    names = set(board.long.loc[board.long["task"] == task, "metric"])
    return sorted(names, key=lambda m: (m != primary, "/" in m, m))


def task_rows(board: Leaderboard, task: str) -> list[tuple[str, dict[str, dict[str, Any]]]]:
    """``[(model, {metric: row})]`` of a task, ordered by primary rank then model."""
    by_model: dict[str, dict[str, dict[str, Any]]] = {}
    for raw in board.long_rows(task):
        by_model.setdefault(str(raw["model"]), {})[str(raw["metric"])] = raw
    primary = board.columns[task].primary_metric
    return sorted(by_model.items(), key=lambda kv: (int(kv[1][primary]["rank"]), kv[0]))


def signatures(board: Leaderboard, task: str) -> list[tuple[str, str, list[str]]]:
    """``[(metric, signature, models)]``: each distinct signature of each metric of a task."""
    sub = board.long[board.long["task"] == task]
    out = []
    for metric in metric_order(board, task):
        msub = sub[sub["metric"] == metric]
        for sig in sorted(set(msub["signature"])):
            out.append((metric, str(sig), sorted(msub.loc[msub["signature"] == sig, "model"])))
    return out


def primary_cells(board: Leaderboard) -> dict[tuple[str, str], dict[str, Any]]:
    """The primary-metric row of every (model, task)."""
    prim = board.long[board.long["primary"]]
    return {(str(r["model"]), str(r["task"])): r for r in prim.to_dict("records")}
