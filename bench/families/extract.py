"""Reading a generated answer back: reasoning removal and the ``scoring.extract`` rules.

A family's :meth:`~bench.families.base.Family.parse_answer` calls :func:`answer_text` (text
families) or :func:`strip` then :func:`select` (sentiment) with the bound task's ``scoring``
block. The rules:

* **Reasoning** (``scoring.strip_reasoning: true``): every closed ``<think>…</think>``,
  ``<thinking>…</thinking>`` and ``<reasoning>…</reasoning>`` block is dropped (tags matched
  case-insensitively, blocks may span lines). Text before a lone closing tag is reasoning too
  (chat templates that open ``<think>`` in the prompt leave only ``</think>`` in the
  completion). An opening tag that is never closed means the model ran out of tokens while
  still reasoning: the whole text is reasoning, there is **no answer** (:func:`strip` returns
  ``None``), and the family scores it as its "no answer" (sentiment ``label=None``, text
  families ``""``), counted as unparsable.
* ``first`` / ``last``: for labels, the first (last) verbaliser the text mentions; for text
  families, the first (last) *answer block*: the text is cut into blocks at blank lines and
  empty blocks are skipped, so a multi-line summary stays whole and the default (``first``,
  generation cut at the family's stop string) reads exactly what bench read before.
* ``regex``: the first match of ``pattern`` (:func:`re.search`); its first group when the
  pattern has one and it matched, else the whole match. No match: no answer.
* ``json``: ``field`` of the first JSON object in the text, found by trying
  :meth:`json.JSONDecoder.raw_decode` at each ``{`` in turn (so nested objects, braces inside
  strings and text around the object all work). No object, or the first object lacks the
  field (or holds ``null``, a list or an object there): no answer. A number or boolean value
  is read as its JSON text (``3``, ``true``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Final

from bench.spec import ExtractSpec, ScoringSpec, TaskSpec

__all__ = [
    "REASONING_TAGS",
    "answer_blocks",
    "answer_text",
    "extract_spec",
    "first_json_field",
    "mentions",
    "regex_answer",
    "select",
    "strip",
    "strip_reasoning",
]

REASONING_TAGS: Final = ("think", "thinking", "reasoning")
"""The tag names whose blocks :func:`strip_reasoning` drops."""

_NAMES = "|".join(REASONING_TAGS)
_CLOSED = re.compile(rf"<(?P<tag>{_NAMES})\s*>.*?</(?P=tag)\s*>", re.IGNORECASE | re.DOTALL)
_OPEN = re.compile(rf"<(?:{_NAMES})\s*>", re.IGNORECASE)
_CLOSE = re.compile(rf"</(?:{_NAMES})\s*>", re.IGNORECASE)
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_DECODER = json.JSONDecoder()


def strip_reasoning(text: str) -> str | None:
    """``text`` without its reasoning blocks; ``None`` when reasoning never ends.

    Example:
        >>> strip_reasoning("<think>it is good</think> positive")
        ' positive'
        >>> strip_reasoning("<think>still thinking") is None
        True
    """
    out = _CLOSED.sub("", text)
    if _OPEN.search(out):
        return None  # an unclosed block: everything after it is reasoning, no answer left
    closes = list(_CLOSE.finditer(out))
    if closes:
        out = out[closes[-1].end() :]  # a lone closing tag: what came before it was reasoning
    return out


def extract_spec(spec: TaskSpec | None) -> tuple[ExtractSpec, bool]:
    """The task's extraction rule and whether reasoning is stripped (``first``, no strip when
    the task has no ``scoring`` block)."""
    scoring = spec.scoring if spec is not None else None
    if scoring is None:
        scoring = ScoringSpec()
    return scoring.extract, scoring.strip_reasoning


def strip(text: str, spec: TaskSpec | None) -> str | None:
    """``text`` with reasoning dropped when the task asks for it (``None``: no answer)."""
    _, reasoning = extract_spec(spec)
    return strip_reasoning(text) if reasoning else text


def regex_answer(text: str, pattern: str) -> str | None:
    """The first match of ``pattern`` in ``text``: its first group if it has one that
    matched, else the whole match; ``None`` without a match.

    Example:
        >>> regex_answer("Answer: (B)", r"\\(([A-D])\\)")
        'B'
        >>> regex_answer("Answer: B", r"[A-D]$")
        'B'
    """
    found = re.search(pattern, text)
    if found is None:
        return None
    if found.re.groups and found.group(1) is not None:
        return found.group(1)
    return found.group(0)


def first_json_field(text: str, field: str) -> str | None:
    """``field`` of the first JSON object in ``text`` (see the module's rules).

    Example:
        >>> first_json_field('Sure: {"answer": "Paris", "why": {"a": 1}} done', "answer")
        'Paris'
    """
    start = text.find("{")
    while start != -1:
        try:
            value, _ = _DECODER.raw_decode(text, start)
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
            continue
        if not isinstance(value, dict):  # pragma: no cover - raw_decode at "{" gives a dict
            return None
        found = value.get(field)
        if isinstance(found, str):
            return found
        if isinstance(found, (bool, int, float)):
            return json.dumps(found)
        return None
    return None


def answer_blocks(text: str) -> list[str]:
    """The non-empty blocks of ``text`` between blank lines, each stripped.

    Example:
        >>> answer_blocks("Let me see.\\n\\n  \\nParis\\n")
        ['Let me see.', 'Paris']
    """
    return [b.strip() for b in _BLANK_LINE.split(text) if b.strip()]


def answer_text(text: str, spec: TaskSpec | None) -> str | None:
    """The answer a text family reads from ``text`` under the task's rule, before cleaning;
    ``None`` when there is none (reasoning never ended, no match, no block)."""
    rule, _ = extract_spec(spec)
    body = strip(text, spec)
    if body is None:
        return None
    if rule.rule == "regex":
        found = regex_answer(body, rule.pattern or "")
        return None if found is None else found.strip()
    if rule.rule == "json":
        found = first_json_field(body, rule.field or "")
        return None if found is None else found.strip()
    blocks = answer_blocks(body)
    if not blocks:
        return None
    return blocks[0] if rule.rule == "first" else blocks[-1]


def _word_pattern(word: str) -> re.Pattern[str]:
    escaped = re.escape(word)
    if word.isascii():
        # Whole words only: "positive" must not match inside "nonpositive".
        return re.compile(rf"(?<![^\W_]){escaped}(?![^\W_])", re.IGNORECASE)
    # Chinese and Japanese have no spaces between words; a substring is the word.
    return re.compile(escaped, re.IGNORECASE)


def mentions(text: str, words: Mapping[str, str]) -> list[tuple[int, int, str]]:
    """Every mention of a word of ``words`` (``{key: word}``) in ``text`` as
    ``(start, end, key)``, in text order; a mention inside a longer one (``positive`` in
    ``very positive``) is dropped.

    Example:
        >>> mentions("very positive, not negative", {"p": "positive", "vp": "very positive",
        ...                                         "n": "negative"})
        [(0, 13, 'vp'), (19, 27, 'n')]
    """
    found = [
        (m.start(), m.end(), key)
        for key, word in words.items()
        if word
        for m in _word_pattern(word).finditer(text)
    ]
    # Longest first at each start, so the containment test below keeps the longer mention.
    found.sort(key=lambda f: (f[0], -(f[1] - f[0]), f[2]))
    kept: list[tuple[int, int, str]] = []
    for start, end, key in found:
        if any(s <= start and end <= e and (s, e) != (start, end) for s, e, _ in kept):
            continue
        if any((s, e) == (start, end) for s, e, _ in kept):
            continue  # two keys with the same word: the first key in order wins
        kept.append((start, end, key))
    return kept


def _exact(value: str, words: Mapping[str, str]) -> str | None:
    """The key whose word (or the key itself) equals ``value`` but for case, whitespace and
    surrounding punctuation."""
    folded = value.strip().strip(".,;:!?。，；：！？\"'`“”‘’「」()（）[]").strip().casefold()
    for key, word in words.items():
        if word and word.casefold() == folded:
            return key
    for key in words:
        if key.casefold() == folded:
            return key
    return None


def select(text: str | None, words: Mapping[str, str], spec: TaskSpec | None) -> str | None:
    """The key of ``words`` (``{label: verbaliser}``) the answer ``text`` names under the
    task's rule (``None``: no answer).

    ``first`` / ``last``: the first (last) mention in the text. ``regex`` / ``json``: the
    extracted string is the label whose verbaliser (or name) it equals, else the first
    verbaliser it mentions.
    """
    if text is None:
        return None
    rule, _ = extract_spec(spec)
    if rule.rule in ("regex", "json"):
        if rule.rule == "regex":
            part = regex_answer(text, rule.pattern or "")
        else:
            part = first_json_field(text, rule.field or "")
        if part is None:
            return None
        exact = _exact(part, words)
        if exact is not None:
            return exact
        text = part
        found = mentions(text, words)
        return found[0][2] if found else None
    found = mentions(text, words)
    if not found:
        return None
    if rule.rule == "first":
        return found[0][2]
    # last: the mention that starts last (a longer one at the same start already won).
    return max(found, key=lambda f: f[0])[2]
