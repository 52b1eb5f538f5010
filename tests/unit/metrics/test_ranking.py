"""Ranking metrics on hand-worked examples.

Every expected value below is worked out by hand from the definitions in
``bench/metrics/ranking.py`` (and, for the accuracy metrics, agrees with ranx; the golden test
checks that on MovieLens-100K). The bootstrap interval is checked against a plain
re-computation from the seeded resample indices.
"""

from __future__ import annotations

import doctest
import math
import re
from collections.abc import Sequence

import numpy as np
import pytest
from pydantic import ValidationError

from bench.errors import DataError
from bench.families.recommendation import RankingResponse, RecommendationRequest
from bench.metrics import ranking
from bench.metrics.base import BootstrapConfig, ScoringContext, percentile_ci, score_task
from bench.metrics.ranking import (
    MAP,
    MRR,
    NDCG,
    Coverage,
    HitRate,
    Popularity,
    Precision,
    Recall,
)
from bench.spec import TaskSpec, parse_task

_TASK = """\
name: ranking-test
version: 1
family: recommendation
languages: [en]
description: Carries the metric list for ranking metric tests.
source:
  kind: builtin
  location: smoke/recommendation-synthetic
  format: csv
  files: {test: interactions.csv}
  splits: {test: test}
metrics: [ndcg]
primary_metric: ndcg@10
"""


def spec() -> TaskSpec:
    return parse_task(_TASK, check_names=False)


def L(i: int) -> float:
    """The discount of rank i (1-based): 1 / log2(i + 1)."""
    return 1.0 / math.log2(i + 1)


def make_ctx(
    candidates: Sequence[Sequence[str]],
    references: Sequence[Sequence[str]],
    ranked: Sequence[Sequence[str] | None],
    histories: Sequence[Sequence[str]] | None = None,
    scores: Sequence[Sequence[float] | None] | None = None,
    bootstrap: BootstrapConfig | None = None,
) -> ScoringContext:
    n = len(candidates)
    histories = histories or [()] * n
    scores = scores or [None] * n
    requests = [
        RecommendationRequest(
            id=str(i),
            language="en",
            user=f"u{i}",
            history=tuple(histories[i]),
            candidates=tuple(candidates[i]),
        )
        for i in range(n)
    ]
    responses = [
        None
        if ranked[i] is None
        else RankingResponse(
            ranked=tuple(ranked[i] or ()),
            scores=None if scores[i] is None else tuple(scores[i] or ()),
        )
        for i in range(n)
    ]
    return ScoringContext(
        spec=spec(),
        requests=requests,
        references=[tuple(r) for r in references],
        responses=responses,
        bootstrap=bootstrap or BootstrapConfig(resamples=0),
    )


def values(metric: ranking._RankingMetric, ctx: ScoringContext) -> dict[str, float]:
    return {v.name: v.value for v in metric.score(ctx)}


ABCD = ("a", "b", "c", "d")


# --------------------------------------------------------------------------- accuracy metrics


def test_ndcg_two_relevant_items_by_hand() -> None:
    # hits at ranks 2 and 4; the ideal ranking puts them at 1 and 2.
    ctx = make_ctx([ABCD], [("b", "d")], [ABCD])
    got = values(NDCG(k=[1, 2, 4, 10]), ctx)
    assert got["ndcg@1"] == 0.0
    assert got["ndcg@2"] == pytest.approx(L(2) / (L(1) + L(2)), abs=1e-15)
    assert got["ndcg@4"] == pytest.approx((L(2) + L(4)) / (L(1) + L(2)), abs=1e-15)
    # k beyond the list: IDCG still over min(|R|, k) = 2 positions, DCG unchanged
    assert got["ndcg@10"] == got["ndcg@4"]
    assert round(got["ndcg@4"], 6) == 0.650921


def test_ndcg_idcg_is_over_min_relevant_k() -> None:
    # 3 relevant, k = 2, both top slots relevant -> a perfect 1, not 2/3 of one
    ctx = make_ctx([ABCD], [("a", "b", "c")], [ABCD])
    assert values(NDCG(k=[2]), ctx)["ndcg@2"] == 1.0


def test_map_at_k_by_hand_and_its_two_denominators() -> None:
    # relevant a, c, f (f is not a candidate: never retrievable, still in |R|)
    ranked = ("a", "b", "c", "d", "e")
    ctx = make_ctx([ranked], [("a", "c", "f")], [ranked])
    got = values(MAP(k=[1, 2, 3, 5]), ctx)
    assert got["map@1"] == pytest.approx(1 / 3)
    assert got["map@2"] == pytest.approx(1 / 3)
    assert got["map@3"] == pytest.approx((1 + 2 / 3) / 3)
    assert got["map@5"] == pytest.approx((1 + 2 / 3) / 3)
    mink = values(MAP(k=[1, 2, 3, 5], denominator="min_k"), ctx)
    assert mink["map@1"] == 1.0  # min(3, 1) = 1
    assert mink["map@2"] == pytest.approx(1 / 2)
    assert mink["map@3"] == pytest.approx((1 + 2 / 3) / 3)
    assert mink["map@5"] == pytest.approx((1 + 2 / 3) / 3)
    sig = MAP(k=[3]).score(ctx)[0].signature
    assert "|norm:relevant|" in sig
    assert "|norm:min_k|" in MAP(k=[3], denominator="min_k").score(ctx)[0].signature


def test_mrr_by_hand_with_and_without_cut_off() -> None:
    ctx = make_ctx(
        [ABCD, ABCD, ABCD],
        [("c", "d"), ("a",), ("z",)],  # first hits at 3, 1, never
        [ABCD, ABCD, ABCD],
    )
    assert values(MRR(), ctx) == {"mrr": pytest.approx((1 / 3 + 1 + 0) / 3)}
    cut = values(MRR(k=[1, 3]), ctx)
    assert cut["mrr@1"] == pytest.approx(1 / 3)
    assert cut["mrr@3"] == pytest.approx((1 / 3 + 1) / 3)
    assert "|cutoff:none|" in MRR().score(ctx)[0].signature


def test_hit_rate_recall_precision_by_hand() -> None:
    ctx = make_ctx(
        [ABCD, ABCD],
        [("b", "c", "z"), ("d",)],
        [ABCD, ABCD],
    )
    assert values(HitRate(k=[1, 2, 4]), ctx) == {
        "hit_rate@1": 0.0,
        "hit_rate@2": 0.5,
        "hit_rate@4": 1.0,
    }
    assert values(Recall(k=[2, 4]), ctx) == {
        "recall@2": pytest.approx((1 / 3 + 0) / 2),
        "recall@4": pytest.approx((2 / 3 + 1) / 2),
    }
    assert values(Precision(k=[2, 4, 8]), ctx) == {
        "precision@2": pytest.approx((1 / 2 + 0) / 2),
        "precision@4": pytest.approx((2 / 4 + 1 / 4) / 2),
        "precision@8": pytest.approx((2 / 8 + 1 / 8) / 2),  # divides by k, not the list length
    }


def test_repeated_reference_items_count_once() -> None:
    ctx = make_ctx([ABCD], [("b", "b")], [ABCD])
    assert values(Recall(k=[2]), ctx)["recall@2"] == 1.0
    assert values(NDCG(k=[2]), ctx)["ndcg@2"] == pytest.approx(L(2))


# --------------------------------------------------------------------------- how rankings are read


def test_candidates_missing_from_ranked_rank_last() -> None:
    # only a and b listed; c (relevant) is unlisted: a miss at every cut-off, even k = 4
    ctx = make_ctx([ABCD], [("c",)], [("a", "b")])
    for metric, name in [
        (HitRate(k=[4]), "hit_rate@4"),
        (Recall(k=[4]), "recall@4"),
        (Precision(k=[4]), "precision@4"),
        (NDCG(k=[4]), "ndcg@4"),
        (MAP(k=[4]), "map@4"),
    ]:
        assert values(metric, ctx)[name] == 0.0, name
    assert values(MRR(), ctx)["mrr"] == 0.0
    assert "|missing:last|" in NDCG().score(ctx)[0].signature


def test_ids_that_are_not_candidates_are_dropped_before_ranks_are_counted() -> None:
    # x and y are not candidates (hallucinated, or already in the history): b is at rank 2
    ctx = make_ctx([("a", "b")], [("b",)], [("x", "a", "y", "b")])
    assert values(MRR(), ctx)["mrr"] == 0.5
    assert values(NDCG(k=[2]), ctx)["ndcg@2"] == pytest.approx(L(2))
    assert values(Precision(k=[2]), ctx)["precision@2"] == 0.5


def test_failed_response_is_an_empty_ranking() -> None:
    ctx = make_ctx([ABCD, ABCD], [("a",), ("a",)], [ABCD, None])
    assert values(HitRate(k=[1]), ctx) == {"hit_rate@1": 0.5}
    assert values(MRR(), ctx) == {"mrr": 0.5}
    assert values(NDCG(k=[3]), ctx)["ndcg@3"] == 0.5
    assert NDCG().score(ctx)[0].n == 2  # a failure is scored, not dropped


def test_ranked_order_is_authoritative_scores_never_reorder() -> None:
    # scores tie (and even contradict the order): the list order decides
    ctx = make_ctx(
        [ABCD, ABCD],
        [("b",), ("b",)],
        [("a", "b", "c", "d"), ("a", "b", "c", "d")],
        scores=[(1.0, 1.0, 1.0, 1.0), (0.0, 5.0, 1.0, 2.0)],
    )
    assert values(MRR(), ctx)["mrr"] == 0.5
    assert values(HitRate(k=[1]), ctx)["hit_rate@1"] == 0.0
    assert "|ties:ranked-order|" in MRR().score(ctx)[0].signature


# --------------------------------------------------------------------------- excluded users


def test_users_without_relevant_items_are_excluded_and_counted() -> None:
    ctx = make_ctx([ABCD, ABCD, ABCD], [("a",), (), ("d",)], [ABCD, ABCD, ABCD])
    [value] = NDCG(k=[4]).score(ctx)
    assert value.n == 2
    assert value.value == pytest.approx((1 + L(4)) / 2)
    assert "|excluded:1|" in value.signature
    per_user = NDCG(k=[4]).per_example(ctx)["ndcg@4"]
    assert per_user[0] == 1.0 and per_user[1] is None and per_user[2] == pytest.approx(L(4))


def test_all_users_excluded_is_reported_unavailable_not_a_value() -> None:
    ctx = make_ctx([ABCD, ABCD], [(), ()], [ABCD, ABCD])
    values_, skipped, _ = score_task(ctx, [NDCG(), MRR(), Coverage(), Popularity()])
    assert values_ == {}
    assert set(skipped) == {"ndcg", "mrr", "coverage", "popularity"}
    assert "all 2 users excluded" in skipped["ndcg"]


def test_signature_names_every_choice() -> None:
    ctx = make_ctx([ABCD, ABCD], [("a",), ()], [ABCD, ABCD], bootstrap=BootstrapConfig())
    [value] = NDCG().score(ctx)
    assert re.fullmatch(
        r"ndcg@10\|binary\|log2\|ties:ranked-order\|missing:last\|excluded:1"
        r"\|split:leave-last-out\|cand:full\|cand-sha:[0-9a-f]{16}"
        r"\|boot:1000\|conf:0\.95\|seed:12345\|v:1",
        value.signature,
    ), value.signature


def test_signature_changes_with_the_candidates() -> None:
    base = make_ctx([ABCD, ABCD], [("a",), ("b",)], [ABCD, ABCD])
    other = make_ctx([ABCD, ("a", "b", "c")], [("a",), ("b",)], [ABCD, ABCD])
    sig_base = NDCG().score(base)[0].signature
    assert NDCG().score(make_ctx([ABCD, ABCD], [("a",), ("b",)], [ABCD, ABCD]))[0].signature == (
        sig_base
    )
    assert NDCG().score(other)[0].signature != sig_base
    assert Coverage().score(other)[0].signature != Coverage().score(base)[0].signature


# --------------------------------------------------------------------------- coverage, popularity


def test_coverage_by_hand() -> None:
    # catalogue {a, b, c, d, e} (e is a candidate of the excluded user only); top-1 [a], [a];
    # top-2 [a, b], [a, c]
    ctx = make_ctx(
        [ABCD, ABCD, ("e",)],
        [("a",), ("b",), ()],
        [("a", "b", "c", "d"), ("a", "c"), ("e",)],
    )
    got = {v.name: v for v in Coverage(k=[1, 2, 4]).score(ctx)}
    assert got["coverage@1"].value == 1 / 5
    assert got["coverage@2"].value == 3 / 5
    assert got["coverage@4"].value == 4 / 5
    assert got["coverage@1"].ci_low is None  # a set statistic: no interval
    assert re.fullmatch(
        r"coverage@1\|catalogue:5\|ties:ranked-order\|missing:last\|excluded:1"
        r"\|split:leave-last-out\|cand:full\|cand-sha:[0-9a-f]{16}\|ci:none\|v:1",
        got["coverage@1"].signature,
    ), got["coverage@1"].signature


def test_popularity_by_hand() -> None:
    # histories [a, a, b] and [a] (and [b] for the excluded user): a=3, b=2, c=d=0
    ctx = make_ctx(
        [("a", "b", "c", "d"), ("a", "b", "c", "d"), ("a", "b"), ABCD],
        [("c",), ("d",), ("a",), ()],
        [("a", "c"), ("b", "c", "d"), None, ("a",)],
        histories=[("a", "a", "b"), ("a",), (), ("b",)],
    )
    got = {v.name: v for v in Popularity(k=[1, 2]).score(ctx)}
    # @1: users 0, 1 recommend a (3) and b (2); user 2 failed (empty: left out, counted)
    assert got["popularity@1"].value == pytest.approx((3 + 2) / 2)
    assert got["popularity@1"].n == 2
    assert got["popularity@1"].scale == 3.0
    assert got["popularity@1"].higher_is_better is False
    assert got["popularity@1/normalised"].value == pytest.approx((3 + 2) / 2 / 3)
    # @2: user 0 [a, c] -> 1.5, user 1 [b, c] -> 1.0
    assert got["popularity@2"].value == pytest.approx((1.5 + 1.0) / 2)
    assert "|excluded:1|" in got["popularity@2"].signature
    assert "|pop:history-count|max:3|empty:1|" in got["popularity@2"].signature
    assert "|norm:max|" in got["popularity@2/normalised"].signature
    per_user = Popularity(k=[2]).per_example(ctx)["popularity@2"]
    assert per_user == [1.5, 1.0, None, None]


def test_popularity_without_histories_is_unavailable() -> None:
    ctx = make_ctx([ABCD], [("a",)], [ABCD])
    assert "history" in (Popularity().unavailable(ctx) or "")


# --------------------------------------------------------------------------- intervals


def test_interval_is_the_seeded_user_bootstrap() -> None:
    rng = np.random.default_rng(7)
    n = 60
    cands = [tuple(f"i{j}" for j in rng.permutation(20)) for _ in range(n)]
    refs = [
        tuple(c[j] for j in rng.choice(20, size=int(rng.integers(1, 4)), replace=False))
        for c in cands
    ]
    boot = BootstrapConfig(resamples=500, seed=3)
    ctx = make_ctx(cands, refs, cands, bootstrap=boot)
    [value] = NDCG(k=[5]).score(ctx)
    per_user = np.array(NDCG(k=[5]).per_example(ctx)["ndcg@5"], dtype=float)
    samples = per_user[boot.resample_indices(n)].mean(axis=1)
    assert (value.ci_low, value.ci_high) == pytest.approx(
        percentile_ci(samples, boot.confidence), abs=1e-12
    )
    assert value.ci_low < value.value < value.ci_high
    # seeded: the same again, from a fresh context
    again = NDCG(k=[5]).score(make_ctx(cands, refs, cands, bootstrap=boot))[0]
    assert (again.ci_low, again.ci_high) == (value.ci_low, value.ci_high)


def test_no_interval_without_resamples() -> None:
    ctx = make_ctx([ABCD], [("a",)], [ABCD])
    [value] = HitRate().score(ctx)
    assert value.ci_low is None and value.ci_high is None
    assert "|ci:none|" in value.signature


# --------------------------------------------------------------------------- plumbing


def test_metrics_share_one_table_through_the_memo() -> None:
    ctx = make_ctx([ABCD], [("a",)], [ABCD])
    NDCG().score(ctx)
    inputs = ctx.memo["rank.inputs"]
    table = inputs.table
    HitRate().score(ctx)
    MAP().score(ctx)
    Coverage().score(ctx)
    assert ctx.memo["rank.inputs"] is inputs
    assert ctx.memo["rank.inputs"].table is table


def test_per_example_has_one_column_per_cut_off() -> None:
    ctx = make_ctx([ABCD, ABCD], [("b",), ("a",)], [ABCD, ABCD])
    assert HitRate(k=[1, 2]).per_example(ctx) == {
        "hit_rate@1": [0.0, 1.0],
        "hit_rate@2": [1.0, 1.0],
    }
    assert MRR().per_example(ctx) == {"mrr": [0.5, 1.0]}


@pytest.mark.parametrize("k", [[], [0], [-1], [5, 5]])
def test_bad_cut_offs_are_refused(k: list[int]) -> None:
    with pytest.raises(ValidationError):
        NDCG(k=k)


def test_unknown_params_are_refused() -> None:
    with pytest.raises(ValidationError):
        NDCG(cutoff=10)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        MAP(denominator="k")  # type: ignore[arg-type]


def test_a_string_reference_is_refused() -> None:
    with pytest.raises(DataError, match="string"):
        NDCG().compute([["a"]], ["a"])


def test_compute_on_plain_lists() -> None:
    got = NDCG(k=[2]).compute([["a", "b"], None, ["c"]], [("b",), ("a",), ()])
    assert got == {"ndcg@2": pytest.approx(L(2) / 2)}
    with pytest.raises(DataError, match="no user"):
        NDCG().compute([["a"]], [()])


def test_registry_names_resolve_here() -> None:
    from bench.registry import registry

    expected = {
        "hit_rate": HitRate,
        "recall": Recall,
        "precision": Precision,
        "ndcg": NDCG,
        "mrr": MRR,
        "map": MAP,
        "coverage": Coverage,
        "popularity": Popularity,
    }
    for name, cls in expected.items():
        assert registry.get("metric", name) is cls
        assert cls.name == name
        assert cls.families == ("recommendation",)


def test_docstring_examples_run() -> None:
    result = doctest.testmod(ranking)
    assert result.attempted >= 8
    assert result.failed == 0
