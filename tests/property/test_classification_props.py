"""Hypothesis properties of the classification metrics.

Bounds, order independence, perfect predictions scoring the maximum and all-miss predictions
scoring zero, over random label sets, gold labels and responses (failed examples, responses
without a label, labels outside the label set, and probabilities).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.families.sentiment import SentimentRequest, SentimentResponse
from bench.metrics.base import MIN_CI_N, BootstrapConfig, ScoringContext, score_task
from bench.metrics.classification import ECE, MCC, Accuracy, ConfusionMatrix, MacroF1, PerClass
from bench.spec import TaskSpec, parse_task

pytestmark = pytest.mark.filterwarnings("ignore:A single label was found")

LABEL_POOL = ["negative", "positive", "neutral", "mixed", "irrelevant"]
METRICS = [Accuracy(), MacroF1(), PerClass(), MCC(), ConfusionMatrix(), ECE(bins=7)]

_TASK = """\
name: prop-test
version: 1
family: sentiment
languages: [en]
description: Carries a label set for property tests.
labels: [{labels}]
source:
  kind: builtin
  location: smoke/sentiment-en
  format: jsonl
  files: {{test: test.jsonl}}
  splits: {{test: test}}
metrics: [accuracy]
primary_metric: accuracy
"""

_SPECS: dict[int, TaskSpec] = {}


def spec_for(k: int) -> TaskSpec:
    if k not in _SPECS:
        _SPECS[k] = parse_task(_TASK.format(labels=", ".join(LABEL_POOL[:k])))
    return _SPECS[k]


def score(
    k: int, gold: list[str], responses: list[SentimentResponse | None], resamples: int = 0
) -> dict[str, Any]:
    labels = LABEL_POOL[:k]
    requests = [
        SentimentRequest(id=str(i), language="en", text="t", labels=tuple(labels))
        for i in range(len(gold))
    ]
    ctx = ScoringContext(
        spec_for(k), requests, gold, responses, BootstrapConfig(resamples=resamples, seed=5)
    )
    values, _, _ = score_task(ctx, METRICS)
    return values


@st.composite
def response(draw: st.DrawFn, labels: list[str]) -> SentimentResponse | None:
    kind = draw(st.sampled_from(["label", "label", "label", "failed", "none", "outside"]))
    if kind == "failed":
        return None
    if kind == "none":
        return SentimentResponse(label=None)
    if kind == "outside":
        return SentimentResponse(label="not-a-label")
    label = draw(st.sampled_from(labels))
    if draw(st.booleans()):
        weights = draw(st.lists(st.integers(0, 10), min_size=len(labels), max_size=len(labels)))
        if sum(weights) == 0:
            weights = [1] * len(labels)
        total = sum(weights)
        probs = {lab: w / total for lab, w in zip(labels, weights, strict=True)}
        return SentimentResponse(label=label, probabilities=probs)
    return SentimentResponse(label=label)


@st.composite
def problem(draw: st.DrawFn, min_size: int = 1) -> tuple[int, list[str], list[Any]]:
    k = draw(st.integers(2, len(LABEL_POOL)))
    labels = LABEL_POOL[:k]
    n = draw(st.integers(min_size, 60))
    gold = draw(st.lists(st.sampled_from(labels), min_size=n, max_size=n))
    responses = draw(st.lists(response(labels), min_size=n, max_size=n))
    return k, gold, responses


def scalar_values(values: dict[str, Any]) -> dict[str, float]:
    return {k: v.value for k, v in values.items() if k != "confusion_matrix"}


@settings(max_examples=150, deadline=None)
@given(problem(), st.booleans())
def test_bounds(case: tuple[int, list[str], list[Any]], with_ci: bool) -> None:
    k, gold, responses = case
    values = score(k, gold, responses, resamples=100 if with_ci else 0)
    assert 0.0 <= values["accuracy"].value <= 1.0
    assert 0.0 <= values["macro_f1"].value <= 1.0
    assert -1.0 <= values["mcc"].value <= 1.0
    for label in LABEL_POOL[:k]:
        for which in ("precision", "recall", "f1"):
            assert 0.0 <= values[f"{which}/{label}"].value <= 1.0
    if "ece" in values:
        assert 0.0 <= values["ece"].value <= 1.0
        assert 1 <= values["ece"].n <= len(gold)
    else:
        assert not any(r is not None and r.probabilities for r in responses)
    for name, v in values.items():
        if name == "confusion_matrix":
            assert sum(map(sum, v.value["matrix"])) == len(gold)
            continue
        if with_ci and v.ci_reason is not None:  # withheld: below 10 examples, or degenerate
            assert v.ci_low is None and v.ci_high is None, name
        elif with_ci:
            lo, hi = (-1.0, 1.0) if name == "mcc" else (0.0, 1.0)
            assert lo - 1e-12 <= v.ci_low <= v.ci_high <= hi + 1e-12, name
        else:
            assert v.ci_low is None and v.ci_high is None


@settings(max_examples=150, deadline=None)
@given(problem(), st.randoms(use_true_random=False))
def test_permutation_invariance(case: tuple[int, list[str], list[Any]], rnd: Any) -> None:
    k, gold, responses = case
    order = list(range(len(gold)))
    rnd.shuffle(order)
    before = score(k, gold, responses)
    after = score(k, [gold[i] for i in order], [responses[i] for i in order])
    assert scalar_values(before) == scalar_values(after)
    assert {k: v.n for k, v in before.items()} == {k: v.n for k, v in after.items()}
    assert before["confusion_matrix"].value == after["confusion_matrix"].value


@settings(max_examples=100, deadline=None)
@given(problem())
def test_perfect_predictions_score_one(case: tuple[int, list[str], list[Any]]) -> None:
    k, gold, _ = case
    labels = LABEL_POOL[:k]
    values = score(k, gold, [SentimentResponse(label=g) for g in gold])
    assert values["accuracy"].value == 1.0
    for label in set(gold):
        assert values[f"f1/{label}"].value == 1.0
    if set(gold) == set(labels):
        # Macro-F1 averages over the task's labels; a label absent from the gold labels and
        # never predicted has F1 0 (zero_division=0), so only a sample with every label can
        # reach 1.
        assert values["macro_f1"].value == 1.0
    if len(set(gold)) >= 2:
        assert values["mcc"].value == 1.0


@settings(max_examples=100, deadline=None)
@given(problem(min_size=2))
def test_perfect_macro_f1_when_every_label_appears(case: tuple[int, list[str], list[Any]]) -> None:
    k, gold, _ = case
    labels = LABEL_POOL[:k]
    gold = [*labels, *gold]  # every label present at least once
    values = score(k, gold, [SentimentResponse(label=g) for g in gold])
    assert values["macro_f1"].value == 1.0
    assert values["mcc"].value == 1.0
    assert values["accuracy"].value == 1.0


@settings(max_examples=100, deadline=None)
@given(problem(), st.sampled_from(["failed", "none", "outside"]))
def test_all_missing_predictions_score_zero(
    case: tuple[int, list[str], list[Any]], how: str
) -> None:
    k, gold, _ = case
    miss = {
        "failed": None,
        "none": SentimentResponse(label=None),
        "outside": SentimentResponse(label="not-a-label"),
    }[how]
    values = score(k, gold, [miss] * len(gold), resamples=100)
    assert values["accuracy"].value == 0.0
    # The interval is [0, 0], withheld below 10 examples (too few for a bootstrap interval).
    assert values["accuracy"].ci_high == (0.0 if len(gold) >= MIN_CI_N else None)
    assert values["macro_f1"].value == 0.0
    assert values["mcc"].value == 0.0
    assert "ece" not in values
    matrix = np.asarray(values["confusion_matrix"].value["matrix"])
    assert matrix[:, -1].sum() == len(gold)
