"""Baselines for extractive QA: ``sliding-window`` and ``first-sentence``.

* ``baseline:first-sentence`` answers every question with the first sentence of its context:
  the floor of an extractive-QA report (it knows nothing of the question).
* ``baseline:sliding-window`` is the lexical baseline of MCTest (Richardson et al., 2013)
  turned into span extraction: it finds the stretch of the context whose words best match
  the question's, weighted by how rare each word is in the context, and answers with the short
  run of words next to it that the question does not already contain.

Neither is trained; both are deterministic and answer with a span of the context. On the
full dev sets (``../shared/data``), scored with :mod:`bench.metrics.qa`:

==================================  ==================  ==================
baseline                            SQuAD v1.1 EM / F1  CMRC2018 EM / F1
==================================  ==================  ==================
``first-sentence``                  0.0 / 9.8           0.0 / 11.4
``sliding-window``                  6.4 / 16.5          11.8 / 27.2
``sliding-window,stopwords=true``   9.9 / 21.7          11.8 / 27.2
``sliding-window,stopwords=false``  6.4 / 16.5          10.0 / 25.0
==================================  ==================  ==================

(``first-sentence`` with NLTK's Punkt sentences installed. The default sliding window uses
bench's own Chinese stopword list and no English one; ``stopwords=true`` adds NLTK's English
list.) The SQuAD paper's own sliding-window baseline scored about 20 F1 (Rajpurkar et al., 2016).

References:
    Matthew Richardson, Christopher J.C. Burges and Erin Renshaw. 2013. MCTest: A Challenge
    Dataset for the Open-Domain Machine Comprehension of Text. In Proceedings of EMNLP 2013,
    pages 193–203. https://aclanthology.org/D13-1020

    Pranav Rajpurkar, Jian Zhang, Konstantin Lopyrev and Percy Liang. 2016. SQuAD: 100,000+
    Questions for Machine Comprehension of Text. In Proceedings of EMNLP 2016, pages
    2383–2392 (with a sliding-window baseline after Richardson et al.).
    https://aclanthology.org/D16-1264
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any, ClassVar, Literal, NamedTuple

from pydantic import ConfigDict, Field

from bench.adapters.base import Adapter, Baseline
from bench.adapters.generation import is_cjk, jieba_words
from bench.errors import AdapterError, MissingResource
from bench.families.base import Request, Response
from bench.families.generation import TextResponse
from bench.families.qa import QARequest
from bench.identity import bytes_hash
from bench.preprocess.segmenter import jieba_identity
from bench.preprocess.sentences import sentence_splitter

__all__ = ["FirstSentence", "SlidingWindow", "Token", "qa_tokens"]

# English words: letters and digits with inner apostrophes (``don't``); punctuation dropped.
_EN_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
# A jieba token that is only punctuation, symbols or spaces.
_NOT_A_WORD = re.compile(r"^[\W_]+$")
# Punctuation that, between two words of the context, ends a candidate answer.
_BREAK = re.compile(r"[,;:.!?()\[\]{}\"“”‘’，。；：！？、（）《》「」『』【】…]")

DEFAULT_SPAN = {"en": 8, "zh": 6}
"""The default answer budget ``max_tokens``: words for English, jieba words for Chinese."""


def _qa_requests(requests: Sequence[Request], who: str) -> list[QARequest]:
    out = []
    for r in requests:
        if not isinstance(r, QARequest):
            raise AdapterError(
                f"{who}: expected QA requests, got {type(r).__name__}",
                fix=f"run {who} on qa tasks only",
            )
        out.append(r)
    return out


class Token(NamedTuple):
    """A word of a text, lower-cased, with its character span in the text."""

    word: str
    start: int
    end: int


def qa_tokens(text: str, language: str) -> list[Token]:
    """The words the sliding window compares, with their offsets in ``text``.

    English (every space-delimited language): lower-cased runs of letters and digits (inner
    apostrophes kept). Chinese and Japanese: jieba's words (a private ``jieba.Tokenizer`` with
    the stock dictionary), lower-cased, with punctuation-only tokens dropped.

    Example:
        >>> [t.word for t in qa_tokens("Who won Super Bowl 50?", "en")]
        ['who', 'won', 'super', 'bowl', '50']
        >>> qa_tokens("It's 9.", "en")[0]
        Token(word="it's", start=0, end=4)
    """
    if not is_cjk(language):
        return [Token(m.group().lower(), m.start(), m.end()) for m in _EN_WORD.finditer(text)]
    out: list[Token] = []
    pos = 0
    for word in jieba_words(text):
        # jieba's words are consecutive pieces of the text (whitespace pieces dropped).
        start = text.find(word, pos)
        if start < 0:  # never expected; keep going rather than mis-align every later word
            continue
        pos = start + len(word)
        if not _NOT_A_WORD.match(word):
            out.append(Token(word.lower(), start, pos))
    return out


def _stopword_set(language: str, wanted: bool | None) -> frozenset[str] | None:
    """The stopwords for ``language`` (``None``: none used).

    ``wanted`` ``None`` (the default) means the lists shipped with bench: Chinese, and no English
    list (NLTK's is a separate download); ``True`` adds NLTK's English list; ``False``: none.

    Raises:
        MissingResource: ``wanted`` is True and NLTK's English ``stopwords`` is not installed.
    """
    from bench.preprocess.stopwords import stopword_list

    if wanted is False:
        return None
    lang: Literal["en", "zh"] = "zh" if is_cjk(language) else "en"
    if wanted is None and lang == "en":
        # The default uses only lists that ship with bench, so it answers the same on every
        # machine; NLTK's English list is an opt-in (stopwords=true), never picked up silently.
        return None
    return frozenset(w.lower() for w in stopword_list(lang))


def _list_id(words: frozenset[str] | None) -> str:
    if words is None:
        return "none"
    blob = "\n".join(sorted(words)).encode()
    return f"{len(words)}:{bytes_hash(blob, length=12)}"


class SlidingWindow(Baseline):
    """MCTest's sliding window (Richardson et al., 2013), adapted to answer spans.

    Definition, for one question and its context (words from :func:`qa_tokens`):

    1. ``Q`` is the set of the question's words less stopwords (all its words when that
       leaves none). A context word ``t`` in ``Q`` weighs ``IC(t) = log(1 + 1/C(t))``, with
       ``C(t)`` its count in the context (MCTest's inverse-count weight); other words weigh 0.
    2. A window as wide as the question (its number of distinct words) slides over the context;
       its score is the sum of its words' weights. The best window wins (the first on ties).
    3. Candidate answers lie within ``max_tokens`` words of that window: the maximal runs of
       context words that are not in ``Q`` and are not separated by punctuation (``, ; : . !
       ? ( ) "`` and their Chinese forms), with stopwords trimmed from both ends, cut to
       ``max_tokens`` words (a run after the window keeps its start, a run before it keeps
       its end).
    4. Each candidate scores ``Σ IC(k) / (1 + d(k))`` over every question word ``k`` of the
       context, ``d(k)`` its distance in words to the candidate — MCTest's distance idea:
       answers sit next to the question's words. The best candidate (the first on ties) is
       the answer, as the exact substring of the context from its first word to its last.
       With no candidate, the window itself is the answer.

    Attributes (parameters):
        max_tokens: The answer budget, in words (jieba words for Chinese); ``None``: 8 for
            English, 6 for Chinese. Also how far from the window candidates may lie.
        stopwords: Use stopwords for ``Q`` and for trimming. ``None`` (default): the lists
            that ship with bench (Chinese; no English list), so the answers never depend on
            what else is installed; ``True``: also NLTK's English list (required: an error
            when NLTK's ``stopwords`` is absent); ``False``: none. The lists used are in the
            fingerprint.

    Richardson, Burges and Renshaw. 2013. MCTest: A Challenge Dataset for the Open-Domain
    Machine Comprehension of Text. EMNLP. https://aclanthology.org/D13-1020

    Example:
        >>> from bench.families.qa import QARequest
        >>> req = QARequest(id="1", language="en", question="Where was Ada Lovelace born?",
        ...     context="Ada Lovelace was born in London. She died in 1852.")
        >>> SlidingWindow(stopwords=False).predict([req])[0].text
        'in London'
        >>> SlidingWindow(stopwords=True).predict([req])[0].text  # "in" is a stopword: trimmed
        'London'
    """

    name = "baseline:sliding-window"
    families: ClassVar[tuple[str, ...]] = ("qa",)
    version: ClassVar[int] = 1

    class Params(Adapter.Params):
        """The answer budget and the stopword choice."""

        model_config = ConfigDict(extra="forbid", frozen=True)
        max_tokens: int | None = Field(
            default=None, ge=1, description="answer budget in words (None: 8 en / 6 zh)"
        )
        stopwords: bool | None = Field(
            default=None,
            description="None: bench's own lists (Chinese only); true: also NLTK's English; "
            "false: none",
        )

    params: Params

    def __init__(self, target: str | None = None, **params: Any) -> None:
        super().__init__(target, **params)
        self._stop: dict[str, frozenset[str] | None] = {}

    def _stopwords(self, language: str) -> frozenset[str] | None:
        lang = "zh" if is_cjk(language) else "en"
        if lang not in self._stop:
            self._stop[lang] = _stopword_set(lang, self.params.stopwords)
        return self._stop[lang]

    def _list_tag(self, language: str) -> str:
        try:
            return _list_id(self._stopwords(language))
        except MissingResource:
            return "missing"  # stopwords=True without NLTK's list: predict() will say so

    def identity(self) -> dict[str, Any]:
        """The base identity, jieba's version and the stopword lists in use (a changed list,
        e.g. another NLTK release under ``stopwords=true``, answers differently, so it must not
        share cached predictions)."""
        return {**super().identity(), **self.info()}

    def info(self) -> dict[str, Any]:
        """The budget per language, the stopword lists in use and jieba's version."""
        return {
            "max_tokens": {
                lang: self.params.max_tokens or DEFAULT_SPAN[lang] for lang in ("en", "zh")
            },
            "stopwords": {lang: self._list_tag(lang) for lang in ("en", "zh")},
            "jieba": jieba_identity(),
        }

    def predict(self, requests: Sequence[Request]) -> list[Response]:
        """One answer span per request.

        Raises:
            AdapterError: A request is not a QA request.
            MissingResource: ``stopwords=True`` and NLTK's English ``stopwords`` is absent.
        """
        contexts: dict[tuple[str, str], list[Token]] = {}
        out: list[Response] = []
        for r in _qa_requests(requests, self.name):
            key = (r.language, r.context)
            if key not in contexts:  # SQuAD asks about five questions per paragraph
                contexts[key] = qa_tokens(r.context, r.language)
            out.append(TextResponse(text=self.answer(r, contexts[key])))
        return out

    def answer(self, request: QARequest, context: list[Token] | None = None) -> str:
        """The answer to one request (``context``: its tokens, when already computed)."""
        words = context if context is not None else qa_tokens(request.context, request.language)
        if not words:
            return ""
        cjk = is_cjk(request.language)
        budget = self.params.max_tokens or DEFAULT_SPAN["zh" if cjk else "en"]
        stop = self._stopwords(request.language) or frozenset()
        question = [t.word for t in qa_tokens(request.question, request.language)]
        wanted = {w for w in question if w not in stop} or set(question)
        counts = Counter(t.word for t in words)
        weight = [math.log(1 + 1 / counts[t.word]) if t.word in wanted else 0.0 for t in words]
        lo, hi = _best_window(weight, max(1, len(set(question))))
        spans = _candidates(request.context, words, wanted, stop, lo, hi, budget)
        if not spans:
            return request.context[words[lo].start : words[hi - 1].end]
        matched = [k for k, w in enumerate(weight) if w > 0]
        best_score, best = -1.0, spans[0]
        for first, last in spans:
            score = 0.0
            for k in matched:
                gap = first - k if k < first else k - last
                score += weight[k] / (1 + gap)
            if score > best_score + 1e-12:  # strictly better: the first candidate wins ties
                best_score, best = score, (first, last)
        return request.context[words[best[0]].start : words[best[1]].end]


def _best_window(weight: list[float], width: int) -> tuple[int, int]:
    """``[lo, hi)`` of the first window of ``width`` words with the largest total weight."""
    n = len(weight)
    width = min(width, n)
    total = sum(weight[:width])
    best, best_lo = total, 0
    for lo in range(1, n - width + 1):
        total += weight[lo + width - 1] - weight[lo - 1]
        if total > best + 1e-12:
            best, best_lo = total, lo
    return best_lo, best_lo + width


def _candidates(
    text: str,
    words: list[Token],
    wanted: set[str],
    stop: frozenset[str],
    lo: int,
    hi: int,
    budget: int,
) -> list[tuple[int, int]]:
    """Candidate answers near the window ``[lo, hi)``, as inclusive word ranges."""
    start, end = max(0, lo - budget), min(len(words), hi + budget)
    out: list[tuple[int, int]] = []
    k = start
    while k < end:
        if words[k].word in wanted:
            k += 1
            continue
        e = k + 1
        while (
            e < end
            and words[e].word not in wanted
            and not _BREAK.search(text, words[e - 1].end, words[e].start)
        ):
            e += 1
        first, last = k, e - 1
        while first <= last and words[first].word in stop:
            first += 1
        while last >= first and words[last].word in stop:
            last -= 1
        if first <= last:
            if last - first + 1 > budget:
                if first >= hi:  # after the window: keep the words nearest it
                    last = first + budget - 1
                elif last < lo:
                    first = last - budget + 1
                else:
                    last = first + budget - 1
            out.append((first, last))
        k = e
    return out


def _in_context(sentence: str, context: str) -> str:
    """``sentence`` as the exact span of ``context`` it came from.

    The English splitters collapse runs of whitespace (``"O\\n3"`` comes back as ``"O 3"``);
    the span with the same characters other than whitespace, from the context's first
    one on, is the sentence as the context writes it.
    """
    wanted = [ch for ch in sentence if not ch.isspace()]
    start = next((i for i, ch in enumerate(context) if not ch.isspace()), len(context))
    seen = 0
    for pos in range(start, len(context)):
        ch = context[pos]
        if ch.isspace():
            continue
        if seen >= len(wanted) or ch != wanted[seen]:
            return sentence  # not the context's first sentence after all: keep the text
        seen += 1
        if seen == len(wanted):
            return context[start : pos + 1]
    return sentence


class FirstSentence(Baseline):
    """The first sentence of the context, whatever the question.

    Sentences come from :func:`bench.preprocess.sentences.sentence_splitter` (Chinese
    punctuation rules for Chinese; Punkt, when installed, or rules for English); the name of
    the splitter that runs is in the fingerprint. The answer is the span of the context the
    sentence covers, with the context's own whitespace (the English splitters collapse
    whitespace). An empty context gives an empty answer.

    Attributes (parameters):
        splitter: English sentence splitter: ``auto`` (Punkt when installed, else rules),
            ``punkt`` (required) or ``rule``.

    Example:
        >>> from bench.families.qa import QARequest
        >>> req = QARequest(id="1", language="zh", question="谁写了《三体》？",
        ...     context="《三体》是刘慈欣的小说。它获得了雨果奖。")
        >>> FirstSentence().predict([req])[0].text
        '《三体》是刘慈欣的小说。'
    """

    name = "baseline:first-sentence"
    families: ClassVar[tuple[str, ...]] = ("qa",)
    version: ClassVar[int] = 1

    class Params(Adapter.Params):
        """The English sentence splitter."""

        model_config = ConfigDict(extra="forbid", frozen=True)
        splitter: Literal["auto", "punkt", "rule"] = Field(
            default="auto",
            description="English sentence splitter: auto (Punkt when installed, else rules)",
        )

    params: Params

    def info(self) -> dict[str, Any]:
        """The sentence splitter that runs for English and for Chinese."""
        return {
            "splitter": {
                lang: sentence_splitter(lang, self.params.splitter).name for lang in ("en", "zh")
            }
        }

    def identity(self) -> dict[str, Any]:
        """The base identity and the sentence splitters that actually run."""
        return {**super().identity(), **self.info()}

    def predict(self, requests: Sequence[Request]) -> list[Response]:
        """The first sentence of each request's context.

        Raises:
            AdapterError: A request is not a QA request.
            MissingResource: ``splitter=punkt`` and NLTK's ``punkt_tab`` is not installed.
        """
        firsts: dict[tuple[str, str], str] = {}
        out: list[Response] = []
        for r in _qa_requests(requests, self.name):
            key = (r.language, r.context)
            if key not in firsts:  # several questions share a context
                sentences = sentence_splitter(r.language, self.params.splitter).split(r.context)
                firsts[key] = _in_context(sentences[0], r.context) if sentences else ""
            out.append(TextResponse(text=firsts[key]))
        return out
