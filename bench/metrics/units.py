"""Aggregating the units of a prompted run: prompt variants × exemplar draws × samples.

Each unit (:class:`bench.protocol.Unit`) is scored on its own like any run. :func:`aggregate`
turns the units' scores into the record's headline values (the mean over units) with their
intervals, and the :class:`~bench.records.ProtocolResult` that says what the mean is of (each
unit's metrics, the per-variant and per-draw means, their spread, and with samples
``mean@n``, ``pass@k`` and ``majority@n``).

The two-level bootstrap
-----------------------

The units of a run form a crossed design: every example is answered under every variant,
draw and sample. The headline interval resamples all four axes independently, as Owen's
pigeonhole bootstrap resamples the rows and columns of a crossed design (Owen, 2007): each of
the ``resamples`` resamples draws

* the examples with replacement, the *same* example indices for every unit (the record's
  seeded draw, :meth:`~bench.metrics.resampling.BootstrapConfig.resample_indices`, so a
  one-unit run's resamples are the single-run resamples);
* the prompt variants, the exemplar draws and the samples, each with replacement from its own
  axis (:func:`unit_draws`, one seeded generator per axis).

A resample's value is the mean, over the resampled units (with multiplicity), of each unit's
metric recomputed on the resampled examples. Resampling the variants too (rather than holding
them fixed) is what makes the interval, and the leaderboard's tie test built on the same
draws (:func:`two_level_difference`), account for the variance across prompt variants: the
variants a task ships are a few of the many reasonable prompts, and a model whose score moves a
lot between them is less certainly ahead. With one entry on an axis, that axis's resample is
that entry: a one-unit run's interval is the single run's.

Each metric value is recomputed from what its paired-test declaration says it is
(:meth:`bench.metrics.base.Metric.paired`): a :class:`~bench.metrics.paired.PerExampleMean`
resamples its per-example scores (examples scored ``None`` left out of the mean); a
:class:`~bench.metrics.paired.SufficientStatistics` sums each unit's per-example statistic rows
(the stored sacrebleu segment statistics; one confusion cell per example) and recomputes the
value from the sums. A value with neither (a set statistic, a table) gets the mean over units
with its interval withheld and the reason in ``ci_reason``.

The confusion matrix (a table) of a multi-unit run is the sum of the units' matrices: the
confusion of every prediction the run made (``n`` is the number of predictions); each unit's
own matrix stays in :attr:`~bench.records.ProtocolResult.units`.

References:
    Art B. Owen. 2007. The pigeonhole bootstrap. The Annals of Applied Statistics 1(2).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from bench.errors import BenchError
from bench.families.base import Request, Response
from bench.metrics.axes import AxisDraws, example_counts, example_products, unit_draws
from bench.metrics.base import Metric, MetricValue, single_blas_thread, withheld_interval
from bench.metrics.paired import (
    PairedStatistics,
    PerExampleMean,
    SufficientStatistics,
    Untestable,
)
from bench.metrics.resampling import BootstrapConfig, percentile_ci
from bench.protocol import Unit
from bench.records import ProtocolResult, Spread, UnitMetrics
from bench.spec import TaskSpec

if TYPE_CHECKING:
    from bench.records import RunRecord

__all__ = [
    "AxisDraws",
    "UnitDifference",
    "UnitScores",
    "UnitView",
    "aggregate",
    "example_counts",
    "example_products",
    "headline_values",
    "two_level_difference",
    "unit_draws",
    "unit_values",
]

T = TypeVar("T")


@dataclass
class UnitScores:
    """One unit's scores, as :func:`bench.stages.score` computed them.

    Attributes:
        unit: The unit.
        values: Its metric values (with intervals over examples).
        per_example: One ``{score: value}`` dict per example.
        segments: Per-segment sufficient statistics of corpus metrics, by metric name.
        responses: Its responses (``None``: a failed example).
        failures: Its failed examples.
    """

    unit: Unit
    values: dict[str, MetricValue]
    per_example: Sequence[dict[str, Any]]
    segments: dict[str, list[Any]]
    responses: Sequence[Response | None]
    failures: int = 0


# --------------------------------------------------------------------------- a unit as a run


@dataclass
class UnitView:
    """One unit's per-example data as a paired-test declaration reads it
    (:class:`bench.metrics.paired.Examples`), built from memory (scoring) or from one unit's
    lines of a run's ``samples.jsonl`` (``bench compare``).

    Attributes:
        unit_key: The unit's :attr:`~bench.protocol.Unit.key`.
        example_ids: Example ids in order.
        refs: References in order.
        answers: Responses as dicts (``None``: a failed example); built from ``raw`` when
            first asked for, if not given.
        per_example: One ``{score: value}`` dict per example.
        segments: Per-example statistic rows by metric name.
        run_record: The run's record, when read from a run folder.
        path: The run's ``samples.jsonl``, when read from one.
        raw: The unit's response objects, when built in memory.
    """

    unit_key: str
    example_ids: list[str]
    refs: list[Any]
    answers: list[Mapping[str, Any] | None] | None
    per_example: Sequence[Mapping[str, Any]]
    segments: Mapping[str, list[Any]]
    run_record: RunRecord | None = None
    path: Path = Path("samples.jsonl")
    raw: Sequence[Response | None] = ()
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def record(self) -> RunRecord:
        """The run's record.

        Raises:
            BenchError: The view was built in memory, without a record.
        """
        if self.run_record is None:
            raise BenchError(
                f"unit {self.unit_key}: no record to read statistics from",
                fix="store the metric's per-segment statistics",
            )
        return self.run_record

    @property
    def samples_path(self) -> Path:
        """The run's ``samples.jsonl`` (for messages)."""
        return self.path

    @property
    def ids(self) -> list[str]:
        """Example ids in order."""
        return self.example_ids

    def has_scores(self, key: str) -> bool:
        """Whether the examples carry per-example score ``key``."""
        return bool(self.per_example) and key in self.per_example[0]

    def scores(self, key: str) -> np.ndarray:
        """Per-example score ``key`` as floats, NaN where it is ``None``."""
        return np.array(
            [np.nan if (v := row.get(key)) is None else float(v) for row in self.per_example],
            dtype=np.float64,
        )

    def references(self) -> list[Any]:
        """Per-example references."""
        return self.refs

    def responses(self) -> list[Mapping[str, Any] | None]:
        """Per-example responses (``None`` for a failed example)."""
        if self.answers is None:
            self.answers = [None if r is None else r.model_dump(mode="json") for r in self.raw]
        return self.answers

    def stored_statistics(self, metric: str) -> list[Any] | None:
        """The statistic rows stored for ``metric``, or ``None``."""
        rows = self.segments.get(metric)
        return list(rows) if rows is not None else None

    def memo(self, key: str, make: Callable[[], T]) -> T:
        """A value computed once per unit."""
        if key not in self._memo:
            self._memo[key] = make()
        value: T = self._memo[key]
        return value


def _view(scores: UnitScores, requests: Sequence[Request], references: Sequence[Any]) -> UnitView:
    return UnitView(
        unit_key=scores.unit.key,
        example_ids=[str(getattr(r, "id", i)) for i, r in enumerate(requests)],
        refs=list(references),
        answers=None,
        per_example=scores.per_example,
        segments=scores.segments,
        raw=scores.responses,
    )


# --------------------------------------------------------------------------- resampled values


def _bind(declared: PairedStatistics, labels: Sequence[str] | None) -> PairedStatistics:
    """A declaration with the task's label set bound (confusion-cell declarations)."""
    if hasattr(declared, "labels") and not declared.labels and labels:
        return replace(declared, labels=tuple(labels))  # type: ignore[type-var]
    return declared


def unit_values(
    declared: PairedStatistics | None,
    views: Sequence[UnitView],
    values: Sequence[float],
    bootstrap: BootstrapConfig,
    *,
    labels: Sequence[str] | None = None,
    metric: str = "",
) -> np.ndarray | str:
    """Each unit's value recomputed on every seeded example resample: ``(B, units)``.

    Args:
        declared: The value's paired-test declaration.
        views: The units' per-example data (same examples, same order).
        values: The units' recorded values (the recomputation must reproduce them).
        bootstrap: The resample settings.
        labels: The task's label set (for confusion-cell declarations).
        metric: The metric's name (where its statistics are stored).

    Returns:
        The ``(B, units)`` values, or why they cannot be recomputed.
    """
    if declared is None:
        return "the metric declares no per-example scores or statistics"
    if isinstance(declared, Untestable):
        return declared.reason
    declared = _bind(declared, labels)
    if isinstance(declared, PerExampleMean):
        if not all(v.has_scores(declared.column) for v in views):
            return f"no per-example '{declared.column}' scores"
        x = np.column_stack([v.scores(declared.column) for v in views])
        keep = ~np.isnan(x)
        for u, value in enumerate(values):
            col = x[keep[:, u], u]
            mean = math.fsum(col.tolist()) / col.size if col.size else math.nan
            if not math.isclose(mean, value, rel_tol=1e-9, abs_tol=1e-9):
                return f"its per-example '{declared.column}' scores do not average to the value"
        n = x.shape[0]
        if keep.all():
            return example_products(x, bootstrap) / n
        with np.errstate(invalid="ignore", divide="ignore"):
            out: np.ndarray = example_products(np.where(keep, x, 0.0), bootstrap) / (
                example_products(keep.astype(np.float64), bootstrap)
            )
        return out
    if isinstance(declared, SufficientStatistics):
        mats = []
        for v in views:
            stored = v.stored_statistics(metric) if metric else None
            try:
                rows = np.asarray(stored, dtype=np.float64) if stored else declared.rows(v)
            except (BenchError, KeyError, ValueError, TypeError) as exc:
                return f"its per-example statistics cannot be rebuilt ({exc})"
            mats.append(np.asarray(rows, dtype=np.float64))
        width = mats[0].shape[1]
        for rows, value in zip(mats, values, strict=True):
            got = float(declared.score(rows.sum(axis=0)[None, :])[0])
            if not math.isclose(got, value, rel_tol=1e-9, abs_tol=1e-9):
                return "its per-example statistics do not reproduce the value"
        sums = example_products(np.concatenate(mats, axis=1), bootstrap)
        b = sums.shape[0]
        scored = declared.score(sums.reshape(b * len(mats), width))
        return np.asarray(scored, dtype=np.float64).reshape(b, len(mats))
    return f"no two-level resampling for a {type(declared).__name__} declaration"


def _declaration(metrics: Sequence[Metric], name: str) -> tuple[PairedStatistics | None, str]:
    for metric in metrics:
        declared = metric.paired(name)
        if declared is not None:
            return declared, metric.name
    return None, ""


# --------------------------------------------------------------------------- aggregate


def _spread(values: list[float]) -> Spread:
    return Spread(
        min=min(values),
        max=max(values),
        std=statistics.stdev(values) if len(values) > 1 else 0.0,
        n=len(values),
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _summed_table(values: list[MetricValue]) -> MetricValue | None:
    """The sum of the units' confusion tables (same labels), or ``None`` if they differ."""
    first = values[0].value
    if not isinstance(first, dict) or "matrix" not in first:
        return None
    try:
        total = np.zeros_like(np.asarray(first["matrix"], dtype=np.int64))
        for v in values:
            table = v.value
            if {k: table[k] for k in table if k != "matrix"} != {
                k: first[k] for k in first if k != "matrix"
            }:
                return None
            total = total + np.asarray(table["matrix"], dtype=np.int64)
    except (TypeError, ValueError, KeyError):
        return None
    return values[0].model_copy(
        update={"value": {**first, "matrix": total.tolist()}, "n": sum(v.n for v in values)}
    )


def headline_values(
    task: TaskSpec,
    metrics: Sequence[Metric],
    views: Sequence[UnitView],
    units: Sequence[UnitScores],
    bootstrap: BootstrapConfig,
) -> dict[str, MetricValue]:
    """The mean over ``units`` of every value they all report, with its two-level interval.

    A one-unit run's values are returned as the unit scored them.
    """
    if len(units) == 1:
        return dict(units[0].values)
    names = [n for n in units[0].values if all(n in u.values for u in units)]
    axes = unit_draws([u.unit for u in units], bootstrap) if bootstrap.resamples else None
    weights = axes.weights([u.unit for u in units]) if axes is not None else None
    out: dict[str, MetricValue] = {}
    for name in names:
        per_unit = [u.values[name] for u in units]
        first = per_unit[0]
        if not _is_number(first.value):
            table = _summed_table(per_unit)
            if table is not None:
                out[name] = table
            continue
        unit_vals = [float(v.value) for v in per_unit]
        mean = statistics.fmean(unit_vals)
        update: dict[str, Any] = {"value": mean, "ci_low": None, "ci_high": None}
        update["ci_reason"] = None
        if weights is not None:
            declared, metric_name = _declaration(metrics, name)
            resampled = unit_values(
                declared, views, unit_vals, bootstrap, labels=task.labels, metric=metric_name
            )
            if isinstance(resampled, str):
                update["ci_reason"] = (
                    f"no two-level bootstrap interval over examples × units: {resampled}"
                )
            else:
                low, high = percentile_ci((resampled * weights).sum(axis=1), bootstrap.confidence)
                update["ci_low"], update["ci_high"] = low, high
        value = first.model_copy(update=update)
        out[name] = withheld_interval(value) if value.ci_reason is None else value
    return out


def aggregate(
    task: TaskSpec,
    metrics: Sequence[Metric],
    requests: Sequence[Request],
    references: Sequence[Any],
    units: Sequence[UnitScores],
    bootstrap: BootstrapConfig,
    *,
    identity: dict[str, Any],
    fewshot_hash: str | None,
) -> tuple[dict[str, MetricValue], ProtocolResult]:
    """The headline values (mean over units) and the :class:`ProtocolResult` of ``units``.

    The headline of each scalar value is the mean over units with its two-level bootstrap
    interval (see the module docstring); with one unit, the unit's own values. With
    ``generation.n > 1`` (several sample indices), ``ProtocolResult.sampling`` holds
    ``mean@n``, ``pass@k`` and ``majority@n`` (:mod:`bench.metrics.sampling`).

    Args:
        task: The task (unbound: all its variants).
        metrics: The task's metrics, in ``task.metrics`` order.
        requests: The test requests (without shots).
        references: Their references.
        units: Every unit's scores, in :meth:`bench.protocol.Protocol.units` order.
        bootstrap: The interval settings.
        identity: :meth:`bench.protocol.Protocol.identity`.
        fewshot_hash: :func:`bench.fewshot.fewshot_hash` over every unit's requests.
    """
    from bench.metrics.sampling import sampling_metrics

    views = [_view(u, requests, references) for u in units]
    with single_blas_thread():
        headline = headline_values(task, metrics, views, units, bootstrap)
        sampling = sampling_metrics(task, metrics, references, units, bootstrap)
    scalar = [
        n
        for n in headline
        if _is_number(headline[n].value) and all(_is_number(u.values[n].value) for u in units)
    ]

    def means(group: dict[Any, list[UnitScores]]) -> dict[Any, dict[str, float]]:
        return {
            key: {n: statistics.fmean(float(u.values[n].value) for u in members) for n in scalar}
            for key, members in group.items()
        }

    by_variant: dict[str, list[UnitScores]] = {}
    by_draw: dict[int, list[UnitScores]] = {}
    by_sample: dict[int, list[UnitScores]] = {}
    for u in units:
        by_variant.setdefault(u.unit.variant, []).append(u)
        by_draw.setdefault(u.unit.draw, []).append(u)
        by_sample.setdefault(u.unit.sample, []).append(u)
    variants = means(by_variant)
    draws = means(by_draw)
    samples = means(by_sample)
    spread: dict[str, dict[str, Spread]] = {}
    for n in scalar:
        axes = {}
        for axis, table in (("variants", variants), ("draws", draws), ("samples", samples)):
            if len(table) > 1:
                axes[axis] = _spread([row[n] for row in table.values()])
        if axes:
            spread[n] = axes
    result = ProtocolResult(
        identity=identity,
        fewshot_hash=fewshot_hash,
        units=[
            UnitMetrics(unit=u.unit.to_json(), metrics=u.values, failures=u.failures) for u in units
        ],
        variants=variants,
        draws=[draws[d] for d in sorted(draws)],
        spread=spread,
        sampling=sampling,
    )
    return headline, result


# --------------------------------------------------------------------------- paired runs


@dataclass(frozen=True)
class UnitDifference:
    """A two-level paired comparison of one value between two runs with the same units.

    Attributes:
        difference: ``mean over units of A − mean over units of B``.
        ci_low: Lower end of the percentile interval of the resampled differences (NaN
            without it).
        ci_high: Upper end.
        p_value: Two-sided bootstrap p-value of ``difference = 0``.
        value_a: A's headline (mean over units).
        value_b: B's headline.
    """

    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    value_a: float
    value_b: float


def two_level_difference(
    declared: PairedStatistics | None,
    views_a: Sequence[UnitView],
    views_b: Sequence[UnitView],
    values_a: Sequence[float],
    values_b: Sequence[float],
    units: Sequence[Unit],
    bootstrap: BootstrapConfig,
    *,
    labels: Sequence[str] | None = None,
    metric: str = "",
    want_ci: bool = True,
) -> UnitDifference | str:
    """The paired two-level bootstrap of ``A − B`` over examples × units.

    Both runs are resampled with the *same* draws: the same example indices and the same
    resampled variants, draws and samples (:func:`unit_draws`), so what the two runs share (a
    hard example, a bad prompt variant) cancels in each resampled difference
    ``Δ* = Σ_u w_u (A_u* − B_u*)``. The interval is the percentile interval of ``Δ*``; the
    p-value centres the resampled differences on zero, as sacrebleu's paired bootstrap does:
    ``p = (#{|Δ* − mean(Δ*)| ≥ |Δ|} + 1) / (resamples + 1)``, and ``p = 1`` when the two runs'
    resampled values agree in every resample (no resampling can produce a difference).

    Returns:
        The comparison, or why the value cannot be resampled.
    """
    ra = unit_values(declared, views_a, values_a, bootstrap, labels=labels, metric=metric)
    if isinstance(ra, str):
        return ra
    rb = unit_values(declared, views_b, values_b, bootstrap, labels=labels, metric=metric)
    if isinstance(rb, str):
        return rb
    weights = unit_draws(units, bootstrap).weights(units)
    va, vb = statistics.fmean(values_a), statistics.fmean(values_b)
    observed = va - vb
    deltas = ((ra - rb) * weights).sum(axis=1)
    finite = deltas[np.isfinite(deltas)]
    low, high = percentile_ci(deltas, bootstrap.confidence) if want_ci else (math.nan, math.nan)
    if np.array_equal(ra, rb, equal_nan=True) or finite.size == 0:
        p = 1.0
    else:
        tolerance = 1e-12 * max(1.0, abs(observed))
        extreme = np.abs(finite - finite.mean()) >= abs(observed) - tolerance
        p = (int(np.count_nonzero(extreme)) + 1) / (finite.size + 1)
    return UnitDifference(observed, low, high, p, va, vb)
