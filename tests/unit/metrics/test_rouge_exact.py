"""bench's ROUGE against rouge-score, the reference, number for number.

bench computes ROUGE itself (``bench.metrics.rouge``: cached tokens, Counter overlaps,
rapidfuzz's LCS length, a bit-parallel union LCS for ROUGE-Lsum). These tests hold it to
rouge-score's own ``RougeScorer.score_multi``, called as bench used to call it (the whole texts for
ROUGE-1/2/L; for ROUGE-Lsum the texts' sentences, by bench's splitter, one a line): every
per-example precision, recall and F-measure of every type must be the same float, which is
stricter than the 1e-12 the issue asks for.

* Real summaries (``../shared/data``): CNN/DailyMail FRANK (every system against the reference
  highlights; with and without the stemmer; one and two references), XSum extracts (the lead
  paragraph and the whole article against the introduction, and the introduction against the
  article) and CSL (the abstract's lead and the whole abstract against the title; jieba and
  characters). A sample in the default run, every pair under ``-m slow``.
* Generated pairs (seeded): empty, whitespace- and punctuation-only, one-token, repeated-token,
  very long (over 2,000 tokens), Unicode, multi-sentence and multi-paragraph texts, English and
  Chinese, one to three references. 3,000 by default, 100,000 under ``-m slow``.
* The parts on their own: the union LCS against rouge-score's ``lcs_ind`` on small alphabets
  (where the read-out's tie-breaks decide), the default tokenizer against rouge-score's, and
  jieba's words of a text against the words of its blocks.
"""

from __future__ import annotations

import csv
import functools
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rouge_score import rouge_scorer
from rouge_score.rouge_scorer import RougeScorer
from rouge_score.tokenizers import DefaultTokenizer

from bench.data.readers import _xsum_files
from bench.metrics import rouge as rouge_module
from bench.metrics.rouge import CharTokenizer, JiebaTokenizer, rouge_scores
from bench.preprocess.sentences import sentence_splitter

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
FRANK = DATA / "cnn-dailymail" / "frank-test-subset" / "cnndm_test_frank_subset.jsonl"
XSUM = DATA / "xsum" / "xsum-extracts-test-subset"
CSL = DATA / "csl-title-summarization" / "ts"
SYSTEMS = ("bart", "bart_cased", "bert_sum", "bus", "pgn", "s2s")
TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
Pairs = tuple[list[str], list[tuple[str, ...]]]


# --------------------------------------------------------------------------------------------
# The reference and the comparison


class _CachedStemmer:
    """NLTK's Porter stemmer, as rouge-score's DefaultTokenizer holds it, with its results
    cached: a stem is a pure function of the word, and stemming is most of the reference's time."""

    def __init__(self) -> None:
        from nltk.stem import porter

        self.stem = functools.lru_cache(maxsize=None)(porter.PorterStemmer().stem)


class _Memo:
    """A tokenizer whose results are cached per text (each call gets a fresh list)."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenize = functools.lru_cache(maxsize=1 << 16)(
            lambda text: tuple(tokenizer.tokenize(text))
        )

    def tokenize(self, text: str) -> list[str]:
        return list(self._tokenize(text))


def reference_scores(
    preds: Sequence[str],
    refs: Sequence[tuple[str, ...]],
    language: str,
    tokenizer: str,
    stemmer: bool,
    splitter: str,
) -> dict[str, np.ndarray]:
    """rouge-score's ``score_multi`` per pair: ``{type: (n, 3) array of P, R, F}``."""
    if tokenizer == "default":
        tok: Any = DefaultTokenizer(stemmer)
        if stemmer:
            tok._stemmer = _CachedStemmer()
    else:
        tok = {"jieba": JiebaTokenizer, "char": CharTokenizer}[tokenizer](stemmer)
    tok = _Memo(tok)
    whole = RougeScorer(list(TYPES[:3]), tokenizer=tok)
    lsum = RougeScorer(["rougeLsum"], tokenizer=tok)
    split = sentence_splitter(language, splitter).split
    out = {t: np.zeros((len(preds), 3)) for t in TYPES}
    for i, (pred, targets) in enumerate(zip(preds, refs, strict=True)):
        best = whole.score_multi(list(targets), pred)
        best.update(
            lsum.score_multi(["\n".join(split(t)) for t in targets], "\n".join(split(pred)))
        )
        for t in TYPES:
            out[t][i] = best[t]
    return out


def assert_same(
    pairs: Pairs,
    language: str,
    *,
    tokenizer: str = "default",
    stemmer: bool = True,
    splitter: str = "rule",
) -> int:
    """bench's per-example P, R and F equal rouge-score's exactly, for every type; returns the
    number of pairs compared."""
    preds, refs = pairs
    got = rouge_scores(
        preds,
        refs,
        language,
        tokenizer=tokenizer,
        stemmer=stemmer,
        splitter=splitter,  # type: ignore[arg-type]
    )
    expected = reference_scores(preds, refs, language, tokenizer, stemmer, splitter)
    for t in TYPES:
        ours = np.stack([got[t].precision, got[t].recall, got[t].fmeasure], axis=1)
        bad = np.flatnonzero((ours != expected[t]).any(axis=1))
        if bad.size:
            i = int(bad[0])
            pytest.fail(
                f"{t} differs on {bad.size} of {len(preds)} pairs ({tokenizer}, stemmer "
                f"{stemmer}, {splitter}); first: pair {i}, bench {ours[i].tolist()}, "
                f"rouge-score {expected[t][i].tolist()}\nprediction {preds[i]!r:.300}\n"
                f"references {refs[i]!r:.300}"
            )
    return len(preds)


# --------------------------------------------------------------------------------------------
# Real summaries


def frank_pairs(step: int = 1) -> tuple[Pairs, Pairs]:
    """Every system against ``bart_reference``; and against both reference versions (the
    cased PTB-tokenised highlights and the lower-cased ones)."""
    rows = [json.loads(line) for line in FRANK.read_text(encoding="utf-8").splitlines()]
    one: Pairs = ([], [])
    two: Pairs = ([], [])
    for k, row in enumerate(rows):
        for s in SYSTEMS:
            if row.get(s) and k % step == 0:
                one[0].append(row[s])
                one[1].append((row["bart_reference"],))
                two[0].append(row[s])
                two[1].append((row["bert_sum_reference"], row["bart_reference"]))
    return one, two


def xsum_pairs(step: int = 1) -> Pairs:
    files = sorted(str(p) for p in XSUM.glob("*.data"))[::step]
    preds: list[str] = []
    refs: list[tuple[str, ...]] = []
    for row in _xsum_files(files, ""):
        intro, document = row["summary"], row["document"]
        lead = document.split("\n", 1)[0]
        preds += [lead, document, intro]
        refs += [(intro,), (intro,), (document,)]
    return preds, refs


def csl_pairs(step: int = 1) -> Pairs:
    split = sentence_splitter("zh").split
    preds: list[str] = []
    refs: list[tuple[str, ...]] = []
    for name in ("dev.tsv", "test.tsv"):
        with (CSL / name).open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))[::step]
        for _, abstract, title in rows:
            preds += ["".join(split(abstract)[:2]), abstract]
            refs += [(title,), (title,)]
    return preds, refs


def test_real_summaries_sample(nltk_data) -> None:
    one, two = frank_pairs(step=25)
    n = assert_same(one, "en", splitter="punkt")
    n += assert_same(two, "en", stemmer=False, splitter="punkt")
    n += assert_same(xsum_pairs(step=16), "en", splitter="punkt")
    n += assert_same(csl_pairs(step=20), "zh", tokenizer="jieba", stemmer=False, splitter="auto")
    assert n == 6 * 10 * 2 + 3 * 21 + 2 * 100


@pytest.mark.slow
def test_every_real_summary(nltk_data) -> None:
    one, two = frank_pairs()
    assert len(one[0]) == 1500
    n = 0
    for stemmer in (True, False):
        n += assert_same(one, "en", stemmer=stemmer, splitter="punkt")
    n += assert_same(two, "en", splitter="punkt")
    n += assert_same(one, "en", splitter="rule")
    xsum = xsum_pairs()
    assert len(xsum[0]) == 3 * 321
    n += assert_same(xsum, "en", splitter="punkt")
    n += assert_same(xsum, "en", stemmer=False, splitter="rule")
    csl = csl_pairs()
    assert len(csl[0]) == 2 * 2000
    n += assert_same(csl, "zh", tokenizer="jieba", stemmer=False, splitter="auto")
    n += assert_same(csl, "zh", tokenizer="char", stemmer=False, splitter="auto")
    n += assert_same(csl, "zh", tokenizer="jieba", stemmer=True, splitter="auto")
    assert n == 4 * 1500 + 2 * 963 + 3 * 4000


# --------------------------------------------------------------------------------------------
# Generated pairs

_EN_WORDS = tuple(
    [
        "the",
        "a",
        "an",
        "of",
        "cat",
        "cats",
        "running",
        "runs",
        "ran",
        "generously",
        "caresses",
        "ponies",
        "agreed",
        "relational",
        "conditional",
        "hopping",
        "meetings",
        "is",
        "was",
        "be",
        "being",
        "x",
        "1",
        "2024",
        "3.14",
        "1,000",
        "U.S.",
        "don't",
        "co-operate",
        "e-mail",
        "THE",
        "Cat",
        "RUNNING",
        "naïve",
        "café",
        "Straße",
        "İstanbul",
        "Kelvin",
        "ＡＢＣ１２",
        "Ωmega",
        "Привет",
        "😀",
        "<b>bold</b>",
        "&amp;",
        "--",
        "...",
        "!!",
        "?",
        "'",
        '"',
        "(",
        ")",
        "北京",
        "x1y2",
        "ab_cd",
        "ÆON",
        "ǅemal",
        "ﬁnance",
    ]
)
_TINY_WORDS = ("a", "b", "c", "aa", "a.")
_ZH_WORDS = tuple(
    [
        "中国",
        "北京",
        "的",
        "是",
        "大学",
        "学习",
        "清华大学",
        "我",
        "来到",
        "研究",
        "方法",
        "模型",
        "基于",
        "网络",
        "数据",
        "了",
        "在",
        "和",
        "系统",
        "分析",
        "中文",
        "分词",
        "控制器",
        "设计",
        "飞行器",
        "姿态",
        "NLP",
        "BERT",
        "2024",
        "3.5",
        "T恤",
        "running",
        "Cats",
        "。",
        "！",
        "？",
        "，",
        "、",
        "（",
        "）",
        "：",
        "“",
        "”",
        ".",
    ]
)
_SEPARATORS = (" ", " ", " ", " ", ". ", "! ", "? ", "\n", "\n\n", "  ", "\t", " .\n", "; ")
_ZH_SEPARATORS = ("", "", "", "", "。", "！", "？", "，", "\n", " ", "；", "\n\n")
_ODD = ("", " ", "  \n\t ", "\n\n", "!!! ... --- ?", "。，！", "\u3000", "\u200b", "\ufeff")


def _text(rng: random.Random, words: Sequence[str], separators: Sequence[str], size: int) -> str:
    kind = rng.random()
    if kind < 0.06:
        return rng.choice(_ODD)
    if kind < 0.12:
        return rng.choice(words)
    if kind < 0.18:
        word = rng.choice(words)
        sep = rng.choice(separators[:2])
        return sep.join([word] * rng.randrange(2, 40))
    out = []
    for _ in range(size or rng.randrange(1, 21)):
        out.append(rng.choice(words))
        out.append(rng.choice(separators))
    return "".join(out)


def generated_pairs(seed: int, n: int, language: str, long: int = 4) -> Pairs:
    """``n`` seeded random pairs with one to three references each; in ``long`` of them the
    prediction or a reference has over 2,000 tokens."""
    rng = random.Random(seed)
    long_ones = set(rng.sample(range(n), min(long, n)))
    preds: list[str] = []
    refs: list[tuple[str, ...]] = []
    for i in range(n):
        if language == "zh":
            words, separators = _ZH_WORDS, _ZH_SEPARATORS
        elif rng.random() < 0.3:  # few distinct tokens: many equal LCSs, ties in the read-out
            words, separators = _TINY_WORDS, _SEPARATORS
        else:
            words, separators = _EN_WORDS, _SEPARATORS
        count = rng.choice((1, 1, 1, 1, 2, 3))
        sizes = [0] * (1 + count)
        if i in long_ones:
            sizes[rng.randrange(1 + count)] = rng.randrange(2_000, 2_600)
        preds.append(_text(rng, words, separators, sizes[0]))
        refs.append(tuple(_text(rng, words, separators, size) for size in sizes[1:]))
    return preds, refs


_GENERATED = (
    # (seed, share of the pairs, language, tokenizer, stemmer, splitter)
    (1, 0.45, "en", "default", True, "rule"),
    (2, 0.15, "en", "default", False, "rule"),
    (3, 0.05, "en", "default", True, "punkt"),
    (4, 0.20, "zh", "jieba", False, "auto"),
    (5, 0.05, "zh", "jieba", True, "auto"),
    (6, 0.10, "zh", "char", False, "auto"),
)


def _generated(total: int) -> int:
    n = 0
    for seed, share, language, tokenizer, stemmer, splitter in _GENERATED:
        pairs = generated_pairs(seed, round(total * share), language)
        n += assert_same(pairs, language, tokenizer=tokenizer, stemmer=stemmer, splitter=splitter)
    return n


def test_generated_pairs(nltk_data) -> None:
    assert _generated(3_000) == 3_000


@pytest.mark.slow
def test_100k_generated_pairs(nltk_data) -> None:
    assert _generated(100_000) == 100_000


def test_generated_pairs_have_the_edge_cases() -> None:
    preds, refs = generated_pairs(1, 3_000, "en")
    texts = preds + [r for rs in refs for r in rs]
    tokens = DefaultTokenizer().tokenize
    assert any(t == "" for t in texts)
    assert any(t.strip() == "" and t for t in texts)
    assert any(t and not tokens(t) for t in texts)  # punctuation- or non-ASCII-only
    assert any(len(tokens(t)) == 1 for t in texts)
    assert any(len(set(tokens(t))) == 1 and len(tokens(t)) > 5 for t in texts)
    assert any(len(tokens(t)) > 2_000 for t in texts)
    assert any(t.count("\n") > 5 for t in texts)
    assert any(len(r) == 3 for r in refs)


# --------------------------------------------------------------------------------------------
# The parts


def test_union_lcs_reads_out_rouge_score_s_lcs() -> None:
    """The positions bench's bit-parallel read-out picks are rouge-score's, tie-breaks included:
    small alphabets give many LCSs of equal length, and the read-out decides which."""
    rng = random.Random(7)
    for _ in range(10_000):
        alphabet = rng.randrange(1, 5)
        reference = tuple(rng.randrange(alphabet) for _ in range(rng.randrange(0, 13)))
        candidates = tuple(
            tuple(rng.randrange(alphabet) for _ in range(rng.randrange(0, 13)))
            for _ in range(rng.randrange(1, 5))
        )
        expected = set(
            rouge_scorer._find_union([rouge_scorer.lcs_ind(reference, c) for c in candidates])
        )
        masks, segments, keep = rouge_module._Summary(candidates).candidate()
        got = rouge_module._union_lcs(reference, masks, segments, keep) if masks else set()
        assert got == expected, (reference, candidates)


def test_union_lcs_on_long_sentences() -> None:
    rng = random.Random(8)
    for _ in range(20):
        reference = tuple(rng.randrange(30) for _ in range(rng.randrange(100, 300)))
        candidates = tuple(
            tuple(rng.randrange(30) for _ in range(rng.randrange(50, 200))) for _ in range(3)
        )
        expected = set(
            rouge_scorer._find_union([rouge_scorer.lcs_ind(reference, c) for c in candidates])
        )
        assert (
            rouge_module._union_lcs(reference, *rouge_module._Summary(candidates).candidate())
            == expected
        )


def _tokens(plan: Any, text: str) -> list[str]:
    ids = rouge_module._TextIds(plan, rouge_module._Vocab())
    numbered = ids[text]
    names = {i: token for token, i in ids.vocab.items()}
    return [names[i] for i in numbered]


@pytest.mark.parametrize("stemmer", [True, False])
def test_default_tokens_are_rouge_score_s(stemmer: bool) -> None:
    plan = rouge_module._plan("en", "default", stemmer, ("rouge1",), ())
    tricky = [
        "",
        "Running RUNNING running's runners",
        "\u212aelvin İstanbul ǅemal ﬁnance ÆON Straße naïve",  # lower() makes some ASCII
        "ＡＢＣ１２ x1y2 ab_cd 3.14 1,000 U.S.A. don't",
        "ponies caresses generously agreed relational conditional hopping sky's the limit",
        "\u00a0a\u2003b\u200bc\nd\te",
    ]
    preds, refs = generated_pairs(9, 300, "en")
    reference = DefaultTokenizer(stemmer).tokenize
    for text in tricky + preds + [r for rs in refs for r in rs]:
        assert _tokens(plan, text) == reference(text), text


def test_jieba_words_of_a_text_are_the_words_of_its_blocks() -> None:
    plan = rouge_module._plan("zh", "jieba", True, ("rouge1",), ())
    tokenizer = JiebaTokenizer(use_stemmer=True)
    abstracts = csl_pairs(step=10)[0]
    preds, refs = generated_pairs(10, 300, "zh")
    for text in abstracts + preds + [r for rs in refs for r in rs]:
        assert _tokens(plan, text) == tokenizer.tokenize(text), text
