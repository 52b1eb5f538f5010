"""Aggregating the units of a prompted run: prompt variants × exemplar draws × samples.

Each unit (:class:`bench.protocol.Unit`) is scored on its own like any run. :func:`aggregate`
turns the units' scores into the record's headline values (the mean over units) with their
intervals, and the :class:`~bench.records.ProtocolResult` that says what the mean is of (each
unit's metrics, the per-variant and per-draw means, their spread, and with samples
``mean@n``, ``pass@k`` and ``majority@n``).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.families.base import Request, Response
from bench.metrics.base import Metric, MetricValue
from bench.metrics.resampling import BootstrapConfig
from bench.protocol import Unit
from bench.records import ProtocolResult, Spread, UnitMetrics
from bench.spec import TaskSpec

__all__ = ["UnitScores", "aggregate"]


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


def _spread(values: list[float]) -> Spread:
    return Spread(
        min=min(values),
        max=max(values),
        std=statistics.stdev(values) if len(values) > 1 else 0.0,
        n=len(values),
    )


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
    names = list(units[0].values)
    headline: dict[str, MetricValue] = {}
    for name in names:
        first = units[0].values[name]
        if not isinstance(first.value, (int, float)) or isinstance(first.value, bool):
            headline[name] = first
            continue
        mean = statistics.fmean(float(u.values[name].value) for u in units)
        headline[name] = first.model_copy(
            update={"value": mean, "ci_low": None, "ci_high": None, "ci_reason": None}
        )
    scalar = [n for n in names if isinstance(headline[n].value, float)]

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
    )
    return headline, result
