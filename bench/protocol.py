"""The evaluation protocol of a prompted (language-model) adapter on one task.

A task declares how a language model is evaluated on it: prompt variants (``prompts:``),
in-context examples (``fewshot:``), the scoring mode (``scoring:``) and decoding settings
(``generation:``). :func:`resolve` turns those blocks (and the command line's
``--num-fewshot``) into a :class:`Protocol`, whose :meth:`Protocol.units` are the separate
sets of predictions a run makes: one per prompt variant × exemplar draw × sample. Each unit is
predicted with the spec :meth:`Protocol.bind` gives (one variant as its ``prompt``, the
scoring mode resolved, a per-sample seed), so the cache keys, fingerprints and records of two
units never mix.

Adapters that do not answer through prompts (baselines, trained models, predictions files) get
one unit and the task unchanged.

Example:
    >>> from bench.spec import load_task
    >>> from bench.data import BUILTIN_ROOT
    >>> task = load_task(BUILTIN_ROOT.parent.parent / "tasks/smoke/sentiment-en.yaml")
    >>> resolve(task).scoring.mode
    'loglik'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.identity import short_hash
from bench.spec import FewshotSpec, GenerationSpec, ScoringSpec, TaskSpec

__all__ = ["Protocol", "Unit", "resolve", "sample_seed"]


@dataclass(frozen=True, order=True)
class Unit:
    """One set of predictions of a pair: a prompt variant, an exemplar draw and a sample.

    Attributes:
        variant: The prompt variant's name (``default`` for a task with one prompt).
        draw: The exemplar draw (0 without in-context examples or with one draw).
        sample: The sample index (0 unless ``generation.n > 1``).
    """

    variant: str = "default"
    draw: int = 0
    sample: int = 0

    @property
    def key(self) -> str:
        """``variant/draw/sample`` as one string (``plain/d0/s0``), for records and samples."""
        return f"{self.variant}/d{self.draw}/s{self.sample}"

    def to_json(self) -> dict[str, Any]:
        """``{"variant": ..., "draw": ..., "sample": ...}``."""
        return {"variant": self.variant, "draw": self.draw, "sample": self.sample}


def sample_seed(seed: int, sample: int) -> int:
    """The seed of sample ``sample`` of a run seeded with ``seed`` (sample 0 keeps ``seed``).

    Example:
        >>> sample_seed(7, 0), sample_seed(7, 1) == sample_seed(7, 1), sample_seed(7, 1) != 7
        (7, True, True)
    """
    if sample == 0:
        return seed
    return int(short_hash({"seed": seed, "sample": sample})[:8], 16)


@dataclass(frozen=True)
class Protocol:
    """A task's resolved protocol for a prompted adapter.

    Attributes:
        variants: The prompt variants' names, in the task file's order.
        fewshot: The in-context examples (``None``: zero-shot), ``k`` after ``--num-fewshot``.
        scoring: The scoring block with its mode resolved (the family's default when unset).
        generation: The decoding settings (the task's; a model spec's own values override
            them inside the adapter, which records what it used).
        num_fewshot: The ``--num-fewshot`` override, recorded (``None``: none given).
    """

    variants: tuple[str, ...]
    fewshot: FewshotSpec | None
    scoring: ScoringSpec
    generation: GenerationSpec
    num_fewshot: int | None = None

    @property
    def draws(self) -> int:
        """Exemplar draws (1 without in-context examples)."""
        return self.fewshot.draws if self.fewshot is not None else 1

    @property
    def samples(self) -> int:
        """Samples per example (``generation.n``)."""
        return self.generation.n

    def units(self) -> list[Unit]:
        """Every unit, variant-major: ``(v0, d0, s0), (v0, d0, s1), ..., (v1, d0, s0), ...``."""
        return [
            Unit(v, d, s)
            for v in self.variants
            for d in range(self.draws)
            for s in range(self.samples)
        ]

    def bind(self, task: TaskSpec, unit: Unit) -> TaskSpec:
        """The spec an adapter is configured with for ``unit``: the variant as ``prompt``, the
        resolved ``scoring`` and the sample's seed in ``generation.seed``."""
        bound = task.bind_variant(unit.variant)
        generation = self.generation.model_copy(
            update={"seed": sample_seed(self.generation.seed, unit.sample)}
        )
        return bound.model_copy(
            update={"scoring": self.scoring, "generation": generation, "fewshot": self.fewshot}
        )

    def tag(self) -> str:
        """The protocol in a metric signature's words: scoring mode and its normalisation or
        extraction, in-context examples, variants and sampling.

        Example:
            >>> from bench.spec import ScoringSpec, GenerationSpec
            >>> Protocol(("a", "b"), None, ScoringSpec(mode="loglik"), GenerationSpec()).tag()
            'lm:loglik|norm:none|shots:0|variants:2'
        """
        s = self.scoring
        parts = [f"lm:{s.mode}"]
        if s.mode == "loglik":
            parts.append(f"norm:{s.normalization}")
        else:
            rule: str = s.extract.rule
            if s.extract.pattern is not None:
                rule += f"={s.extract.pattern}"
            if s.extract.field is not None:
                rule += f"={s.extract.field}"
            parts.append(f"extract:{rule}")
            if s.strip_reasoning:
                parts.append("strip_reasoning")
        f = self.fewshot
        if f is None:
            parts.append("shots:0")
        else:
            shots = f"shots:{f.k}/{f.selector}"
            if f.selector in ("random", "balanced"):
                shots += f"/seed{f.seed}"
            if f.draws > 1:
                shots += f"/draws{f.draws}"
            if f.as_multiturn:
                shots += "/multiturn"
            parts.append(shots)
        parts.append(f"variants:{len(self.variants)}")
        g = self.generation
        if g.n > 1:
            parts.append(f"n:{g.n}/t{g.temperature}/seed{g.seed}")
        return "|".join(parts)

    def identity(self) -> dict[str, Any]:
        """What the record stores and the fingerprint hashes: everything but the variants'
        texts (those are in the prompt hash)."""
        return {
            "variants": list(self.variants),
            "fewshot": self.fewshot.model_dump(mode="json") if self.fewshot else None,
            "num_fewshot": self.num_fewshot,
            "scoring": self.scoring.model_dump(mode="json"),
            "generation": self.generation.model_dump(mode="json"),
        }


def resolve(
    task: TaskSpec,
    *,
    num_fewshot: int | None = None,
    variants: Sequence[str] | None = None,
) -> Protocol:
    """The protocol of ``task`` for a prompted adapter.

    Args:
        task: The task.
        num_fewshot: ``--num-fewshot K``: overrides ``fewshot.k`` (a task without a
            ``fewshot:`` block gets ``first`` exemplars from its train split).
        variants: ``--variant NAME``: score only these prompt variants (in the task file's
            order); ``None``: every variant. A name the task does not have is ignored when
            another task of the run has it, and an error when no selected variant is left.

    Raises:
        TaskSpecError: ``num_fewshot`` > 0 on a task without the split exemplars come from;
            none of ``variants`` is a variant of the task.
    """
    from bench.errors import TaskSpecError, did_you_mean
    from bench.families.base import family_class

    names = tuple(name for name, _ in task.prompt_variants())
    if variants is not None:
        kept = tuple(n for n in names if n in set(variants))
        if not kept:
            asked = ", ".join(variants)
            raise TaskSpecError(
                f"task {task.name}: --variant {asked}: the task's prompt variants are "
                f"{', '.join(names)}{did_you_mean(variants[0], names)}",
                fix=f"pass --variant with one of: {', '.join(names)} (or drop it)",
            )
        names = kept

    cls = family_class(task.family)
    default_mode = cls.default_scoring if cls is not None else "generate"
    scoring = task.scoring or ScoringSpec()
    if scoring.mode is None:
        scoring = scoring.model_copy(update={"mode": default_mode})
    fewshot = task.fewshot
    if num_fewshot is not None:
        fewshot = (fewshot or FewshotSpec()).model_copy(update={"k": num_fewshot})
        roles = cls.exemplar_roles(task) if cls is not None else set(task.source.splits)
        if num_fewshot > 0 and fewshot.split not in roles:
            raise TaskSpecError(
                f"task {task.name}: --num-fewshot {num_fewshot} needs exemplars from split "
                f"'{fewshot.split}', which the task does not have",
                fix=f"add a fewshot: {{split: ...}} naming one of {sorted(roles)}"
                if roles
                else "score this task zero-shot (it has no train or validation split)",
            )
    if fewshot is not None and fewshot.k == 0:
        fewshot = None
    return Protocol(
        variants=names,
        fewshot=fewshot,
        scoring=scoring,
        generation=task.generation or GenerationSpec(),
        num_fewshot=num_fewshot,
    )
