"""Translation, Chinese ⇄ English and beyond.

A translation task lists ``languages: [SOURCE, TARGET]``; the target language drives the
metric tokenizers (sacrebleu's ``zh`` tokenizer for Chinese, ``13a`` otherwise). Rows need a
``source`` and one or more ``references`` (map ``references`` to a list of columns for
multi-reference test sets).
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


class TranslationFamily(Family):
    """Rows need ``source`` and ``references``; the task lists ``[source, target]`` languages."""

    name: ClassVar[str] = "translation"
    request_type = TranslationRequest
    response_type = TextResponse
    required_fields: ClassVar[tuple[str, ...]] = ("source", "references")
    text_fields: ClassVar[tuple[str, ...]] = ("source",)
    default_metrics: ClassVar[tuple[str, ...]] = ("bleu", "chrf", "ter")

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

    def sample_input(self, request: Request) -> Any:
        return getattr(request, "source", None)

    def sample_prediction(self, response: Response | None) -> Any:
        return None if response is None else getattr(response, "text", None)

    def parse_prediction(self, value: Any, spec: TaskSpec) -> Response:
        return prediction_text(value, spec)
