"""Classification metrics, cross-checked against scikit-learn called directly.

Real label sequences come from a small lexicon rule run on the GLUE SST-2 dev set
(``../shared/data/sst2-glue``); the rule sometimes gives no answer (a failed example, or a
response without a label) and sometimes answers outside the label set, both of which are
scored as misses. The vectorised bootstrap formulas are checked against scikit-learn on many
random label arrays, and ECE against a hand-worked example and a plain loop.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import sklearn
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    matthews_corrcoef,
    precision_recall_fscore_support,
)

from bench.families.sentiment import SentimentRequest, SentimentResponse
from bench.metrics.base import BootstrapConfig, MetricValue, ScoringContext, score_task
from bench.metrics.classification import (
    ECE,
    MCC,
    Accuracy,
    ConfusionMatrix,
    MacroF1,
    PerClass,
    _mcc_from_confusion,
    _prf_from_confusion,
)
from bench.spec import TaskSpec, parse_task

MISS = "__miss__"  # how a miss is spelt for scikit-learn: one column, never a task label

_TASK = """\
name: metric-test
version: 1
family: sentiment
languages: [en]
description: A task used only to carry a label set for metric tests.
labels: {labels}
source:
  kind: builtin
  location: smoke/sentiment-en
  format: jsonl
  files: {{test: test.jsonl}}
  splits: {{test: test}}
metrics: [accuracy]
primary_metric: accuracy
"""


def make_spec(labels: list[str]) -> TaskSpec:
    return parse_task(_TASK.format(labels="[" + ", ".join(labels) + "]"))


def make_ctx(
    labels: list[str],
    gold: list[str],
    responses: list[SentimentResponse | None],
    bootstrap: BootstrapConfig | None = None,
) -> ScoringContext:
    requests = [
        SentimentRequest(id=str(i), language="en", text=f"text {i}", labels=tuple(labels))
        for i in range(len(gold))
    ]
    return ScoringContext(
        spec=make_spec(labels),
        requests=requests,
        references=list(gold),
        responses=list(responses),
        bootstrap=bootstrap or BootstrapConfig(resamples=0),
    )


def sklearn_pred(resp: SentimentResponse | None, labels: list[str]) -> str:
    """A response as scikit-learn sees it: its label, or the one miss column."""
    if resp is None or resp.label not in labels:
        return MISS
    return resp.label


ALL = [Accuracy(), MacroF1(), PerClass(), MCC(), ConfusionMatrix(), ECE(bins=10)]


# --------------------------------------------------------------------------- SST-2 rule

POSITIVE = {
    "good",
    "great",
    "best",
    "fun",
    "charming",
    "beautiful",
    "funny",
    "love",
    "enjoyable",
    "moving",
    "wonderful",
    "entertaining",
    "fine",
    "strong",
    "brilliant",
    "delightful",
    "solid",
    "smart",
    "works",
    "perfect",
    "beautifully",
    "compelling",
    "powerful",
    "rich",
    "remarkable",
    "touching",
    "worth",
    "pleasure",
    "intelligent",
    "sweet",
    "clever",
    "engaging",
    "heart",
}
NEGATIVE = {
    "bad",
    "worst",
    "dull",
    "boring",
    "mess",
    "fails",
    "flat",
    "tedious",
    "stupid",
    "unfunny",
    "lacks",
    "too",
    "predictable",
    "poor",
    "nothing",
    "never",
    "mediocre",
    "no",
    "not",
    "bland",
    "lame",
    "silly",
    "waste",
    "pretentious",
    "ugly",
    "awful",
    "tired",
    "problem",
}


@pytest.fixture(scope="module")
def sst2(shared_data: Path) -> tuple[list[str], list[SentimentResponse | None]]:
    """Gold labels of SST-2 dev and the lexicon rule's responses (with probabilities)."""
    path = shared_data / "sst2-glue" / "SST-2" / "dev.tsv"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    gold, responses = [], []
    for i, (sentence, label) in enumerate(rows):
        words = sentence.lower().split()
        pos = sum(w in POSITIVE for w in words)
        neg = sum(w in NEGATIVE for w in words)
        gold.append("positive" if label == "1" else "negative")
        if pos == neg == 0:
            # No evidence: either the adapter failed (None) or it answered nothing usable.
            responses.append(None if i % 3 == 0 else SentimentResponse(label=None, raw="?"))
            continue
        if pos == neg:
            responses.append(SentimentResponse(label="mixed", raw="mixed"))  # out of label set
            continue
        winner = "positive" if pos > neg else "negative"
        # Confidences rounded to 0.05, so many fall exactly on bin edges.
        p = min(0.95, round(0.5 + 0.1 * abs(pos - neg) + 0.05 * (i % 3), 2))
        other = "negative" if winner == "positive" else "positive"
        responses.append(
            SentimentResponse(label=winner, probabilities={winner: p, other: round(1 - p, 2)})
        )
    return gold, responses


def test_sst2_rule_has_every_kind_of_answer(sst2) -> None:
    gold, responses = sst2
    assert len(gold) == 872
    assert sum(r is None for r in responses) > 10
    assert sum(r is not None and r.label is None for r in responses) > 10
    assert sum(r is not None and r.label == "mixed" for r in responses) > 5
    assert sum(r is not None and r.label in ("negative", "positive") for r in responses) > 300


def test_every_metric_equals_sklearn_on_sst2(sst2) -> None:
    gold, responses = sst2
    labels = ["negative", "positive"]
    pred = [sklearn_pred(r, labels) for r in responses]
    ctx = make_ctx(labels, gold, responses)
    values, skipped, per_example = score_task(ctx, ALL)
    assert skipped == {}

    assert values["accuracy"].value == accuracy_score(gold, pred)
    assert values["accuracy"].n == 872
    assert values["macro_f1"].value == f1_score(
        gold, pred, labels=labels, average="macro", zero_division=0
    )
    assert values["mcc"].value == matthews_corrcoef(gold, pred)
    p, r, f, support = precision_recall_fscore_support(
        gold, pred, labels=labels, average=None, zero_division=0
    )
    for i, label in enumerate(labels):
        assert values[f"precision/{label}"].value == p[i]
        assert values[f"recall/{label}"].value == r[i]
        assert values[f"f1/{label}"].value == f[i]
        assert values[f"f1/{label}"].n == support[i]
    matrix = confusion_matrix(gold, pred, labels=[*labels, MISS])[:2]
    table = values["confusion_matrix"].value
    assert table["gold"] == labels
    assert table["predicted"] == [*labels, "(none)"]
    assert table["matrix"] == matrix.tolist()
    # Misses are misses: the rule is far from perfect, and every miss counts against it.
    n_miss = pred.count(MISS)
    assert sum(table["matrix"][0]) + sum(table["matrix"][1]) == 872
    assert table["matrix"][0][2] + table["matrix"][1][2] == n_miss
    assert values["accuracy"].value <= (872 - n_miss) / 872
    # Per-example correctness matches the gold/prediction pairs.
    assert [row["correct"] for row in per_example] == [
        float(g == q) for g, q in zip(gold, pred, strict=True)
    ]


def test_none_and_out_of_label_are_misses_not_skipped() -> None:
    labels = ["negative", "positive"]
    gold = ["positive", "positive", "negative", "negative"]
    responses = [
        SentimentResponse(label="positive"),
        None,  # the adapter failed on this example
        SentimentResponse(label="neutral"),  # not a task label
        SentimentResponse(label=None),
    ]
    values, _, _ = score_task(make_ctx(labels, gold, responses), ALL[:5])
    assert values["accuracy"].value == 0.25
    assert values["accuracy"].n == 4
    assert values["recall/negative"].value == 0.0
    assert values["precision/positive"].value == 1.0  # a miss is no false positive
    assert values["recall/positive"].value == 0.5
    assert values["confusion_matrix"].value["matrix"] == [[0, 0, 2], [0, 1, 1]]


def test_three_classes_equal_sklearn() -> None:
    rng = np.random.default_rng(7)
    labels = ["negative", "neutral", "positive"]
    gold = [labels[i] for i in rng.integers(0, 3, 300)]
    choices = [*labels, None, "other"]
    raw = [choices[i] for i in rng.choice(5, 300, p=[0.3, 0.2, 0.3, 0.1, 0.1])]
    responses = [None if c is None else SentimentResponse(label=c) for c in raw]
    pred = [sklearn_pred(r, labels) for r in responses]
    values, _, _ = score_task(make_ctx(labels, gold, responses), ALL[:4])
    assert values["accuracy"].value == accuracy_score(gold, pred)
    assert values["macro_f1"].value == f1_score(
        gold, pred, labels=labels, average="macro", zero_division=0
    )
    assert values["mcc"].value == matthews_corrcoef(gold, pred)
    f = f1_score(gold, pred, labels=labels, average=None, zero_division=0)
    assert [values[f"f1/{lab}"].value for lab in labels] == list(f)


# --------------------------------------------------------------------------- bootstrap formulas


def _confusion(gold: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    size = k + 1
    return np.bincount(gold * size + pred, minlength=size * size).reshape(size, size).astype(float)


def _random_arrays(seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 7))
    n = int(rng.integers(1, 80))
    # Skewed, sometimes degenerate label distributions: absent classes, constant predictions.
    weights = rng.dirichlet(np.full(k, 0.5))
    gold = rng.choice(k, n, p=weights)
    mode = seed % 5
    if mode == 0:
        pred = np.full(n, int(rng.integers(0, k + 1)))  # constant, possibly always a miss
    elif mode == 1:
        pred = gold.copy()  # perfect
    else:
        pred = rng.integers(0, k + 1, n)  # index k is the miss column
        flip = rng.random(n) < rng.random()
        pred[flip] = gold[flip]
    return gold, pred, k


@pytest.mark.filterwarnings("ignore:A single label was found")
@pytest.mark.parametrize("seed", range(300))
def test_confusion_formulas_reproduce_sklearn_exactly(seed: int) -> None:
    gold, pred, k = _random_arrays(seed)
    conf = _confusion(gold, pred, k)
    labels = list(range(k))
    p, r, f, _ = precision_recall_fscore_support(
        gold, pred, labels=labels, average=None, zero_division=0
    )
    bp, br, bf = _prf_from_confusion(conf, k)
    np.testing.assert_allclose(bp, p, rtol=0, atol=1e-12)
    np.testing.assert_allclose(br, r, rtol=0, atol=1e-12)
    np.testing.assert_allclose(bf, f, rtol=0, atol=1e-12)
    macro = f1_score(gold, pred, labels=labels, average="macro", zero_division=0)
    assert abs(bf.mean() - macro) <= 1e-12
    assert abs(float(_mcc_from_confusion(conf)) - matthews_corrcoef(gold, pred)) <= 1e-12
    assert abs(np.trace(conf) / len(gold) - accuracy_score(gold, pred)) <= 1e-12


def test_confusion_formulas_are_vectorised_over_resamples() -> None:
    """A stack of matrices gives the same values as each matrix alone."""
    stack = [_random_arrays(s) for s in range(40)]
    k = 4
    confs = np.stack([_confusion(np.minimum(g, k - 1), np.minimum(p, k), k) for g, p, _ in stack])
    prf = _prf_from_confusion(confs, k)
    mcc = _mcc_from_confusion(confs)
    assert prf[0].shape == (40, k) and mcc.shape == (40,)
    for i, conf in enumerate(confs):
        one = _prf_from_confusion(conf, k)
        for which in range(3):
            np.testing.assert_array_equal(prf[which][i], one[which])
        assert mcc[i] == _mcc_from_confusion(conf)


def test_bootstrap_samples_equal_sklearn_on_each_resample(sst2) -> None:
    """The CI is the percentile interval of sklearn's values on the resamples themselves.

    Each resample is drawn as multinomial confusion counts (what resampling the pairs with
    replacement gives); sklearn scores the (gold, prediction) pairs those counts stand for.
    """
    from bench.metrics.classification import NONE_LABEL, _boot_confusions

    gold, responses = sst2
    labels = ["negative", "positive"]
    boot = BootstrapConfig(resamples=100, seed=3)
    ctx = make_ctx(labels, gold, responses, boot)
    values, _, _ = score_task(ctx, ALL[:4])
    names = [*labels, NONE_LABEL]
    size = len(names)
    confusions = _boot_confusions(ctx)
    assert confusions is not None and confusions.shape == (100, size, size)
    acc, f1, mcc = [], [], []
    for conf in confusions:
        counts = conf.astype(int).ravel()
        assert counts.sum() == len(gold)  # every resample has n pairs
        cells = np.repeat(np.arange(size * size), counts)
        g = np.asarray(names)[cells // size]
        p = np.asarray(names)[cells % size]
        acc.append(accuracy_score(g, p))
        f1.append(f1_score(g, p, labels=labels, average="macro", zero_division=0))
        mcc.append(matthews_corrcoef(g, p))
    for name, samples in (("accuracy", acc), ("macro_f1", f1), ("mcc", mcc)):
        low, high = np.quantile(samples, [0.025, 0.975])
        assert values[name].ci_low == pytest.approx(low, abs=1e-12)
        assert values[name].ci_high == pytest.approx(high, abs=1e-12)


def test_multinomial_resamples_match_resampling_pairs(sst2) -> None:
    """The multinomial draw has the distribution of resampled pairs: same mean and spread."""
    gold, responses = sst2
    labels = ["negative", "positive"]
    ctx = make_ctx(labels, gold, responses, BootstrapConfig(resamples=4000, seed=11))
    [acc] = Accuracy().score(ctx)
    pred = np.asarray([sklearn_pred(r, labels) for r in responses])
    right = (np.asarray(gold) == pred).astype(float)
    idx = np.random.default_rng(5).integers(0, right.size, size=(4000, right.size))
    low, high = np.quantile(right[idx].mean(axis=1), [0.025, 0.975])
    assert acc.ci_low == pytest.approx(low, abs=0.01)
    assert acc.ci_high == pytest.approx(high, abs=0.01)


# --------------------------------------------------------------------------- ECE


def _response(label: str, p: float) -> SentimentResponse:
    other = "negative" if label == "positive" else "positive"
    return SentimentResponse(label=label, probabilities={label: p, other: 1 - p})


def test_ece_hand_worked_example() -> None:
    """Ten bins; the confidence 0.7 lies on an edge and belongs to the bin (0.6, 0.7].

    bin (0.6, 0.7]: confidences 0.7 (right), 0.65 (wrong): |0.5 - 0.675| x 2/4 = 0.0875
    bin (0.7, 0.8]: confidence 0.75 (right):               |1 - 0.75|    x 1/4 = 0.0625
    bin (0.8, 0.9]: confidence 0.9 (wrong):                |0 - 0.9|     x 1/4 = 0.225
    ECE = 0.375
    """
    gold = ["positive", "negative", "negative", "positive"]
    responses = [
        _response("positive", 0.7),
        _response("positive", 0.65),
        _response("negative", 0.75),
        _response("negative", 0.9),
    ]
    ctx = make_ctx(["negative", "positive"], gold, responses)
    (value,) = ECE(bins=10).score(ctx)
    assert value.value == pytest.approx(0.375, abs=1e-12)
    assert value.n == 4
    assert value.higher_is_better is False


def ece_loop(
    gold: list[str], responses: list[SentimentResponse | None], labels: list[str], bins: int
) -> tuple[float, int]:
    """ECE written as the definition reads: bins (0, 1/B], (1/B, 2/B], ..., (B-1/B, 1]."""
    items = []
    for g, r in zip(gold, responses, strict=True):
        if r is None or not r.probabilities:
            continue
        conf = r.probabilities.get(r.label, 0.0) if r.label in labels else 0.0
        items.append((conf, 1.0 if r.label == g else 0.0))
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [(c, a) for c, a in items if lo < c <= hi or (b == 0 and c == 0)]
        if inside:
            acc = sum(a for _, a in inside) / len(inside)
            conf = sum(c for c, _ in inside) / len(inside)
            total += len(inside) / len(items) * abs(acc - conf)
    return total, len(items)


@pytest.mark.parametrize("bins", [1, 5, 10, 15, 20])
def test_ece_equals_loop_on_sst2(sst2, bins: int) -> None:
    gold, responses = sst2
    labels = ["negative", "positive"]
    (value,) = ECE(bins=bins).score(make_ctx(labels, gold, responses))
    expected, n = ece_loop(gold, responses, labels, bins)
    assert value.n == n
    assert value.value == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", range(30))
def test_ece_equals_loop_on_random_probabilities(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = ["negative", "neutral", "positive"]
    n = int(rng.integers(1, 120))
    gold = [labels[i] for i in rng.integers(0, 3, n)]
    responses: list[SentimentResponse | None] = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.05:
            responses.append(None)
            continue
        probs = rng.dirichlet(np.ones(3))
        if seed % 2:
            probs = np.round(probs, 1)  # land on bin edges
            probs[-1] = 1 - probs[:-1].sum()
            if probs[-1] < 0:
                probs = np.array([0.0, 0.0, 1.0])
        label = labels[int(np.argmax(probs))] if kind > 0.15 else labels[int(rng.integers(3))]
        responses.append(
            SentimentResponse(
                label=label, probabilities=dict(zip(labels, map(float, probs), strict=True))
            )
        )
    if all(r is None for r in responses):
        return
    bins = int(rng.choice([5, 10, 15]))
    (value,) = ECE(bins=bins).score(make_ctx(labels, gold, responses))
    expected, m = ece_loop(gold, responses, labels, bins)
    assert value.n == m
    assert value.value == pytest.approx(expected, abs=1e-12)


def test_ece_unavailable_without_probabilities() -> None:
    labels = ["negative", "positive"]
    gold = ["negative", "positive", "positive"]
    responses = [SentimentResponse(label="negative"), SentimentResponse(label="negative"), None]
    ctx = make_ctx(labels, gold, responses, BootstrapConfig(resamples=100))
    values, skipped, _ = score_task(ctx, ALL)
    assert "ece" not in values
    assert "probabilities" in skipped["ece"]
    assert values["accuracy"].value == pytest.approx(1 / 3)


def test_ece_counts_only_examples_with_probabilities() -> None:
    labels = ["negative", "positive"]
    gold = ["negative", "positive", "positive", "negative"]
    responses = [
        _response("negative", 0.8),
        SentimentResponse(label="positive"),
        None,
        _response("positive", 0.6),
    ]
    (value,) = ECE(bins=10).score(make_ctx(labels, gold, responses))
    assert value.n == 2
    # (0.5, 0.6]: wrong at 0.6 -> 0.6 x 1/2; (0.7, 0.8]: right at 0.8 -> 0.2 x 1/2
    assert value.value == pytest.approx(0.4, abs=1e-12)


# --------------------------------------------------------------------------- intervals


def _scalars(values: dict[str, MetricValue]) -> dict[str, MetricValue]:
    return {k: v for k, v in values.items() if k != "confusion_matrix"}


def test_ci_contains_the_point_value(sst2) -> None:
    gold, responses = sst2
    ctx = make_ctx(["negative", "positive"], gold, responses, BootstrapConfig(resamples=1000))
    values, _, _ = score_task(ctx, ALL)
    for name, v in _scalars(values).items():
        assert v.ci_low is not None and v.ci_high is not None, name
        assert v.ci_low <= v.ci_high, name
        assert v.ci_low <= v.value <= v.ci_high, name
        assert v.ci_high - v.ci_low < 0.2, name  # 872 examples give a usefully narrow interval
    assert values["confusion_matrix"].ci_low is None


def test_ci_is_seeded(sst2) -> None:
    gold, responses = sst2
    labels = ["negative", "positive"]

    def intervals(seed: int) -> dict[str, tuple[float | None, float | None]]:
        ctx = make_ctx(labels, gold, responses, BootstrapConfig(resamples=300, seed=seed))
        values, _, _ = score_task(ctx, ALL)
        return {k: (v.ci_low, v.ci_high) for k, v in _scalars(values).items()}

    first, again, other = intervals(1), intervals(1), intervals(2)
    assert first == again
    assert first != other
    for name in ("accuracy", "macro_f1", "mcc", "ece"):
        assert first[name] != other[name], name


def test_no_resamples_means_no_intervals(sst2) -> None:
    gold, responses = sst2
    ctx = make_ctx(["negative", "positive"], gold, responses, BootstrapConfig(resamples=0))
    values, _, _ = score_task(ctx, ALL)
    assert len(values) == 11
    for name, v in values.items():
        assert v.ci_low is None and v.ci_high is None, name
        assert "ci:none" in v.signature
    # The point values do not depend on the bootstrap.
    boot, _, _ = score_task(
        make_ctx(["negative", "positive"], gold, responses, BootstrapConfig(resamples=100)), ALL
    )
    assert {k: v.value for k, v in values.items()} == {k: v.value for k, v in boot.items()}


# --------------------------------------------------------------------------- signatures


def test_signatures_say_how_each_number_was_computed(sst2) -> None:
    gold, responses = sst2
    boot = BootstrapConfig(resamples=100, confidence=0.9, seed=77)
    values, _, _ = score_task(make_ctx(["negative", "positive"], gold, responses, boot), ALL)
    for name, v in values.items():
        parts = v.signature.split("|")
        assert "labels:negative,positive" in parts, name
        assert "zero_division:0" in parts, name
        assert "invalid:miss" in parts, name
        assert f"sklearn:{sklearn.__version__}" in parts, name
        assert {"boot:100", "conf:0.9", "seed:77"} <= set(parts), name
        assert any(p.startswith("v:") for p in parts), name
    assert "average:macro" in values["macro_f1"].signature
    assert "bins:10" in values["ece"].signature
    assert values["f1/positive"].signature != values["f1/negative"].signature
    # A different label order is a different computation.
    other = make_ctx(["positive", "negative"], gold, responses, boot)
    (acc,) = Accuracy().score(other)
    assert acc.signature != values["accuracy"].signature
    assert acc.value == values["accuracy"].value


def test_metric_docstrings_state_averaging_and_zero_division() -> None:
    import bench.metrics.classification as module

    assert "zero_division=0" in (module.__doc__ or "")
    assert 'average="macro"' in (MacroF1.__doc__ or "")
    assert "zero_division=0" in (MacroF1.__doc__ or "")
    assert math.isclose(ECE().bins, 15)
