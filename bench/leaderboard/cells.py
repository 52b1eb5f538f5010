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

from bench.leaderboard.build import COVERS, MEAN, MEAN_RANK, N_TASKS, RANK, Leaderboard

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
    "ranking_note",
    "signatures",
    "standing",
    "task_rows",
]

TIE_MARK = "†"
"""Marks a cell tied with the best model of its column."""
PARTIAL_MARK = "‡"
"""Marks a model that lacks some of the view's tasks (listed, not ranked)."""
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


def standing(agg: Any, n_tasks: int) -> dict[str, Any]:
    """A model's line of a view's aggregate table as every format shows it.

    ``{"ranked", "rank", "tasks", "covers", "mean", "mean_rank"}``: a ranked model (it has every
    task of the view) has its competition rank and its aggregates; an unranked one ``—`` for
    all three, and what it has (``2/13``, ``covers``: ``sentiment``).

    Example:
        >>> row = {"rank": 2.0, "complete": True, "tasks": 2, "covers": "a, b",
        ...        "mean (0-100)": 50.0, "mean rank": 1.5}
        >>> standing(row, 2)["rank"], standing({**row, "complete": False, "tasks": 1}, 2)["mean"]
        ('2', '—')
    """
    ranked = bool(agg["complete"]) and not is_missing(agg[RANK])
    return {
        "ranked": ranked,
        "rank": str(int(agg[RANK])) if ranked else MISSING,
        "tasks": f"{int(agg[N_TASKS])}/{n_tasks}",
        "covers": "" if ranked else str(agg[COVERS]),
        "mean": fmt_mean(agg[MEAN]) if ranked else MISSING,
        "mean_rank": fmt_mean(agg[MEAN_RANK]) if ranked else MISSING,
    }


def ranking_note(table: Any, n_tasks: int, *, others: str = "") -> str:
    """The sentence above a view's table that says whom it ranks (``""`` when every model has
    every task); ``others`` is added when no model is ranked (where to look instead).

    Example:
        >>> import pandas as pd
        >>> ranking_note(pd.DataFrame({"complete": [True, False]}), 3)
        'Ranked: the 1 model that has all 3 tasks. The other 1 is listed below, unranked (—), \
with the tasks it has: a mean over other tasks compares nothing.'
    """
    n_ranked = int(table["complete"].sum())
    rest = len(table) - n_ranked
    if rest == 0:
        return ""
    if n_ranked == 0:
        text = (
            f"No model has all {n_tasks} tasks, so none is ranked here; each is listed, "
            "unranked (—), with the tasks it has: a mean over other tasks compares nothing."
        )
        return f"{text} {others}" if others else text
    return (
        f"Ranked: the {n_ranked} model{'s' if n_ranked != 1 else ''} that "
        f"{'have' if n_ranked != 1 else 'has'} all {n_tasks} tasks. The other {rest} "
        f"{'are' if rest != 1 else 'is'} listed below, unranked ({MISSING}), with the tasks "
        f"{'they have' if rest != 1 else 'it has'}: a mean over other tasks compares nothing."
    )
