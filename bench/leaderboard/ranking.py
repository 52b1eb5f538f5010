"""The one ranking rule of every leaderboard table: standard competition ranking ("1224").

Equal keys share the best rank of their group and the next key skips as many ranks as were
shared: values 0.9, 0.9, 0.7 rank 1, 1, 3. Per-task ranks (every metric of :attr:`Leaderboard.long
<bench.leaderboard.build.Leaderboard.long>`), the position of a ranked model in the main table
and in every family or language view (Markdown, LaTeX, HTML, ``leaderboard.json``) all come from
:func:`competition_ranks`, so a tie never reads 1 and 2 in one table and 1 and 1 in another.

Example:
    >>> competition_ranks([-0.9, -0.9, -0.7])
    [1, 1, 3]
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import Any

__all__ = ["AGGREGATE_DIGITS", "aggregate_key", "competition_ranks"]

AGGREGATE_DIGITS = 9
"""Decimals an aggregate (mean on 0–100, mean rank) is rounded to before it is compared: two
means that differ only in how their sums were ordered (1e-14) are equal, i.e. tied."""


def competition_ranks(keys: Sequence[Any]) -> list[int]:
    """The competition rank of every key, where a smaller key is better: one plus the number
    of keys strictly better than it.

    Args:
        keys: Mutually comparable sort keys (numbers or tuples of numbers), smaller = better;
            none may be NaN (a missing value is not ranked).

    Example:
        >>> competition_ranks([3, 1, 1, 2]), competition_ranks([(1, 2.0), (1, 2.0), (0, 5.0)])
        ([4, 1, 1, 3], [2, 2, 1])
    """
    ordered = sorted(keys)
    return [bisect_left(ordered, key) + 1 for key in keys]


def aggregate_key(mean: float, mean_rank: float) -> tuple[float, float]:
    """The key a view ranks its models by: higher mean (0–100) first, then lower mean rank,
    both rounded to :data:`AGGREGATE_DIGITS` decimals.

    Example:
        >>> aggregate_key(50.0, 1.0) == aggregate_key(50.00000000000001, 1.0)
        True
    """
    return (-round(float(mean), AGGREGATE_DIGITS), round(float(mean_rank), AGGREGATE_DIGITS))
