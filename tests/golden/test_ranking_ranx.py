"""Ranking metrics against ranx on MovieLens-100K runs, to 1e-9.

The split is made here from the original ``u.data`` (``../shared/data/movielens-100k/ml-100k``;
research-only data, read and never copied): per user, the interactions are ordered by
timestamp (ties keep file order) and the last one is held out (leave-last-out) — or, for a
second split that gives every user several relevant items, the last five. Everything else is
the user's history, and the candidates are every item not in it (full ranking).

Three rankers written here produce the runs: ``random`` (seeded), ``most-popular`` (training
interaction counts) and a cosine ``item-knn`` over the binary user-item matrix; ties are broken
by item number, so each ranking is a strict order. ranx sorts a run by score, so each item gets
the strictly decreasing score ``len(ranking) - position``: ranx sees exactly bench's order. A
fourth run, ``item-knn`` cut to its top 15, checks that unlisted candidates are misses for both.

HR, recall, precision, NDCG, MRR (whole ranking and @k) and MAP at 3, 5, 10 and 20 must equal
``ranx.evaluate``'s, mean and per user, to 1e-9. ranx is a dev dependency (``pip install ranx``).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from bench.families.recommendation import RankingResponse, RecommendationRequest
from bench.metrics.base import BootstrapConfig, ScoringContext, score_task
from bench.metrics.ranking import MAP, MRR, NDCG, HitRate, Precision, Recall
from bench.spec import parse_task

ranx = pytest.importorskip("ranx")

pytestmark = pytest.mark.filterwarnings(
    # ranx's numba kernels cast the hashed ids; harmless, and not ours
    "ignore::numba.core.errors.NumbaTypeSafetyWarning",
)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
ML100K = DATA / "movielens-100k" / "ml-100k"
KS = [3, 5, 10, 20]  # 3 < |R| = 5 in the second split: tells MAP's normalisers apart
RANX_METRICS = [
    f"{m}@{k}" for m in ("hit_rate", "recall", "precision", "ndcg", "map", "mrr") for k in KS
] + ["mrr"]
SEED = 20240607

_TASK = """\
name: ranking-golden
version: 1
family: recommendation
languages: [en]
description: Carries the metric list for the ranx golden test.
source:
  kind: builtin
  location: smoke/recommendation-synthetic
  format: csv
  files: {test: interactions.csv}
  splits: {test: test}
metrics: [ndcg]
primary_metric: ndcg@10
"""


class Split:
    """A per-user temporal split of MovieLens-100K, held out = the last ``held_out`` items."""

    def __init__(self, held_out: int) -> None:
        raw = np.loadtxt(ML100K / "u.data", dtype=np.int64)
        users, items, times = raw[:, 0], raw[:, 1], raw[:, 3]
        # Stable sort by (user, timestamp): ties keep file order, so "last" is the later line.
        order = np.lexsort((times, users))
        users, items = users[order], items[order]
        self.n_items = int(raw[:, 1].max())
        self.user_ids = np.unique(users)
        starts = np.searchsorted(users, self.user_ids)
        ends = np.append(starts[1:], users.size)
        self.history: list[np.ndarray] = []
        self.test: list[np.ndarray] = []
        for s, e in zip(starts, ends, strict=True):
            self.history.append(items[s : e - held_out])
            self.test.append(items[e - held_out : e])
        # binary user x item training matrix (items are numbered 1..n_items)
        self.train = np.zeros((len(self.user_ids), self.n_items + 1), dtype=np.float64)
        for u, hist in enumerate(self.history):
            self.train[u, hist] = 1.0
        self.train[:, 0] = 0.0

    def candidates(self, u: int) -> np.ndarray:
        """Every item not in user ``u``'s history, by item number."""
        mask = self.train[u, 1:] == 0
        return np.flatnonzero(mask) + 1

    def rank(self, ranker: str) -> list[np.ndarray]:
        """Each user's candidates, best first, ties broken by item number."""
        rng = np.random.default_rng(SEED)
        popularity = self.train.sum(axis=0)
        if ranker == "item-knn":
            norms = np.sqrt(self.train.sum(axis=0))
            norms[norms == 0] = 1.0
            sim = (self.train.T @ self.train) / norms[:, None] / norms[None, :]
            np.fill_diagonal(sim, 0.0)
            user_scores = self.train @ sim
        out = []
        for u in range(len(self.user_ids)):
            cands = self.candidates(u)
            if ranker == "random":
                score = rng.random(cands.size)
            elif ranker == "most-popular":
                score = popularity[cands]
            else:
                score = user_scores[u, cands]
            # lexsort: last key is primary -> by score descending, then item number ascending
            out.append(cands[np.lexsort((cands, -score))])
        return out


@functools.cache
def split(held_out: int) -> Split:
    return Split(held_out)


def run_both(
    data: Split, rankings: list[np.ndarray], cut: int | None = None
) -> tuple[dict[str, float], dict[str, list[float | None]], dict[str, float], dict[str, dict]]:
    requests, responses, references = [], [], []
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for u, ranked in enumerate(rankings):
        user = f"u{data.user_ids[u]}"
        ids = [f"i{i}" for i in ranked]
        listed = ids if cut is None else ids[:cut]
        requests.append(
            RecommendationRequest(
                id=user,
                language="en",
                user=user,
                history=tuple(f"i{i}" for i in data.history[u]),
                candidates=tuple(f"i{i}" for i in data.candidates(u)),
            )
        )
        responses.append(RankingResponse(ranked=tuple(listed)))
        references.append(tuple(f"i{i}" for i in data.test[u]))
        qrels[user] = {f"i{i}": 1 for i in data.test[u]}
        run[user] = {item: float(len(listed) - pos) for pos, item in enumerate(listed)}
    ctx = ScoringContext(
        spec=parse_task(_TASK, check_names=False),
        requests=requests,
        references=references,
        responses=responses,
        bootstrap=BootstrapConfig(resamples=0),
    )
    metrics = [
        HitRate(k=KS),
        Recall(k=KS),
        Precision(k=KS),
        NDCG(k=KS),
        MAP(k=KS),
        MRR(),
        MRR(k=KS),
    ]
    ours: dict[str, float] = {}
    per_user: dict[str, list[float | None]] = {}
    for metric in metrics:  # score_task keys by name, so MRR and MRR@k are scored apart
        values, skipped, examples = score_task(ctx, [metric])
        assert not skipped
        ours.update({name: v.value for name, v in values.items()})
        for key in examples[0]:
            per_user[key] = [row[key] for row in examples]
    ranx_run = ranx.Run(run)
    theirs = ranx.evaluate(ranx.Qrels(qrels), ranx_run, RANX_METRICS)
    return ours, per_user, {m: float(v) for m, v in theirs.items()}, dict(ranx_run.scores)


@pytest.mark.slow  # ~1 min in all: five rankers on the full MovieLens-100k
@pytest.mark.parametrize(
    ("held_out", "ranker", "cut"),
    [
        (1, "random", None),
        (1, "most-popular", None),
        (1, "item-knn", None),
        (1, "item-knn", 15),
        (5, "random", None),
        (5, "item-knn", None),
        (5, "most-popular", 15),
    ],
)
def test_ranking_metrics_equal_ranx_on_movielens_100k(
    held_out: int, ranker: str, cut: int | None
) -> None:
    if not (ML100K / "u.data").is_file():
        pytest.fail(f"expected MovieLens-100K at {ML100K}")
    data = split(held_out)
    ours, per_user, theirs, theirs_per_user = run_both(data, data.rank(ranker), cut)
    assert set(ours) == set(theirs)
    for name in RANX_METRICS:
        assert ours[name] == pytest.approx(theirs[name], abs=1e-9, rel=0), name
        # per user too: ranx keeps them by user id, bench in request order (also by user)
        users = [f"u{u}" for u in data.user_ids]
        expected = np.array([theirs_per_user[name][user] for user in users])
        got = np.array(per_user[name], dtype=float)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9, err_msg=name)
    # the runs are not degenerate: the rankers differ and some hits happen
    assert 0 < ours["hit_rate@20"] < 1


def test_the_rankers_order_as_expected_on_ndcg() -> None:
    """A sanity check of the runs themselves: kNN > most-popular > random on NDCG@10."""
    data = split(1)
    ndcg = {}
    for ranker in ("random", "most-popular", "item-knn"):
        ctx_values = NDCG(k=[10]).compute(
            [[f"i{i}" for i in r] for r in data.rank(ranker)],
            [tuple(f"i{i}" for i in t) for t in data.test],
        )
        ndcg[ranker] = ctx_values["ndcg@10"]
    assert ndcg["random"] < ndcg["most-popular"] < ndcg["item-knn"], ndcg
