"""How a metric value is resampled, and how two systems are compared on it, example by example.

Every metric declares, for each value it reports, a :class:`PairedStatistics`
(:meth:`bench.metrics.base.Metric.paired`). :mod:`bench.stats` (``bench compare``) and the
leaderboard's tie marks only call these declarations, so a metric added by a plugin gets paired
tests by declaring one. Three declarations cover the built-in metrics:

* :class:`SufficientStatistics`: the value is a function of the *sum* of per-example statistic
  rows (BLEU, chrF and TER from sacrebleu's per-segment statistics; macro-F1, MCC and per-class
  scores from one confusion cell per example). Resampling sums rows, never re-scores texts:

  - ``paired-bootstrap`` (Koehn, 2004; sacrebleu's ``--paired-bs``): ``resamples`` resamples of
    the examples drawn with ``numpy.random.default_rng(seed).choice``, both systems scored on
    each; with ``Δ*`` the absolute score difference of a resample and ``Δ`` the observed one,
    ``p = (#{Δ* − mean(Δ*) > Δ} + 1) / (resamples + 1)``.
  - ``approximate-randomization`` (Riezler & Maxwell, 2005; sacrebleu's ``--paired-ar``), for
    declarations that offer it (the corpus metrics): ``resamples`` trials, each swapping every
    example's statistics between the systems with probability ½;
    ``p = (#{|score(A*) − score(B*)| > Δ} + 1) / (resamples + 1)``.

  Both reproduce ``sacrebleu.significance.PairedTest`` exactly (same random draws, same
  counting). sacrebleu counts only *strictly* larger differences, so two systems whose
  statistics are equal on every example would get ``p = 1/(resamples + 1)``; bench returns
  ``p = 1`` there, since no resampling can produce any difference at all. Two systems with
  different statistics but the same score keep sacrebleu's p-value (about 0.4: the centred
  bootstrap is not built to say "no difference"), so that bench's BLEU, chrF and TER p-values
  are sacrebleu's.
  - ``paired-randomization`` (Noreen, 1989; Yeh, 2000), for declarations whose ``p_test`` asks
    for it (macro-F1, MCC and per-class scores): ``resamples`` trials, each swapping every
    example's statistics between the systems with probability ½;
    ``p = (#{|Δ*| ≥ Δ} + 1) / (resamples + 1)``, so equal values give ``p = 1``.
* :class:`McNemar` (accuracy, exact match: 0/1 per example): McNemar's test on the discordant
  pairs ``b`` (A right, B wrong) and ``c`` (A wrong, B right). When ``b + c < 25`` the exact
  two-sided binomial test (``scipy.stats.binomtest(b, b + c, 0.5)``, ``mcnemar-exact``);
  otherwise the χ² statistic with Edwards' continuity correction, ``(|b − c| − 1)² / (b + c)``
  on one degree of freedom (``mcnemar-chi2-cc``). ``b + c = 0`` gives ``p = 1``.
* :class:`PerExampleMean` (ROUGE, QA F1, per-user ranking metrics): a paired permutation
  (sign-flip) test on the per-example differences ``d``:
  ``p = (#{|mean(s·d)| ≥ |mean(d)|} + 1) / (resamples + 1)`` over ``resamples`` random sign
  vectors ``s`` (``paired-permutation``), or the exact distribution over all ``2^m`` sign vectors
  of the ``m`` non-zero differences when ``2^m ≤ resamples`` (``paired-permutation-exact``).

Every comparison also reports ``difference = value(A) − value(B)`` on the metric's own scale and
its percentile interval from ``resamples`` paired bootstrap resamples of the examples (seeded;
the same resamples for both systems).

References:
    Philipp Koehn. 2004. Statistical Significance Tests for Machine Translation Evaluation.
    EMNLP.
    Stefan Riezler and John T. Maxwell III. 2005. On Some Pitfalls in Automatic Evaluation and
    Significance Testing for MT. ACL Workshop on Intrinsic and Extrinsic Evaluation Measures.
    Quinn McNemar. 1947. Note on the sampling error of the difference between correlated
    proportions or percentages. Psychometrika 12(2).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, TypeVar

from bench.errors import BenchError
from bench.metrics.resampling import BootstrapConfig, percentile_ci, resample_counts

if TYPE_CHECKING:
    import numpy as np

    from bench.records import RunRecord

__all__ = [
    "BLOCK_CELLS",
    "Comparison",
    "ComparisonError",
    "CorpusTest",
    "Examples",
    "McNemar",
    "MissingSamples",
    "NoPairedTest",
    "PairedOptions",
    "PairedStatistics",
    "PerExampleMean",
    "SufficientStatistics",
    "System",
    "Untestable",
    "approximate_randomization",
    "count_blocks",
    "mcnemar",
    "paired_bootstrap",
    "paired_permutation",
    "paired_randomization",
    "resample_indices",
]

MCNEMAR_EXACT_BELOW = 25
"""McNemar uses the exact binomial test when the discordant count ``b + c`` is below this."""

BLOCK_CELLS = 1 << 24
"""How many (resample × example) cells one block of a resample count matrix may hold (8 bytes
each): bounds memory on large test sets without changing any number."""

CorpusTest = Literal["bs", "ar"]
T = TypeVar("T")


class ComparisonError(BenchError):
    """Two runs cannot be compared (different test sets, metrics or signatures)."""


class MissingSamples(ComparisonError):
    """A run folder has no ``samples.jsonl`` (per-example scores), so no paired test can run."""


class NoPairedTest(ComparisonError):
    """The metric value declares no paired test, or its declaration cannot run on these runs."""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Comparison:
    """One paired comparison of a metric between runs A and B.

    Attributes:
        metric: The metric value's name (``bleu``, ``rouge1``, ``ndcg@10``).
        difference: ``value(A) − value(B)`` on the metric's own scale.
        ci_low: Lower end of the 95% paired bootstrap interval of the difference.
        ci_high: Upper end of that interval.
        p_value: The two-sided p-value of the paired test.
        method: The test (``paired-bootstrap``, ``approximate-randomization``,
            ``mcnemar-exact``, ``mcnemar-chi2-cc``, ``paired-permutation``,
            ``paired-permutation-exact``).
        value_a: A's value on the compared examples.
        value_b: B's value on the compared examples.
        n: Number of paired examples.
        detail: A human-readable note (McNemar's ``b``/``c``, number of trials).
        p_holm: The Holm–Bonferroni adjusted p-value, when several tests were made together.
        ci_reason: Why the difference has no interval (``ci_low``/``ci_high`` NaN): fewer than
            :data:`~bench.metrics.resampling.MIN_CI_N` paired examples.
    """

    metric: str
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    method: str
    value_a: float
    value_b: float
    n: int
    detail: str = ""
    p_holm: float | None = None
    ci_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        """``{difference, ci_low, ci_high, p_value, method}`` (and ``p_holm`` and ``ci_reason``
        when set); an interval not computed is ``null``."""
        out: dict[str, Any] = {
            "difference": self.difference,
            "ci_low": None if math.isnan(self.ci_low) else self.ci_low,
            "ci_high": None if math.isnan(self.ci_high) else self.ci_high,
            "p_value": self.p_value,
            "method": self.method,
        }
        if self.p_holm is not None:
            out["p_holm"] = self.p_holm
        if self.ci_reason is not None:
            out["ci_reason"] = self.ci_reason
        return out

    def ci_text(self) -> str:
        """The difference's interval as tables show it: ``[-0.0100, +0.0300]``, or
        ``n/a (n=3)`` when it was withheld (:attr:`ci_reason`)."""
        if self.ci_reason is not None or math.isnan(self.ci_low) or math.isnan(self.ci_high):
            return f"n/a (n={self.n})" if self.ci_reason else "—"
        return f"[{self.ci_low:+.4f}, {self.ci_high:+.4f}]"


AR_TRIALS = 10000
"""Approximate-randomisation trials by default: sacrebleu's ``--paired-ar-nrounds`` default, so
that its p-values are reproduced as they are."""


@dataclass(frozen=True)
class PairedOptions:
    """Settings of one paired test.

    Attributes:
        resamples: Bootstrap resamples, permutations or randomisation trials.
        seed: Seed of every random draw.
        confidence: Coverage of the difference's interval.
        want_ci: Compute the difference's interval; without it (the tie test needs only the
            p-value) ``ci_low`` and ``ci_high`` are NaN. The p-value is the same either way.
        corpus_test: ``bs`` (paired bootstrap) or ``ar`` (approximate randomisation, where the
            declaration offers it).
        ar_trials: Trials of approximate randomisation (:data:`AR_TRIALS`).
    """

    resamples: int = 1000
    seed: int = 12345
    confidence: float = 0.95
    want_ci: bool = True
    corpus_test: CorpusTest = "bs"
    ar_trials: int = AR_TRIALS


class Examples(Protocol):
    """One run's per-example data, as a declaration reads it (:class:`bench.stats.Run`)."""

    @property
    def record(self) -> RunRecord:
        """The run's validated record."""

    @property
    def samples_path(self) -> Path:
        """The run's ``samples.jsonl`` (for messages)."""

    @property
    def ids(self) -> list[str]:
        """Example ids in file order."""

    def has_scores(self, key: str) -> bool:
        """Whether the samples carry per-example score ``key``."""

    def scores(self, key: str) -> np.ndarray:
        """Per-example score ``key`` as floats, NaN where it is ``null``."""

    def references(self) -> list[Any]:
        """Per-example references, as the samples store them."""

    def responses(self) -> list[Mapping[str, Any] | None]:
        """Per-example responses (``None`` for a failed example)."""

    def stored_statistics(self, metric: str) -> list[Any] | None:
        """Per-example statistic rows the run stored for ``metric``, if every example has them."""

    def memo(self, key: str, make: Callable[[], T]) -> T:
        """A value computed once per run."""


# --------------------------------------------------------------------------- draws and tests


@lru_cache(maxsize=4)
def resample_indices(n: int, resamples: int, seed: int) -> np.ndarray:
    """sacrebleu's resample indices: ``default_rng(seed).choice(n, (resamples, n))``.

    Cached (read-only) per ``(n, resamples, seed)``: every comparison on a test set shares them.
    """
    import numpy as np

    idx = np.random.default_rng(seed).choice(n, size=(resamples, n), replace=True)
    idx.setflags(write=False)
    return idx


def count_blocks(indices: np.ndarray) -> Iterator[np.ndarray]:
    """How often each example occurs in each resample of ``(B, n)`` ``indices``, as float
    ``(b, n)`` blocks of at most :data:`BLOCK_CELLS` cells, in row order."""
    import numpy as np

    b, n = indices.shape
    step = max(1, BLOCK_CELLS // max(n, 1))
    for start in range(0, b, step):
        block = indices[start : start + step]
        m = block.shape[0]
        flat = (block + (np.arange(m, dtype=np.int64) * n)[:, None]).ravel()
        yield np.bincount(flat, minlength=m * n).reshape(m, n).astype(np.float64)


@lru_cache(maxsize=2)
def _shared_counts(n: int, resamples: int, seed: int) -> tuple[np.ndarray, ...]:
    """:func:`count_blocks` of :func:`resample_indices`, built once per ``(n, resamples, seed)``
    instead of once per run: every run of a task multiplies the same counts."""
    out = []
    for counts in count_blocks(resample_indices(n, resamples, seed)):
        counts.setflags(write=False)
        out.append(counts)
    return tuple(out)


def _sacrebleu_p(sample_stats: np.ndarray, observed: float) -> float:
    """sacrebleu's ``_compute_p_value``: ``(#{stat > observed} + 1) / (len + 1)``."""
    import numpy as np

    count = int(np.count_nonzero(sample_stats > observed))
    return (count + 1) / (sample_stats.size + 1)


def paired_bootstrap(
    score_a: Callable[[np.ndarray], np.ndarray],
    score_b: Callable[[np.ndarray], np.ndarray],
    value_a: float,
    value_b: float,
    n: int,
    *,
    resamples: int = 1000,
    seed: int = 12345,
    confidence: float = 0.95,
    identical: bool = False,
    want_ci: bool = True,
) -> tuple[float, float, float]:
    """sacrebleu's paired bootstrap test, for any metric scored from resample indices.

    Args:
        score_a: Scores ``(B,)`` of system A on ``(B, n)`` resample indices.
        score_b: The same for system B.
        value_a: A's score on all examples.
        value_b: B's score on all examples.
        n: Number of examples.
        resamples: Number of bootstrap resamples.
        seed: Seed of ``numpy.random.default_rng``.
        confidence: Coverage of the interval of ``A − B``.
        identical: The systems agree on every example (``p = 1``).
        want_ci: Compute the interval; without it (a tie test needs only the p-value) the
            interval is ``(nan, nan)``.

    Returns:
        ``(p_value, ci_low, ci_high)`` with the percentile interval of ``A − B``.
    """
    import numpy as np

    idx = resample_indices(n, resamples, seed)
    sa, sb = score_a(idx), score_b(idx)
    low, high = percentile_ci(sa - sb, confidence) if want_ci else (math.nan, math.nan)
    if identical:
        return 1.0, low, high
    sample_diffs = np.abs(sa - sb)
    p = _sacrebleu_p(sample_diffs - sample_diffs.mean(), abs(value_a - value_b))
    return p, low, high


def approximate_randomization(
    rows_a: np.ndarray,
    rows_b: np.ndarray,
    vector_score: Callable[[np.ndarray], np.ndarray],
    value_a: float,
    value_b: float,
    *,
    trials: int = 10000,
    seed: int = 12345,
) -> float:
    """sacrebleu's paired approximate randomisation test on per-example statistics.

    Args:
        rows_a: ``(n, S)`` per-example statistics of system A.
        rows_b: The same for system B.
        vector_score: Scores ``(B,)`` of ``(B, S)`` summed statistics.
        value_a: A's score.
        value_b: B's score.
        trials: Number of random swaps.
        seed: Seed of ``numpy.random.default_rng``.

    Returns:
        The p-value; ``1.0`` when the two systems' statistics are equal on every example.
    """
    import numpy as np

    if np.array_equal(rows_a, rows_b):
        return 1.0
    n = rows_a.shape[0]
    pos = np.random.default_rng(seed).integers(2, size=(trials, n), dtype=bool)
    neg = ~pos
    shuf_a = pos @ rows_a + neg @ rows_b
    shuf_b = neg @ rows_a + pos @ rows_b
    diffs = np.abs(vector_score(shuf_a) - vector_score(shuf_b))
    return _sacrebleu_p(diffs, abs(value_a - value_b))


def paired_randomization(
    rows_a: np.ndarray,
    rows_b: np.ndarray,
    vector_score: Callable[[np.ndarray], np.ndarray],
    *,
    trials: int = 1000,
    seed: int = 12345,
) -> float:
    """Two-sided paired randomisation test (Noreen, 1989; Yeh, 2000) of a value computed from
    summed per-example statistics, such as macro-F1 from confusion cells.

    Each of ``trials`` trials swaps every example's statistic row between the systems with
    probability ½ (the null hypothesis: the two systems are exchangeable on every example);
    ``p = (#{|Δ*| ≥ |Δ|} + 1) / (trials + 1)``, counting differences equal to the observed
    one (up to float rounding), as a permutation test does. So two systems whose values are
    equal get ``p = 1`` whether or not their predictions are, unlike the paired bootstrap's
    ``|Δ*| − mean(|Δ*|) > |Δ|``, which reads about 0.4 at ``Δ = 0`` (that centring belongs to
    sacrebleu's corpus metrics, where bench reproduces it).

    Args:
        rows_a: ``(n, S)`` per-example statistics of system A.
        rows_b: The same for system B.
        vector_score: Scores ``(B,)`` of ``(B, S)`` summed statistics.
        trials: Number of random swaps.
        seed: Seed of ``numpy.random.default_rng``.

    Returns:
        The p-value; ``1.0`` when the two systems' statistics are equal on every example.

    Example:
        >>> import numpy as np
        >>> a = np.eye(2)[[0, 0, 1, 1]]  # two one-hot "cells" per system
        >>> paired_randomization(a, a[::-1], lambda s: s[:, 0], trials=100)
        1.0
    """
    import numpy as np

    a = np.asarray(rows_a, dtype=np.float64)
    b = np.asarray(rows_b, dtype=np.float64)
    if np.array_equal(a, b):
        return 1.0
    totals = vector_score(np.stack([a.sum(axis=0), b.sum(axis=0)]))
    observed = abs(float(totals[0] - totals[1]))
    tolerance = 1e-12 * max(1.0, observed)
    differ = np.flatnonzero(np.any(a != b, axis=1))  # swapping equal rows changes nothing
    da, db = a[differ], b[differ]
    base = a.sum(axis=0) - da.sum(axis=0)  # the rows both systems share, on both sides
    m = differ.size
    rng = np.random.default_rng(seed)
    count = 0
    step = max(1, (1 << 20) // max(m, 1))  # 8 MB of swaps per block
    for start in range(0, trials, step):
        swap = rng.integers(2, size=(min(step, trials - start), m)).astype(np.float64)
        keep = 1.0 - swap
        sa = base + keep @ da + swap @ db
        sb = base + swap @ da + keep @ db
        diffs = np.abs(vector_score(sa) - vector_score(sb))
        count += int(np.count_nonzero(diffs >= observed - tolerance))
    return (count + 1) / (trials + 1)


def mcnemar(a_correct: np.ndarray, b_correct: np.ndarray) -> tuple[float, str, str]:
    """McNemar's test of two systems' 0/1 outcomes on the same examples.

    Args:
        a_correct: Booleans (or 0/1), one per example, for system A.
        b_correct: The same for system B.

    Returns:
        ``(p_value, method, detail)``: ``mcnemar-exact`` (two-sided exact binomial test on the
        discordant pairs, ``scipy.stats.binomtest``) when ``b + c < 25``, else
        ``mcnemar-chi2-cc`` (χ² with continuity correction); ``detail`` gives ``b`` and ``c``.

    Example:
        >>> import numpy as np
        >>> a = np.array([1, 1, 1, 1, 0, 1], bool)
        >>> b = np.array([0, 0, 0, 1, 0, 1], bool)
        >>> mcnemar(a, b)  # b=3, c=0: exact, 2 * 0.5**3
        (0.25, 'mcnemar-exact', 'b=3, c=0')
    """
    import numpy as np

    a = np.asarray(a_correct, dtype=bool)
    b = np.asarray(b_correct, dtype=bool)
    only_a = int(np.count_nonzero(a & ~b))
    only_b = int(np.count_nonzero(~a & b))
    discordant = only_a + only_b
    detail = f"b={only_a}, c={only_b}"
    if discordant == 0:
        return 1.0, "mcnemar-exact", detail
    if discordant < MCNEMAR_EXACT_BELOW:
        from scipy.stats import binomtest

        return float(binomtest(only_a, discordant, 0.5).pvalue), "mcnemar-exact", detail
    statistic = (abs(only_a - only_b) - 1) ** 2 / discordant
    # The χ² survival function with one degree of freedom: P(χ²₁ > x) = erfc(√(x/2)).
    return math.erfc(math.sqrt(statistic / 2)), "mcnemar-chi2-cc", detail


def paired_permutation(
    a: np.ndarray, b: np.ndarray, *, resamples: int = 1000, seed: int = 12345
) -> tuple[float, str]:
    """Two-sided paired permutation (sign-flip) test of ``mean(a) = mean(b)``.

    The statistic is ``|mean(d)|`` with ``d = a − b``. When the ``m`` non-zero differences allow
    ``2^m ≤ resamples`` sign vectors, all are enumerated and the p-value is exact; otherwise
    ``resamples`` random sign vectors give ``p = (#{T* ≥ T} + 1) / (resamples + 1)``.

    Returns:
        ``(p_value, method)``: ``paired-permutation-exact`` or ``paired-permutation``.

    Example:
        >>> import numpy as np
        >>> paired_permutation(np.array([1.0, 2.0, 3.0]), np.array([0.0, 0.0, 0.0]))
        (0.25, 'paired-permutation-exact')
    """
    import numpy as np

    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    nonzero = d[d != 0]
    m = nonzero.size
    if m == 0:
        return 1.0, "paired-permutation-exact"
    observed = abs(float(nonzero.sum()))
    # Float sums of the same numbers in another order may differ in the last bits.
    tolerance = 1e-9 * float(np.abs(nonzero).sum())
    if m <= 30 and 2**m <= resamples:
        bits = (np.arange(2**m, dtype=np.int64)[:, None] >> np.arange(m, dtype=np.int64)) & 1
        sums = np.abs((1 - 2 * bits).astype(np.float64) @ nonzero)
        return float(np.count_nonzero(sums >= observed - tolerance)) / 2**m, (
            "paired-permutation-exact"
        )
    sums = np.empty(resamples, dtype=np.float64)
    for start, signs in _sign_blocks(m, resamples, seed):
        sums[start : start + signs.shape[0]] = np.abs(signs @ nonzero)
    count = int(np.count_nonzero(sums >= observed - tolerance))
    return (count + 1) / (resamples + 1), "paired-permutation"


@lru_cache(maxsize=8)
def _sign_blocks(m: int, resamples: int, seed: int) -> tuple[tuple[int, np.ndarray], ...]:
    """The random sign vectors of :func:`paired_permutation`, in its blocks of rows.

    Drawn from ``default_rng(seed)`` block by block (at most 4M cells each) and cached
    (read-only) per ``(m, resamples, seed)``: the tests of one task's models against the best
    share them.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    block = max(1, (1 << 22) // m)
    out = []
    for start in range(0, resamples, block):
        size = min(block, resamples - start)
        signs = 1.0 - 2.0 * rng.integers(2, size=(size, m), dtype=np.int8)
        signs.setflags(write=False)
        out.append((start, signs))
    return tuple(out)


def _boot_mean(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The mean of ``values`` in each resample of ``(B, n)`` ``idx``, block by block."""
    import numpy as np

    out = np.empty(idx.shape[0], dtype=np.float64)
    block = max(1, (1 << 22) // max(idx.shape[1], 1))
    for start in range(0, idx.shape[0], block):
        out[start : start + block] = values[idx[start : start + block]].mean(axis=1)
    return out


# --------------------------------------------------------------------------- declarations


class PairedStatistics(ABC):
    """A metric value's declaration: how it is resampled and compared between two runs."""

    def unavailable(self, run: Examples) -> str | None:
        """Why this declaration cannot test ``run``'s value (``None`` when it can)."""
        return None

    @abstractmethod
    def compare(self, a: Examples, b: Examples, value: str, options: PairedOptions) -> Comparison:
        """Compare value ``value`` of runs ``a`` and ``b`` (same task, same examples, in order).

        Raises:
            ComparisonError: The runs' samples do not allow the test.
        """


@dataclass(frozen=True)
class PerExampleMean(PairedStatistics):
    """The value is the mean of per-example score ``column`` (examples scored ``null`` in either
    run are left out): paired permutation test, bootstrap interval of the mean difference.

    Attributes:
        column: The per-example score in ``samples.jsonl`` (``scores.<column>``).
    """

    column: str

    def unavailable(self, run: Examples) -> str | None:
        if not run.has_scores(self.column):
            return "no per-example scores in samples.jsonl"
        return None

    def compare(self, a: Examples, b: Examples, value: str, options: PairedOptions) -> Comparison:
        import numpy as np

        col_a, col_b = a.scores(self.column), b.scores(self.column)
        keep = ~(np.isnan(col_a) | np.isnan(col_b))
        xa, xb = col_a[keep], col_b[keep]
        m = int(xa.size)
        if m == 0:
            raise ComparisonError(
                f"task '{a.record.task.name}', metric '{value}': no example is scored in both runs",
                fix="choose another metric",
            )
        va, vb = math.fsum(xa.tolist()) / m, math.fsum(xb.tolist()) / m
        low, high = math.nan, math.nan
        if options.want_ci:
            idx = resample_indices(m, options.resamples, options.seed)
            low, high = percentile_ci(_boot_mean(xa - xb, idx), options.confidence)
        n = len(col_a)
        note = "" if m == n else f" on the {m} examples scored in both runs"
        p, method, detail = self.test(xa, xb, options)
        return Comparison(value, va - vb, low, high, p, method, va, vb, m, detail + note)

    def test(
        self, xa: np.ndarray, xb: np.ndarray, options: PairedOptions
    ) -> tuple[float, str, str]:
        """``(p_value, method, detail)`` of the paired test on the kept per-example scores."""
        p, method = paired_permutation(xa, xb, resamples=options.resamples, seed=options.seed)
        return p, method, f"{options.resamples} sign flips"


@dataclass(frozen=True)
class McNemar(PerExampleMean):
    """A mean of 0/1 outcomes per example (accuracy; exact match scored 0 or 100): McNemar's
    test on the discordant examples. Scores other than 0 and the top score fall back to the
    paired permutation test."""

    def test(
        self, xa: np.ndarray, xb: np.ndarray, options: PairedOptions
    ) -> tuple[float, str, str]:
        import numpy as np

        top = max(float(np.max(xa)), float(np.max(xb)), 1.0)
        if set(np.unique(np.concatenate([xa, xb])).tolist()) <= {0.0, top}:
            return mcnemar(xa == top, xb == top)
        return super().test(xa, xb, options)


@dataclass(frozen=True)
class System:
    """One run's per-example statistics and its value, for :class:`SufficientStatistics`.

    Attributes:
        matrix: ``(n, S)`` per-example statistic rows.
        value: The run's value of the metric.
    """

    matrix: np.ndarray
    value: float


class SufficientStatistics(PairedStatistics):
    """The value is :meth:`score` of the sum of per-example statistic rows (:meth:`rows`).

    Subclasses implement :meth:`rows` (from a run's samples) and :meth:`score`; the paired
    bootstrap (and, when :attr:`randomization` is set, approximate randomisation) and the
    record's bootstrap interval (:meth:`interval`) follow from those two.
    """

    randomization: ClassVar[bool] = False
    """Whether ``corpus_test="ar"`` runs approximate randomisation instead of the bootstrap."""

    p_test: ClassVar[Literal["paired-bootstrap", "paired-randomization"]] = "paired-bootstrap"
    """The test of the p-value (the difference's interval is always the paired bootstrap's):
    ``paired-bootstrap``, sacrebleu's (for the corpus metrics it reproduces), or
    ``paired-randomization`` (:func:`paired_randomization`; equal values give ``p = 1``)."""

    @abstractmethod
    def rows(self, run: Examples) -> np.ndarray:
        """``(n, S)`` per-example statistics of ``run``, as floats."""

    @abstractmethod
    def score(self, sums: np.ndarray) -> np.ndarray:
        """The values ``(B,)`` of ``(B, S)`` summed statistics, vectorised."""

    def system(self, run: Examples, value: str) -> System:
        """``run``'s statistics and value (by default the value its record holds)."""
        return run.memo(
            f"stats:{value}",
            lambda: System(self.rows(run), float(run.record.metrics[value].value)),
        )

    def check_pair(self, a: Examples, b: Examples) -> None:
        """Refuse two runs whose statistics cannot be paired (default: any pair is fine)."""

    def detail(self, method: str, resamples: int) -> str:
        """The human-readable note of a comparison made with ``method``."""
        if method in ("approximate-randomization", "paired-randomization"):
            return f"{resamples} trials"
        return f"{resamples} resamples"

    def resample_sums(self, matrix: np.ndarray, indices: np.ndarray) -> np.ndarray:
        """Column sums ``(B, S)`` of the rows picked by ``(B, n)`` resample ``indices``."""
        import numpy as np

        return np.concatenate([counts @ matrix for counts in count_blocks(indices)])

    def interval(
        self, matrix: np.ndarray, bootstrap: BootstrapConfig
    ) -> tuple[float | None, float | None]:
        """The percentile bootstrap interval of the value over ``bootstrap``'s resamples of the
        examples (``(None, None)`` without resamples), as a record reports it."""
        n = int(matrix.shape[0])
        if not bootstrap.resamples or n == 0:
            return None, None
        counts = resample_counts(n, bootstrap)
        if counts is not None:  # the cached counts of the seeded resamples
            samples = self.score(counts @ matrix)
        else:
            samples = self.score(self.resample_sums(matrix, bootstrap.resample_indices(n)))
        return percentile_ci(samples, bootstrap.confidence)

    def _resample_scores(self, system: System, options: PairedOptions) -> np.ndarray:
        import numpy as np

        n = int(system.matrix.shape[0])
        counts = _shared_counts(n, options.resamples, options.seed)
        return self.score(np.concatenate([c @ system.matrix for c in counts]))

    def compare(self, a: Examples, b: Examples, value: str, options: PairedOptions) -> Comparison:
        import numpy as np

        self.check_pair(a, b)
        sa, sb = self.system(a, value), self.system(b, value)
        n = int(sa.matrix.shape[0])
        key = f"boot:{value}:{options.resamples}:{options.seed}"
        p, low, high = paired_bootstrap(
            lambda idx: a.memo(key, lambda: self._resample_scores(sa, options)),
            lambda idx: b.memo(key, lambda: self._resample_scores(sb, options)),
            sa.value,
            sb.value,
            n,
            resamples=options.resamples,
            seed=options.seed,
            confidence=options.confidence,
            identical=bool(np.array_equal(sa.matrix, sb.matrix)),
            want_ci=options.want_ci,
        )
        method = "paired-bootstrap"
        if self.p_test == "paired-randomization":
            p = paired_randomization(
                sa.matrix, sb.matrix, self.score, trials=options.resamples, seed=options.seed
            )
            method = "paired-randomization"
        elif options.corpus_test == "ar" and self.randomization:
            p = approximate_randomization(
                sa.matrix,
                sb.matrix,
                self.score,
                sa.value,
                sb.value,
                trials=options.ar_trials,
                seed=options.seed,
            )
            method = "approximate-randomization"
        return Comparison(
            value,
            sa.value - sb.value,
            low,
            high,
            p,
            method,
            sa.value,
            sb.value,
            n,
            self.detail(
                method,
                options.ar_trials if method == "approximate-randomization" else options.resamples,
            ),
        )


@dataclass(frozen=True)
class Untestable(PairedStatistics):
    """A value the metric reports but no paired test applies to (a set statistic such as item
    coverage, calibration error): :meth:`unavailable` gives the reason.

    Attributes:
        reason: Why there is no paired test.
    """

    reason: str

    def unavailable(self, run: Examples) -> str | None:
        return self.reason

    def compare(self, a: Examples, b: Examples, value: str, options: PairedOptions) -> Comparison:
        raise NoPairedTest(
            f"metric '{value}' has no paired test: {self.reason}", fix="choose another --metric"
        )
