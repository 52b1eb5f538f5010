"""Masking secrets (API keys) in what a model sends back, before bench stores or shows it.

An adapter names its secrets with :meth:`bench.adapters.base.Adapter.secrets` (the ``openai:``
adapter: the key it sends). :func:`bench.stages.predict` masks them in every answer and every
failure message the adapter returns, before anything is cached, scored or written, so the
prediction cache, ``samples.jsonl``, ``record.json`` and every leaderboard built from them hold
``***`` where a server echoed the key, and a cached re-run gives the same bytes as a fresh one.

Secrets shorter than :data:`MIN_LENGTH` characters are not masked: a placeholder key such as
``x`` for a local server hides nothing, and masking it would rewrite every answer holding the
letter.

Example:
    >>> Redactor(["sk-secret-123"]).value({"text": "you sent sk-secret-123", "n": [1]})
    {'text': 'you sent ***', 'n': [1]}
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

__all__ = ["MASK", "MIN_LENGTH", "SECRET_KEYS", "Redactor", "mask_spec"]

MASK = "***"
"""What a secret is replaced with."""

MIN_LENGTH = 8
"""Secrets shorter than this are not masked (see the module docstring)."""


class Redactor:
    """Replaces each of ``secrets`` with :data:`MASK` in strings and JSON-like values.

    Args:
        secrets: The strings to mask (empty ones and those shorter than ``min_length`` are
            ignored).
        min_length: The shortest secret masked (1 for error messages, which are short and
            never scored).
    """

    def __init__(self, secrets: Iterable[str] = (), *, min_length: int = MIN_LENGTH) -> None:
        least = max(1, min_length)
        kept = {s for s in secrets if isinstance(s, str) and len(s) >= least}
        # Longest first: a secret that contains another is masked whole.
        self.secrets: tuple[str, ...] = tuple(sorted(kept, key=lambda s: (-len(s), s)))

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def text(self, text: str) -> str:
        """``text`` with every secret masked."""
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def value(self, value: Any) -> Any:
        """``value`` (strings, numbers, lists, tuples, dicts: keys and values) with every secret
        masked; an unchanged value is returned as is."""
        if not self.secrets:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list | tuple):
            return type(value)(self.value(v) for v in value)
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        return value


SECRET_KEYS = re.compile(r"(api_?key|token|secret|password)", re.IGNORECASE)
"""Model-spec keys whose values are secrets: shown as ``***`` wherever a spec is printed."""


def mask_spec(raw: str) -> str:
    """``raw`` with the value of every secret-looking ``key=value`` pair replaced by ``***``.

    Example:
        >>> mask_spec("openai:m,api_key=sk-1,seed=2")
        'openai:m,api_key=***,seed=2'
    """
    head, *pairs = raw.split(",")
    shown = []
    for pair in pairs:
        key, eq, _ = pair.partition("=")
        shown.append(f"{key}=***" if eq and SECRET_KEYS.search(key) else pair)
    return ",".join([head, *shown])
