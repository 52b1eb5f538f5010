"""Sampling metrics of a run with ``generation.n > 1``: ``mean@n``, ``pass@k``, ``majority@n``.

A run that samples ``n`` answers per example has one unit per sample index
(:class:`bench.protocol.Unit`). Where the family defines whether one answer is correct, the
run's :attr:`~bench.records.ProtocolResult.sampling` holds, as proportions in ``[0, 1]``:

* ``mean@n``: the mean correctness over examples × samples (the headline metrics are already
  the means over samples; this is the same mean of the family's correctness);
* ``pass@k``: the unbiased estimator of Chen et al. (2021), ``1 − C(n−c, k) / C(n, k)`` for an
  example with ``c`` correct samples of ``n``, in its numerically stable product form
  ``1 − ∏_{j=n−c+1}^{n} (1 − k/j)``, averaged over examples, for ``k`` the powers of two up to
  ``n`` and ``n`` itself (:func:`pass_ks`; ``pass@1`` equals ``mean@n``);
* ``majority@n``: the most common parsed answer across the ``n`` samples, scored by the
  family's correctness. Unparsed answers do not vote; on a tie the answer given first in the
  samples' own order (sample 0, 1, ...) wins, also in a resample that repeats or drops
  samples.

Correctness (:func:`correctness`): sentiment, the predicted label equals the gold label; QA,
exact match under the task's exact-match metric's scheme (SQuAD or CMRC2018 normalisation:
answers vote by their normalised text). Other families define none, so their runs report no
sampling metrics.

With several prompt variants or exemplar draws, each value is the mean over the
(variant, draw) groups. Intervals come from the two-level bootstrap of
:mod:`bench.metrics.units`: the record's example resamples (the same for every group) × the
resampled samples (an example's ``c`` is its number of correct answers among the resampled
samples, with multiplicity) × the resampled variants and draws.

References:
    Mark Chen et al. 2021. Evaluating Large Language Models Trained on Code. arXiv:2107.03374.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.metrics.base import Metric, MetricValue, withheld_interval
from bench.metrics.resampling import BootstrapConfig, percentile_ci
from bench.spec import TaskSpec

if TYPE_CHECKING:
    from bench.families.base import Response
    from bench.metrics.units import UnitScores

__all__ = ["correctness", "pass_at_k", "pass_ks", "sampling_metrics"]

Judge = Callable[[Sequence["Response | None"], Sequence[Any]], tuple[list[str | None], np.ndarray]]
"""Responses and references → (each answer's voting key, ``None`` when unparsed; 0/1 per
example)."""


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of an example with ``c`` correct samples among ``n`` (Chen et al.).

    Example:
        >>> pass_at_k(4, 1, 1), pass_at_k(4, 1, 2), pass_at_k(4, 0, 4), pass_at_k(4, 3, 2)
        (0.25, 0.5, 0.0, 1.0)
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n (n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / j for j in range(n - c + 1, n + 1))


def pass_ks(n: int) -> list[int]:
    """The ``k`` of the reported ``pass@k``: powers of two up to ``n``, then ``n``.

    Example:
        >>> pass_ks(4), pass_ks(6), pass_ks(1)
        ([1, 2, 4], [1, 2, 4, 6], [1])
    """
    ks = [1 << i for i in range(n.bit_length()) if 1 << i <= n]
    return ks if ks[-1] == n else [*ks, n]


def _sentiment(
    responses: Sequence[Response | None], references: Sequence[Any]
) -> tuple[list[str | None], np.ndarray]:
    keys: list[str | None] = []
    for r in responses:
        label = getattr(r, "label", None) if r is not None else None
        keys.append(label if isinstance(label, str) else None)
    right = [k is not None and k == ref for k, ref in zip(keys, references, strict=True)]
    return keys, np.asarray(right, dtype=np.float64)


def _qa(scheme: str) -> Judge:
    from bench.metrics.qa import cmrc_strip_punctuation, qa_scores, squad_normalize

    normalise = cmrc_strip_punctuation if scheme == "cmrc" else squad_normalize

    def judge(
        responses: Sequence[Response | None], references: Sequence[Any]
    ) -> tuple[list[str | None], np.ndarray]:
        scores = qa_scores(responses, references, scheme)  # type: ignore[arg-type]
        keys: list[str | None] = []
        for r in responses:
            text = getattr(r, "text", None) if r is not None else None
            keys.append(normalise(text) if isinstance(text, str) else None)
        return keys, np.asarray(scores.em, dtype=np.float64)

    return judge


def correctness(task: TaskSpec, metrics: Sequence[Metric]) -> tuple[Judge, str] | None:
    """How the family of ``task`` judges one answer (its
    :attr:`~bench.families.base.Family.correctness`), and the rule's name for signatures
    (``None``: the family defines no correctness)."""
    from bench.families.base import family_class

    cls = family_class(task.family)
    rule = cls.correctness if cls is not None else None
    if rule == "label":
        return _sentiment, "label==reference"
    if rule == "exact_match":
        for metric in metrics:
            scheme = getattr(metric, "scheme", None)
            if getattr(metric, "stat", None) == "em" and isinstance(scheme, str):
                return _qa(scheme), f"exact_match:{scheme}"
    return None


def _block(rows: int, cells: int) -> int:
    return max(1, (1 << 22) // max(cells, 1)) if rows else 1


def sampling_metrics(
    task: TaskSpec,
    metrics: Sequence[Metric],
    references: Sequence[Any],
    units: Sequence[UnitScores],
    bootstrap: BootstrapConfig,
) -> dict[str, MetricValue]:
    """``mean@n``, ``pass@k`` and ``majority@n`` of ``units`` (``{}`` with one sample per
    example, or for a family without correctness). See the module docstring."""
    from bench.metrics.axes import example_counts, unit_draws

    samples = list(dict.fromkeys(u.unit.sample for u in units))
    judged = correctness(task, metrics)
    if len(samples) < 2 or judged is None or not references:
        return {}
    judge, rule = judged
    s_count, n = len(samples), len(references)
    groups = list(dict.fromkeys((u.unit.variant, u.unit.draw) for u in units))
    by_unit = {(u.unit.variant, u.unit.draw, u.unit.sample): u for u in units}
    correct = np.zeros((len(groups), n, s_count), dtype=np.float64)
    codes = np.full((len(groups), n, s_count), -1, dtype=np.int64)
    for g, (variant, draw) in enumerate(groups):
        keys_by_sample = []
        for s, sample in enumerate(samples):
            keys, right = judge(by_unit[(variant, draw, sample)].responses, references)
            correct[g, :, s] = right
            keys_by_sample.append(keys)
        for i in range(n):
            seen: dict[str, int] = {}
            for s in range(s_count):
                key = keys_by_sample[s][i]
                if key is not None:
                    codes[g, i, s] = seen.setdefault(key, len(seen))
    answers = max(int(codes.max()) + 1, 1)
    onehot = np.zeros((len(groups), n, s_count, answers), dtype=np.float64)
    g_i, i_i, s_i = np.nonzero(codes >= 0)
    onehot[g_i, i_i, s_i, codes[g_i, i_i, s_i]] = 1.0
    # The correctness of each answer code: that of the first sample that gave it.
    code_right = np.zeros((len(groups), n, answers), dtype=np.float64)
    for s in reversed(range(s_count)):
        g_i, i_i = np.nonzero(codes[:, :, s] >= 0)
        code_right[g_i, i_i, codes[g_i, i_i, s]] = correct[g_i, i_i, s]
    ks = pass_ks(s_count)
    tables = {k: np.array([pass_at_k(s_count, c, k) for c in range(s_count + 1)]) for k in ks}

    def majority(votes: np.ndarray) -> np.ndarray:
        """0/1 per (..., group, example) of the most voted answer (first code on a tie)."""
        win = votes.argmax(axis=-1)
        right = np.take_along_axis(np.broadcast_to(code_right, votes.shape), win[..., None], -1)
        return np.where(votes.max(axis=-1) > 0, right[..., 0], 0.0)

    counts_right = correct.sum(axis=2)  # (G, n) correct samples per example
    observed: dict[str, float] = {"mean@n": float(correct.mean())}
    for k in ks:
        observed[f"pass@{k}"] = float(tables[k][counts_right.astype(np.int64)].mean())
    observed["majority@n"] = float(majority(onehot.sum(axis=2)).mean())

    intervals: dict[str, tuple[float | None, float | None]] = {}
    if bootstrap.resamples:
        axes = unit_draws([u.unit for u in units], bootstrap)
        cv, cd, cs = axes.counts(0), axes.counts(1), axes.counts(2)
        gv = [axes.variants.index(v) for v, _ in groups]
        gd = [axes.draws.index(d) for _, d in groups]
        weights = cv[:, gv] * cd[:, gd] / (len(axes.variants) * len(axes.draws))  # (B, G)
        example_counts_ = example_counts(n, bootstrap)  # (B, n)
        b_total = example_counts_.shape[0]
        names = list(observed)
        resampled = {name: np.empty(b_total) for name in names}
        step = _block(b_total, len(groups) * n * answers)
        for start in range(0, b_total, step):
            sl = slice(start, start + step)
            cs_b, ce_b, w_b = cs[sl], example_counts_[sl], weights[sl]
            hits = np.einsum("gis,bs->bgi", correct, cs_b)  # correct among resampled samples

            def pooled(per: np.ndarray, ce: np.ndarray = ce_b, w: np.ndarray = w_b) -> Any:
                return np.einsum("bgi,bi,bg->b", per, ce, w) / n

            resampled["mean@n"][sl] = pooled(hits / s_count)
            c_b = np.rint(hits).astype(np.int64)
            for k in ks:
                resampled[f"pass@{k}"][sl] = pooled(tables[k][c_b])
            votes = np.einsum("gisa,bs->bgia", onehot, cs_b)
            resampled["majority@n"][sl] = pooled(majority(votes))
        for name in names:
            intervals[name] = percentile_ci(resampled[name], bootstrap.confidence)
    out: dict[str, MetricValue] = {}
    for name, value in observed.items():
        low, high = intervals.get(name, (None, None))
        out[name] = withheld_interval(
            MetricValue(
                name=name,
                value=value,
                n=n,
                ci_low=low,
                ci_high=high,
                signature=f"{name}|n:{s_count}|correct:{rule}|{bootstrap.tag()}|v:1",
            )
        )
    return out
