"""The metric contract and the scoring of one task.

A metric is a frozen pydantic model whose fields are its parameters. Given a
:class:`ScoringContext` (requests, references, responses, the task spec and the bootstrap
settings) it returns one or more :class:`MetricValue` s, each with its 95% bootstrap interval,
``n`` and a signature string that says how the number was computed. Metrics are pure: the same
inputs always give the same numbers (the bootstrap is seeded).

A missing response (the adapter failed on that example) is passed as ``None`` and scored as a
miss; metrics never substitute a placeholder value for a failure.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar, overload

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from bench.families.base import Request, Response
from bench.spec import TaskSpec

if TYPE_CHECKING:
    from bench.metrics.paired import PairedStatistics

__all__ = [
    "BootstrapConfig",
    "Metric",
    "MetricValue",
    "PerExample",
    "ScoringContext",
    "percentile_ci",
    "resample_counts",
    "score_task",
]


class BootstrapConfig(BaseModel):
    """Settings of the percentile bootstrap behind every confidence interval."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resamples: int = Field(default=1000, ge=0)
    confidence: float = Field(default=0.95, gt=0, lt=1)
    seed: int = 12345

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


_DRAW_BLOCK_CELLS = 1 << 19
"""Indices drawn per block when counting (2 MB of int32: the block stays in cache)."""


@lru_cache(maxsize=1)
def _resample_counts(n: int, resamples: int, seed: int) -> np.ndarray:
    # The same draw as _resample_indices (one generator, consecutive blocks of rows continue
    # its stream), counted block by block as it is drawn: the (resamples, n) index matrix is
    # never written out, and each block is counted while it is still in cache.
    rng = np.random.default_rng(seed)
    counts = np.empty((resamples, n), dtype=np.float64)
    rows = max(1, _DRAW_BLOCK_CELLS // max(n, 1))
    for start in range(0, resamples, rows):
        picks = rng.integers(0, n, size=(min(rows, resamples - start), n), dtype=_index_dtype(n))
        for row, drawn in enumerate(picks, start):  # row by row: far faster than one bincount
            counts[row] = np.bincount(drawn, minlength=n)
    counts.setflags(write=False)
    return counts


def _index_dtype(n: int) -> type[np.signedinteger[Any]]:
    return np.int32 if n < 2**31 else np.int64


def resample_counts(n: int, bootstrap: BootstrapConfig) -> np.ndarray | None:
    """The cached ``(resamples, n)`` matrix of how often each example is drawn in each
    resample of ``bootstrap.resample_indices(n)``, or ``None`` above :data:`COUNTS_MAX_CELLS`."""
    if n * bootstrap.resamples > COUNTS_MAX_CELLS:
        return None
    return _resample_counts(n, bootstrap.resamples, bootstrap.seed)


@lru_cache(maxsize=2)
def _resample_indices(n: int, resamples: int, seed: int) -> np.ndarray:
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
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return float("nan"), float("nan")
    alpha = (1 - confidence) / 2
    low, high = np.quantile(finite, [alpha, 1 - alpha])
    return float(low), float(high)


class MetricValue(BaseModel):
    """One number (or table) a metric produced.

    Attributes:
        name: The value's name in the record (``accuracy``, ``f1/positive``).
        value: A float for scalar metrics; a JSON table for structured ones (confusion matrix).
        n: The number of examples the value is computed over.
        ci_low: Lower end of the bootstrap interval (``None`` for tables or without bootstrap).
        ci_high: Upper end of the bootstrap interval.
        signature: How the value was computed, in sacrebleu's spirit.
        higher_is_better: The direction of the metric.
        scale: The value of a perfect score on the metric's own scale (1 for proportions such as
            accuracy or ROUGE F1, 100 for sacrebleu's BLEU and chrF); leaderboards divide by it
            to put tasks on one 0–100 scale.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    value: Any
    n: int
    ci_low: float | None = None
    ci_high: float | None = None
    signature: str
    higher_is_better: bool = True
    scale: float = 1.0

    def signature_without(self, bootstrap: BootstrapConfig) -> str:
        """The signature without the bootstrap settings it was scored with (``bootstrap.tag()``,
        which bench appends to every signature): they change only the interval, never the value.

        Example:
            >>> boot = BootstrapConfig(resamples=200)
            >>> value = MetricValue(name="x", value=1.0, n=1, signature=f"x|{boot.tag()}|v:1")
            >>> value.signature_without(boot)
            'x|v:1'
        """
        return self.signature.replace(f"|{bootstrap.tag()}", "")


@dataclass
class ScoringContext:
    """Everything a metric may read. ``responses[i]`` is ``None`` when example ``i`` failed."""

    spec: TaskSpec
    requests: Sequence[Request]
    references: Sequence[Any]
    responses: Sequence[Response | None]
    bootstrap: BootstrapConfig = field(default_factory=BootstrapConfig)
    memo: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of scored examples."""
        return len(self.references)


class Metric(BaseModel):
    """Base of every metric; subclasses set ``name`` and implement :meth:`score`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ClassVar[str]
    version: ClassVar[int] = 1
    families: ClassVar[tuple[str, ...]] = ()
    higher_is_better: ClassVar[bool] = True

    @abstractmethod
    def score(self, ctx: ScoringContext) -> list[MetricValue]:
        """Compute the metric's values with intervals."""

    def per_example(self, ctx: ScoringContext) -> dict[str, list[float | None]]:
        """Per-example scores for ``samples.jsonl`` (``{}`` when the metric has none)."""
        return {}

    def segment_statistics(self, ctx: ScoringContext) -> list[list[Any]] | None:
        """Per-example statistic rows to store in ``samples.jsonl`` beside the scores, so a
        paired test need not recompute them (``None``: nothing stored)."""
        return None

    def paired(self, value: str) -> PairedStatistics | None:
        """How value ``value`` of this metric is resampled and compared between two runs.

        ``bench compare`` and the leaderboard's tie marks call this for every value of a record
        (:mod:`bench.metrics.paired`); ``None`` means ``value`` is not one of this metric's.
        The default declares the metric's own value (``value == name``) a mean of the
        per-example score of the same name (paired permutation test); metrics that report
        other values, or values that are not means, override it.
        """
        from bench.metrics.paired import PerExampleMean

        return PerExampleMean(value) if value == self.name else None

    def params_tag(self) -> str:
        """The parameter part of a signature."""
        params = self.model_dump()
        return "|".join(f"{k}:{v}" for k, v in sorted(params.items()))


@lru_cache(maxsize=1)
def _blas_controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def single_blas_thread() -> Any:
    """A context in which BLAS runs on one thread.

    Multi-threaded BLAS splits a matrix product's sums differently with the thread count, so
    a bootstrap interval computed by ``counts @ scores`` could change in its last digit between
    a laptop, CI and a Ray worker (which runs with one thread). Scoring and paired tests run
    their products in this context, so every number is the same wherever it is computed.
    """
    return _blas_controller().limit(limits=1, user_api="blas")


def score_task(
    ctx: ScoringContext, metrics: Sequence[Metric]
) -> tuple[dict[str, MetricValue], dict[str, str], PerExample]:
    """Score every metric of a task.

    Returns:
        ``(values, skipped, per_example)``: values by name; metrics that could not be computed
        with the reason (for instance ECE without probabilities); the per-example scores
        (:class:`PerExample`: a sequence of one dict per example, stored as columns).
    """
    with single_blas_thread():
        return _score_task(ctx, metrics)


def _score_task(
    ctx: ScoringContext, metrics: Sequence[Metric]
) -> tuple[dict[str, MetricValue], dict[str, str], PerExample]:
    values: dict[str, MetricValue] = {}
    skipped: dict[str, str] = {}
    per_example = PerExample(ctx.n)
    for metric in metrics:
        reason = getattr(metric, "unavailable", lambda _ctx: None)(ctx)
        if reason:
            skipped[metric.name] = reason
            continue
        for value in metric.score(ctx):
            values[value.name] = value
        for key, column in metric.per_example(ctx).items():
            per_example.add(key, column)
    return values, skipped, per_example


class PerExample(Sequence[dict[str, Any]]):
    """Per-example scores, one dict per example, stored as columns.

    A column of floats (and ``None``) is kept as a float64 array with a mask of the ``None`` s,
    so a large test set costs 9 bytes per example and score; ``self[i]`` builds example ``i``'s
    dict (the same values, as Python floats).
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.columns: dict[str, Any] = {}

    def add(self, key: str, column: Sequence[Any]) -> None:
        """Set score ``key`` of every example (one value per example)."""
        if isinstance(column, np.ndarray) and column.dtype.kind == "f" and column.ndim == 1:
            if column.shape[0] != self.n:
                raise ValueError(
                    f"score '{key}' has {column.shape[0]} values for {self.n} examples"
                )
            self.columns[key] = (column.astype(np.float64), None)
            return
        values = list(column) if not isinstance(column, list) else column
        if len(values) != self.n:
            raise ValueError(f"score '{key}' has {len(values)} values for {self.n} examples")
        if all(type(v) is float or v is None for v in values):
            missing = np.fromiter((v is None for v in values), dtype=bool, count=self.n)
            floats = np.fromiter(
                (0.0 if v is None else v for v in values), dtype=np.float64, count=self.n
            )
            self.columns[key] = (floats, missing if missing.any() else None)
        else:
            self.columns[key] = values

    def __len__(self) -> int:
        return self.n

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.n))]
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError(i)
        row: dict[str, Any] = {}
        for key, col in self.columns.items():
            if isinstance(col, tuple):
                floats, missing = col
                row[key] = None if missing is not None and missing[i] else float(floats[i])
            else:
                row[key] = col[i]
        return row

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(other) == self.n and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]
