"""Bootstrap resampling shared by record intervals and paired tests: the settings, the seeded
draws (cached per test-set size) and the one percentile-interval helper.

It sits below both :mod:`bench.metrics.base` (metric intervals) and :mod:`bench.metrics.paired`
(paired tests between two runs), so neither imports the other at module level.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bench.errors import BenchError

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "COUNTS_CACHE_CELLS",
    "COUNTS_MAX_CELLS",
    "MIN_CI_N",
    "MIN_RESAMPLES",
    "BootstrapConfig",
    "BootstrapError",
    "clear_caches",
    "percentile_ci",
    "resample_counts",
]


MIN_RESAMPLES = 100
"""Fewest bootstrap resamples an interval is computed from (``0`` means no intervals): the 2.5%
and 97.5% percentiles of fewer resamples are read off a handful of draws (with one resample the
"interval" is a single resampled value, which need not contain the score itself)."""

MIN_CI_N = 10
"""Fewest examples (users, for ranking metrics) a bootstrap interval is reported for. Below it
resamples of n examples take so few distinct values that the percentile interval says nothing
(n = 1 gives a zero-width interval); the record says ``ci_low = ci_high = null`` with the
reason in ``ci_reason``, and every table shows ``n/a (n=…)``."""


class BootstrapError(BenchError):
    """Bootstrap settings that cannot give a meaningful interval (too few resamples)."""


class BootstrapConfig(BaseModel):
    """Settings of the percentile bootstrap behind every confidence interval.

    ``resamples`` is ``0`` (no intervals) or at least :data:`MIN_RESAMPLES`; anything between
    raises :class:`BootstrapError` naming ``--bootstrap``. Settings read back from an older
    record are taken as written (:meth:`recorded`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    resamples: int = Field(default=1000, ge=0)
    confidence: float = Field(default=0.95, gt=0, lt=1)
    seed: int = 12345

    @field_validator("resamples")
    @classmethod
    def _enough_resamples(cls, resamples: int) -> int:
        if 0 < resamples < MIN_RESAMPLES:
            # Not a ValueError: pydantic passes other exceptions through unchanged, so the CLI
            # and the API both get this message rather than a validation traceback.
            raise BootstrapError(
                f"--bootstrap {resamples}: {resamples} bootstrap resample"
                f"{'s' if resamples != 1 else ''} cannot give a meaningful 95% interval "
                f"(at least {MIN_RESAMPLES} are needed)",
                fix=f"pass --bootstrap 0 for no intervals, or at least --bootstrap "
                f"{MIN_RESAMPLES} (the default is 1000)",
            )
        return resamples

    @classmethod
    def recorded(cls, settings: Any) -> BootstrapConfig:
        """The settings a record was scored with, as written (a record made before
        :data:`MIN_RESAMPLES` was enforced keeps its resample count).

        Raises:
            ValueError: ``settings`` are not bootstrap settings at all.

        Example:
            >>> BootstrapConfig.recorded({"resamples": 10, "seed": 1}).tag()
            'boot:10|conf:0.95|seed:1'
        """
        if not isinstance(settings, dict):
            raise ValueError(f"bootstrap settings {settings!r} are not an object")
        try:
            return cls.model_validate(settings)
        except BootstrapError:
            rest = cls.model_validate({**settings, "resamples": 0})
            return cls.model_construct(**{**rest.model_dump(), "resamples": settings["resamples"]})

    def tag(self) -> str:
        """The bootstrap part of a signature."""
        if self.resamples == 0:
            return "ci:none"
        return f"boot:{self.resamples}|conf:{self.confidence:g}|seed:{self.seed}"

    def resample_indices(self, n: int) -> np.ndarray:
        """``(resamples, n)`` indices drawn with replacement, seeded (read-only).

        The draw depends only on ``(n, resamples, seed)``, so it is cached per process: every
        metric of a task and every model scored on the same test set share one draw.
        """
        return _resample_indices(n, self.resamples, self.seed)

    def resample_means(self, values: np.ndarray) -> np.ndarray:
        """The mean of ``values`` in each of the ``resamples`` bootstrap resamples.

        ``values`` is one vector of length n (the result has shape ``(resamples,)``) or an
        ``(n, m)`` matrix of m per-example score columns (the result is ``(resamples, m)``): pass
        every column a task needs at once, so the resample counts are read once for all of them.

        Equal to ``values[self.resample_indices(n)].mean(axis=1)`` up to float rounding in the
        last bits (the same seeded resamples). The resamples are held as a cached
        ``(resamples, n)`` matrix of counts, so the means cost one matrix product;
        above :data:`COUNTS_MAX_CELLS` cells the indices are gathered block by block instead.
        """
        import numpy as np

        values = np.asarray(values, dtype=np.float64)
        n = int(values.shape[0])
        counts = resample_counts(n, self)
        if counts is not None:
            out: np.ndarray = counts @ values / n
            return out
        idx = self.resample_indices(n)
        means = np.empty((idx.shape[0], *values.shape[1:]), dtype=np.float64)
        block = max(1, (1 << 22) // max(n * (values.size // max(n, 1)), 1))
        for start in range(0, idx.shape[0], block):
            means[start : start + block] = values[idx[start : start + block]].mean(axis=1)
        return means


COUNTS_MAX_CELLS = 20_000_000
"""Largest ``resamples × n`` for which :meth:`BootstrapConfig.resample_means` keeps a matrix of
counts (160 MB of float64); larger test sets gather indices in blocks."""


COUNTS_CACHE_CELLS = 2 * COUNTS_MAX_CELLS
"""Most cells the cached count matrices hold together (320 MB of float64): a test set and one
partition of it into subsets (SQuAD 2.0's HasAns and NoAns questions, each resampled on its
own) stay cached at the largest size a matrix is kept for, so the metrics of every model
scored on that test set reuse all of them instead of drawing each subset again."""


_DRAW_BLOCK_CELLS = 1 << 19
"""Indices drawn per block when counting (2 MB of int32: the block stays in cache)."""


_counts_cache: OrderedDict[tuple[int, int, int], np.ndarray] = OrderedDict()
_counts_lock = threading.Lock()


def _draw_counts(n: int, resamples: int, seed: int) -> np.ndarray:
    # The same draw as _resample_indices (one generator, consecutive blocks of rows continue
    # its stream), counted block by block as it is drawn: the (resamples, n) index matrix is
    # never written out, and each block is counted while it is still in cache.
    import numpy as np

    rng = np.random.default_rng(seed)
    counts = np.empty((resamples, n), dtype=np.float64)
    rows = max(1, _DRAW_BLOCK_CELLS // max(n, 1))
    for start in range(0, resamples, rows):
        picks = rng.integers(0, n, size=(min(rows, resamples - start), n), dtype=_index_dtype(n))
        for row, drawn in enumerate(picks, start):  # row by row: far faster than one bincount
            counts[row] = np.bincount(drawn, minlength=n)
    counts.setflags(write=False)
    return counts


def _resample_counts(n: int, resamples: int, seed: int) -> np.ndarray:
    """The counts of ``(n, resamples, seed)``, drawn once and kept while the matrices cached
    hold at most :data:`COUNTS_CACHE_CELLS` cells (the least recently used go first).

    Keyed by size, not by a single last entry: a task whose metrics resample subsets of
    different sizes (the questions with and without an answer) would otherwise evict each
    draw with the next and draw every subset again for every model.
    """
    key = (n, resamples, seed)
    with _counts_lock:
        counts = _counts_cache.get(key)
        if counts is not None:
            _counts_cache.move_to_end(key)
            return counts
    counts = _draw_counts(n, resamples, seed)
    with _counts_lock:
        _counts_cache[key] = counts
        _counts_cache.move_to_end(key)
        held = sum(c.size for c in _counts_cache.values())
        while held > COUNTS_CACHE_CELLS and len(_counts_cache) > 1:
            _, dropped = _counts_cache.popitem(last=False)
            held -= dropped.size
    return counts


def _index_dtype(n: int) -> type[np.signedinteger[Any]]:
    import numpy as np

    return np.int32 if n < 2**31 else np.int64


def resample_counts(n: int, bootstrap: BootstrapConfig) -> np.ndarray | None:
    """The cached ``(resamples, n)`` matrix of how often each example is drawn in each
    resample of ``bootstrap.resample_indices(n)``, or ``None`` above :data:`COUNTS_MAX_CELLS`.

    Drawn once per ``(n, resamples, seed)`` in a process and shared by every metric and every
    model scored on a test set of that size (and by its subsets, each of its own size)."""
    if n * bootstrap.resamples > COUNTS_MAX_CELLS:
        return None
    return _resample_counts(n, bootstrap.resamples, bootstrap.seed)


@lru_cache(maxsize=2)
def _resample_indices(n: int, resamples: int, seed: int) -> np.ndarray:
    import numpy as np

    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(resamples, n), dtype=_index_dtype(n))
    idx.setflags(write=False)
    return idx


def percentile_ci(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    """The percentile interval of bootstrap ``samples`` (NaN resamples ignored).

    The one percentile helper: record intervals (every metric) and the intervals of paired
    differences (:mod:`bench.metrics.paired`) use it.

    Example:
        >>> percentile_ci(np.array([1.0, 2.0, 3.0, np.nan]), 0.5)
        (1.5, 2.5)
    """
    import numpy as np

    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return float("nan"), float("nan")
    alpha = (1 - confidence) / 2
    low, high = np.quantile(finite, [alpha, 1 - alpha])
    return float(low), float(high)


def clear_caches() -> None:
    """Forget the cached resample draws (benchmarks time a first model's bootstrap with it)."""
    with _counts_lock:
        _counts_cache.clear()
    _resample_indices.cache_clear()
