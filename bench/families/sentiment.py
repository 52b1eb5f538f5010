"""Sentiment (text classification into the task's label set), English and Chinese.

A request carries the text, the task's labels and, when preprocessing produced them, the text's
tokens; a response carries the predicted label and, when the adapter has them, the probability
of each label. A response with no label (the model failed to answer in the label set) is scored
as what it is: a miss.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import field_validator

from bench.errors import TaskSpecError
from bench.families.base import Family, Request, Response
from bench.preprocess.base import tokens_column
from bench.spec import TaskSpec

__all__ = ["SentimentFamily", "SentimentRequest", "SentimentResponse"]


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
        if any(not math.isfinite(p) or p < 0 or p > 1 for p in value.values()):
            raise ValueError(f"probabilities must lie in [0, 1], got {value}")
        total = sum(value.values())
        if abs(total - 1.0) > 1e-4:
            raise ValueError(f"probabilities must sum to 1, got {total:.6f}")
        return value


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

    def parse_prediction(self, value: Any, spec: TaskSpec) -> Response:
        """A predictions file may give the label as a string or the full response object."""
        if value is None or isinstance(value, str):
            return SentimentResponse(
                label=value if value in (spec.labels or []) else None, raw=value
            )
        return super().parse_prediction(value, spec)
