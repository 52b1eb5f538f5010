"""Prompts for generic text-in, text-out models: render a request, parse the answer back.

Every decision here belongs to the request's family (:class:`~bench.families.base.Family`):
its default template, the fields a template sees, how an answer is read back. These functions
look the family up by the request's ``family`` and ask it, so an adapter (hf, openai, a plugin)
needs no family code.

Templates are jinja2 (``{{ text }}``), sandboxed and strict (see
:mod:`bench.families.prompts`); each family's docstring lists the fields it exposes.

Example:
    >>> from bench.families.sentiment import SentimentRequest
    >>> req = SentimentRequest(id="1", language="en", text="Great!", labels=("neg", "pos"))
    >>> render(req, None).splitlines()[0]
    'Classify the sentiment of the text as one of: neg, pos.'
    >>> parse("Positive? No: pos.", req, None).label
    'pos'
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.families.base import Family, Request, Response, get_family
from bench.families.sentiment import verbalizers as _verbalizers
from bench.spec import TaskSpec

__all__ = ["family_of", "parse", "render", "system_prompt", "template_for", "verbalizers"]


def family_of(request: Request) -> Family:
    """The family that owns ``request``."""
    return get_family(request.family)


def template_for(request_family: str, spec: TaskSpec | None) -> str:
    """The template used for ``spec`` (its prompt, else the family's default).

    Raises:
        TaskSpecError: The task has no prompt and the family has no default template.
    """
    return get_family(request_family).prompt_template(spec)


def system_prompt(spec: TaskSpec | None) -> str | None:
    """The task's system prompt, if any."""
    return spec.prompt.system if spec is not None and spec.prompt is not None else None


def verbalizers(labels: Sequence[str], spec: TaskSpec | None) -> dict[str, str]:
    """``{label: word}`` for every label (a label without a verbaliser is its own word)."""
    return _verbalizers(labels, spec)


def render(request: Request, spec: TaskSpec | None) -> str:
    """The prompt for ``request``: the task's template filled with its family's fields.

    Raises:
        TaskSpecError: The template cannot be rendered for this request (the message names
            the task and the field).
    """
    return family_of(request).render_prompt(request, spec)


def parse(text: str, request: Request, spec: TaskSpec | None) -> Response:
    """The family's response for the model's answer ``text`` to ``request``.

    Raises:
        TypeError: ``request`` is of a family without an answer parser.
    """
    return family_of(request).parse_answer(text, request, spec)
