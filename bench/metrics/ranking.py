"""Top-k ranking metrics for recommendation, vectorised over all users at once.

Accuracy metrics — HR@k, Recall@k, Precision@k, NDCG@k, MRR and MAP@k — with binary relevance
(an item is relevant when it is one of the user's held-out items), and two beyond-accuracy
metrics: item coverage@k and average recommended-item popularity@k.

How a ranking is read, stated once for every metric here (and in each signature):

* ``ties:ranked-order`` — the order of ``RankingResponse.ranked`` is authoritative. Scores, when
  a response carries them, never re-order the list, so items with equal scores keep the order
  the adapter listed them in (a stable sort by score, the adapter's own tie-break). Nothing is
  shared between tied items (no tie-averaging) and no ids are compared. Reference libraries
  differ here — ``trec_eval`` re-sorts by score and then by document id, ranx by score alone —
  so tests give them strictly decreasing scores.
* ``missing:last`` — candidates absent from ``ranked`` rank after every listed one, in no
  order: they count as not retrieved at every cut-off (a miss, never partial credit), and
  Precision@k still divides by ``k``. A failed example (response ``None``) is an empty ranking:
  all misses. Ids in ``ranked`` that are not candidates are dropped before ranks are counted.
* ``excluded:N`` — users whose reference holds no item cannot be scored by any metric here; they
  are left out of every value (``n`` counts the users kept) and their number ``N`` is in every
  signature. ``samples.jsonl`` gets ``None`` for them.
* Relevance is binary: the reference is the set of held-out item ids (repeats count once). A
  held-out item that is not a candidate still counts in ``|R|`` (it can never be retrieved).

The definitions are ranx's (Bassani, 2022), and a golden test checks every accuracy metric
against ``ranx.evaluate`` to 1e-9 on MovieLens-100K runs. With ``R`` the user's relevant items
and ``rel_i`` 1 when the item at rank ``i`` (1-based) is relevant:

* HR@k = 1 when some relevant item is in the top k, else 0.
* Recall@k = hits@k / |R|;  Precision@k = hits@k / k.
* NDCG@k = DCG@k / IDCG@k with DCG@k = Σ_{i≤k} rel_i / log2(i + 1) and IDCG@k the DCG of a
  perfect ranking, Σ_{i ≤ min(|R|, k)} 1 / log2(i + 1) (Järvelin & Kekäläinen, 2002).
* MRR = 1 / rank of the first relevant item (0 when none is listed), over the whole ranking;
  ``k`` optionally cuts it off (MRR@k is 0 when the first hit is ranked after k).
* AP@k = Σ_{i≤k} P@i · rel_i / |R| — ranx's (and ``trec_eval``'s) normalisation. The other
  common one, ``/ min(|R|, k)`` (used by RecBole among others), is ``denominator: min_k``; the
  two agree whenever ``|R| ≤ k``, for instance with leave-last-out (one held-out item).

Every value is the mean over users; its 95% interval is a percentile bootstrap that resamples
users (:meth:`~bench.metrics.base.BootstrapConfig.resample_means`: one product of the seeded
resample-count matrix with the per-user scores), with the same resamples for every ranking
metric of a run.

Coverage@k counts the distinct items in the kept users' top k over the catalogue (every
candidate of every request); popularity@k averages, per user and then over users, the training
interaction counts (from the requests' histories) of the top-k items. See their classes.

The work is done once per scoring context and shared through ``ctx.memo``: one pass over the
users finds the 0-based rank of each retrieved relevant item (``tuple.index`` in C, so the
Python loop is per user, not per candidate), and every metric is then read off a
``(users × max k)`` boolean relevance matrix with numpy sums. Each metric's ``compute`` gives
the same values on plain lists, without a task (the runnable examples below use it).

References:
    Kalervo Järvelin and Jaana Kekäläinen. 2002. Cumulated gain-based evaluation of IR
    techniques. ACM Transactions on Information Systems 20(4), 422–446.
    Ellen M. Voorhees. 1999. The TREC-8 Question Answering Track Report. TREC-8.
    Mukund Deshpande and George Karypis. 2004. Item-based top-N recommendation algorithms.
    ACM Transactions on Information Systems 22(1), 143–177.
    Christopher D. Manning, Prabhakar Raghavan and Hinrich Schütze. 2008. Introduction to
    Information Retrieval, chapter 8. Cambridge University Press.
    Mouzhi Ge, Carla Delgado-Battenfeld and Dietmar Jannach. 2010. Beyond accuracy: evaluating
    recommender systems by coverage and serendipity. RecSys.
    Himan Abdollahpouri, Robin Burke and Bamshad Mobasher. 2019. Managing popularity bias in
    recommender systems with personalized re-ranking. FLAIRS.
    Elias Bassani. 2022. ranx: A Blazing-Fast Python Library for Ranking Evaluation and
    Comparison. ECIR.
"""

from __future__ import annotations

from abc import abstractmethod
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field, PositiveInt, ValidationError

from bench.errors import DataError
from bench.identity import bytes_hash
from bench.metrics.base import Metric, MetricValue, ScoringContext, percentile_ci
from bench.metrics.paired import PairedStatistics, PerExampleMean, Untestable

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "MAP",
    "MRR",
    "NDCG",
    "Coverage",
    "HitRate",
    "Popularity",
    "Precision",
    "Recall",
]

# Above this many relevant items a user's ranking is scanned once instead of searched once per
# relevant item (``tuple.index`` is a C loop, so searching wins for a few relevant items).
_SEARCH_MAX_RELEVANT = 8

_INPUTS = "rank.inputs"
_PROTOCOL = "rank.protocol"
_BOOT = "rank.boot"


# --------------------------------------------------------------------------- the shared table


@dataclass
class _Table:
    """Where each user's relevant items landed; built once per scoring context.

    Attributes:
        n_total: The number of examples, kept users and excluded ones.
        kept: ``(n_total,)`` whether each example's user has a relevant item.
        n_rel: ``(n,)`` ``|R|`` of each kept user.
        hit_user: Row (0..n-1, over kept users) of each retrieved relevant item.
        hit_rank: 0-based rank of each retrieved relevant item.
        first: ``(n,)`` 0-based rank of each kept user's first relevant item, -1 when none.
        lists: Each kept user's ranking, candidates only.
    """

    n_total: int
    kept: np.ndarray
    n_rel: np.ndarray
    hit_user: np.ndarray
    hit_rank: np.ndarray
    first: np.ndarray
    lists: list[Sequence[str]]
    _relevance: np.ndarray | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        """The number of kept users."""
        return int(self.n_rel.shape[0])

    @property
    def excluded(self) -> int:
        """The number of users without a relevant item."""
        return self.n_total - self.n

    def relevance(self, depth: int) -> np.ndarray:
        """``(n, depth)`` boolean matrix: is the item at rank ``j`` (0-based) relevant."""
        import numpy as np

        if self._relevance is None or self._relevance.shape[1] < depth:
            matrix = np.zeros((self.n, depth), dtype=bool)
            inside = self.hit_rank < depth
            matrix[self.hit_user[inside], self.hit_rank[inside]] = True
            self._relevance = matrix
        return self._relevance[:, :depth]


def _build_table(
    references: Sequence[Any],
    rankings: Sequence[Sequence[str] | None],
    candidates: Sequence[Collection[str]] | None = None,
) -> _Table:
    """One pass over the users: the ranks of their relevant items in their rankings.

    Args:
        references: Per user, the held-out (relevant) item ids.
        rankings: Per user, the ranked item ids (best first), or ``None`` for a failure.
        candidates: Per user, the candidate ids; ranked ids outside them are dropped. ``None``
            takes every ranked id as a candidate.
    """
    import numpy as np

    n_total = len(references)
    if len(rankings) != n_total or (candidates is not None and len(candidates) != n_total):
        raise DataError(
            f"{n_total} references but {len(rankings)} rankings"
            + ("" if candidates is None else f" and {len(candidates)} candidate lists"),
            fix="give one ranking (and one candidate list) per user",
        )
    kept = np.zeros(n_total, dtype=bool)
    n_rel: list[int] = []
    first: list[int] = []
    lists: list[Sequence[str]] = []
    hit_user: list[int] = []
    hit_rank: list[int] = []
    row = 0
    for i, ref in enumerate(references):
        if isinstance(ref, str):
            raise DataError(
                f"the reference of example {i} is the string {ref!r}",
                fix="give a collection of item ids, e.g. a one-item tuple",
            )
        relevant = set(ref) if ref else None
        if not relevant:
            continue
        kept[i] = True
        ranked = rankings[i] or ()
        if candidates is not None and ranked:
            allowed = candidates[i]
            if not isinstance(allowed, set | frozenset):
                allowed = set(allowed)
            if not allowed.issuperset(ranked):
                ranked = tuple(item for item in ranked if item in allowed)
        best = -1
        if len(relevant) <= _SEARCH_MAX_RELEVANT:
            for item in relevant:
                try:
                    rank = ranked.index(item)
                except ValueError:
                    continue
                hit_user.append(row)
                hit_rank.append(rank)
                if best < 0 or rank < best:
                    best = rank
        else:
            for rank, item in enumerate(ranked):
                if item in relevant:
                    hit_user.append(row)
                    hit_rank.append(rank)
                    if best < 0:
                        best = rank
        n_rel.append(len(relevant))
        first.append(best)
        lists.append(ranked)
        row += 1
    return _Table(
        n_total=n_total,
        kept=kept,
        n_rel=np.asarray(n_rel, dtype=np.int64),
        hit_user=np.asarray(hit_user, dtype=np.int64),
        hit_rank=np.asarray(hit_rank, dtype=np.int64),
        first=np.asarray(first, dtype=np.int64),
        lists=lists,
    )


class _Inputs:
    """What the ranking metrics read, and everything they derive from it, computed once.

    Built from a scoring context (and kept in ``ctx.memo``, so all ranking metrics of a run
    share one table) or from plain lists (:meth:`_RankingMetric.compute`).
    """

    def __init__(
        self,
        references: Sequence[Any],
        rankings: Sequence[Sequence[str] | None],
        candidates: Sequence[Collection[str]] | None,
        histories: Sequence[Iterable[str]] | None,
    ) -> None:
        self.references = references
        self.rankings = rankings
        self.candidates = candidates
        self.histories = histories or ()
        self._per_user: dict[tuple[str, int | None, str], np.ndarray] = {}
        self._top: np.ndarray | None = None

    @classmethod
    def of(cls, ctx: ScoringContext) -> _Inputs:
        if _INPUTS not in ctx.memo:
            ctx.memo[_INPUTS] = cls(
                ctx.references,
                [getattr(r, "ranked", None) if r is not None else None for r in ctx.responses],
                [getattr(q, "candidates", ()) for q in ctx.requests],
                [getattr(q, "history", ()) for q in ctx.requests],
            )
        inputs: _Inputs = ctx.memo[_INPUTS]
        return inputs

    @cached_property
    def table(self) -> _Table:
        return _build_table(self.references, self.rankings, self.candidates)

    @cached_property
    def catalogue(self) -> dict[str, int]:
        """Every distinct candidate of every user, numbered in first-seen order."""
        lists = self.candidates if self.candidates is not None else self.rankings
        index: dict[str, int] = {}
        for items in lists:
            for item in items or ():
                if item not in index:
                    index[item] = len(index)
        return index

    @cached_property
    def interactions(self) -> Counter[str]:
        """Training interactions per item, over every request's history."""
        return Counter(chain.from_iterable(self.histories))

    @cached_property
    def popularity(self) -> np.ndarray:
        """The interaction count of every catalogue item, in catalogue order."""
        import numpy as np

        counts = self.interactions
        return np.fromiter(
            (counts.get(item, 0) for item in self.catalogue),
            dtype=np.int64,
            count=len(self.catalogue),
        )

    def top(self, depth: int) -> np.ndarray:
        """``(n, depth)`` catalogue numbers of each kept user's top items, -1 past the list."""
        import numpy as np

        if self._top is None or self._top.shape[1] < depth:
            table, index = self.table, self.catalogue
            top = np.full((table.n, depth), -1, dtype=np.int64)
            for row, ranked in enumerate(table.lists):
                head = ranked[:depth]
                if head:
                    top[row, : len(head)] = [index[item] for item in head]
            self._top = top
        return self._top[:, :depth]

    def per_user(self, metric: str, k: int | None, denominator: str = "relevant") -> np.ndarray:
        key = (metric, k, denominator)
        if key not in self._per_user:
            self._per_user[key] = _per_user(self.table, metric, k, denominator)
        return self._per_user[key]

    def coverage(self, k: int) -> float:
        import numpy as np

        listed = self.top(k)
        return np.unique(listed[listed >= 0]).size / len(self.catalogue)

    def mean_popularity(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(listed, arp)``: which kept users rank anything, and their mean popularity@k."""
        import numpy as np

        top = self.top(k)
        listed = top >= 0
        count = listed.sum(axis=1)
        total = np.where(listed, self.popularity[np.maximum(top, 0)], 0).sum(axis=1)
        mask = count > 0
        return mask, total[mask] / count[mask]


def _boot_means(ctx: ScoringContext, per_user: np.ndarray) -> np.ndarray | None:
    """The mean of ``per_user`` in every bootstrap resample of the users (``None``: no CI)."""
    if ctx.bootstrap.resamples == 0 or per_user.size == 0:
        return None
    return ctx.bootstrap.resample_means(per_user)


def _options(spec: Any) -> Any:
    """The task's options, read through its family's validated ``Options`` model."""
    from bench.families.base import get_family
    from bench.families.recommendation import RecommendationOptions

    return RecommendationOptions() if spec is None else get_family(spec.family).options(spec)


def _protocol_tag(ctx: ScoringContext) -> str:
    """The candidate protocol and the SHA-256 (16 hex) of the frozen candidate lists.

    ``split:leave-last-out|cand:sampled-100-seed0|cand-sha:…``: two runs whose candidates differ
    (another protocol, another sampling seed, another catalogue) never share a signature.
    """
    if _PROTOCOL not in ctx.memo:
        opts = _options(ctx.spec)
        mode = str(getattr(opts, "candidates", "full"))
        if mode == "sampled":
            mode += f"-{getattr(opts, 'negatives', 100)}-seed{getattr(opts, 'seed', 0)}"
        blob = bytearray()
        for req in ctx.requests:
            blob += str(getattr(req, "id", "")).encode() + b"\x1e"
            blob += "\x1f".join(map(str, getattr(req, "candidates", ()) or ())).encode() + b"\x1d"
        split = getattr(opts, "protocol", "leave-last-out")
        ctx.memo[_PROTOCOL] = f"split:{split}|cand:{mode}|cand-sha:{bytes_hash(bytes(blob))}"
    tag: str = ctx.memo[_PROTOCOL]
    return tag


def _interval(ctx: ScoringContext, per_user: np.ndarray) -> tuple[float | None, float | None]:
    samples = _boot_means(ctx, per_user)
    if samples is None:
        return None, None
    return _ci(ctx, samples)


def _ci(ctx: ScoringContext, samples: np.ndarray) -> tuple[float, float]:
    return percentile_ci(samples, ctx.bootstrap.confidence)


def _accuracy_boot_means(
    ctx: ScoringContext, inputs: _Inputs, key: tuple[str, int | None, str]
) -> np.ndarray | None:
    """Bootstrap means of the per-user scores ``key`` (``(metric, k, denominator)``).

    The first request of a run resamples, in one product with the shared seeded resample
    counts, the per-user scores of every accuracy metric and cut-off the task lists (they are
    all scored anyway), so the counts are read once for all of them; the means are kept in
    ``ctx.memo``. Each column is the same as resampling it alone, up to float rounding.
    """
    import numpy as np

    if ctx.bootstrap.resamples == 0 or inputs.table.n == 0:
        return None
    memo: dict[tuple[str, int | None, str], np.ndarray] = ctx.memo.setdefault(_BOOT, {})
    if key not in memo:
        keys = [key] + [
            (metric.name, k, metric._denominator())
            for metric in _task_accuracy_metrics(ctx)
            for k in metric._cutoffs()
        ]
        todo = [k for k in dict.fromkeys(keys) if k not in memo]
        means = ctx.bootstrap.resample_means(np.column_stack([inputs.per_user(*k) for k in todo]))
        memo.update({k: means[:, j] for j, k in enumerate(todo)})
    return memo[key]


def _task_accuracy_metrics(ctx: ScoringContext) -> list[_AccuracyMetric]:
    """The accuracy metrics of ``ctx``'s task, built from its spec (unknown names skipped)."""
    classes: dict[str, type[_AccuracyMetric]] = {}
    pending: list[type[_AccuracyMetric]] = [_AccuracyMetric]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "name" in cls.__dict__:
            classes.setdefault(cls.name, cls)
    out = []
    for ref in getattr(ctx.spec, "metrics", None) or ():
        found = classes.get(getattr(ref, "name", None) or "")
        if found is None:
            continue
        try:
            out.append(found(**(getattr(ref, "params", None) or {})))
        except ValidationError:  # the scorer reports bad parameters; no batching for them
            continue
    return out


def _discounts(depth: int) -> np.ndarray:
    """``1 / log2(i + 1)`` for ranks ``i = 1..depth``."""
    import numpy as np

    return 1.0 / np.log2(np.arange(2, depth + 2, dtype=np.float64))


# --------------------------------------------------------------------------- per-user formulas


def _per_user(table: _Table, metric: str, k: int | None, denominator: str) -> np.ndarray:
    """Per-user scores ``(n,)`` of one accuracy metric at one cut-off (``None``: no cut-off)."""
    import numpy as np

    if metric == "mrr":
        first = table.first
        found = first >= 0 if k is None else (first >= 0) & (first < k)
        return np.where(found, 1.0 / (np.where(found, first, 0) + 1.0), 0.0)
    if k is None:
        raise ValueError(f"{metric} needs a cut-off k")
    rel = table.relevance(k)
    hits = np.count_nonzero(rel, axis=1)
    if metric == "hit_rate":
        return (hits > 0).astype(np.float64)
    if metric == "recall":
        return hits / table.n_rel
    if metric == "precision":
        return hits / float(k)
    if metric == "ndcg":
        disc = _discounts(k)
        ideal = np.cumsum(disc)[np.minimum(table.n_rel, k) - 1]
        return (rel @ disc) / ideal
    if metric == "map":
        # P@i at every relevant rank i, summed over i <= k.
        precision_at = np.cumsum(rel, axis=1) / np.arange(1, k + 1, dtype=np.float64)
        total = np.where(rel, precision_at, 0.0).sum(axis=1)
        norm = table.n_rel if denominator == "relevant" else np.minimum(table.n_rel, k)
        return total / norm
    raise ValueError(f"unknown ranking metric {metric!r}")


# --------------------------------------------------------------------------- metrics


def _distinct(value: list[int]) -> list[int]:
    if len(set(value)) != len(value):
        raise ValueError(f"k lists a cut-off twice: {value}")
    return value


#: The cut-offs of a metric: one value is reported per ``k``, named ``<metric>@<k>``.
Cutoffs = Annotated[list[PositiveInt], Field(min_length=1), AfterValidator(_distinct)]


def _ten() -> list[int]:
    return [10]


class _RankingMetric(Metric):
    """Shared machinery: a ranking metric reports one value per cut-off ``k``."""

    families: ClassVar[tuple[str, ...]] = ("recommendation",)
    notes: ClassVar[str] = "binary"

    k: Cutoffs = Field(default_factory=_ten)

    def unavailable(self, ctx: ScoringContext) -> str | None:
        """Why the metric has no value on ``ctx`` (``None`` when it has one)."""
        return self._unavailable(_Inputs.of(ctx))

    def _unavailable(self, inputs: _Inputs) -> str | None:
        table = inputs.table
        if table.n == 0:
            return (
                f"no user has a held-out item (all {table.n_total} users excluded), "
                "so there is nothing to rank against"
            )
        return None

    def _cutoffs(self) -> list[int | None]:
        return list(self.k)

    def _value_name(self, k: int | None) -> str:
        return self.name if k is None else f"{self.name}@{k}"

    def _signature(
        self, ctx: ScoringContext, k: int | None, extra: str = "", name: str | None = None
    ) -> str:
        table = _Inputs.of(ctx).table
        parts = [name or self._value_name(k), self.notes]
        if extra:
            parts.append(extra)
        parts += [
            "ties:ranked-order",
            "missing:last",
            f"excluded:{table.excluded}",
            _protocol_tag(ctx),
            ctx.bootstrap.tag(),
            f"v:{self.version}",
        ]
        return "|".join(parts)

    @abstractmethod
    def _points(self, inputs: _Inputs) -> dict[str, float]:
        """The metric's point values (by value name) from the shared inputs."""

    def compute(
        self,
        rankings: Sequence[Sequence[str] | None],
        relevant: Sequence[Collection[str]],
        candidates: Sequence[Collection[str]] | None = None,
        histories: Sequence[Iterable[str]] | None = None,
    ) -> dict[str, float]:
        """The metric's values on plain lists, without a task (no intervals).

        Args:
            rankings: Per user, item ids best first (``None`` for a failed user).
            relevant: Per user, the held-out item ids. Users with none are left out.
            candidates: Per user, the candidate ids (ranked ids outside them are dropped; the
                catalogue of :class:`Coverage` is their union). ``None`` takes every ranked id
                as a candidate.
            histories: Per user, the training interactions (for :class:`Popularity`).

        Raises:
            DataError: The metric has no value on these lists (for instance, no user has a
                relevant item), or the lists differ in length.
        """
        inputs = _Inputs(relevant, rankings, candidates, histories)
        reason = self._unavailable(inputs)
        if reason:
            raise DataError(f"{self.name}: {reason}", fix="check the lists passed to compute()")
        return self._points(inputs)


class _AccuracyMetric(_RankingMetric):
    """A mean over users of a per-user score in [0, 1]."""

    def _denominator(self) -> str:
        return "relevant"

    def _scores(self, inputs: _Inputs, k: int | None) -> np.ndarray:
        return inputs.per_user(self.name, k, self._denominator())

    def _points(self, inputs: _Inputs) -> dict[str, float]:
        return {self._value_name(k): float(self._scores(inputs, k).mean()) for k in self._cutoffs()}

    def score(self, ctx: ScoringContext) -> list[MetricValue]:
        inputs = _Inputs.of(ctx)
        out = []
        for k in self._cutoffs():
            per_user = self._scores(inputs, k)
            samples = _accuracy_boot_means(ctx, inputs, (self.name, k, self._denominator()))
            low, high = (None, None) if samples is None else _ci(ctx, samples)
            out.append(
                MetricValue(
                    name=self._value_name(k),
                    value=float(per_user.mean()),
                    n=inputs.table.n,
                    ci_low=low,
                    ci_high=high,
                    signature=self._signature(ctx, k),
                )
            )
        return out

    def paired(self, value: str) -> PerExampleMean | None:
        """Every cut-off's value is a mean of per-user scores (paired permutation test)."""
        if value in {self._value_name(k) for k in self._cutoffs()}:
            return PerExampleMean(value)
        return None

    def per_example(self, ctx: ScoringContext) -> dict[str, list[float | None]]:
        import numpy as np

        inputs = _Inputs.of(ctx)
        kept = np.flatnonzero(inputs.table.kept)
        out: dict[str, list[float | None]] = {}
        for k in self._cutoffs():
            column: list[float | None] = [None] * inputs.table.n_total
            for row, value in zip(kept, self._scores(inputs, k).tolist(), strict=True):
                column[row] = value
            out[self._value_name(k)] = column
        return out


class HitRate(_AccuracyMetric):
    """Hit rate (HR@k): the fraction of users with at least one relevant item in their top k.

    HR@k = 1 when some held-out item is among the first ``k`` ranked candidates, else 0,
    averaged over users (Deshpande & Karypis, 2004). With one held-out item per user it equals
    Recall@k. Equals ranx's ``hit_rate@k``.

    Example:
        >>> from bench.metrics.ranking import HitRate
        >>> HitRate(k=[1, 2]).compute([["a", "b"], ["c", "d"]], [("b",), ("x",)])
        {'hit_rate@1': 0.0, 'hit_rate@2': 0.5}
    """

    name: ClassVar[str] = "hit_rate"


class Recall(_AccuracyMetric):
    """Recall@k: the fraction of a user's held-out items found in the top k, averaged.

    Recall@k = |relevant ∩ top-k| / |relevant| (the denominator is ``|R|``, not
    ``min(|R|, k)``, as in ranx and ``trec_eval``). Equals ranx's ``recall@k``.

    Example:
        >>> from bench.metrics.ranking import Recall
        >>> Recall(k=[2]).compute([["a", "b", "c"]], [("a", "c", "d")])
        {'recall@2': 0.3333333333333333}
    """

    name: ClassVar[str] = "recall"
    notes: ClassVar[str] = "binary|denom:relevant"


class Precision(_AccuracyMetric):
    """Precision@k: the fraction of the top k that is relevant, averaged over users.

    Precision@k = |relevant ∩ top-k| / k; the denominator is ``k`` even when fewer than ``k``
    candidates are ranked (missing ones are misses). Equals ranx's ``precision@k``.

    Example:
        >>> from bench.metrics.ranking import Precision
        >>> Precision(k=[4]).compute([["a", "b"]], [("a", "b")])
        {'precision@4': 0.5}
    """

    name: ClassVar[str] = "precision"
    notes: ClassVar[str] = "binary|denom:k"


class NDCG(_AccuracyMetric):
    """Normalised discounted cumulative gain (NDCG@k) with binary gains, averaged over users.

    DCG@k = Σ_{i=1..k} rel_i / log2(i + 1), where ``rel_i`` is 1 when the item at rank ``i`` is
    relevant; IDCG@k is the DCG of a perfect ranking, Σ_{i=1..min(|R|, k)} 1 / log2(i + 1);
    NDCG@k = DCG@k / IDCG@k (Järvelin & Kekäläinen, 2002). Equals ranx's ``ndcg@k``.

    Reference:
        Kalervo Järvelin and Jaana Kekäläinen. 2002. Cumulated gain-based evaluation of IR
        techniques. ACM Transactions on Information Systems 20(4), 422–446.

    Example:
        >>> from bench.metrics.ranking import NDCG
        >>> # hits at ranks 2 and 3: (1/log2 3 + 1/log2 4) / (1 + 1/log2 3)
        >>> round(NDCG(k=[3]).compute([["a", "b", "c"]], [("b", "c")])["ndcg@3"], 6)
        0.693426
    """

    name: ClassVar[str] = "ndcg"
    notes: ClassVar[str] = "binary|log2"


class MRR(_AccuracyMetric):
    """Mean reciprocal rank: 1 / the rank of the first relevant item, averaged over users.

    By default over the whole ranking (``mrr``): a user whose relevant items are all unlisted
    scores 0. ``k`` (optional) gives cut-off values ``mrr@k`` that are 0 when the first hit is
    ranked after ``k``. Equals ranx's ``mrr`` and ``mrr@k`` (Voorhees, 1999).

    Example:
        >>> from bench.metrics.ranking import MRR
        >>> MRR().compute([["a", "b", "c"], ["d", "e"]], [("c", "b"), ("z",)])
        {'mrr': 0.25}
        >>> MRR(k=[1]).compute([["a", "b", "c"]], [("b",)])
        {'mrr@1': 0.0}
    """

    name: ClassVar[str] = "mrr"
    notes: ClassVar[str] = "binary"

    k: Cutoffs | None = None  # type: ignore[assignment]

    def _cutoffs(self) -> list[int | None]:
        return [None] if self.k is None else list(self.k)

    def _signature(
        self, ctx: ScoringContext, k: int | None, extra: str = "", name: str | None = None
    ) -> str:
        return super()._signature(ctx, k, extra or ("cutoff:none" if k is None else ""), name)


class MAP(_AccuracyMetric):
    """Mean average precision at k (MAP@k), averaged over users.

    AP@k = Σ_{i=1..k} P@i · rel_i / D, where P@i is the precision of the top ``i`` and
    ``rel_i`` is 1 when the item at rank ``i`` is relevant (Manning et al., 2008, ch. 8). The
    normaliser ``D`` is a parameter:

    * ``denominator: relevant`` (default): ``D = |R|``, as ranx's ``map@k`` and ``trec_eval``
      compute it; a relevant item outside the top k adds nothing but still counts in ``D``.
    * ``denominator: min_k``: ``D = min(|R|, k)``, the convention of several recommender
      toolkits (RecBole), under which a perfect top k scores 1 even when ``|R| > k``.

    They agree when ``|R| ≤ k``. The signature says which was used (``norm:relevant``).

    Example:
        >>> from bench.metrics.ranking import MAP
        >>> # hits at ranks 1 and 3: (1/1 + 2/3) / 3 relevant items
        >>> MAP(k=[3]).compute([["a", "b", "c"]], [("a", "c", "z")])
        {'map@3': 0.5555555555555555}
        >>> # four relevant items: (1/1 + 2/3) / 4, or / min(4, 3) with ``min_k``
        >>> rankings, relevant = [["a", "b", "c"]], [("a", "c", "y", "z")]
        >>> MAP(k=[3]).compute(rankings, relevant), MAP(k=[3], denominator="min_k").compute(
        ...     rankings, relevant
        ... )
        ({'map@3': 0.41666666666666663}, {'map@3': 0.5555555555555555})
    """

    name: ClassVar[str] = "map"

    denominator: Literal["relevant", "min_k"] = "relevant"

    def _denominator(self) -> str:
        return self.denominator

    def _signature(
        self, ctx: ScoringContext, k: int | None, extra: str = "", name: str | None = None
    ) -> str:
        return super()._signature(ctx, k, f"norm:{self.denominator}", name)


# --------------------------------------------------------------------------- beyond accuracy


class Coverage(_RankingMetric):
    """Item coverage@k: the fraction of the catalogue that some user finds in their top k.

    The catalogue is every distinct candidate item over all requests (excluded users'
    included: it is the task's catalogue); an item is covered when it is in the top ``k`` of
    at least one kept user (Ge et al., 2010). A set statistic, not a mean over users, so it
    has no interval: resampling users with replacement draws fewer distinct users and would
    bias every resample low.

    Example:
        >>> from bench.metrics.ranking import Coverage
        >>> # catalogue {a, b, c, d}; top-1 lists [a] and [a]; top-2 adds b and c
        >>> Coverage(k=[1, 2]).compute(
        ...     [["a", "b"], ["a", "c"]], [("b",), ("d",)], candidates=[["a", "b", "c", "d"]] * 2
        ... )
        {'coverage@1': 0.25, 'coverage@2': 0.75}
    """

    name: ClassVar[str] = "coverage"

    def _unavailable(self, inputs: _Inputs) -> str | None:
        reason = super()._unavailable(inputs)
        if reason is None and not inputs.catalogue:
            return "no request has a candidate, so the catalogue is empty"
        return reason

    def _points(self, inputs: _Inputs) -> dict[str, float]:
        return {f"coverage@{k}": inputs.coverage(k) for k in self.k}

    def paired(self, value: str) -> Untestable | None:
        """A set statistic, not a mean over users: no paired test."""
        if value in {f"coverage@{k}" for k in self.k}:
            return Untestable("not a mean of paired per-example scores")
        return None

    def score(self, ctx: ScoringContext) -> list[MetricValue]:
        inputs = _Inputs.of(ctx)
        size = len(inputs.catalogue)
        return [
            MetricValue(
                name=f"coverage@{k}",
                value=inputs.coverage(k),
                n=inputs.table.n,
                signature="|".join(
                    [
                        f"coverage@{k}",
                        f"catalogue:{size}",
                        "ties:ranked-order",
                        "missing:last",
                        f"excluded:{inputs.table.excluded}",
                        _protocol_tag(ctx),
                        "ci:none",
                        f"v:{self.version}",
                    ]
                ),
            )
            for k in self.k
        ]


class Popularity(_RankingMetric):
    """Average recommended-item popularity@k (ARP; Abdollahpouri et al., 2019).

    An item's popularity is its number of training interactions, counted over the histories of
    all requests (excluded users' included: they are training data). A user's value is the
    mean popularity of the items in their top ``k`` (fewer when the list is shorter); the
    metric is the mean over users, with a bootstrap interval over users. Each cut-off gives two
    values: ``popularity@k`` in interactions (its ``scale`` is the most popular item's count)
    and ``popularity@k/normalised``, divided by that count, in [0, 1]. Lower means less
    popularity bias; the metric describes a ranker rather than grading it, and its direction
    is given as lower-is-better.

    Users with an empty list (a failed example, or no candidate ranked) recommend nothing and
    have no average: they are left out and counted (``empty:N`` in the signature).

    Example:
        >>> from bench.metrics.ranking import Popularity
        >>> # histories [a, a, b] and [a]: a has 3 interactions, b 1; the top-1 items are a, b
        >>> Popularity(k=[1]).compute(
        ...     [["a"], ["b"]], [("c",), ("c",)], histories=[["a", "a", "b"], ["a"]]
        ... )
        {'popularity@1': 2.0, 'popularity@1/normalised': 0.6666666666666666}
    """

    name: ClassVar[str] = "popularity"
    higher_is_better: ClassVar[bool] = False
    notes: ClassVar[str] = "pop:history-count"

    def _unavailable(self, inputs: _Inputs) -> str | None:
        reason = super()._unavailable(inputs)
        if reason:
            return reason
        if not inputs.interactions:
            return "no request has a history, so no item has a popularity"
        if not any(inputs.table.lists):
            return "no kept user's response ranks any candidate"
        return None

    def paired(self, value: str) -> PairedStatistics | None:
        """``popularity@k`` is a mean of per-user scores; the normalised value has no
        per-example column of its own."""
        if value in {f"popularity@{k}" for k in self.k}:
            return PerExampleMean(value)
        if value in {f"popularity@{k}/normalised" for k in self.k}:
            return Untestable("no per-example scores in samples.jsonl")
        return None

    def _points(self, inputs: _Inputs) -> dict[str, float]:
        top_count = max(inputs.interactions.values())
        out = {}
        for k in self.k:
            value = float(inputs.mean_popularity(k)[1].mean())
            out[f"popularity@{k}"] = value
            out[f"popularity@{k}/normalised"] = value / top_count
        return out

    def score(self, ctx: ScoringContext) -> list[MetricValue]:
        inputs = _Inputs.of(ctx)
        top_count = max(inputs.interactions.values())
        out = []
        for k in self.k:
            mask, arp = inputs.mean_popularity(k)
            value = float(arp.mean())
            low, high = _interval(ctx, arp)
            extra = f"max:{top_count}|empty:{inputs.table.n - int(mask.sum())}"
            for suffix, divisor, scale in (
                ("", 1, float(top_count)),
                ("/normalised", top_count, 1.0),
            ):
                out.append(
                    MetricValue(
                        name=f"popularity@{k}{suffix}",
                        value=value / divisor,
                        n=int(mask.sum()),
                        ci_low=None if low is None else low / divisor,
                        ci_high=None if high is None else high / divisor,
                        signature=self._signature(
                            ctx,
                            k,
                            extra + ("|norm:max" if suffix else ""),
                            name=f"popularity@{k}{suffix}",
                        ),
                        higher_is_better=False,
                        scale=scale,
                    )
                )
        return out

    def per_example(self, ctx: ScoringContext) -> dict[str, list[float | None]]:
        import numpy as np

        inputs = _Inputs.of(ctx)
        kept = np.flatnonzero(inputs.table.kept)
        out: dict[str, list[float | None]] = {}
        for k in self.k:
            mask, arp = inputs.mean_popularity(k)
            column: list[float | None] = [None] * inputs.table.n_total
            for row, value in zip(kept[mask], arp.tolist(), strict=True):
                column[row] = value
            out[f"popularity@{k}"] = column
        return out
