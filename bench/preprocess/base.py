"""The preprocessing step contract.

A step is a pydantic model whose fields are its parameters (so a task file's params are
validated when the task is), registered under a stable name. Steps are pure: ``apply`` maps a
batch of rows (``{column: [values]}``) to the columns it writes, and depends on nothing but its
params and its input. Steps that need a data resource (an NLTK package, a dictionary) say so in
``check_resources``, which the runner calls before any model is called.

Conventions for columns: text fields stay text. Tokenising steps write ``<field>_tokens`` (a list
of strings) and tagging steps ``<field>_pos`` (a list of tags aligned with the tokens); later
steps such as stopword removal or truncation work on those columns.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

__all__ = ["Batch", "Step", "TextStep", "TokenStep", "pos_column", "tokens_column"]

Batch = dict[str, list[Any]]


def tokens_column(field: str) -> str:
    """Column name for the tokens of ``field``."""
    return f"{field}_tokens"


def pos_column(field: str) -> str:
    """Column name for the POS tags of ``field``."""
    return f"{field}_pos"


class Step(BaseModel):
    """Base of every preprocessing step.

    Attributes:
        fields: The text fields the step applies to; ``None`` means the family's text fields
            (for sentiment, ``text``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ClassVar[str]
    version: ClassVar[int] = 1
    needs_tokens: ClassVar[bool] = False

    fields: list[str] | None = None

    def check_resources(self) -> None:
        """Raise :class:`~bench.errors.MissingResource` when a needed resource is absent."""

    @abstractmethod
    def apply(self, batch: Batch, fields: Sequence[str]) -> Batch:
        """Return the columns this step writes for ``batch``."""

    def identity(self) -> dict[str, Any]:
        """Name, version and params: what the preprocessing hash covers."""
        return {"step": self.name, "version": self.version, "params": self.model_dump()}


class TextStep(Step):
    """A step that rewrites each text field with :meth:`transform`."""

    @abstractmethod
    def transform(self, text: str) -> str:
        """Rewrite one text."""

    def apply(self, batch: Batch, fields: Sequence[str]) -> Batch:
        return {f: [None if t is None else self.transform(t) for t in batch[f]] for f in fields}


class TokenStep(Step):
    """A step that writes ``<field>_tokens`` for each text field with :meth:`tokenize`."""

    @abstractmethod
    def tokenize(self, text: str) -> list[str]:
        """Split one text into tokens."""

    def apply(self, batch: Batch, fields: Sequence[str]) -> Batch:
        return {
            tokens_column(f): [[] if t is None else self.tokenize(t) for t in batch[f]]
            for f in fields
        }
