"""The preprocessing step contract.

A step is a pydantic model whose fields are its parameters (so a task file's params are
validated when the task is), registered under a stable name. Steps are pure: ``apply`` maps a
batch of rows (``{column: [values]}``) to the columns it writes, and depends on nothing but its
params and its input. Steps that need a data resource (an NLTK package, a dictionary) say so in
``check_resources``, which the runner calls before any model is called.

A step's identity (:meth:`Step.identity`: name, version, params and :meth:`Step.dependencies`)
keys its cached output (:func:`bench.preprocess.apply_steps`) and is written into every run
record. A step declares what else decides its output: the libraries in ``libraries`` (their
installed versions) and, in :meth:`Step.data_dependencies`, the data it reads (a dictionary's
content hash, an NLTK data package's content hash, a configuration). Upgrading jieba or
installing other NLTK data therefore changes the identity and re-runs the step.

Views: a step declares whether it rewrites what the model reads, what the metric compares, or
both (:attr:`Step.view`, ``model`` / ``metric`` / ``both``; :attr:`Step.default_view` per step
class, ``view:`` in the task file overrides it: ``- unicode_nfkc: {view: both}``). A prompted
(language-model) adapter reads the *model view*: only the steps whose view is ``model`` or
``both``, so by default it sees the original characters (full-width Chinese punctuation, case,
traditional characters). Every other adapter (baselines, trained classifiers: they read text by
comparing it with their training data, as a metric compares n-grams) reads every step, exactly
the pipeline bench ran before views existed, so their numbers do not change. The effective view
is part of :meth:`Step.identity`, so caches key on it. References are not rewritten by any
view (they never were preprocessed): normalising them alone, without the predictions, would
score a prompted model's original punctuation against normalised references.

Conventions for columns: text fields stay text. Tokenising steps write ``<field>_tokens`` (a list
of strings) and tagging steps ``<field>_pos`` (a list of tags aligned with the tokens); later
steps such as stopword removal or truncation work on those columns.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from bench.identity import library_versions

__all__ = ["Batch", "Step", "TextStep", "TokenStep", "View", "pos_column", "tokens_column"]

Batch = dict[str, list[Any]]

View = Literal["model", "metric", "both"]
"""Which side of the comparison a step rewrites (see the module's *Views*)."""


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
        view: ``model``, ``metric`` or ``both`` (see the module's *Views*); ``None`` means
            the class's :attr:`default_view`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ClassVar[str]
    version: ClassVar[int] = 1
    needs_tokens: ClassVar[bool] = False
    libraries: ClassVar[tuple[str, ...]] = ()
    """Distributions whose code decides the output (``nltk``, ``opencc``): their installed
    versions are part of :meth:`dependencies`."""

    default_view: ClassVar[View] = "both"
    """The view of a step whose task entry sets none: ``metric`` for normalisations a reader
    does not need (Unicode, width, case, script), ``both`` for the rest."""

    fields: list[str] | None = None
    view: View | None = None

    @property
    def effective_view(self) -> View:
        """The step's view: its ``view`` param, else :attr:`default_view`."""
        return self.view or self.default_view

    @property
    def in_model_view(self) -> bool:
        """Whether a prompted adapter's requests get this step (view ``model`` or ``both``)."""
        return self.effective_view != "metric"

    def check_resources(self) -> None:
        """Raise :class:`~bench.errors.MissingResource` when a needed resource is absent."""

    def data_dependencies(self) -> dict[str, Any]:
        """The data the output depends on, by name: content hashes of dictionaries and data
        packages, versions of the Unicode database, configurations. None by default.

        Never raises for absent data (its value is then ``None``): :meth:`check_resources`
        reports what is missing.
        """
        return {}

    def dependencies(self) -> dict[str, Any]:
        """Everything besides the params that decides the output: the versions of
        :attr:`libraries` and :meth:`data_dependencies` in one mapping.

        Example:
            >>> from bench.preprocess.en import EnTokenize
            >>> sorted(EnTokenize().dependencies())
            ['nltk']
        """
        return {**library_versions(self.libraries), **self.data_dependencies()}

    @abstractmethod
    def apply(self, batch: Batch, fields: Sequence[str]) -> Batch:
        """Return the columns this step writes for ``batch``."""

    def identity(self) -> dict[str, Any]:
        """Name, version, params, the effective view and, when there are any,
        :meth:`dependencies`: what keys the step's cached output and what a run record lists.

        ``params`` holds the step's own parameters (not ``view``, which has its own key with
        the class default filled in)."""
        identity = {
            "step": self.name,
            "version": self.version,
            "params": self.model_dump(exclude={"view"}),
            "view": self.effective_view,
        }
        depends = self.dependencies()
        if depends:
            identity["depends"] = depends
        return identity


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
