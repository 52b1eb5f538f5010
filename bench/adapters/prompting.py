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

from bench.adapters.loglik import continuation
from bench.families.base import Family, Request, Response, Shot, get_family
from bench.families.sentiment import verbalizers as _verbalizers
from bench.spec import TaskSpec

__all__ = [
    "family_of",
    "messages",
    "parse",
    "render",
    "system_prompt",
    "template_for",
    "verbalizers",
]


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


def _shot_request(family: Family, shot: Shot) -> Request:
    return family.request_type.model_validate(shot.request)


def render(request: Request, spec: TaskSpec | None) -> str:
    """The prompt for ``request``: its in-context examples (each rendered with the same
    template, followed by its answer), joined by ``fewshot.separator``, then the request's own
    prompt. The system prompt is not included (adapters send it their own way).

    This is lm-evaluation-harness's layout (``doc_to_text`` + ``target_delimiter`` +
    ``doc_to_target`` per exemplar, ``fewshot_delimiter`` between them and before the test
    example, whose prompt ends the text), with ``fewshot.separator`` (default ``"\\n\\n"``)
    as the ``fewshot_delimiter``. Where lm-eval always puts ``target_delimiter`` (``" "``)
    before an answer, bench puts :func:`~bench.adapters.loglik.joiner` (a space after a
    Latin word, nothing after whitespace or next to CJK text): the exemplars' answers follow
    their prompts exactly as the test example's answer choices are scored after its prompt.

    Example:
        >>> from bench.families.base import Shot
        >>> from bench.families.sentiment import SentimentRequest
        >>> shot = Shot(id="s", answer="pos", request=SentimentRequest(
        ...     id="s", language="en", text="Loved it", labels=("neg", "pos")).model_dump())
        >>> req = SentimentRequest(
        ...     id="1", language="en", text="Great!", labels=("neg", "pos"), shots=(shot,))
        >>> print(render(req, None))
        Classify the sentiment of the text as one of: neg, pos.
        <BLANKLINE>
        Text: Loved it
        <BLANKLINE>
        Sentiment: pos
        <BLANKLINE>
        Classify the sentiment of the text as one of: neg, pos.
        <BLANKLINE>
        Text: Great!
        <BLANKLINE>
        Sentiment:

    Raises:
        TaskSpecError: The template cannot be rendered for this request (the message names
            the task and the field).
    """
    family = family_of(request)
    own = family.render_prompt(request, spec)
    if not request.shots:
        return own
    sep = spec.fewshot.separator if spec is not None and spec.fewshot is not None else "\n\n"
    parts = []
    for shot in request.shots:
        prompt = family.render_prompt(_shot_request(family, shot), spec)
        parts.append(prompt + continuation(prompt, shot.answer))
    return sep.join([*parts, own])


def messages(request: Request, spec: TaskSpec | None) -> list[dict[str, str]]:
    """The chat messages for ``request``: the system prompt (if any), then with
    ``fewshot.as_multiturn`` each in-context example as a user turn and an assistant turn and
    the request as the last user turn, else one user turn holding :func:`render`.

    As lm-evaluation-harness's ``fewshot_as_multiturn``: a user turn holds an exemplar's
    prompt alone and the assistant turn its answer alone (no delimiters; the chat template
    separates turns); without it the exemplars and the test example are one user turn.
    """
    out = []
    system = system_prompt(spec)
    if system:
        out.append({"role": "system", "content": system})
    multiturn = spec is not None and spec.fewshot is not None and spec.fewshot.as_multiturn
    if request.shots and multiturn:
        family = family_of(request)
        for shot in request.shots:
            prompt = family.render_prompt(_shot_request(family, shot), spec)
            out.append({"role": "user", "content": prompt})
            out.append({"role": "assistant", "content": shot.answer})
        out.append({"role": "user", "content": family.render_prompt(request, spec)})
    else:
        out.append({"role": "user", "content": render(request, spec)})
    return out


def parse(text: str, request: Request, spec: TaskSpec | None) -> Response:
    """The family's response for the model's answer ``text`` to ``request``.

    Raises:
        TypeError: ``request`` is of a family without an answer parser.
    """
    return family_of(request).parse_answer(text, request, spec)
