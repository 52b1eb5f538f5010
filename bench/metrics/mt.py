"""Machine-translation metrics through sacrebleu (Post, 2018): BLEU, chrF / chrF++ and TER.

Every corpus score is computed the way sacrebleu computes it, from per-segment sufficient
statistics: the sacrebleu metric object's ``_extract_corpus_statistics(hyps, ref_streams)``
gives one row of statistics per example (the same machinery sacrebleu's own paired bootstrap
uses) and ``_compute_score_from_stats`` turns their sum into the score. The point value is
therefore exactly ``metric.corpus_score(hyps, ref_streams).score``, on sacrebleu's 0–100 scale.

The 95% interval is a percentile bootstrap over examples that resamples the statistics rows,
never the texts: each resample's column sums are one matrix product (resample counts × rows),
and the score is read off the sums with a vectorised copy of sacrebleu's formula (a test checks
the vectorised formulas against ``_compute_score_from_stats`` resample by resample).

Choices stated once for every metric here:

* The tokenizer follows the task's target language (``TranslationRequest.target_language``;
  region and script subtags such as ``zh-Hans`` are ignored): BLEU uses sacrebleu's ``zh``
  tokenizer for Chinese, ``ja-mecab`` / ``ko-mecab`` for Japanese / Korean when their extras
  (``sacrebleu[ja]`` / ``sacrebleu[ko]``) are installed, and ``13a`` otherwise, as
  ``sacrebleu -l SRC-TRG`` chooses; the signature names the tokenizer that ran. A task file can
  override it with ``tokenize`` (an explicit MeCab tokenizer that is not installed is an error
  naming the extra).
* References are K streams of N segments (``reference_streams``); flat, ragged or mis-sized
  reference lists are refused, never re-aligned.
* A failed example (no response) is scored as an empty hypothesis: it adds reference length and
  no matches, as an empty line in a hypothesis file does for the ``sacrebleu`` command line.
* Every value carries sacrebleu's own signature, prefixed with the metric name and followed by
  bench's bootstrap settings, e.g.
  ``bleu|nrefs:2|case:mixed|eff:no|tok:zh|smooth:exp|version:2.6.0|boot:1000|conf:0.95|seed:12345``.
* ``samples.jsonl`` gets sentence-level scores (``sentence_bleu`` with ``effective_order`` on,
  ``sentence_chrf``, ``sentence_ter``), read off each example's own statistics row.

References:
    Matt Post. 2018. A Call for Clarity in Reporting BLEU Scores. WMT.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator

from bench.errors import DataError, MissingDependency, UnknownName, did_you_mean
from bench.families.generation import reference_streams
from bench.metrics.base import (
    Metric,
    MetricValue,
    ScoringContext,
    percentile_ci,
    resample_counts,
)

__all__ = [
    "BLEU",
    "CHRF",
    "TER",
    "CorpusStats",
    "bleu_tokenizer_for",
    "corpus_stats",
    "target_language",
]

# sacrebleu's own target-language → tokenizer map (``BLEU._TOKENIZER_MAP``), restated so the
# choice is visible here; a test checks it against sacrebleu's.
BLEU_TOKENIZER_BY_LANGUAGE: dict[str, str] = {"zh": "zh", "ja": "ja-mecab", "ko": "ko-mecab"}
DEFAULT_BLEU_TOKENIZER = "13a"
CJK_LANGUAGES = frozenset({"zh", "ja", "ko"})

# What to install when a tokenizer cannot be constructed.
_TOKENIZER_PACKAGES: dict[str, str] = {
    "ja-mecab": "sacrebleu[ja]",
    "ko-mecab": "sacrebleu[ko]",
    "spm": "sentencepiece",
    "flores101": "sentencepiece",
    "flores200": "sentencepiece",
    "spBLEU-1K": "sentencepiece",
}

# How many (resample × example) cells one block of the bootstrap's count matrix may hold
# (8 bytes each): bounds memory on large test sets without changing any number.
_BLOCK_CELLS = 1 << 24


# --------------------------------------------------------------------------- language


def _base_language(code: str) -> str:
    """``zh-Hans`` → ``zh``, ``pt_BR`` → ``pt``."""
    return re.split(r"[-_]", code.strip().lower(), maxsplit=1)[0]


def target_language(ctx: ScoringContext) -> str:
    """The base code of the language the hypotheses are in.

    Read from the requests' ``target_language`` (or ``language``, for other text families;
    every request must agree), falling back to the last language the task lists (a
    translation task lists ``[source, target]``).

    Raises:
        DataError: The requests name more than one target language.
    """
    langs = {
        _base_language(str(lang))
        for lang in (
            getattr(r, "target_language", None) or getattr(r, "language", None)
            for r in ctx.requests
        )
        if lang
    }
    if len(langs) > 1:
        raise DataError(
            f"task '{ctx.spec.name}': requests have different target languages {sorted(langs)}",
            fix="a translation task has one target language; split it into one task per pair",
        )
    if langs:
        return langs.pop()
    return _base_language(ctx.spec.languages[-1]) if ctx.spec.languages else ""


def bleu_tokenizer_for(language: str, tokenize: str | None = None) -> str:
    """The sacrebleu tokenizer BLEU uses for hypotheses in ``language``.

    Args:
        language: The target language (``zh``, ``zh-Hans``, ``en``, ...).
        tokenize: An explicit choice, which always wins.

    Example:
        >>> bleu_tokenizer_for("zh"), bleu_tokenizer_for("zh-Hans"), bleu_tokenizer_for("de")
        ('zh', 'zh', '13a')
        >>> bleu_tokenizer_for("zh", tokenize="char")
        'char'
    """
    if tokenize is not None:
        return tokenize
    chosen = BLEU_TOKENIZER_BY_LANGUAGE.get(_base_language(language), DEFAULT_BLEU_TOKENIZER)
    if chosen in ("ja-mecab", "ko-mecab") and not _tokenizer_available(chosen):
        return DEFAULT_BLEU_TOKENIZER
    return chosen


@cache
def _tokenizer_available(name: str) -> bool:
    """Whether sacrebleu can build tokenizer ``name`` here (MeCab needs its extra)."""
    try:
        from sacrebleu.metrics.bleu import BLEU as SacreBLEU

        SacreBLEU(tokenize=name)
    except (ImportError, RuntimeError, OSError):
        return False
    return True


def _construct(factory: Callable[[], Any], tokenizer: str, language: str) -> Any:
    """Build a sacrebleu metric, turning a missing tokenizer backend into ``MissingDependency``."""
    try:
        return factory()
    except (ImportError, RuntimeError, OSError) as exc:
        package = _TOKENIZER_PACKAGES.get(tokenizer)
        if package is None:
            raise
        lang = f" for target language '{language}'" if language else ""
        why = (str(exc).strip().splitlines() or [""])[0]
        raise MissingDependency(
            f"sacrebleu's '{tokenizer}' tokenizer{lang} cannot be loaded "
            f"({type(exc).__name__}: {why})",
            fix=f"pip install '{package}', or set the metric's 'tokenize' parameter "
            "(e.g. 'char') in the task file",
        ) from exc


# --------------------------------------------------------------------------- statistics


def _texts(ctx: ScoringContext) -> tuple[list[str], list[list[str]]]:
    """Hypotheses (a failed example is ``""``) and K reference streams of N segments."""
    if "mt.texts" not in ctx.memo:
        hyps = []
        for i, resp in enumerate(ctx.responses):
            if resp is None:
                hyps.append("")
                continue
            text = getattr(resp, "text", None)
            if not isinstance(text, str):
                raise DataError(
                    f"task '{ctx.spec.name}' example {i}: a translation response needs a 'text' "
                    f"string, got {type(resp).__name__}",
                    fix="the adapter must answer translation requests with TextResponse",
                )
            hyps.append(text)
        ctx.memo["mt.texts"] = (hyps, _streams(ctx.references, len(hyps)))
    texts: tuple[list[str], list[list[str]]] = ctx.memo["mt.texts"]
    return texts


def _streams(references: Sequence[Any], n: int) -> list[list[str]]:
    """Check per-example references against ``n`` hypotheses and transpose them into streams."""
    streams = reference_streams(list(references))
    if len(references) != n:
        raise DataError(
            f"{len(references)} examples have references but there are {n} hypotheses",
            fix="give one tuple of references per example, in the hypotheses' order "
            "(N examples × K references, not K streams × N segments)",
        )
    for k, stream in enumerate(streams):
        for i, ref in enumerate(stream):
            if not isinstance(ref, str):
                raise DataError(
                    f"example {i}: reference {k} is {type(ref).__name__}, not a string",
                    fix="every reference is a string",
                )
    if not streams and n:
        raise DataError(
            "the examples have no references", fix="give every example at least one reference"
        )
    return streams


@dataclass(frozen=True)
class CorpusStats:
    """Per-segment sufficient statistics of one system's output, and how to score their sums.

    Attributes:
        scorer: The configured sacrebleu metric object (its signature knows ``nrefs``).
        rows: One list of statistics per segment, as sacrebleu returns them (exact values).
        matrix: The same rows as a float array ``(N, S)``.
        vector_score: Scores ``(B, S)`` sums of rows in one vectorised pass, returning ``(B,)``.

    Example:
        >>> # A perfect three-word corpus has no 4-grams, so its (unsmoothed-order) BLEU is 0.
        >>> stats = corpus_stats("bleu", ["the cat sat"], [("the cat sat",)], language="en")
        >>> stats.score()
        0.0
        >>> stats = corpus_stats("chrf", ["the cat sat"], [("the cat sat",)], language="en")
        >>> stats.score()
        100.0
    """

    scorer: Any
    rows: list[list[Any]]
    matrix: np.ndarray
    vector_score: Callable[[np.ndarray], np.ndarray]

    def score(self) -> float:
        """The corpus score, bit for bit ``scorer.corpus_score(hyps, refs).score``."""
        from sacrebleu.utils import sum_of_lists

        # sum_of_lists is what corpus_score sums with: Python order, so float stats (TER's
        # average reference lengths) round exactly as sacrebleu's do.
        total = sum_of_lists([list(row) for row in self.rows])
        return float(self.scorer._compute_score_from_stats(list(total)).score)

    def signature(self) -> str:
        """sacrebleu's signature (``nrefs:…|…|version:…``)."""
        return str(self.scorer.get_signature().format())

    def resample_sums(self, indices: np.ndarray) -> np.ndarray:
        """Column sums ``(B, S)`` of the rows picked by ``(B, N)`` resample ``indices``."""
        b, n = indices.shape
        out = np.empty((b, self.matrix.shape[1]), dtype=np.float64)
        step = max(1, _BLOCK_CELLS // max(n, 1))
        for start in range(0, b, step):
            block = indices[start : start + step]
            m = block.shape[0]
            flat = (block + (np.arange(m, dtype=np.int64) * n)[:, None]).ravel()
            counts = np.bincount(flat, minlength=m * n).reshape(m, n).astype(np.float64)
            out[start : start + m] = counts @ self.matrix
        return out

    def resample_scores(self, indices: np.ndarray) -> np.ndarray:
        """The score of every resample in ``(B, N)`` ``indices`` (vectorised)."""
        return self.vector_score(self.resample_sums(indices))


def _stats(scorer: Any, hyps: list[str], streams: list[list[str]], vector: Any) -> CorpusStats:
    rows = scorer._extract_corpus_statistics(hyps, streams)
    matrix = np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)
    return CorpusStats(scorer=scorer, rows=rows, matrix=matrix, vector_score=vector)


# --------------------------------------------------------------------------- vectorised scores


def _my_log(x: np.ndarray) -> np.ndarray:
    """sacrebleu's ``my_log``: log, floored to -9999999999 at 0."""
    with np.errstate(divide="ignore"):
        return np.where(x == 0, -9999999999.0, np.log(np.where(x == 0, 1.0, x)))


def _bleu_vector(
    sums: np.ndarray,
    *,
    smooth_method: str,
    smooth_value: float | None,
    max_order: int = 4,
    effective_order: bool = False,
) -> np.ndarray:
    """``BLEU.compute_bleu`` over ``(B, 2 + 2·max_order)`` summed statistics."""
    from sacrebleu.metrics.bleu import BLEU as SacreBLEU

    value = SacreBLEU.SMOOTH_DEFAULTS[smooth_method] if smooth_value is None else smooth_value
    k = float(value or 0.0)  # only add-k and floor read it, and both have a default
    sums = np.asarray(sums, dtype=np.float64)
    b = sums.shape[0]
    sys_len, ref_len = sums[:, 0], sums[:, 1]
    correct = sums[:, 2 : 2 + max_order].copy()
    total = sums[:, 2 + max_order : 2 + 2 * max_order].copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        bp = np.where(
            sys_len < ref_len,
            np.where(sys_len > 0, np.exp(1 - ref_len / np.where(sys_len > 0, sys_len, 1)), 0.0),
            1.0,
        )
    precisions = np.zeros((b, max_order))
    smooth_mteval = np.ones(b)
    alive = np.ones(b, dtype=bool)  # still inside the order loop (no `break` yet)
    eff_order = np.full(b, float(max_order))
    for n in range(max_order):
        if smooth_method == "add-k" and n > 0:
            correct[:, n] += k
            total[:, n] += k
        alive &= total[:, n] != 0
        if effective_order:
            eff_order = np.where(alive, n + 1.0, eff_order)
        hit = alive & (correct[:, n] != 0)
        miss = alive & (correct[:, n] == 0)
        safe_total = np.where(total[:, n] != 0, total[:, n], 1.0)
        if smooth_method == "exp":
            smooth_mteval = np.where(miss, smooth_mteval * 2, smooth_mteval)
            precisions[:, n] = np.where(miss, 100.0 / (smooth_mteval * safe_total), 0.0)
        elif smooth_method == "floor":
            precisions[:, n] = np.where(miss, 100.0 * k / safe_total, 0.0)
        precisions[:, n] = np.where(hit, 100.0 * correct[:, n] / safe_total, precisions[:, n])
    logs = _my_log(precisions)
    # Left-to-right, as Python's sum() adds them.
    log_sum = np.zeros(b)
    for n in range(max_order):
        log_sum = log_sum + np.where(n < eff_order, logs[:, n], 0.0)
    score = bp * np.exp(log_sum / eff_order)
    # compute_bleu returns 0 before smoothing when no n-gram matches at all.
    no_match = (sums[:, 2 : 2 + max_order] == 0).all(axis=1)
    return np.where(no_match, 0.0, score)


def _chrf_vector(sums: np.ndarray, *, order: int, beta: int) -> np.ndarray:
    """``CHRF._compute_f_score`` (effective-order averaging) over ``(B, 3·order)`` sums."""
    eps = 1e-16
    sums = np.asarray(sums, dtype=np.float64)
    b = sums.shape[0]
    factor = beta**2
    avg_prec, avg_rec, eff = np.zeros(b), np.zeros(b), np.zeros(b)
    for i in range(order):
        n_hyp, n_ref, n_match = sums[:, 3 * i], sums[:, 3 * i + 1], sums[:, 3 * i + 2]
        prec = np.where(n_hyp > 0, n_match / np.where(n_hyp > 0, n_hyp, 1), eps)
        rec = np.where(n_ref > 0, n_match / np.where(n_ref > 0, n_ref, 1), eps)
        use = (n_hyp > 0) & (n_ref > 0)
        avg_prec = avg_prec + np.where(use, prec, 0.0)
        avg_rec = avg_rec + np.where(use, rec, 0.0)
        eff = eff + use
    safe_eff = np.where(eff > 0, eff, 1.0)
    avg_prec = np.where(eff > 0, avg_prec / safe_eff, 0.0)
    avg_rec = np.where(eff > 0, avg_rec / safe_eff, 0.0)
    denom = factor * avg_prec + avg_rec
    with np.errstate(divide="ignore", invalid="ignore"):
        score = 100 * ((1 + factor) * avg_prec * avg_rec / np.where(denom > 0, denom, 1))
    return np.where(avg_prec + avg_rec > 0, score, 0.0)


def _ter_vector(sums: np.ndarray) -> np.ndarray:
    """``TER._compute_score_from_stats`` over ``(B, 2)`` sums (edits, reference length)."""
    sums = np.asarray(sums, dtype=np.float64)
    edits, ref_len = sums[:, 0], sums[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(ref_len > 0, edits / np.where(ref_len > 0, ref_len, 1), 0.0)
    return 100 * np.where(ref_len > 0, rate, np.where(edits > 0, 1.0, 0.0))


# --------------------------------------------------------------------------- metrics


class _SacreMetric(Metric):
    """Shared scoring of the sacrebleu metrics; subclasses build the sacrebleu objects."""

    families: ClassVar[tuple[str, ...]] = ("translation",)
    sentence_key: ClassVar[str]

    @abstractmethod
    def scorer(self, language: str) -> Any:
        """The configured sacrebleu corpus-level metric object for ``language`` hypotheses."""

    def sentence_scorer(self, language: str) -> Any:
        """The sacrebleu object that scores one segment (the corpus one unless overridden)."""
        return self.scorer(language)

    @abstractmethod
    def vector_score(self, sums: np.ndarray) -> np.ndarray:
        """Scores of ``(B, S)`` summed statistics, vectorised."""

    def statistics(
        self, hypotheses: Sequence[str], streams: Sequence[Sequence[str]], language: str
    ) -> CorpusStats:
        """Per-segment statistics of ``hypotheses`` against K reference ``streams``.

        Raises:
            DataError: A stream's length differs from the number of hypotheses.
        """
        hyps = list(hypotheses)
        if not hyps or not streams:
            raise DataError(
                f"{self.name}: nothing to score ({len(hyps)} hypotheses, {len(streams)} "
                "reference streams)",
                fix="pass at least one hypothesis and one reference stream",
            )
        for k, stream in enumerate(streams):
            if len(stream) != len(hyps):
                raise DataError(
                    f"reference stream {k} has {len(stream)} segments for {len(hyps)} hypotheses",
                    fix="pass K streams of N segments, one segment per hypothesis",
                )
        if any(not isinstance(h, str) for h in hyps):
            raise DataError("every hypothesis must be a string", fix="score a failure as ''")
        return _stats(self.scorer(language), hyps, [list(s) for s in streams], self.vector_score)

    def _corpus(self, ctx: ScoringContext) -> CorpusStats:
        key = f"mt.stats.{self.name}.{self.model_dump_json()}"
        if key not in ctx.memo:
            hyps, streams = _texts(ctx)
            ctx.memo[key] = self.statistics(hyps, streams, target_language(ctx))
        stats: CorpusStats = ctx.memo[key]
        return stats

    def segment_statistics(self, ctx: ScoringContext) -> list[list[Any]] | None:
        """The per-segment sufficient statistics this metric scored ``ctx`` with (``None`` if it
        has not scored it). The runner stores them in ``samples.jsonl`` so that paired tests and
        leaderboard ties need not re-tokenise the hypotheses."""
        stats = ctx.memo.get(f"mt.stats.{self.name}.{self.model_dump_json()}")
        return None if stats is None else stats.rows

    def unavailable(self, ctx: ScoringContext) -> str | None:
        """Why the metric cannot be computed (no examples), or ``None``."""
        if ctx.n == 0:
            return "no examples to score"
        return None

    def score(self, ctx: ScoringContext) -> list[MetricValue]:
        stats = self._corpus(ctx)
        value = stats.score()
        low: float | None = None
        high: float | None = None
        if ctx.bootstrap.resamples:
            counts = resample_counts(ctx.n, ctx.bootstrap)
            if counts is not None:  # the cached counts of the seeded resamples
                samples = stats.vector_score(counts @ stats.matrix)
            else:
                samples = stats.resample_scores(ctx.bootstrap.resample_indices(ctx.n))
            low, high = percentile_ci(samples, ctx.bootstrap.confidence)
        return [
            MetricValue(
                name=self.name,
                value=value,
                n=ctx.n,
                ci_low=low,
                ci_high=high,
                signature=f"{self.name}|{stats.signature()}|{ctx.bootstrap.tag()}",
                higher_is_better=self.higher_is_better,
                scale=100.0,
            )
        ]

    def per_example(self, ctx: ScoringContext) -> dict[str, list[float | None]]:
        stats = self._corpus(ctx)
        sentence = self.sentence_scorer(target_language(ctx))
        # A segment's own statistics row is what sentence_score computes for it; list() gives
        # compute_bleu a private copy (its add-k smoothing adds to the lists in place).
        return {
            self.sentence_key: [
                float(sentence._compute_score_from_stats(list(row)).score) for row in stats.rows
            ]
        }


class BLEU(_SacreMetric):
    """BLEU (Papineni et al., 2002) as sacrebleu computes it (Post, 2018).

    BLEU = BP · exp(Σₙ ¼ log pₙ), n = 1…4, where pₙ is the corpus-level modified n-gram
    precision (hypothesis n-gram counts clipped by the largest count in any reference of the
    segment) and BP = min(1, exp(1 − r/c)) with c the hypothesis length and r the sum of the
    closest reference lengths. Corpus statistics are summed over segments before the precisions
    are taken. ``smooth_method="exp"`` is mteval-v13a's smoothing (Chen & Cherry, 2014, method 3).

    The tokenizer follows the target language (``zh`` for Chinese, ``ja-mecab`` / ``ko-mecab``
    for Japanese / Korean, else ``13a``) unless ``tokenize`` names one. Sentence scores in
    ``samples.jsonl`` (``sentence_bleu``) use a separate BLEU with ``effective_order=True``.

    Args:
        tokenize: A sacrebleu tokenizer name, or ``None`` to choose by target language.
        lowercase: Lowercase hypotheses and references first.
        smooth_method: ``exp``, ``floor``, ``add-k`` or ``none``.
        smooth_value: The value for ``floor`` / ``add-k`` (``None``: sacrebleu's default).
        force: Silence sacrebleu's "looks tokenized" warning.

    References:
        Kishore Papineni, Salim Roukos, Todd Ward, Wei-Jing Zhu. 2002. BLEU: a Method for
        Automatic Evaluation of Machine Translation. ACL.
        Matt Post. 2018. A Call for Clarity in Reporting BLEU Scores. WMT.

    Example:
        >>> from bench.metrics.mt import BLEU
        >>> hyps = ["the cat sat on the mat", "a dog barked at the postman"]
        >>> refs = [["the cat sat on the mat", "a dog barked at the mailman"]]  # one stream
        >>> stats = BLEU().statistics(hyps, refs, "en")
        >>> round(stats.score(), 2), stats.signature()  # doctest: +ELLIPSIS
        (88.07, 'nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:...')
        >>> zh = BLEU().statistics(["猫坐在垫子上。"], [["猫坐在垫子上了。"]], "zh")
        >>> round(zh.score(), 2), zh.signature()  # doctest: +ELLIPSIS
        (72.9, 'nrefs:1|case:mixed|eff:no|tok:zh|smooth:exp|version:...')
    """

    name: ClassVar[str] = "bleu"
    sentence_key: ClassVar[str] = "sentence_bleu"

    tokenize: str | None = None
    lowercase: bool = False
    smooth_method: Literal["exp", "floor", "add-k", "none"] = "exp"
    smooth_value: float | None = Field(default=None, ge=0)
    force: bool = False

    @field_validator("tokenize")
    @classmethod
    def _known_tokenizer(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from sacrebleu.metrics.bleu import BLEU as SacreBLEU

        names = sorted(SacreBLEU.TOKENIZERS)
        if value not in names:
            raise ValueError(f"unknown sacrebleu tokenizer '{value}'; choose one of {names}")
        return value

    def _make(self, language: str, *, effective_order: bool) -> Any:
        from sacrebleu.metrics.bleu import BLEU as SacreBLEU

        tokenizer = bleu_tokenizer_for(language, self.tokenize)
        return _construct(
            lambda: SacreBLEU(
                lowercase=self.lowercase,
                force=self.force,
                tokenize=tokenizer,
                smooth_method=self.smooth_method,
                smooth_value=self.smooth_value,
                effective_order=effective_order,
                trg_lang=language,
            ),
            tokenizer,
            language,
        )

    def scorer(self, language: str) -> Any:
        return self._make(language, effective_order=False)

    def sentence_scorer(self, language: str) -> Any:
        return self._make(language, effective_order=True)

    def vector_score(self, sums: np.ndarray) -> np.ndarray:
        return _bleu_vector(sums, smooth_method=self.smooth_method, smooth_value=self.smooth_value)


class CHRF(_SacreMetric):
    """chrF (Popović, 2015) and chrF++ (Popović, 2017) as sacrebleu computes them.

    chrFβ = (1 + β²) · chrP · chrR / (β² · chrP + chrR), where chrP and chrR are character
    n-gram precision and recall (n = 1…``char_order``, whitespace removed unless
    ``whitespace``) averaged over the orders, plus word n-grams up to ``word_order``
    (``word_order=2`` is chrF++). Statistics are summed over the corpus; with several
    references each segment keeps the reference with the best sentence-level F-score. Orders
    with no hypothesis or reference n-gram are left out of the averages (sacrebleu's default,
    ``eff:yes`` in the signature). Scores are 0–100.

    Args:
        char_order: Largest character n-gram order.
        word_order: Largest word n-gram order (0 = chrF, 2 = chrF++).
        beta: Weight of recall against precision.
        lowercase: Case-insensitive matching.
        whitespace: Keep whitespace inside character n-grams.

    References:
        Maja Popović. 2015. chrF: character n-gram F-score for automatic MT evaluation. WMT.
        Maja Popović. 2017. chrF++: words helping character n-grams. WMT.

    Example:
        >>> from bench.metrics.mt import CHRF
        >>> round(CHRF().statistics(["猫坐在垫子上"], [["猫坐在垫子上。"]], "zh").score(), 4)
        77.571
        >>> plus = CHRF(word_order=2).statistics(["a b"], [["a b"]], "en")
        >>> plus.score(), plus.signature()  # doctest: +ELLIPSIS
        (100.0, 'nrefs:1|case:mixed|eff:yes|nc:6|nw:2|space:no|version:...')
    """

    name: ClassVar[str] = "chrf"
    sentence_key: ClassVar[str] = "sentence_chrf"

    char_order: int = Field(default=6, ge=1, le=20)
    word_order: int = Field(default=0, ge=0, le=10)
    beta: int = Field(default=2, ge=1)
    lowercase: bool = False
    whitespace: bool = False

    def scorer(self, language: str) -> Any:
        from sacrebleu.metrics.chrf import CHRF as SacreCHRF

        return SacreCHRF(
            char_order=self.char_order,
            word_order=self.word_order,
            beta=self.beta,
            lowercase=self.lowercase,
            whitespace=self.whitespace,
        )

    def vector_score(self, sums: np.ndarray) -> np.ndarray:
        return _chrf_vector(sums, order=self.char_order + self.word_order, beta=self.beta)


class TER(_SacreMetric):
    """Translation edit rate (Snover et al., 2006) as sacrebleu computes it; lower is better.

    TER = (insertions + deletions + substitutions + shifts) / average reference length, summed
    over the corpus (edits against the closest reference, lengths averaged over references),
    ×100. Tercom's tokenisation: lowercased unless ``case_sensitive``; ``normalized`` and
    ``no_punct`` as in tercom.

    ``asian_support=None`` turns CJK support on for Chinese, Japanese and Korean targets only
    where it changes the number: together with ``normalized`` (CJK split into characters) or
    ``no_punct`` (CJK punctuation removed). Otherwise it stays off, as in sacrebleu's command
    line (which never infers it), so the default signature (``asian:no``) is the one a plain
    ``sacrebleu -tok zh`` run prints. Note that without ``normalized`` an unsegmented Chinese
    sentence is one tercom word per
    space-separated chunk, so Chinese TER is coarse unless ``normalized: true`` is set.

    Args:
        normalized: Tercom's normalisation (and CJK character splitting with asian support).
        no_punct: Remove punctuation.
        asian_support: CJK handling; ``None`` = on for zh/ja/ko targets when ``normalized`` or
            ``no_punct`` is set, else off.
        case_sensitive: Do not lowercase.

    References:
        Matthew Snover, Bonnie Dorr, Richard Schwartz, Linnea Micciulla, John Makhoul. 2006.
        A Study of Translation Edit Rate with Targeted Human Annotation. AMTA.

    Example:
        >>> from bench.metrics.mt import TER
        >>> TER().statistics(["the cat sat on mat"], [["the cat sat on the mat"]], "en").score()
        16.666666666666664
    """

    name: ClassVar[str] = "ter"
    sentence_key: ClassVar[str] = "sentence_ter"
    higher_is_better: ClassVar[bool] = False

    normalized: bool = False
    no_punct: bool = False
    asian_support: bool | None = None
    case_sensitive: bool = False

    def asian_support_for(self, language: str) -> bool:
        """The effective ``asian_support`` for ``language`` targets."""
        if self.asian_support is not None:
            return self.asian_support
        changes_number = self.normalized or self.no_punct
        return changes_number and _base_language(language) in CJK_LANGUAGES

    def scorer(self, language: str) -> Any:
        from sacrebleu.metrics.ter import TER as SacreTER

        return SacreTER(
            normalized=self.normalized,
            no_punct=self.no_punct,
            asian_support=self.asian_support_for(language),
            case_sensitive=self.case_sensitive,
        )

    def vector_score(self, sums: np.ndarray) -> np.ndarray:
        return _ter_vector(sums)


_BY_NAME: dict[str, type[_SacreMetric]] = {"bleu": BLEU, "chrf": CHRF, "ter": TER}


def corpus_stats(
    metric: str | _SacreMetric,
    hypotheses: Sequence[str | None],
    references: Sequence[Sequence[str]],
    *,
    language: str,
) -> CorpusStats:
    """Per-segment statistics of one system, for paired tests across systems.

    Args:
        metric: ``"bleu"``, ``"chrf"``, ``"ter"`` (default parameters) or a configured metric.
        hypotheses: One output per example; ``None`` (a failure) is scored as ``""``.
        references: Per-example reference tuples (N × K), as the translation family builds them.
        language: The target language (drives BLEU's tokenizer and TER's asian support).

    Raises:
        DataError: The references are flat, ragged or not one tuple per hypothesis.

    Example:
        >>> stats = corpus_stats("ter", ["a b c", None], [("a b c",), ("d e",)], language="en")
        >>> stats.score(), stats.resample_scores(np.array([[0, 0]])).tolist()
        (40.0, [0.0])
    """
    if isinstance(metric, str):
        if metric not in _BY_NAME:
            raise UnknownName(
                f"no sacrebleu metric '{metric}'{did_you_mean(metric, _BY_NAME)}",
                fix=f"use one of {sorted(_BY_NAME)}",
            )
        scorer = _BY_NAME[metric]()
    else:
        scorer = metric
    hyps = ["" if h is None else h for h in hypotheses]
    return scorer.statistics(hyps, _streams(references, len(hyps)), language)
