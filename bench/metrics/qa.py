"""Extractive-QA metrics: SQuAD v1.1 and v2.0 EM/F1, CMRC2018 EM/F1 (also used for DRCD).

Every number here equals what the official evaluation script prints for the same predictions
(to floating-point rounding, far below 1e-9): ``evaluate-v1.1.py`` and ``evaluate-v2.0.py``
from the SQuAD explorer (Rajpurkar et al., 2016, 2018) and ``cmrc2018_evaluate.py`` from the
CMRC2018 repository (Cui et al., 2019). The code is bench's own; the rules are the scripts'.
Values are on the scripts' 0–100 scale (``MetricValue.scale`` is 100): 100 × the mean over all
questions of the per-question score, with a percentile bootstrap interval over questions.

**SQuAD normalisation** (both versions): lower-case (``str.lower``); delete every character of
``string.punctuation`` (ASCII punctuation only: ``“``, ``，`` or ``–`` stay); replace each
article ``a``, ``an``, ``the`` standing as a whole word (``\\b(a|an|the)\\b``, Unicode word
boundaries as in Python 3) with a space; collapse whitespace (``str.split`` + one space). The
order matters: punctuation goes before articles, so ``"the-end"`` becomes ``"theend"`` and keeps
no article. Tokens are the whitespace-separated words of the normalised text.

**Per-question scores** (one prediction, several gold answers, the best one counts):

* EM = 1 when the normalised prediction equals a normalised gold answer, else 0.
* F1 = 2PR / (P + R) over the bag of tokens: with ``c`` the size of the multiset intersection
  of prediction and gold tokens, P = c / |prediction| and R = c / |gold|; F1 = 0 when c = 0.

**Where v1.1 and v2.0 differ**:

===============================  ===============================  ============================
case                             v1.1 (``squad_*``)               v2.0 (``squad2_*``)
===============================  ===============================  ============================
both normalise to empty          EM 1, F1 0 (no common token)     EM 1, F1 1 (they agree)
one side normalises to empty     EM 0, F1 0                       EM 0, F1 0
gold answers that normalise to   kept (an empty prediction        dropped; a question left
empty (``"The"``, ``"!"``)       matches them: EM 1, F1 0)        with none has gold ``[""]``
no gold answers                  error (the script crashes on     unanswerable: gold ``[""]``,
                                 ``max([])``; bench raises        so an empty prediction is
                                 ``DataError``)                   right (EM 1, F1 1)
missing prediction (``None``)    scored 0, counted in the total   the script skips it: not in
                                 (the script prints a message)    the total (and its HasAns /
                                                                  NoAns breakdown then fails
                                                                  with a KeyError); bench
                                                                  scores it 0 by default
===============================  ===============================  ============================

v2.0 also reports ``<name>/has_ans`` and ``<name>/no_ans``: the same mean over the questions
that have (and have no) gold answers in the data — a question's raw answer list decides, so a
question whose only gold answer normalises to empty is HasAns with gold ``[""]``, as in the
script. No no-answer-probability thresholding is applied (the script's default threshold 1.0
with probabilities 0 changes nothing). With ``missing="exclude"`` a missing prediction is left
out of every total instead, which reproduces the script's overall numbers exactly.

**CMRC2018** (``cmrc_*``; Chinese, also the scorer used for DRCD):

* Punctuation is the script's own list, :data:`CMRC_PUNCTUATION`: ``- : _ * ^ / \\ ~ ` + =``
  and the full-width ``，。：？！“”；’《》·、「」（）－～『』``. It is not ``string.punctuation``:
  ASCII ``. , ( ) " ' ! ?`` are kept. The list's entry ``……`` is two characters long and so
  never equals a single character: ``…`` is kept too.
* Mixed segmentation: the text is lower-cased and stripped; punctuation characters are dropped
  (without ending the run they sit in, so ``"a-b"`` is the one run ``"ab"``); each character in
  ``U+4E00..U+9FA5`` is a token; every maximal run of other characters is tokenised with NLTK's
  ``word_tokenize``.
* F1: with ``L`` the length of the longest common *contiguous* run of tokens (longest common
  substring over the token lists), P = L / |prediction tokens|, R = L / |gold tokens|,
  F1 = 2PR / (P + R); 0 when L = 0. EM: the lower-cased, stripped texts with punctuation
  characters deleted are equal (inner whitespace counts: ``"iphone 12"`` ≠ ``"iphone12"``;
  stripping comes first, so ``"* 北京"`` keeps its space and does not match ``"北京"``).
  Both take the best gold answer. A missing prediction scores 0 and stays in the total (the
  script counts it as skipped); a question without gold answers is an error, as for v1.1.
* NLTK: ``word_tokenize(run)`` first splits the run into sentences with Punkt, then tokenises
  each with NLTK's Treebank-style word tokenizer. Punkt needs NLTK's ``punkt_tab`` data;
  ``sentences="line"`` tokenises the run as one line instead (``preserve_line=True``, no data
  needed), which gives the same tokens whenever Punkt finds one sentence in the run — the
  Treebank rules split a final period off only at the end of a sentence, so a run with an
  inner sentence break can differ (``"t.f. gilbert"``: Punkt gives ``t.f . gilbert``, one line
  gives ``t.f. gilbert``). In the CMRC2018 dev set 4 of about
  15,500 non-Chinese runs (contexts included) differ. ``sentences="auto"`` (the default) uses
  Punkt when ``punkt_tab`` is installed and lines otherwise; the signature names which ran.

Signatures read like ``squad_f1|v1.1|norm:squad|multi:max|missing:miss|boot:1000|conf:0.95|
seed:12345|v:1`` and ``cmrc_f1|cmrc2018|seg:mixed|nltk:3.10.4|sent:punkt|punct:cmrc2018|
multi:max|missing:miss|boot:...|v:1``. ``samples.jsonl`` gets each question's EM and F1 on the
same 0–100 scale (``None`` for a prediction left out with ``missing="exclude"``).

References:
    Pranav Rajpurkar, Jian Zhang, Konstantin Lopyrev and Percy Liang. 2016. SQuAD: 100,000+
    Questions for Machine Comprehension of Text. In Proceedings of EMNLP 2016, pages 2383–2392.
    https://aclanthology.org/D16-1264

    Pranav Rajpurkar, Robin Jia and Percy Liang. 2018. Know What You Don't Know: Unanswerable
    Questions for SQuAD. In Proceedings of ACL 2018, pages 784–789.
    https://aclanthology.org/P18-2124

    Yiming Cui, Ting Liu, Wanxiang Che, Li Xiao, Zhipeng Chen, Wentao Ma, Shijin Wang and
    Guoping Hu. 2019. A Span-Extraction Dataset for Chinese Machine Reading Comprehension. In
    Proceedings of EMNLP-IJCNLP 2019, pages 5883–5889. https://aclanthology.org/D19-1600
"""

from __future__ import annotations

import math
import re
import string
from abc import abstractmethod
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any, ClassVar, Literal

import numpy as np

from bench.errors import DataError
from bench.metrics.base import Metric, MetricValue, ScoringContext, percentile_ci
from bench.metrics.paired import McNemar, PairedStatistics, PerExampleMean, Untestable

__all__ = [
    "CMRC_PUNCTUATION",
    "CmrcEM",
    "CmrcF1",
    "QAScores",
    "Squad2EM",
    "Squad2F1",
    "SquadEM",
    "SquadF1",
    "cmrc_em_f1",
    "cmrc_segment",
    "cmrc_strip_punctuation",
    "qa_scores",
    "squad_em_f1",
    "squad_normalize",
]

Scheme = Literal["squad1", "squad2", "cmrc"]
SentenceMode = Literal["auto", "punkt", "line"]
MissingMode = Literal["miss", "exclude"]

# --------------------------------------------------------------------------------------------
# SQuAD normalisation and scores

_ASCII_PUNCTUATION = str.maketrans("", "", string.punctuation)
# A str pattern, so \b uses Unicode word characters (as Python 3 runs the official scripts).
_ARTICLE = re.compile(r"\b(?:a|an|the)\b")


def squad_normalize(text: str) -> str:
    """SQuAD's answer normalisation: lower-case, drop ASCII punctuation, articles, extra spaces.

    Example:
        >>> squad_normalize("The  Eiffel-Tower, in Paris!")
        'eiffeltower in paris'
        >>> squad_normalize("Théa and a theory")  # no word boundary inside Théa or theory
        'théa and theory'
    """
    return " ".join(_ARTICLE.sub(" ", text.lower().translate(_ASCII_PUNCTUATION)).split())


def _token_f1(pred: list[str], gold: list[str]) -> float:
    """Bag-of-tokens F1 (0 when nothing is shared; callers handle empty token lists)."""
    shared = sum((Counter(pred) & Counter(gold)).values())
    if shared == 0:
        return 0.0
    precision = shared / len(pred)
    recall = shared / len(gold)
    return (2 * precision * recall) / (precision + recall)


def squad_em_f1(
    prediction: str, golds: Sequence[str], version: Literal["1.1", "2.0"] = "1.1"
) -> tuple[float, float]:
    """One question's SQuAD EM and F1 (each 0–1), the best over the gold answers.

    Args:
        prediction: The predicted answer (``""`` is "no answer" for v2.0).
        golds: The gold answers; for v2.0 an empty sequence marks an unanswerable question.
        version: ``"1.1"`` or ``"2.0"`` (see the module docstring for how they differ).

    Raises:
        ValueError: ``version="1.1"`` and ``golds`` is empty (the v1.1 script cannot score it).

    Example:
        >>> squad_em_f1("the Denver Broncos", ["Denver Broncos", "Broncos"])
        (1.0, 1.0)
        >>> squad_em_f1("Broncos won", ["Denver Broncos"])  # P 1/2, R 1/2
        (0.0, 0.5)
        >>> squad_em_f1("", [""], "1.1"), squad_em_f1("", [], "2.0")
        ((1.0, 0.0), (1.0, 1.0))
    """
    pred_norm = squad_normalize(prediction)
    pred_tokens = pred_norm.split()
    if version == "1.1":
        if not golds:
            raise ValueError("SQuAD v1.1 needs at least one gold answer per question")
        em = f1 = 0.0
        for gold in golds:
            gold_norm = squad_normalize(gold)
            em = max(em, float(gold_norm == pred_norm))
            f1 = max(f1, _token_f1(pred_tokens, gold_norm.split()))
        return em, f1
    if version != "2.0":
        raise ValueError(f"unknown SQuAD version {version!r}; use '1.1' or '2.0'")
    kept = [n for n in (squad_normalize(g) for g in golds) if n] or [""]
    em = f1 = 0.0
    for gold_norm in kept:
        gold_tokens = gold_norm.split()
        em = max(em, float(gold_norm == pred_norm))
        if not gold_tokens or not pred_tokens:
            # An empty side is "no answer": right only when the other side is empty too.
            f1 = max(f1, float(gold_tokens == pred_tokens))
        else:
            f1 = max(f1, _token_f1(pred_tokens, gold_tokens))
    return em, f1


# --------------------------------------------------------------------------------------------
# CMRC2018 segmentation and scores

CMRC_PUNCTUATION: frozenset[str] = frozenset(
    [
        *"-:_*^/\\~`+=",
        *"，。：？！“”；’《》",
        "……",  # two characters: never equal to one, so "…" is never removed (as in the script)
        *"·、「」（）－～『』",
    ]
)
"""The characters ``cmrc2018_evaluate.py`` treats as punctuation (its ``sp_char`` list)."""

_CJK_FIRST, _CJK_LAST = "\u4e00", "\u9fa5"


def cmrc_strip_punctuation(text: str) -> str:
    """The text CMRC2018's EM compares: lower-cased, stripped, punctuation characters deleted.

    Example:
        >>> cmrc_strip_punctuation(" 《三体》：刘慈欣 ")
        '三体刘慈欣'
        >>> cmrc_strip_punctuation("U.S. (1990)…")  # ASCII . ( ) and … are not on the list
        'u.s. (1990)…'
    """
    return "".join(ch for ch in text.lower().strip() if ch not in CMRC_PUNCTUATION)


@dataclass(frozen=True)
class _RunTokenizer:
    """NLTK's ``word_tokenize`` for the non-Chinese runs, in the chosen sentence mode."""

    mode: Literal["punkt", "line"]

    def __call__(self, run: str) -> list[str]:
        from nltk.tokenize import word_tokenize

        return list(word_tokenize(run, preserve_line=self.mode == "line"))


def _punkt_installed() -> bool:
    from bench.preprocess.resources import nltk_find

    return nltk_find("tokenizers/punkt_tab/english/") is not None


def _run_tokenizer(sentences: SentenceMode) -> _RunTokenizer:
    """The run tokenizer ``sentences`` resolves to (``punkt`` needs NLTK's ``punkt_tab``)."""
    if sentences == "line" or (sentences == "auto" and not _punkt_installed()):
        return _RunTokenizer("line")
    if sentences == "punkt":
        from bench.preprocess.resources import check_nltk

        check_nltk("tokenizers/punkt_tab/english/", "punkt_tab", "the CMRC2018 metrics")
    return _RunTokenizer("punkt")


def cmrc_segment(text: str, sentences: SentenceMode = "auto") -> list[str]:
    """CMRC2018's mixed segmentation with punctuation removed (what its F1 compares).

    Each character in U+4E00..U+9FA5 is a token; runs of other characters are tokenised with
    NLTK's ``word_tokenize``; punctuation characters (:data:`CMRC_PUNCTUATION`) are dropped
    without ending a run.

    Example:
        >>> cmrc_segment("iPhone 12于2020年发布", sentences="line")
        ['iphone', '12', '于', '2020', '年', '发', '布']
        >>> cmrc_segment("《A-B》计划", sentences="line")
        ['ab', '计', '划']
    """
    return _segment(text, _run_tokenizer(sentences))


def _segment(text: str, tokenize: Callable[[str], list[str]]) -> list[str]:
    tokens: list[str] = []
    run: list[str] = []
    for ch in text.lower().strip():
        if ch in CMRC_PUNCTUATION:
            continue  # dropped, but the run goes on: "a-b" is the run "ab"
        if _CJK_FIRST <= ch <= _CJK_LAST:
            if run:
                tokens += tokenize("".join(run))
                run = []
            tokens.append(ch)
        else:
            run.append(ch)
    if run:
        tokens += tokenize("".join(run))
    return tokens


def _longest_common_run(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common contiguous run of tokens (longest common substring)."""
    best = 0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0] * (len(b) + 1)
        for j, y in enumerate(b, start=1):
            if x == y:
                length = previous[j - 1] + 1
                current[j] = length
                if length > best:
                    best = length
        previous = current
    return best


def _lcs_f1(pred: list[str], gold: list[str]) -> float:
    common = _longest_common_run(gold, pred)
    if common == 0:
        return 0.0
    precision = common / len(pred)
    recall = common / len(gold)
    return (2 * precision * recall) / (precision + recall)


def cmrc_em_f1(
    prediction: str, golds: Sequence[str], sentences: SentenceMode = "auto"
) -> tuple[float, float]:
    """One question's CMRC2018 EM and F1 (each 0–1), the best over the gold answers.

    Raises:
        ValueError: ``golds`` is empty (the CMRC2018 script cannot score such a question).

    Example:
        >>> cmrc_em_f1("2020年", ["2020年。"], sentences="line")
        (1.0, 1.0)
        >>> em, f1 = cmrc_em_f1("iPhone 12于2020年发布", ["2020年"], sentences="line")
        >>> em, round(f1, 4)  # LCS 2 tokens; P 2/7, R 2/2
        (0.0, 0.4444)
    """
    return _cmrc_em_f1(prediction, golds, _run_tokenizer(sentences))


def _cmrc_em_f1(
    prediction: str, golds: Sequence[str], tokenize: Callable[[str], list[str]]
) -> tuple[float, float]:
    if not golds:
        raise ValueError("CMRC2018 scoring needs at least one gold answer per question")
    pred_tokens = _segment(prediction, tokenize)
    pred_plain = cmrc_strip_punctuation(prediction)
    em = f1 = 0.0
    for gold in golds:
        em = max(em, float(cmrc_strip_punctuation(gold) == pred_plain))
        f1 = max(f1, _lcs_f1(pred_tokens, _segment(gold, tokenize)))
    return em, f1


# --------------------------------------------------------------------------------------------
# Scoring a whole task


@dataclass(frozen=True)
class QAScores:
    """Per-question scores of one scheme.

    Attributes:
        em: EM per question, 0 or 1 (0 for a missing prediction).
        f1: F1 per question, in [0, 1] (0 for a missing prediction).
        missing: True where the prediction is missing (``None``).
        has_answer: True where the question has at least one gold answer in the data.
    """

    em: np.ndarray
    f1: np.ndarray
    missing: np.ndarray
    has_answer: np.ndarray


def _prediction(response: Any) -> str | None:
    if response is None:
        return None
    text = response if isinstance(response, str) else getattr(response, "text", None)
    return text if isinstance(text, str) else None


def _golds(refs: Any, where: str) -> tuple[str, ...]:
    if isinstance(refs, str) or not isinstance(refs, (tuple, list)):
        raise DataError(
            f"{where}: the reference is {type(refs).__name__}, not a tuple of gold answers",
            fix="give each question a tuple of answer strings (empty for unanswerable)",
        )
    for k, gold in enumerate(refs):
        if not isinstance(gold, str):
            raise DataError(
                f"{where}: gold answer [{k}] is {type(gold).__name__}, not a string",
                fix="give each question a tuple of answer strings",
            )
    return tuple(refs)


def qa_scores(
    predictions: Sequence[Any],
    references: Sequence[Any],
    scheme: Scheme,
    *,
    sentences: SentenceMode = "auto",
    ids: Sequence[str] | None = None,
) -> QAScores:
    """Score every question under ``scheme`` (``squad1``, ``squad2`` or ``cmrc``).

    Args:
        predictions: One answer per question: a string, a response with ``text``, or ``None``
            for a missing prediction.
        references: One tuple of gold answers per question (empty: unanswerable; ``squad2``
            only).
        scheme: Which official script's rules to follow.
        sentences: NLTK sentence mode for ``cmrc`` (``auto``, ``punkt`` or ``line``).
        ids: Question ids for error messages.

    Raises:
        DataError: Lengths differ, a reference is not a tuple of strings, or a question has no
            gold answer under ``squad1`` or ``cmrc``.

    Example:
        >>> s = qa_scores(["Denver Broncos", None], [("Denver Broncos",), ("Paris",)], "squad1")
        >>> s.em.tolist(), s.f1.tolist(), s.missing.tolist()
        ([1.0, 0.0], [1.0, 0.0], [False, True])
    """
    n = len(references)
    if len(predictions) != n:
        raise DataError(
            f"{len(predictions)} predictions but {n} reference tuples",
            fix="give one prediction (or None) per question",
        )
    if scheme not in ("squad1", "squad2", "cmrc"):
        raise ValueError(f"unknown QA scheme {scheme!r}")
    tokenize = _cached(_run_tokenizer(sentences)) if scheme == "cmrc" else None
    em = np.zeros(n, dtype=np.float64)
    f1 = np.zeros(n, dtype=np.float64)
    missing = np.zeros(n, dtype=bool)
    has_answer = np.zeros(n, dtype=bool)
    for i, (response, refs) in enumerate(zip(predictions, references, strict=True)):
        where = f"question '{ids[i]}'" if ids is not None else f"question #{i}"
        golds = _golds(refs, where)
        has_answer[i] = bool(golds)
        if not golds and scheme != "squad2":
            raise DataError(
                f"{where} has no gold answer; the {_OFFICIAL[scheme]} script cannot score it",
                fix="use squad2_em / squad2_f1 for data with unanswerable questions",
            )
        prediction = _prediction(response)
        if prediction is None:
            missing[i] = True
            continue
        if tokenize is not None:
            em[i], f1[i] = _cmrc_em_f1(prediction, golds, tokenize)
        else:
            em[i], f1[i] = squad_em_f1(prediction, golds, "1.1" if scheme == "squad1" else "2.0")
    return QAScores(em=em, f1=f1, missing=missing, has_answer=has_answer)


def _cached(tokenize: Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    """``tokenize`` with a memo for one scoring pass (gold answers repeat across annotators)."""
    memo: dict[str, list[str]] = {}

    def run(text: str) -> list[str]:
        tokens = memo.get(text)
        if tokens is None:
            tokens = memo[text] = tokenize(text)
        return tokens

    return run


_OFFICIAL: dict[str, str] = {
    "squad1": "SQuAD v1.1",
    "squad2": "SQuAD v2.0",
    "cmrc": "CMRC2018",
}


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


# --------------------------------------------------------------------------------------------
# The metrics


class _QAMetric(Metric):
    """Shared scoring of the QA metrics: per-question scores once per task, then aggregates."""

    families: ClassVar[tuple[str, ...]] = ("qa",)
    scheme: ClassVar[Scheme]
    stat: ClassVar[Literal["em", "f1"]]

    def _sentences(self) -> SentenceMode:
        return "auto"

    def _missing(self) -> MissingMode:
        return "miss"

    def _breakdown(self) -> bool:
        return False

    def _scores(self, ctx: ScoringContext) -> QAScores:
        tokenize = _run_tokenizer(self._sentences()) if self.scheme == "cmrc" else None
        key = f"qa|{self.scheme}|{tokenize.mode if tokenize else '-'}"
        if key not in ctx.memo:
            ids = [getattr(r, "id", str(i)) for i, r in enumerate(ctx.requests)]
            ctx.memo[key] = qa_scores(
                ctx.responses,
                ctx.references,
                self.scheme,
                sentences=tokenize.mode if tokenize else "auto",
                ids=ids if len(ids) == ctx.n else None,
            )
        scores: QAScores = ctx.memo[key]
        return scores

    @abstractmethod
    def _head(self) -> list[str]:
        """The leading parts of the signature (metric, scheme)."""

    def _signature(self, ctx: ScoringContext, subset: str | None = None) -> str:
        parts = [self.name, *self._head(), "multi:max", f"missing:{self._missing()}"]
        if subset:
            parts.append(f"subset:{subset}")
        parts += [ctx.bootstrap.tag(), f"v:{self.version}"]
        return "|".join(parts)

    def _kept(self, scores: QAScores) -> np.ndarray:
        """Questions in the totals (all, unless missing predictions are excluded)."""
        if self._missing() == "exclude":
            return np.asarray(~scores.missing)
        return np.ones(scores.missing.shape, dtype=bool)

    def _value(
        self, ctx: ScoringContext, mask: np.ndarray, name: str, subset: str | None = None
    ) -> MetricValue:
        scores = self._scores(ctx)
        raw = (scores.em if self.stat == "em" else scores.f1)[mask]
        n = int(raw.size)
        # fsum is exactly rounded: the value does not depend on the order of the questions.
        value = 100.0 * math.fsum(raw.tolist()) / n if n else float("nan")
        low = high = None
        if ctx.bootstrap.resamples > 0 and n > 0:
            means = self._boot_means(ctx, scores, mask)
            low, high = percentile_ci(100.0 * means, ctx.bootstrap.confidence)
        return MetricValue(
            name=name,
            value=value,
            n=n,
            ci_low=low,
            ci_high=high,
            signature=self._signature(ctx, subset),
            higher_is_better=True,
            scale=100.0,
        )

    def _boot_means(self, ctx: ScoringContext, scores: QAScores, mask: np.ndarray) -> np.ndarray:
        """Bootstrap means of this metric's scores on the questions in ``mask``.

        EM and F1 of one scheme are resampled together, in one product with the shared seeded
        resample counts (the same resamples either way); the pair is kept in ``ctx.memo`` for
        whichever of the two metrics asks second.
        """
        key = (id(scores), mask.tobytes())
        memo: dict[tuple[int, bytes], np.ndarray] = ctx.memo.setdefault("qa.boot", {})
        if key not in memo:
            memo[key] = _boot_means(ctx, np.column_stack([scores.em[mask], scores.f1[mask]]))
        return memo[key][:, 0 if self.stat == "em" else 1]

    def score(self, ctx: ScoringContext) -> list[MetricValue]:
        scores = self._scores(ctx)
        kept = self._kept(scores)
        out = [self._value(ctx, kept, self.name)]
        if self._breakdown():
            for subset, mask in (("has_ans", scores.has_answer), ("no_ans", ~scores.has_answer)):
                chosen = kept & mask
                if chosen.any():  # the script reports a subset only when it has questions
                    out.append(self._value(ctx, chosen, f"{self.name}/{subset}", subset))
        return out

    def paired(self, value: str) -> PairedStatistics | None:
        """Exact match (0 or 100 per question): McNemar's test; F1: paired permutation. The
        SQuAD 2.0 subsets (``/has_ans``, ``/no_ans``) have no per-example column of their own."""
        if value == self.name:
            return McNemar(self.name) if self.stat == "em" else PerExampleMean(self.name)
        if value.startswith(f"{self.name}/"):
            return Untestable("no per-example scores in samples.jsonl")
        return None

    def per_example(self, ctx: ScoringContext) -> dict[str, list[float | None]]:
        scores = self._scores(ctx)
        raw = scores.em if self.stat == "em" else scores.f1
        kept = self._kept(scores)
        return {
            self.name: [
                100.0 * float(v) if keep else None
                for v, keep in zip(raw.tolist(), kept.tolist(), strict=True)
            ]
        }


def _boot_means(ctx: ScoringContext, values: np.ndarray) -> np.ndarray:
    """Means of ``values`` over the seeded bootstrap resamples (one draw per size)."""
    return ctx.bootstrap.resample_means(values)


class _Squad1(_QAMetric):
    scheme: ClassVar[Scheme] = "squad1"

    def _head(self) -> list[str]:
        return ["v1.1", "norm:squad"]


class SquadEM(_Squad1):
    """SQuAD v1.1 exact match (Rajpurkar et al., 2016), 0–100, as ``evaluate-v1.1.py``.

    Per question: 1 when the SQuAD-normalised prediction (lower-cased, ASCII punctuation and
    the articles a/an/the removed, whitespace collapsed) equals a normalised gold answer, else
    0; the value is 100 × the mean over all questions. A missing prediction scores 0 and stays
    in the total; a question without gold answers is a ``DataError``. See the module docstring
    for how v1.1 and v2.0 differ.

    Rajpurkar, Zhang, Lopyrev and Liang. 2016. SQuAD: 100,000+ Questions for Machine
    Comprehension of Text. EMNLP. https://aclanthology.org/D16-1264

    Example:
        >>> s = qa_scores(["the Broncos!", "Carolina"], [("Broncos",), ("Panthers",)], "squad1")
        >>> float(100 * s.em.mean())
        50.0
    """

    name: ClassVar[str] = "squad_em"
    stat: ClassVar[Literal["em", "f1"]] = "em"


class SquadF1(_Squad1):
    """SQuAD v1.1 token F1 (Rajpurkar et al., 2016), 0–100, as ``evaluate-v1.1.py``.

    Per question: the best over gold answers of the bag-of-tokens F1 between the normalised
    prediction and gold answer (P = shared / prediction tokens, R = shared / gold tokens; 0
    when nothing is shared, so two texts that both normalise to empty score F1 0); the value is
    100 × the mean over all questions. Missing predictions score 0.

    Rajpurkar, Zhang, Lopyrev and Liang. 2016. SQuAD: 100,000+ Questions for Machine
    Comprehension of Text. EMNLP. https://aclanthology.org/D16-1264

    Example:
        >>> s = qa_scores(["Denver Broncos won"], [("the Broncos", "Denver Broncos")], "squad1")
        >>> round(100 * float(s.f1[0]), 2)  # best gold "Denver Broncos": P 2/3, R 2/2
        80.0
    """

    name: ClassVar[str] = "squad_f1"
    stat: ClassVar[Literal["em", "f1"]] = "f1"


class _Squad2(_QAMetric):
    scheme: ClassVar[Scheme] = "squad2"

    breakdown: bool = True
    missing: MissingMode = "miss"

    def _missing(self) -> MissingMode:
        return self.missing

    def _breakdown(self) -> bool:
        return self.breakdown

    def _head(self) -> list[str]:
        return ["v2.0", "norm:squad", "noans:empty"]


class Squad2EM(_Squad2):
    """SQuAD v2.0 exact match (Rajpurkar et al., 2018), 0–100, as ``evaluate-v2.0.py``.

    As v1.1 EM, except: gold answers that normalise to empty are dropped, and a question left
    without gold answers (an unanswerable one) has the single gold answer ``""``, so an empty
    prediction ("no answer") is exactly right for it. Also reports ``squad2_em/has_ans`` and
    ``squad2_em/no_ans`` (the script's HasAns / NoAns) with their own ``n``.

    Rajpurkar, Jia and Liang. 2018. Know What You Don't Know: Unanswerable Questions for SQuAD.
    ACL. https://aclanthology.org/P18-2124

    Attributes:
        breakdown: Report the HasAns / NoAns values (subsets with no question are left out).
        missing: ``miss`` (default): a missing prediction scores 0 and counts, whatever the
            question; ``exclude``: it is left out of every total, which reproduces the
            script's overall number (the script skips such questions).

    Example:
        >>> s = qa_scores(["", "", "Paris"], [(), ("Paris",), ("Paris",)], "squad2")
        >>> s.em.tolist(), s.has_answer.tolist()
        ([1.0, 0.0, 1.0], [False, True, True])
    """

    name: ClassVar[str] = "squad2_em"
    stat: ClassVar[Literal["em", "f1"]] = "em"


class Squad2F1(_Squad2):
    """SQuAD v2.0 token F1 (Rajpurkar et al., 2018), 0–100, as ``evaluate-v2.0.py``.

    As v1.1 F1, except that an empty side means "no answer": when the prediction or the gold
    answer normalises to no tokens, F1 is 1 if both do and 0 otherwise. Gold answers are
    chosen as for :class:`Squad2EM`. Also reports ``squad2_f1/has_ans`` and
    ``squad2_f1/no_ans``.

    Rajpurkar, Jia and Liang. 2018. Know What You Don't Know: Unanswerable Questions for SQuAD.
    ACL. https://aclanthology.org/P18-2124

    Attributes:
        breakdown: Report the HasAns / NoAns values.
        missing: ``miss`` or ``exclude``, as for :class:`Squad2EM`.

    Example:
        >>> s = qa_scores(["", "the", "in Paris"], [(), (), ("Paris",)], "squad2")
        >>> s.f1.tolist()  # "the" normalises to empty: no answer, right for an unanswerable
        [1.0, 1.0, 0.6666666666666666]
    """

    name: ClassVar[str] = "squad2_f1"
    stat: ClassVar[Literal["em", "f1"]] = "f1"


class _Cmrc(_QAMetric):
    scheme: ClassVar[Scheme] = "cmrc"

    sentences: SentenceMode = "auto"

    def _sentences(self) -> SentenceMode:
        return self.sentences

    def _head(self) -> list[str]:
        mode = _run_tokenizer(self.sentences).mode
        return [
            "cmrc2018",
            "seg:mixed",
            f"nltk:{_version('nltk')}",
            f"sent:{mode}",
            "punct:cmrc2018",
        ]


class CmrcEM(_Cmrc):
    """CMRC2018 exact match (Cui et al., 2019), 0–100, as ``cmrc2018_evaluate.py``.

    Per question: 1 when the prediction equals a gold answer after both are lower-cased,
    stripped and cleared of the script's punctuation characters (:data:`CMRC_PUNCTUATION`;
    inner whitespace is kept), else 0; 100 × the mean over all questions. Also the scorer used
    for DRCD. A missing prediction scores 0 and stays in the total.

    Cui et al. 2019. A Span-Extraction Dataset for Chinese Machine Reading Comprehension.
    EMNLP-IJCNLP. https://aclanthology.org/D19-1600

    Attributes:
        sentences: How NLTK's ``word_tokenize`` treats sentences inside a non-Chinese run:
            ``auto`` (Punkt when ``punkt_tab`` is installed, else ``line``), ``punkt`` (as the
            script; needs ``punkt_tab``) or ``line`` (see the module docstring). EM does not
            tokenise, but the setting is shared with :class:`CmrcF1` and named in both
            signatures.

    Example:
        >>> cmrc_em_f1("《三体》", ["三体"], sentences="line")
        (1.0, 1.0)
    """

    name: ClassVar[str] = "cmrc_em"
    stat: ClassVar[Literal["em", "f1"]] = "em"


class CmrcF1(_Cmrc):
    """CMRC2018 F1 (Cui et al., 2019), 0–100, as ``cmrc2018_evaluate.py``.

    Per question: both texts get mixed segmentation (each Chinese character a token, other
    runs tokenised by NLTK, punctuation dropped); with L the longest common contiguous run of
    tokens, P = L / prediction tokens, R = L / gold tokens, F1 = 2PR / (P + R) (0 when L = 0);
    the best over gold answers; 100 × the mean over all questions. Also the scorer for DRCD.

    Cui et al. 2019. A Span-Extraction Dataset for Chinese Machine Reading Comprehension.
    EMNLP-IJCNLP. https://aclanthology.org/D19-1600

    Attributes:
        sentences: ``auto``, ``punkt`` or ``line``, as for :class:`CmrcEM`.

    Example:
        >>> em, f1 = cmrc_em_f1("位于北京市", ["北京"], sentences="line")
        >>> em, round(f1, 4)  # LCS 北京: P 2/5, R 2/2
        (0.0, 0.5714)
    """

    name: ClassVar[str] = "cmrc_f1"
    stat: ClassVar[Literal["em", "f1"]] = "f1"
