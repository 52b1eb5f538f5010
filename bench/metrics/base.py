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
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from bench.families.base import Request, Response
from bench.spec import TaskSpec

__all__ = [
    "BootstrapConfig",
    "Metric",
    "MetricValue",
    "ScoringContext",
    "percentile_ci",
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
        """``(resamples, n)`` indices drawn with replacement, seeded."""
        rng = np.random.default_rng(self.seed)
        dtype = np.int32 if n < 2**31 else np.int64
        return rng.integers(0, n, size=(self.resamples, n), dtype=dtype)


def percentile_ci(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    """The percentile interval of bootstrap ``samples`` (NaN resamples ignored)."""
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

    def params_tag(self) -> str:
        """The parameter part of a signature."""
        params = self.model_dump()
        return "|".join(f"{k}:{v}" for k, v in sorted(params.items()))


def score_task(
    ctx: ScoringContext, metrics: Sequence[Metric]
) -> tuple[dict[str, MetricValue], dict[str, str], list[dict[str, float | None]]]:
    """Score every metric of a task.

    Returns:
        ``(values, skipped, per_example)``: values by name; metrics that could not be computed
        with the reason (for instance ECE without probabilities); one dict of per-example scores
        per example.
    """
    values: dict[str, MetricValue] = {}
    skipped: dict[str, str] = {}
    per_example: list[dict[str, float | None]] = [{} for _ in range(ctx.n)]
    for metric in metrics:
        reason = getattr(metric, "unavailable", lambda _ctx: None)(ctx)
        if reason:
            skipped[metric.name] = reason
            continue
        for value in metric.score(ctx):
            values[value.name] = value
        for key, column in metric.per_example(ctx).items():
            for row, v in zip(per_example, column, strict=True):
                row[key] = v
    return values, skipped, per_example
