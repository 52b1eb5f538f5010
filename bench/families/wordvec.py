"""The word-vector families: word similarity and word analogy (intrinsic evaluation).

``word-similarity``: each row is a word pair with a human similarity score (WordSim-353,
SimLex-999, WordSim-297). A model answers with the cosine similarity of the two words'
vectors, or ``None`` when a word is outside the vocabulary it searches; the metrics correlate
the answers with the human scores (Spearman's ρ, Pearson's r) and record the coverage.

``word-analogy``: each row is a question ``a : b :: c : ?`` with the expected word ``d`` and
its ``: category`` section (the Google analogy set, CA8). A model answers with its 3CosAdd and
3CosMul guesses (Mikolov et al., 2013; Levy & Goldberg, 2014), or ``None`` when a question
word is outside its vocabulary; the metrics are accuracy overall and per category, and the
coverage.

The settings that change an answer ride in every request, so the request's content hash (the
prediction cache key) covers them: ``case_insensitive`` (gensim's semantics: both sides
upper-cased, and among a word's case variants the first in the vector file's order stands for
it) and ``restrict_vocab`` (only the first N words of the vector file are searched, and a word
outside them is out of vocabulary; ``None`` searches all). The defaults are gensim 4.4's
``KeyedVectors.evaluate_word_pairs`` / ``evaluate_word_analogies`` defaults (``True``,
300000), and bench's numbers equal gensim's on the same settings (see
``tests/golden/test_wordvec_gensim.py``).

The analogy request also carries the expected word ``d``: as in gensim's evaluation, a question
whose expected word is outside the vocabulary is out of vocabulary (skipped, or scored wrong),
which only the model's vocabulary can tell. Vector models never use it to answer (they search
the whole restricted vocabulary), and no prompt shows it.

A language model (a generic adapter) is asked through the family's prompt: for a pair, a
similarity from 0 to 10 (read back as the first number in its answer, divided by 10; a
correlation does not change with the scale; no number in range is out of its vocabulary,
``None``); for a question, one word (its 3CosAdd answer; it gives no 3CosMul answer). The
analogy prompt never shows ``d``.

Options (the task file's ``options:``):

* similarity: ``case_insensitive`` (default ``true``), ``restrict_vocab`` (default 300000,
  ``null`` for all), ``oov: skip | constant`` (``skip``: pairs outside the vocabulary are left
  out of the correlation; ``constant``: they are scored ``oov_similarity``, gensim's
  ``dummy4unknown``), ``oov_similarity`` (default 0.0).
* analogy: ``case_insensitive``, ``restrict_vocab`` (as above), ``oov: skip | wrong``
  (``wrong``: a question outside the vocabulary counts as a wrong answer, gensim's
  ``dummy4unknown``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bench.errors import TaskSpecError
from bench.families.base import Family, Request, Response
from bench.families.extract import strip
from bench.families.prompts import PromptValue
from bench.spec import TaskSpec

__all__ = [
    "AnalogyOptions",
    "SimilarityOptions",
    "WordAnalogyFamily",
    "WordAnalogyRequest",
    "WordAnalogyResponse",
    "WordSimilarityFamily",
    "WordSimilarityRequest",
    "WordSimilarityResponse",
    "fold",
]

DEFAULT_RESTRICT_VOCAB = 300_000
"""gensim's default ``restrict_vocab`` for both evaluations."""

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_PUNCTUATION = "\"'“”‘’「」《》.,;:!?。，；：！？()（）"

SIMILARITY_TOLERANCE = 1e-4
"""How far outside [-1, 1] a cosine similarity may lie (float32 rounding) before a response is
refused."""


def fold(word: str, case_insensitive: bool) -> str:
    """The form a word is looked up by: upper-cased when ``case_insensitive`` (as gensim).

    Example:
        >>> fold("Paris", True), fold("Paris", False)
        ('PARIS', 'Paris')
    """
    return word.upper() if case_insensitive else word


class _VocabularyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    case_insensitive: bool = True
    restrict_vocab: int | None = Field(default=DEFAULT_RESTRICT_VOCAB, ge=1)


class SimilarityOptions(_VocabularyOptions):
    """Options of a word-similarity task (see the module docstring)."""

    oov: Literal["skip", "constant"] = "skip"
    oov_similarity: float = Field(default=0.0, ge=-1.0, le=1.0)


class AnalogyOptions(_VocabularyOptions):
    """Options of a word-analogy task (see the module docstring)."""

    oov: Literal["skip", "wrong"] = "skip"


class WordSimilarityRequest(Request):
    """The similarity of ``word1`` and ``word2``.

    Attributes:
        word1: The first word, as the data file spells it.
        word2: The second word.
        case_insensitive: Look the words up upper-cased (gensim's ``case_insensitive``).
        restrict_vocab: Only the first N words of the vocabulary count (``None``: all).
    """

    family: ClassVar[str] = "word-similarity"
    word1: str
    word2: str
    case_insensitive: bool = True
    restrict_vocab: int | None = DEFAULT_RESTRICT_VOCAB


class WordSimilarityResponse(Response):
    """A model's similarity of a pair.

    Attributes:
        similarity: The cosine similarity of the two words' vectors, or ``None`` when a word is
            outside the (restricted) vocabulary.
    """

    family: ClassVar[str] = "word-similarity"
    similarity: float | None

    @field_validator("similarity")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError(f"similarity must be a finite number or null, got {value}")
        return value


class WordAnalogyRequest(Request):
    """The question ``a : b :: c : ?``.

    Attributes:
        a: The first word of the known pair.
        b: The second word of the known pair.
        c: The first word of the asked pair.
        d: The expected answer: only its presence in the vocabulary is looked at (a question
            whose answer is out of vocabulary is out of vocabulary, as in gensim), never used
            to answer.
        category: The question's ``: category`` section.
        case_insensitive: Look the words up upper-cased and compare answers upper-cased.
        restrict_vocab: Only the first N words of the vocabulary are searched.
    """

    family: ClassVar[str] = "word-analogy"
    a: str
    b: str
    c: str
    d: str
    category: str
    case_insensitive: bool = True
    restrict_vocab: int | None = DEFAULT_RESTRICT_VOCAB


class WordAnalogyResponse(Response):
    """A model's answers to an analogy question.

    Attributes:
        cosadd: The 3CosAdd answer (the word nearest to b − a + c), ``""`` when the
            vocabulary holds no candidate besides the question words, ``None`` when a question
            word is outside the vocabulary.
        cosmul: The 3CosMul answer (Levy & Goldberg's multiplicative objective), likewise.
    """

    family: ClassVar[str] = "word-analogy"
    cosadd: str | None
    cosmul: str | None = None


_SIMILARITY_TEMPLATE = """\
# Task file for bench (schema: `bench tasks schema`; check it with `bench tasks validate`).
name: {name}                 # must equal the file name without .yaml
version: 1                   # bump whenever a change could change a score
family: word-similarity
languages: [en]
description: >-
  One paragraph: which word pairs, who scored them (scale), and the data's licence.
source:
  kind: local
  location: data/{name}
  format: word-pairs         # '#' comments, then word1<TAB>word2<TAB>score per line
  files: {test: pairs.txt}
  splits: {test: test}
  # delimiter: whitespace    # for files separated by spaces
  # drop_empty: [score]      # skip (and count) lines that are not word1, word2, score
options:
  case_insensitive: true     # gensim: look both words up upper-cased
  restrict_vocab: 300000     # only the first N words of the vector file count
  oov: skip                  # skip | constant (score oov_similarity: gensim's dummy4unknown)
preprocess: []
metrics:
  - spearman
  - pearson
  - pair_coverage
primary_metric: spearman
"""

_ANALOGY_TEMPLATE = """\
# Task file for bench (schema: `bench tasks schema`; check it with `bench tasks validate`).
name: {name}                 # must equal the file name without .yaml
version: 1                   # bump whenever a change could change a score
family: word-analogy
languages: [en]
description: >-
  One paragraph: which analogy questions, their categories, and the data's licence.
source:
  kind: local
  location: data/{name}
  format: analogy            # ': category' lines, then 'a b c d' per line
  files: {test: questions.txt}
  splits: {test: test}
options:
  case_insensitive: true
  restrict_vocab: 300000     # search only the first N words of the vector file
  oov: skip                  # skip | wrong (gensim's dummy4unknown)
preprocess: []
metrics:
  - analogy_3cosadd
  - analogy_3cosmul
  - analogy_coverage
primary_metric: analogy_3cosadd
"""


class _WordFamily(Family):
    """What both word families share: no prompt, no labels, no train split needed."""

    coverage_metric: ClassVar[str]

    @classmethod
    def check_spec(cls, spec: TaskSpec) -> None:
        """The task must record its coverage metric (a correlation or an accuracy over the
        covered part alone would hide how much was left out)."""
        names = [m.name for m in spec.metrics]
        if cls.coverage_metric not in names:
            exc = TaskSpecError(
                f"a {cls.name} task records its coverage: '{cls.coverage_metric}' is not among "
                f"its metrics {names}",
                fix=f"add '- {cls.coverage_metric}' under metrics:",
            )
            exc.loc = ("metrics",)  # type: ignore[attr-defined]
            raise exc

    def has_train(self, spec: TaskSpec) -> bool:
        """Word-vector tasks train nothing on their data (a vector model brings its corpus)."""
        return False


class WordSimilarityFamily(_WordFamily):
    """Word pairs with human scores: rows need ``word1``, ``word2`` and ``score``."""

    name: ClassVar[str] = "word-similarity"
    request_type = WordSimilarityRequest
    response_type = WordSimilarityResponse
    required_fields: ClassVar[tuple[str, ...]] = ("word1", "word2", "score")
    optional_fields: ClassVar[tuple[str, ...]] = ("id", "fields", "raw_score")
    text_fields: ClassVar[tuple[str, ...]] = ("word1", "word2")
    default_metrics: ClassVar[tuple[str, ...]] = ("spearman", "pearson", "pair_coverage")
    Options: ClassVar[type[BaseModel]] = SimilarityOptions
    coverage_metric: ClassVar[str] = "pair_coverage"
    default_prompt: ClassVar[str | None] = (
        'How similar in meaning are the words "{{ word1 }}" and "{{ word2 }}", on a scale from '
        "0 (unrelated) to 10 (the same meaning)? Answer with one number.\n\nScore:"
    )
    prompt_example: ClassVar[Mapping[str, PromptValue]] = {
        "word1": "car",
        "word2": "automobile",
        "language": "en",
    }
    title: ClassVar[Mapping[str, str]] = {"en": "word similarity", "zh": "词语相似度"}
    new_task_template: ClassVar[str | None] = _SIMILARITY_TEMPLATE

    def check_row(self, row: Mapping[str, Any], spec: TaskSpec) -> str | None:
        fields = row.get("fields")
        if isinstance(fields, int) and fields != 3:
            return (
                f"expected 3 fields (word1, word2, score), got {fields} "
                "(is the task's 'delimiter' right? 'drop_empty: [score]' skips such lines)"
            )
        for key in ("word1", "word2"):
            if not isinstance(row.get(key), str) or not row[key]:
                return f"field '{key}' is missing or empty"
        score = row.get("score")
        raw = row.get("raw_score")
        if score is None or not math.isfinite(float(score)):
            try:
                number = float(raw) if raw is not None else None
            except ValueError:
                number = None
            if number is not None:
                return f"field 'score' is {raw!r}, not a finite number"
            return (
                f"field 'score' is {raw!r}, not a number (write the score as e.g. 7.35, or "
                "declare 'drop_empty: [score]' to skip such lines as gensim does)"
            )
        return None

    def build(self, row: Mapping[str, Any], spec: TaskSpec) -> tuple[WordSimilarityRequest, float]:
        options = self.options(spec)
        assert isinstance(options, SimilarityOptions)
        request = WordSimilarityRequest(
            id=str(row["id"]),
            language=spec.language,
            word1=row["word1"],
            word2=row["word2"],
            case_insensitive=options.case_insensitive,
            restrict_vocab=options.restrict_vocab,
        )
        return request, float(row["score"])

    def sample_input(self, request: Request) -> Any:
        return [getattr(request, "word1", None), getattr(request, "word2", None)]

    def prompt_values(self, request: Request, spec: TaskSpec | None) -> dict[str, PromptValue]:
        """``word1``, ``word2``, ``language``."""
        if not isinstance(request, WordSimilarityRequest):
            raise TypeError(f"expected a word-similarity request, got {type(request).__name__}")
        return {"word1": request.word1, "word2": request.word2, "language": request.language}

    def parse_answer(self, text: str, request: Request, spec: TaskSpec | None) -> Response:
        """The first number in ``text`` from 0 to 10, divided by 10; ``None`` without one.

        Example:
            >>> WordSimilarityFamily().parse_answer("About 7.5.", None, None).similarity
            0.75
        """
        found = _NUMBER.search(strip(text, spec) or "")
        value = float(found.group()) if found else math.nan
        similarity = value / 10 if 0 <= value <= 10 else None
        return WordSimilarityResponse(similarity=similarity)

    def sample_prediction(self, response: Response | None) -> Any:
        return None if response is None else getattr(response, "similarity", None)

    def check_response(
        self, response: Response, request: Request, spec: TaskSpec | None = None
    ) -> str | None:
        """A similarity outside [-1, 1] (beyond float32 rounding) is not a cosine."""
        value = getattr(response, "similarity", None)
        if value is not None and abs(value) > 1.0 + SIMILARITY_TOLERANCE:
            return f"similarity {value} is not a cosine similarity (outside [-1, 1])"
        return None

    def parse_prediction(self, value: Any, spec: TaskSpec) -> Response:
        """A predictions file may give the similarity as a number (``null``: out of
        vocabulary) or the full response object."""
        if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
            return WordSimilarityResponse(similarity=None if value is None else float(value))
        return super().parse_prediction(value, spec)


class WordAnalogyFamily(_WordFamily):
    """Analogy questions: rows need ``a``, ``b``, ``c``, ``d`` and ``category``."""

    name: ClassVar[str] = "word-analogy"
    request_type = WordAnalogyRequest
    response_type = WordAnalogyResponse
    required_fields: ClassVar[tuple[str, ...]] = ("a", "b", "c", "d", "category")
    text_fields: ClassVar[tuple[str, ...]] = ("a", "b", "c", "d")
    default_metrics: ClassVar[tuple[str, ...]] = (
        "analogy_3cosadd",
        "analogy_3cosmul",
        "analogy_coverage",
    )
    Options: ClassVar[type[BaseModel]] = AnalogyOptions
    coverage_metric: ClassVar[str] = "analogy_coverage"
    default_prompt: ClassVar[str | None] = (
        'Complete the analogy: "{{ a }}" is to "{{ b }}" as "{{ c }}" is to what? Answer with '
        "one word.\n\nAnswer:"
    )
    prompt_example: ClassVar[Mapping[str, PromptValue]] = {
        "a": "man",
        "b": "king",
        "c": "woman",
        "language": "en",
    }
    title: ClassVar[Mapping[str, str]] = {"en": "word analogy", "zh": "词语类比"}
    new_task_template: ClassVar[str | None] = _ANALOGY_TEMPLATE

    def check_row(self, row: Mapping[str, Any], spec: TaskSpec) -> str | None:
        if any(not isinstance(row.get(k), str) or not row[k] for k in ("b", "c", "d")):
            return f"expected four words 'a b c d', got {row.get('a')!r}"
        if not isinstance(row.get("a"), str) or not row["a"]:
            return "field 'a' is missing"
        if not isinstance(row.get("category"), str):
            return "field 'category' is missing (no ': category' line before the question)"
        return None

    def build(self, row: Mapping[str, Any], spec: TaskSpec) -> tuple[WordAnalogyRequest, str]:
        options = self.options(spec)
        assert isinstance(options, AnalogyOptions)
        request = WordAnalogyRequest(
            id=str(row["id"]),
            language=spec.language,
            a=row["a"],
            b=row["b"],
            c=row["c"],
            d=row["d"],
            category=row["category"],
            case_insensitive=options.case_insensitive,
            restrict_vocab=options.restrict_vocab,
        )
        return request, str(row["d"])

    def sample_input(self, request: Request) -> Any:
        return " ".join(str(getattr(request, k, "")) for k in ("a", "b", "c")) + " ?"

    def prompt_values(self, request: Request, spec: TaskSpec | None) -> dict[str, PromptValue]:
        """``a``, ``b``, ``c``, ``language`` (never the expected ``d``)."""
        if not isinstance(request, WordAnalogyRequest):
            raise TypeError(f"expected a word-analogy request, got {type(request).__name__}")
        return {"a": request.a, "b": request.b, "c": request.c, "language": request.language}

    def parse_answer(self, text: str, request: Request, spec: TaskSpec | None) -> Response:
        """The first word of ``text`` (quotes and punctuation around it removed) as the 3CosAdd
        answer; ``""`` when there is none.

        Example:
            >>> WordAnalogyFamily().parse_answer(' "queen".', None, None).cosadd
            'queen'
        """
        words = (strip(text, spec) or "").split()
        word = words[0].strip(_PUNCTUATION) if words else ""
        return WordAnalogyResponse(cosadd=word, cosmul=None)

    def sample_prediction(self, response: Response | None) -> Any:
        return None if response is None else getattr(response, "cosadd", None)

    def parse_prediction(self, value: Any, spec: TaskSpec) -> Response:
        """A predictions file may give the 3CosAdd answer as a string (``null``: out of
        vocabulary) or the full response object."""
        if value is None or isinstance(value, str):
            return WordAnalogyResponse(cosadd=value, cosmul=None)
        return super().parse_prediction(value, spec)
