"""Shared pieces of the text-generation families (translation, summarization; QA's answers).

They answer with free text (a generated answer is read back by :func:`clean_answer`) and are
scored against one or more references per example. The references of an example are a tuple
of strings; metrics that want sacrebleu's layout (K streams of N segments) transpose them with
:func:`reference_streams`, which refuses ragged or flat input instead of guessing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from bench.errors import DataError
from bench.families.base import Response
from bench.families.extract import answer_text
from bench.spec import TaskSpec

__all__ = [
    "TextResponse",
    "check_references",
    "clean_answer",
    "parse_text_answer",
    "prediction_text",
    "reference_streams",
    "row_references",
]


class TextResponse(Response):
    """A generated text.

    Attributes:
        text: The model's output (an empty string is a valid, if poor, output).
    """

    family: ClassVar[str] = "generation"
    text: str


def row_references(row: Mapping[str, Any]) -> tuple[str, ...]:
    """The references of a canonical row (``references`` is a string or a list of strings)."""
    refs = row.get("references")
    if isinstance(refs, str):
        return (refs,)
    return tuple(refs or ())


def check_references(row: Mapping[str, Any]) -> str | None:
    """Why a row's references are unusable, or ``None``."""
    refs = row.get("references")
    if refs is None:
        return "field 'references' is missing"
    if isinstance(refs, str):
        refs = [refs]
    if not isinstance(refs, (list, tuple)) or not refs:
        return "field 'references' is empty"
    for k, ref in enumerate(refs):
        if not isinstance(ref, str):
            return f"field 'references' [{k}] is {'missing' if ref is None else type(ref).__name__}"
    return None


def reference_streams(references: Sequence[Sequence[str]]) -> list[list[str]]:
    """Transpose per-example references (N examples × K refs) into K streams of N segments.

    Raises:
        DataError: ``references`` is flat (a list of strings) or ragged (examples with different
            numbers of references), which would silently mis-align sacrebleu's streams.

    Example:
        >>> reference_streams([("a1", "a2"), ("b1", "b2"), ("c1", "c2")])
        [['a1', 'b1', 'c1'], ['a2', 'b2', 'c2']]
    """
    if not references:
        return []
    if any(isinstance(r, str) for r in references):
        raise DataError(
            "references must be one tuple of strings per example, got a flat list of strings",
            fix="wrap each example's reference in a tuple: [('ref',), ...]",
        )
    counts = {len(r) for r in references}
    if len(counts) != 1:
        raise DataError(
            f"examples have different numbers of references ({sorted(counts)})",
            fix="give every example the same number of references",
        )
    k = counts.pop()
    return [[r[j] for r in references] for j in range(k)]


def prediction_text(value: Any, spec: TaskSpec) -> TextResponse:
    """Read a generation prediction: a string, or ``{"text": ...}``."""
    if isinstance(value, str):
        return TextResponse(text=value)
    if isinstance(value, Mapping) and isinstance(value.get("text"), str):
        return TextResponse(text=value["text"])
    raise TypeError(f"expected a string or an object with 'text', got {type(value).__name__}")


_ANSWER_PREFIX = re.compile(r"^\s*(answer|答案)\s*[:：]\s*", re.IGNORECASE)
_QUOTES = "\"'`“”‘’「」『』"


def clean_answer(text: str) -> TextResponse:
    """A generated answer as a :class:`TextResponse`: surrounding whitespace and quotes and a
    leading ``Answer:`` / ``答案：`` removed, nothing else changed.

    Example:
        >>> clean_answer('  Answer: "Paris" ').text
        'Paris'
    """
    out = text.strip()
    out = _ANSWER_PREFIX.sub("", out, count=1).strip()
    while len(out) >= 2 and out[0] in _QUOTES and out[-1] in _QUOTES:
        out = out[1:-1].strip()
    return TextResponse(text=out)


def parse_text_answer(text: str, spec: TaskSpec | None) -> TextResponse:
    """A generated answer read under the task's ``scoring`` block (see
    :mod:`bench.families.extract`), then cleaned by :func:`clean_answer`; no answer (reasoning
    never ended, no regex match, no JSON field) is the empty text.

    Example:
        >>> parse_text_answer("  Answer: Paris\\n", None).text
        'Paris'
    """
    found = answer_text(text, spec)
    return TextResponse(text="") if found is None else clean_answer(found)
