"""Baselines for the text-generation families: ``copy``, ``lead-k`` and ``textrank``.

* ``baseline:copy`` (translation) answers with the source segment unchanged: the floor every
  translation report needs (on Chinese → English it scores close to 0 BLEU; on pairs that share
  names and numbers it scores what those alone are worth).
* ``baseline:lead-k`` (summarization) answers with the document's first ``k`` sentences, the
  classic news baseline (See et al., 2017, report lead-3 on CNN/DailyMail).
* ``baseline:textrank`` (summarization) picks the ``k`` most central sentences of a sentence
  graph weighted by TF-IDF cosine similarity, ranked by PageRank (Mihalcea and Tarau, 2004).

Sentences come from the language-aware splitter of :mod:`bench.preprocess.sentences` (Chinese
punctuation rules for Chinese; Punkt, when its data is installed, or rules for English), and
the name of the splitter that ran is part of the extractive baselines' fingerprints. A
request's ``max_words`` budget counts words for English and characters for Chinese.

References:
    Rada Mihalcea and Paul Tarau. 2004. "TextRank: Bringing Order into Text". In Proceedings
    of EMNLP 2004, pages 404-411. https://aclanthology.org/W04-3252

    Sergey Brin and Lawrence Page. 1998. "The anatomy of a large-scale hypertextual Web search
    engine". Computer Networks and ISDN Systems 30(1-7):107-117.

    Abigail See, Peter J. Liu and Christopher D. Manning. 2017. "Get To The Point:
    Summarization with Pointer-Generator Networks". In Proceedings of ACL 2017, pages
    1073-1083. https://aclanthology.org/P17-1099
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import ConfigDict, Field

from bench.adapters.base import Adapter, Baseline
from bench.errors import AdapterError
from bench.families.base import Request, Response
from bench.families.generation import TextResponse
from bench.families.summarization import SummarizationRequest
from bench.families.translation import TranslationRequest
from bench.preprocess.segmenter import jieba_identity, jieba_words
from bench.preprocess.sentences import sentence_splitter

__all__ = [
    "CopyBaseline",
    "LeadK",
    "TextRank",
    "apply_budget",
    "budget_length",
    "is_cjk",
    "jieba_words",
    "pagerank",
]

# Word tokens TextRank compares English sentences by: letters and digits, with inner
# apostrophes kept (``don't``), punctuation dropped.
_EN_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
# A token that is nothing but punctuation or symbols.
_PUNCT_ONLY = re.compile(r"^[\W_]+$")


def is_cjk(language: str) -> bool:
    """Whether ``language`` is written without spaces between words (Chinese, Japanese).

    The same rule :func:`~bench.preprocess.sentences.sentence_splitter` uses.

    Example:
        >>> is_cjk("zh-Hans"), is_cjk("en")
        (True, False)
    """
    return language.lower().startswith(("zh", "ja"))


def budget_length(text: str, cjk: bool) -> int:
    """The length of ``text`` as a ``max_words`` budget counts it.

    Words (whitespace-separated) for space-delimited languages; characters other than
    whitespace for Chinese and Japanese.

    Example:
        >>> budget_length("It rained all day.", cjk=False), budget_length("今天 下雨。", cjk=True)
        (4, 5)
    """
    if cjk:
        return sum(1 for ch in text if not ch.isspace())
    return len(text.split())


def _truncate(text: str, limit: int, cjk: bool) -> str:
    """The first ``limit`` budget units of ``text`` (words, or non-space characters)."""
    if not cjk:
        return " ".join(text.split()[:limit])
    count = 0
    for pos, ch in enumerate(text):
        if not ch.isspace():
            count += 1
            if count == limit:
                return text[: pos + 1]
    return text


def apply_budget(sentences: Sequence[str], max_words: int | None, cjk: bool) -> list[str]:
    """Keep sentences, in the given order, while their total length fits ``max_words``.

    Adding stops at the first sentence that would overflow the budget; when even the first
    sentence overflows it, that sentence is cut to the budget (so the answer is never empty
    unless the input is). ``None`` means no budget.

    Example:
        >>> apply_budget(["One two.", "Three four five.", "Six."], 5, cjk=False)
        ['One two.', 'Three four five.']
        >>> apply_budget(["One two three."], 2, cjk=False)
        ['One two']
    """
    if max_words is None:
        return list(sentences)
    kept: list[str] = []
    used = 0
    for sentence in sentences:
        size = budget_length(sentence, cjk)
        if used + size > max_words:
            if not kept:
                kept.append(_truncate(sentence, max_words, cjk))
            break
        kept.append(sentence)
        used += size
    return kept


def _join(sentences: Sequence[str], cjk: bool) -> str:
    return ("" if cjk else " ").join(sentences)


def pagerank(
    weights: Any, damping: float = 0.85, tol: float = 1e-6, max_iter: int = 100
) -> np.ndarray:
    """PageRank of a weighted directed graph by power iteration.

    Definition: with ``W`` the non-negative weight matrix (``W[i, j]`` the weight of the edge
    ``i → j``) and ``P`` its row-normalised transition matrix (a row without out-weight, a
    dangling node, jumps uniformly to every node), the scores are the fixed point of
    ``s = (1 - d) / n + d · Pᵀ s``, i.e. the stationary distribution of the chain
    ``d · P + (1 - d) / n`` (Brin and Page, 1998). Iteration starts from the uniform
    distribution and stops when the L1 change falls below ``tol`` or after ``max_iter`` steps.

    TextRank's score ``WS(Vᵢ) = (1 - d) + d Σⱼ wⱼᵢ / Σₖ wⱼₖ · WS(Vⱼ)`` (Mihalcea and Tarau,
    2004, eq. 2) is ``n`` times this one, so both rank nodes identically.

    Args:
        weights: An ``n × n`` array of non-negative edge weights.
        damping: ``d``, the probability of following an edge rather than jumping.
        tol: Convergence threshold on the L1 norm of the change between iterations.
        max_iter: The most iterations to run.

    Returns:
        The scores, a float64 array of length ``n`` summing to 1.

    Raises:
        ValueError: ``weights`` is not square, has a negative or non-finite entry, or
            ``damping`` is outside ``[0, 1]``.

    Example:
        >>> pagerank([[0, 1], [1, 0]]).round(3).tolist()
        [0.5, 0.5]
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"pagerank needs a square weight matrix, got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("pagerank needs finite, non-negative edge weights")
    if not 0.0 <= damping <= 1.0:
        raise ValueError(f"damping must lie in [0, 1], got {damping}")
    n = w.shape[0]
    if n == 0:
        return np.zeros(0)
    out = w.sum(axis=1)
    dangling = out <= 0
    transition = np.where(dangling[:, None], 1.0 / n, w / np.where(dangling, 1.0, out)[:, None])
    scores = np.full(n, 1.0 / n)
    for _ in range(max_iter):
        new = (1.0 - damping) / n + damping * (scores @ transition)
        new /= new.sum()  # rows of ``transition`` sum to 1; this only removes rounding drift
        change = float(np.abs(new - scores).sum())
        scores = new
        if change < tol:
            break
    return scores


def _summarization(requests: Sequence[Request], who: str) -> list[SummarizationRequest]:
    out = []
    for r in requests:
        if not isinstance(r, SummarizationRequest):
            raise AdapterError(
                f"{who}: expected summarization requests, got {type(r).__name__}",
                fix=f"run {who} on summarization tasks only",
            )
        out.append(r)
    return out


class CopyBaseline(Baseline):
    """Answers every translation request with its source, unchanged.

    The floor of a translation report: it shows what a system gets for free from the words
    source and reference share (names, numbers, punctuation), which is close to nothing from
    Chinese into English.

    Example:
        >>> from bench.families.translation import TranslationRequest
        >>> req = TranslationRequest(id="1", language="en", source="你好。",
        ...                          source_language="zh", target_language="en")
        >>> CopyBaseline().predict([req])[0].text
        '你好。'
    """

    name = "baseline:copy"
    families: ClassVar[tuple[str, ...]] = ("translation",)
    version: ClassVar[int] = 1

    class Params(Adapter.Params):
        """No parameters."""

        model_config = ConfigDict(extra="forbid", frozen=True)

    params: Params

    def predict(self, requests: Sequence[Request]) -> list[Response]:
        """The source of each request as its translation.

        Raises:
            AdapterError: A request is not a translation request.
        """
        out: list[Response] = []
        for r in requests:
            if not isinstance(r, TranslationRequest):
                raise AdapterError(
                    f"{self.name}: expected translation requests, got {type(r).__name__}",
                    fix=f"run {self.name} on translation tasks only",
                )
            out.append(TextResponse(text=r.source))
        return out


class _Extractive(Baseline, ABC):
    """Shared machinery of the extractive summarisers: splitting, budget, fingerprint, info."""

    families: ClassVar[tuple[str, ...]] = ("summarization",)

    class Params(Adapter.Params):
        """Parameters every extractive baseline has."""

        model_config = ConfigDict(extra="forbid", frozen=True)
        k: int = Field(default=3, ge=1, description="sentences in the summary")
        splitter: Literal["auto", "punkt", "rule"] = Field(
            default="auto",
            description="English sentence splitter: auto (Punkt when installed, else rules)",
        )

    params: Params

    def __init__(self, target: str | None = None, **params: Any) -> None:
        super().__init__(target, **params)
        self._splitters_used: dict[str, str] = {}

    def _splitter_names(self) -> dict[str, str]:
        """The splitter that runs for Chinese and for English (every space-delimited language).

        Raises:
            MissingResource: ``splitter=punkt`` and NLTK's ``punkt_tab`` is not installed.
        """
        return {lang: sentence_splitter(lang, self.params.splitter).name for lang in ("en", "zh")}

    def _identity(self) -> dict[str, Any]:
        """What, besides name, version and params, decides the answers."""
        return {"splitters": self._splitter_names()}

    def identity(self) -> dict[str, Any]:
        """The base identity and the sentence splitters that actually run.

        ``splitter=auto`` means Punkt on one machine and rules on another; the two split
        differently, so they must not share cached predictions.
        """
        return {**super().identity(), **self._identity()}

    def info(self) -> dict[str, Any]:
        """``k`` and the splitter per language (the languages predicted so far, else en/zh)."""
        return {
            "k": self.params.k,
            "splitter": dict(self._splitters_used or self._splitter_names()),
        }

    def _sentences(self, request: SummarizationRequest) -> list[str]:
        splitter = sentence_splitter(request.language, self.params.splitter)
        self._splitters_used[request.language] = splitter.name
        return splitter.split(request.document)

    @abstractmethod
    def _select(self, sentences: list[str], request: SummarizationRequest) -> list[str]:
        """The sentences to return, in output order."""

    def predict(self, requests: Sequence[Request]) -> list[Response]:
        """One extractive summary per request.

        Raises:
            AdapterError: A request is not a summarization request.
            MissingResource: ``splitter=punkt`` and NLTK's ``punkt_tab`` is not installed.
        """
        out: list[Response] = []
        for r in _summarization(requests, self.name):
            cjk = is_cjk(r.language)
            chosen = self._select(self._sentences(r), r)
            out.append(TextResponse(text=_join(chosen, cjk)))
        return out


class LeadK(_Extractive):
    """The first ``k`` sentences of the document.

    Definition: the document is split into sentences with the language's splitter; the first
    ``k`` are kept, and, when the request sets ``max_words``, sentences are added only while
    the total stays within the budget (words for English, characters for Chinese); a first
    sentence longer than the whole budget is cut to it. Sentences are joined with a space for
    English and with nothing for Chinese. Lead-3 is the standard news baseline (See et al.,
    2017, ACL; Nallapati et al., 2017, AAAI).

    Example:
        >>> from bench.families.summarization import SummarizationRequest
        >>> req = SummarizationRequest(id="1", language="en",
        ...     document="It rained. We stayed in. We read. Then it stopped.")
        >>> LeadK(k=2, splitter="rule").predict([req])[0].text
        'It rained. We stayed in.'
    """

    name = "baseline:lead-k"
    version: ClassVar[int] = 1

    class Params(_Extractive.Params):
        """``k`` and the English sentence splitter."""

        model_config = ConfigDict(extra="forbid", frozen=True)

    params: Params

    def _select(self, sentences: list[str], request: SummarizationRequest) -> list[str]:
        return apply_budget(sentences[: self.params.k], request.max_words, is_cjk(request.language))


class TextRank(_Extractive):
    """The ``k`` most central sentences by PageRank over a TF-IDF sentence graph.

    Definition (Mihalcea and Tarau, 2004, section 4): every sentence is a node; the edge
    between two sentences is weighted by the cosine similarity of their TF-IDF vectors (scikit-
    learn's ``TfidfVectorizer``, smoothed IDF over the document's own sentences, L2-normalised
    rows; words are jieba's words for Chinese and lower-cased letter/digit tokens for English,
    punctuation dropped); self-loops are zero. Scores are :func:`pagerank` with damping
    ``damping`` (tolerance 1e-6, at most 100 iterations; a sentence sharing no word with any
    other is a dangling node and jumps uniformly). The ``k`` highest-scoring sentences are kept
    (equal scores, to 12 decimals, go to the earlier sentence) and returned in document order.
    A ``max_words`` budget is filled in rank order: sentences are taken from the best down
    while they fit, stopping at the first that does not (the best one is cut to the budget
    when it alone overflows), then put back in document order. A document of at most ``k``
    sentences is returned whole (its sentences re-joined, subject to the budget).

    Mihalcea and Tarau measure similarity by normalised word overlap; TF-IDF cosine is the
    common variant (e.g. gensim's and sumy's implementations) and is what this baseline uses.

    Example:
        >>> from bench.families.summarization import SummarizationRequest
        >>> doc = ("The river flooded the town. The flood closed the town school. "
        ...        "Cats sleep a lot. The town school reopened after the flood.")
        >>> req = SummarizationRequest(id="1", language="en", document=doc)
        >>> TextRank(k=1, splitter="rule").predict([req])[0].text
        'The flood closed the town school.'
    """

    name = "baseline:textrank"
    version: ClassVar[int] = 1

    class Params(_Extractive.Params):
        """``k``, the PageRank damping factor and the English sentence splitter."""

        model_config = ConfigDict(extra="forbid", frozen=True)
        damping: float = Field(default=0.85, gt=0.0, lt=1.0, description="PageRank damping")

    params: Params

    tol: ClassVar[float] = 1e-6
    max_iter: ClassVar[int] = 100

    def _identity(self) -> dict[str, Any]:
        # jieba's dictionary decides the Chinese words, and so the graph.
        return {**super()._identity(), "jieba": jieba_identity()}

    def sentence_scores(self, sentences: Sequence[str], language: str) -> np.ndarray:
        """The PageRank score of every sentence (an array summing to 1; empty for none)."""
        weights = _similarity(sentences, language)
        return pagerank(weights, self.params.damping, self.tol, self.max_iter)

    def _select(self, sentences: list[str], request: SummarizationRequest) -> list[str]:
        cjk = is_cjk(request.language)
        k = self.params.k
        if len(sentences) <= k:
            return apply_budget(sentences, request.max_words, cjk)
        scores = np.round(self.sentence_scores(sentences, request.language), 12)
        # lexsort sorts by the last key first: score descending, then position ascending.
        ranked = np.lexsort((np.arange(len(sentences)), -scores))[:k].tolist()
        picked = apply_budget([sentences[i] for i in ranked], request.max_words, cjk)
        # apply_budget keeps a prefix of ``ranked`` (the first one possibly cut).
        kept = sorted(zip(ranked[: len(picked)], picked, strict=True))
        return [text for _, text in kept]


def _sentence_words(sentence: str, language: str) -> list[str]:
    if is_cjk(language):
        return [w.lower() for w in jieba_words(sentence) if not _PUNCT_ONLY.match(w)]
    return _EN_WORD.findall(sentence.lower())


def _identity_analyzer(tokens: list[str]) -> list[str]:
    return tokens


def _similarity(sentences: Sequence[str], language: str) -> np.ndarray:
    """TF-IDF cosine similarity between every two sentences, with a zero diagonal."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    n = len(sentences)
    words = [_sentence_words(s, language) for s in sentences]
    if not any(words):
        return np.zeros((n, n))
    matrix = TfidfVectorizer(analyzer=_identity_analyzer).fit_transform(words)
    sim = np.asarray((matrix @ matrix.T).toarray(), dtype=np.float64)
    np.fill_diagonal(sim, 0.0)
    return np.clip(sim, 0.0, None)
