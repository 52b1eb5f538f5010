"""Classic recommendation baselines: ``random``, ``most-popular``, ``item-knn`` and ``bpr-mf``.

Every baseline ranks *all* of a request's candidates and returns a score for each.

Training contract. :meth:`fit` receives one ``(RecommendationRequest, ())`` pair per user with
training history: ``request.history`` is that user's training interactions, oldest first, and
``request.candidates`` is empty. The item universe of a trained model is the set of items in
those histories.

Ranking rule (all four baselines). Candidates are ranked by score, highest first; equal scores
are ordered by candidate id in Python string order (code-point order, so ``"10" < "9"``). A
candidate a trained model never saw in training has no model score: it is given a score one
below the lowest score of the request's seen candidates (``-1.0`` when none was seen), so such
items come after every seen item, in id order, and the returned scores always agree with the
ranking under the rule above.

Predictions do not depend on how requests are batched, nor on the order of a request's
candidates.

Torch is imported only when ``bpr-mf`` trains, so importing this module stays cheap.

References:
    Badrul Sarwar, George Karypis, Joseph Konstan and John Riedl. 2001. "Item-based
    Collaborative Filtering Recommendation Algorithms". In Proceedings of WWW 2001,
    pages 285-295. https://doi.org/10.1145/371920.372071

    Mukund Deshpande and George Karypis. 2004. "Item-based top-N recommendation algorithms".
    ACM Transactions on Information Systems 22(1), pages 143-177.
    https://doi.org/10.1145/963770.963776

    Steffen Rendle, Christoph Freudenthaler, Zeno Gantner and Lars Schmidt-Thieme. 2009.
    "BPR: Bayesian Personalized Ranking from Implicit Feedback". In Proceedings of UAI 2009,
    pages 452-461. https://arxiv.org/abs/1205.2618
"""

from __future__ import annotations

import hashlib
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import ConfigDict, Field

from bench.adapters.base import Adapter, Baseline, Seed
from bench.errors import AdapterError
from bench.families.base import Request, Response
from bench.families.recommendation import RankingResponse, RecommendationRequest

__all__ = ["BPRMF", "ItemKNN", "MostPopular", "RandomRanker", "rank_candidates"]

# Dense score blocks are at most this many floats (128 MiB of float64) per predict step.
_BLOCK_FLOATS = 1 << 24


def rank_candidates(candidates: Sequence[str], scores: np.ndarray) -> RankingResponse:
    """Rank ``candidates`` by ``scores`` (highest first; ties by candidate id, string order).

    Args:
        candidates: The candidate ids (distinct).
        scores: One finite score per candidate, same order.

    Example:
        >>> rank_candidates(["b", "a", "c"], np.array([1.0, 1.0, 2.0])).ranked
        ('c', 'a', 'b')
    """
    ids = np.asarray(candidates, dtype=str)
    order = np.lexsort((ids, -scores)) if len(ids) else np.array([], dtype=np.int64)
    return RankingResponse(
        ranked=tuple(str(x) for x in ids[order]),
        scores=tuple(float(x) for x in scores[order]),
    )


def _recommendation_requests(name: str, requests: Sequence[Request]) -> list[RecommendationRequest]:
    out = []
    for r in requests:
        if not isinstance(r, RecommendationRequest):
            raise AdapterError(
                f"{name}: expected recommendation requests, got {type(r).__name__}",
                fix=f"use {name} on recommendation tasks only",
            )
        if len(set(r.candidates)) != len(r.candidates):
            raise AdapterError(
                f"{name}: request '{r.id}' lists a candidate twice",
                fix="give each candidate item once",
            )
        out.append(r)
    return out


class _Ranker(Baseline):
    """Shared parts of the recommendation baselines."""

    families: ClassVar[tuple[str, ...]] = ("recommendation",)

    @property
    def _short(self) -> str:
        return self.name.partition(":")[2] or self.name


class RandomRanker(_Ranker):
    """Ranks candidates in a seeded random order: the floor every recommender must clear.

    Definition: for each request, a generator is seeded from SHA-256 of ``(seed, user id)``;
    it draws one uniform score in [0, 1) per candidate, the candidates taken in id order, and
    the candidates are ranked by those scores. A user's ranking therefore depends only on the
    seed, the user and the set of candidates, never on the batch or on the candidates' order.
    Not trainable: it needs no train split.

    Example:
        >>> from bench.families.recommendation import RecommendationRequest
        >>> req = RecommendationRequest(
        ...     id="1", language="en", user="u1", history=(), candidates=("a", "b", "c"))
        >>> sorted(RandomRanker(seed=1).predict([req])[0].ranked)
        ['a', 'b', 'c']
    """

    name = "baseline:random"
    version: ClassVar[int] = 1

    class Params(Adapter.Params):
        """The seed of the random order."""

        model_config = ConfigDict(extra="forbid", frozen=True)
        seed: Seed = 0

    params: Params

    def predict(self, requests: Sequence[Request]) -> list[Response]:
        """A seeded random ranking of each request's candidates."""
        out: list[Response] = []
        for r in _recommendation_requests(self._short, requests):
            digest = hashlib.sha256(f"{self.params.seed}\x00{r.user}".encode()).digest()
            rng = np.random.default_rng(int.from_bytes(digest[:8], "big"))
            ids = np.asarray(r.candidates, dtype=str)
            scores = np.empty(len(ids), dtype=np.float64)
            scores[np.argsort(ids, kind="stable")] = rng.random(len(ids))
            out.append(rank_candidates(r.candidates, scores))
        return out


class _TrainedRanker(_Ranker, ABC):
    """A ranker with an item universe learned by :meth:`fit`.

    Subclasses implement ``_train`` (given users, histories as item-index arrays, and the
    number of items) and ``_score_rows`` (a dense score block for a batch of requests, one
    column per universe item).
    """

    requires_training: ClassVar[bool] = True

    def __init__(self, target: str | None = None, **params: Any) -> None:
        super().__init__(target, **params)
        self._items: np.ndarray | None = None  # sorted item ids of the universe
        self._index: dict[str, int] = {}
        self._users: dict[str, int] = {}
        self.fit_seconds: float | None = None
        self.train_users = 0
        self.train_interactions = 0

    @property
    def n_items(self) -> int:
        """Items in the training universe (0 before :meth:`fit`)."""
        return 0 if self._items is None else len(self._items)

    def fit(self, examples: Sequence[tuple[Request, Any]]) -> None:
        """Learn from each user's training history.

        Args:
            examples: One ``(request, reference)`` pair per user; ``request.history`` holds the
                user's training interactions, oldest first (the reference is ignored).

        Raises:
            AdapterError: No example has any interaction, a request is not a recommendation
                request, or a user appears in two examples.
        """
        tick = time.perf_counter()
        requests = _recommendation_requests(self._short, [r for r, _ in examples])
        seen: set[str] = set()
        kept: list[RecommendationRequest] = []
        for r in requests:
            if r.user in seen:
                raise AdapterError(
                    f"{self._short}: user '{r.user}' appears in two train examples",
                    fix="give one train example per user with the user's whole training history",
                )
            seen.add(r.user)
            if r.history:
                kept.append(r)
        if not kept:
            raise AdapterError(
                f"{self._short}: the train split holds no interaction",
                fix="train on a split whose users have a training history",
            )
        items = np.array(sorted({i for r in kept for i in r.history}), dtype=str)
        index = {str(item): k for k, item in enumerate(items)}
        users = [r.user for r in kept]
        histories = [np.fromiter((index[i] for i in r.history), dtype=np.int64) for r in kept]
        self._train(users, histories, len(items))
        self._items = items
        self._index = index
        self._users = {u: k for k, u in enumerate(users)}
        self.train_users = len(kept)
        self.train_interactions = int(sum(len(h) for h in histories))
        self.fit_seconds = time.perf_counter() - tick

    def predict(self, requests: Sequence[Request]) -> list[Response]:
        """Rank each request's candidates (unseen items last; see the module's ranking rule).

        Raises:
            AdapterError: Called before :meth:`fit`, or given a request of another family.
        """
        if self._items is None:
            raise AdapterError(
                f"{self._short}: predict() called before fit()",
                fix="train the model with fit() first",
            )
        reqs = _recommendation_requests(self._short, requests)
        out: list[Response] = []
        step = max(1, _BLOCK_FLOATS // max(1, self.n_items))
        for start in range(0, len(reqs), step):
            batch = reqs[start : start + step]
            block = self._score_rows(batch)
            for r, row in zip(batch, block, strict=True):
                idx = np.fromiter((self._index.get(c, -1) for c in r.candidates), dtype=np.int64)
                known = idx >= 0
                scores = np.empty(len(idx), dtype=np.float64)
                scores[known] = row[idx[known]]
                floor = float(scores[known].min()) if known.any() else 0.0
                scores[~known] = floor - 1.0
                out.append(rank_candidates(r.candidates, scores))
        return out

    def _history_indices(self, request: RecommendationRequest) -> np.ndarray:
        """Sorted distinct universe indices of the request's history (unknown items dropped)."""
        idx = {self._index[i] for i in request.history if i in self._index}
        return np.array(sorted(idx), dtype=np.int64)

    @abstractmethod
    def _train(self, users: list[str], histories: list[np.ndarray], n_items: int) -> None:
        """Fit on the users' training histories (universe indices)."""

    @abstractmethod
    def _score_rows(self, requests: list[RecommendationRequest]) -> np.ndarray:
        """One row of universe scores per request."""


class MostPopular(_TrainedRanker):
    """Ranks candidates by their popularity in the train split.

    Definition: an item's score is the number of training interactions with it
    (``count=interactions``, repeats included) or the number of distinct users who interacted
    with it (``count=users``); the same ranking for every user, the user's history ignored.
    Items absent from training score lowest (see the module's ranking rule).

    Example:
        >>> from bench.families.recommendation import RecommendationRequest
        >>> def req(user, history=(), candidates=()):
        ...     return RecommendationRequest(
        ...         id=user, language="en", user=user, history=history, candidates=candidates)
        >>> model = MostPopular()
        >>> model.fit([(req("u1", ("a", "b")), ()), (req("u2", ("b",)), ())])
        >>> model.predict([req("u3", candidates=("a", "b", "z"))])[0].ranked
        ('b', 'a', 'z')
    """

    name = "baseline:most-popular"
    version: ClassVar[int] = 1

    class Params(Adapter.Params):
        """What is counted."""

        model_config = ConfigDict(extra="forbid", frozen=True)
        count: Literal["interactions", "users"] = Field(
            default="interactions",
            description="interactions: every training interaction; users: distinct users",
        )

    params: Params

    def __init__(self, target: str | None = None, **params: Any) -> None:
        super().__init__(target, **params)
        self._counts = np.zeros(0, dtype=np.float64)

    def _train(self, users: list[str], histories: list[np.ndarray], n_items: int) -> None:
        if self.params.count == "users":
            histories = [np.unique(h) for h in histories]
        self._counts = np.bincount(np.concatenate(histories), minlength=n_items).astype(np.float64)

    def _score_rows(self, requests: list[RecommendationRequest]) -> np.ndarray:
        return np.broadcast_to(self._counts, (len(requests), len(self._counts)))

    def info(self) -> dict[str, Any]:
        """Training size and time."""
        return {
            "train_users": self.train_users,
            "train_interactions": self.train_interactions,
            "items": self.n_items,
            "fit_seconds": self.fit_seconds,
        }


class ItemKNN(_TrainedRanker):
    """Item-based k-nearest-neighbour top-N recommendation with cosine similarity.

    Definition (Sarwar et al. 2001; Deshpande and Karypis 2004): from the train split build the
    binary user-item matrix ``R`` (1 where the user interacted with the item at least once).
    The similarity of items ``i`` and ``j`` is the cosine of their columns,
    ``sim(i, j) = |U_i ∩ U_j| / sqrt(|U_i| |U_j|)`` (``U_i``: the users of ``i``), with
    ``sim(i, i) = 0``. Each item ``j`` keeps only its ``neighbors`` most similar items (ties:
    smaller item id; ``neighbors=0`` keeps all). A candidate's score is the sum, over the
    distinct items ``j`` of the request's history, of ``sim(j, candidate)`` when the candidate
    is among ``j``'s kept neighbours. Unlike Deshpande and Karypis, rows of the similarity
    matrix are not normalised to sum to 1 (that rescales each history item's vote but keeps
    the model otherwise the same).

    The history is read from the request, so a user unknown at training time is scored from
    the history the request carries.

    Example:
        >>> from bench.families.recommendation import RecommendationRequest
        >>> def req(user, history=(), candidates=()):
        ...     return RecommendationRequest(
        ...         id=user, language="en", user=user, history=history, candidates=candidates)
        >>> model = ItemKNN()
        >>> model.fit([(req("u1", ("a", "b")), ()), (req("u2", ("b", "c")), ()),
        ...            (req("u3", ("a", "b")), ())])
        >>> model.predict([req("u4", ("a",), candidates=("c", "b"))])[0].ranked
        ('b', 'c')
    """

    name = "baseline:item-knn"
    version: ClassVar[int] = 1

    class Params(Adapter.Params):
        """The neighbourhood size."""

        model_config = ConfigDict(extra="forbid", frozen=True)
        neighbors: int = Field(
            default=100, ge=0, description="neighbours kept per item; 0 keeps every neighbour"
        )

    params: Params

    def __init__(self, target: str | None = None, **params: Any) -> None:
        super().__init__(target, **params)
        self._similarity: Any = None  # scipy.sparse CSR, items x items

    def _train(self, users: list[str], histories: list[np.ndarray], n_items: int) -> None:
        from scipy import sparse

        rows = np.concatenate([np.full(len(h), u, dtype=np.int64) for u, h in enumerate(histories)])
        cols = np.concatenate(histories)
        matrix = sparse.csr_matrix(
            (np.ones(len(cols), dtype=np.float64), (rows, cols)), shape=(len(histories), n_items)
        )
        matrix.sum_duplicates()
        matrix.data[:] = 1.0  # binary: repeated interactions count once
        co = (matrix.T @ matrix).tocsr()  # co-occurrence counts; the diagonal is |U_i|
        inv_norm = 1.0 / np.sqrt(co.diagonal())
        sim = sparse.diags(inv_norm) @ co @ sparse.diags(inv_norm)
        sim = sparse.csr_matrix(sim)
        sim.setdiag(0.0)
        sim.eliminate_zeros()
        sim.sort_indices()
        self._similarity = _keep_top_k(sim, self.params.neighbors)

    def _score_rows(self, requests: list[RecommendationRequest]) -> np.ndarray:
        from scipy import sparse

        hist = [self._history_indices(r) for r in requests]
        indptr = np.concatenate([[0], np.cumsum([len(h) for h in hist])])
        indices = np.concatenate(hist) if hist else np.zeros(0, dtype=np.int64)
        users = sparse.csr_matrix(
            (np.ones(len(indices), dtype=np.float64), indices, indptr),
            shape=(len(requests), self.n_items),
        )
        return np.asarray((users @ self._similarity).toarray())

    def info(self) -> dict[str, Any]:
        """Training size, stored similarities and time."""
        return {
            "train_users": self.train_users,
            "train_interactions": self.train_interactions,
            "items": self.n_items,
            "similarities": None if self._similarity is None else int(self._similarity.nnz),
            "fit_seconds": self.fit_seconds,
        }


def _keep_top_k(sim: Any, k: int) -> Any:
    """Keep each row's ``k`` largest entries (ties: smaller column index); ``k=0`` keeps all."""
    from scipy import sparse

    if k == 0:
        return sim
    keep = np.zeros(sim.nnz, dtype=bool)
    for row in range(sim.shape[0]):
        lo, hi = sim.indptr[row], sim.indptr[row + 1]
        if hi - lo <= k:
            keep[lo:hi] = True
        else:
            order = np.lexsort((sim.indices[lo:hi], -sim.data[lo:hi]))[:k]
            keep[lo + order] = True
    rows = np.repeat(np.arange(sim.shape[0]), np.diff(sim.indptr))
    pruned = sparse.csr_matrix((sim.data[keep], (rows[keep], sim.indices[keep])), shape=sim.shape)
    pruned.sort_indices()
    return pruned


class BPRMF(_TrainedRanker):
    """Matrix factorisation trained with the Bayesian Personalized Ranking loss.

    Definition (Rendle et al. 2009): the score of item ``i`` for user ``u`` is
    ``x_ui = <p_u, q_i> + b_i`` (``factors``-dimensional user and item vectors, and an item
    bias as in MyMediaLite's BPR-MF). Training draws triples ``(u, i, j)``: every distinct
    training pair ``(u, i)`` once per epoch in a seeded random order, with a negative item
    ``j`` drawn uniformly from the items ``u`` has not interacted with in training, and
    minimises ``-ln sigmoid(x_ui - x_uj)`` averaged over a mini-batch plus
    ``reg * (|p_u|^2 + |q_i|^2 + |q_j|^2 + b_i^2 + b_j^2)`` averaged likewise, with Adam.

    Early stopping: each training user's last training interaction is held out (when the user
    has another distinct item left to train on and there is an item the user never interacted
    with; all of that user's interactions with the held-out item are removed from training).
    After every epoch, the held-out item is scored against ``validation_negatives`` items the
    user never interacted with in training, drawn once with the seed; the validation metric is
    the mean AUC over users (the fraction of negatives scored below the held-out item, ties
    counting one half), reported alongside HR@10 on the same sampled candidates (ties counting
    against the held-out item). AUC is used rather than HR@10 because it moves smoothly from
    epoch to epoch. The weights of the epoch with the best AUC are kept, and training stops
    after ``patience`` epochs without improvement or after ``epochs``. The held-out
    interactions are not trained on afterwards (no refit).

    Users absent from training get a zero user vector (their scores are the item biases).
    Training runs on CPU with deterministic kernels and ``threads`` threads, so the same seed,
    data and thread count give the same model; scores are computed per request in float64.

    Attributes:
        history: One dict per epoch: ``epoch``, ``train_loss``, ``val_auc`` and ``val_hr@10``
            (``None`` when nothing was held out).
        best_epoch: The epoch whose weights were kept.
    """

    name = "baseline:bpr-mf"
    version: ClassVar[int] = 1

    class Params(Adapter.Params):
        """Hyper-parameters of BPR-MF."""

        model_config = ConfigDict(extra="forbid", frozen=True)
        seed: Seed = 0
        factors: int = Field(default=64, ge=1, le=4096)
        lr: float = Field(default=0.01, gt=0.0, description="Adam learning rate")
        reg: float = Field(default=1e-4, ge=0.0, description="L2 weight on each batch's vectors")
        epochs: int = Field(default=30, ge=1, description="the most epochs trained")
        batch_size: int = Field(default=1024, ge=1)
        patience: int = Field(default=3, ge=1, description="epochs without improvement")
        validation_negatives: int = Field(
            default=100, ge=0, description="sampled negatives per held-out item; 0: no hold-out"
        )
        init_std: float = Field(default=0.1, gt=0.0, description="std of the initial vectors")
        threads: int = Field(default=2, ge=1, description="torch intra-op threads")

    params: Params

    def __init__(self, target: str | None = None, **params: Any) -> None:
        super().__init__(target, **params)
        self._user_vectors = np.zeros((0, 0), dtype=np.float64)
        self._item_vectors = np.zeros((0, 0), dtype=np.float64)
        self._item_bias = np.zeros(0, dtype=np.float64)
        self.history: list[dict[str, float | int | None]] = []
        self.best_epoch: int | None = None

    def _train(self, users: list[str], histories: list[np.ndarray], n_items: int) -> None:
        import torch
        import torch.nn.functional as F

        from bench.adapters.torch_utils import torch_settings

        p = self.params
        n_users = len(histories)
        rng = np.random.default_rng(p.seed)

        # Validation slice: each user's last training interaction, when another item remains.
        val_user: list[int] = []
        val_item: list[int] = []
        train_sets: list[np.ndarray] = []
        for u, h in enumerate(histories):
            last = int(h[-1])
            rest = np.unique(h[h != last])
            # A validation user needs an item left to train on and a possible negative.
            if p.validation_negatives > 0 and len(rest) > 0 and len(rest) + 1 < n_items:
                val_user.append(u)
                val_item.append(last)
                train_sets.append(rest)
            else:
                train_sets.append(np.unique(h))
        pos_user = np.concatenate(
            [np.full(len(s), u, dtype=np.int64) for u, s in enumerate(train_sets)]
        )
        pos_item = np.concatenate(train_sets)
        pos_keys = pos_user * n_items + pos_item  # sorted: users ascending, items ascending
        val_candidates = _validation_candidates(
            histories, val_user, val_item, n_items, p.validation_negatives, rng
        )

        history: list[dict[str, float | int | None]] = []
        with torch_settings(torch, p.threads, p.seed):
            user_vecs = torch.nn.Parameter(torch.randn(n_users, p.factors) * p.init_std)
            item_vecs = torch.nn.Parameter(torch.randn(n_items, p.factors) * p.init_std)
            item_bias = torch.nn.Parameter(torch.zeros(n_items))
            params = [user_vecs, item_vecs, item_bias]
            optimiser = torch.optim.Adam(params, lr=p.lr)
            best_key: float | None = None
            best_state = [t.detach().clone() for t in params]
            best_epoch = 0
            stale = 0
            for epoch in range(1, p.epochs + 1):
                order = rng.permutation(len(pos_user))
                u_all = pos_user[order]
                i_all = pos_item[order]
                j_all = _sample_negatives(u_all, pos_keys, n_items, rng)
                total = 0.0
                for start in range(0, len(order), p.batch_size):
                    batch = slice(start, start + p.batch_size)
                    users_b = torch.from_numpy(u_all[batch])
                    pos_b = torch.from_numpy(i_all[batch])
                    neg_b = torch.from_numpy(j_all[batch])
                    pu, qi, qj = user_vecs[users_b], item_vecs[pos_b], item_vecs[neg_b]
                    bi, bj = item_bias[pos_b], item_bias[neg_b]
                    x = (pu * (qi - qj)).sum(dim=1) + bi - bj
                    penalty = (pu.pow(2) + qi.pow(2) + qj.pow(2)).sum(dim=1) + bi.pow(2) + bj.pow(2)
                    loss = -F.logsigmoid(x).mean() + p.reg * penalty.mean()
                    optimiser.zero_grad(set_to_none=True)
                    loss.backward()
                    optimiser.step()
                    total += float(loss.item()) * len(users_b)
                record: dict[str, float | int | None] = {
                    "epoch": epoch,
                    "train_loss": total / len(order),
                    "val_auc": None,
                    "val_hr@10": None,
                }
                history.append(record)
                if not val_user:
                    best_epoch = epoch
                    best_state = [t.detach().clone() for t in params]
                    continue
                with torch.no_grad():
                    auc, hr = _validate(
                        user_vecs.double().numpy(),
                        item_vecs.double().numpy(),
                        item_bias.double().numpy(),
                        np.array(val_user),
                        val_candidates,
                    )
                record["val_auc"], record["val_hr@10"] = auc, hr
                if best_key is None or auc > best_key:
                    best_key, best_epoch, stale = auc, epoch, 0
                    best_state = [t.detach().clone() for t in params]
                else:
                    stale += 1
                    if stale >= p.patience:
                        break
        self._user_vectors = best_state[0].double().numpy()
        self._item_vectors = best_state[1].double().numpy()
        self._item_bias = best_state[2].double().numpy()
        self.history = history
        self.best_epoch = best_epoch

    def _score_rows(self, requests: list[RecommendationRequest]) -> np.ndarray:
        block = np.empty((len(requests), self.n_items), dtype=np.float64)
        for row, r in enumerate(requests):
            u = self._users.get(r.user)
            if u is None:
                block[row] = self._item_bias
            else:
                # One matrix-vector product per request, so a score never depends on the batch.
                block[row] = self._item_vectors @ self._user_vectors[u] + self._item_bias
        return block

    def info(self) -> dict[str, Any]:
        """Training size and time, the kept epoch and the per-epoch history."""
        return {
            "train_users": self.train_users,
            "train_interactions": self.train_interactions,
            "items": self.n_items,
            "best_epoch": self.best_epoch,
            "history": list(self.history),
            "fit_seconds": self.fit_seconds,
        }


def _sample_negatives(
    users: np.ndarray, pos_keys: np.ndarray, n_items: int, rng: np.random.Generator
) -> np.ndarray:
    """One uniform negative item per user, redrawn until it is not one of the user's positives.

    ``pos_keys`` (sorted) holds ``user * n_items + item`` of every training positive. A user who
    interacted with every item cannot have a negative; after 100 rounds the draws are kept.
    """
    neg = rng.integers(0, n_items, size=len(users))
    for _ in range(100):
        keys = users * n_items + neg
        pos = np.searchsorted(pos_keys, keys)
        clash = (pos < len(pos_keys)) & (pos_keys[np.minimum(pos, len(pos_keys) - 1)] == keys)
        if not clash.any():
            break
        neg[clash] = rng.integers(0, n_items, size=int(clash.sum()))
    return neg


def _validation_candidates(
    histories: list[np.ndarray],
    val_user: list[int],
    val_item: list[int],
    n_items: int,
    negatives: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Per validation user: the held-out item, then sampled negatives (padded with -1)."""
    out = np.full((len(val_user), 1 + negatives), -1, dtype=np.int64)
    for row, (u, item) in enumerate(zip(val_user, val_item, strict=True)):
        pool = np.setdiff1d(np.arange(n_items), histories[u], assume_unique=False)
        picked = rng.choice(pool, size=min(negatives, len(pool)), replace=False)
        out[row, 0] = item
        out[row, 1 : 1 + len(picked)] = picked
    return out


def _validate(
    user_vecs: np.ndarray,
    item_vecs: np.ndarray,
    item_bias: np.ndarray,
    users: np.ndarray,
    candidates: np.ndarray,
) -> tuple[float, float]:
    """Mean AUC and HR@10 of the held-out items against their sampled negatives."""
    valid = candidates >= 0
    safe = np.where(valid, candidates, 0)
    scores = np.einsum("uf,ucf->uc", user_vecs[users], item_vecs[safe]) + item_bias[safe]
    pos = scores[:, :1]
    negs = valid[:, 1:]
    above = ((scores[:, 1:] > pos) & negs).sum(axis=1)
    ties = ((scores[:, 1:] == pos) & negs).sum(axis=1)
    n_neg = negs.sum(axis=1)  # >= 1: validation users have an item they never touched
    auc = float(np.mean((n_neg - above - 0.5 * ties) / n_neg))
    hr = float(np.mean(above + ties < 10))
    return auc, hr
