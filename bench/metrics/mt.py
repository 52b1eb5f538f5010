"""Machine-translation metrics through sacrebleu (Post, 2018): BLEU, chrF / chrF++ and TER.

Every corpus score is computed the way sacrebleu computes it, from per-segment sufficient
statistics: the sacrebleu metric object's ``_extract_corpus_statistics(hyps, ref_streams)``
gives one row of statistics per example (the same machinery sacrebleu's own paired bootstrap
uses) and ``_compute_score_from_stats`` turns their sum into the score. The point value is
therefore exactly ``metric.corpus_score(hyps, ref_streams).score``, on sacrebleu's 0–100 scale.
The statistics are extracted :data:`~bench.streaming.CHUNK` segments at a time into one float
matrix, so only one chunk's texts and tokenised references are held at once (sacrebleu's own
``corpus_score`` tokenises every reference of the corpus first).

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

import logging
import math
import re
from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar, Literal, overload

from pydantic import Field, field_validator

if TYPE_CHECKING:  # numpy is imported where it computes: validating a task imports none
    import numpy as np

from bench.errors import DataError, MissingDependency, UnknownName, did_you_mean
from bench.families.generation import reference_streams
from bench.metrics.base import Metric, MetricValue, ScoringContext
from bench.metrics.paired import (
    ComparisonError,
    Examples,
    SufficientStatistics,
    System,
    count_blocks,
)
from bench.streaming import CHUNK, chunks

__all__ = [
    "BLEU",
    "CHRF",
    "SEGMENT_STATS",
    "TER",
    "CorpusPaired",
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

SEGMENT_STATS = "segment_stats"
"""The optional ``samples.jsonl`` field ``{metric: [statistic, ...]}`` of a translation example:
sacrebleu's sufficient statistics of the segment, so the paired tests need not re-tokenise every
run's hypotheses. Trusted only when their sum reproduces the recorded corpus score (and the
signature matches), as recomputed statistics are."""


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


def _text_chunks(ctx: ScoringContext) -> Iterator[tuple[list[str], list[list[str]]]]:
    """Hypotheses (a failed example is ``""``) and K reference streams, :data:`CHUNK` examples
    at a time, so that no list of every text is built while scoring."""
    if len(ctx.references) != len(ctx.responses):
        raise DataError(
            f"{len(ctx.references)} examples have references but there are "
            f"{len(ctx.responses)} hypotheses",
            fix="give one tuple of references per example, in the hypotheses' order",
        )
    width: int | None = None
    for start, responses in chunks(ctx.responses, CHUNK):
        hyps = []
        for i, resp in enumerate(responses, start):
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
        refs = ctx.references[start : start + len(hyps)]
        streams = _streams(refs, len(hyps), offset=start)
        if width is None:
            width = len(streams)
        elif len(streams) != width:
            raise DataError(
                f"examples have different numbers of references ({sorted({width, len(streams)})}"
                f", from example {start})",
                fix="give every example the same number of references",
            )
        yield hyps, streams


def _streams(references: Sequence[Any], n: int, *, offset: int = 0) -> list[list[str]]:
    """Check per-example references against ``n`` hypotheses and transpose them into streams
    (``offset``: the first example's number, for messages)."""
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
                    f"example {offset + i}: reference {k} is {type(ref).__name__}, not a string",
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
        matrix: One row of statistics per segment, as a float array ``(N, S)``.
        vector_score: Scores ``(B, S)`` sums of rows in one vectorised pass, returning ``(B,)``.
        exact: The rows as sacrebleu returned them, kept only where they are not all integers
            (TER's average reference lengths), so that their sum rounds as sacrebleu's does;
            ``None`` for BLEU and chrF, whose integer statistics the float matrix holds exactly.

    Example:
        >>> # A perfect three-word corpus has no 4-grams, so its (unsmoothed-order) BLEU is 0.
        >>> stats = corpus_stats("bleu", ["the cat sat"], [("the cat sat",)], language="en")
        >>> stats.score(), stats.rows[0]
        (0.0, [3, 3, 3, 2, 1, 0, 3, 2, 1, 0])
        >>> stats = corpus_stats("chrf", ["the cat sat"], [("the cat sat",)], language="en")
        >>> stats.score()
        100.0
    """

    scorer: Any
    matrix: np.ndarray
    vector_score: Callable[[np.ndarray], np.ndarray]
    exact: list[list[Any]] | None = None

    @property
    def rows(self) -> Sequence[list[Any]]:
        """One list of statistics per segment, with sacrebleu's types (read lazily off the
        matrix for integer statistics)."""
        if self.exact is not None:
            return self.exact
        return _IntegerRows(self.matrix)

    def total(self) -> list[Any]:
        """The column sums ``corpus_score`` computes its score from, with sacrebleu's types."""
        if self.exact is not None:
            from sacrebleu.utils import sum_of_lists

            # sum_of_lists is what corpus_score sums with: Python order, so float stats (TER's
            # average reference lengths) round exactly as sacrebleu's do.
            return list(sum_of_lists([list(row) for row in self.exact]))
        # Integers below 2**53 add exactly in float64, in any order.
        return [int(v) for v in self.matrix.sum(axis=0)]

    def score(self) -> float:
        """The corpus score, bit for bit ``scorer.corpus_score(hyps, refs).score``."""
        return float(self.scorer._compute_score_from_stats(self.total()).score)

    def signature(self) -> str:
        """sacrebleu's signature (``nrefs:…|…|version:…``)."""
        return str(self.scorer.get_signature().format())

    def resample_sums(self, indices: np.ndarray) -> np.ndarray:
        """Column sums ``(B, S)`` of the rows picked by ``(B, N)`` resample ``indices``."""
        import numpy as np

        return np.concatenate([counts @ self.matrix for counts in count_blocks(indices)])

    def resample_scores(self, indices: np.ndarray) -> np.ndarray:
        """The score of every resample in ``(B, N)`` ``indices`` (vectorised)."""
        return self.vector_score(self.resample_sums(indices))


class _IntegerRows(Sequence[list[int]]):
    """The rows of an integer statistics matrix as lists of ints, built when read."""

    def __init__(self, matrix: np.ndarray) -> None:
        self._matrix = matrix

    def __len__(self) -> int:
        return int(self._matrix.shape[0])

    @overload
    def __getitem__(self, i: int) -> list[int]: ...

    @overload
    def __getitem__(self, i: slice) -> list[list[int]]: ...

    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return [[int(v) for v in row] for row in self._matrix[i].tolist()]
        return [int(v) for v in self._matrix[i].tolist()]

    def __iter__(self) -> Iterator[list[int]]:
        for start in range(0, len(self), CHUNK):
            yield from self[start : start + CHUNK]


def _extract(
    scorer: Any,
    parts: Iterable[tuple[list[str], list[list[str]]]],
    n: int,
    vector: Callable[[np.ndarray], np.ndarray],
    *,
    integral: bool,
) -> CorpusStats:
    """Statistics of ``n`` segments given as chunks of (hypotheses, K reference streams).

    sacrebleu tokenises and caches every reference of the corpus before it scores a segment
    (BLEU keeps each reference's n-gram counts); chunk by chunk, only one chunk's references
    are held. The result is the same: each segment's statistics depend on its own hypothesis
    and references only, ``nrefs`` is decided over the whole corpus (as sacrebleu decides it),
    and the "looks tokenized" check counts the whole corpus once.
    """
    import numpy as np

    matrix: np.ndarray | None = None
    exact: list[list[Any]] | None = None if integral else []
    nrefs: set[int] = set()
    tokenized = 0
    force = scorer._force
    scorer._force = True  # counted here over the whole corpus, not per chunk
    start = 0
    try:
        for hyps, streams in parts:
            if not force:
                tokenized += sum(h.endswith(" .") for h in hyps)
            rows = scorer._extract_corpus_statistics(hyps, streams)
            nrefs.add(scorer.num_refs)
            block = np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)
            if matrix is None:
                matrix = np.empty((n, block.shape[1]), dtype=np.float64)
            matrix[start : start + len(rows)] = block
            start += len(rows)
            if exact is not None:
                exact.extend(rows)
    finally:
        scorer._force = force
    if matrix is None or start != n:
        raise DataError(
            f"{start} segments were scored of {n}", fix="pass one hypothesis per example"
        )
    scorer.num_refs = nrefs.pop() if len(nrefs) == 1 else -1
    if tokenized >= 100:
        logging.getLogger("sacrebleu").warning(
            "%d hypotheses end in a tokenized period (' .'): detokenize the output, or set "
            "the metric's force: true if it is meant to be tokenized",
            tokenized,
        )
    return CorpusStats(scorer=scorer, matrix=matrix, vector_score=vector, exact=exact)


def _stats_of_rows(
    scorer: Any, rows: list[list[Any]], vector: Any, *, integral: bool
) -> CorpusStats:
    import numpy as np

    matrix = np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)
    return CorpusStats(
        scorer=scorer, matrix=matrix, vector_score=vector, exact=None if integral else rows
    )


# --------------------------------------------------------------------------- vectorised scores


def _my_log(x: np.ndarray) -> np.ndarray:
    """sacrebleu's ``my_log``: log, floored to -9999999999 at 0."""
    import numpy as np

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
    import numpy as np
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
    import numpy as np

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
    import numpy as np

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
    integral: ClassVar[bool] = True
    """Whether every sufficient statistic is an integer (BLEU's and chrF's counts; not TER's
    average reference lengths)."""

    @abstractmethod
    def scorer(self, language: str, references: Sequence[Sequence[str]] | None = None) -> Any:
        """The configured sacrebleu corpus-level metric object for ``language`` hypotheses;
        with K reference ``references`` streams it caches them (sacrebleu's ``references=``),
        so ``_extract_corpus_statistics(hyps, None)`` scores against them."""

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
        parts = (
            (hyps[i : i + CHUNK], [list(s[i : i + CHUNK]) for s in streams])
            for i in range(0, len(hyps), CHUNK)
        )
        return _extract(
            self.scorer(language), parts, len(hyps), self.vector_score, integral=self.integral
        )

    def _corpus(self, ctx: ScoringContext) -> CorpusStats:
        key = f"mt.stats.{self.name}.{self.model_dump_json()}"
        if key not in ctx.memo:
            if ctx.n == 0:
                raise DataError(
                    f"{self.name}: nothing to score ({len(ctx.responses)} hypotheses)",
                    fix="pass at least one hypothesis and one reference stream",
                )
            scorer = self.scorer(target_language(ctx))
            ctx.memo[key] = _extract(
                scorer, _text_chunks(ctx), ctx.n, self.vector_score, integral=self.integral
            )
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

    def paired(self, value: str) -> CorpusPaired | None:
        """The corpus score resamples sacrebleu's per-segment statistics."""
        return CorpusPaired(self) if value == self.name else None

    def score(self, ctx: ScoringContext) -> list[MetricValue]:
        stats = self._corpus(ctx)
        value = stats.score()
        low, high = CorpusPaired(self).interval(stats.matrix, ctx.bootstrap)
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

    def _make(
        self,
        language: str,
        *,
        effective_order: bool,
        references: Sequence[Sequence[str]] | None = None,
    ) -> Any:
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
                references=references,
            ),
            tokenizer,
            language,
        )

    def scorer(self, language: str, references: Sequence[Sequence[str]] | None = None) -> Any:
        return self._make(language, effective_order=False, references=references)

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

    def scorer(self, language: str, references: Sequence[Sequence[str]] | None = None) -> Any:
        from sacrebleu.metrics.chrf import CHRF as SacreCHRF

        return SacreCHRF(
            char_order=self.char_order,
            word_order=self.word_order,
            beta=self.beta,
            lowercase=self.lowercase,
            whitespace=self.whitespace,
            references=references,
        )

    def vector_score(self, sums: np.ndarray) -> np.ndarray:
        return _chrf_vector(sums, order=self.char_order + self.word_order, beta=self.beta)


class TER(_SacreMetric):
    """Translation edit rate (Snover et al., 2006) as sacrebleu computes it; lower is better.

    TER = (insertions + deletions + substitutions + shifts) / average reference length, summed
    over the corpus (edits against the closest reference, lengths averaged over references),
    ×100. Tercom's tokenisation: lowercased unless ``case_sensitive``; ``normalized`` and
    ``no_punct`` as in tercom.

    The options follow the target language, as BLEU's tokenizer does. Tercom splits words on
    spaces only, so an unsegmented Chinese (or Japanese) sentence would be one "word" and every
    sentence one substitution: TER 100 for nearly any output. For Chinese, Japanese and Korean
    targets the defaults are therefore ``normalized=True`` with ``asian_support=True``
    (sacrebleu's CJK support: CJK characters become words, CJK punctuation is split off), and
    the signature says so (``norm:yes|asian:yes``); for other targets both stay off, as in
    sacrebleu's command line (``norm:no|asian:no``). Either can be set in the task file.

    Args:
        normalized: Tercom's normalisation (and CJK character splitting with asian support);
            ``None`` = on for zh/ja/ko targets, else off.
        no_punct: Remove punctuation.
        asian_support: CJK handling; ``None`` = on for zh/ja/ko targets when the effective
            ``normalized`` or ``no_punct`` is set (where it changes the number), else off.
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
    integral: ClassVar[bool] = False
    range: ClassVar[tuple[float, float]] = (0.0, math.inf)
    """Edits per reference word, ×100: a hypothesis longer than its reference exceeds 100."""

    normalized: bool | None = None
    no_punct: bool = False
    asian_support: bool | None = None
    case_sensitive: bool = False

    def normalized_for(self, language: str) -> bool:
        """The effective ``normalized`` for ``language`` targets (on for zh/ja/ko by default).

        Example:
            >>> TER().normalized_for("zh-Hans"), TER().normalized_for("en")
            (True, False)
        """
        if self.normalized is not None:
            return self.normalized
        return _base_language(language) in CJK_LANGUAGES

    def asian_support_for(self, language: str) -> bool:
        """The effective ``asian_support`` for ``language`` targets."""
        if self.asian_support is not None:
            return self.asian_support
        changes_number = self.normalized_for(language) or self.no_punct
        return changes_number and _base_language(language) in CJK_LANGUAGES

    def scorer(self, language: str, references: Sequence[Sequence[str]] | None = None) -> Any:
        from sacrebleu.metrics.ter import TER as SacreTER

        return SacreTER(
            normalized=self.normalized_for(language),
            no_punct=self.no_punct,
            asian_support=self.asian_support_for(language),
            case_sensitive=self.case_sensitive,
            references=references,
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
        >>> import numpy as np
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


# --------------------------------------------------------------------------- paired tests


_SCORERS: dict[tuple[str, str, str, int], Any] = {}
"""sacrebleu metric objects with their references cached, shared by the runs of one test set
(the references are tokenised once, not once per run). Bounded to a few test sets."""


def _scorer_with_references(metric: _SacreMetric, language: str, streams: list[list[str]]) -> Any:
    key = (metric.name, metric.model_dump_json(), language, hash(tuple(map(tuple, streams))))
    scorer = _SCORERS.get(key)
    if scorer is None:
        scorer = metric.scorer(language, references=streams)
        if len(_SCORERS) >= 8:
            _SCORERS.pop(next(iter(_SCORERS)))
        _SCORERS[key] = scorer
    return scorer


@cache
def _width(metric: _SacreMetric, language: str) -> int:
    """How many sufficient statistics the configured metric has per segment."""
    return int(metric.statistics([""], [[""]], language).matrix.shape[1])


@dataclass(frozen=True)
class CorpusPaired(SufficientStatistics):
    """BLEU, chrF and TER: paired bootstrap or approximate randomisation over sacrebleu's
    per-segment statistics, exactly as ``sacrebleu --paired-bs`` / ``--paired-ar`` compute them.

    A run's statistics are the ones stored in ``samples.jsonl`` (:data:`SEGMENT_STATS`) when
    every example has them, else recomputed from the hypotheses and references there; either
    way their corpus score and sacrebleu signature must reproduce the record's.

    Attributes:
        metric: The configured metric (the task file's parameters).
    """

    metric: _SacreMetric
    randomization: ClassVar[bool] = True

    def score(self, sums: np.ndarray) -> np.ndarray:
        return self.metric.vector_score(sums)

    def rows(self, run: Examples) -> np.ndarray:
        return self.corpus(run).matrix

    def system(self, run: Examples, value: str) -> System:
        stats = self.corpus(run)
        return System(stats.matrix, stats.score())

    def detail(self, method: str, resamples: int) -> str:
        if method == "approximate-randomization":
            return f"{resamples} trials, as sacrebleu --paired-ar"
        return f"{resamples} resamples, as sacrebleu --paired-bs"

    def corpus(self, run: Examples) -> CorpusStats:
        """``run``'s statistics, checked against its record (computed once per run).

        Raises:
            ComparisonError: The statistics do not reproduce the recorded score or signature,
                or a stored row is malformed, or an example has no reference.
        """
        return run.memo(f"corpus:{self.metric.name}", lambda: self._corpus(run))

    def _corpus(self, run: Examples) -> CorpusStats:
        metric = self.metric
        record = run.record
        # A translation task lists [source, target]; the signature check below catches a
        # tokenizer that differs from the one the run used.
        language = (record.task.languages or [""])[-1]
        references = [self._references(ref, i, run) for i, ref in enumerate(run.references())]
        rows = self._stored(run, language)
        if rows is not None:
            scorer = metric.scorer(language)
            counts = {len(refs) for refs in references}
            scorer.num_refs = counts.pop() if len(counts) == 1 else -1  # as sacrebleu sets it
        else:
            hyps = []
            for response in run.responses():
                text = response.get("text") if response is not None else None
                hyps.append(text if isinstance(text, str) else "")  # a failure scored as ""
            scorer = _scorer_with_references(metric, language, _streams(references, len(hyps)))
            rows = scorer._extract_corpus_statistics(hyps, None)
        stats = _stats_of_rows(scorer, rows, metric.vector_score, integral=metric.integral)
        recorded = record.metrics[metric.name]
        where = run.samples_path.parent
        if not math.isclose(stats.score(), float(recorded.value), rel_tol=1e-9, abs_tol=1e-9):
            raise ComparisonError(
                f"{where}: {metric.name} recomputed from samples.jsonl is {stats.score()!r}, "
                f"record.json says {recorded.value!r}",
                fix="re-run the task; the samples do not reproduce the record",
            )
        if stats.signature() not in recorded.signature:
            raise ComparisonError(
                f"{where}: {metric.name} recomputed with '{stats.signature()}', the record was "
                f"scored with '{recorded.signature}'",
                fix="install the library versions named in the record, or re-run the task",
            )
        return stats

    @staticmethod
    def _references(ref: Any, i: int, run: Examples) -> tuple[str, ...]:
        if isinstance(ref, str):
            return (ref,)
        if isinstance(ref, list) and all(isinstance(r, str) for r in ref):
            return tuple(ref)
        raise ComparisonError(
            f"{run.samples_path}: example {run.ids[i]!r} has no reference texts",
            fix="re-run the task with this version of bench",
        )

    def _stored(self, run: Examples, language: str) -> list[list[Any]] | None:
        """The stored rows (:data:`SEGMENT_STATS`), or ``None`` unless every example has them.

        Raises:
            ComparisonError: A stored row is not a list of numbers of the metric's width.
        """
        stored = run.stored_statistics(self.metric.name)
        if stored is None:
            return None
        width = _width(self.metric, language)
        for i, stats in enumerate(stored):
            if (
                not isinstance(stats, list)
                or len(stats) != width
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in stats)
            ):
                raise ComparisonError(
                    f"{run.samples_path}: example {run.ids[i]!r}: "
                    f"'{SEGMENT_STATS}.{self.metric.name}' is not a list of {width} numbers",
                    fix="re-run the task, or delete the field to recompute it from the texts",
                )
        return stored
