"""Word-vector metrics: correlation with human similarity scores, analogy accuracy, coverage.

Word similarity (:class:`Spearman`, primary, and :class:`Pearson`): the correlation between the
human scores and the model's similarities over the pairs the task's OOV policy keeps (``oov:
skip``: the pairs inside the vocabulary; ``oov: constant``: every pair, those outside scored
``oov_similarity``, gensim's ``dummy4unknown``), computed by ``scipy.stats.spearmanr`` /
``pearsonr`` as gensim's ``evaluate_word_pairs`` does, so the values are gensim's. The interval
is a percentile bootstrap over pairs (each resample re-ranks and re-correlates; all resamples
at once). Two vector sets are compared with Williams' test for two dependent correlations that
share one variable, the human scores (Williams, 1959; Steiger, 1980; used for this purpose by
Graham & Baldwin, 2014), on the pairs both runs scored, with the paired bootstrap interval of
the difference.

Word analogy (:class:`Analogy3CosAdd`, primary, and :class:`Analogy3CosMul`): the fraction of
questions answered with the expected word (compared upper-cased when the task is
case-insensitive), over the questions the OOV policy keeps (``skip``: inside the vocabulary,
gensim's default; ``wrong``: every question, those outside scored wrong); per category as
``analogy_3cosadd/<category>``; McNemar's test between two runs.

Coverage (:class:`PairCoverage`, :class:`AnalogyCoverage`): the fraction of pairs / questions
whose words are all inside the searched vocabulary. Every word-vector task records it (the
families refuse a task without it).

A failed example (the adapter gave no answer) is outside the coverage; for the correlations it
follows the OOV policy, and for accuracy it is a wrong answer.

References:
    E. J. Williams. 1959. The Comparison of Regression Variables. Journal of the Royal
    Statistical Society, Series B 21(2).
    James H. Steiger. 1980. Tests for comparing elements of a correlation matrix.
    Psychological Bulletin 87(2).
    Yvette Graham and Timothy Baldwin. 2014. Testing for Significance of Increased Correlation
    with Human Judgment. EMNLP.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from bench.families.wordvec import AnalogyOptions, SimilarityOptions, fold
from bench.metrics.base import Metric, MetricUnavailable, MetricValue, ScoringContext
from bench.metrics.paired import (
    Comparison,
    ComparisonError,
    Examples,
    McNemar,
    PairedOptions,
    PairedStatistics,
    PerExampleMean,
    Untestable,
    resample_indices,
)
from bench.metrics.resampling import percentile_ci

__all__ = [
    "Analogy3CosAdd",
    "Analogy3CosMul",
    "AnalogyCoverage",
    "DependentCorrelation",
    "PairCoverage",
    "Pearson",
    "Spearman",
    "row_correlations",
    "williams_test",
]

SIMILARITY_COLUMN = "pair_similarity"
"""Per-example score: the model similarity a pair entered the correlation with (``null``: left
out by ``oov: skip``)."""

MIN_PAIRS = 3
"""Fewest pairs a correlation is reported on."""

Correlation = Literal["spearman", "pearson"]


def _scipy_version() -> str:
    import scipy

    return str(scipy.__version__)


def _similarity_options(ctx: ScoringContext) -> SimilarityOptions:
    from bench.families.wordvec import WordSimilarityFamily

    options = WordSimilarityFamily.options(ctx.spec)
    assert isinstance(options, SimilarityOptions)
    return options


def _analogy_options(ctx: ScoringContext) -> AnalogyOptions:
    from bench.families.wordvec import WordAnalogyFamily

    options = WordAnalogyFamily.options(ctx.spec)
    assert isinstance(options, AnalogyOptions)
    return options


def _vocab_tag(options: SimilarityOptions | AnalogyOptions) -> str:
    case = "insensitive" if options.case_insensitive else "sensitive"
    return f"case:{case}|restrict_vocab:{options.restrict_vocab}"


def row_correlations(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson's r of each row of ``x`` with the same row of ``y`` (NaN for a constant row).

    Example:
        >>> import numpy as np
        >>> row_correlations(np.array([[1.0, 2, 3]]), np.array([[2.0, 4, 7]])).round(4)
        array([0.9934])
    """
    xc = x - x.mean(axis=-1, keepdims=True)
    yc = y - y.mean(axis=-1, keepdims=True)
    num = (xc * yc).sum(axis=-1)
    den = np.sqrt((xc * xc).sum(axis=-1) * (yc * yc).sum(axis=-1))
    with np.errstate(divide="ignore", invalid="ignore"):
        out: np.ndarray = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return out


def _resampled_correlations(
    kind: Correlation, x: np.ndarray, y: np.ndarray, idx: np.ndarray
) -> np.ndarray:
    """The correlation of ``x`` and ``y`` in each resample of ``(B, n)`` ``idx`` (Spearman: the
    resampled values re-ranked, ties averaged, as ``spearmanr`` ranks)."""
    from scipy.stats import rankdata

    out = np.empty(idx.shape[0], dtype=np.float64)
    block = max(1, (1 << 22) // max(idx.shape[1], 1))
    for start in range(0, idx.shape[0], block):
        rows = idx[start : start + block]
        xs, ys = x[rows], y[rows]
        if kind == "spearman":
            xs, ys = rankdata(xs, axis=1), rankdata(ys, axis=1)
        out[start : start + block] = row_correlations(xs, ys)
    return out


def _correlation(kind: Correlation, x: np.ndarray, y: np.ndarray) -> float:
    """``scipy.stats.spearmanr`` / ``pearsonr`` of ``x`` and ``y`` (what gensim reports)."""
    from scipy import stats

    if kind == "spearman":
        return float(stats.spearmanr(x, y).statistic)
    return float(stats.pearsonr(x, y).statistic)


def williams_test(r12: float, r13: float, r23: float, n: int) -> tuple[float, float]:
    """Williams' test that two dependent correlations sharing variable 1 are equal.

    ``r12`` and ``r13`` are the correlations of the human scores (1) with systems 2 and 3,
    ``r23`` the systems' correlation with each other, ``n`` the number of pairs:
    ``t = (r12 − r13) √((n − 1)(1 + r23) / (2 (n − 1)/(n − 3) |R| + ((r12 + r13)/2)² (1 − r23)³))``
    with ``|R| = 1 − r12² − r13² − r23² + 2 r12 r13 r23``, on ``n − 3`` degrees of freedom.

    Returns:
        ``(t, p)`` with the two-sided p-value.

    Example:
        >>> t, p = williams_test(0.6, 0.4, 0.5, 100)
        >>> round(t, 3), round(p, 4)
        (2.449, 0.0161)
    """
    from scipy import stats

    det = 1 - r12**2 - r13**2 - r23**2 + 2 * r12 * r13 * r23
    denom = 2 * (n - 1) / (n - 3) * det + ((r12 + r13) / 2) ** 2 * (1 - r23) ** 3
    if denom <= 0:
        return 0.0, 1.0
    t = (r12 - r13) * math.sqrt((n - 1) * (1 + r23) / denom)
    return t, float(2 * stats.t.sf(abs(t), n - 3))


@dataclass(frozen=True)
class DependentCorrelation(PairedStatistics):
    """Two runs' correlations with the same human scores: Williams' test on the pairs both
    scored (Spearman: on their ranks), with the paired bootstrap interval of the difference.

    Attributes:
        kind: ``spearman`` or ``pearson``.
        column: The per-example model similarity (:data:`SIMILARITY_COLUMN`).
    """

    kind: Correlation
    column: str = SIMILARITY_COLUMN

    def unavailable(self, run: Examples) -> str | None:
        if not run.has_scores(self.column):
            return "no per-example similarities in samples.jsonl"
        return None

    def compare(self, a: Examples, b: Examples, value: str, options: PairedOptions) -> Comparison:
        from scipy.stats import rankdata

        human_a = np.asarray(a.references(), dtype=np.float64)
        human_b = np.asarray(b.references(), dtype=np.float64)
        if not np.array_equal(human_a, human_b):
            raise ComparisonError(
                f"task '{a.record.task.name}': the two runs have different human scores",
                fix="compare runs made on the same test set",
            )
        xa, xb = a.scores(self.column), b.scores(self.column)
        keep = np.isfinite(xa) & np.isfinite(xb)
        m = int(keep.sum())
        if m <= MIN_PAIRS:
            raise ComparisonError(
                f"task '{a.record.task.name}', metric '{value}': only {m} pairs are scored in "
                "both runs (Williams' test needs at least 4)",
                fix="compare vector sets with more words in common",
            )
        h, ya, yb = human_a[keep], xa[keep], xb[keep]
        va, vb = _correlation(self.kind, h, ya), _correlation(self.kind, h, yb)
        if self.kind == "spearman":
            h, ya, yb = rankdata(h), rankdata(ya), rankdata(yb)
        r23 = float(row_correlations(ya[None, :], yb[None, :])[0])
        if np.array_equal(ya, yb):
            p = 1.0
        else:
            _, p = williams_test(va, vb, r23 if math.isfinite(r23) else 0.0, m)
        low = high = math.nan
        if options.want_ci:
            idx = resample_indices(m, options.resamples, options.seed)
            diffs = _resampled_correlations(self.kind, h, ya, idx) - _resampled_correlations(
                self.kind, h, yb, idx
            )
            low, high = percentile_ci(diffs, options.confidence)
        n = len(xa)
        note = "" if m == n else f" on the {m} pairs scored in both runs"
        return Comparison(
            value, va - vb, low, high, p, "williams", va, vb, m, f"r23={r23:.4f}{note}"
        )


def _pair_values(ctx: ScoringContext) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(human, model, covered)``: model is NaN where ``oov: skip`` leaves the pair out."""
    key = "wordvec.pairs"
    if key not in ctx.memo:
        options = _similarity_options(ctx)
        human = np.asarray([float(r) for r in ctx.references], dtype=np.float64)
        model = np.full(ctx.n, np.nan)
        covered = np.zeros(ctx.n, dtype=bool)
        for i, response in enumerate(ctx.responses):
            sim = getattr(response, "similarity", None) if response is not None else None
            if sim is not None:
                model[i], covered[i] = float(sim), True
            elif options.oov == "constant":
                model[i] = options.oov_similarity
        ctx.memo[key] = (human, model, covered)
    values: tuple[np.ndarray, np.ndarray, np.ndarray] = ctx.memo[key]
    return values


class _CorrelationMetric(Metric):
    families: ClassVar[tuple[str, ...]] = ("word-similarity",)
    range: ClassVar[tuple[float, float]] = (-1.0, 1.0)
    kind: ClassVar[Correlation]

    def score(self, ctx: ScoringContext) -> list[MetricValue]:
        human, model, _ = _pair_values(ctx)
        keep = np.isfinite(model)
        m = int(keep.sum())
        if m < MIN_PAIRS:
            raise MetricUnavailable(
                f"only {m} of {ctx.n} pairs inside the vocabulary (a correlation needs "
                f"{MIN_PAIRS}; are the vectors in the task's language, {ctx.spec.language}?)"
            )
        h, y = human[keep], model[keep]
        value = _correlation(self.kind, h, y)
        low = high = None
        if ctx.bootstrap.resamples:
            samples = _resampled_correlations(self.kind, h, y, ctx.bootstrap.resample_indices(m))
            low, high = percentile_ci(samples, ctx.bootstrap.confidence)
        options = _similarity_options(ctx)
        oov = f"oov:{options.oov}"
        if options.oov == "constant":
            oov += f"={options.oov_similarity:g}"
        signature = "|".join(
            [
                self.name,
                oov,
                _vocab_tag(options),
                ctx.bootstrap.tag(),
                f"scipy:{_scipy_version()}",
                f"v:{self.version}",
            ]
        )
        return [
            MetricValue(
                name=self.name, value=value, n=m, ci_low=low, ci_high=high, signature=signature
            )
        ]

    def per_example(self, ctx: ScoringContext) -> dict[str, Any]:
        _, model, _ = _pair_values(ctx)
        return {SIMILARITY_COLUMN: [None if math.isnan(v) else v for v in model.tolist()]}

    def paired(self, value: str) -> DependentCorrelation | None:
        """Williams' test on the pairs both runs scored."""
        return DependentCorrelation(self.kind) if value == self.name else None


class Spearman(_CorrelationMetric):
    """Spearman's rank correlation ρ between human scores and model similarities.

    ``scipy.stats.spearmanr`` over the pairs the task's OOV policy keeps (gensim's
    ``evaluate_word_pairs`` reports the same number).
    """

    name: ClassVar[str] = "spearman"
    kind: ClassVar[Correlation] = "spearman"


class Pearson(_CorrelationMetric):
    """Pearson's correlation r between human scores and model similarities
    (``scipy.stats.pearsonr``, as gensim)."""

    name: ClassVar[str] = "pearson"
    kind: ClassVar[Correlation] = "pearson"


class _CoverageMetric(Metric):
    """The fraction of examples inside the searched vocabulary."""

    column: ClassVar[str]

    @abstractmethod
    def _covered(self, ctx: ScoringContext) -> np.ndarray:
        """Whether each example lies inside the searched vocabulary (bools, one per example)."""

    def score(self, ctx: ScoringContext) -> list[MetricValue]:
        covered = self._covered(ctx).astype(np.float64)
        value = float(covered.mean()) if ctx.n else float("nan")
        low = high = None
        if ctx.bootstrap.resamples and ctx.n:
            low, high = percentile_ci(
                ctx.bootstrap.resample_means(covered), ctx.bootstrap.confidence
            )
        signature = "|".join([self.name, ctx.bootstrap.tag(), f"v:{self.version}"])
        return [
            MetricValue(
                name=self.name, value=value, n=ctx.n, ci_low=low, ci_high=high, signature=signature
            )
        ]

    def per_example(self, ctx: ScoringContext) -> dict[str, Any]:
        return {self.column: self._covered(ctx).astype(np.float64)}

    def paired(self, value: str) -> PerExampleMean | None:
        """The mean of the per-example 0/1 coverage: paired permutation test."""
        return PerExampleMean(self.column) if value == self.name else None


class PairCoverage(_CoverageMetric):
    """The fraction of word pairs whose two words are inside the searched vocabulary."""

    name: ClassVar[str] = "pair_coverage"
    families: ClassVar[tuple[str, ...]] = ("word-similarity",)
    column: ClassVar[str] = "pair_covered"

    def _covered(self, ctx: ScoringContext) -> np.ndarray:
        return _pair_values(ctx)[2]


def _analogy_covered(ctx: ScoringContext) -> np.ndarray:
    return np.fromiter(
        (r is not None and getattr(r, "cosadd", None) is not None for r in ctx.responses),
        dtype=bool,
        count=ctx.n,
    )


class AnalogyCoverage(_CoverageMetric):
    """The fraction of analogy questions whose four words are inside the searched
    vocabulary."""

    name: ClassVar[str] = "analogy_coverage"
    families: ClassVar[tuple[str, ...]] = ("word-analogy",)
    column: ClassVar[str] = "analogy_covered"

    def _covered(self, ctx: ScoringContext) -> np.ndarray:
        return _analogy_covered(ctx)


class _AnalogyAccuracy(Metric):
    families: ClassVar[tuple[str, ...]] = ("word-analogy",)
    field: ClassVar[str]

    @property
    def column(self) -> str:
        """The per-example 0/1 score (``null``: left out by ``oov: skip``)."""
        return f"correct_{self.name.removeprefix('analogy_')}"

    def unavailable(self, ctx: ScoringContext) -> str | None:
        if not any(
            getattr(r, self.field, None) is not None
            for r in ctx.responses
            if r is not None and getattr(r, "cosadd", None) is not None
        ) and any(r is not None and getattr(r, "cosadd", None) for r in ctx.responses):
            return f"the adapter gave no {self.field} answers"
        return None

    def outcomes(self, ctx: ScoringContext) -> np.ndarray:
        """1 (right), 0 (wrong) or NaN (left out) per question."""
        key = f"wordvec.{self.field}"
        if key not in ctx.memo:
            options = _analogy_options(ctx)
            case = options.case_insensitive
            out = np.zeros(ctx.n, dtype=np.float64)
            for i, (response, expected) in enumerate(
                zip(ctx.responses, ctx.references, strict=True)
            ):
                if response is None:
                    continue  # a failure: wrong
                if getattr(response, "cosadd", None) is None:  # out of vocabulary
                    out[i] = np.nan if options.oov == "skip" else 0.0
                    continue
                answer = getattr(response, self.field, None)
                right = answer is not None and fold(answer, case) == fold(str(expected), case)
                out[i] = 1.0 if right else 0.0
            ctx.memo[key] = out
        outcomes: np.ndarray = ctx.memo[key]
        return outcomes

    def _value(
        self, ctx: ScoringContext, outcomes: np.ndarray, name: str, signature: str
    ) -> MetricValue:
        keep = np.isfinite(outcomes)
        scored = outcomes[keep]
        m = int(scored.size)
        value = float(scored.sum() / m) if m else float("nan")
        low = high = None
        if ctx.bootstrap.resamples and m:
            low, high = percentile_ci(
                ctx.bootstrap.resample_means(scored), ctx.bootstrap.confidence
            )
        return MetricValue(
            name=name, value=value, n=m, ci_low=low, ci_high=high, signature=signature
        )

    def score(self, ctx: ScoringContext) -> list[MetricValue]:
        options = _analogy_options(ctx)
        outcomes = self.outcomes(ctx)
        if not np.isfinite(outcomes).any():
            # Every question has a word outside the vocabulary: there is no accuracy to
            # report (never a NaN in the record).
            language = ctx.spec.languages[0] if ctx.spec.languages else "?"
            raise MetricUnavailable(
                f"none of the {ctx.n} questions has all four words inside the vocabulary "
                f"(are the vectors in the task's language, {language}, and do they hold "
                "whole words?)"
            )
        base = [self.name, f"oov:{options.oov}", _vocab_tag(options)]
        tail = [ctx.bootstrap.tag(), f"v:{self.version}"]
        out = [self._value(ctx, outcomes, self.name, "|".join([*base, *tail]))]
        categories = [getattr(r, "category", "") for r in ctx.requests]
        for category in dict.fromkeys(categories):
            mask = np.fromiter((c == category for c in categories), dtype=bool, count=ctx.n)
            part = outcomes[mask]
            if not np.isfinite(part).any():
                continue  # no question of the category is scored
            name = f"{self.name}/{category}"
            signature = "|".join([*base, f"category:{category}", *tail])
            out.append(self._value(ctx, part, name, signature))
        return out

    def per_example(self, ctx: ScoringContext) -> dict[str, Any]:
        outcomes = self.outcomes(ctx)
        return {self.column: [None if math.isnan(v) else v for v in outcomes.tolist()]}

    def paired(self, value: str) -> PairedStatistics | None:
        """McNemar's test on the questions both runs scored; per-category values have no
        paired test of their own (compare the overall accuracy)."""
        if value == self.name:
            return McNemar(self.column)
        if value.startswith(self.name + "/"):
            return Untestable("a per-category share; compare the overall accuracy")
        return None


class Analogy3CosAdd(_AnalogyAccuracy):
    """Analogy accuracy by 3CosAdd (the word nearest to b − a + c; Mikolov et al., 2013), as
    gensim's ``evaluate_word_analogies`` scores it; ``analogy_3cosadd/<category>`` per section."""

    name: ClassVar[str] = "analogy_3cosadd"
    field: ClassVar[str] = "cosadd"


class Analogy3CosMul(_AnalogyAccuracy):
    """Analogy accuracy by 3CosMul (Levy & Goldberg, 2014: gensim's ``most_similar_cosmul``);
    ``analogy_3cosmul/<category>`` per section."""

    name: ClassVar[str] = "analogy_3cosmul"
    field: ClassVar[str] = "cosmul"
