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

import math
from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar, overload

from pydantic import BaseModel, ConfigDict

from bench.families.base import Request, Response
from bench.metrics.resampling import (
    MIN_CI_N,
    BootstrapConfig,
    percentile_ci,
    resample_counts,
)
from bench.spec import TaskSpec

if TYPE_CHECKING:
    from bench.cache import PredictionCache
    from bench.metrics.paired import PairedStatistics

__all__ = [
    "MIN_CI_N",
    "BootstrapConfig",
    "Metric",
    "MetricUnavailable",
    "MetricValue",
    "PerExample",
    "ScoringContext",
    "covers",
    "percentile_ci",
    "resample_counts",
    "score_task",
    "withheld_interval",
]


class MetricUnavailable(Exception):
    """Raised by :meth:`Metric.score` when the metric turns out to have no value on these
    inputs (a model-based metric that could score no segment): the metric is reported under
    ``metrics_skipped`` with this message as the reason, never as a NaN or a 0."""


class MetricValue(BaseModel):
    """One number (or table) a metric produced.

    Attributes:
        name: The value's name in the record (``accuracy``, ``f1/positive``).
        value: A float for scalar metrics; a JSON table for structured ones (confusion matrix).
        n: The number of examples the value is computed over.
        ci_low: Lower end of the bootstrap interval (``None`` for tables, without bootstrap, or
            when the interval would be meaningless: see ``ci_reason``).
        ci_high: Upper end of the bootstrap interval.
        ci_reason: Why a bootstrap was run but no interval is reported (fewer than
            :data:`~bench.metrics.resampling.MIN_CI_N` examples, or resamples that do not cover
            the value); ``None`` otherwise.
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
    ci_reason: str | None = None
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

    def ci_text(self, digits: int = 4) -> str:
        """The interval as tables show it: ``[low, high]``, ``n/a (n=3)`` when it was withheld
        (:attr:`ci_reason`), ``—`` without one.

        Example:
            >>> MetricValue(name="x", value=1.0, n=1, signature="x", ci_reason="n=1").ci_text()
            'n/a (n=1)'
        """
        if self.ci_low is not None and self.ci_high is not None:
            return f"[{self.ci_low:.{digits}f}, {self.ci_high:.{digits}f}]"
        return f"n/a (n={self.n})" if self.ci_reason else "—"


@dataclass
class ScoringContext:
    """Everything a metric may read. ``responses[i]`` is ``None`` when example ``i`` failed.

    Attributes beyond the data: ``segment_cache`` (the prediction cache, where model-based
    metrics keep each segment's scores; ``None``: no cache), ``progress`` (called as
    ``progress(metric, done, total)`` before each metric scores, ``done`` metrics of ``total``
    finished, and by a long metric while it scores, ``done`` of its ``total`` segments) and
    ``segment_counts``
    (filled by model-based metrics: ``{metric: {segments, hits, computed, failed}}``, recorded
    as the record's ``segment_cache``).
    """

    spec: TaskSpec
    requests: Sequence[Request]
    references: Sequence[Any]
    responses: Sequence[Response | None]
    bootstrap: BootstrapConfig = field(default_factory=BootstrapConfig)
    memo: dict[str, Any] = field(default_factory=dict)
    segment_cache: PredictionCache | None = None
    progress: Callable[[str, int, int], None] | None = None
    segment_counts: dict[str, dict[str, int]] = field(default_factory=dict)

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
    range: ClassVar[tuple[float, float]] = (0.0, 1.0)
    """The values the metric can take, in units of each value's ``scale`` (``(0, 1)``: from 0 to
    a perfect score; TER ``(0, inf)``; MCC ``(-1, 1)``). Records are checked against it when
    read (:func:`bench.records.check_values`)."""

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

    def value_range(self, value: str) -> tuple[float, float] | None:
        """The range of value ``value`` in units of its ``scale`` (``None``: not one of this
        metric's values). By default :attr:`range` for every value the metric declares a paired
        test for (:meth:`paired`), which is every value it reports."""
        return self.range if self.paired(value) is not None else None

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
    for i, metric in enumerate(metrics):
        if ctx.progress is not None:  # a bar while a task's metrics score, one step each
            ctx.progress(metric.name, i, len(metrics))
        reason = getattr(metric, "unavailable", lambda _ctx: None)(ctx)
        if reason:
            skipped[metric.name] = reason
            continue
        try:
            produced = metric.score(ctx)
        except MetricUnavailable as exc:
            skipped[metric.name] = str(exc)
            continue
        for value in produced:
            values[value.name] = withheld_interval(value)
        for key, column in metric.per_example(ctx).items():
            per_example.add(key, column)
    if ctx.progress is not None and metrics:
        ctx.progress(metrics[-1].name, len(metrics), len(metrics))
    return values, skipped, per_example


def covers(low: float, high: float, value: float) -> bool:
    """Whether ``[low, high]`` contains ``value``, up to float rounding (``1e-9`` relative).

    Example:
        >>> covers(0.2, 0.4, 0.4 + 1e-12), covers(0.2, 0.4, 0.5)
        (True, False)
    """
    tol = 1e-9 * max(1.0, abs(value))
    return low - tol <= value <= high + tol


def withheld_interval(value: MetricValue) -> MetricValue:
    """``value`` without its interval when the interval would be published as a 95% interval
    but means nothing, with the reason in ``ci_reason``:

    * fewer than :data:`~bench.metrics.resampling.MIN_CI_N` examples (``n = 1`` always gives a
      zero-width interval);
    * an interval that does not contain the value itself, or is not finite (resamples of a
      degenerate statistic).

    Values without an interval (no bootstrap, tables) are returned unchanged.

    Example:
        >>> v = MetricValue(name="x", value=1.0, n=1, ci_low=1.0, ci_high=1.0, signature="x")
        >>> withheld_interval(v).ci_reason
        'n=1 < 10: too few examples for a bootstrap interval'
    """
    low, high = value.ci_low, value.ci_high
    if low is None and high is None:
        return value
    reason = None
    if value.n < MIN_CI_N:
        reason = f"n={value.n} < {MIN_CI_N}: too few examples for a bootstrap interval"
    elif low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        reason = "the bootstrap resamples give no finite interval"
    elif isinstance(value.value, int | float) and not covers(low, high, float(value.value)):
        reason = "the bootstrap interval does not contain the value (a degenerate statistic)"
    if reason is None:
        return value
    return value.model_copy(update={"ci_low": None, "ci_high": None, "ci_reason": reason})


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
        import numpy as np

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
