"""Summarization, English and Chinese.

Rows need a ``document`` and one or more ``references`` (the reference summaries). A task may
set a length budget through the ``truncate``-free request field ``max_words`` (words for
English, characters for Chinese), which adapters should respect.

Prompt fields (jinja2, see :mod:`bench.families.prompts`): ``{{ document }}``,
``{{ max_words }}`` (an integer, or ``None``), ``{{ document_tokens }}`` (a list when a
tokenising step ran, else ``None``) and ``{{ language }}``. A generated answer is the summary
with surrounding whitespace and quotes removed; generation stops at the first blank line by
default.

Options: none (any key under ``options:`` is an error).
"""

from __future__ import annotations

from collections.abc import Mapping
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

__all__ = ["SummarizationFamily", "SummarizationRequest"]


class SummarizationRequest(Request):
    """Summarise ``document`` in ``language``.

    Attributes:
        document: The (preprocessed) document; paragraphs separated by blank lines.
        max_words: Optional length budget (words for English, characters for Chinese).
        document_tokens: The document's tokens when a tokenising step ran.
    """

    family: ClassVar[str] = "summarization"
    document: str
    max_words: int | None = None
    document_tokens: tuple[str, ...] | None = None


_TEMPLATE = """\
# Task file for bench (schema: `bench tasks schema`; check it with `bench tasks validate`).
name: {name}                 # must equal the file name without .yaml
version: 1                   # bump whenever a change could change a score
family: summarization
languages: [en]              # en: rouge-score tokenizer + Porter stemmer; zh: jieba
description: >-
  One paragraph: the documents, the reference summaries, the source and its licence.
source:
  kind: local
  location: data/{name}
  format: jsonl
  files: {test: test.jsonl}
  splits: {test: test}
  fields:
    document: document
    references: summary      # or a list of columns for several references
preprocess: [collapse_whitespace]
prompt:                      # jinja2: {{ document }}, {{ max_words }}
  template: "Summarize the following document in a few sentences.\\n\\n{{ document }}"
metrics:
  - rouge1
  - rouge2
  - rougeL
  - rougeLsum
primary_metric: rougeL
"""


class SummarizationFamily(Family):
    """Rows need ``document`` and ``references``; ``max_words`` is optional per row."""

    name: ClassVar[str] = "summarization"
    request_type = SummarizationRequest
    response_type = TextResponse
    required_fields: ClassVar[tuple[str, ...]] = ("document", "references")
    optional_fields: ClassVar[tuple[str, ...]] = ("id", "max_words")
    text_fields: ClassVar[tuple[str, ...]] = ("document",)
    default_metrics: ClassVar[tuple[str, ...]] = ("rouge1", "rouge2", "rougeL", "rougeLsum")
    default_prompt: ClassVar[str | None] = (
        "Summarize the following document in one to three sentences.\n\n{{ document }}"
    )
    prompt_example: ClassVar[Mapping[str, PromptValue]] = {
        "document": "The council met on Monday.\n\nIt approved the new budget.",
        "max_words": 30,
        "document_tokens": ["The", "council", "met", "on", "Monday", "."],
        "language": "en",
    }
    stop_sequences: ClassVar[tuple[str, ...]] = ("\n\n",)
    title: ClassVar[Mapping[str, str]] = {"en": "summarization", "zh": "文本摘要"}
    new_task_template: ClassVar[str | None] = _TEMPLATE

    @classmethod
    def check_spec(cls, spec: TaskSpec) -> None:
        """Refuse a metric that cannot score the task's language (ROUGE's default tokenizer
        on Chinese scores every pair 0) when the task loads, not when it is scored."""
        from bench.registry import registry

        for i, metric in enumerate(spec.metrics):
            instance = registry.get("metric", metric.name)(**metric.params)
            check = getattr(instance, "language_problem", None)
            problem = check(spec.language) if callable(check) else None
            if problem:
                exc = TaskSpecError(problem)
                exc.loc = ("metrics", i)  # type: ignore[attr-defined]
                raise exc

    def check_row(self, row: Mapping[str, Any], spec: TaskSpec) -> str | None:
        document = row.get("document")
        if not isinstance(document, str):
            return (
                f"field 'document' is {'missing' if document is None else type(document).__name__}"
            )
        budget = row.get("max_words")
        if budget is not None and (not isinstance(budget, int) or budget < 1):
            return f"field 'max_words' is {budget!r}, not a positive integer"
        return check_references(row)

    def build(self, row: Mapping[str, Any], spec: TaskSpec) -> tuple[Request, Any]:
        tokens = row.get(tokens_column("document"))
        request = SummarizationRequest(
            id=str(row["id"]),
            language=spec.language,
            document=row["document"],
            max_words=row.get("max_words"),
            document_tokens=tuple(tokens) if tokens is not None else None,
        )
        return request, row_references(row)

    def metric_source(self, request: Request) -> str:
        """The document (what a model-based metric reads as the source)."""
        return str(getattr(request, "document", ""))

    def sample_input(self, request: Request) -> Any:
        return getattr(request, "document", None)

    def sample_prediction(self, response: Response | None) -> Any:
        return None if response is None else getattr(response, "text", None)

    def prompt_values(self, request: Request, spec: TaskSpec | None) -> dict[str, PromptValue]:
        """``document``, ``max_words``, ``document_tokens``, ``language``."""
        if not isinstance(request, SummarizationRequest):
            raise TypeError(f"expected a summarization request, got {type(request).__name__}")
        tokens = request.document_tokens
        return {
            "document": request.document,
            "max_words": request.max_words,
            "document_tokens": list(tokens) if tokens is not None else None,
            "language": request.language,
        }

    def parse_answer(self, text: str, request: Request, spec: TaskSpec | None) -> Response:
        """The summary read under the task's ``scoring`` block (by default the first block
        between blank lines; see :mod:`bench.families.extract`), without surrounding
        whitespace, quotes or ``Answer:``; ``""`` when nothing could be extracted."""
        return parse_text_answer(text, spec)

    def parse_prediction(self, value: Any, spec: TaskSpec) -> Response:
        return prediction_text(value, spec)

    def answer_text(self, request: Request, reference: Any, spec: TaskSpec | None) -> str:
        """The first reference summary (``reference`` is the example's tuple of references)."""
        return reference if isinstance(reference, str) else str(reference[0])
