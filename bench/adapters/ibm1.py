"""IBM Model 1: word translation probabilities by EM, decoding word by word.

The lexical translation baseline of a translation report: it learns ``t(e | f)``, the
probability that source word ``f`` translates as target word ``e``, from the task's parallel
train split alone, and translates a sentence by replacing each source word with its most
probable translation, in source order. It has no notion of word order or fluency, so it marks
what word-for-word lexical knowledge is worth above the ``copy`` floor.

The expectation-maximisation runs in numpy over the co-occurring word pairs only (a sparse
table): memory grows with the number of (source position, target position) links in the train
split, never with ``|F| × |E|``.

Reference:
    Peter F. Brown, Stephen A. Della Pietra, Vincent J. Della Pietra and Robert L. Mercer.
    1993. "The Mathematics of Statistical Machine Translation: Parameter Estimation".
    Computational Linguistics 19(2):263-311. https://aclanthology.org/J93-2003

    Philipp Koehn. 2010. *Statistical Machine Translation*, chapter 4.4 (the EM algorithm for
    IBM Model 1, with the ``das Haus`` example). Cambridge University Press.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from pydantic import ConfigDict, Field

from bench.adapters.base import Adapter, Baseline
from bench.adapters.generation import is_cjk, jieba_words
from bench.errors import AdapterError
from bench.families.base import Request, Response
from bench.families.generation import TextResponse
from bench.families.translation import TranslationRequest
from bench.preprocess.segmenter import jieba_identity

__all__ = ["IBM1Baseline", "detokenize", "word_tokens"]

NULL = "<null>"
UNK = "<unk>"

# Words (letters/digits, with inner apostrophes, periods, commas or colons: don't, 3.5,
# 10,000, 9:30) or any other single non-space character (punctuation).
_WORD_OR_PUNCT = re.compile(r"[^\W_]+(?:[.,:'’][^\W_]+)*|\S")
_PUNCT_ONLY = re.compile(r"^[\W_]+$")
# English detokenisation: these attach to the word before them ...
_ATTACH_LEFT = frozenset(".,!?;:%)]}”’…'")
# ... and these to the word after them.
_ATTACH_RIGHT = frozenset("([{“‘$")
_ASCII_ALNUM = re.compile(r"[A-Za-z0-9]")


def word_tokens(text: str, language: str) -> list[str]:
    """The tokens IBM Model 1 reads and writes, in the text's own case.

    jieba's words (private tokenizer, stock dictionary) for Chinese and Japanese; for other
    languages a regex split into words (letters/digits with inner ``' . , :``) and single
    punctuation marks.

    Example:
        >>> word_tokens("It costs $3.50, doesn't it?", "en")
        ['It', 'costs', '$', '3.50', ',', "doesn't", 'it', '?']
        >>> word_tokens("我们去公园。", "zh")
        ['我们', '去', '公园', '。']
    """
    if is_cjk(language):
        return jieba_words(text)
    return _WORD_OR_PUNCT.findall(text)


def detokenize(tokens: Sequence[str], language: str) -> str:
    """Join output tokens into text.

    Chinese and Japanese: no spaces, except one between two tokens that meet in ASCII letters
    or digits (``iPhone 15``). Other languages: spaces between tokens, closing punctuation
    attached to the word before it and opening brackets/quotes to the word after it (straight
    double quotes alternate between opening and closing), and the first letter capitalised.

    Example:
        >>> detokenize(["the", "house", "(", "old", ")", "is", "small", "."], "en")
        'The house (old) is small.'
        >>> detokenize(["我们", "有", "2", "iphone", "。"], "zh")
        '我们有2 iphone。'
    """
    if is_cjk(language):
        out = ""
        for tok in tokens:
            if out and _ASCII_ALNUM.match(out[-1]) and _ASCII_ALNUM.match(tok[:1]):
                out += " "
            out += tok
        return out
    text = ""
    glue_next = True
    quote_open = False  # straight double quotes alternate: opening, closing, opening...
    for tok in tokens:
        closing = tok in _ATTACH_LEFT or (tok == '"' and quote_open)
        if not (glue_next or closing):
            text += " "
        text += tok
        glue_next = tok in _ATTACH_RIGHT or (tok == '"' and not quote_open)
        if tok == '"':
            quote_open = not quote_open
    for pos, ch in enumerate(text):
        if ch.isalpha():
            return text[:pos] + ch.upper() + text[pos + 1 :]
    return text


def _translation(requests: Sequence[Request], who: str) -> list[TranslationRequest]:
    out = []
    for r in requests:
        if not isinstance(r, TranslationRequest):
            raise AdapterError(
                f"{who}: expected translation requests, got {type(r).__name__}",
                fix=f"run {who} on translation tasks only",
            )
        out.append(r)
    return out


class IBM1Baseline(Baseline):
    """IBM Model 1 lexical translation, trained by EM on the task's train split.

    Definition (Brown et al., 1993, section 4): a target sentence ``e₁..eₗ`` is generated from
    a source sentence ``f₀..fₘ`` (``f₀`` the NULL word) by choosing, for each target position,
    a source position uniformly and then a word with probability ``t(eⱼ | fᵢ)``, so
    ``P(e | f) ∝ Πⱼ Σᵢ t(eⱼ | fᵢ) / (m + 1)``. EM starts from uniform ``t`` (``1 / |E|``) and
    repeats ``iterations`` times: the E-step gives each link the posterior
    ``t(eⱼ | fᵢ) / Σᵢ' t(eⱼ | fᵢ')`` and the M-step renormalises the expected counts per
    source word. The log-likelihood never decreases (Dempster et al., 1977); it is concave in
    ``t`` (Brown et al., 1993), so EM climbs towards a global maximum, and from the uniform
    start every run is the same (no seed is needed).

    Tokens: :func:`word_tokens`, lower-cased when ``lowercase``; the source uses the request's
    ``source_tokens`` when a preprocessing step made them. The first reference of each train
    example is the target side. With ``max_vocab`` set, only the most frequent words of each
    side (ties: alphabetical) keep their own entry and the rest share ``<unk>``.

    Decoding, word by word in source order: a known source word becomes its most probable
    translation ``argmax_e t(e | f)`` (ties: the more frequent ``e``); it is dropped when
    that probability is below ``min_prob`` (a word the model cannot translate with any
    confidence), and it is dropped when exactly one of the source token and its translation is
    punctuation: a word with no counterpart (的, 了, "a") tends to collect the probability of
    the most frequent target token, often a full stop, and a comma must not turn into a word.
    With a Chinese or Japanese source, an unknown jieba word is first split into known words,
    longest first (电脑屏幕 → 电脑 屏幕). Source words still outside the vocabulary (never seen
    in training, or ``<unk>``), and words whose best translation is ``<unk>``, are copied
    through in their original case: numbers and names survive. Output is joined by
    :func:`detokenize` for the target language.

    Attributes:
        log_likelihood: Average log-likelihood per target word of the train split, up to the
            constant ``log ε``, before the first iteration and after each one
            (``iterations + 1`` values, non-decreasing).
        fit_seconds: Wall-clock seconds :meth:`fit` took (the runner records its own ``fit_s``,
            so :meth:`info` leaves it out and stays deterministic).

    Example:
        >>> from bench.families.translation import TranslationRequest
        >>> def req(i, text):
        ...     return TranslationRequest(id=str(i), language="en", source=text,
        ...                               source_language="de", target_language="en")
        >>> pairs = [("das Haus", "the house"), ("das Buch", "the book"), ("ein Buch", "a book")]
        >>> model = IBM1Baseline(iterations=20)
        >>> model.fit([(req(i, de), (en,)) for i, (de, en) in enumerate(pairs)])
        >>> model.predict([req(9, "ein Haus")])[0].text
        'A house'
    """

    name = "baseline:ibm1"
    families: ClassVar[tuple[str, ...]] = ("translation",)
    requires_training: ClassVar[bool] = True
    version: ClassVar[int] = 1

    class Params(Adapter.Params):
        """Hyper-parameters of IBM Model 1."""

        model_config = ConfigDict(extra="forbid", frozen=True)
        iterations: int = Field(default=10, ge=1, le=1000, description="EM iterations")
        lowercase: bool = Field(default=True, description="lower-case both sides")
        max_vocab: int | None = Field(
            default=None, ge=1, description="words kept per side (others share <unk>)"
        )
        min_prob: float = Field(
            default=0.0,
            ge=0.0,
            le=1.0,
            description="drop a source word whose best t(e|f) is below this",
        )

    params: Params

    def __init__(self, target: str | None = None, **params: Any) -> None:
        super().__init__(target, **params)
        self._source_vocab: dict[str, int] = {}
        self._target_words: list[str] = []
        self._target_vocab: dict[str, int] = {}
        self._best: list[tuple[str, float]] = []  # per source id: (best e, t(e|f))
        self._pair_f: np.ndarray = np.zeros(0, dtype=np.int64)
        self._pair_e: np.ndarray = np.zeros(0, dtype=np.int64)
        self._t: np.ndarray = np.zeros(0)
        self._languages: tuple[str, str] | None = None
        self._trained_pairs = 0
        self._skipped_pairs = 0
        self.log_likelihood: list[float] = []
        self.fit_seconds: float | None = None

    # -- identity ---------------------------------------------------------------------------

    def identity(self) -> dict[str, Any]:
        """The base identity and jieba's version (its dictionary decides the words).

        The runner further combines the fingerprint with the train split's fingerprint.
        """
        return {**super().identity(), "jieba": jieba_identity()}

    def info(self) -> dict[str, Any]:
        """Vocabulary sizes, table size, EM iterations and the log-likelihood of each one."""
        return {
            "languages": list(self._languages) if self._languages else None,
            "source_vocabulary": len(self._source_vocab),
            "target_vocabulary": len(self._target_words),
            "translation_pairs": len(self._t),
            "train_pairs": self._trained_pairs,
            "skipped_pairs": self._skipped_pairs,
            "iterations": self.params.iterations,
            "log_likelihood_per_word": list(self.log_likelihood),
        }

    # -- training ---------------------------------------------------------------------------

    def _norm(self, tokens: Sequence[str]) -> list[str]:
        return [t.lower() for t in tokens] if self.params.lowercase else list(tokens)

    def _source_tokens(self, request: TranslationRequest) -> list[str]:
        if request.source_tokens is not None:
            return [t for t in request.source_tokens if t.strip()]
        return word_tokens(request.source, request.source_language)

    def fit(self, examples: Sequence[tuple[Request, Any]]) -> None:
        """Estimate ``t(e | f)`` by EM on ``(request, references)`` pairs.

        Args:
            examples: The train split: translation requests with their references (a tuple
                of strings, or one string); the first reference is the target side.

        Raises:
            AdapterError: The split is empty, holds a request that is not a translation
                request, mixes language pairs, or has no pair with words on both sides.
        """
        tick = time.perf_counter()
        if not examples:
            raise AdapterError(f"{self.name}: the train split is empty")
        requests = _translation([r for r, _ in examples], self.name)
        langs = {(r.source_language, r.target_language) for r in requests}
        if len(langs) != 1:
            raise AdapterError(
                f"{self.name}: the train split mixes language pairs {sorted(langs)}",
                fix="train on one language pair",
            )
        (src_lang, tgt_lang) = langs.pop()

        sources: list[list[str]] = []
        targets: list[list[str]] = []
        skipped = 0
        for req, refs in zip(requests, (ref for _, ref in examples), strict=True):
            ref = refs if isinstance(refs, str) else (refs[0] if refs else "")
            f = self._norm(self._source_tokens(req))
            e = self._norm(word_tokens(str(ref), tgt_lang))
            if not f or not e:
                skipped += 1
                continue
            sources.append(f)
            targets.append(e)
        if not sources:
            raise AdapterError(f"{self.name}: no train pair has words on both sides")

        f_vocab = _vocabulary(sources, self.params.max_vocab, first=[NULL])
        e_vocab = _vocabulary(targets, self.params.max_vocab, first=[])
        f_ids = [np.array([0] + [f_vocab.get(w, f_vocab.get(UNK, -1)) for w in s]) for s in sources]
        e_ids = [np.array([e_vocab.get(w, e_vocab.get(UNK, -1)) for w in s]) for s in targets]

        links = _links(f_ids, e_ids, len(e_vocab))
        t, history = _em(links, len(f_vocab), len(e_vocab), self.params.iterations)

        target_words = sorted(e_vocab, key=e_vocab.__getitem__)
        self._source_vocab = f_vocab
        self._target_words = target_words
        self._target_vocab = e_vocab
        self._pair_f, self._pair_e, self._t = links.pair_f, links.pair_e, t
        self._best = _best_translations(links.pair_f, links.pair_e, t, target_words, len(f_vocab))
        self._languages = (src_lang, tgt_lang)
        self._trained_pairs = len(sources)
        self._skipped_pairs = skipped
        self.log_likelihood = history
        self.fit_seconds = time.perf_counter() - tick

    def translation_probability(self, e: str, f: str) -> float:
        """``t(e | f)`` as trained (``f`` may be ``NULL``); 0 for a pair never linked.

        Words are looked up as given (lower-case them when ``lowercase`` is on).
        """
        fi = self._source_vocab.get(f)
        ei = self._target_vocab.get(e)
        if fi is None or ei is None:
            return 0.0
        hit = np.flatnonzero((self._pair_f == fi) & (self._pair_e == ei))
        return float(self._t[hit[0]]) if len(hit) else 0.0

    def translations(self, f: str, n: int = 5) -> list[tuple[str, float]]:
        """The ``n`` most probable translations of source word ``f``, best first (ties: the more
        frequent target word)."""
        fi = self._source_vocab.get(f)
        if fi is None:
            return []
        rows = np.flatnonzero(self._pair_f == fi)
        order = sorted(rows.tolist(), key=lambda r: (-self._t[r], self._pair_e[r]))
        return [(self._target_words[self._pair_e[r]], float(self._t[r])) for r in order[:n]]

    # -- decoding ---------------------------------------------------------------------------

    def predict(self, requests: Sequence[Request]) -> list[Response]:
        """Translate each request word by word (see the class docstring for the rules).

        Raises:
            AdapterError: Called before :meth:`fit`, or a request's language pair is not the
                one the model was trained on.
        """
        if self._languages is None:
            raise AdapterError(
                f"{self.name}: predict() called before fit()",
                fix="train the model with fit() on the task's train split first",
            )
        out: list[Response] = []
        for r in _translation(requests, self.name):
            if (r.source_language, r.target_language) != self._languages:
                raise AdapterError(
                    f"{self.name}: request '{r.id}' is {r.source_language}→{r.target_language}, "
                    f"but the model was trained on {self._languages[0]}→{self._languages[1]}",
                    fix="predict on the task the model was trained on",
                )
            words = self._source_tokens(r)
            if is_cjk(r.source_language):
                words = [piece for tok in words for piece in self._known_pieces(tok)]
            emitted = [w for w in (self._translate_word(tok) for tok in words) if w is not None]
            out.append(TextResponse(text=detokenize(emitted, r.target_language)))
        return out

    def _known_pieces(self, token: str) -> list[str]:
        """Split an unknown Chinese word into known words, longest match first.

        jieba often joins words the train split has only separately (电脑屏幕 = 电脑 + 屏幕,
        两点 = 两 + 点); reading such a word greedily left to right as the longest known
        prefix recovers them. Runs of characters that start no known word stay together and
        are copied through.
        """
        vocab = self._source_vocab
        norm = token.lower() if self.params.lowercase else token
        if norm in vocab or len(token) == 1:
            return [token]
        pieces: list[str] = []
        unknown = ""
        pos = 0
        while pos < len(token):
            for end in range(len(token), pos, -1):
                if norm[pos:end] in vocab:
                    break
            else:
                unknown += token[pos]
                pos += 1
                continue
            if unknown:
                pieces.append(unknown)
                unknown = ""
            pieces.append(token[pos:end])
            pos = end
        if unknown:
            pieces.append(unknown)
        return pieces

    def _translate_word(self, token: str) -> str | None:
        key = token.lower() if self.params.lowercase else token
        fi = self._source_vocab.get(key)
        if fi is None or key == UNK or fi == self._source_vocab.get(UNK):
            return token
        best, prob = self._best[fi]
        if best == UNK:
            return token
        if prob < self.params.min_prob:
            return None
        if bool(_PUNCT_ONLY.match(token)) != bool(_PUNCT_ONLY.match(best)):
            return None
        return best


# -- EM machinery ------------------------------------------------------------------------------


def _vocabulary(
    sentences: list[list[str]], max_vocab: int | None, first: list[str]
) -> dict[str, int]:
    """Word → id, the ``first`` words (NULL) first, then by frequency (ties alphabetical)."""
    counts = Counter(w for s in sentences for w in s)
    words = sorted(counts, key=lambda w: (-counts[w], w))
    if max_vocab is not None and len(words) > max_vocab:
        words = [*words[:max_vocab], UNK]
    return {w: i for i, w in enumerate([*first, *words])}


class _Links:
    """Every (source position, target position) link of the train split, as flat arrays.

    Attributes:
        pair: Per link, the id of its (f, e) word pair.
        group: Per link, the id of its target token (all links of one ``eⱼ`` share it).
        pair_f, pair_e: Per word pair, its source and target word ids.
        source_lengths: Per sentence pair, ``m + 1`` (NULL included).
        target_tokens: Number of target tokens (groups).
    """

    def __init__(
        self,
        pair: np.ndarray,
        group: np.ndarray,
        pair_f: np.ndarray,
        pair_e: np.ndarray,
        source_lengths: np.ndarray,
        target_lengths: np.ndarray,
    ) -> None:
        self.pair = pair
        self.group = group
        self.pair_f = pair_f
        self.pair_e = pair_e
        self.source_lengths = source_lengths
        self.target_lengths = target_lengths
        self.target_tokens = int(target_lengths.sum())


def _links(f_ids: list[np.ndarray], e_ids: list[np.ndarray], e_size: int) -> _Links:
    """Index every link by its word pair, keeping only pairs that co-occur."""
    keys: list[np.ndarray] = []
    groups: list[np.ndarray] = []
    offset = 0
    for f, e in zip(f_ids, e_ids, strict=True):
        # Row-major over (i, j): key of the pair (f_i, e_j), group of the target token j.
        keys.append((f[:, None].astype(np.int64) * e_size + e[None, :]).ravel())
        groups.append(np.tile(np.arange(offset, offset + len(e), dtype=np.int64), len(f)))
        offset += len(e)
    flat = np.concatenate(keys)
    unique, pair = np.unique(flat, return_inverse=True)
    return _Links(
        pair=pair.astype(np.int64),
        group=np.concatenate(groups),
        pair_f=unique // e_size,
        pair_e=unique % e_size,
        source_lengths=np.array([len(f) for f in f_ids], dtype=np.int64),
        target_lengths=np.array([len(e) for e in e_ids], dtype=np.int64),
    )


def _em(links: _Links, f_size: int, e_size: int, iterations: int) -> tuple[np.ndarray, list[float]]:
    """Run EM from uniform ``t``; return ``t`` per word pair and the log-likelihood history.

    The log-likelihood of the split is ``Σ_s [Σⱼ log Σᵢ t(eⱼ | fᵢ) − lₛ log(mₛ + 1)]`` (the
    ``log ε`` term is constant and left out); the history holds it per target word, before
    the first iteration and after each.
    """
    t = np.full(len(links.pair_f), 1.0 / e_size)
    length_term = float(np.sum(links.target_lengths * np.log(links.source_lengths)))
    history: list[float] = []
    for step in range(iterations + 1):
        link_t = t[links.pair]
        denom = np.bincount(links.group, weights=link_t, minlength=links.target_tokens)
        history.append(float((np.log(denom).sum() - length_term) / links.target_tokens))
        if step == iterations:
            break
        posterior = link_t / denom[links.group]
        counts = np.bincount(links.pair, weights=posterior, minlength=len(t))
        totals = np.bincount(links.pair_f, weights=counts, minlength=f_size)
        t = counts / totals[links.pair_f]
    if not all(math.isfinite(x) for x in history):
        raise AdapterError("baseline:ibm1: EM produced a non-finite log-likelihood (a bug)")
    return t, history


def _best_translations(
    pair_f: np.ndarray, pair_e: np.ndarray, t: np.ndarray, target_words: list[str], f_size: int
) -> list[tuple[str, float]]:
    """Per source id, ``(argmax_e t(e | f), its probability)``; ties to the first word by id.

    Target ids follow frequency order, so a tie goes to the more frequent target word.
    """
    # Sort by (f, -t, e): the first row of each f is its best translation.
    order = np.lexsort((pair_e, -t, pair_f))
    first = np.ones(len(order), dtype=bool)
    first[1:] = pair_f[order][1:] != pair_f[order][:-1]
    best: list[tuple[str, float]] = [("", 0.0)] * f_size
    for row in order[first].tolist():
        best[int(pair_f[row])] = (target_words[int(pair_e[row])], float(t[row]))
    return best
