"""Extractive question answering: SQuAD v1.1 / v2.0, CMRC2018 and DRCD style.

A request carries the question and its context; the response is the answer text (a span of the
context; an empty string means "no answer", which SQuAD v2.0 scores as correct for an
unanswerable question). The reference of an example is the tuple of its gold answers; an empty
tuple marks an unanswerable question (SQuAD v2.0).

Rows need ``question``, ``context`` and ``answers`` (a list of strings, a string, or a
SQuAD/hub-style ``{"text": [...], "answer_start": [...]}`` object).

Prompt fields (jinja2, see :mod:`bench.families.prompts`): ``{{ question }}``,
``{{ context }}``, ``{{ title }}`` (``None`` when the data has none) and ``{{ language }}``. A
generated answer is the span with surrounding whitespace and quotes and a leading ``Answer:``
removed (an empty answer means "no answer"); generation stops at the first newline by default.
The task's ``scoring.extract`` picks the answer out of longer text first (the first or last
block between blank lines, a ``regex`` group or a ``json`` field) and ``scoring.strip_reasoning``
drops ``<think>`` blocks; nothing extracted (or reasoning that never ends) is "no answer", ``""``
(see :mod:`bench.families.extract`).

Options: none (any key under ``options:`` is an error).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

from bench.families.base import Family, Request, Response
from bench.families.generation import TextResponse, parse_text_answer, prediction_text
from bench.families.prompts import PromptValue
from bench.spec import TaskSpec

__all__ = ["QAFamily", "QARequest", "answer_texts"]


class QARequest(Request):
    """Answer ``question`` with a span of ``context``.

    Attributes:
        question: The question.
        context: The passage that holds the answer.
        title: The passage's title, when the data set has one.
    """

    family: ClassVar[str] = "qa"
    question: str
    context: str
    title: str | None = None


def answer_texts(value: Any) -> tuple[str, ...] | None:
    """Gold answers from a row's ``answers`` value (``None`` when the value is unusable)."""
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Mapping):
        value = value.get("text")
        if value is None:
            return None
    if isinstance(value, (list, tuple)) and all(isinstance(a, str) for a in value):
        return tuple(value)
    return None


def _loose(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


_TEMPLATE = """\
# Task file for bench (schema: `bench tasks schema`; check it with `bench tasks validate`).
name: {name}                 # must equal the file name without .yaml
version: 1                   # bump whenever a change could change a score
family: qa
languages: [en]              # en: SQuAD scoring; zh: CMRC2018 scoring (cmrc_em / cmrc_f1)
description: >-
  One paragraph: the passages, the questions, where they come from and their licence.
source:
  kind: local
  location: data/{name}
  format: squad              # SQuAD-format JSON; or jsonl with the fields below
  files: {dev: dev.json}
  splits: {test: dev}
  fields:                    # with format squad the columns already have these names
    question: question
    context: context
    answers: answers         # a list of gold answers; empty = unanswerable (SQuAD 2.0)
preprocess: []
prompt:                      # jinja2: {{ question }}, {{ context }}, {{ title }}
  template: "Answer with a span of the passage.\\n\\n{{ context }}\\n\\nQ: {{ question }}\\nA:"
metrics:
  - squad_em                 # squad2_em / squad2_f1 for SQuAD 2.0-style data
  - squad_f1
primary_metric: squad_f1
"""


class QAFamily(Family):
    """Rows need ``question``, ``context`` and ``answers``; ``title`` is optional."""

    name: ClassVar[str] = "qa"
    request_type = QARequest
    response_type = TextResponse
    required_fields: ClassVar[tuple[str, ...]] = ("question", "context", "answers")
    optional_fields: ClassVar[tuple[str, ...]] = ("id", "title")
    text_fields: ClassVar[tuple[str, ...]] = ("question", "context")
    default_metrics: ClassVar[tuple[str, ...]] = ("squad_em", "squad_f1")
    correctness: ClassVar[Literal["label", "exact_match"] | None] = "exact_match"
    default_prompt: ClassVar[str | None] = (
        "Answer the question with a short span copied from the passage.\n\n"
        "Passage: {{ context }}\n\nQuestion: {{ question }}\n\nAnswer:"
    )
    prompt_example: ClassVar[Mapping[str, PromptValue]] = {
        "question": "Where is the Eiffel Tower?",
        "context": "The Eiffel Tower is in Paris.",
        "title": "Eiffel Tower",
        "language": "en",
    }
    stop_sequences: ClassVar[tuple[str, ...]] = ("\n",)
    no_answer_text: ClassVar[str] = "unanswerable"
    """What an in-context example of an unanswerable question (SQuAD 2.0) shows as its answer,
    as lm-evaluation-harness's SQuAD 2.0 task does; a generated answer equal to it (any case)
    is read back as no answer (``""``)."""
    title: ClassVar[Mapping[str, str]] = {"en": "extractive QA", "zh": "抽取式问答"}
    new_task_template: ClassVar[str | None] = _TEMPLATE

    def check_row(self, row: Mapping[str, Any], spec: TaskSpec) -> str | None:
        for field in ("question", "context"):
            value = row.get(field)
            if not isinstance(value, str):
                return f"field '{field}' is {'missing' if value is None else type(value).__name__}"
        if answer_texts(row.get("answers")) is None:
            return "field 'answers' is not a list of answer strings (or {'text': [...]})"
        return None

    def data_notes(self, requests: Sequence[Request], references: Sequence[Any]) -> dict[str, Any]:
        """Count the examples with a gold answer that is not a span of their context.

        Such answers happen in real releases (annotators' typos, answers normalised after
        extraction); they are scored as they are, never dropped, and counted in the record
        (``task.protocol.answers_not_in_context`` with the first ids) so a reader can judge
        the data. Case and runs of whitespace are ignored, since preprocessing may change them.
        """
        missing = []
        for req, answers in zip(requests, references, strict=True):
            context = getattr(req, "context", "")
            loose = _loose(context)
            if any(a and a not in context and _loose(a) not in loose for a in answers):
                missing.append(req.id)
        return {
            "answers_not_in_context": len(missing),
            "answers_not_in_context_ids": missing[:20],
        }

    def build(self, row: Mapping[str, Any], spec: TaskSpec) -> tuple[Request, Any]:
        request = QARequest(
            id=str(row["id"]),
            language=spec.language,
            question=row["question"],
            context=row["context"],
            title=row.get("title"),
        )
        return request, answer_texts(row["answers"]) or ()

    def sample_input(self, request: Request) -> Any:
        return getattr(request, "question", None)

    def sample_prediction(self, response: Response | None) -> Any:
        return None if response is None else getattr(response, "text", None)

    def prompt_values(self, request: Request, spec: TaskSpec | None) -> dict[str, PromptValue]:
        """``question``, ``context``, ``title``, ``language``."""
        if not isinstance(request, QARequest):
            raise TypeError(f"expected a QA request, got {type(request).__name__}")
        return {
            "question": request.question,
            "context": request.context,
            "title": request.title,
            "language": request.language,
        }

    def parse_answer(self, text: str, request: Request, spec: TaskSpec | None) -> Response:
        """The answer span read under the task's ``scoring`` block (by default the first
        block), without surrounding whitespace, quotes or ``Answer:``; ``""`` when none, and
        for :attr:`no_answer_text` (the unanswerable exemplars' answer)."""
        response = parse_text_answer(text, spec)
        if response.text.strip().rstrip(".").casefold() == self.no_answer_text.casefold():
            return response.model_copy(update={"text": ""})
        return response

    def parse_prediction(self, value: Any, spec: TaskSpec) -> Response:
        return prediction_text(value, spec)

    def answer_text(self, request: Request, reference: Any, spec: TaskSpec | None) -> str:
        """The first gold answer; for a question without one (SQuAD 2.0 unanswerable) the
        family's no-answer text (``no_answer_text``, ``"unanswerable"`` as in
        lm-evaluation-harness's SQuAD 2.0 task)."""
        answers = answer_texts(reference) or ()
        if answers:
            return answers[0]
        return self.no_answer_text
