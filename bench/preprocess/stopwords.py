"""Stopword removal for English (NLTK's list) and Chinese (bench's own list).

The Chinese list ships with bench (``bench/preprocess/data/zh_stopwords.txt``): common function
words (pronouns, particles, conjunctions, prepositions, auxiliaries, degree and time adverbs,
interjections) and punctuation, Chinese and ASCII. It deliberately leaves out negations
(不, 没, 没有, 别, 未, 无, 非 …): dropping them flips the meaning of a sentiment example.
Add them with ``extra`` if a task wants them gone.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from importlib import resources
from typing import Any, ClassVar, Final, Literal

from pydantic import Field

from bench.errors import MissingResource
from bench.identity import short_hash
from bench.preprocess.base import Batch, Step, pos_column, tokens_column
from bench.preprocess.resources import nltk_identity, nltk_location, require_nltk
from bench.preprocess.text import require_column

__all__ = ["RemoveStopwords", "stopword_list"]

_ZH_FILE: Final = "zh_stopwords.txt"
_EN_RESOURCE: Final = "corpora/stopwords/english"


@functools.cache
def _zh_stopwords() -> tuple[str, ...]:
    path = resources.files("bench.preprocess").joinpath("data").joinpath(_ZH_FILE)
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        raise MissingResource(
            f"bench's Chinese stopword list ({_ZH_FILE}, needed by step 'remove_stopwords') is "
            "missing from the installed package",
            fix="reinstall bench",
        ) from None
    return tuple(line.strip() for line in text.splitlines() if line.strip())


# NLTK's English list, keyed by where it was found.
_EN_LISTS: dict[str, tuple[str, ...]] = {}


def _en_stopwords(step: str) -> tuple[str, ...]:
    pointer = require_nltk(_EN_RESOURCE, "stopwords", step)
    key = nltk_location(pointer)
    words = _EN_LISTS.get(key)
    if words is None:
        with pointer.open() as fh:
            text = fh.read().decode("utf-8")
        words = tuple(w.strip() for w in text.splitlines() if w.strip())
        _EN_LISTS[key] = words
    return words


def stopword_list(language: Literal["en", "zh"]) -> tuple[str, ...]:
    """The built-in stopword list of ``language``, in file order.

    English is NLTK's list (the ``stopwords`` data package, 179 words in its current release);
    Chinese is bench's own list.

    Raises:
        MissingResource: The English list is asked for and NLTK's ``stopwords`` is absent.

    Example:
        >>> "的" in stopword_list("zh")
        True
    """
    return _zh_stopwords() if language == "zh" else _en_stopwords("remove_stopwords")


class RemoveStopwords(Step):
    """Drop stopwords from ``<field>_tokens`` (and the aligned tags in ``<field>_pos``).

    Needs a tokenising step before it. Matching is on whole tokens.

    Attributes:
        language: ``en`` (NLTK's English list; needs the ``stopwords`` package) or ``zh``
            (bench's Chinese list, shipped with the package).
        extra: More stopwords to remove, on top of the list.
        case_sensitive: Match case exactly; by default tokens and stopwords are compared
            lower-cased, so ``The`` is removed like ``the``.

    Example:
        >>> batch = {"text_tokens": [["我", "的", "朋友", "了", "。"]]}
        >>> RemoveStopwords(language="zh").apply(batch, ["text"])
        {'text_tokens': [['朋友']]}
    """

    name: ClassVar[str] = "remove_stopwords"
    needs_tokens: ClassVar[bool] = True

    language: Literal["en", "zh"]
    extra: list[str] = Field(default_factory=list)
    case_sensitive: bool = False

    def check_resources(self) -> None:
        stopword_list(self.language)

    def data_dependencies(self) -> dict[str, Any]:
        if self.language == "en":
            return {"stopwords": nltk_identity(_EN_RESOURCE)}
        try:
            listed: str | None = short_hash(list(_zh_stopwords()))
        except MissingResource:
            listed = None
        return {"zh_stopwords": listed}

    def stopwords(self) -> frozenset[str]:
        """The set matched against tokens (lower-cased unless ``case_sensitive``)."""
        words = (*stopword_list(self.language), *self.extra)
        return frozenset(words if self.case_sensitive else (w.lower() for w in words))

    def apply(self, batch: Batch, fields: Sequence[str]) -> Batch:
        stop = self.stopwords()
        exact = self.case_sensitive
        out: Batch = {}
        for f in fields:
            rows = require_column(batch, tokens_column(f), self.name)
            keeps = [[(t if exact else t.lower()) not in stop for t in tokens] for tokens in rows]
            out[tokens_column(f)] = [
                [tok for tok, keep in zip(tokens, row, strict=True) if keep]
                for tokens, row in zip(rows, keeps, strict=True)
            ]
            if pos_column(f) in batch:
                out[pos_column(f)] = [
                    [tag for tag, keep in zip(tags, row, strict=True) if keep]
                    for tags, row in zip(batch[pos_column(f)], keeps, strict=True)
                ]
        return out
