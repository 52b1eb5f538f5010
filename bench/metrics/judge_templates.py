"""The LLM judge's built-in prompt templates (jinja2; see :mod:`bench.metrics.judge`).

Each :class:`JudgeTemplate` declares its scale, its default parsing rule and its default
answer length; a multi-aspect template (``geval``) asks one prompt per aspect. The wording is
bench's own, after the published methods:

* ``gemba-da`` / ``gemba-da-noref``: direct assessment of a translation on a 0–100 scale,
  after GEMBA-DA (Tom Kocmi and Christian Federmann, 2023, "Large Language Models Are
  State-of-the-Art Evaluators of Translation Quality", EAMT 2023), with and without the
  human reference;
* ``geval-coherence``, ``geval-consistency``, ``geval-fluency``, ``geval-relevance``: a
  rubric per aspect of a summary on a 1–5 scale, after G-Eval (Yang Liu, Dan Iter, Yichong
  Xu, Shuohang Wang, Ruochen Xu and Chenguang Zhu, 2023, "G-Eval: NLG Evaluation using GPT-4
  with Better Human Alignment", EMNLP 2023): the aspect's definition, the evaluation steps,
  then the document and the summary. G-Eval rates fluency 1–3; bench rates every aspect 1–5
  so that ``geval`` averages four scores on one scale. G-Eval weights each score by the
  probabilities of the score tokens; bench parses the answer's number (repeats with sampling
  estimate the same expectation);
* ``geval``: the four aspects, each its own prompt.

Template fields: ``{{ source }}`` (the translation source, or the document),
``{{ hypothesis }}`` (the output judged), ``{{ reference }}`` (the first reference, ``""``
when there is none), ``{{ references }}`` (all of them, a list), ``{{ source_language }}``,
``{{ target_language }}`` and ``{{ language }}`` (codes; ``language`` is the target's), and
``{{ source_language_name }}`` / ``{{ target_language_name }}`` (English names: ``Chinese``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Final

__all__ = ["EXAMPLE_VALUES", "TEMPLATES", "JudgeTemplate", "language_name"]


@dataclass(frozen=True)
class JudgeTemplate:
    """A judge prompt (one per aspect) with its scale and parsing defaults.

    Attributes:
        name: The built-in name (``inline`` for a task's own template).
        aspects: ``(aspect, jinja2 template)`` pairs; a single-aspect template's aspect is
            ``score``.
        scale: ``(min, max)`` of a valid score.
        parse: The default parsing rule (``number``, ``regex:PATTERN``, ``json:FIELD``).
        max_new_tokens: The default answer length in tokens.
    """

    name: str
    aspects: tuple[tuple[str, str], ...]
    scale: tuple[float, float]
    parse: str = "number"
    max_new_tokens: int = 16

    @property
    def sha256(self) -> str:
        """SHA-256 of the aspects' names and templates (the prompt's identity)."""
        blob = json.dumps([list(a) for a in self.aspects], ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()

    @property
    def multi(self) -> bool:
        """Whether the template has several aspects (each its own output)."""
        return len(self.aspects) > 1


_GEMBA_DA = """\
Rate the quality of the following {{ source_language_name }} to {{ target_language_name }} \
translation on a continuous scale from 0 to 100. A score of 0 means that no meaning is \
preserved; a score of 100 means that the meaning is fully preserved and the grammar is \
perfect. A human reference translation is given for comparison.

{{ source_language_name }} source: "{{ source }}"
{{ target_language_name }} human reference: "{{ reference }}"
{{ target_language_name }} translation: "{{ hypothesis }}"

Answer with the score alone, a number from 0 to 100.
Score:"""

_GEMBA_DA_NOREF = """\
Rate the quality of the following {{ source_language_name }} to {{ target_language_name }} \
translation on a continuous scale from 0 to 100. A score of 0 means that no meaning is \
preserved; a score of 100 means that the meaning is fully preserved and the grammar is \
perfect.

{{ source_language_name }} source: "{{ source }}"
{{ target_language_name }} translation: "{{ hypothesis }}"

Answer with the score alone, a number from 0 to 100.
Score:"""

_GEVAL_HEAD = """\
You will be shown a document and a summary written for it. Rate the summary on one \
aspect, {aspect}, using the criteria below. Read them carefully and refer to them while \
you rate.

Criterion: {aspect} (1-5) - {definition}

Evaluation steps:
{steps}

Document:
{{{{ source }}}}

Summary:
{{{{ hypothesis }}}}

Answer with the score alone, a whole number from 1 to 5.
{label} (1-5):"""

_GEVAL: Final[dict[str, tuple[str, str]]] = {
    "coherence": (
        "the quality of the summary's sentences as a whole. The summary should be well "
        "structured and well organised, building from one sentence to the next into a "
        "coherent body of information about the topic, not a heap of related facts.",
        "1. Read the document and note its topic and main points.\n"
        "2. Read the summary. Does it cover the topic and the main points in a clear, "
        "logical order?\n"
        "3. Give a score from 1 (incoherent) to 5 (fully coherent).",
    ),
    "consistency": (
        "the factual agreement between the summary and the document. A consistent summary "
        "states only facts that the document supports; penalise any statement that the "
        "document does not back up (hallucinated facts).",
        "1. Read the document and note the main facts it states.\n"
        "2. Read the summary and check each of its claims against the document.\n"
        "3. Give a score from 1 (mostly unsupported) to 5 (every claim supported).",
    ),
    "fluency": (
        "the quality of the summary's language: grammar, spelling, punctuation, word "
        "choice and sentence structure.",
        "1. Read the summary sentence by sentence.\n"
        "2. Note errors of grammar, spelling and punctuation, and awkward or unclear "
        "phrasing.\n"
        "3. Give a score from 1 (hard to read) to 5 (flawless, natural language).",
    ),
    "relevance": (
        "the selection of important content from the document. The summary should hold "
        "the document's important information only; penalise redundancy and unimportant "
        "detail.",
        "1. Read the document and note its most important information.\n"
        "2. Read the summary. How much of that information does it hold, and how much "
        "does it spend on redundant or minor points?\n"
        "3. Give a score from 1 (misses the point) to 5 (all the key content, nothing "
        "else).",
    ),
}

ASPECTS: Final = tuple(_GEVAL)
"""The G-Eval aspects, in the order ``geval`` reports them."""


def _geval(aspect: str) -> str:
    definition, steps = _GEVAL[aspect]
    return _GEVAL_HEAD.format(
        aspect=aspect, definition=definition, steps=steps, label=aspect.capitalize()
    )


TEMPLATES: Final[dict[str, JudgeTemplate]] = {
    "gemba-da": JudgeTemplate("gemba-da", (("score", _GEMBA_DA),), (0.0, 100.0)),
    "gemba-da-noref": JudgeTemplate("gemba-da-noref", (("score", _GEMBA_DA_NOREF),), (0.0, 100.0)),
    **{
        f"geval-{a}": JudgeTemplate(f"geval-{a}", (("score", _geval(a)),), (1.0, 5.0))
        for a in ASPECTS
    },
    "geval": JudgeTemplate("geval", tuple((a, _geval(a)) for a in ASPECTS), (1.0, 5.0)),
}
"""The built-in templates by name."""

_NAMES: Final = {
    "ar": "Arabic",
    "cs": "Czech",
    "de": "German",
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "ha": "Hausa",
    "hi": "Hindi",
    "is": "Icelandic",
    "ja": "Japanese",
    "km": "Khmer",
    "ko": "Korean",
    "ps": "Pashto",
    "ru": "Russian",
    "uk": "Ukrainian",
    "zh": "Chinese",
}


def language_name(code: str) -> str:
    """The English name of language ``code`` (its root: ``zh-Hant`` → ``Chinese``), or the
    code itself when bench does not know it.

    Example:
        >>> language_name("zh"), language_name("en-GB"), language_name("xx")
        ('Chinese', 'English', 'xx')
    """
    return _NAMES.get(code.split("-")[0].lower(), code)


EXAMPLE_VALUES: Final[dict[str, str | list[str]]] = {
    "source": "冬天很多人容易感冒。",
    "hypothesis": "Many people catch colds in winter.",
    "reference": "Many people catch colds easily in winter.",
    "references": ["Many people catch colds easily in winter."],
    "source_language": "zh",
    "target_language": "en",
    "language": "en",
    "source_language_name": "Chinese",
    "target_language_name": "English",
}
"""Every field a judge template may use, with an example value (templates are checked
against them when the metric is built)."""
