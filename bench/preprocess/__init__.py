"""Preprocessing: registered, parameterised, pure steps applied with ``Dataset.map``.

Each step's output is cached by ``datasets`` under a fingerprint derived from the input's
fingerprint and the step's identity (name, version, params and the library versions and data it
depends on: :meth:`Step.identity`), so a second run of the same task is cheap, and upgrading
jieba or changing NLTK data re-runs the step instead of reusing a stale cache file. The ordered
list of steps and params is hashed into every run record
(:meth:`bench.spec.TaskSpec.preprocess_hash`); :func:`steps_identity` hashes the steps'
identities, dependencies included.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bench.errors import TaskSpecError
from bench.identity import short_hash
from bench.preprocess.base import Step, tokens_column

if TYPE_CHECKING:
    from datasets import Dataset

    from bench.families.base import Family
    from bench.spec import TaskSpec

__all__ = [
    "Step",
    "apply_steps",
    "build_steps",
    "check_resources",
    "map_fingerprint",
    "model_view",
    "steps_identity",
]


def build_steps(spec: TaskSpec) -> list[Step]:
    """Instantiate the task's steps (params validated) and check their order."""
    from bench.registry import registry

    steps: list[Step] = []
    has_tokens = has_model_tokens = False
    for i, step_spec in enumerate(spec.preprocess):
        cls = registry.get("step", step_spec.name)
        step: Step = cls(**step_spec.params)
        if step.needs_tokens and not has_tokens:
            raise TaskSpecError(
                f"task '{spec.name}': preprocess[{i}] '{step.name}' works on tokens, but no "
                "tokenising step (zh_segment, zh_pos, en_tokenize) comes before it",
                fix="add a tokenising step before it",
            )
        if step.needs_tokens and step.in_model_view and not has_model_tokens:
            raise TaskSpecError(
                f"task '{spec.name}': preprocess[{i}] '{step.name}' is in the model view "
                f"(view: {step.effective_view}) and works on tokens, but every tokenising step "
                "before it is metric-only",
                fix="give the tokenising step 'view: both', or this one 'view: metric'",
            )
        if step.name in ("zh_segment", "zh_pos", "en_tokenize"):
            has_tokens = True
            has_model_tokens = has_model_tokens or step.in_model_view
        steps.append(step)
    return steps


def model_view(steps: Sequence[Step]) -> list[Step]:
    """The steps a prompted adapter's requests get: those whose view is ``model`` or
    ``both``, in order (see :mod:`bench.preprocess.base`, *Views*).

    Example:
        >>> from bench.preprocess.text import CollapseWhitespace, UnicodeNFKC
        >>> [s.name for s in model_view([UnicodeNFKC(), CollapseWhitespace()])]
        ['collapse_whitespace']
    """
    return [s for s in steps if s.in_model_view]


def check_resources(steps: Sequence[Step]) -> None:
    """Raise ``MissingResource`` for the first step whose data is not installed."""
    for step in steps:
        step.check_resources()


def steps_identity(steps: Sequence[Step]) -> str:
    """One short hash of the steps' identities in order, their dependencies included: what
    keys anything computed from the preprocessed rows (a trained baseline, for one).

    Example:
        >>> from bench.preprocess.text import Lowercase
        >>> steps_identity([Lowercase()]) == steps_identity([Lowercase()])
        True
    """
    return short_hash([s.identity() for s in steps])


def map_fingerprint(parent: str, step: Step, fields: Sequence[str]) -> str:
    """The ``datasets`` fingerprint of ``step`` applied to ``fields`` of a dataset whose
    fingerprint is ``parent``: it changes with the step's params, version, and the libraries
    and data it depends on, so none of these changing can reuse a stale cache file."""
    return short_hash([parent, step.identity(), list(fields)], length=32)


def apply_steps(ds: Dataset, steps: Sequence[Step], family: Family, *, desc: str = "") -> Dataset:
    """Apply ``steps`` in order to ``ds`` with ``Dataset.map`` (cached by fingerprint)."""
    for step in steps:
        fields = list(step.fields or family.text_fields)
        missing = [
            f
            for f in fields
            if f not in ds.column_names
            and not (step.needs_tokens and tokens_column(f) in ds.column_names)
        ]
        if missing:
            raise TaskSpecError(
                f"step '{step.name}' names fields {missing} that the examples do not have "
                f"(they have {ds.column_names})",
                fix="set the step's 'fields' param to the family's text fields",
            )
        fingerprint = map_fingerprint(ds._fingerprint, step, fields)

        def run(
            batch: dict[str, list[object]], _step: Step = step, _fields: list[str] = fields
        ) -> dict[str, list[object]]:
            return _step.apply(batch, _fields)

        ds = ds.map(
            run,
            batched=True,
            batch_size=256,
            desc=f"{desc}{step.name}",
            new_fingerprint=fingerprint,
        )
    return ds
