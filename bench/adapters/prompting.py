"""Prompts for generic text-in, text-out models: render a request, parse the answer back.

:func:`render` fills a task's ``prompt.template`` (a ``str.format`` template) with the
request's fields; :func:`parse` turns the model's free-text answer into the family's response.
Parsing never guesses: a sentiment answer that names none of the task's verbalisers is a
response with ``label=None`` (scored as a miss), and a ranking lists only the candidates the
answer names (the metrics rank missing candidates last).

Fields a template may use are the request's own (``{text}``, ``{question}``, ``{source}``...)
with three shown in a readable form:

* ``{labels}``: the task's labels through their verbalisers, joined with ``", "``;
* ``{candidates}``: the candidate item ids joined with ``", "``;
* ``{history_titles}``: one title per line (the item id where the title is unknown).

Example:
    >>> from bench.families.sentiment import SentimentRequest
    >>> req = SentimentRequest(id="1", language="en", text="Great!", labels=("neg", "pos"))
    >>> render(req, None).splitlines()[0]
    'Classify the sentiment of the text as one of: neg, pos.'
    >>> parse("Positive? No: pos.", req, None).label
    'pos'
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

from bench.errors import TaskSpecError
from bench.families.base import Request, Response
from bench.families.generation import TextResponse
from bench.families.recommendation import RankingResponse
from bench.families.sentiment import SentimentResponse
from bench.spec import TaskSpec

__all__ = ["DEFAULT_TEMPLATES", "parse", "render", "system_prompt", "template_for", "verbalizers"]

# Used when a task file has no ``prompt:``; part of the adapters' fingerprints through
# :func:`template_for`, so editing one invalidates cached answers.
DEFAULT_TEMPLATES: dict[str, str] = {
    "sentiment": (
        "Classify the sentiment of the text as one of: {labels}.\n\nText: {text}\n\nSentiment:"
    ),
    "translation": (
        "Translate the following text from {source_language} to {target_language}. "
        "Answer with the translation only.\n\n{source}"
    ),
    "summarization": "Summarize the following document in one to three sentences.\n\n{document}",
    "qa": (
        "Answer the question with a short span copied from the passage.\n\n"
        "Passage: {context}\n\nQuestion: {question}\n\nAnswer:"
    ),
    "recommendation": (
        "A user interacted with these items, oldest first:\n{history_titles}\n\n"
        "Rank these candidate item ids from most to least likely next: {candidates}"
    ),
}

_ANSWER_PREFIX = re.compile(r"^\s*(answer|答案)\s*[:：]\s*", re.IGNORECASE)
_QUOTES = "\"'`“”‘’「」『』"
# Item ids in a ranking answer: runs of characters other than separators and brackets.
_ID_TOKEN = re.compile(r"[^\s,;，、；\[\]()<>{}\"'`]+")


def template_for(request_family: str, spec: TaskSpec | None) -> str:
    """The template used for ``spec`` (its prompt, else the family's default).

    Raises:
        TaskSpecError: The task has no prompt and the family has no default template.
    """
    if spec is not None and spec.prompt is not None:
        return spec.prompt.template
    try:
        return DEFAULT_TEMPLATES[request_family]
    except KeyError:
        name = spec.name if spec is not None else "?"
        raise TaskSpecError(
            f"task '{name}': family '{request_family}' has no default prompt",
            fix="add a prompt: {template: ...} to the task file",
        ) from None


def system_prompt(spec: TaskSpec | None) -> str | None:
    """The task's system prompt, if any."""
    return spec.prompt.system if spec is not None and spec.prompt is not None else None


def verbalizers(labels: tuple[str, ...], spec: TaskSpec | None) -> dict[str, str]:
    """``{label: word}`` for every label (a label without a verbaliser is its own word)."""
    given = (
        spec.prompt.verbalizers if spec is not None and spec.prompt is not None else None
    ) or {}
    return {label: given.get(label, label) for label in labels}


def _fields(request: Request, spec: TaskSpec | None) -> dict[str, Any]:
    fields: dict[str, Any] = dict(request.model_dump())
    labels = fields.get("labels")
    if isinstance(labels, (tuple, list)):
        fields["labels"] = ", ".join(verbalizers(tuple(labels), spec).values())
    candidates = fields.get("candidates")
    if isinstance(candidates, (tuple, list)):
        fields["candidates"] = ", ".join(candidates)
    titles = fields.get("history_titles")
    if isinstance(titles, (tuple, list)):
        history = fields.get("history") or ()
        shown = [t or (history[i] if i < len(history) else "") for i, t in enumerate(titles)]
        fields["history_titles"] = "\n".join(shown)
    return fields


def render(request: Request, spec: TaskSpec | None) -> str:
    """The prompt for ``request``: the task's template filled with the request's fields.

    Raises:
        TaskSpecError: The template names a field the request does not have (the message
            names the task and the placeholder), or is not a valid ``str.format`` template.
    """
    template = template_for(request.family, spec)
    fields = _fields(request, spec)
    name = spec.name if spec is not None else "?"
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise TaskSpecError(
            f"task '{name}': prompt.template is not a valid format template: {exc}",
            fix="write placeholders as {field}; double literal braces as {{ and }}",
        ) from exc
    for _, field_name, _, _ in parsed:
        if field_name is None:
            continue
        root = re.split(r"[.\[]", field_name, maxsplit=1)[0]
        if root == "" or root.isdigit():
            raise TaskSpecError(
                f"task '{name}': prompt.template has a positional placeholder '{{{field_name}}}'",
                fix=f"name a request field: {', '.join(sorted(fields))}",
            )
        if root not in fields:
            raise TaskSpecError(
                f"task '{name}': prompt.template uses '{{{root}}}', which {request.family} "
                "requests do not have",
                fix=f"use one of: {', '.join('{' + f + '}' for f in sorted(fields))}",
            )
    return template.format(**fields)


def _clean_text(text: str) -> str:
    out = text.strip()
    out = _ANSWER_PREFIX.sub("", out, count=1).strip()
    while len(out) >= 2 and out[0] in _QUOTES and out[-1] in _QUOTES:
        out = out[1:-1].strip()
    return out


def _word_pattern(word: str) -> re.Pattern[str]:
    escaped = re.escape(word)
    if word.isascii():
        # Whole words only: "positive" must not match inside "nonpositive".
        return re.compile(rf"(?<![^\W_]){escaped}(?![^\W_])", re.IGNORECASE)
    # Chinese and Japanese have no spaces between words; a substring is the word.
    return re.compile(escaped, re.IGNORECASE)


def _parse_label(text: str, words: Mapping[str, str]) -> str | None:
    best: tuple[int, int, str] | None = None
    for label, word in words.items():
        if not word:
            continue
        found = _word_pattern(word).search(text)
        if found is None:
            continue
        # The earliest mention wins; at the same position the longer word ("very positive"
        # over "very") wins.
        key = (found.start(), -len(word), label)
        if best is None or key < best:
            best = key
    return None if best is None else best[2]


def parse(text: str, request: Request, spec: TaskSpec | None) -> Response:
    """The family's response for the model's answer ``text`` to ``request``.

    * sentiment: the label whose verbaliser appears first in the answer (case-insensitive,
      whole words), ``None`` when none appears; ``raw`` keeps the answer.
    * translation, summarization, qa: the answer without surrounding whitespace and quotes
      and without a leading ``Answer:``.
    * recommendation: the candidate ids in the order the answer names them; candidates it
      does not name are left out (ranked last by the metrics), other ids are ignored.

    Raises:
        TypeError: ``request`` is of a family without a parser.
    """
    family = request.family
    if family == "sentiment":
        labels = tuple(getattr(request, "labels", ()))
        label = _parse_label(text, verbalizers(labels, spec))
        return SentimentResponse(label=label, raw=text)
    if family in ("translation", "summarization", "qa", "generation"):
        return TextResponse(text=_clean_text(text))
    if family == "recommendation":
        candidates = set(getattr(request, "candidates", ()))
        ranked: dict[str, None] = {}
        for token in _ID_TOKEN.findall(text):
            item = token.strip(".:!?。：")
            if item in candidates:
                ranked.setdefault(item, None)
        return RankingResponse(ranked=tuple(ranked))
    raise TypeError(f"no answer parser for {family} requests")
