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

The check composes the run's own stages (:func:`bench.stages.predict` and
:func:`bench.stages.score`) on the run's prepared data.
"""

from __future__ import annotations

from dataclasses import dataclass
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

__all__ = ["DEFAULT_SAMPLE", "DeterminismReport", "check_determinism", "rerun_batch_size"]

DEFAULT_SAMPLE = 32
"""How many examples ``--check-determinism`` re-runs by default."""

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
        changed_predictions: ``[{id, before, after}]`` for examples whose response changed.
        changed_scores: ``[{id, score, before, after}]`` for per-example scores that changed.
    """

    model: str
    task: str
    checked: list[str]
    batch_size: int
    original_batch_size: int
    seed: int
    changed_predictions: list[dict[str, Any]]
    changed_scores: list[dict[str, Any]]

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
    changed_predictions: list[dict[str, Any]] = []
    changed_scores: list[dict[str, Any]] = []
    for i in picked:
        ex = requests[i].id
        if predictions.responses.data(i) != responses.data(i):
            changed_predictions.append(
                {
                    "id": ex,
                    "before": family.sample_prediction(predictions.responses[i]),
                    "after": family.sample_prediction(responses[i]),
                }
            )
        changed_scores += _changed_scores(ex, scores.per_example[i], rescored.per_example[i])
    return DeterminismReport(
        model=model.display_name,
        task=task.name,
        checked=[requests[i].id for i in picked],
        batch_size=batch,
        original_batch_size=config.batch_size,
        seed=check.seed,
        changed_predictions=changed_predictions,
        changed_scores=changed_scores,
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


def _changed_scores(ex: str, before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """``[{id, score, before, after}]`` for each per-example score that changed."""
    return [
        {"id": ex, "score": name, "before": before.get(name), "after": after.get(name)}
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    ]
