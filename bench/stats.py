"""Paired significance tests between two runs of one task, and the leaderboard's tie test.

Two runs of the same task on the same test set are compared example by example. The test
depends on what kind of number the metric is:

* **Corpus metrics** (BLEU, chrF, TER): sacrebleu's two paired methods, computed from the
  per-segment sufficient statistics (:func:`bench.metrics.mt.corpus_stats`), vectorised:

  - ``paired-bootstrap`` (Koehn, 2004; sacrebleu's ``--paired-bs``): ``resamples`` resamples of
    the segments drawn with ``numpy.random.default_rng(seed).choice``, both systems scored on
    each; with ``Δ*`` the absolute score difference of a resample and ``Δ`` the observed one,
    ``p = (#{Δ* − mean(Δ*) > Δ} + 1) / (resamples + 1)``.
  - ``approximate-randomization`` (Riezler & Maxwell, 2005; sacrebleu's ``--paired-ar``):
    ``resamples`` trials, each swapping every segment's statistics between the systems with
    probability ½; ``p = (#{|score(A*) − score(B*)| > Δ} + 1) / (resamples + 1)``.

  Both reproduce ``sacrebleu.significance.PairedTest`` exactly (same random draws, same
  counting; a test checks the p-values against sacrebleu's). sacrebleu counts only *strictly*
  larger differences, so two systems whose statistics are equal on every segment would get
  ``p = 1/(resamples + 1)``; bench returns ``p = 1`` there, since no resampling can produce any
  difference at all.
* **Accuracy and exact match** (0/1 per example): McNemar's test on the discordant pairs ``b``
  (A right, B wrong) and ``c`` (A wrong, B right). When ``b + c < 25`` the exact two-sided
  binomial test (``scipy.stats.binomtest(b, b + c, 0.5)``, method ``mcnemar-exact``); otherwise
  the χ² statistic with Edwards' continuity correction, ``(|b − c| − 1)² / (b + c)`` on one degree
  of freedom (``mcnemar-chi2-cc``). ``b + c = 0`` gives ``p = 1``.
* **Other per-example means** (ROUGE, QA F1, per-user ranking metrics, sentence scores): a
  paired permutation (sign-flip) test on the per-example differences ``d``:
  ``p = (#{|mean(s·d)| ≥ |mean(d)|} + 1) / (resamples + 1)`` over ``resamples`` random sign
  vectors ``s`` (``paired-permutation``), or the exact distribution over all ``2^m`` sign
  vectors of the ``m`` non-zero differences when ``2^m ≤ resamples`` (``paired-permutation-exact``).
* **Classification metrics that are not means** (macro-F1, MCC, per-class P/R/F1): the paired
  bootstrap above over (prediction, label) pairs, each resample's confusion matrices built in
  one vectorised pass.

Every comparison also reports ``difference = value(A) − value(B)`` on the metric's own scale and
its 95% percentile interval from ``resamples`` paired bootstrap resamples of the examples
(seeded; the same resamples for both systems). Across several tests,
:func:`holm` adjusts the p-values (Holm–Bonferroni, controlling the family-wise error rate).

Runs are read from their folders (``record.json`` and ``samples.jsonl``). Two runs are only
compared when they scored the same examples: the task version, dataset fingerprint, example
count, example ids and the metric's signature (bootstrap settings aside, which change only
intervals) must agree, otherwise :class:`ComparisonError` names both runs.

References:
    Philipp Koehn. 2004. Statistical Significance Tests for Machine Translation Evaluation.
    EMNLP.
    Stefan Riezler and John T. Maxwell III. 2005. On Some Pitfalls in Automatic Evaluation and
    Significance Testing for MT. ACL Workshop on Intrinsic and Extrinsic Evaluation Measures.
    Quinn McNemar. 1947. Note on the sampling error of the difference between correlated
    proportions or percentages. Psychometrika 12(2).
    Sture Holm. 1979. A simple sequentially rejective multiple test procedure. Scandinavian
    Journal of Statistics 6(2).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

from bench.errors import BenchError
from bench.records import RunRecord, load_record, read_samples

__all__ = [
    "CORPUS_METRICS",
    "Comparison",
    "ComparisonError",
    "MissingSamples",
    "Run",
    "approximate_randomization",
    "compare_metric",
    "compare_results",
    "compare_runs",
    "holm",
    "load_run",
    "mcnemar",
    "pairable_metrics",
    "paired_bootstrap",
    "paired_permutation",
    "tied_with_best",
]

CORPUS_METRICS = ("bleu", "chrf", "ter")
"""Metrics scored from summed per-segment statistics (sacrebleu's paired tests apply)."""

MCNEMAR_EXACT_BELOW = 25
"""McNemar uses the exact binomial test when the discordant count ``b + c`` is below this."""

CorpusTest = Literal["bs", "ar"]
_BOOT_TAG = re.compile(r"\|(?:boot:\d+\|conf:[^|]*\|seed:-?\d+|ci:none)")
_CLASSIFICATION = re.compile(r"^(macro_f1|mcc|(precision|recall|f1)/.+)$")


class ComparisonError(BenchError):
    """Two runs cannot be compared (different test sets, metrics or signatures)."""


class MissingSamples(ComparisonError):
    """A run folder has no ``samples.jsonl`` (per-example scores), so no paired test can run."""


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

    def to_json(self) -> dict[str, Any]:
        """``{difference, ci_low, ci_high, p_value, method}`` (and ``p_holm`` when set)."""
        out: dict[str, Any] = {
            "difference": self.difference,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "p_value": self.p_value,
            "method": self.method,
        }
        if self.p_holm is not None:
            out["p_holm"] = self.p_holm
        return out


# --------------------------------------------------------------------------- the tests


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the input order.

    With the ``m`` p-values sorted ascending, ``p̃₍ᵢ₎ = max_{j ≤ i} min(1, (m − j + 1) · p₍ⱼ₎)``;
    rejecting where ``p̃ < α`` controls the family-wise error rate at ``α``.

    Example:
        >>> holm([0.01, 0.04, 0.03])
        [0.03, 0.06, 0.06]
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: (p_values[i], i))
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(p_values[i])))
        out[i] = running
    return out


def _sacrebleu_p(sample_stats: np.ndarray, observed: float) -> float:
    """sacrebleu's ``_compute_p_value``: ``(#{stat > observed} + 1) / (len + 1)``."""
    count = int(np.count_nonzero(sample_stats > observed))
    return (count + 1) / (sample_stats.size + 1)


@lru_cache(maxsize=4)
def _indices(n: int, resamples: int, seed: int) -> np.ndarray:
    """sacrebleu's resample indices: ``default_rng(seed).choice(n, (resamples, n))``.

    Cached (read-only) per ``(n, resamples, seed)``: every comparison on a test set shares them.
    """
    idx = np.random.default_rng(seed).choice(n, size=(resamples, n), replace=True)
    idx.setflags(write=False)
    return idx


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
    idx = _indices(n, resamples, seed)
    sa, sb = score_a(idx), score_b(idx)
    low, high = _percentiles(sa - sb, confidence) if want_ci else (math.nan, math.nan)
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
    """sacrebleu's paired approximate randomisation test on per-segment statistics.

    Args:
        rows_a: ``(n, S)`` per-segment statistics of system A.
        rows_b: The same for system B.
        vector_score: Scores ``(B,)`` of ``(B, S)`` summed statistics.
        value_a: A's corpus score.
        value_b: B's corpus score.
        trials: Number of random swaps.
        seed: Seed of ``numpy.random.default_rng``.

    Returns:
        The p-value; ``1.0`` when the two systems' statistics are equal on every segment.
    """
    if np.array_equal(rows_a, rows_b):
        return 1.0
    n = rows_a.shape[0]
    pos = np.random.default_rng(seed).integers(2, size=(trials, n), dtype=bool)
    neg = ~pos
    shuf_a = pos @ rows_a + neg @ rows_b
    shuf_b = neg @ rows_a + pos @ rows_b
    diffs = np.abs(vector_score(shuf_a) - vector_score(shuf_b))
    return _sacrebleu_p(diffs, abs(value_a - value_b))


def mcnemar(a_correct: np.ndarray, b_correct: np.ndarray) -> tuple[float, str, str]:
    """McNemar's test of two systems' 0/1 outcomes on the same examples.

    Args:
        a_correct: Booleans (or 0/1), one per example, for system A.
        b_correct: The same for system B.

    Returns:
        ``(p_value, method, detail)``: ``mcnemar-exact`` (two-sided exact binomial test on the
        discordant pairs) when ``b + c < 25``, else ``mcnemar-chi2-cc`` (χ² with continuity
        correction); ``detail`` gives ``b`` and ``c``.

    Example:
        >>> import numpy as np
        >>> a = np.array([1, 1, 1, 1, 0, 1], bool)
        >>> b = np.array([0, 0, 0, 1, 0, 1], bool)
        >>> mcnemar(a, b)  # b=3, c=0: exact, 2 * 0.5**3
        (0.25, 'mcnemar-exact', 'b=3, c=0')
    """
    a = np.asarray(a_correct, dtype=bool)
    b = np.asarray(b_correct, dtype=bool)
    only_a = int(np.count_nonzero(a & ~b))
    only_b = int(np.count_nonzero(~a & b))
    discordant = only_a + only_b
    detail = f"b={only_a}, c={only_b}"
    if discordant == 0:
        return 1.0, "mcnemar-exact", detail
    if discordant < MCNEMAR_EXACT_BELOW:
        # Two-sided exact binomial test at p = 1/2 (symmetric: twice the smaller tail), in
        # exact integer arithmetic; equal to scipy.stats.binomtest(b, b + c).pvalue.
        tail = sum(math.comb(discordant, i) for i in range(min(only_a, only_b) + 1))
        return min(1.0, 2 * tail / 2**discordant), "mcnemar-exact", detail
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
    rng = np.random.default_rng(seed)
    block = max(1, (1 << 22) // m)
    out = []
    for start in range(0, resamples, block):
        size = min(block, resamples - start)
        signs = 1.0 - 2.0 * rng.integers(2, size=(size, m), dtype=np.int8)
        signs.setflags(write=False)
        out.append((start, signs))
    return tuple(out)


def _percentiles(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return float("nan"), float("nan")
    alpha = (1 - confidence) / 2
    low, high = np.quantile(finite, [alpha, 1 - alpha])
    return float(low), float(high)


@lru_cache(maxsize=2)
def _resample_counts(n: int, resamples: int, seed: int) -> tuple[np.ndarray, ...]:
    """How often each example occurs in each resample of :func:`_indices`, as float blocks.

    The blocks are those of :meth:`bench.metrics.mt.CorpusStats.resample_sums` (so the sums
    below are computed exactly as it computes them), built once per ``(n, resamples, seed)``
    instead of once per run: every run of a task multiplies the same counts.
    """
    from bench.metrics.mt import _BLOCK_CELLS

    idx = _indices(n, resamples, seed)
    step = max(1, _BLOCK_CELLS // max(n, 1))
    out = []
    for start in range(0, resamples, step):
        block = idx[start : start + step]
        m = block.shape[0]
        flat = (block + (np.arange(m, dtype=np.int64) * n)[:, None]).ravel()
        counts = np.bincount(flat, minlength=m * n).reshape(m, n).astype(np.float64)
        counts.setflags(write=False)
        out.append(counts)
    return tuple(out)


def _corpus_resample_scores(stats: Any, n: int, resamples: int, seed: int) -> np.ndarray:
    """``stats.resample_scores(_indices(n, resamples, seed))``, from the shared counts."""
    sums = np.concatenate(
        [counts @ stats.matrix for counts in _resample_counts(n, resamples, seed)]
    )
    scores: np.ndarray = stats.vector_score(sums)
    return scores


def _boot_mean(values: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    def score(idx: np.ndarray) -> np.ndarray:
        out = np.empty(idx.shape[0], dtype=np.float64)
        block = max(1, (1 << 22) // max(idx.shape[1], 1))
        for start in range(0, idx.shape[0], block):
            out[start : start + block] = values[idx[start : start + block]].mean(axis=1)
        return out

    return score


# --------------------------------------------------------------------------- runs


@dataclass
class Run:
    """One run folder: its record and (lazily) its ``samples.jsonl`` rows.

    Attributes:
        folder: The run folder (``RESULTS/<model>/<task>``).
        record: The validated ``record.json``.
    """

    folder: Path
    record: RunRecord
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        """The model's display name."""
        return self.record.model.name

    @cached_property
    def rows(self) -> list[dict[str, Any]]:
        """The parsed lines of ``samples.jsonl``.

        Raises:
            MissingSamples: The file is missing or unreadable.
            ComparisonError: Its number of lines differs from the record's example count.
        """
        path = self.folder / "samples.jsonl"
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise MissingSamples(
                f"{path}: no per-example samples ({exc.strerror or exc}), so run "
                f"'{self.name}' on '{self.record.task.name}' cannot be compared example by "
                "example",
                fix="re-run the task to write samples.jsonl beside record.json",
            ) from exc
        rows = [line.row() for line in read_samples(path, self.record, text=text)]
        if len(rows) != self.record.task.n_examples:
            raise ComparisonError(
                f"{path}: {len(rows)} lines for {self.record.task.n_examples} examples in "
                "record.json",
                fix="re-run the task; the folder holds files of two different runs",
            )
        return rows

    @cached_property
    def ids(self) -> list[str]:
        """Example ids in file order."""
        return [str(r.get("id")) for r in self.rows]

    def column(self, key: str) -> np.ndarray:
        """Per-example score ``key`` as floats, NaN where the score is ``null``.

        Raises:
            ComparisonError: No example has that score.
        """
        cache_key = f"col:{key}"
        if cache_key not in self._memo:
            values = [(r.get("scores") or {}).get(key) for r in self.rows]
            if all(v is None for v in values):
                raise ComparisonError(
                    f"{self.folder / 'samples.jsonl'}: no per-example '{key}' scores",
                    fix="re-run the task with this version of bench",
                )
            self._memo[cache_key] = np.array(
                [np.nan if v is None else float(v) for v in values], dtype=np.float64
            )
        col: np.ndarray = self._memo[cache_key]
        return col

    def memo(self, key: str, make: Callable[[], Any]) -> Any:
        """A value computed once per run (statistics shared between comparisons)."""
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]


def load_run(folder: str | Path) -> Run:
    """Read a run folder (``record.json``; ``samples.jsonl`` is read when first needed).

    Raises:
        RecordError: ``record.json`` is missing or invalid.
    """
    folder = Path(folder)
    return Run(folder=folder, record=load_record(folder / "record.json"))


def _strip_bootstrap(signature: str) -> str:
    return _BOOT_TAG.sub("", signature)


def _check_comparable(a: Run, b: Run, metrics: Iterable[str]) -> None:
    ta, tb = a.record.task, b.record.task
    who = f"'{a.name}' ({a.folder}) and '{b.name}' ({b.folder})"
    fix = "compare runs of the same task version on the same data (same --limit and --data)"
    if ta.name != tb.name:
        raise ComparisonError(f"{who} are runs of different tasks ({ta.name}, {tb.name})", fix=fix)
    for label, va, vb in (
        ("task version", ta.version, tb.version),
        ("dataset fingerprint", ta.dataset_fingerprint, tb.dataset_fingerprint),
        ("example count n", ta.n_examples, tb.n_examples),
    ):
        if va != vb:
            raise ComparisonError(
                f"task '{ta.name}': {who} differ in {label} ({va} vs {vb})", fix=fix
            )
    for metric in metrics:
        sa = _strip_bootstrap(a.record.metrics[metric].signature)
        sb = _strip_bootstrap(b.record.metrics[metric].signature)
        if sa != sb:
            raise ComparisonError(
                f"task '{ta.name}', metric '{metric}': {who} have different signatures "
                f"({sa} vs {sb})",
                fix="compare runs scored with the same metric settings and library versions",
            )


def _check_ids(a: Run, b: Run) -> None:
    if a.ids != b.ids:
        first = next((i for i, (x, y) in enumerate(zip(a.ids, b.ids, strict=True)) if x != y), None)
        raise ComparisonError(
            f"task '{a.record.task.name}': '{a.name}' and '{b.name}' list different examples "
            f"(line {first} of samples.jsonl: {a.ids[first or 0]!r} vs {b.ids[first or 0]!r})",
            fix="compare runs made on the same test set",
        )


# --------------------------------------------------------------------------- per-metric tests


def _kind(metric: str, run: Run) -> str:
    """``corpus``, ``mcnemar``, ``classification``, ``mean`` or ``none:<why>``."""
    value = run.record.metrics[metric]
    if not isinstance(value.value, (int, float)):
        return "none:a table, not a number"
    if metric in CORPUS_METRICS:
        return "corpus"
    if metric == "accuracy":
        return "mcnemar"
    if _CLASSIFICATION.match(metric) and value.signature.startswith(
        ("macro_f1|", "mcc|", "per_class|")
    ):
        return "classification"
    if metric == "ece" or metric.startswith("coverage@"):
        return "none:not a mean of paired per-example scores"
    scores = (run.rows[0].get("scores") or {}) if run.rows else {}
    if metric not in scores:
        return "none:no per-example scores in samples.jsonl"
    if metric.endswith("_em"):
        return "mcnemar"
    return "mean"


_SCORERS: dict[tuple[str, str, str, int], Any] = {}
"""sacrebleu metric objects with their references cached, shared by the runs of one test set
(tokenising the references once, not once per run). Bounded to a few test sets."""


def _shared_scorer(metric: Any, language: str, streams: list[list[str]]) -> Any:
    key = (metric.name, metric.model_dump_json(), language, hash(tuple(map(tuple, streams))))
    scorer = _SCORERS.get(key)
    if scorer is None:
        scorer = metric.scorer(language)
        scorer._ref_cache = scorer._cache_references(streams)
        if len(_SCORERS) >= 8:
            _SCORERS.pop(next(iter(_SCORERS)))
        _SCORERS[key] = scorer
    return scorer


def _corpus_stats(run: Run, metric: str) -> Any:
    def make() -> Any:
        from bench.metrics.mt import BLEU, CHRF, TER, CorpusStats
        from bench.metrics.mt import _streams as check_streams

        record = run.record
        params: dict[str, Any] = {}
        for spec in record.task.metric_specs:
            if spec.get("name") == metric:
                params = dict(spec.get("params") or {})
        configured = {"bleu": BLEU, "chrf": CHRF, "ter": TER}[metric](**params)
        # A translation task lists [source, target]; the signature check below catches a
        # tokenizer that differs from the one the run used.
        language = (record.task.languages or [""])[-1]
        references = [_references(r, run) for r in run.rows]
        rows = _stored_segment_stats(run, metric, configured, language)
        if rows is not None:
            scorer = configured.scorer(language)
            counts = {len(refs) for refs in references}
            scorer.num_refs = counts.pop() if len(counts) == 1 else -1  # as sacrebleu sets it
        else:
            hyps = ["" if h is None else h for h in (_hypothesis(r) for r in run.rows)]
            streams = check_streams(references, len(hyps))
            scorer = _shared_scorer(configured, language, streams)
            rows = scorer._extract_corpus_statistics(hyps, None)
        stats = CorpusStats(
            scorer=scorer,
            rows=rows,
            matrix=np.asarray(rows, dtype=np.float64).reshape(len(rows), -1),
            vector_score=configured.vector_score,
        )
        recorded = record.metrics[metric]
        if not math.isclose(stats.score(), float(recorded.value), rel_tol=1e-9, abs_tol=1e-9):
            raise ComparisonError(
                f"{run.folder}: {metric} recomputed from samples.jsonl is {stats.score()!r}, "
                f"record.json says {recorded.value!r}",
                fix="re-run the task; the samples do not reproduce the record",
            )
        if stats.signature() not in recorded.signature:
            raise ComparisonError(
                f"{run.folder}: {metric} recomputed with '{stats.signature()}', the record was "
                f"scored with '{recorded.signature}'",
                fix="install the library versions named in the record, or re-run the task",
            )
        return stats

    return run.memo(f"corpus:{metric}", make)


SEGMENT_STATS = "segment_stats"
"""The optional ``samples.jsonl`` field ``{metric: [statistic, ...]}`` of a translation example:
sacrebleu's sufficient statistics of the segment (``_extract_corpus_statistics``), so the paired
tests need not re-tokenise every run's hypotheses. Trusted only when their sum reproduces the
recorded corpus score (and the signature matches), as recomputed statistics are."""


@lru_cache(maxsize=16)
def _stats_width(metric_json: str, name: str, language: str) -> int:
    """How many sufficient statistics a configured sacrebleu metric has per segment."""
    from bench.metrics.mt import corpus_stats

    configured = _metric_from_json(name, metric_json)
    return int(corpus_stats(configured, [""], [("",)], language=language).matrix.shape[1])


def _metric_from_json(name: str, metric_json: str) -> Any:
    from bench.metrics.mt import BLEU, CHRF, TER

    classes: dict[str, Any] = {"bleu": BLEU, "chrf": CHRF, "ter": TER}
    return classes[name].model_validate_json(metric_json)


def _stored_segment_stats(
    run: Run, metric: str, configured: Any, language: str
) -> list[list[Any]] | None:
    """The per-segment statistics stored in ``samples.jsonl`` (:data:`SEGMENT_STATS`), if any.

    Returns ``None`` unless every example stores ``metric``'s statistics (then they are
    recomputed from the texts).

    Raises:
        ComparisonError: A stored row is not a list of numbers of the metric's width.
    """
    stored = []
    for row in run.rows:
        block = row.get(SEGMENT_STATS)
        if not isinstance(block, dict) or metric not in block:
            return None
        stored.append(block[metric])
    width = _stats_width(configured.model_dump_json(), metric, language)
    for i, stats in enumerate(stored):
        if (
            not isinstance(stats, list)
            or len(stats) != width
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in stats)
        ):
            raise ComparisonError(
                f"{run.folder / 'samples.jsonl'}: example {run.rows[i].get('id')!r}: "
                f"'{SEGMENT_STATS}.{metric}' is not a list of {width} numbers",
                fix="re-run the task, or delete the field to recompute it from the texts",
            )
    return stored


def _hypothesis(row: dict[str, Any]) -> str | None:
    response = row.get("response")
    if isinstance(response, dict) and isinstance(response.get("text"), str):
        return str(response["text"])
    return None  # a failed example: an empty hypothesis, as when it was scored


def _references(row: dict[str, Any], run: Run) -> tuple[str, ...]:
    ref = row.get("reference")
    if isinstance(ref, str):
        return (ref,)
    if isinstance(ref, list) and all(isinstance(r, str) for r in ref):
        return tuple(ref)
    raise ComparisonError(
        f"{run.folder / 'samples.jsonl'}: example {row.get('id')!r} has no reference texts",
        fix="re-run the task with this version of bench",
    )


def _labels_of(signature: str) -> list[str]:
    for part in signature.split("|"):
        if part.startswith("labels:"):
            return part[len("labels:") :].split(",")
    raise ComparisonError(
        f"signature '{signature}' names no label set", fix="re-run the task with this bench"
    )


def _encoded_pairs(run: Run, labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    def make() -> tuple[np.ndarray, np.ndarray]:
        index = {label: i for i, label in enumerate(labels)}
        k = len(labels)
        gold, pred = [], []
        for row in run.rows:
            ref = row.get("reference")
            if ref not in index:
                raise ComparisonError(
                    f"{run.folder / 'samples.jsonl'}: example {row.get('id')!r} has gold label "
                    f"{ref!r}, not one of {labels}",
                    fix="re-run the task",
                )
            gold.append(index[ref])
            response = row.get("response")
            label = response.get("label") if isinstance(response, dict) else None
            pred.append(index.get(label, k) if isinstance(label, str) else k)
        return np.asarray(gold, dtype=np.int64), np.asarray(pred, dtype=np.int64)

    pairs: tuple[np.ndarray, np.ndarray] = run.memo(f"cls:{','.join(labels)}", make)
    return pairs


def _classification_scorer(
    metric: str, gold: np.ndarray, pred: np.ndarray, labels: list[str]
) -> Callable[[np.ndarray], np.ndarray]:
    from bench.metrics.classification import _mcc_from_confusion, _prf_from_confusion

    k = len(labels)
    size = k + 1
    cell = gold * size + pred

    def confusions(idx: np.ndarray) -> np.ndarray:
        b = idx.shape[0]
        flat = cell[idx] + (np.arange(b, dtype=np.int64) * size * size)[:, None]
        counts = np.bincount(flat.ravel(), minlength=b * size * size)
        return counts.reshape(b, size, size).astype(np.float64)

    def score(idx: np.ndarray) -> np.ndarray:
        conf = confusions(idx)
        if metric == "mcc":
            return np.asarray(_mcc_from_confusion(conf))
        precision, recall, f1 = _prf_from_confusion(conf, k)
        if metric == "macro_f1":
            return np.asarray(f1.mean(axis=-1))
        which, label = metric.split("/", 1)
        table = {"precision": precision, "recall": recall, "f1": f1}[which]
        return np.asarray(table[:, labels.index(label)])

    return score


def compare_metric(
    a: Run,
    b: Run,
    metric: str,
    *,
    resamples: int = 1000,
    seed: int = 12345,
    corpus_test: CorpusTest = "bs",
    confidence: float = 0.95,
    want_ci: bool = True,
) -> Comparison:
    """Compare one metric of two runs of the same task with the metric's paired test.

    Args:
        a: Run A.
        b: Run B.
        metric: A metric value name present in both records.
        resamples: Bootstrap resamples, permutations or randomisation trials.
        seed: Seed of every random draw.
        corpus_test: ``bs`` (paired bootstrap) or ``ar`` (approximate randomisation) for
            BLEU, chrF and TER.
        confidence: Coverage of the difference's interval.
        want_ci: Compute the difference's interval; without it (the tie test needs only the
            p-value) ``ci_low`` and ``ci_high`` are NaN. The p-value is the same either way.

    Raises:
        ComparisonError: The runs are not comparable, or the metric has no paired test.
        MissingSamples: A run has no ``samples.jsonl``.
    """
    for run in (a, b):
        if metric not in run.record.metrics:
            raise ComparisonError(
                f"run '{run.name}' ({run.folder}) has no metric '{metric}'"
                f" (it has {', '.join(sorted(run.record.metrics))})",
                fix="choose a metric both runs report",
            )
    _check_comparable(a, b, [metric])
    kind = _kind(metric, a)
    if kind.startswith("none:"):
        raise ComparisonError(
            f"metric '{metric}' has no paired test: {kind[5:]}",
            fix="choose another --metric",
        )
    _check_ids(a, b)
    n = a.record.task.n_examples
    if kind == "corpus":
        sa, sb = _corpus_stats(a, metric), _corpus_stats(b, metric)
        va, vb = sa.score(), sb.score()
        identical = bool(np.array_equal(sa.matrix, sb.matrix))
        boot = f"boot:{metric}:{resamples}:{seed}"
        p, low, high = paired_bootstrap(
            lambda idx: a.memo(boot, lambda: _corpus_resample_scores(sa, n, resamples, seed)),
            lambda idx: b.memo(boot, lambda: _corpus_resample_scores(sb, n, resamples, seed)),
            va,
            vb,
            n,
            resamples=resamples,
            seed=seed,
            confidence=confidence,
            identical=identical,
            want_ci=want_ci,
        )
        method, detail = "paired-bootstrap", f"{resamples} resamples, as sacrebleu --paired-bs"
        if corpus_test == "ar":
            p = approximate_randomization(
                sa.matrix, sb.matrix, sa.vector_score, va, vb, trials=resamples, seed=seed
            )
            method = "approximate-randomization"
            detail = f"{resamples} trials, as sacrebleu --paired-ar"
        return Comparison(metric, va - vb, low, high, p, method, va, vb, n, detail)
    if kind == "classification":
        labels = _labels_of(a.record.metrics[metric].signature)
        ga, pa = _encoded_pairs(a, labels)
        gb, pb = _encoded_pairs(b, labels)
        if not np.array_equal(ga, gb):
            raise ComparisonError(
                f"task '{a.record.task.name}': '{a.name}' and '{b.name}' have different gold "
                "labels",
                fix="compare runs made on the same test set",
            )
        score_a = _classification_scorer(metric, ga, pa, labels)
        score_b = _classification_scorer(metric, gb, pb, labels)
        va = float(a.record.metrics[metric].value)
        vb = float(b.record.metrics[metric].value)
        boot = f"boot:{metric}:{resamples}:{seed}"
        p, low, high = paired_bootstrap(
            lambda idx: a.memo(boot, lambda: score_a(idx)),
            lambda idx: b.memo(boot, lambda: score_b(idx)),
            va,
            vb,
            n,
            resamples=resamples,
            seed=seed,
            confidence=confidence,
            identical=bool(np.array_equal(pa, pb)),
            want_ci=want_ci,
        )
        return Comparison(
            metric, va - vb, low, high, p, "paired-bootstrap", va, vb, n, f"{resamples} resamples"
        )
    key = "correct" if metric == "accuracy" else metric  # accuracy's per-example column
    col_a, col_b = a.column(key), b.column(key)
    keep = ~(np.isnan(col_a) | np.isnan(col_b))
    xa, xb = col_a[keep], col_b[keep]
    m = int(xa.size)
    if m == 0:
        raise ComparisonError(
            f"task '{a.record.task.name}', metric '{metric}': no example is scored in both runs",
            fix="choose another metric",
        )
    va, vb = math.fsum(xa.tolist()) / m, math.fsum(xb.tolist()) / m
    low, high = math.nan, math.nan
    if want_ci:
        low, high = _percentiles(_boot_mean(xa - xb)(_indices(m, resamples, seed)), confidence)
    note = "" if m == n else f" on the {m} examples scored in both runs"
    if kind == "mcnemar":
        top = max(float(np.max(xa)), float(np.max(xb)), 1.0)
        if set(np.unique(np.concatenate([xa, xb])).tolist()) <= {0.0, top}:
            p, method, detail = mcnemar(xa == top, xb == top)
            return Comparison(metric, va - vb, low, high, p, method, va, vb, m, detail + note)
    p, method = paired_permutation(xa, xb, resamples=resamples, seed=seed)
    return Comparison(
        metric, va - vb, low, high, p, method, va, vb, m, f"{resamples} sign flips{note}"
    )


def pairable_metrics(run: Run) -> tuple[list[str], dict[str, str]]:
    """The metric values of a run that have a paired test, and why the others have none."""
    ok, skipped = [], {}
    for name in run.record.metrics:
        kind = _kind(name, run)
        if kind.startswith("none:"):
            skipped[name] = kind[5:]
        else:
            ok.append(name)
    return ok, skipped


def compare_runs(
    a: Run | str | Path,
    b: Run | str | Path,
    metrics: Sequence[str] | None = None,
    *,
    resamples: int = 1000,
    seed: int = 12345,
    corpus_test: CorpusTest = "bs",
) -> dict[str, Comparison]:
    """Compare every (or the named) metric of two runs of one task.

    Args:
        a: Run A (a :class:`Run` or its folder).
        b: Run B.
        metrics: Metric value names (default: every metric with a paired test).
        resamples: Bootstrap resamples / permutations / randomisation trials.
        seed: Seed of every random draw.
        corpus_test: ``bs`` or ``ar`` for BLEU, chrF and TER.

    Returns:
        ``{metric: Comparison}`` without Holm adjustment (see :func:`compare_results`).
    """
    run_a = a if isinstance(a, Run) else load_run(a)
    run_b = b if isinstance(b, Run) else load_run(b)
    names = list(metrics) if metrics else pairable_metrics(run_a)[0]
    from bench.metrics.base import single_blas_thread

    with single_blas_thread():  # the same sums, so the same p-values, on every machine
        return {
            m: compare_metric(
                run_a, run_b, m, resamples=resamples, seed=seed, corpus_test=corpus_test
            )
            for m in names
        }


def _model_folders(results: Path) -> dict[str, dict[str, Path]]:
    """``{model display name: {task: run folder}}`` under a results folder."""
    out: dict[str, dict[str, Path]] = {}
    for path in sorted(results.glob("*/*/record.json")):
        record = load_record(path)
        out.setdefault(record.model.name, {})[record.task.name] = path.parent
    return out


def _find_model(models: Mapping[str, dict[str, Path]], name: str, results: Path) -> str:
    if name in models:
        return name
    by_dir = {next(iter(tasks.values())).parent.name: m for m, tasks in models.items() if tasks}
    if name in by_dir:
        return by_dir[name]
    from bench.errors import did_you_mean

    raise ComparisonError(
        f"no runs of model '{name}' under {results}{did_you_mean(name, list(models))}",
        fix=f"use one of {sorted(models)}",
    )


def compare_results(
    results: str | Path,
    model_a: str,
    model_b: str,
    *,
    tasks: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    resamples: int = 1000,
    seed: int = 12345,
    corpus_test: CorpusTest = "bs",
) -> dict[str, dict[str, Comparison]]:
    """Compare two models over tasks of a results folder, with Holm–Bonferroni across tests.

    Args:
        results: The results folder (``<model>/<task>/record.json`` + ``samples.jsonl``).
        model_a: Model A's display name (or its folder name).
        model_b: Model B's display name.
        tasks: Tasks to compare (default: every task both models ran).
        metrics: Metric names (default: every metric with a paired test, per task).
        resamples: Bootstrap resamples / permutations / randomisation trials.
        seed: Seed of every random draw.
        corpus_test: ``bs`` or ``ar`` for BLEU, chrF and TER.

    Returns:
        ``{task: {metric: Comparison}}``; every comparison's ``p_holm`` is its p-value adjusted
        by Holm's procedure over all the tests returned (all tasks and metrics together).

    Raises:
        ComparisonError: A model or task is missing, or two runs are not comparable.
    """
    root = Path(results)
    if not root.is_dir():
        raise ComparisonError(f"{root}: no such results folder", fix="pass --results of a run")
    models = _model_folders(root)
    name_a, name_b = _find_model(models, model_a, root), _find_model(models, model_b, root)
    common = sorted(set(models[name_a]) & set(models[name_b]))
    wanted = list(tasks) if tasks else common
    if not wanted:
        raise ComparisonError(
            f"'{name_a}' and '{name_b}' have no task in common under {root}",
            fix="run both models on the same tasks",
        )
    out: dict[str, dict[str, Comparison]] = {}
    for task in wanted:
        for name in (name_a, name_b):
            if task not in models[name]:
                raise ComparisonError(
                    f"no run of '{name}' on task '{task}' under {root}",
                    fix=f"tasks both models ran: {', '.join(common) or 'none'}",
                )
        run_a, run_b = load_run(models[name_a][task]), load_run(models[name_b][task])
        chosen = list(metrics) if metrics else pairable_metrics(run_a)[0]
        out[task] = compare_runs(
            run_a, run_b, chosen, resamples=resamples, seed=seed, corpus_test=corpus_test
        )
    flat = [(t, m) for t, comps in out.items() for m in comps]
    adjusted = holm([out[t][m].p_value for t, m in flat])
    for (t, m), p in zip(flat, adjusted, strict=True):
        c = out[t][m]
        out[t][m] = Comparison(**{**c.__dict__, "p_holm": p})
    return out


# --------------------------------------------------------------------------- leaderboard ties


def tied_with_best(
    runs: Mapping[str, Path],
    metric: str,
    *,
    alpha: float = 0.05,
    resamples: int = 1000,
    seed: int = 12345,
) -> dict[str, float]:
    """The models statistically tied with the best one on ``metric`` (one task).

    The best model is the one with the best recorded value of ``metric`` (highest, or lowest
    for a lower-is-better metric such as TER; on equal values the first in ``runs`` order).
    Every other model is compared with it by the metric's paired test (see the module
    docstring: paired bootstrap for BLEU/chrF/TER and non-mean classification metrics,
    McNemar for accuracy and exact match, paired permutation for other per-example means),
    with ``resamples`` resamples and ``seed``, and the p-values are adjusted with Holm's
    procedure over the ``len(runs) − 1`` comparisons. A model is tied with the best when its
    adjusted p-value is at least ``alpha``.

    Args:
        runs: ``{model display name: run folder}`` (each with ``record.json`` and
            ``samples.jsonl``), all of the same task.
        metric: The metric value name (usually the task's primary metric).
        alpha: The family-wise significance level.
        resamples: Resamples, permutations or trials per test.
        seed: Seed of every random draw.

    Returns:
        ``{model: Holm-adjusted p-value against the best}`` for the best model (``1.0``) and
        every model not significantly worse than it; models significantly worse are absent.

    Raises:
        MissingSamples: A run folder has no ``samples.jsonl`` (the caller may fall back to
            comparing intervals).
        ComparisonError: The runs are of different tasks or test sets, a run lacks
            ``metric``, or the metric has no paired test.
        RecordError: A ``record.json`` is missing or invalid.

    Example:
        >>> # tied_with_best({"a": Path("res/a/sst2"), "b": Path("res/b/sst2")}, "accuracy")
        >>> # {'a': 1.0, 'b': 0.42}
    """
    loaded = [load_run(folder) for folder in runs.values()]
    names = list(runs)
    if not loaded:
        return {}
    for name, run in zip(names, loaded, strict=True):
        if metric not in run.record.metrics:
            raise ComparisonError(
                f"run '{name}' ({run.folder}) has no metric '{metric}'",
                fix="pass a metric every run reports",
            )
    higher = loaded[0].record.metrics[metric].higher_is_better
    values = [float(run.record.metrics[metric].value) for run in loaded]
    best = max(range(len(loaded)), key=lambda i: values[i] if higher else -values[i])
    others = [i for i in range(len(loaded)) if i != best]
    from bench.metrics.base import single_blas_thread

    # The products here are small ((resamples × n) by (n × statistics)): one BLAS thread does
    # each in a fraction of a millisecond, where several threads contend for ~40x longer; and
    # one thread sums in the same order everywhere (see single_blas_thread).
    with single_blas_thread():
        p_values = [
            compare_metric(
                loaded[best],
                loaded[i],
                metric,
                resamples=resamples,
                seed=seed,
                corpus_test="bs",
                want_ci=False,
            ).p_value
            for i in others
        ]
    out = {names[best]: 1.0}
    for i, p in zip(others, holm(p_values), strict=True):
        if p >= alpha:
            out[names[i]] = p
    return out
