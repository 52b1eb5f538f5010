"""English steps with NLTK: Treebank word tokenisation, Punkt sentence splitting, POS tagging.

NLTK data packages are looked up on ``nltk.data.path`` (set ``NLTK_DATA``) through
:func:`~bench.preprocess.resources.require_nltk`, so a missing package fails with a
:class:`~bench.errors.MissingResource` that names it and the download command. Word
tokenisation without sentence splitting needs no data at all.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, ClassVar, Final, Literal

from pydantic import Field

from bench.errors import MissingResource
from bench.preprocess.base import Batch, Step, TokenStep, pos_column, tokens_column
from bench.preprocess.resources import check_nltk, nltk_identity, nltk_location, require_nltk
from bench.preprocess.text import require_column

__all__ = ["EnPOS", "EnSentences", "EnTokenize", "sentences_column"]

_TAGGER_RESOURCE: Final = "taggers/averaged_perceptron_tagger_eng/"
_TAGGER_PACKAGE: Final = "averaged_perceptron_tagger_eng"
_UNIVERSAL_RESOURCE: Final = "taggers/universal_tagset/en-ptb.map"


def sentences_column(field: str) -> str:
    """Column name for the sentences of ``field``.

    Example:
        >>> sentences_column("text")
        'text_sentences'
    """
    return f"{field}_sentences"


def _punkt_resource(language: str) -> str:
    return f"tokenizers/punkt_tab/{language}/"


class EnTokenize(TokenStep):
    """Split English text into Penn Treebank-style tokens with NLTK; writes ``<field>_tokens``.

    This is ``nltk.tokenize.word_tokenize(text, preserve_line=not sentence_split)``:
    contractions split (``Don't`` → ``Do``, ``n't``), punctuation separated, double quotes
    written as ``` `` ``` and ``''``. Without sentence splitting only the final period of the
    text is split off (``Dr. Smith left.`` → ``Dr.``, ``Smith``, ``left``, ``.``) and no NLTK data
    is needed; with it, the text is first split with Punkt (the ``punkt_tab`` package), so a
    period ending each sentence is separated too.

    Attributes:
        sentence_split: Split into sentences with Punkt before tokenising.

    Example:
        >>> EnTokenize().tokenize("Don't panic, it's fine.")
        ['Do', "n't", 'panic', ',', 'it', "'s", 'fine', '.']
    """

    name: ClassVar[str] = "en_tokenize"
    libraries: ClassVar[tuple[str, ...]] = ("nltk",)

    sentence_split: bool = False

    def check_resources(self) -> None:
        if self.sentence_split:
            check_nltk(_punkt_resource("english"), "punkt_tab", self.name)

    def data_dependencies(self) -> dict[str, Any]:
        if not self.sentence_split:
            return {}
        return {"punkt_tab": nltk_identity(_punkt_resource("english"))}

    def tokenize(self, text: str) -> list[str]:
        self.check_resources()
        return self._tokenize(text)

    def _tokenize(self, text: str) -> list[str]:
        from nltk.tokenize import word_tokenize

        return list(word_tokenize(text, preserve_line=not self.sentence_split))

    def apply(self, batch: Batch, fields: Sequence[str]) -> Batch:
        self.check_resources()
        return {
            tokens_column(f): [[] if t is None else self._tokenize(t) for t in batch[f]]
            for f in fields
        }


class EnSentences(Step):
    """Split text into sentences with NLTK's Punkt model; writes ``<field>_sentences``.

    Needs the ``punkt_tab`` data package for ``language``.

    Attributes:
        language: The Punkt model, a folder name under ``tokenizers/punkt_tab/`` such as
            ``english`` or ``german``.

    Example:
        >>> EnSentences().apply({"text": ["Mr. Smith left. He was late."]}, ["text"])
        ... # doctest: +SKIP
        {'text_sentences': [['Mr. Smith left.', 'He was late.']]}
    """

    name: ClassVar[str] = "en_sentences"
    libraries: ClassVar[tuple[str, ...]] = ("nltk",)

    language: str = Field(default="english", pattern=r"^[a-z_]+$")

    def check_resources(self) -> None:
        check_nltk(_punkt_resource(self.language), "punkt_tab", self.name)

    def data_dependencies(self) -> dict[str, Any]:
        return {"punkt_tab": nltk_identity(_punkt_resource(self.language))}

    def split(self, text: str) -> list[str]:
        """Split one text into sentences."""
        self.check_resources()
        return self._split(text)

    def _split(self, text: str) -> list[str]:
        from nltk.tokenize import sent_tokenize

        return list(sent_tokenize(text, language=self.language))

    def apply(self, batch: Batch, fields: Sequence[str]) -> Batch:
        self.check_resources()
        return {
            sentences_column(f): [[] if t is None else self._split(t) for t in batch[f]]
            for f in fields
        }


# Loaded taggers and tag maps, keyed by where the data was found: NLTK's own caches are keyed by
# language only, so they would keep serving a model from a folder no longer on the data path.
_TAGGERS: dict[str, Any] = {}
_UNIVERSAL_MAPS: dict[str, dict[str, str]] = {}
_LOCK = threading.Lock()


def _tagger(step: str) -> Any:
    pointer = require_nltk(_TAGGER_RESOURCE, _TAGGER_PACKAGE, step)
    key = nltk_location(pointer)
    with _LOCK:
        tagger = _TAGGERS.get(key)
        if tagger is None:
            from nltk.tag.perceptron import PerceptronTagger

            tagger = PerceptronTagger(load=False)
            try:
                tagger.load_from_json(lang="eng", loc=pointer)
            except (LookupError, OSError, ValueError) as exc:
                raise MissingResource(
                    f"NLTK data package '{_TAGGER_PACKAGE}' (needed by step '{step}') at {key} "
                    f"is incomplete or unreadable: {exc}",
                    fix=f"run `python -m nltk.downloader {_TAGGER_PACKAGE}` to reinstall it",
                ) from None
            _TAGGERS[key] = tagger
    return tagger


def _universal_map(step: str) -> dict[str, str]:
    pointer = require_nltk(_UNIVERSAL_RESOURCE, "universal_tagset", step)
    key = nltk_location(pointer)
    with _LOCK:
        mapping = _UNIVERSAL_MAPS.get(key)
        if mapping is None:
            with pointer.open() as fh:
                text = fh.read().decode("utf-8")
            mapping = {}
            for line in text.splitlines():
                if line.strip():
                    fine, coarse = line.strip().split("\t")
                    mapping[fine] = coarse
            _UNIVERSAL_MAPS[key] = mapping
    return mapping


class EnPOS(Step):
    """Tag ``<field>_tokens`` with NLTK's averaged perceptron tagger; writes ``<field>_pos``.

    Needs a tokenising step (``en_tokenize``) before it, and the NLTK data package
    ``averaged_perceptron_tagger_eng`` (plus ``universal_tagset`` for the universal tags).

    Attributes:
        tagset: ``ptb`` for the Penn Treebank tags the model predicts (``NN``, ``VBZ`` …), or
            ``universal`` for the 12 universal tags (``NOUN``, ``VERB`` …; unknown tags map
            to ``X``, as in NLTK).

    Example:
        >>> batch = {"text_tokens": [["The", "cat", "sat", "."]]}
        >>> EnPOS().apply(batch, ["text"])  # doctest: +SKIP
        {'text_pos': [['DT', 'NN', 'VBD', '.']]}
    """

    name: ClassVar[str] = "en_pos"
    needs_tokens: ClassVar[bool] = True
    libraries: ClassVar[tuple[str, ...]] = ("nltk",)

    tagset: Literal["ptb", "universal"] = "ptb"

    def check_resources(self) -> None:
        _tagger(self.name)
        if self.tagset == "universal":
            _universal_map(self.name)

    def data_dependencies(self) -> dict[str, Any]:
        data = {_TAGGER_PACKAGE: nltk_identity(_TAGGER_RESOURCE)}
        if self.tagset == "universal":
            data["universal_tagset"] = nltk_identity(_UNIVERSAL_RESOURCE)
        return data

    def tag(self, tokens: Sequence[str]) -> list[str]:
        """Tag one list of tokens; returns one tag per token."""
        return self._tags(_tagger(self.name), self._mapping(), tokens)

    def _mapping(self) -> dict[str, str] | None:
        return _universal_map(self.name) if self.tagset == "universal" else None

    @staticmethod
    def _tags(tagger: Any, mapping: dict[str, str] | None, tokens: Sequence[str]) -> list[str]:
        tags = [tag for _, tag in tagger.tag(list(tokens))]
        return tags if mapping is None else [mapping.get(tag, "X") for tag in tags]

    def apply(self, batch: Batch, fields: Sequence[str]) -> Batch:
        tagger, mapping = _tagger(self.name), self._mapping()
        return {
            pos_column(f): [
                self._tags(tagger, mapping, tokens)
                for tokens in require_column(batch, tokens_column(f), self.name)
            ]
            for f in fields
        }
