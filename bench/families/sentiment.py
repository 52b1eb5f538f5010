"""Sentiment (text classification into the task's label set), English and Chinese.

A request carries the text, the task's labels and, when preprocessing produced them, the text's
tokens; a response carries the predicted label and, when the adapter has them, the probability
of each label. A response with no label (the model failed to answer in the label set) is scored
as what it is: a miss.

Prompt fields (jinja2, see :mod:`bench.families.prompts`):

* ``{{ text }}``: the (preprocessed) text;
* ``{{ labels }}``: the task's labels through their verbalisers, joined with ``", "``;
* ``{{ label_words }}``: the same words as a list (``{{ label_words | join(" / ") }}``);
* ``{{ tokens }}``: the text's tokens (a list) when a tokenising step ran, else ``None``;
* ``{{ language }}``: the task's language code.

Answers: a generated answer names the label whose verbaliser appears first in it
(case-insensitive, whole words for ASCII words, substrings for CJK; a mention inside a longer
verbaliser counts as the longer one); none is ``label=None``. The task's ``scoring.extract``
picks another rule (``last`` mention, a ``regex`` or a ``json`` field whose value is then
matched to a verbaliser) and ``scoring.strip_reasoning`` drops ``<think>`` blocks first (see
:mod:`bench.families.extract`). A
language model that scores continuations instead is given each label's verbaliser, and the
probabilities are the softmax of their log-likelihoods.

Checks: a response's ``label`` must be ``None`` or one of its request's labels; its
``probabilities``, when given, must be keyed by the task's labels only (a label left out has
probability 0), lie in [0, 1], sum to 1 within 1e-4 (:data:`PROBABILITY_TOLERANCE`; never
renormalised), and include the predicted label. A predictions file that breaks one is refused
naming its line; an adapter's response that does is a counted failure (cause ``invalid``),
never scored.

Options: none (any key under ``options:`` is an error).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

from pydantic import field_validator

from bench.errors import TaskSpecError, did_you_mean
from bench.families.base import Family, Request, Response
from bench.families.extract import select, strip
from bench.families.prompts import PromptValue
from bench.preprocess.base import tokens_column
from bench.spec import TaskSpec

__all__ = [
    "PROBABILITY_TOLERANCE",
    "SentimentFamily",
    "SentimentRequest",
    "SentimentResponse",
    "label_suggestion",
    "verbalizers",
]

PROBABILITY_TOLERANCE = 1e-4
"""How far a response's probabilities may sum from 1 (float32 softmax outputs written with six
digits stay well inside it); a larger gap is an error, never renormalised away."""


class SentimentRequest(Request):
    """Classify ``text`` into one of ``labels``.

    Attributes:
        text: The (preprocessed) text.
        labels: The task's label set, in the task file's order.
        tokens: The text's tokens when a tokenising step ran (jieba words for Chinese).
    """

    family: ClassVar[str] = "sentiment"
    text: str
    labels: tuple[str, ...]
    tokens: tuple[str, ...] | None = None


class SentimentResponse(Response):
    """A predicted label and, optionally, a probability per label.

    Attributes:
        label: The predicted label, or ``None`` when the model gave none in the label set.
        probabilities: ``{label: p}`` over the task's labels, summing to 1, when available.
        raw: The model's raw answer, for generative adapters.
    """

    family: ClassVar[str] = "sentiment"
    label: str | None
    probabilities: dict[str, float] | None = None
    raw: str | None = None

    @field_validator("probabilities")
    @classmethod
    def _check_probabilities(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is None:
            return None
        bad = {k: p for k, p in value.items() if not math.isfinite(p) or p < 0 or p > 1}
        if bad:
            shown = ", ".join(f"{k!r}: {p}" for k, p in list(bad.items())[:3])
            raise ValueError(f"probabilities must lie in [0, 1] (finite), got {shown}")
        total = math.fsum(value.values())
        if abs(total - 1.0) > PROBABILITY_TOLERANCE:
            raise ValueError(
                f"probabilities must sum to 1 (within {PROBABILITY_TOLERANCE:g}), got {total:.6f}"
            )
        return value


_TEMPLATE = """\
# Task file for bench (schema: `bench tasks schema`; check it with `bench tasks validate`).
# A task file is data: every step, metric and family is a registered name, never code.
name: {name}                 # must equal the file name without .yaml
version: 1                   # bump whenever a change could change a score
family: sentiment
languages: [en]              # the first language drives tokenisers (en, zh, ...)
description: >-
  One paragraph: what is classified, where the data comes from, and its licence.
labels: [negative, positive] # the label set, in a fixed order
source:
  kind: local                # builtin | local | hub | url
  location: data/{name}      # local: a folder relative to this file (or absolute)
  format: jsonl              # json | jsonl | csv | tsv | parquet | text | text-files
  files:                     # split name -> file (globs allowed)
    train: train.jsonl
    test: test.jsonl
  splits:                    # role -> split expression; slices like all[:80%] are allowed
    train: train
    test: test
  fields:                    # the family's field -> the column that holds it
    text: text
    label: label
  # label_map: {0: negative, 1: positive}   # raw label values -> labels
  # shuffle_seed: 13                       # seeded shuffle before slicing
preprocess:                  # ordered steps with params (see `bench doctor` for resources)
  - unicode_nfkc
  - collapse_whitespace
prompt:                      # for generic (LLM) adapters; jinja2: {{ text }}, {{ labels }}
  template: "Is the sentiment of this review {{ labels }}?\\n\\n{{ text }}\\n\\nAnswer:"
  verbalizers: {negative: negative, positive: positive}
metrics:
  - accuracy
  - macro_f1
  - per_class
  - mcc
  - confusion_matrix
  - ece: {bins: 15}
primary_metric: accuracy
"""


def label_suggestion(
    value: str, labels: Sequence[str], words: Mapping[str, str] | None = None
) -> str:
    """``" (did you mean 'x'?)"`` for the label ``value`` most likely stands for, or ``""``.

    The label equal to ``value`` but for case, the label whose verbaliser ``value`` is (``正面``
    for ``positive``), the one label ``value`` abbreviates (``pos``), else the closest spelling.

    Example:
        >>> label_suggestion("pos", ["negative", "positive"])
        " (did you mean 'positive'?)"
    """
    folded = value.strip().casefold()
    by_word = {w.casefold(): label for label, w in (words or {}).items() if w}
    found = next((label for label in labels if label.casefold() == folded), None)
    found = found or by_word.get(folded)
    if found is None and folded:
        prefixed = [label for label in labels if label.casefold().startswith(folded)]
        found = prefixed[0] if len(prefixed) == 1 else None
    if found is not None:
        return f" (did you mean '{found}'?)"
    return did_you_mean(value, labels)


def _suggestion(value: str, labels: Sequence[str], spec: TaskSpec | None) -> str:
    """:func:`label_suggestion` through the verbalisers of every prompt variant of ``spec``
    (a predictions file may hold any variant's word for a label)."""
    plain = label_suggestion(value, labels)
    if spec is None:
        return plain
    for name, _ in spec.prompt_variants():
        hint = label_suggestion(value, labels, verbalizers(labels, spec.bind_variant(name)))
        if hint and hint != plain:
            return hint
    return plain


def verbalizers(labels: Sequence[str], spec: TaskSpec | None) -> dict[str, str]:
    """``{label: word}`` for every label (a label without a verbaliser is its own word)."""
    given = (
        spec.prompt.verbalizers if spec is not None and spec.prompt is not None else None
    ) or {}
    return {label: given.get(label, label) for label in labels}


class SentimentFamily(Family):
    """The sentiment family: rows need ``text`` and ``label``; the task lists its ``labels``."""

    name: ClassVar[str] = "sentiment"
    request_type = SentimentRequest
    response_type = SentimentResponse
    required_fields: ClassVar[tuple[str, ...]] = ("text", "label")
    text_fields: ClassVar[tuple[str, ...]] = ("text",)
    default_metrics: ClassVar[tuple[str, ...]] = (
        "accuracy",
        "macro_f1",
        "per_class",
        "mcc",
        "confusion_matrix",
        "ece",
    )
    default_scoring: ClassVar[Literal["loglik", "generate"]] = "loglik"
    correctness: ClassVar[Literal["label", "exact_match"] | None] = "label"
    default_prompt: ClassVar[str | None] = (
        "Classify the sentiment of the text as one of: {{ labels }}.\n\nText: {{ text }}\n\n"
        "Sentiment:"
    )
    prompt_example: ClassVar[Mapping[str, PromptValue]] = {
        "text": "The room was clean and quiet.",
        "labels": "negative, positive",
        "label_words": ["negative", "positive"],
        "tokens": ["The", "room", "was", "clean", "and", "quiet", "."],
        "language": "en",
    }
    title: ClassVar[Mapping[str, str]] = {"en": "sentiment", "zh": "情感分析"}
    new_task_template: ClassVar[str | None] = _TEMPLATE

    @classmethod
    def labels(cls, spec: TaskSpec) -> tuple[str, ...]:
        """The task's ``labels``, in the task file's order."""
        return tuple(spec.labels or ())

    @classmethod
    def check_spec(cls, spec: TaskSpec) -> None:
        if not spec.labels or len(spec.labels) < 2:
            exc = TaskSpecError(
                "a sentiment task lists at least two labels",
                fix="add e.g. 'labels: [negative, positive]'",
            )
            exc.loc = ("labels",)  # type: ignore[attr-defined]
            raise exc
        label_map = spec.source.label_map or {}
        unknown = sorted(set(label_map.values()) - set(spec.labels))
        if unknown:
            exc = TaskSpecError(
                f"label_map maps onto {unknown}, which are not in labels {spec.labels}",
                fix="map raw labels onto the task's labels",
            )
            exc.loc = ("source", "label_map")  # type: ignore[attr-defined]
            raise exc

    def check_row(self, row: Mapping[str, Any], spec: TaskSpec) -> str | None:
        text = row.get("text")
        if not isinstance(text, str):
            return f"field 'text' is {'missing' if text is None else type(text).__name__}"
        label = row.get("label")
        if label is None or (isinstance(label, float) and math.isnan(label)):
            return "field 'label' is missing (null or NaN)"
        if str(label) not in (spec.labels or []):
            return f"field 'label' is '{label}', not one of the task's labels {spec.labels}"
        return None

    def build(self, row: Mapping[str, Any], spec: TaskSpec) -> tuple[SentimentRequest, str]:
        tokens = row.get(tokens_column("text"))
        request = SentimentRequest(
            id=str(row["id"]),
            language=spec.language,
            text=row["text"],
            labels=tuple(spec.labels or ()),
            tokens=tuple(tokens) if tokens is not None else None,
        )
        return request, str(row["label"])

    def sample_input(self, request: Request) -> Any:
        return getattr(request, "text", None)

    def sample_prediction(self, response: Response | None) -> Any:
        return None if response is None else getattr(response, "label", None)

    def prompt_values(self, request: Request, spec: TaskSpec | None) -> dict[str, PromptValue]:
        """``text``, ``labels`` (verbalised, joined), ``label_words``, ``tokens``, ``language``."""
        if not isinstance(request, SentimentRequest):
            raise TypeError(f"expected a sentiment request, got {type(request).__name__}")
        words = list(verbalizers(request.labels, spec).values())
        return {
            "text": request.text,
            "labels": ", ".join(words),
            "label_words": words,
            "tokens": list(request.tokens) if request.tokens is not None else None,
            "language": request.language,
        }

    def parse_answer(self, text: str, request: Request, spec: TaskSpec | None) -> Response:
        """The label ``text`` names under the task's ``scoring`` block: by default the one
        whose verbaliser appears first; ``None`` when none does (or reasoning never ended).
        See :mod:`bench.families.extract`."""
        labels = tuple(getattr(request, "labels", ()))
        label = select(strip(text, spec), verbalizers(labels, spec), spec)
        return SentimentResponse(label=label, raw=text)

    def answer_text(self, request: Request, reference: Any, spec: TaskSpec | None) -> str:
        """The gold label's verbaliser under ``spec`` (the bound prompt variant's words)."""
        labels = tuple(getattr(request, "labels", ()))
        return verbalizers(labels, spec).get(str(reference), str(reference))

    def answer_choices(self, request: Request, spec: TaskSpec | None) -> tuple[str, ...]:
        """Each label's verbaliser, in label order."""
        labels = tuple(getattr(request, "labels", ()))
        return tuple(verbalizers(labels, spec).values())

    def from_choice_scores(
        self, request: Request, spec: TaskSpec | None, scores: Sequence[float]
    ) -> Response:
        """The best-scored label (the first on ties) and the softmax over the labels."""
        labels = tuple(getattr(request, "labels", ()))
        top = max(scores)
        weights = [math.exp(v - top) for v in scores]
        total = sum(weights)
        probs = {label: w / total for label, w in zip(labels, weights, strict=True)}
        best = labels[max(range(len(labels)), key=lambda i: scores[i])]
        return SentimentResponse(label=best, probabilities=probs)

    def check_response(
        self, response: Response, request: Request, spec: TaskSpec | None = None
    ) -> str | None:
        """A label outside the request's labels, probabilities keyed by another name, or a
        predicted label without a probability (see the module's *Checks*)."""
        labels = tuple(getattr(request, "labels", ()))
        if not isinstance(response, SentimentResponse) or not labels:
            return None
        shown = "[" + ", ".join(labels) + "]"
        label = response.label
        if label is not None and label not in labels:
            hint = _suggestion(label, labels, spec)
            return f"label {label!r} is not one of the task's labels {shown}{hint}"
        probs = response.probabilities
        if probs is None:
            return None
        unknown = [k for k in probs if k not in labels]
        if unknown:
            hint = _suggestion(unknown[0], labels, spec)
            named = ", ".join(map(repr, unknown[:5]))
            return f"probabilities are keyed by {named}, not by the task's labels {shown}{hint}"
        if label is not None and label not in probs:
            return f"label {label!r} has no probability (probabilities give {', '.join(probs)})"
        return None

    def parse_prediction(self, value: Any, spec: TaskSpec) -> Response:
        """A predictions file may give the label as a string (``null``: no answer, a miss) or
        the full response object; :meth:`check_response` then checks it against the task."""
        if value is None or isinstance(value, str):
            return SentimentResponse(label=value, raw=value)
        return super().parse_prediction(value, spec)
