"""Language-aware sentence splitting, shared by ROUGE-Lsum and the extractive baselines.

* Chinese (and Japanese): split after 。！？… and their ASCII counterparts (and after a half-width
  ``.`` followed by a Chinese character), keeping closing quotes and brackets with the sentence
  they close.
* English and other space-delimited languages: NLTK's Punkt (the ``punkt_tab`` package) when
  its data is installed, else a rule splitter (after ``.!?`` followed by space and an upper-case
  letter, digit or opening quote). Which one ran is part of every signature that depends on it,
  so a number never hides a change of splitter.

Blank lines always end a sentence (paragraph breaks).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

__all__ = ["SentenceSplitter", "sentence_splitter", "split_sentences"]

# A half-width full stop ends a Chinese sentence too when Chinese text follows it (scientific
# abstracts such as CSL's write "。" as "."); elsewhere it may be a decimal point or an
# abbreviation.
_ZH_END = re.compile(r"[。！？!?…]+[”’」』）)\]\"']*|\.(?=[\u3400-\u9fff])")
_EN_RULE = re.compile(r"(?<=[.!?])[\"')\]”’]*\s+(?=[A-Z0-9\"'(“‘])")
_PARAGRAPH = re.compile(r"\n\s*\n|\r\n\s*\r\n")


@dataclass(frozen=True)
class SentenceSplitter:
    """A named splitter: ``name`` goes into signatures, ``split`` does the work."""

    name: str
    split: Callable[[str], list[str]]


def _zh_split(text: str) -> list[str]:
    out: list[str] = []
    for para in _PARAGRAPH.split(text):
        for line in para.splitlines():
            start = 0
            for m in _ZH_END.finditer(line):
                out.append(line[start : m.end()])
                start = m.end()
            out.append(line[start:])
    return [s.strip() for s in out if s.strip()]


def _en_rule_split(text: str) -> list[str]:
    out: list[str] = []
    for para in _PARAGRAPH.split(text):
        flat = " ".join(para.split())
        if not flat:
            continue
        pieces = _split_keep(flat)
        out += [p.strip() for p in pieces if p.strip()]
    return out


def _split_keep(flat: str) -> list[str]:
    pieces, start = [], 0
    for m in _EN_RULE.finditer(flat):
        # m spans closing quotes + whitespace: keep the quotes with the sentence.
        quote_len = len(m.group(0)) - len(m.group(0).lstrip("\"')]”’"))
        end = m.start() + quote_len
        pieces.append(flat[start:end])
        start = m.end()
    pieces.append(flat[start:])
    return pieces


def _punkt_available(language: str) -> bool:
    from bench.preprocess.resources import nltk_find

    return nltk_find(f"tokenizers/punkt_tab/{language}/") is not None


def _punkt_split(text: str) -> list[str]:
    from nltk.tokenize import sent_tokenize

    out: list[str] = []
    for para in _PARAGRAPH.split(text):
        flat = " ".join(para.split())
        if flat:
            out += [s.strip() for s in sent_tokenize(flat, language="english") if s.strip()]
    return out


@cache
def _cached(language: str, prefer: str, punkt: bool) -> SentenceSplitter:
    if language.startswith(("zh", "ja")):
        return SentenceSplitter("zh-punct", _zh_split)
    if prefer == "punkt" or (prefer == "auto" and punkt):
        from bench.preprocess.resources import check_nltk

        check_nltk("tokenizers/punkt_tab/english/", "punkt_tab", "sentence splitting")
        return SentenceSplitter("punkt_tab", _punkt_split)
    return SentenceSplitter("rule", _en_rule_split)


def sentence_splitter(language: str, prefer: str = "auto") -> SentenceSplitter:
    """The splitter for ``language``.

    Args:
        language: A language code (``en``, ``zh``...).
        prefer: ``auto`` (Punkt when installed, else rules), ``punkt`` (require Punkt; raises
            ``MissingResource`` without it) or ``rule``.

    Example:
        >>> sentence_splitter("zh").split("今天下雨了。我们不去公园了！好吗？")
        ['今天下雨了。', '我们不去公园了！', '好吗？']
    """
    if prefer not in ("auto", "punkt", "rule"):
        raise ValueError(f"unknown sentence splitter preference '{prefer}'")
    punkt = (
        prefer != "rule" and not language.startswith(("zh", "ja")) and _punkt_available("english")
    )
    return _cached(language, prefer, punkt)


def split_sentences(text: str, language: str, prefer: str = "auto") -> list[str]:
    """Split ``text`` into sentences with :func:`sentence_splitter`.

    Example:
        >>> split_sentences("It rained. We stayed in.", "en", prefer="rule")
        ['It rained.', 'We stayed in.']
    """
    return sentence_splitter(language, prefer).split(text)
