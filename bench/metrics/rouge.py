"""ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum, computed as rouge-score computes them (only faster),
with language-aware tokenizers.

ROUGE (Lin, 2004) compares a system summary with one or more reference summaries by their
overlapping units:

* ROUGE-N: n-gram overlap. With ``count(g)`` the clipped number of matching n-grams,
  precision = Σ count(g) / #n-grams(prediction), recall = Σ count(g) / #n-grams(reference).
* ROUGE-L: the longest common subsequence (LCS) of the two token sequences;
  precision = |LCS| / |prediction|, recall = |LCS| / |reference|.
* ROUGE-Lsum: summary-level LCS (Lin 2004, section 3.2): for every reference sentence, the
  union of its LCSs with every predicted sentence, with each token counted at most as often as
  it occurs (as ROUGE-1.5.5 does).

Each reports F = 2PR / (P + R), on rouge-score's 0–1 scale (not multiplied by 100). A task's
score is the mean of the per-example F-measures, with a percentile bootstrap interval over
examples.

**rouge-score is the reference.** The numbers are rouge-score's (``RougeScorer.score_multi``,
given what bench chooses below): the same floats, to the last bit, on every pair of the real
summaries in the test data and on 100,000 generated pairs (``tests/unit/metrics/
test_rouge_exact.py``). bench computes them itself, in the same order of operations, because
rouge-score spends its time re-tokenizing and filling Python LCS tables:

* tokens: every distinct word is stemmed once (cached), every distinct text (and sentence)
  tokenized once per scoring pass, and tokens numbered; jieba segments each of the blocks it
  splits a text into once, since it segments them independently anyway;
* ROUGE-N: n-gram overlaps of count tables, Σ min(count in reference, count in prediction);
* ROUGE-L: the LCS length from rapidfuzz (``LCSseq.similarity``, compiled);
* ROUGE-Lsum: the union LCS needs the very LCS rouge-score's table read-out picks (its
  tie-breaks decide which tokens count), so it is computed bit-parallel over all predicted
  sentences at once (Hyyrö 2004), with rouge-score's read-out done one step per row, and
  ROUGE-1.5.5's cap of each token's hits at its counts, as rouge-score applies it.

On 10,000 CNN/DailyMail pairs (Porter stemmer) one process is over ten times as fast as a
rouge-score loop; on Chinese, jieba's segmentation, needed once per distinct block, takes most
of the time, and the gain is smaller (``tests/perf/test_rouge_speed.py`` measures both).

Choices stated once here, and named in every signature:

* **Tokenizer** (``tokenizer``). ``auto``: jieba for Chinese, one token per character for
  Japanese and Korean, rouge-score's default for everything else. ``default`` is rouge-score's
  tokenizer (lower-case, every character other than ``a-z0-9`` becomes a space; reproduced by
  bench, and checked against rouge-score's ``DefaultTokenizer`` in the tests) with the Porter
  stemmer for English; it deletes every non-ASCII character, so it would score any Chinese
  summary 0, and bench refuses it for Chinese, Japanese and Korean tasks. ``jieba`` segments
  with a private ``jieba.Tokenizer`` (jieba's stock dictionary, HMM on), lower-cases, and splits
  every word at characters that are not letters or digits, dropping them: the same rule as
  rouge-score's, widened from ``a-z0-9`` to the letters and digits of every script. ``char``
  makes each CJK character (Han, kana, Hangul) a token and keeps runs of other letters and
  digits as words. ``jieba_dict`` replaces jieba's stock dictionary with another file and
  ``jieba_user_dict`` loads a user dictionary on top; the signature's ``tok:`` part names
  jieba's version and the SHA-256 (16 hex) of every dictionary in effect
  (``jieba-0.42.1-dict:…[-user:…]``), so a different dictionary is a different signature.
* **Stemmer** (``stemmer``). ``None`` means on for English, off otherwise. Stemming is
  rouge-score's (NLTK's Porter stemmer, words longer than three characters); with ``jieba`` or
  ``char`` it applies to ASCII words only.
* **Sentences** (ROUGE-Lsum, ``splitter``). rouge-score reads sentences as newline-separated
  lines; bench splits the prediction and every reference with the language's sentence splitter
  (:func:`bench.preprocess.sentences.sentence_splitter`: Punkt for English when its data is
  installed, else rules; punctuation for Chinese) and joins the sentences with newlines.
* **Several references**: the best one per example and per ROUGE type, as rouge-score's
  ``RougeScorer.score_multi`` does (the reference with the highest F-measure for that type; on a
  tie, the first). So ROUGE-1 and ROUGE-L of one example may come from different references.
* **A failed example** (no response) is scored as an empty summary: 0 for every type.

All four types are computed in one pass over the examples and shared through
``ScoringContext.memo``, so a task that lists all four scores each example once. From 50,000
examples on, the pass runs in two worker processes (spawned, so safe with threads and on every
platform); the numbers are identical to a single-process run.
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from importlib import metadata
from itertools import chain, pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NamedTuple

from pydantic import Field, ValidationError

from bench.errors import BenchError, DataError, MissingResource, TaskSpecError
from bench.metrics.base import Metric, MetricValue, ScoringContext, percentile_ci
from bench.metrics.paired import PerExampleMean
from bench.preprocess.segmenter import jieba_block_splitter, jieba_tokenizer

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "PRF",
    "CharTokenizer",
    "JiebaTokenizer",
    "Rouge1",
    "Rouge2",
    "RougeL",
    "RougeLsum",
    "rouge_scores",
]

ROUGE_TYPES: tuple[str, ...] = ("rouge1", "rouge2", "rougeL", "rougeLsum")
PARALLEL_MIN_PAIRS = 50_000
"""From this many examples on, ``processes=None`` scores in (up to) two processes: one process
scores a few thousand pairs a second, and starting a worker (a fresh interpreter importing bench,
NLTK, jieba) costs seconds, so below this size two processes would be slower than one."""

TokenizerName = Literal["auto", "default", "jieba", "char"]
_Group = tuple[str, bool, tuple[str | None, str | None]]
SplitterName = Literal["auto", "punkt", "rule"]

# Languages whose text rouge-score's default tokenizer deletes (it keeps only a-z and 0-9).
_CJK_LANGUAGES = ("zh", "ja", "ko")

# Han (with extensions and compatibility ideographs), kana and Hangul syllables.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
_CHAR_TOKEN = re.compile(rf"[{_CJK}]|(?:(?![{_CJK}])[^\W_])+")
_LETTERS_DIGITS = re.compile(r"[^\W_]+")


# --------------------------------------------------------------------------------------------
# Tokenizers: picklable, the heavy parts built lazily per process


_STEMMER: Any = None


def _porter() -> Any:
    global _STEMMER
    if _STEMMER is None:
        from nltk.stem import porter

        _STEMMER = porter.PorterStemmer()  # what rouge-score's DefaultTokenizer uses
    return _STEMMER


@functools.lru_cache(maxsize=1 << 18)
def _stem(token: str) -> str:
    """The Porter stem of ``token``: a pure function of the word, so cached per distinct word
    (stemming is most of the cost of tokenizing English)."""
    stem: str = _porter().stem(token)
    return stem


def _stem_ascii(tokens: list[str]) -> list[str]:
    # rouge-score stems only words longer than three characters; so do we, ASCII words only.
    return [_stem(t) if len(t) > 3 and t.isascii() else t for t in tokens]


class JiebaTokenizer:
    """Chinese words for ROUGE: jieba segmentation, lower-cased, letters and digits only.

    Every jieba word is split at characters that are neither letters nor digits (of any script),
    which are dropped, as rouge-score's default tokenizer does with everything outside
    ``a-z0-9``: punctuation and whitespace never count as matches.

    The jieba tokenizer is private (jieba's stock dictionary, never its global tokenizer, which
    a user dictionary elsewhere could change) and is built on first use in each process, so the
    object pickles cheaply into worker processes.

    Args:
        use_stemmer: Stem ASCII words longer than three characters with the Porter stemmer.
        dictionary: A jieba main dictionary file instead of jieba's stock ``dict.txt``.
        user_dict: A jieba user dictionary loaded on top (``Tokenizer.load_userdict``).

    Example:
        >>> JiebaTokenizer().tokenize("我来到北京清华大学，学习NLP。")
        ['我', '来到', '北京', '清华大学', '学习', 'nlp']
    """

    def __init__(
        self, use_stemmer: bool = False, dictionary: str | None = None, user_dict: str | None = None
    ) -> None:
        self.use_stemmer = use_stemmer
        self.dictionary = dictionary
        self.user_dict = user_dict

    def tokenize(self, text: str) -> list[str]:
        """Tokens of ``text``."""
        return self._tokens(self._segmenter(), text)

    def bound(self) -> Callable[[str], list[str]]:
        """:meth:`tokenize` with the jieba tokenizer looked up once, for a scoring pass (each
        lookup checks the dictionaries' files)."""
        return functools.partial(self._tokens, self._segmenter())

    def _segmenter(self) -> Any:
        return jieba_tokenizer(self.dictionary, self.user_dict, who="ROUGE")

    def _tokens(self, segmenter: Any, text: str) -> list[str]:
        # Lower-case after segmenting: jieba's dictionary has mixed-case words (T恤, B超).
        tokens = [
            piece
            for word in segmenter.cut(text, HMM=True)
            for piece in _LETTERS_DIGITS.findall(word.lower())
        ]
        return _stem_ascii(tokens) if self.use_stemmer else tokens

    def __repr__(self) -> str:
        return (
            f"JiebaTokenizer(use_stemmer={self.use_stemmer}, dictionary={self.dictionary!r}, "
            f"user_dict={self.user_dict!r})"
        )


class CharTokenizer:
    """One token per CJK character; runs of other letters and digits are words; lower-cased.

    Args:
        use_stemmer: Stem ASCII words longer than three characters with the Porter stemmer.

    Example:
        >>> CharTokenizer().tokenize("用BERT做中文NER，F1是92.5。")
        ['用', 'bert', '做', '中', '文', 'ner', 'f1', '是', '92', '5']
    """

    def __init__(self, use_stemmer: bool = False) -> None:
        self.use_stemmer = use_stemmer

    def tokenize(self, text: str) -> list[str]:
        """Tokens of ``text``."""
        tokens = _CHAR_TOKEN.findall(text.lower())
        return _stem_ascii(tokens) if self.use_stemmer else tokens

    def __repr__(self) -> str:
        return f"CharTokenizer(use_stemmer={self.use_stemmer})"


# --------------------------------------------------------------------------------------------
# The scoring pass


class PRF(NamedTuple):
    """Per-example precision, recall and F-measure of one ROUGE type (arrays of length n)."""

    precision: np.ndarray
    recall: np.ndarray
    fmeasure: np.ndarray


@dataclass(frozen=True)
class _Plan:
    """What a worker needs to score pairs: everything resolved, nothing heavy (it is pickled)."""

    language: str
    tokenizer: str  # default | jieba | char
    stemmer: bool
    types: tuple[str, ...]  # among rouge1, rouge2, rougeL (whole-text types)
    splitters: tuple[str, ...]  # sentence splitter names, one rougeLsum column each
    nltk_path: tuple[str, ...] = ()
    jieba_dict: str | None = None
    jieba_user_dict: str | None = None


_ZERO = (0.0, 0.0, 0.0)
_CACHED_TEXTS = 1 << 17  # a pass forgets the texts it has seen when it has seen this many
_ASCII_WORD = re.compile(r"[a-z0-9]+")
_VALID_TOKEN = re.compile(r"^[a-z0-9]+$")  # rouge-score's last check on every (stemmed) token


def _fmeasure(precision: float, recall: float) -> float:
    # rouge-score's scoring.fmeasure, term for term, so that the floats are bit-identical.
    if precision + recall > 0:
        return 2 * precision * recall / (precision + recall)
    return 0.0


class _Vocab(dict[str, int]):
    """Token → int id, numbering each new token on first sight: n-grams and LCS work on ints."""

    def __missing__(self, token: str) -> int:
        self[token] = number = len(self)
        return number


class _DefaultIds(dict[str, int]):
    """rouge-score's default tokenizer, per distinct word: a run of ``a-z0-9`` → its token id,
    stemmed when words longer than three characters are, ``-1`` when the stem is not a valid
    token (rouge-score's final check drops it)."""

    def __init__(self, vocab: _Vocab, stemmer: bool) -> None:
        super().__init__()
        self.vocab = vocab
        self.stemmer = stemmer

    def __missing__(self, word: str) -> int:
        token = _stem(word) if self.stemmer and len(word) > 3 else word
        self[word] = number = self.vocab[token] if _VALID_TOKEN.match(token) else -1
        return number


class _TextIds(dict[str, tuple[int, ...]]):
    """Text → its token ids, each distinct text tokenized once per pass."""

    def __init__(self, plan: _Plan, vocab: _Vocab) -> None:
        super().__init__()
        self.vocab = vocab
        self.words = _DefaultIds(vocab, plan.stemmer)
        tokenizer = _tokenizer_object(plan)
        self.tokenize: Callable[[str], list[str]] | None = None
        if isinstance(tokenizer, JiebaTokenizer):
            self.tokenize = tokenizer.bound()
        elif tokenizer is not None:
            self.tokenize = tokenizer.tokenize
        self.blocks: dict[str, tuple[int, ...]] = {}
        self.split_blocks = None
        if plan.tokenizer == "jieba":
            # jieba segments every block of a text on its own, so the words of a text are the
            # words of its blocks, end to end: cached per block, which a text and its sentences
            # (and near-duplicate texts) share.
            self.split_blocks = jieba_block_splitter()

    def __missing__(self, text: str) -> tuple[int, ...]:
        if len(self) >= _CACHED_TEXTS or len(self.blocks) >= _CACHED_TEXTS:
            self.clear()
            self.blocks.clear()
        if self.tokenize is None:
            # rouge-score's tokenize(): lower-case, non-[a-z0-9] runs to spaces, split, stem.
            ids = tuple(map(self.words.__getitem__, _ASCII_WORD.findall(text.lower())))
            if -1 in ids:
                ids = tuple(i for i in ids if i >= 0)
        elif self.split_blocks is not None:
            pieces = []
            for block in self.split_blocks(text):
                if block:
                    cached = self.blocks.get(block)
                    if cached is None:
                        cached = self.blocks[block] = self._ids(self.tokenize(block))
                    pieces.append(cached)
            ids = tuple(chain.from_iterable(pieces))
        else:
            ids = self._ids(self.tokenize(text))
        self[text] = ids
        return ids

    def _ids(self, tokens: list[str]) -> tuple[int, ...]:
        return tuple(map(self.vocab.__getitem__, tokens))


# The cached profiles below are built of tuples and plain dicts of ints, which Python's garbage
# collector stops tracking, so that a pass's caches do not make every full collection slower.


class _Whole:
    """A text's tokens for ROUGE-1, -2 and -L: ids, unigram and bigram counts."""

    __slots__ = ("bigrams", "ids", "unigrams")

    def __init__(self, ids: tuple[int, ...], bigrams: bool) -> None:
        self.ids = ids
        self.unigrams = dict(Counter(ids))
        self.bigrams = dict(Counter(pairwise(ids))) if bigrams else {}


_Candidate = tuple[dict[int, int], tuple[tuple[int, int, int], ...], int]


class _Summary:
    """A text's sentences for ROUGE-Lsum: token ids per non-empty line, their total and counts,
    and (built when the text is a prediction) its sentences laid end to end in one bit-vector."""

    __slots__ = ("_candidate", "counts", "sentences", "size")

    def __init__(self, sentences: tuple[tuple[int, ...], ...]) -> None:
        self.sentences = sentences
        self.size = sum(map(len, sentences))
        self.counts = dict(Counter(chain.from_iterable(sentences)))
        self._candidate: _Candidate | None = None

    def candidate(self) -> _Candidate:
        """``(masks, segments, keep)``: per token id the bits of its positions; per non-empty
        sentence ``(offset, length, its bits)``; and all sentence bits. One zero guard bit
        follows every sentence, so that carries never cross from one sentence to the next."""
        if self._candidate is None:
            masks: dict[int, int] = {}
            segments = []
            keep = offset = 0
            for sentence in self.sentences:
                if sentence:
                    bit = 1 << offset
                    for token in sentence:
                        masks[token] = masks.get(token, 0) | bit
                        bit <<= 1
                    bits = ((1 << len(sentence)) - 1) << offset
                    segments.append((offset, len(sentence), bits))
                    keep |= bits
                offset += len(sentence) + 1
            self._candidate = masks, tuple(segments), keep
        return self._candidate


def _ngram_prf(
    target: dict[Any, int], target_total: int, prediction: dict[Any, int], prediction_total: int
) -> tuple[float, float, float]:
    # rouge-score's _score_ngrams: the overlap is Σ min(count in target, count in prediction).
    common = target.keys() & prediction.keys()
    overlap = sum(map(min, map(target.__getitem__, common), map(prediction.__getitem__, common)))
    precision = overlap / max(prediction_total, 1)
    recall = overlap / max(target_total, 1)
    return precision, recall, _fmeasure(precision, recall)


def _union_lcs(
    reference: tuple[int, ...],
    masks: dict[int, int],
    segments: tuple[tuple[int, int, int], ...],
    keep: int,
) -> set[int]:
    """The positions in ``reference`` of the union of one LCS of ``reference`` with each
    candidate sentence: the LCS that rouge-score's ``_lcs_table`` + ``_backtrack_norec`` read out.

    The LCS table is computed bit-parallel (Hyyrö 2004), one row per reference token over all
    candidate sentences at once (a zero guard bit between sentences stops the carries): ``v``
    has a 0 where the row steps up. ``d`` marks the columns where a row is one above the row
    before. rouge-score's read-out from the bottom-right corner (a match goes diagonally; else
    up when the cell above is as large, else left) then takes one step per row: a match in the
    current column, else up if ``d`` is 0 there, else left to the nearest match in the row (the
    cells passed are all as large, and none is a match). Rows of tokens that no candidate
    sentence has are always passed upwards, so they are left out.
    """
    get = masks.get
    v = keep
    rows = []
    for i, token in enumerate(reference):
        m = get(token)
        if m is not None:
            u = v & m
            s = v + u
            rows.append((i, m, v & (u | (s ^ v ^ u))))  # s ^ v ^ u: the carry into each bit
            v = (s | (v - u)) & keep
    rows.reverse()
    steps = keep ^ v  # the last row's steps: per sentence, as many as its LCS is long
    union = set()
    for offset, length, bits in segments:
        left = (steps & bits).bit_count()
        if left:
            p = offset + length - 1
            for i, m, d in rows:
                if m >> p & 1:
                    p -= 1
                elif d >> p & 1:
                    p = (m & ((1 << p) - 1)).bit_length() - 2
                else:
                    continue
                union.add(i)
                left -= 1
                if not left:
                    break
    return union


def _lsum_prf(reference: _Summary, prediction: _Summary) -> tuple[float, float, float]:
    # rouge-score's _summary_level_lcs: hits over the union LCSs, each token used at most as
    # often as it occurs in both texts (the order of a union's tokens cannot change the hits).
    if not reference.size or not prediction.size:
        return _ZERO
    masks, segments, keep = prediction.candidate()
    left_p = dict(prediction.counts)
    left_r = dict(reference.counts)
    hits = 0
    for sentence in reference.sentences:
        if masks.keys().isdisjoint(sentence):
            continue
        for i in _union_lcs(sentence, masks, segments, keep):
            token = sentence[i]
            if left_p[token] > 0 and left_r[token] > 0:
                hits += 1
                left_p[token] -= 1
                left_r[token] -= 1
    recall = hits / reference.size
    precision = hits / prediction.size
    return precision, recall, _fmeasure(precision, recall)


class _Pass:
    """One scoring pass's caches: every distinct text (and sentence) tokenized once, every
    distinct word stemmed once, whatever the number of pairs it occurs in."""

    def __init__(self, plan: _Plan) -> None:
        from rapidfuzz.distance import LCSseq

        self.lcs_length = LCSseq.similarity
        self.plan = plan
        self.ids = _TextIds(plan, _Vocab())
        self.bigrams = "rouge2" in plan.types
        self.wholes: dict[str, _Whole] = {}
        self.splitters = _splitters(plan)
        self.summaries: list[dict[str, _Summary]] = [{} for _ in self.splitters]

    def whole(self, text: str, keep: bool = True) -> _Whole:
        """``text``'s tokens and counts, cached if ``keep`` (references: they recur, across a
        reference tuple and across systems; a prediction is used for one example)."""
        found = self.wholes.get(text)
        if found is None:
            found = _Whole(self.ids[text], self.bigrams)
            if keep:
                if len(self.wholes) >= _CACHED_TEXTS:
                    self.wholes.clear()
                self.wholes[text] = found
        return found

    def summary(self, k: int, text: str, keep: bool = True) -> _Summary:
        """``text``'s sentences by splitter ``k``, cached if ``keep``."""
        cache = self.summaries[k]
        found = cache.get(text)
        if found is None:
            # bench's sentences, one a line; rouge-score reads the lines and drops empty ones.
            lines = "\n".join(self.splitters[k](text)).split("\n")
            found = _Summary(tuple([self.ids[line] for line in lines if line]))
            if keep:
                if len(cache) >= _CACHED_TEXTS:
                    cache.clear()
                cache[text] = found
        return found

    def rouge_l(self, target: _Whole, prediction: _Whole) -> tuple[float, float, float]:
        # rouge-score's _score_lcs, with the LCS length from rapidfuzz.
        if not target.ids or not prediction.ids:
            return _ZERO
        lcs = self.lcs_length(target.ids, prediction.ids)
        precision = lcs / len(prediction.ids)
        recall = lcs / len(target.ids)
        return precision, recall, _fmeasure(precision, recall)


def _rouge1(target: _Whole, prediction: _Whole) -> tuple[float, float, float]:
    return _ngram_prf(target.unigrams, len(target.ids), prediction.unigrams, len(prediction.ids))


def _rouge2(target: _Whole, prediction: _Whole) -> tuple[float, float, float]:
    return _ngram_prf(
        target.bigrams,
        max(len(target.ids) - 1, 0),
        prediction.bigrams,
        max(len(prediction.ids) - 1, 0),
    )


def _splitters(plan: _Plan) -> list[Callable[[str], list[str]]]:
    """The sentence splitters of ``plan``, checked to be the ones the parent process named."""
    from bench.preprocess.sentences import sentence_splitter

    splitters = []
    for name in plan.splitters:
        if name.startswith("punkt") and plan.nltk_path:
            import nltk

            # A spawned worker sees NLTK_DATA but not the parent's edits of nltk.data.path.
            nltk.data.path[:0] = [p for p in plan.nltk_path if p not in nltk.data.path]
        prefer = "punkt" if name.startswith("punkt") else "rule"
        splitter = sentence_splitter(plan.language, prefer)
        if splitter.name != name:
            raise RuntimeError(f"worker got sentence splitter '{splitter.name}', not '{name}'")
        splitters.append(splitter.split)
    return splitters


def _tokenizer_object(plan: _Plan) -> Any:
    if plan.tokenizer == "jieba":
        return JiebaTokenizer(plan.stemmer, plan.jieba_dict, plan.jieba_user_dict)
    if plan.tokenizer == "char":
        return CharTokenizer(plan.stemmer)
    return None  # rouge-score's DefaultTokenizer(use_stemmer), reproduced by _TextIds


def _score_chunk(plan: _Plan, pairs: Sequence[tuple[str, tuple[str, ...]]]) -> np.ndarray:
    """Score ``(prediction, references)`` pairs: ``(len(pairs), columns, 3)`` of P, R, F.

    rouge-score's ``RougeScorer.score_multi`` per pair, computed from cached tokens: per type,
    the reference with the highest F-measure (the first on a tie, as ``np.argmax`` picks).
    Module level (and its arguments plain data) so that spawned worker processes can run it.
    """
    scoring = _Pass(plan)
    scorers = [
        {"rouge1": _rouge1, "rouge2": _rouge2, "rougeL": scoring.rouge_l}[t] for t in plan.types
    ]
    splitters = range(len(plan.splitters))
    rows = []
    for prediction, references in pairs:
        row = []
        if scorers:
            whole = scoring.whole(prediction, keep=False)
            targets = [scoring.whole(r) for r in references]
            for score in scorers:
                best = score(targets[0], whole)
                for target in targets[1:]:
                    prf = score(target, whole)
                    if prf[2] > best[2]:
                        best = prf
                row.append(best)
        for k in splitters:
            summary = scoring.summary(k, prediction, keep=False)
            best = _lsum_prf(scoring.summary(k, references[0]), summary)
            for reference in references[1:]:
                prf = _lsum_prf(scoring.summary(k, reference), summary)
                if prf[2] > best[2]:
                    best = prf
            row.append(best)
        rows.append(row)
    columns = len(plan.types) + len(plan.splitters)
    import numpy as np

    return np.array(rows, dtype=np.float64).reshape(len(pairs), columns, 3)


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _in_daemon() -> bool:
    import multiprocessing

    return bool(multiprocessing.current_process().daemon)


def _auto_processes(n: int) -> int:
    if n < PARALLEL_MIN_PAIRS or _in_daemon():  # a daemonic process may not start children
        return 1
    return min(2, _available_cpus())


def _run(plan: _Plan, pairs: list[tuple[str, tuple[str, ...]]], processes: int) -> np.ndarray:
    import numpy as np

    columns = len(plan.types) + len(plan.splitters)
    if not pairs:
        return np.zeros((0, columns, 3), dtype=np.float64)
    processes = max(1, min(processes, len(pairs)))
    if processes == 1:
        return _score_chunk(plan, pairs)
    import multiprocessing

    # Two chunks per process balance uneven documents, and keep most of each worker's caches
    # (every chunk is a pass of its own); order is kept by map().
    size = math.ceil(len(pairs) / (processes * 2))
    chunks = [pairs[i : i + size] for i in range(0, len(pairs), size)]
    try:
        with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as ex:
            parts = list(ex.map(_score_chunk, [plan] * len(chunks), chunks))
    except BrokenProcessPool as exc:
        raise BenchError(
            f"ROUGE worker processes died ({exc}); a script that starts a run must guard its "
            "entry point with `if __name__ == '__main__':` (worker processes are spawned)",
            fix="add the guard, or set the metric parameter `processes: 1`",
        ) from None
    return np.concatenate(parts, axis=0)


def _resolve_tokenizer(tokenizer: str, language: str, where: str = "") -> str:
    cjk = language.lower().startswith(_CJK_LANGUAGES)
    if tokenizer == "auto":
        if language.lower().startswith("zh"):
            return "jieba"
        return "char" if cjk else "default"
    if tokenizer == "default" and cjk:
        raise TaskSpecError(
            f"{where}ROUGE tokenizer 'default' cannot score language '{language}': rouge-score's "
            "default tokenizer keeps only the ASCII letters a-z and digits, so every summary in "
            "this language would score 0",
            fix="set the metric parameter `tokenizer: auto` (jieba for Chinese), `jieba` or `char`",
        )
    return tokenizer


def _resolve_stemmer(stemmer: bool | None, language: str) -> bool:
    if stemmer is None:  # the Porter stemmer is for English (en, en-GB, en_US)
        return re.match(r"en(?:$|[-_])", language.lower()) is not None
    return stemmer


def _splitter_name(language: str, prefer: str) -> str:
    from bench.preprocess.sentences import sentence_splitter

    return sentence_splitter(language, prefer).name


def _text(response: Any) -> str:
    text = None if response is None else getattr(response, "text", None)
    return text if isinstance(text, str) else ""  # a failure is an empty summary: a miss


def _check_references(references: Sequence[Any]) -> list[tuple[str, ...]]:
    out = []
    for i, refs in enumerate(references):
        if isinstance(refs, str) or not isinstance(refs, (tuple, list)) or not refs:
            raise DataError(
                f"example {i}: references must be a non-empty tuple of strings, got {refs!r:.80}",
                fix="give each example a tuple of one or more reference summaries",
            )
        if not all(isinstance(r, str) for r in refs):
            raise DataError(
                f"example {i}: every reference must be a string, got {refs!r:.80}",
                fix="give each example a tuple of one or more reference summaries",
            )
        out.append(tuple(refs))
    return out


def rouge_scores(
    predictions: Sequence[str | None],
    references: Sequence[Sequence[str]],
    language: str,
    *,
    types: Sequence[str] = ROUGE_TYPES,
    tokenizer: TokenizerName = "auto",
    stemmer: bool | None = None,
    splitter: SplitterName = "auto",
    processes: int | None = 1,
) -> dict[str, PRF]:
    """Per-example ROUGE of ``predictions`` against their ``references``, as rouge-score's
    ``RougeScorer.score_multi`` computes it.

    Args:
        predictions: One text per example; ``None`` (a failed example) scores as empty.
        references: One tuple of one or more reference texts per example; the best reference
            is taken per example and ROUGE type.
        language: The language code that picks the tokenizer, stemmer and sentence splitter.
        types: ROUGE types among ``rouge1``, ``rouge2``, ``rougeL`` and ``rougeLsum``.
        tokenizer: ``auto``, ``default`` (rouge-score's), ``jieba`` or ``char``.
        stemmer: Porter stemming; ``None`` means on for English only.
        splitter: The sentence splitter for ``rougeLsum``: ``auto``, ``punkt`` or ``rule``.
        processes: Worker processes; ``None`` picks two from 50,000 examples on.

    Returns:
        For each type, the per-example precision, recall and F-measure (0–1).

    Raises:
        TaskSpecError: ``tokenizer='default'`` on Chinese, Japanese or Korean.
        DataError: An example has no references, or a reference is not a string.

    Example:
        >>> s = rouge_scores(["the cats sat on mats"], [("the cat sat on the mat",)], "en",
        ...                  types=("rouge1", "rougeL"))
        >>> round(float(s["rouge1"].fmeasure[0]), 4), round(float(s["rougeL"].recall[0]), 4)
        (0.9091, 0.8333)
        >>> s = rouge_scores(["北京是中国的首都"], [("中国的首都是北京",)], "zh", types=("rouge1",))
        >>> float(s["rouge1"].fmeasure[0])
        1.0
    """
    if len(predictions) != len(references):
        raise DataError(
            f"{len(predictions)} predictions but {len(references)} reference tuples",
            fix="give one prediction per example",
        )
    unknown = [t for t in types if t not in ROUGE_TYPES]
    if unknown:
        raise ValueError(f"unknown ROUGE types {unknown}; known: {list(ROUGE_TYPES)}")
    refs = _check_references(references)
    preds = ["" if p is None else p for p in predictions]
    wanted = list(dict.fromkeys(types))
    whole = tuple(t for t in ROUGE_TYPES[:3] if t in wanted)
    split = (_splitter_name(language, splitter),) if "rougeLsum" in wanted else ()
    plan = _plan(language, tokenizer, stemmer, whole, split)
    table = _run(
        plan,
        list(zip(preds, refs, strict=True)),
        _auto_processes(len(preds)) if processes is None else processes,
    )
    names = [*whole, *(["rougeLsum"] if split else [])]
    return {name: PRF(*(table[:, j, k].copy() for k in range(3))) for j, name in enumerate(names)}


def _plan(
    language: str,
    tokenizer: str,
    stemmer: bool | None,
    types: tuple[str, ...],
    splitters: tuple[str, ...],
    jieba_dicts: tuple[str | None, str | None] = (None, None),
) -> _Plan:
    nltk_path: tuple[str, ...] = ()
    if any(s.startswith("punkt") for s in splitters):
        import nltk

        nltk_path = tuple(str(p) for p in nltk.data.path)
    return _Plan(
        language=language,
        tokenizer=_resolve_tokenizer(tokenizer, language),
        stemmer=_resolve_stemmer(stemmer, language),
        types=types,
        splitters=splitters,
        nltk_path=nltk_path,
        jieba_dict=jieba_dicts[0],
        jieba_user_dict=jieba_dicts[1],
    )


# --------------------------------------------------------------------------------------------
# Signatures


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def _dictionary_hash(path: str, param: str) -> str:
    from bench.preprocess.resources import file_sha256_16

    try:
        return file_sha256_16(Path(path))
    except OSError as exc:
        raise DataError(
            f"ROUGE parameter '{param}': cannot read jieba dictionary {path} ({exc.strerror})",
            fix=f"point '{param}' at a jieba dictionary file (one 'word [freq] [tag]' a line)",
        ) from exc


def _tokenizer_tag(tokenizer: str, dicts: tuple[str | None, str | None] = (None, None)) -> str:
    """The ``tok:`` part of a signature: jieba's version and its dictionaries' hashes."""
    if tokenizer != "jieba":
        return tokenizer
    from bench.preprocess.resources import jieba_status

    status = jieba_status()
    if not status.present:
        raise MissingResource(
            f"jieba (the Chinese ROUGE tokenizer) is not usable: {status.detail}",
            fix=status.download,
        )
    main = _dictionary_hash(dicts[0], "jieba_dict") if dicts[0] else status.checksum
    tag = f"jieba-{status.version}-dict:{main}"
    if dicts[1]:
        tag += f"-user:{_dictionary_hash(dicts[1], 'jieba_user_dict')}"
    return tag


def _stemmer_tag(stemmer: bool) -> str:
    return f"porter-nltk-{_version('nltk')}" if stemmer else "no"


def _splitter_tag(name: str) -> str:
    return f"{name}-nltk-{_version('nltk')}" if name.startswith("punkt") else name


# --------------------------------------------------------------------------------------------
# The metrics


class _Rouge(Metric):
    """Shared parameters and scoring of the four ROUGE metrics."""

    families: ClassVar[tuple[str, ...]] = ("summarization",)

    stemmer: bool | None = None
    tokenizer: TokenizerName = "auto"
    report: Literal["f", "prf"] = "f"
    processes: int | None = Field(default=None, ge=1)
    jieba_dict: str | None = None
    jieba_user_dict: str | None = None

    def _dicts(self, tokenizer: str) -> tuple[str | None, str | None]:
        """The jieba dictionaries in effect (none unless the tokenizer is jieba)."""
        return (self.jieba_dict, self.jieba_user_dict) if tokenizer == "jieba" else (None, None)

    def _column(self, language: str) -> str:
        """The memo column this metric reads: its type (and, for rougeLsum, the splitter)."""
        return self.name

    def _group(self, language: str, task: str = "") -> _Group:
        """``(tokenizer, stemmer, jieba dictionaries)`` resolved: metrics with equal groups
        share a scoring pass."""
        where = f"task '{task}', metric '{self.name}': " if task else f"metric '{self.name}': "
        tokenizer = _resolve_tokenizer(self.tokenizer, language, where)
        return tokenizer, _resolve_stemmer(self.stemmer, language), self._dicts(tokenizer)

    def language_problem(self, language: str) -> str | None:
        """Why this metric cannot score ``language`` (for a task check), or ``None``.

        Example:
            >>> Rouge1(tokenizer="default").language_problem("zh") is not None
            True
        """
        try:
            self._group(language)
        except TaskSpecError as exc:
            return str(exc)
        return None

    def _scores(self, ctx: ScoringContext) -> PRF:
        """This metric's per-example scores, computed with its siblings in one shared pass."""
        language = ctx.spec.language
        group = self._group(language, ctx.spec.name)
        key = _memo_key(group, self._column(language))
        if key not in ctx.memo:
            self._fill(ctx, language, group)
        prf: PRF = ctx.memo[key]
        return prf

    def _siblings(self, ctx: ScoringContext, language: str, group: _Group) -> list[str]:
        """Memo columns of the task's other ROUGE metrics that tokenize like this one."""
        columns = []
        for spec in ctx.spec.metrics:
            cls = _CLASSES.get(spec.name)
            if cls is None or cls.name == self.name:
                continue
            try:
                other = cls(**spec.params)
                if other._group(language) == group:
                    columns.append(other._column(language))
            except (ValidationError, BenchError):
                continue  # that metric reports its own problem when it runs
        return columns

    def _fill(self, ctx: ScoringContext, language: str, group: _Group) -> None:
        wanted = [self._column(language), *self._siblings(ctx, language, group)]
        pending = [c for c in dict.fromkeys(wanted) if _memo_key(group, c) not in ctx.memo]
        whole = tuple(t for t in ROUGE_TYPES[:3] if t in pending)
        splitters = tuple(c.split("|", 1)[1] for c in pending if c.startswith("rougeLsum|"))
        plan = _plan(language, group[0], group[1], whole, splitters, group[2])
        pairs = list(
            zip([_text(r) for r in ctx.responses], _check_references(ctx.references), strict=True)
        )
        processes = self.processes if self.processes is not None else _auto_processes(ctx.n)
        table = _run(plan, pairs, processes)
        for j, column in enumerate([*whole, *(f"rougeLsum|{s}" for s in splitters)]):
            ctx.memo[_memo_key(group, column)] = PRF(*(table[:, j, k].copy() for k in range(3)))

    def _split_tag(self, language: str) -> str | None:
        return None

    def _signature(self, ctx: ScoringContext, stat: str) -> str:
        tokenizer, stemmer, dicts = self._group(ctx.spec.language, ctx.spec.name)
        parts = [
            self.name,
            stat,
            f"tok:{_tokenizer_tag(tokenizer, dicts)}",
            f"stem:{_stemmer_tag(stemmer)}",
        ]
        split = self._split_tag(ctx.spec.language)
        if split:
            parts.append(f"split:{split}")
        parts += [
            "multiref:best",
            f"rouge-score:{_version('rouge-score')}",
            ctx.bootstrap.tag(),
            f"v:{self.version}",
        ]
        return "|".join(parts)

    def _boot_means(self, ctx: ScoringContext, values: np.ndarray) -> np.ndarray | None:
        """Means of ``values`` over the bootstrap resamples of the examples."""
        if ctx.bootstrap.resamples == 0 or ctx.n == 0:
            return None
        return ctx.bootstrap.resample_means(values)

    def _value(self, ctx: ScoringContext, values: np.ndarray, name: str, stat: str) -> MetricValue:
        # fsum is exactly rounded, so the value does not depend on the examples' order.
        mean = math.fsum(values.tolist()) / ctx.n if ctx.n else float("nan")
        samples = self._boot_means(ctx, values)
        low, high = (
            (None, None) if samples is None else percentile_ci(samples, ctx.bootstrap.confidence)
        )
        return MetricValue(
            name=name,
            value=mean,
            n=ctx.n,
            ci_low=low,
            ci_high=high,
            signature=self._signature(ctx, stat),
        )

    def score(self, ctx: ScoringContext) -> list[MetricValue]:
        prf = self._scores(ctx)
        out = [self._value(ctx, prf.fmeasure, self.name, "f")]
        if self.report == "prf":
            out.append(self._value(ctx, prf.precision, f"{self.name}/precision", "p"))
            out.append(self._value(ctx, prf.recall, f"{self.name}/recall", "r"))
        return out

    def paired(self, value: str) -> PerExampleMean | None:
        """Each value (F, and P and R with ``report: prf``) is a mean of per-example scores."""
        if value in (self.name, f"{self.name}/precision", f"{self.name}/recall"):
            return PerExampleMean(value)
        return None

    def per_example(self, ctx: ScoringContext) -> dict[str, list[float | None]]:
        prf = self._scores(ctx)
        out: dict[str, list[float | None]] = {self.name: prf.fmeasure.tolist()}
        if self.report == "prf":
            out[f"{self.name}/precision"] = prf.precision.tolist()
            out[f"{self.name}/recall"] = prf.recall.tolist()
        return out


def _memo_key(group: _Group, column: str) -> str:
    return f"rouge|{group[0]}|stem:{group[1]}|dicts:{group[2]}|{column}"


class Rouge1(_Rouge):
    """ROUGE-1: unigram-overlap F-measure (Lin, 2004), the mean over examples, on a 0–1 scale.

    P = matching unigrams / prediction unigrams and R = matching unigrams / reference unigrams
    (each unigram matched at most as often as it occurs in both); F = 2PR / (P + R). Computed
    as rouge-score does; see the module docstring for tokenizers, stemming and several
    references.

    Lin, Chin-Yew. 2004. ROUGE: A Package for Automatic Evaluation of Summaries. In Text
    Summarization Branches Out, pp. 74–81. https://aclanthology.org/W04-1013/

    Attributes:
        stemmer: Porter stemming (rouge-score's ``use_stemmer``); ``None``: on for English only.
        tokenizer: ``auto`` (jieba for Chinese, ``char`` for Japanese and Korean, rouge-score's
            default otherwise), ``default``, ``jieba`` or ``char``. ``default`` is refused for
            Chinese, Japanese and Korean: it deletes their characters and scores 0.
        report: ``f`` for the F-measure only; ``prf`` adds ``rouge1/precision`` and
            ``rouge1/recall`` (values and per-example columns).
        processes: Worker processes for the scoring pass; ``None``: two from 50,000 examples on
            (when two CPUs are available), else one. Never changes the numbers.

    Example:
        >>> s = rouge_scores(["the cats sat on mats"], [("the cat sat on the mat",)], "en",
        ...                  types=("rouge1",))
        >>> round(float(s["rouge1"].fmeasure[0]), 4)  # stems: 5 of 5 match, 5 of 6 recalled
        0.9091
    """

    name: ClassVar[str] = "rouge1"


class Rouge2(_Rouge):
    """ROUGE-2: bigram-overlap F-measure (Lin, 2004), the mean over examples, on a 0–1 scale.

    As ROUGE-1, over bigrams. A text of fewer than two tokens has no bigrams, so its ROUGE-2
    is 0 even against itself.

    Lin, Chin-Yew. 2004. ROUGE: A Package for Automatic Evaluation of Summaries. In Text
    Summarization Branches Out, pp. 74–81. https://aclanthology.org/W04-1013/

    Attributes:
        stemmer: Porter stemming (rouge-score's ``use_stemmer``); ``None``: on for English only.
        tokenizer: ``auto``, ``default``, ``jieba`` or ``char``, as for :class:`Rouge1`.
        report: ``f`` or ``prf`` (adds ``rouge2/precision`` and ``rouge2/recall``).
        processes: Worker processes; ``None``: two from 50,000 examples on, else one.

    Example:
        >>> s = rouge_scores(["the cat sat"], [("the cat sat down",)], "en", types=("rouge2",))
        >>> round(float(s["rouge2"].fmeasure[0]), 4)  # P = 2/2, R = 2/3
        0.8
    """

    name: ClassVar[str] = "rouge2"


class RougeL(_Rouge):
    """ROUGE-L: longest-common-subsequence F-measure (Lin, 2004), the mean over examples, 0–1.

    P = |LCS| / |prediction| and R = |LCS| / |reference| over the tokens of the whole texts
    (sentence boundaries ignored); F = 2PR / (P + R). Computed as rouge-score does.

    Lin, Chin-Yew. 2004. ROUGE: A Package for Automatic Evaluation of Summaries. In Text
    Summarization Branches Out, pp. 74–81. https://aclanthology.org/W04-1013/

    Attributes:
        stemmer: Porter stemming (rouge-score's ``use_stemmer``); ``None``: on for English only.
        tokenizer: ``auto``, ``default``, ``jieba`` or ``char``, as for :class:`Rouge1`.
        report: ``f`` or ``prf`` (adds ``rougeL/precision`` and ``rougeL/recall``).
        processes: Worker processes; ``None``: two from 50,000 examples on, else one.

    Example:
        >>> s = rouge_scores(["sat the cat"], [("the cat sat",)], "en", types=("rougeL",))
        >>> round(float(s["rougeL"].fmeasure[0]), 4)  # LCS "the cat"
        0.6667
    """

    name: ClassVar[str] = "rougeL"


class RougeLsum(_Rouge):
    """ROUGE-Lsum: summary-level LCS F-measure (Lin, 2004, §3.2), the mean over examples, 0–1.

    The prediction and every reference are split into sentences by the language's splitter and
    scored as rouge-score scores them given one sentence per line. Hits = Σ over reference
    sentences of the union of their LCSs with every predicted sentence (each token counted at
    most as often as it occurs, as ROUGE-1.5.5 does); P = hits / prediction tokens, R = hits /
    reference tokens.

    Lin, Chin-Yew. 2004. ROUGE: A Package for Automatic Evaluation of Summaries. In Text
    Summarization Branches Out, pp. 74–81. https://aclanthology.org/W04-1013/

    Attributes:
        stemmer: Porter stemming (rouge-score's ``use_stemmer``); ``None``: on for English only.
        tokenizer: ``auto``, ``default``, ``jieba`` or ``char``, as for :class:`Rouge1`.
        splitter: ``auto`` (Punkt for English when NLTK's ``punkt_tab`` is installed, else
            rules; punctuation for Chinese), ``punkt`` (required) or ``rule``. The splitter
            that ran is named in the signature.
        report: ``f`` or ``prf`` (adds ``rougeLsum/precision`` and ``rougeLsum/recall``).
        processes: Worker processes; ``None``: two from 50,000 examples on, else one.

    Example:
        >>> s = rouge_scores(["The cat sat. It purred."], [("It purred. The cat sat.",)],
        ...                  "en", types=("rougeL", "rougeLsum"), splitter="rule")
        >>> round(float(s["rougeL"].fmeasure[0]), 4), float(s["rougeLsum"].fmeasure[0])
        (0.6, 1.0)
    """

    name: ClassVar[str] = "rougeLsum"

    splitter: SplitterName = "auto"

    def _column(self, language: str) -> str:
        return f"rougeLsum|{_splitter_name(language, self.splitter)}"

    def _split_tag(self, language: str) -> str | None:
        return _splitter_tag(_splitter_name(language, self.splitter))


_CLASSES: dict[str, type[_Rouge]] = {
    "rouge1": Rouge1,
    "rouge2": Rouge2,
    "rougeL": RougeL,
    "rougeLsum": RougeLsum,
}
