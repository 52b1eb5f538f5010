"""Chinese steps: traditional → simplified conversion (OpenCC), segmentation and POS (jieba).

jieba keeps its dictionary in a tokenizer object. The module-level functions (``jieba.cut``,
``jieba.load_userdict``) share one global tokenizer, so a user dictionary loaded by one task
would leak into every other. These steps never touch it: they segment with
:func:`~bench.preprocess.segmenter.jieba_tokenizer`, one private ``jieba.Tokenizer`` per distinct
dictionary content, built once per process and cached. Two tasks with different user
dictionaries segment independently, and a task without one always sees jieba's stock
dictionary.

Each step's identity (:meth:`~bench.preprocess.base.Step.data_dependencies`) names jieba's version
and the hashes of its main dictionary and of the user dictionary, or OpenCC's version and the
hash of the conversion's configuration and dictionaries, so an upgrade or an edited dictionary
re-runs the step instead of reusing a cached result.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from bench.errors import MissingResource
from bench.preprocess.base import Batch, Step, TextStep, TokenStep, View, pos_column, tokens_column
from bench.preprocess.resources import opencc_identity, require_opencc
from bench.preprocess.segmenter import (
    jieba_identity,
    jieba_pos_tokenizer,
    jieba_tokenizer,
    stock_dictionary_present,
)

__all__ = ["TraditionalToSimplified", "ZhPOS", "ZhSegment"]


@functools.cache
def _converter(config: str) -> Any:
    opencc_class = require_opencc("traditional_to_simplified")
    try:
        return opencc_class(config)
    except RuntimeError as exc:  # what OpenCC raises when a config or dictionary is missing
        raise MissingResource(
            f"OpenCC conversion '{config}' (needed by step 'traditional_to_simplified') cannot "
            f"be loaded: {exc}",
            fix="reinstall opencc: pip install --force-reinstall 'opencc>=1.1.6'",
        ) from None


class TraditionalToSimplified(TextStep):
    """Convert traditional Chinese characters to simplified ones with OpenCC.

    Attributes:
        config: The OpenCC conversion: ``t2s`` (OpenCC's standard traditional characters),
            ``tw2s`` (Taiwan variants), ``hk2s`` (Hong Kong variants), or ``tw2sp`` (Taiwan, with
            phrases: 滑鼠 → 鼠标, 軟體 → 软件).

    Example:
        >>> TraditionalToSimplified().transform("漢字與計算機")
        '汉字与计算机'
        >>> TraditionalToSimplified(config="tw2sp").transform("滑鼠")
        '鼠标'
    """

    name: ClassVar[str] = "traditional_to_simplified"
    default_view: ClassVar[View] = "metric"  # an LLM reads the original form

    config: Literal["t2s", "tw2s", "hk2s", "tw2sp"] = "t2s"

    def check_resources(self) -> None:
        _converter(self.config)

    def data_dependencies(self) -> dict[str, Any]:
        return opencc_identity(self.config)

    def transform(self, text: str) -> str:
        return str(_converter(self.config).convert(text))

    def apply(self, batch: Batch, fields: Sequence[str]) -> Batch:
        cc = _converter(self.config)
        return {f: [None if t is None else str(cc.convert(t)) for t in batch[f]] for f in fields}


def _who(step: str) -> str:
    return f"step '{step}'"


class ZhSegment(TokenStep):
    """Segment Chinese text into words with jieba; writes ``<field>_tokens``.

    Whitespace-only tokens are dropped. Each user dictionary gets a private jieba tokenizer,
    cached per process, so tasks never see each other's dictionaries.

    Attributes:
        mode: ``accurate`` (jieba's default: the most probable segmentation), ``search``
            (accurate, plus the shorter words inside long ones, for search indexing), or
            ``full`` (every dictionary word found, overlapping).
        hmm: Use jieba's HMM to join characters into words not in the dictionary.
        user_dict: Path of a jieba user dictionary (``word [freq] [tag]`` per line, UTF-8),
            added to jieba's own; relative paths resolve against the working directory.

    Example:
        >>> ZhSegment().tokenize("我来到北京清华大学")
        ['我', '来到', '北京', '清华大学']
        >>> ZhSegment(mode="full").tokenize("清华大学")
        ['清华', '清华大学', '华大', '大学']
    """

    name: ClassVar[str] = "zh_segment"

    mode: Literal["accurate", "search", "full"] = "accurate"
    hmm: bool = True
    user_dict: str | None = None

    def check_resources(self) -> None:
        if self.user_dict is None and stock_dictionary_present():
            return  # the stock dictionary is there; loading it waits for the first text
        jieba_tokenizer(None, self.user_dict, who=_who(self.name))

    def data_dependencies(self) -> dict[str, Any]:
        return jieba_identity(None, self.user_dict)

    def _cut(self, tokenizer: Any, text: str) -> list[str]:
        if self.mode == "search":
            words = tokenizer.cut_for_search(text, HMM=self.hmm)
        else:
            words = tokenizer.cut(text, cut_all=self.mode == "full", HMM=self.hmm)
        return [w for w in words if w.strip()]

    def tokenize(self, text: str) -> list[str]:
        return self._cut(jieba_tokenizer(None, self.user_dict, who=_who(self.name)), text)

    def apply(self, batch: Batch, fields: Sequence[str]) -> Batch:
        tokenizer = jieba_tokenizer(None, self.user_dict, who=_who(self.name))
        return {
            tokens_column(f): [[] if t is None else self._cut(tokenizer, t) for t in batch[f]]
            for f in fields
        }


class ZhPOS(Step):
    """Segment and POS-tag Chinese text with ``jieba.posseg``.

    Writes ``<field>_tokens`` and ``<field>_pos`` (jieba's ICTCLAS-style tags: ``n`` noun,
    ``v`` verb, ``ns`` place name, ``r`` pronoun, ``x`` punctuation and other …), aligned one
    tag per token. Whitespace-only tokens are dropped with their tags.

    Attributes:
        hmm: Use jieba's HMM for words not in the dictionary.
        user_dict: Path of a jieba user dictionary; its third column, when given, is the tag.

    Example:
        >>> ZhPOS().apply({"text": ["我爱北京天安门"]}, ["text"])
        {'text_tokens': [['我', '爱', '北京', '天安门']], 'text_pos': [['r', 'v', 'ns', 'ns']]}
    """

    name: ClassVar[str] = "zh_pos"

    hmm: bool = True
    user_dict: str | None = None

    def check_resources(self) -> None:
        jieba_pos_tokenizer(None, self.user_dict, who=_who(self.name))

    def data_dependencies(self) -> dict[str, Any]:
        return jieba_identity(None, self.user_dict)

    def tag(self, text: str) -> tuple[list[str], list[str]]:
        """Segment and tag one text.

        Returns:
            The tokens and their tags, of equal length.
        """
        return self._tag(jieba_pos_tokenizer(None, self.user_dict, who=_who(self.name)), text)

    def _tag(self, pos_tokenizer: Any, text: str) -> tuple[list[str], list[str]]:
        tokens: list[str] = []
        tags: list[str] = []
        for pair in pos_tokenizer.cut(text, HMM=self.hmm):
            if pair.word.strip():
                tokens.append(pair.word)
                tags.append(pair.flag)
        return tokens, tags

    def apply(self, batch: Batch, fields: Sequence[str]) -> Batch:
        pos_tokenizer = jieba_pos_tokenizer(None, self.user_dict, who=_who(self.name))
        out: Batch = {}
        for f in fields:
            tagged = [([], []) if t is None else self._tag(pos_tokenizer, t) for t in batch[f]]
            out[tokens_column(f)] = [tokens for tokens, _ in tagged]
            out[pos_column(f)] = [tags for _, tags in tagged]
        return out
