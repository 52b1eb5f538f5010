"""Hypothesis properties of the ranking metrics.

Over random users (candidate sets, held-out items that may or may not be candidates, users
with no held-out item, failed responses, rankings that omit candidates or list ids that are
not candidates): every accuracy value is in [0, 1]; a perfect ranking scores 1 on HR, NDCG,
MRR and MAP (and on Recall@k when |R| <= k); the values do not depend on the order of the
users; and the vectorised values equal a plain per-user loop over the definitions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.families.recommendation import RankingResponse, RecommendationRequest
from bench.metrics.base import BootstrapConfig, ScoringContext, score_task
from bench.metrics.ranking import MAP, MRR, NDCG, Coverage, HitRate, Popularity, Precision, Recall
from bench.spec import TaskSpec, parse_task

_TASK = """\
name: ranking-props
version: 1
family: recommendation
languages: [en]
description: Carries the metric list for ranking property tests.
source:
  kind: builtin
  location: smoke/recommendation-synthetic
  format: csv
  files: {test: interactions.csv}
  splits: {test: test}
metrics: [ndcg]
primary_metric: ndcg@10
"""
SPEC: TaskSpec = parse_task(_TASK, check_names=False)
KS = [1, 3, 5]
ACCURACY = [
    HitRate(k=KS),
    Recall(k=KS),
    Precision(k=KS),
    NDCG(k=KS),
    MAP(k=KS),
    MAP(k=KS, denominator="min_k"),
    MRR(),
    MRR(k=KS),
]
ITEMS = [f"i{j}" for j in range(12)]


@st.composite
def users(draw: Any, perfect: bool = False) -> list[dict[str, Any]]:
    out = []
    for u in range(draw(st.integers(1, 8))):
        cands = draw(st.lists(st.sampled_from(ITEMS), min_size=1, max_size=10, unique=True))
        held = draw(st.lists(st.sampled_from(cands), max_size=4, unique=True))
        if not perfect and draw(st.booleans()):
            held += draw(st.lists(st.sampled_from(ITEMS), max_size=2))  # maybe not candidates
        if perfect:
            held = held or [cands[0]]
            rest = [c for c in cands if c not in held]
            ranked: list[str] | None = held + draw(st.permutations(rest))
        elif draw(st.integers(0, 5)) == 0:
            ranked = None  # the adapter failed
        else:
            ranked = draw(st.permutations(cands))
            ranked = ranked[: draw(st.integers(0, len(ranked)))]  # maybe omit some
            if draw(st.booleans()):
                ranked = [*ranked, "not-a-candidate"]
                ranked.insert(draw(st.integers(0, len(ranked) - 1)), "also-not-one")
        history = draw(st.lists(st.sampled_from(ITEMS), max_size=5))
        out.append(
            {"user": f"u{u}", "cands": cands, "held": held, "ranked": ranked, "history": history}
        )
    return out


def make_ctx(rows: list[dict[str, Any]], resamples: int = 0) -> ScoringContext:
    return ScoringContext(
        spec=SPEC,
        requests=[
            RecommendationRequest(
                id=str(i),
                language="en",
                user=row["user"],
                history=tuple(row["history"]),
                candidates=tuple(row["cands"]),
            )
            for i, row in enumerate(rows)
        ],
        references=[tuple(row["held"]) for row in rows],
        responses=[
            None if row["ranked"] is None else RankingResponse(ranked=tuple(row["ranked"]))
            for row in rows
        ],
        bootstrap=BootstrapConfig(resamples=resamples, seed=1),
    )


def scored(rows: list[dict[str, Any]], metrics: list[Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for metric in metrics:  # one at a time: MRR() and MRR(k=...) share the name "mrr"
        values, _, _ = score_task(make_ctx(rows), [metric])
        out.update({f"{metric.params_tag()}|{name}": v.value for name, v in values.items()})
    return out


def reference_values(row: dict[str, Any]) -> dict[str, float]:
    """The definitions, one user at a time, in plain Python."""
    rel = set(row["held"])
    cands = set(row["cands"])
    ranked = [x for x in (row["ranked"] or []) if x in cands]
    hits = [1.0 if x in rel else 0.0 for x in ranked]
    out: dict[str, float] = {}
    first = next((i for i, h in enumerate(hits) if h), None)
    out["mrr"] = 0.0 if first is None else 1 / (first + 1)
    for k in KS:
        top = hits[:k]
        h = sum(top)
        out[f"hit_rate@{k}"] = float(h > 0)
        out[f"recall@{k}"] = h / len(rel)
        out[f"precision@{k}"] = h / k
        dcg = sum(g / math.log2(i + 2) for i, g in enumerate(top))
        idcg = sum(1 / math.log2(i + 2) for i in range(min(len(rel), k)))
        out[f"ndcg@{k}"] = dcg / idcg
        ap = sum(sum(top[: i + 1]) / (i + 1) for i, g in enumerate(top) if g)
        out[f"map@{k}"] = ap / len(rel)
        out[f"map_min@{k}"] = ap / min(len(rel), k)
        out[f"mrr@{k}"] = out["mrr"] if first is not None and first < k else 0.0
    return out


@settings(max_examples=150, deadline=None)
@given(users())
def test_values_are_in_unit_interval_and_equal_the_definitions(rows: list[dict]) -> None:
    kept = [row for row in rows if row["held"]]
    ctx = make_ctx(rows)
    for metric in ACCURACY:
        if not kept:
            assert metric.unavailable(ctx)
            continue
        per_user = [reference_values(row) for row in kept]
        for value in metric.score(ctx):
            assert 0.0 <= value.value <= 1.0, value
            assert value.n == len(kept)
            assert f"|excluded:{len(rows) - len(kept)}|" in value.signature
            key = value.name
            if isinstance(metric, MAP) and metric.denominator == "min_k":
                key = key.replace("map@", "map_min@")
            expected = float(np.mean([p[key] for p in per_user]))
            assert value.value == pytest.approx(expected, abs=1e-12), key


@settings(max_examples=100, deadline=None)
@given(users(perfect=True))
def test_a_perfect_ranking_scores_one(rows: list[dict]) -> None:
    ctx = make_ctx(rows)
    for metric in [HitRate(k=KS), NDCG(k=KS), MAP(k=KS, denominator="min_k"), MRR(), MRR(k=KS)]:
        for value in metric.score(ctx):
            assert value.value == pytest.approx(1.0, abs=1e-12), value.name
    # ranx's MAP@k divides by |R|, so it reaches 1 when |R| <= k, as recall does
    for metric in [MAP(k=KS), Recall(k=KS)]:
        for k, value in zip(KS, metric.score(ctx), strict=True):
            if all(len(row["held"]) <= k for row in rows):
                assert value.value == pytest.approx(1.0, abs=1e-12), value.name
            else:
                assert value.value < 1.0


@settings(max_examples=100, deadline=None)
@given(users(), st.randoms(use_true_random=False))
def test_the_order_of_users_does_not_matter(rows: list[dict], rnd: Any) -> None:
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    metrics = [*ACCURACY, Coverage(k=KS), Popularity(k=KS)]
    if not any(row["held"] for row in rows):
        return
    a, b = scored(rows, metrics), scored(shuffled, metrics)
    assert a.keys() == b.keys()
    for key in a:
        assert a[key] == pytest.approx(b[key], abs=1e-12), key


@settings(max_examples=40, deadline=None)
@given(users())
def test_interval_lies_within_the_users_scores(rows: list[dict]) -> None:
    if not any(row["held"] for row in rows):
        return
    ctx = make_ctx(rows, resamples=200)
    for metric in ACCURACY:
        per_example = metric.per_example(ctx)
        for value in metric.score(ctx):
            assert value.ci_low is not None and value.ci_high is not None
            # every resample's mean lies between the lowest and highest user's score
            users_ = [v for v in per_example[value.name] if v is not None]
            assert min(users_) - 1e-12 <= value.ci_low <= value.ci_high <= max(users_) + 1e-12
