"""Recommendation baselines (random, most-popular, item-kNN, BPR-MF) and the synthetic smoke data.

The MovieLens-100K test builds leave-last-out requests itself (each user's last rating by
timestamp is held out, ties broken by the larger item id; candidates are every item the user
has not rated in training) and scores NDCG@10 / HR@10 with a small helper, so it does not
depend on the recommendation family's own protocol code.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import time
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from bench.adapters.base import make_adapter
from bench.adapters.recommendation import (
    BPRMF,
    ItemKNN,
    MostPopular,
    RandomRanker,
    rank_candidates,
)
from bench.errors import AdapterError, ModelSpecError
from bench.families.recommendation import RankingResponse, RecommendationRequest
from bench.families.sentiment import SentimentRequest

REPO = Path(__file__).resolve().parents[3]
ML100K = REPO.parent / "shared" / "data" / "movielens-100k" / "ml-100k"
SYNTHETIC = REPO / "bench" / "builtin" / "smoke" / "recommendation-synthetic"
TRAINED = (MostPopular, ItemKNN, BPRMF)
FAST_BPR = {"epochs": 3, "factors": 16}

Split = tuple[
    list[tuple[RecommendationRequest, tuple[()]]], list[RecommendationRequest], dict[str, str]
]


def _req(
    user: str, history: tuple[str, ...] = (), candidates: tuple[str, ...] = ()
) -> RecommendationRequest:
    return RecommendationRequest(
        id=user, language="en", user=user, history=history, candidates=candidates
    )


def _leave_last_out(sequences: dict[str, list[str]]) -> Split:
    """Train examples, full-ranking test requests and each user's held-out item."""
    universe = sorted({i for seq in sequences.values() for i in seq})
    train, test, gold = [], [], {}
    for user, seq in sequences.items():
        history = tuple(seq[:-1])
        seen = set(history)
        train.append((_req(user, history), ()))
        test.append(_req(user, history, tuple(i for i in universe if i not in seen)))
        gold[user] = seq[-1]
    return train, test, gold


def _ndcg_hr_at_10(
    responses: list[RankingResponse], test: list[RecommendationRequest], gold: dict[str, str]
) -> tuple[float, float]:
    """Mean NDCG@10 (binary gain, log2 discount; one relevant item, so IDCG = 1) and HR@10."""
    ndcg = hits = 0.0
    for resp, req in zip(responses, test, strict=True):
        rank = resp.ranked.index(gold[req.user]) + 1
        if rank <= 10:
            ndcg += 1.0 / np.log2(rank + 1)
            hits += 1
    return ndcg / len(test), hits / len(test)


def _rankings(responses: list) -> list[tuple[tuple[str, ...], tuple[float, ...] | None]]:
    return [(r.ranked, r.scores) for r in responses]


@pytest.fixture(scope="module")
def movielens() -> Split:
    if not (ML100K / "u.data").is_file():
        pytest.skip(f"MovieLens-100K not found at {ML100K} (see shared/data/SOURCES.md)")
    events: dict[str, list[tuple[int, int]]] = defaultdict(list)
    with (ML100K / "u.data").open() as f:
        for line in f:
            user, item, _rating, stamp = line.split("\t")
            events[user].append((int(stamp), int(item)))
    return _leave_last_out(
        {u: [str(i) for _, i in sorted(events[u])] for u in sorted(events, key=int)}
    )


@pytest.fixture(scope="module")
def synthetic() -> Split:
    sequences: dict[str, list[str]] = defaultdict(list)
    with (SYNTHETIC / "interactions.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            sequences[row["user_id"]].append(row["item_id"])  # rows are time-ordered per user
    return _leave_last_out(dict(sequences))


# -- MovieLens-100K: the figures ------------------------------------------------------------


@pytest.mark.slow
def test_movielens_100k_leave_last_out_full_ranking(movielens: Split) -> None:
    train, test, gold = movielens
    assert len(test) == 943
    figures = {}
    for model in (RandomRanker(), MostPopular(), ItemKNN(), BPRMF()):
        tick = time.perf_counter()
        if model.trainable:
            model.fit(train)
        fit_s = time.perf_counter() - tick
        tick = time.perf_counter()
        responses = model.predict(test)
        predict_s = time.perf_counter() - tick
        assert all(
            set(resp.ranked) == set(req.candidates)
            for resp, req in zip(responses, test, strict=True)
        )
        ndcg, hr = _ndcg_hr_at_10(responses, test, gold)
        figures[model.name] = ndcg
        extra = f" best_epoch={model.best_epoch}" if isinstance(model, BPRMF) else ""
        print(
            f"\nML-100K leave-last-out full ranking {model.name}: NDCG@10={ndcg:.4f} "
            f"HR@10={hr:.4f} fit={fit_s:.2f}s predict={predict_s:.2f}s{extra}"
        )
    assert (
        figures["baseline:random"] < figures["baseline:most-popular"] < figures["baseline:bpr-mf"]
    )


# -- the synthetic smoke data -------------------------------------------------------------


def test_generate_reproduces_the_shipped_files_byte_for_byte(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(SYNTHETIC / "generate.py"), str(tmp_path)], check=True, timeout=120
    )
    for name in ("interactions.csv", "items.csv"):
        assert (tmp_path / name).read_bytes() == (SYNTHETIC / name).read_bytes(), name


def test_synthetic_data_is_as_specified() -> None:
    total = sum(p.stat().st_size for p in SYNTHETIC.iterdir() if p.is_file())
    assert total < 1_000_000
    with (SYNTHETIC / "interactions.csv").open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["user_id", "item_id", "timestamp", "rating"]
        rows = list(reader)
    with (SYNTHETIC / "items.csv").open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["item_id", "title", "title_zh", "genres"]
        items = list(reader)

    assert len(rows) >= 20_000
    per_user: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        per_user[row["user_id"]].append(row)
    assert sorted(per_user) == [f"u{i:03d}" for i in range(1, 501)]
    for user_rows in per_user.values():
        assert 15 <= len(user_rows) <= 120
        stamps = [int(r["timestamp"]) for r in user_rows]
        assert all(a < b for a, b in pairwise(stamps))
        assert len({r["item_id"] for r in user_rows}) == len(user_rows)  # no repeats
    assert {r["rating"] for r in rows} == {"1", "2", "3", "4", "5"}

    ids = [it["item_id"] for it in items]
    assert ids == [f"i{i:03d}" for i in range(1, 301)]
    assert {r["item_id"] for r in rows} <= set(ids)
    assert len({it["title"] for it in items}) == 300
    assert len({it["title_zh"] for it in items}) == 300
    assert all(re.fullmatch(r"The [A-Z][a-z]+ [A-Z][a-z]+", it["title"]) for it in items)
    assert all(re.search(r"[\u4e00-\u9fff]", it["title_zh"]) for it in items)
    assert all(1 <= len(it["genres"].split("|")) <= 3 for it in items)

    # Popularity skew: the most popular 10% of items draw well over 10% of the interactions.
    counts = sorted(np.bincount([ids.index(r["item_id"]) for r in rows]), reverse=True)
    assert sum(counts[:30]) > 0.2 * len(rows)


def test_baselines_order_on_the_synthetic_data(synthetic: Split) -> None:
    train, test, gold = synthetic
    random_ndcg, _ = _ndcg_hr_at_10(RandomRanker().predict(test), test, gold)
    popular = MostPopular()
    popular.fit(train)
    popular_ndcg, _ = _ndcg_hr_at_10(popular.predict(test), test, gold)
    knn = ItemKNN()
    knn.fit(train)
    knn_ndcg, _ = _ndcg_hr_at_10(knn.predict(test), test, gold)
    print(
        f"\nsynthetic NDCG@10: random={random_ndcg:.4f} popular={popular_ndcg:.4f} "
        f"item-knn={knn_ndcg:.4f}"
    )
    assert random_ndcg < popular_ndcg < knn_ndcg


# -- behaviour ----------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [RandomRanker, *TRAINED])
def test_each_baseline_is_deterministic_and_batch_independent(cls: type, synthetic: Split) -> None:
    train, test, _ = synthetic
    test = test[:60]
    kwargs = FAST_BPR if cls is BPRMF else {}
    runs = []
    for _ in range(2):
        model = cls(**kwargs)
        if model.trainable:
            model.fit(train)
        runs.append(model)
    first = _rankings(runs[0].predict(test))
    assert first == _rankings(runs[1].predict(test))
    # Another batch order, one request at a time, and shuffled candidates: same answers.
    assert _rankings(runs[0].predict(test[::-1]))[::-1] == first
    assert [_rankings(runs[0].predict([r]))[0] for r in test[:5]] == first[:5]
    shuffled = [
        r.model_copy(update={"candidates": tuple(reversed(r.candidates))}) for r in test[:5]
    ]
    assert _rankings(runs[0].predict(shuffled)) == first[:5]


@pytest.mark.parametrize("cls", [RandomRanker, *TRAINED])
def test_scores_follow_the_tie_breaking_rule(cls: type, synthetic: Split) -> None:
    train, test, _ = synthetic
    model = cls(**(FAST_BPR if cls is BPRMF else {}))
    if model.trainable:
        model.fit(train)
    for resp, req in zip(model.predict(test[:20]), test[:20], strict=True):
        assert set(resp.ranked) == set(req.candidates)
        assert resp.scores is not None and all(np.isfinite(resp.scores))
        keys = [(-s, c) for s, c in zip(resp.scores, resp.ranked, strict=True)]
        assert keys == sorted(keys)


def test_ties_are_broken_by_candidate_id() -> None:
    assert rank_candidates(["b", "a", "c", "10", "9"], np.array([1.0, 1.0, 2.0, 1.0, 1.0])) == (
        RankingResponse(ranked=("c", "10", "9", "a", "b"), scores=(2.0, 1.0, 1.0, 1.0, 1.0))
    )
    model = MostPopular()
    model.fit([(_req("u1", ("x", "y", "z", "y")), ())])
    [resp] = model.predict([_req("u2", candidates=("z", "x", "y"))])
    assert resp.ranked == ("y", "x", "z")
    assert resp.scores == (2.0, 1.0, 1.0)
    users = MostPopular(count="users")
    users.fit([(_req("u1", ("x", "y", "z", "y")), ())])
    assert users.predict([_req("u2", candidates=("z", "x", "y"))])[0].ranked == ("x", "y", "z")


@pytest.mark.parametrize("cls", TRAINED)
def test_items_unseen_in_training_come_last_in_id_order(cls: type, synthetic: Split) -> None:
    train, test, _ = synthetic
    model = cls(**(FAST_BPR if cls is BPRMF else {}))
    model.fit(train)
    req = test[0]
    unseen = ("new-b", "new-a", "i999")
    extended = req.model_copy(update={"candidates": (*unseen, *req.candidates)})
    [resp] = model.predict([extended])
    assert resp.ranked[-3:] == ("i999", "new-a", "new-b")
    assert resp.ranked[:-3] == model.predict([req])[0].ranked
    assert resp.scores is not None and resp.scores[-4] > resp.scores[-3]
    [only_unseen] = model.predict([_req(req.user, req.history, unseen)])
    assert only_unseen.ranked == ("i999", "new-a", "new-b")


def test_item_knn_scores_by_hand() -> None:
    # Users of a: {1, 3}; of b: {1, 2, 3}; of c: {2}.
    train = [
        (_req("1", ("a", "b")), ()),
        (_req("2", ("b", "c", "b")), ()),
        (_req("3", ("a", "b")), ()),
    ]
    ab, bc = 2 / np.sqrt(2 * 3), 1 / np.sqrt(3 * 1)
    full = ItemKNN(neighbors=0)
    full.fit(train)
    [resp] = full.predict([_req("9", ("a", "c"), ("b", "a", "c"))])
    assert resp.ranked == ("b", "a", "c")  # a and c tie at 0 (a-c never co-occur): by id
    assert resp.scores == pytest.approx((ab + bc, 0.0, 0.0), abs=1e-12)
    [resp] = full.predict([_req("9", ("b",), ("a", "c"))])
    assert resp.scores == pytest.approx((ab, bc), abs=1e-12)
    # With one neighbour per item, b keeps only a, so c gets nothing from b.
    pruned = ItemKNN(neighbors=1)
    pruned.fit(train)
    [resp] = pruned.predict([_req("9", ("b",), ("c", "a"))])
    assert resp.ranked == ("a", "c")
    assert resp.scores == pytest.approx((ab, 0.0), abs=1e-12)


def test_item_knn_equals_a_dense_computation(synthetic: Split) -> None:
    train, test, _ = synthetic
    items = sorted({i for r, _ in train for i in r.history})
    col = {item: k for k, item in enumerate(items)}
    matrix = np.zeros((len(train), len(items)))
    for u, (r, _) in enumerate(train):
        matrix[u, [col[i] for i in r.history]] = 1.0
    co = matrix.T @ matrix
    norm = np.sqrt(np.diag(co))
    sim = co / np.outer(norm, norm)
    np.fill_diagonal(sim, 0.0)
    k = 25
    for row in sim:  # keep each item's k most similar items (ties: smaller index)
        order = np.lexsort((np.arange(len(row)), -row))
        row[order[k:]] = 0.0
    model = ItemKNN(neighbors=k)
    model.fit(train)
    for resp, req in zip(model.predict(test[:30]), test[:30], strict=True):
        expected = sim[[col[i] for i in set(req.history)]].sum(axis=0)
        got = dict(zip(resp.ranked, resp.scores or (), strict=True))
        assert [got[c] for c in req.candidates] == pytest.approx(
            [expected[col[c]] for c in req.candidates], abs=1e-12
        )


def test_random_ranker_is_not_trainable_and_depends_on_seed_and_user() -> None:
    assert not RandomRanker().trainable
    assert not RandomRanker.requires_training
    candidates = tuple(f"i{k:03d}" for k in range(50))
    a = RandomRanker(seed=0).predict([_req("u1", candidates=candidates)])[0]
    assert RandomRanker(seed=0).predict([_req("u1", candidates=candidates)])[0] == a
    assert RandomRanker(seed=1).predict([_req("u1", candidates=candidates)])[0] != a
    assert RandomRanker(seed=0).predict([_req("u2", candidates=candidates)])[0] != a
    assert RandomRanker().predict([_req("u1")])[0].ranked == ()


def test_bpr_keeps_the_best_epoch_and_records_its_history(synthetic: Split) -> None:
    train, _, _ = synthetic
    model = BPRMF(epochs=8, patience=2, factors=16)
    model.fit(train)
    aucs = [h["val_auc"] for h in model.history]
    assert all(isinstance(a, float) and 0.5 < a <= 1.0 for a in aucs)
    assert model.best_epoch == 1 + int(np.argmax(aucs))
    assert len(model.history) <= 8
    if len(model.history) < 8:  # stopped early: patience epochs without improvement
        assert len(model.history) == model.best_epoch + 2
    info = model.info()
    assert info["best_epoch"] == model.best_epoch and info["items"] == 300
    no_holdout = BPRMF(epochs=2, factors=8, validation_negatives=0)
    no_holdout.fit(train)
    assert no_holdout.best_epoch == 2
    assert [h["val_auc"] for h in no_holdout.history] == [None, None]


def test_bpr_scores_users_unknown_at_training_by_item_bias(synthetic: Split) -> None:
    train, test, _ = synthetic
    model = BPRMF(**FAST_BPR)
    model.fit(train)
    stranger = test[0].model_copy(update={"user": "nobody"})
    [resp] = model.predict([stranger])
    assert set(resp.ranked) == set(stranger.candidates)


def test_torch_state_is_left_alone(synthetic: Split) -> None:
    import torch

    train, _, _ = synthetic
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    state = torch.random.get_rng_state()
    BPRMF(epochs=1, factors=8, threads=1).fit(train)
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == deterministic
    assert torch.equal(torch.random.get_rng_state(), state)


# -- errors, fingerprints, registry -------------------------------------------------------


@pytest.mark.parametrize("cls", TRAINED)
def test_predict_before_fit_raises(cls: type) -> None:
    with pytest.raises(AdapterError, match="before fit"):
        cls().predict([_req("u1", candidates=("a",))])


@pytest.mark.parametrize("cls", TRAINED)
def test_fit_rejects_unusable_train_splits(cls: type) -> None:
    with pytest.raises(AdapterError, match="no interaction"):
        cls().fit([])
    with pytest.raises(AdapterError, match="no interaction"):
        cls().fit([(_req("u1"), ())])
    with pytest.raises(AdapterError, match="two train examples"):
        cls().fit([(_req("u1", ("a",)), ()), (_req("u1", ("b",)), ())])
    other = SentimentRequest(id="1", language="en", text="hi", labels=("a", "b"))
    with pytest.raises(AdapterError, match="expected recommendation requests"):
        cls().fit([(other, "a")])


def test_predict_rejects_other_requests() -> None:
    other = SentimentRequest(id="1", language="en", text="hi", labels=("a", "b"))
    with pytest.raises(AdapterError, match="expected recommendation requests"):
        RandomRanker().predict([other])
    with pytest.raises(AdapterError, match="candidate twice"):
        RandomRanker().predict([_req("u1", candidates=("a", "a"))])


@pytest.mark.parametrize(
    ("cls", "changes"),
    [
        (RandomRanker, {"seed": 1}),
        (MostPopular, {"count": "users"}),
        (ItemKNN, {"neighbors": 20}),
        (BPRMF, {"seed": 1}),
        (BPRMF, {"factors": 32}),
        (BPRMF, {"lr": 0.005}),
        (BPRMF, {"epochs": 10}),
        (BPRMF, {"threads": 1}),
    ],
)
def test_fingerprint_changes_with_params(cls: type, changes: dict) -> None:
    assert cls().fingerprint() == cls().fingerprint()
    assert cls(**changes).fingerprint() != cls().fingerprint()


def test_registry_names_build_the_baselines() -> None:
    expected = {
        "baseline:random": RandomRanker,
        "baseline:most-popular": MostPopular,
        "baseline:item-knn": ItemKNN,
        "baseline:bpr-mf": BPRMF,
    }
    for spec, cls in expected.items():
        adapter = make_adapter(spec)
        assert type(adapter) is cls and adapter.name == spec
        assert adapter.supports("recommendation") and not adapter.supports("sentiment")
    assert make_adapter("baseline:bpr-mf,factors=8,seed=3").params.factors == 8
    with pytest.raises(ModelSpecError, match="factors"):
        make_adapter("baseline:bpr-mf,factors=0")
    with pytest.raises(ModelSpecError, match="did you mean 'neighbors'"):
        make_adapter("baseline:item-knn,neighbours=5")


def test_import_does_not_import_torch() -> None:
    code = (
        "import sys, bench.adapters.recommendation; "
        "print('torch' in sys.modules, 'scipy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
