"""Log-likelihood scoring of answer choices, shared by every backend that can compute it.

A backend (``hf:`` causal, ``openai:`` completions with ``echo`` and ``logprobs``) measures,
for each answer choice, the summed log-probability of its tokens after the prompt and how many
tokens that was; :func:`normalize` turns that into the score the task's
``scoring.normalization`` asks for:

* ``none``: the summed log-likelihood (lm-evaluation-harness's ``acc``);
* ``token``: divided by the choice's token count;
* ``char``: divided by the choice's length in characters (lm-eval's ``acc_norm``, which
  divides by the length of the continuation string);
* ``byte``: divided by its length in UTF-8 bytes (``acc_bytes``);
* ``pmi``: minus the choice's log-likelihood after the answer-only context
  (:func:`answer_only_context`): pointwise mutual information between the prompt and the
  choice, which removes the model's prior for short or frequent answers (lm-eval's
  ``acc_mutual_info``).

The continuation scored is the choice as the prompt is followed by it: :func:`joiner` (a
space after a Latin word, nothing after whitespace or around CJK text) and the choice's text;
lengths count that same text.

Example:
    >>> normalize(-6.0, tokens=3, text=" positive", mode="token")
    -2.0
    >>> normalize(-6.0, tokens=3, text=" positive", mode="char")
    -0.6666666666666666
    >>> normalize(-6.0, tokens=3, text=" positive", mode="pmi", unconditional=-8.5)
    2.5
    >>> answer_only_context("Review: great!\\n\\nSentiment:")
    'Sentiment:'
"""

from __future__ import annotations

__all__ = ["answer_only_context", "continuation", "is_cjk_char", "joiner", "normalize"]


def is_cjk_char(char: str) -> bool:
    """Whether ``char`` is a CJK ideograph, kana, hangul or full-width form."""
    return (
        "\u2e80" <= char <= "\u9fff" or "\uac00" <= char <= "\ud7af" or "\uf900" <= char <= "\uffef"
    )


def joiner(prompt: str, answer: str) -> str:
    """What goes between a prompt and its answer: nothing after whitespace, before
    whitespace or next to CJK text, else one space.

    Example:
        >>> joiner("Sentiment:", "positive"), joiner("情感：", "正面"), joiner("A:\\n", "x")
        (' ', '', '')
    """
    if not prompt or not answer or prompt[-1].isspace() or answer[0].isspace():
        return ""
    return "" if is_cjk_char(prompt[-1]) or is_cjk_char(answer[0]) else " "


def continuation(prompt: str, answer: str) -> str:
    """The text scored after ``prompt`` for the choice ``answer``: :func:`joiner` + answer."""
    return joiner(prompt, answer) + answer


def answer_only_context(prompt: str) -> str:
    """The context PMI calibrates against: the prompt's last non-empty line (the answer cue,
    ``Sentiment:`` / ``情感：``), without the example it follows.

    A prompt whose last line is empty gives ``""`` (the model's unconditional distribution:
    backends then score the choice after the beginning-of-sequence token alone).
    """
    lines = prompt.rstrip("\n").split("\n")
    return lines[-1].strip() if lines else ""


def normalize(
    logprob: float, *, tokens: int, text: str, mode: str, unconditional: float | None = None
) -> float:
    """The score of one choice under ``mode`` (see the module docstring).

    Args:
        logprob: The choice's summed log-probability after the prompt.
        tokens: How many tokens the choice's continuation is.
        text: The continuation's text (:func:`continuation`).
        mode: ``none``, ``token``, ``char``, ``byte`` or ``pmi``.
        unconditional: For ``pmi``: the continuation's summed log-probability after
            :func:`answer_only_context`.

    Raises:
        ValueError: An unknown mode, ``pmi`` without ``unconditional``, or an empty choice
            (nothing to divide by).
    """
    if mode == "none":
        return logprob
    if mode == "pmi":
        if unconditional is None:
            raise ValueError("pmi normalisation needs the answer-only log-likelihood")
        return logprob - unconditional
    size = {"token": tokens, "char": len(text), "byte": len(text.encode("utf-8"))}.get(mode)
    if size is None:
        raise ValueError(f"unknown normalisation {mode!r}; use none, token, char, byte or pmi")
    if size <= 0:
        raise ValueError(f"cannot normalise the score of an empty choice by {mode}")
    return logprob / size
