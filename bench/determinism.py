"""``bench run --check-determinism``: re-run a seeded subset with another batch size, no cache.

A model that answers differently when its requests are batched differently (padding,
non-deterministic kernels, sampling without a seed, a server that load-balances between
replicas) makes its numbers irreproducible. Once a pair is predicted and scored, and before
its record is written, :func:`check_determinism` picks ``sample`` examples at random (seeded),
builds a fresh adapter from the same model spec (trained again when it trains), and predicts
those examples again with a different batch size (1, or 2 when the run used batches of 1) and
without the prediction cache. Every other example keeps its response, so the re-run scores
exactly like the original except where a re-predicted answer differs. The check compares,
example by example, the response and the per-example scores; the report goes into the record
under ``determinism`` (the metrics section is the run's own).

What counts as a change is declared here, by the kind of value, for every family alike:
strings (labels, texts, item ids), integers, booleans, ``null``, keys and list lengths are
compared exactly; floating-point numbers (probabilities, log-likelihoods, per-example scores)
within :data:`FLOAT_TOLERANCE` (``|a - b| <= abs + rel * max(|a|, |b|)``), because the same model
can differ in the last bits between batch sizes (a padded batch sums in another order). A
float that moved within the tolerance is not a change; the report counts such examples and the
largest difference seen. Each change names the field that changed and both values
(``probabilities.positive: 0.73 → 0.41``).

The check composes the run's own stages (:func:`bench.stages.predict` and
:func:`bench.stages.score`) on the run's prepared data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.adapters.base import ModelSpec, make_adapter
from bench.families.base import Prepared, get_family
from bench.spec import TaskSpec
from bench.stages import (
    DeterminismCheck,
    PredictionSet,
    RunConfig,
    Scores,
    pair_fingerprint,
    predict,
    score,
    trains_on,
)
from bench.streaming import ResponseStore

__all__ = [
    "DEFAULT_SAMPLE",
    "FLOAT_TOLERANCE",
    "DeterminismReport",
    "Tolerance",
    "check_determinism",
    "differences",
    "rerun_batch_size",
]

DEFAULT_SAMPLE = 32
"""How many examples ``--check-determinism`` re-runs by default."""


@dataclass(frozen=True)
class Tolerance:
    """How far two floats may lie apart and still be the same value.

    Attributes:
        abs: Absolute tolerance.
        rel: Tolerance relative to the larger magnitude.
    """

    abs: float = 1e-6
    rel: float = 1e-6

    def same(self, a: float, b: float) -> bool:
        """Whether ``a`` and ``b`` are equal within the tolerance (NaN equals NaN).

        Example:
            >>> Tolerance().same(0.5, 0.5 + 4e-8), Tolerance().same(0.5, 0.51)
            (True, False)
        """
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=self.rel, abs_tol=self.abs)

    def to_json(self) -> dict[str, float]:
        """``{"abs": ..., "rel": ...}``, as the record shows it."""
        return {"abs": self.abs, "rel": self.rel}


FLOAT_TOLERANCE = Tolerance()
"""The tolerance of floating-point values in responses and per-example scores: 1e-6 absolute
and relative (probabilities jitter by ~1e-8 between batch sizes; a real change is far larger)."""

_MAX_LISTED = 50  # changed examples listed in the record (all are counted)


@dataclass(frozen=True)
class DeterminismReport:
    """The outcome of one determinism check.

    Attributes:
        model: The model's display name.
        task: The task name.
        checked: Example ids re-run.
        batch_size: The batch size of the re-run.
        original_batch_size: The batch size of the checked run.
        seed: The seed of the subset draw.
        changed_predictions: ``[{id, before, after, fields}]`` for examples whose response
            changed: the predictions as shown in ``samples.jsonl``, and ``fields``, each
            changed field of the response as ``{field, before, after}``.
        changed_scores: ``[{id, score, before, after}]`` for per-example scores that changed.
        tolerance: The float tolerance the comparison used.
        within_tolerance: Examples whose response or scores differ only by floats within the
            tolerance.
        max_float_difference: The largest absolute difference of floats within the
            tolerance (0.0 when none differed).
    """

    model: str
    task: str
    checked: list[str]
    batch_size: int
    original_batch_size: int
    seed: int
    changed_predictions: list[dict[str, Any]]
    changed_scores: list[dict[str, Any]]
    tolerance: Tolerance = field(default=FLOAT_TOLERANCE)
    within_tolerance: int = 0
    max_float_difference: float = 0.0

    @property
    def ok(self) -> bool:
        """Nothing changed."""
        return not self.changed_predictions and not self.changed_scores

    def to_json(self) -> dict[str, Any]:
        """The ``determinism`` section of the record (at most 50 changes of each kind listed)."""
        return {
            "ok": self.ok,
            "sample": len(self.checked),
            "seed": self.seed,
            "batch_size": self.batch_size,
            "original_batch_size": self.original_batch_size,
            "cache": "bypassed",
            "tolerance": self.tolerance.to_json(),
            "within_tolerance": self.within_tolerance,
            "max_float_difference": self.max_float_difference,
            "changed_predictions": len(self.changed_predictions),
            "changed_scores": len(self.changed_scores),
            "predictions": self.changed_predictions[:_MAX_LISTED],
            "scores": self.changed_scores[:_MAX_LISTED],
            "checked_ids": self.checked,
        }


def rerun_batch_size(original: int) -> int:
    """The batch size of the re-run: 1, or 2 when the run itself used batches of 1."""
    return 2 if original == 1 else 1


def check_determinism(
    model: ModelSpec,
    task: TaskSpec,
    config: RunConfig,
    prepared: Prepared,
    predictions: PredictionSet,
    scores: Scores,
    check: DeterminismCheck,
) -> DeterminismReport:
    """Re-predict ``check.sample`` random examples of a predicted pair and report what changed.

    Called by :func:`bench.runner.finish_pair` before the record is written (the report goes
    into it): a fresh adapter from the same spec (trained again when it trains) predicts the
    chosen examples with another batch size and no cache; every other example keeps its
    response, the whole set is scored again, and responses and per-example scores of the
    chosen examples are compared.

    Args:
        model: The model spec of the run.
        task: The task.
        config: The run's settings (its batch size is what the re-run changes).
        prepared: The pair's prepared data.
        predictions: The pair's predictions.
        scores: The pair's scores.
        check: Sample size and seed of the subset draw.

    Raises:
        BenchError: The re-run fails as a whole.
    """
    family = get_family(task.family)
    requests = prepared.requests
    n = len(requests)
    k = min(max(check.sample, 0), n)
    picked = sorted(np.random.default_rng(check.seed).choice(n, size=k, replace=False).tolist())
    batch = rerun_batch_size(config.batch_size)
    responses = _rerun(model, task, prepared, predictions.responses, picked, batch)
    rescored = score(task, prepared, responses, config.bootstrap, model=model.display_name)
    tolerance = check.tolerance if check.tolerance is not None else FLOAT_TOLERANCE
    changed_predictions: list[dict[str, Any]] = []
    changed_scores: list[dict[str, Any]] = []
    within, largest = 0, 0.0
    for i in picked:
        ex = requests[i].id
        moved: list[float] = []
        fields = differences(predictions.responses.data(i), responses.data(i), tolerance, moved)
        if fields:
            changed_predictions.append(
                {
                    "id": ex,
                    "before": family.sample_prediction(predictions.responses[i]),
                    "after": family.sample_prediction(responses[i]),
                    "fields": fields,
                }
            )
        changes = _changed_scores(
            ex, scores.per_example[i], rescored.per_example[i], tolerance, moved
        )
        changed_scores += changes
        if moved and not fields and not changes:
            within += 1
        largest = max([largest, *moved])
    return DeterminismReport(
        model=model.display_name,
        task=task.name,
        checked=[requests[i].id for i in picked],
        batch_size=batch,
        original_batch_size=config.batch_size,
        seed=check.seed,
        changed_predictions=changed_predictions,
        changed_scores=changed_scores,
        tolerance=tolerance,
        within_tolerance=within,
        max_float_difference=largest,
    )


def _rerun(
    model: ModelSpec,
    task: TaskSpec,
    prepared: Prepared,
    original: ResponseStore,
    picked: list[int],
    batch: int,
) -> ResponseStore:
    """The run's responses, with examples ``picked`` predicted again by a fresh adapter (fitted
    when it trains) in batches of ``batch``, without the cache (a failure: no response)."""
    family = get_family(task.family)
    fresh = make_adapter(model).for_task(task, family)
    if trains_on(fresh, task, prepared):
        assert prepared.load_train is not None  # trains_on() said so
        fresh.fit(prepared.load_train())
    again = predict(
        fresh,
        [prepared.requests[i] for i in picked],
        None,
        family=family,
        fingerprint=pair_fingerprint(fresh, task, prepared),
        batch_size=batch,
    )
    out = ResponseStore(family, len(original))
    for i in range(len(original)):
        if original.has(i):
            out.set(i, original.data(i))
    for j, i in enumerate(picked):
        data = again.responses.data(j)
        if data is None:
            out.ids[i] = -1
        else:
            out.set(i, data)
    return out


def differences(
    before: Any,
    after: Any,
    tolerance: Tolerance = FLOAT_TOLERANCE,
    moved: list[float] | None = None,
    where: str = "",
) -> list[dict[str, Any]]:
    """Every field in which two JSON values differ, as ``[{field, before, after}]``.

    Strings, integers, booleans, ``null``, keys and list lengths must be equal; floats equal
    within ``tolerance``. A field is named by its path (``probabilities.positive``,
    ``items[3]``; ``""`` for the whole value).

    Args:
        before: The first value (JSON: dicts, lists, str, int, float, bool, ``None``).
        after: The second value.
        tolerance: The float tolerance.
        moved: Receives the absolute difference of every float pair that differs within the
            tolerance.
        where: The path of ``before`` and ``after`` (for the recursion).

    Example:
        >>> differences({"label": "a", "p": 0.5}, {"label": "a", "p": 0.50000004})
        []
        >>> differences({"label": "a", "p": 0.5}, {"label": "b", "p": 0.5})
        [{'field': 'label', 'before': 'a', 'after': 'b'}]
    """
    if _is_float(before) and _is_float(after) and (type(before) is float or type(after) is float):
        if tolerance.same(float(before), float(after)):
            if before != after and moved is not None and not math.isnan(float(before)):
                moved.append(abs(float(before) - float(after)))
            return []
        return [{"field": where, "before": before, "after": after}]
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[dict[str, Any]] = []
        for key in sorted(set(before) | set(after), key=str):
            path = f"{where}.{key}" if where else str(key)
            if key not in before or key not in after:
                out.append({"field": path, "before": before.get(key), "after": after.get(key)})
            else:
                out += differences(before[key], after[key], tolerance, moved, path)
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        out = []
        for k, (a, b) in enumerate(zip(before, after, strict=True)):
            out += differences(a, b, tolerance, moved, f"{where}[{k}]")
        return out
    if type(before) is not type(after) or before != after:
        return [{"field": where, "before": before, "after": after}]
    return []


def _is_float(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _changed_scores(
    ex: str,
    before: dict[str, Any],
    after: dict[str, Any],
    tolerance: Tolerance = FLOAT_TOLERANCE,
    moved: list[float] | None = None,
) -> list[dict[str, Any]]:
    """``[{id, score, before, after}]`` for each per-example score that changed (floats
    compared within ``tolerance``)."""
    return [
        {"id": ex, "score": name, "before": before.get(name), "after": after.get(name)}
        for name in sorted(set(before) | set(after))
        if name not in before
        or name not in after
        or differences(before[name], after[name], tolerance, moved)
    ]
