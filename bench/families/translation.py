"""Translation, Chinese ⇄ English and beyond.

A translation task lists ``languages: [SOURCE, TARGET]``; the target language drives the
metric tokenizers (sacrebleu's ``zh`` tokenizer for Chinese, ``13a`` otherwise). Rows need a
``source`` and one or more ``references`` (map ``references`` to a list of columns for
multi-reference test sets).

Prompt fields (jinja2, see :mod:`bench.families.prompts`): ``{{ source }}``,
``{{ source_language }}`` and ``{{ target_language }}`` (language codes such as ``zh``),
``{{ source_tokens }}`` (a list when a tokenising step ran, else ``None``) and
``{{ language }}`` (the target language). A generated answer is the translation with
surrounding whitespace and quotes removed; generation stops at the first newline by default.

Options: none (any key under ``options:`` is an error). Reports: task languages of different
roots form the ``cross-lingual`` language view.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from bench.errors import TaskSpecError
from bench.families.base import Family, Request, Response
from bench.families.generation import (
    TextResponse,
    check_references,
    parse_text_answer,
    prediction_text,
    row_references,
)
from bench.families.prompts import PromptValue
from bench.preprocess.base import tokens_column
from bench.spec import TaskSpec

__all__ = ["TranslationFamily", "TranslationRequest"]


class TranslationRequest(Request):
    """Translate ``source`` from ``source_language`` into ``target_language`` (= ``language``).

    Attributes:
        source: The (preprocessed) source segment.
        source_language: e.g. ``zh``.
        target_language: e.g. ``en``.
        source_tokens: The source's tokens when a tokenising step ran.
    """

    family: ClassVar[str] = "translation"
    source: str
    source_language: str
    target_language: str
    source_tokens: tuple[str, ...] | None = None


_TEMPLATE = """\
# Task file for bench (schema: `bench tasks schema`; check it with `bench tasks validate`).
name: {name}                 # must equal the file name without .yaml
version: 1                   # bump whenever a change could change a score
family: translation
languages: [zh, en]          # [source, target]; the target picks the BLEU tokenizer (zh -> zh)
description: >-
  One paragraph: the test set, its domain, where it comes from and its licence.
source:
  kind: local                # builtin | local | hub | url | sacrebleu
  location: data/{name}      # relative to this file (or absolute)
  format: jsonl              # ...; aligned-text for one-segment-per-line files
  files:
    train: train.jsonl       # a parallel train split is optional (trainable baselines use it)
    test: test.jsonl
  splits: {train: train, test: test}
  fields:
    source: zh
    references: en           # or a list of columns: [ref_a, ref_b]
preprocess: []
prompt:                      # jinja2: {{ source }}, {{ source_language }}, {{ target_language }}
  template: "Translate from {{ source_language }} to {{ target_language }}:\\n\\n{{ source }}"
metrics:
  - bleu                     # sacrebleu corpus BLEU; tokenizer follows the target language
  - chrf: {word_order: 0}    # word_order: 2 for chrF++
  - ter
primary_metric: bleu
"""


class TranslationFamily(Family):
    """Rows need ``source`` and ``references``; the task lists ``[source, target]`` languages."""

    name: ClassVar[str] = "translation"
    request_type = TranslationRequest
    response_type = TextResponse
    required_fields: ClassVar[tuple[str, ...]] = ("source", "references")
    directed: ClassVar[bool] = True
    text_fields: ClassVar[tuple[str, ...]] = ("source",)
    default_metrics: ClassVar[tuple[str, ...]] = ("bleu", "chrf", "ter")
    default_prompt: ClassVar[str | None] = (
        "Translate the following text from {{ source_language }} to {{ target_language }}. "
        "Answer with the translation only.\n\n{{ source }}"
    )
    prompt_example: ClassVar[Mapping[str, PromptValue]] = {
        "source": "今天天气很好。",
        "source_language": "zh",
        "target_language": "en",
        "source_tokens": ["今天", "天气", "很", "好", "。"],
        "language": "en",
    }
    stop_sequences: ClassVar[tuple[str, ...]] = ("\n",)
    title: ClassVar[Mapping[str, str]] = {"en": "translation", "zh": "机器翻译"}
    new_task_template: ClassVar[str | None] = _TEMPLATE

    @classmethod
    def language_group(cls, languages: Sequence[str]) -> str:
        """``cross-lingual`` for a source and target of different roots (``en`` → ``zh``)."""
        roots = {lang.split("-")[0].lower() for lang in languages}
        return "cross-lingual" if len(roots) > 1 else super().language_group(languages)

    @classmethod
    def check_spec(cls, spec: TaskSpec) -> None:
        if len(spec.languages) != 2:
            exc = TaskSpecError(
                f"a translation task lists exactly two languages [source, target], "
                f"got {spec.languages}",
                fix="write e.g. 'languages: [zh, en]' for Chinese → English",
            )
            exc.loc = ("languages",)  # type: ignore[attr-defined]
            raise exc

    def check_row(self, row: Mapping[str, Any], spec: TaskSpec) -> str | None:
        source = row.get("source")
        if not isinstance(source, str):
            return f"field 'source' is {'missing' if source is None else type(source).__name__}"
        return check_references(row)

    def build(self, row: Mapping[str, Any], spec: TaskSpec) -> tuple[Request, Any]:
        tokens = row.get(tokens_column("source"))
        request = TranslationRequest(
            id=str(row["id"]),
            language=spec.languages[1],
            source=row["source"],
            source_language=spec.languages[0],
            target_language=spec.languages[1],
            source_tokens=tuple(tokens) if tokens is not None else None,
        )
        return request, row_references(row)

    def metric_source(self, request: Request) -> str:
        """The source segment (what a model-based metric reads as the source)."""
        return str(getattr(request, "source", ""))

    def sample_input(self, request: Request) -> Any:
        return getattr(request, "source", None)

    def sample_prediction(self, response: Response | None) -> Any:
        return None if response is None else getattr(response, "text", None)

    def prompt_values(self, request: Request, spec: TaskSpec | None) -> dict[str, PromptValue]:
        """``source``, ``source_language``, ``target_language``, ``source_tokens``,
        ``language``."""
        if not isinstance(request, TranslationRequest):
            raise TypeError(f"expected a translation request, got {type(request).__name__}")
        tokens = request.source_tokens
        return {
            "source": request.source,
            "source_language": request.source_language,
            "target_language": request.target_language,
            "source_tokens": list(tokens) if tokens is not None else None,
            "language": request.language,
        }

    def parse_answer(self, text: str, request: Request, spec: TaskSpec | None) -> Response:
        """The translation read under the task's ``scoring`` block (by default the first block
        between blank lines; see :mod:`bench.families.extract`), without surrounding
        whitespace, quotes or ``Answer:``; ``""`` when nothing could be extracted."""
        return parse_text_answer(text, spec)

    def parse_prediction(self, value: Any, spec: TaskSpec) -> Response:
        return prediction_text(value, spec)

    def answer_text(self, request: Request, reference: Any, spec: TaskSpec | None) -> str:
        """The first reference translation (``reference`` is the example's tuple of references)."""
        return reference if isinstance(reference, str) else str(reference[0])
