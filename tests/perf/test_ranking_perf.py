"""Benchmark: ranking metrics for 100,000 users x 100 candidates, bench against ranx.

Not a timed assertion (timings depend on the machine); it asserts only that bench and ranx give
the same numbers, and prints the figures side by side. 100,000 users at full
scale (``BENCH_PERF_SCALE=full``, as ``bench selftest --perf`` runs it), 5,000 under plain
pytest (``BENCH_PERF_USERS`` sets another number):

    BENCH_PERF_SCALE=full python -m pytest tests/perf/test_ranking_perf.py -s

The input: each user has 100 candidates drawn from 1,000 items, one of them held out (the
relevant item), and a random score per candidate; the response lists the candidates by
decreasing score (``BENCH_PERF_USERS`` changes the number of users). Both libraries compute
NDCG@10, HR@10, MRR, MAP@10 and Recall@10 from the same rankings:

* bench scores a :class:`ScoringContext` of requests and responses, once without intervals
  (what ranx computes) and once with the default 1,000-resample user bootstrap;
* ranx gets the same rankings as ``{user: {item: score}}`` dicts. "ranx, end to end" builds
  ``Qrels`` and ``Run`` from the dicts and evaluates; "ranx, evaluate" times only
  ``ranx.evaluate`` on the built objects (it converts them to its numba arrays on every call).
  ranx's numba kernels are compiled (and its disk cache filled) by a warm-up on 100 users
  first, so no JIT time is counted; the warm-up uses at least 10 users because ranx drops to
  one thread for smaller inputs.
"""

from __future__ import annotations

import importlib.metadata
import os
import time
from typing import Any

import numpy as np
import pytest

from bench.families.recommendation import RankingResponse, RecommendationRequest
from bench.metrics.base import BootstrapConfig, ScoringContext
from bench.metrics.ranking import MAP, MRR, NDCG, HitRate, Recall, _Inputs
from bench.spec import parse_task

pytestmark = [
    pytest.mark.filterwarnings("ignore::numba.core.errors.NumbaTypeSafetyWarning"),
]

ranx = pytest.importorskip("ranx")

METRICS = ["ndcg@10", "hit_rate@10", "mrr", "map@10", "recall@10"]
CATALOGUE = 1000
CANDIDATES = 100

_TASK = """\
name: ranking-perf
version: 1
family: recommendation
languages: [en]
description: Carries the metric list for the ranking benchmark.
source:
  kind: builtin
  location: smoke/recommendation-synthetic
  format: csv
  files: {test: interactions.csv}
  splits: {test: test}
metrics: [ndcg, hit_rate, mrr, map, recall]
primary_metric: ndcg@10
"""


def build(n_users: int, seed: int = 7) -> tuple[list, list, list, dict, dict]:
    """Requests, references, responses, and the same rankings as ranx qrels and run dicts."""
    rng = np.random.default_rng(seed)
    names = [f"item{j}" for j in range(CATALOGUE)]
    requests, references, responses = [], [], []
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for start in range(0, n_users, 10_000):
        size = min(10_000, n_users - start)
        cands = np.argpartition(rng.random((size, CATALOGUE)), CANDIDATES, axis=1)[:, :CANDIDATES]
        scores = rng.random((size, CANDIDATES))
        order = np.argsort(-scores, axis=1)
        ranked = np.take_along_axis(cands, order, axis=1)
        ranked_scores = np.take_along_axis(scores, order, axis=1)
        # strictly decreasing scores: ranx's order (by score) is then exactly the listed one
        assert (np.diff(ranked_scores, axis=1) < 0).all()
        for row in range(size):
            user = f"user{start + row}"
            candidates = tuple(names[j] for j in cands[row])
            listed = tuple(names[j] for j in ranked[row])
            requests.append(
                RecommendationRequest.model_construct(
                    id=user, language="en", user=user, history=(), candidates=candidates
                )
            )
            references.append((candidates[0],))
            responses.append(RankingResponse.model_construct(ranked=listed, scores=None))
            qrels[user] = {candidates[0]: 1}
            run[user] = dict(zip(listed, ranked_scores[row].tolist(), strict=True))
    return requests, references, responses, qrels, run


def bench_scores(
    requests: list, references: list, responses: list, resamples: int
) -> tuple[float, float, dict[str, float]]:
    """``(total seconds, seconds of the one pass over users, values)``."""
    ctx = ScoringContext(
        spec=parse_task(_TASK, check_names=False),
        requests=requests,
        references=references,
        responses=responses,
        bootstrap=BootstrapConfig(resamples=resamples),
    )
    metrics = [NDCG(k=[10]), HitRate(k=[10]), MRR(), MAP(k=[10]), Recall(k=[10])]
    start = time.perf_counter()
    _ = _Inputs.of(ctx).table  # what the first metric would build; timed apart for the split
    table_s = time.perf_counter() - start
    values = {v.name: v.value for m in metrics for v in m.score(ctx)}
    return time.perf_counter() - start, table_s, values


def test_ranking_metrics_100k_users_bench_vs_ranx(scale: Any) -> None:
    n_users = scale.pick(100_000, 1_000, "BENCH_PERF_USERS")
    requests, references, responses, qrels, run = build(n_users)

    # Warm-up: compile ranx's kernels (>= 10 users, or ranx pins numba to one thread).
    few = list(qrels)[:100]
    ranx.evaluate(
        ranx.Qrels({u: qrels[u] for u in few}), ranx.Run({u: run[u] for u in few}), METRICS
    )

    start = time.perf_counter()
    ranx_qrels, ranx_run = ranx.Qrels(qrels), ranx.Run(run)
    built = time.perf_counter()
    theirs = ranx.evaluate(ranx_qrels, ranx_run, METRICS)
    ranx_total = time.perf_counter() - start
    ranx_build = built - start
    start = time.perf_counter()
    ranx.evaluate(ranx_qrels, ranx_run, METRICS)
    ranx_eval = time.perf_counter() - start
    typed_qrels, typed_run = ranx_qrels.to_typed_list(), ranx_run.to_typed_list()
    start = time.perf_counter()
    ranx.evaluate(typed_qrels, typed_run, METRICS)
    ranx_kernels = time.perf_counter() - start

    points_s, table_s, ours = bench_scores(requests, references, responses, resamples=0)
    ci_s, _, ours_ci = bench_scores(requests, references, responses, resamples=1000)

    import numba

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"\nNDCG@10, HR@10, MRR, MAP@10, Recall@10 for {n_users} users x {CANDIDATES} candidates"
        f" ({cpus} CPUs; ranx {importlib.metadata.version('ranx')}"
        f" on {numba.get_num_threads()} numba threads)"
    )
    rows = [
        ("ranx, end to end (Qrels + Run + evaluate)", ranx_total),
        ("  of which Qrels + Run from the dicts", ranx_build),
        ("ranx, evaluate (built Qrels + Run)", ranx_eval),
        ("ranx, kernels only (its numba arrays)", ranx_kernels),
        ("bench, values (no intervals)", points_s),
        ("  of which the one pass over users", table_s),
        ("  of which the metrics on the table", points_s - table_s),
        ("bench, values + 1000-resample intervals", ci_s),
    ]
    for label, seconds in rows:
        print(f"  {label:<46}{seconds:8.2f} s")
    ratios = [
        ("ranx evaluate / bench values", ranx_eval / points_s),
        ("ranx end to end / bench values", ranx_total / points_s),
        ("ranx end to end / bench values + intervals", ranx_total / ci_s),
        ("ranx evaluate / bench values + intervals", ranx_eval / ci_s),
        ("ranx kernels / bench metrics on the table", ranx_kernels / (points_s - table_s)),
    ]
    for label, ratio in ratios:
        print(f"  {label:<46}{ratio:8.2f} x")
    for name in METRICS:
        print(f"  {name:<12} bench {ours[name]:.12f}   ranx {float(theirs[name]):.12f}")

    for name in METRICS:
        assert ours[name] == pytest.approx(float(theirs[name]), abs=1e-9, rel=0), name
        assert ours_ci[name] == ours[name], name
