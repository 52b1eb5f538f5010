"""The LLM judge's requests: an internal family, never a task's.

An LLM judge (:class:`bench.metrics.judge.Judge`) asks a bench adapter (``openai:``, ``hf:``
causal, a prompted plugin) to grade a segment. Adapters take typed family requests, so the
judge sends a :class:`JudgeRequest` holding the prompt it already rendered from its own
template; the family's template is ``{{ prompt }}`` (the prompt verbatim) and its response is
the judge's raw answer text (:class:`~bench.families.generation.TextResponse`, nothing
stripped or cut: no stop strings), which the metric parses with its own rule.

The family is :attr:`~bench.families.base.Family.internal`: no task file may use it (loading
one is a :class:`~bench.errors.TaskSpecError`) and ``bench new-task`` offers no template.

Prompt fields: ``{{ prompt }}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from bench.errors import TaskSpecError
from bench.families.base import Family, Request, Response
from bench.families.generation import TextResponse, prediction_text
from bench.families.prompts import PromptValue
from bench.spec import TaskSpec

__all__ = ["JUDGE_FAMILY", "JudgeFamily", "JudgeRequest"]

JUDGE_FAMILY = "judge"
"""The family's registry name."""


class JudgeRequest(Request):
    """One judgement to ask for.

    Attributes:
        prompt: The judge prompt, already rendered (sent as it is).
        repeat: Which repeat of the judgement this is (0, 1, ...). Never shown to the model;
            it is part of the request's content hash, so each repeat is sampled with its own
            seed (``openai:`` derives every request's seed from the content hash) and equal
            prompts of different repeats are not answered once.
    """

    family: ClassVar[str] = JUDGE_FAMILY
    prompt: str
    repeat: int = 0


def _internal() -> TaskSpecError:
    return TaskSpecError(
        "the judge family is internal to bench's LLM-judge metric; tasks cannot use it",
        fix="add the judge as a metric of a translation or summarization task "
        "(--metrics +judge:model=...)",
    )


class JudgeFamily(Family):
    """Requests holding a rendered judge prompt; answers are the raw text (see the module)."""

    name: ClassVar[str] = JUDGE_FAMILY
    internal: ClassVar[bool] = True
    request_type = JudgeRequest
    response_type = TextResponse
    required_fields: ClassVar[tuple[str, ...]] = ("prompt",)
    text_fields: ClassVar[tuple[str, ...]] = ()
    default_metrics: ClassVar[tuple[str, ...]] = ()
    default_prompt: ClassVar[str | None] = "{{ prompt }}"
    prompt_example: ClassVar[Mapping[str, PromptValue]] = {
        "prompt": "Score the following translation from 0 to 100.\n\nScore:"
    }
    stop_sequences: ClassVar[tuple[str, ...]] = ()
    title: ClassVar[Mapping[str, str]] = {"en": "LLM judge", "zh": "大模型评审"}

    @classmethod
    def check_spec(cls, spec: TaskSpec) -> None:
        """Refuse every task file: the family is internal."""
        exc = _internal()
        exc.loc = ("family",)  # type: ignore[attr-defined]
        raise exc

    def check_row(self, row: Mapping[str, Any], spec: TaskSpec) -> str | None:
        """Judge requests are never built from data rows."""
        raise _internal()

    def build(self, row: Mapping[str, Any], spec: TaskSpec) -> tuple[Request, Any]:
        """Judge requests are never built from data rows."""
        raise _internal()

    def sample_input(self, request: Request) -> Any:
        """The prompt."""
        return getattr(request, "prompt", None)

    def sample_prediction(self, response: Response | None) -> Any:
        """The raw answer."""
        return None if response is None else getattr(response, "text", None)

    def prompt_values(self, request: Request, spec: TaskSpec | None) -> dict[str, PromptValue]:
        """``prompt``."""
        if not isinstance(request, JudgeRequest):
            raise TypeError(f"expected a judge request, got {type(request).__name__}")
        return {"prompt": request.prompt}

    def parse_answer(self, text: str, request: Request, spec: TaskSpec | None) -> Response:
        """The answer as it came (the judge metric parses it)."""
        return TextResponse(text=text)

    def parse_prediction(self, value: Any, spec: TaskSpec) -> Response:
        """A string, or ``{"text": ...}``."""
        return prediction_text(value, spec)
