"""Summarization, English and Chinese.

Rows need a ``document`` and one or more ``references`` (the reference summaries). A task may
set a length budget through the ``truncate``-free request field ``max_words`` (words for
English, characters for Chinese), which adapters should respect.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from bench.errors import TaskSpecError
from bench.families.base import Family, Request, Response
from bench.families.generation import (
    TextResponse,
    check_references,
    prediction_text,
    row_references,
)
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


class SummarizationFamily(Family):
    """Rows need ``document`` and ``references``; ``max_words`` is optional per row."""

    name: ClassVar[str] = "summarization"
    request_type = SummarizationRequest
    response_type = TextResponse
    required_fields: ClassVar[tuple[str, ...]] = ("document", "references")
    optional_fields: ClassVar[tuple[str, ...]] = ("id", "max_words")
    text_fields: ClassVar[tuple[str, ...]] = ("document",)
    default_metrics: ClassVar[tuple[str, ...]] = ("rouge1", "rouge2", "rougeL", "rougeLsum")

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

    def sample_input(self, request: Request) -> Any:
        return getattr(request, "document", None)

    def sample_prediction(self, response: Response | None) -> Any:
        return None if response is None else getattr(response, "text", None)

    def parse_prediction(self, value: Any, spec: TaskSpec) -> Response:
        return prediction_text(value, spec)
