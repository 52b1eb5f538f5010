"""The task file: a closed, typed schema, read with ``yaml.safe_load`` semantics.

A task file is data. It names its family, languages, data source, preprocessing steps, prompt
and metrics by registered names; it never holds code. :func:`load_task` turns a file into a
frozen :class:`TaskSpec` or raises :class:`~bench.errors.TaskSpecError` naming the file, the line
and the field, with a did-you-mean for misspelt keys and registry names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bench.errors import TaskSpecError, UnknownName, did_you_mean
from bench.identity import short_hash

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "SCHEMA_VERSION",
    "ExtractSpec",
    "FewshotSpec",
    "FileLayout",
    "GenerationSpec",
    "MetricSpec",
    "OriginalRelease",
    "PromptSpec",
    "PromptVariant",
    "ScoringSpec",
    "SourceSpec",
    "StepSpec",
    "TaskSpec",
    "check_yaml_bounds",
    "load_task",
    "parse_task",
    "task_json_schema",
]

SCHEMA_VERSION = 1
"""Version of the task-file schema; bumped when the meaning of a field changes."""

LANGUAGE = r"^[a-z]{2,3}(-[A-Za-z0-9]+)*$"
NAME = r"^[a-z0-9][a-z0-9._-]*$"
SPLIT_EXPR = r"^[A-Za-z0-9_.-]+(\[-?\d*%?:-?\d*%?\])?$"
FORMATS = (
    "json",
    "jsonl",
    "csv",
    "tsv",
    "parquet",
    "text",
    "text-files",
    "aligned-text",
    "xsum",
    "squad",
    "word-pairs",
    "analogy",
)
Format = Literal[
    "json",
    "jsonl",
    "csv",
    "tsv",
    "parquet",
    "text",
    "text-files",
    "aligned-text",
    "xsum",
    "squad",
    "word-pairs",
    "analogy",
]
FieldMap = dict[str, str | list[str]]
FileMap = dict[str, str | list[str]]
Role = Literal["train", "validation", "test"]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _named_params(value: Any, what: str) -> Any:
    """Accept ``name`` or ``{name: {params}}`` or ``{name: ..., params: ...}`` forms."""
    if isinstance(value, str):
        return {"name": value, "params": {}}
    if isinstance(value, dict) and len(value) == 1 and "name" not in value:
        ((name, params),) = value.items()
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise ValueError(f"the params of {what} '{name}' must be a mapping, got {params!r}")
        return {"name": name, "params": params}
    return value


class StepSpec(_Closed):
    """One preprocessing step: a registered step name and its parameters.

    In YAML, ``- lowercase`` or ``- zh_segment: {fields: [text]}``.
    """

    name: str
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        return _named_params(value, "step")


class MetricSpec(_Closed):
    """One metric: a registered metric name and its parameters.

    In YAML, ``- accuracy`` or ``- ece: {bins: 15}``.
    """

    name: str
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        return _named_params(value, "metric")


class PromptSpec(_Closed):
    """How a generic (LLM) adapter turns a request into a prompt and parses the answer back.

    ``template`` is a jinja2 template over the fields the task's family exposes
    (``{{ text }}``, ``{{ labels }}``; each family's docstring lists them), checked when the
    task loads; ``system`` is sent as it is; ``verbalizers`` map each label to the word the
    model is expected to say.
    """

    template: str
    system: str | None = None
    verbalizers: dict[str, str] | None = None


class PromptVariant(PromptSpec):
    """One named template of a task's ``prompts:`` block (a prompt variant).

    In YAML::

        prompts:
          - {name: plain, template: "Review: {{ text }}\\nSentiment:"}
          - name: zh
            template: "评论：{{ text }}\\n情感："
            verbalizers: {negative: 负面, positive: 正面}

    A run scores every variant; the record holds each variant's metrics, their mean (the
    headline value) and their spread.
    """

    name: str = Field(pattern=NAME)


Selector = Literal["first", "random", "fixed", "bm25", "balanced"]


class FewshotSpec(_Closed):
    """In-context examples (exemplars) shown before each test example: the ``fewshot:`` block.

    Attributes:
        k: Exemplars per test example (for ``balanced``: per label). ``0`` is zero-shot.
        split: The role the exemplars come from (``train`` or ``validation``), never ``test``.
        selector: ``first`` (the split's first ``k``), ``random`` (seeded, frozen), ``fixed``
            (``ids``, in order), ``bm25`` (the ``k`` most similar to each test example) or
            ``balanced`` (``k`` per label, classification only).
        seed: Seeds ``random`` and ``balanced`` (draw ``r`` uses ``seed + r``).
        draws: How many exemplar sets are drawn; every draw is scored and reported.
        ids: The exemplar ids for ``selector: fixed``.
        as_multiturn: For chat models: exemplars as user/assistant turns, not inside one prompt.
        separator: What joins the exemplars and the test prompt in a single prompt.
    """

    k: int = Field(default=0, ge=0, le=64)
    split: Literal["train", "validation"] = "train"
    selector: Selector = "first"
    seed: int = Field(default=1234, ge=0)
    draws: int = Field(default=1, ge=1, le=100)
    ids: list[str] | None = None
    as_multiturn: bool = False
    separator: str = "\n\n"

    @model_validator(mode="after")
    def _ids_for_fixed(self) -> FewshotSpec:
        if self.selector == "fixed" and not self.ids:
            raise ValueError("selector 'fixed' needs ids: [...] (the exemplar ids, in order)")
        if self.selector != "fixed" and self.ids is not None:
            raise ValueError(f"ids are for selector 'fixed', not '{self.selector}'")
        if self.draws > 1 and self.selector in ("first", "fixed"):
            raise ValueError(
                f"selector '{self.selector}' gives the same exemplars on every draw; "
                "use draws: 1, or selector random, balanced or bm25"
            )
        return self


Normalization = Literal["none", "token", "char", "byte", "pmi"]


class ExtractSpec(_Closed):
    """How a generated answer is read back (``scoring.extract``).

    ``rule``: ``first`` (the first verbaliser / answer the text mentions, the default),
    ``last`` (the last one mentioned: answers after reasoning), ``regex`` (``pattern``'s first
    group, else its whole match) or ``json`` (``field`` of the first JSON object in the text).
    """

    rule: Literal["first", "last", "regex", "json"] = "first"
    pattern: str | None = None
    field: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        return {"rule": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _needs(self) -> ExtractSpec:
        if self.rule == "regex":
            if not self.pattern:
                raise ValueError("extract rule 'regex' needs pattern: '...'")
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern {self.pattern!r} is not a valid regex: {exc}") from exc
        elif self.pattern is not None:
            raise ValueError(f"pattern is for extract rule 'regex', not '{self.rule}'")
        if self.rule == "json" and not self.field:
            raise ValueError("extract rule 'json' needs field: NAME")
        if self.rule != "json" and self.field is not None:
            raise ValueError(f"field is for extract rule 'json', not '{self.rule}'")
        return self


class ScoringSpec(_Closed):
    """How a language model's answer is scored: the ``scoring:`` block.

    Attributes:
        mode: ``loglik`` (score each answer choice by its log-likelihood after the prompt) or
            ``generate`` (generate free text and parse it). ``None``: the family's default.
        normalization: For ``loglik``: ``none`` (summed log-likelihood), ``token`` (per
            token), ``char`` (per character), ``byte`` (per UTF-8 byte) or ``pmi`` (minus the
            log-likelihood of the choice after an answer-only context).
        extract: For ``generate``: how the answer is read from the text.
        strip_reasoning: For ``generate``: drop ``<think>...</think>``-style reasoning first.
    """

    mode: Literal["loglik", "generate"] | None = None
    normalization: Normalization = "none"
    extract: ExtractSpec = Field(default_factory=ExtractSpec)
    strip_reasoning: bool = False


class GenerationSpec(_Closed):
    """Decoding settings for generated answers: the ``generation:`` block.

    Unset values fall back to the model spec's, then to bench's defaults (greedy, 128 new
    tokens, the family's stop strings); a model spec's own value overrides the task's and is
    recorded.

    Attributes:
        max_new_tokens: Most tokens generated per answer.
        stop: Strings that end an answer (cut before the first one).
        temperature: ``0`` is greedy.
        top_p: Nucleus sampling mass.
        n: Samples per example (with ``temperature > 0``): mean@n, pass@k and majority vote.
        seed: Seeds sampling (sample ``s`` of an example is seeded from it, the request and
            ``s``).
    """

    max_new_tokens: int | None = Field(default=None, ge=1, le=32768)
    stop: list[str] | None = None
    temperature: float | None = Field(default=None, ge=0, le=10)
    top_p: float | None = Field(default=None, gt=0, le=1)
    n: int = Field(default=1, ge=1, le=256)
    seed: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _sampling(self) -> GenerationSpec:
        if self.n > 1 and not self.temperature:
            raise ValueError(
                f"n: {self.n} samples need temperature > 0 (greedy decoding gives the same "
                "answer every time)"
            )
        if self.stop is not None and any(not s for s in self.stop):
            raise ValueError("stop strings must not be empty")
        return self


class FileLayout(_Closed):
    """How a release's files are named, pinned and parsed.

    Shared by a task's own :class:`SourceSpec` and by the :class:`OriginalRelease` layout read
    with ``--data``, so the two cannot drift apart: ``format``; ``files`` (split name → path or
    glob, or a list of them); ``columns`` (the columns of header-less CSV/TSV files and of
    ``aligned-text`` files); ``delimiter``; ``encoding``; ``label_map`` (raw label value →
    label) and ``sha256`` (pinned hash of each file).
    """

    format: Format | None = None
    files: FileMap | None = None
    columns: list[str] | None = None
    delimiter: str | None = None
    encoding: str = "utf-8"
    label_map: dict[str, str] | None = None
    sha256: dict[str, str] = Field(default_factory=dict)

    @field_validator("label_map", mode="before")
    @classmethod
    def _str_keys(cls, value: Any) -> Any:
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value

    def layout(self) -> dict[str, Any]:
        """The layout fields alone (``{field: value}``), to build another layout from."""
        return {name: getattr(self, name) for name in FileLayout.model_fields}


class OriginalRelease(FileLayout):
    """The layout of the data's original release, loaded from a local copy with ``--data``.

    ``files`` maps split names to paths (globs allowed) relative to the folder given with
    ``--data NAME=DIR``; ``sha256`` optionally pins each file's hash; ``columns`` names the
    columns of header-less CSV/TSV files and of ``aligned-text`` files. ``splits``, ``fields``
    and ``label_map`` default to the task source's own.
    """

    format: Format
    files: FileMap
    splits: dict[Role, str] | None = None
    fields: FieldMap | None = None


class SourceSpec(FileLayout):
    """Where the examples come from and how their columns map onto the family's fields.

    Kinds:
        builtin: files shipped inside the package (``location`` under ``bench/builtin``).
        local: files on disk (``location`` relative to the task file, or absolute).
        hub: ``datasets.load_dataset(location, name, split=..., revision=revision)``.
        url: files downloaded from ``location`` (a base URL) and checked against ``sha256``.
        sacrebleu: a WMT-style test set through sacrebleu's own downloader (``testset``,
            ``langpair``); columns ``src``, ``ref:A``, ``ref:B``..., ``docid``, ``origlang``.

    Formats: ``json``, ``jsonl``, ``csv``, ``tsv`` (``columns`` names the columns of files
    without a header row), ``parquet``, ``text`` (one example per line, column ``text``),
    ``text-files`` (one example per file, label = parent folder), ``aligned-text`` (one file
    per column, line-aligned, as WMT's plain-text releases; ``columns`` names them in the order
    the files are listed) and ``xsum`` (XSum's ``[XSUM]`` extract files: ``id``, ``url``,
    ``summary``, ``document``), ``word-pairs`` (word-similarity files as gensim's
    ``evaluate_word_pairs`` reads them: ``#`` comment lines, then ``word1 word2 score`` split on
    ``delimiter``, a tab by default or ``whitespace``; columns ``id``, ``word1``, ``word2``,
    ``score``) and ``analogy`` (the Google analogy format: ``: category`` lines, then
    ``a b c d`` per line; columns ``id``, ``a``, ``b``, ``c``, ``d``, ``category``).

    ``fields`` maps each family field to a column, or to a list of columns (several
    references).

    ``splits`` maps the roles ``train`` / ``validation`` / ``test`` to split expressions such as
    ``train``, ``validation`` or ``all[:80%]``; slicing happens after an optional seeded shuffle
    (``shuffle_seed``), so an 80/20 split is declared, not computed by hand.

    ``drop_empty`` names fields whose null or blank rows are dropped (before shuffling and
    slicing) instead of failing the load: for releases known to hold a few empty rows. The
    number dropped is recorded in every run record.
    """

    kind: Literal["builtin", "local", "hub", "url", "sacrebleu"]
    location: str | None = None
    name: str | None = None
    revision: str | None = None
    testset: str | None = None
    langpair: str | None = None
    archive: str | None = None
    archive_md5: str | None = None
    splits: dict[Role, str]
    fields: FieldMap = Field(default_factory=dict)
    shuffle_seed: int | None = None
    drop_empty: list[str] = Field(default_factory=list)
    original: OriginalRelease | None = None

    @field_validator("splits")
    @classmethod
    def _split_exprs(cls, value: dict[str, str]) -> dict[str, str]:
        if "test" not in value:
            raise ValueError("splits must name a 'test' split (the one that is scored)")
        for role, expr in value.items():
            if not re.match(SPLIT_EXPR, expr):
                raise ValueError(
                    f"split '{role}': '{expr}' is not a split expression like 'train', "
                    "'train[:80%]' or 'all[100:200]'"
                )
        return value

    @model_validator(mode="after")
    def _kind_needs(self) -> SourceSpec:
        if self.kind == "sacrebleu":
            if not self.testset or not self.langpair:
                raise ValueError("a 'sacrebleu' source needs 'testset' and 'langpair'")
        elif not self.location:
            raise ValueError(f"a '{self.kind}' source needs 'location'")
        if self.kind in ("builtin", "local", "url"):
            if self.format is None:
                raise ValueError(f"a '{self.kind}' source needs 'format' (one of {FORMATS})")
            if not self.files:
                raise ValueError(f"a '{self.kind}' source needs 'files' (split name -> file)")
        if self.kind == "url" and not self.sha256 and not self.archive_md5:
            raise ValueError(
                "a 'url' source needs 'sha256' for every file it downloads "
                "(or 'archive_md5' for its archive)"
            )
        return self

    def original_release(self) -> OriginalRelease | None:
        """The original file layout, for ``--data``: declared, or this source's own files."""
        if self.original is not None:
            return self.original
        if self.kind in ("local", "url", "builtin") and self.format and self.files:
            # The task's own files: the same layout (splits, fields, label_map as the task's).
            return OriginalRelease(**self.layout())
        return None


class TaskSpec(_Closed):
    """A validated task definition (one YAML file under ``tasks/``).

    Attributes beyond the file's own: ``path`` (the file) and ``suite`` (its folder under the
    tasks root, e.g. ``smoke``) are filled in by :func:`load_task`.
    """

    name: str = Field(pattern=NAME)
    version: int = Field(ge=1)
    family: str
    languages: list[str] = Field(min_length=1)
    description: str = Field(min_length=1)
    source: SourceSpec
    labels: list[str] | None = None
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Family options, validated by the family (e.g. recommendation protocol).",
    )
    preprocess: list[StepSpec] = Field(default_factory=list)
    prompt: PromptSpec | None = None
    prompts: list[PromptVariant] | None = Field(
        default=None,
        min_length=1,
        description="Named prompt variants (each a template with its own verbalisers); a run "
        "scores every one and reports their mean and spread. Exclusive with 'prompt'.",
    )
    fewshot: FewshotSpec | None = None
    scoring: ScoringSpec | None = None
    generation: GenerationSpec | None = None
    metrics: list[MetricSpec] = Field(min_length=1)
    optional_metrics: list[MetricSpec] = Field(
        default_factory=list,
        exclude=True,  # scored only when asked for (--metrics +NAME): not part of the spec hash
        description="Metrics scored only when asked for with `--metrics +NAME` (model-based "
        "metrics that need a model download: bertscore, comet, judges), with their parameters.",
    )
    primary_metric: str = Field(
        description="The metric (or one value of it, such as ndcg@10) that ranks models."
    )
    tags: list[str] = Field(default_factory=list)
    citation: str | None = None
    license: str | None = None
    test_size: int | None = Field(
        default=None,
        ge=0,
        exclude=True,  # documents the data, changes no number: not part of the spec hash
        description="How many test examples (recommendation: users) the published data has, "
        "for the catalog and `bench tasks list` where the data is not local.",
    )
    allow_overlap: bool | Annotated[float, Field(ge=0, le=1)] = Field(
        default=False,
        exclude=True,  # it gates a check, changes no number: not part of the spec hash
        description="Test examples whose input also appears in the train split: false "
        "(default) refuses a run when more than 1% do, true allows any share, a number "
        "(0-1) is the share allowed. Any overlap is counted in the record and warned about.",
    )
    path: Path | None = Field(default=None, exclude=True)
    suite: str | None = Field(default=None, exclude=True)
    _added: tuple[str, ...] = PrivateAttr(default=())

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        for lang in value:
            if not re.match(LANGUAGE, lang):
                raise ValueError(f"'{lang}' is not a language code like 'en', 'zh' or 'zh-Hant'")
        return value

    # Field validators (not one model validator) so that an error names its field and line.
    @field_validator("labels")
    @classmethod
    def _unique_labels(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            twice = _first_repeat(value)
            if twice is not None:
                raise ValueError(f"label '{twice}' is listed twice in {value}")
        return value

    @field_validator("prompts")
    @classmethod
    def _unique_variants(cls, value: list[PromptVariant] | None) -> list[PromptVariant] | None:
        if value is not None:
            twice = _first_repeat([v.name for v in value])
            if twice is not None:
                raise ValueError(f"prompt variant '{twice}' is named twice")
        return value

    @model_validator(mode="after")
    def _one_prompt_form(self) -> TaskSpec:
        if self.prompt is not None and self.prompts is not None:
            raise ValueError(
                "give either 'prompt' (one template) or 'prompts' (variants), not both"
            )
        return self

    @field_validator("metrics")
    @classmethod
    def _unique_metrics(cls, value: list[MetricSpec]) -> list[MetricSpec]:
        names = [m.name for m in value]
        twice = _first_repeat(names)
        if twice is not None:
            first = names.index(twice)
            again = names.index(twice, first + 1)
            raise ValueError(
                f"metric '{twice}' is listed twice (metrics[{first}] and metrics[{again}])"
            )
        return value

    @field_validator("primary_metric")
    @classmethod
    def _primary_in_metrics(cls, value: str, info: ValidationInfo) -> str:
        metrics = info.data.get("metrics")
        if metrics is None:  # metrics itself is invalid; that error is reported instead
            return value
        names = [m.name for m in metrics]
        # A metric that reports several values names one of them: ndcg@10, f1/positive.
        base = value.split("@")[0].split("/")[0]
        if value not in names and base not in names:
            raise ValueError(
                f"primary_metric '{value}' is not in metrics {names}{did_you_mean(value, names)}"
            )
        return value

    @property
    def language(self) -> str:
        """The task's first (main) language."""
        return self.languages[0]

    def preprocess_hash(self) -> str:
        """SHA-256 (16 hex) of the ordered steps and their params."""
        return short_hash([s.model_dump() for s in self.preprocess])

    def prompt_hash(self) -> str | None:
        """SHA-256 (16 hex) of the prompt (or of every variant), or ``None`` when the task
        has none."""
        if self.prompts is not None:
            return short_hash([v.model_dump() for v in self.prompts])
        return short_hash(self.prompt.model_dump()) if self.prompt else None

    def prompt_variants(self) -> list[tuple[str, PromptSpec | None]]:
        """``(name, prompt)`` of every prompt variant: the ``prompts:`` block, else one
        variant named ``default`` holding ``prompt`` (``None``: the family's default)."""
        if self.prompts is not None:
            return [(v.name, PromptSpec(**v.model_dump(exclude={"name"}))) for v in self.prompts]
        return [("default", self.prompt)]

    def bind_variant(self, name: str) -> TaskSpec:
        """This task with one prompt variant as its ``prompt`` (and no ``prompts``): the spec
        an adapter is configured with for that variant.

        Raises:
            KeyError: No variant is called ``name``.
        """
        for variant, prompt in self.prompt_variants():
            if variant == name:
                bound = self.model_copy(update={"prompt": prompt, "prompts": None})
                return bound
        raise KeyError(name)

    def spec_hash(self) -> str:
        """SHA-256 (16 hex) of the whole spec as validated (metrics added with
        :meth:`with_metrics` left out: they add numbers, and change none of the task's own)."""
        data = self.model_dump(mode="json")
        if self._added:
            data["metrics"] = [m for m in data["metrics"] if m["name"] not in self._added]
        return short_hash(data)

    @property
    def added_metrics(self) -> tuple[str, ...]:
        """The names of the metrics :meth:`with_metrics` added."""
        return self._added

    def with_metrics(self, extra: Sequence[MetricSpec]) -> TaskSpec:
        """This task with ``extra`` metrics scored too (``--metrics +NAME``).

        A metric the task lists under ``optional_metrics`` takes its parameters from there,
        updated by the ones given; one already among the task's metrics is left as it is.
        """
        declared = {m.name: m for m in self.optional_metrics}
        own = {m.name for m in self.metrics}
        added = [
            MetricSpec(
                name=m.name,
                params={**(declared[m.name].params if m.name in declared else {}), **m.params},
            )
            for m in extra
            if m.name not in own
        ]
        if not added:
            return self
        copy = self.model_copy(update={"metrics": [*self.metrics, *added]})
        copy._added = (*self._added, *(m.name for m in added))
        return copy


def _first_repeat(values: list[str]) -> str | None:
    seen: set[str] = set()
    for v in values:
        if v in seen:
            return v
        seen.add(v)
    return None


def task_json_schema() -> dict[str, Any]:
    """The JSON Schema of a task file, for editors (``bench tasks schema``)."""
    schema = TaskSpec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"bench task file (schema version {SCHEMA_VERSION})"
    for hidden in ("path", "suite"):
        schema.get("properties", {}).pop(hidden, None)
    # Steps and metrics are usually written in their short forms (``- lowercase``,
    # ``- ece: {bins: 15}``), which the models accept before validation; the schema must too.
    defs = schema.get("$defs", {})
    for model, what in (("StepSpec", "step"), ("MetricSpec", "metric")):
        full = defs.get(model)
        if full is None:
            continue
        defs[model] = {
            "title": full.get("title", model),
            "description": full.get("description", ""),
            "anyOf": [
                {"type": "string", "description": f"a registered {what} name"},
                {
                    "type": "object",
                    "description": f"{{{what} name: {{params}}}}",
                    "minProperties": 1,
                    "maxProperties": 1,
                    "not": {"required": ["name"]},
                    "additionalProperties": {"anyOf": [{"type": "object"}, {"type": "null"}]},
                },
                full,
            ],
        }
    return schema


# --------------------------------------------------------------------------- loading


def load_task(path: str | Path, *, suite: str | None = None, check_names: bool = True) -> TaskSpec:
    """Read and validate one task file.

    Args:
        path: The YAML file. Its stem must equal the task's ``name``.
        suite: The suite the file belongs to (its folder under a tasks root).
        check_names: Also check family, step and metric names (and their params) against the
            registry.

    Raises:
        TaskSpecError: The file is unreadable, not YAML, or does not match the schema; the
            message names the file, line and field.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise TaskSpecError(f"{path}: no such task file", fix="check the path") from exc
    except UnicodeDecodeError as exc:
        raise TaskSpecError(
            f"{path}: not UTF-8 (byte {exc.start})", fix="save the file as UTF-8"
        ) from exc
    return parse_task(text, path=path, suite=suite, check_names=check_names)


_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML was built with it (the same documents, 5-10x faster)."""


def _compose_and_load(text: str) -> tuple[Any, Any]:
    """The node graph (for line numbers) and the data of a task file, read with
    :data:`_FAST_LOADER`; a document it refuses is read again with PyYAML's own safe loader,
    so that the error raised (and shown) is always PyYAML's."""
    for loader_class in (_FAST_LOADER, yaml.SafeLoader):
        loader = loader_class(text)
        try:
            node = loader.get_single_node()  # one parse gives the nodes and, from them, the data
            return node, (loader.construct_document(node) if node is not None else None)
        except yaml.YAMLError:
            if loader_class is yaml.SafeLoader:
                raise
        finally:
            loader.dispose()
    raise AssertionError("unreachable")  # pragma: no cover


def parse_task(
    text: str, *, path: Path | None = None, suite: str | None = None, check_names: bool = True
) -> TaskSpec:
    """Validate task-file text; see :func:`load_task`."""
    where = str(path) if path else "<task>"
    try:
        # Bounds first, on the event stream: composing a deep document recurses, and walking
        # an alias bomb's node graph (or validating its data) takes exponential time.
        check_yaml_bounds(text, where)
        node, data = _compose_and_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        loc = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise TaskSpecError(
            f"{where}:{loc}: invalid YAML: {problem}",
            fix="task files are plain YAML data; tags such as !!python/... are never allowed",
        ) from exc
    lines = _line_index(node)
    _check_duplicate_keys(node, where)
    if not isinstance(data, dict):
        raise TaskSpecError(
            f"{where}: a task file must be a YAML mapping, got {type(data).__name__}"
        )
    try:
        spec = TaskSpec.model_validate(data)
    except ValidationError as exc:
        raise TaskSpecError(_describe(exc, where, lines)) from exc
    if path is not None and spec.name != path.stem:
        raise TaskSpecError(
            f"{where} line {lines.get(('name',), 1)}: field 'name': '{spec.name}' differs from "
            f"the file name '{path.stem}'",
            fix=f"rename the file to {spec.name}.yaml or set name: {path.stem}",
        )
    spec = spec.model_copy(update={"path": path, "suite": suite})
    if check_names:
        _check_names(spec, where, lines)
    return spec


MAX_DEPTH = 100
"""Deepest nesting of mappings and lists a task file may have (aliases expanded)."""

MAX_NODES = 100_000
"""Most values (scalars, mappings, lists) a task file may expand to, aliases expanded."""


def check_yaml_bounds(
    text: str, where: str, *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES
) -> None:
    """Refuse YAML nested deeper than ``max_depth`` or expanding to more than ``max_nodes``.

    Works on PyYAML's event stream, which is parsed without recursion, and never expands an
    alias: each anchor's expanded size and height are computed once, when its node ends, and an
    alias adds them in constant time. So a few hundred bytes of "billion laughs" aliases, a
    recursive alias or 20,000 nested brackets are refused in linear time and memory.

    Args:
        text: The YAML text.
        where: How messages name the file.
        max_depth: The deepest nesting allowed.
        max_nodes: The most values the document may expand to.

    Raises:
        TaskSpecError: Naming the file and the line where a bound is crossed.
        yaml.YAMLError: The text is not YAML (the caller reports it).
    """
    fix = (
        "task files are small, flat data; write the values out instead of nesting or "
        "aliasing them this much"
    )
    # Per open mapping/list: [expanded size of its children, height of its children, anchor].
    stack: list[list[Any]] = []
    sizes: dict[str, tuple[int, int]] = {}  # anchor -> (expanded size, height)
    total = 0

    def add(size: int, height: int, line: int, alias: str | None) -> None:
        nonlocal total
        total += size
        if total > max_nodes:
            how = f" (alias *{alias} on line {line} repeats {size} values)" if alias else ""
            raise TaskSpecError(
                f"{where} line {line}: the document expands to more than {max_nodes} values{how}",
                fix=fix,
            )
        if len(stack) + height > max_depth:
            how = f" (alias *{alias} is {height} levels deep)" if alias else ""
            raise TaskSpecError(
                f"{where} line {line}: nesting deeper than {max_depth} levels{how}", fix=fix
            )
        if stack:
            stack[-1][0] += size
            stack[-1][1] = max(stack[-1][1], height + 1)

    try:
        events: Iterable[Any] = list(yaml.parse(text, Loader=_FAST_LOADER))
    except yaml.YAMLError:
        events = yaml.parse(text, Loader=yaml.SafeLoader)  # the same error, in PyYAML's words
    for event in events:
        line = event.start_mark.line + 1 if event.start_mark else 1
        if isinstance(event, yaml.ScalarEvent):
            add(1, 0, line, None)
            if event.anchor:
                sizes[event.anchor] = (1, 0)
        elif isinstance(event, yaml.AliasEvent):
            anchor = str(event.anchor)
            if any(frame[2] == anchor for frame in stack):
                raise TaskSpecError(
                    f"{where} line {line}: alias *{anchor} refers to a value that contains it "
                    "(a recursive alias)",
                    fix="task files cannot hold recursive values; write the value out",
                )
            size, height = sizes.get(anchor, (1, 0))  # an undefined alias: compose reports it
            add(size, height, line, anchor)
        elif isinstance(event, yaml.CollectionStartEvent):
            if len(stack) + 1 > max_depth:
                raise TaskSpecError(
                    f"{where} line {line}: nesting deeper than {max_depth} levels", fix=fix
                )
            stack.append([0, 0, event.anchor])
        elif isinstance(event, yaml.CollectionEndEvent):
            children, height, anchor = stack.pop()
            # The collection itself was not counted when it opened; count it with its children.
            size = children + 1
            total -= children  # the children were added to the total already
            add(size, height, line, None)
            if anchor:
                sizes[anchor] = (size, height)


def _check_names(spec: TaskSpec, where: str, lines: dict[tuple[Any, ...], int]) -> None:
    from bench.registry import registry

    def fail(loc: tuple[Any, ...], message: str, fix: str | None = None) -> None:
        line = _nearest_line(lines, loc)
        raise TaskSpecError(f"{where} line {line}: field '{_dotted(loc)}': {message}", fix=fix)

    try:
        family = registry.get("family", spec.family)
    except UnknownName as exc:
        fail(("family",), exc.message, exc.fix)
    # Names are checked against the registry's name table; a step or metric is imported only
    # to check parameters its class might refuse (bench tasks list imports no metric module
    # for a task that names its metrics bare).
    for i, step in enumerate(spec.preprocess):
        try:
            registry.check_name("step", step.name)
        except UnknownName as exc:
            fail(("preprocess", i), exc.message, exc.fix)
        if not step.params and registry.builds_without_params("step", step.name):
            continue
        cls = registry.get("step", step.name)
        try:
            cls(**step.params)
        except ValidationError as exc:
            fail(
                ("preprocess", i, step.name),
                _brief(exc, cls),
                "see `bench tasks schema` and the step's docs",
            )
        except TypeError as exc:
            fail(("preprocess", i, step.name), str(exc))
    for i, metric in enumerate(spec.metrics):
        try:
            registry.check_name("metric", metric.name)
        except UnknownName as exc:
            fail(("metrics", i), exc.message, exc.fix)
        if not metric.params and registry.builds_without_params("metric", metric.name):
            continue
        cls = registry.get("metric", metric.name)
        try:
            cls(**metric.params)
        except ValidationError as exc:
            fail(("metrics", i, metric.name), _brief(exc, cls))
        except TypeError as exc:
            fail(("metrics", i, metric.name), str(exc))
    own = {m.name for m in spec.metrics}
    for i, metric in enumerate(spec.optional_metrics):
        try:
            registry.check_name("metric", metric.name)
        except UnknownName as exc:
            fail(("optional_metrics", i), exc.message, exc.fix)
        if metric.name in own:
            fail(
                ("optional_metrics", i),
                f"metric '{metric.name}' is both in metrics and in optional_metrics",
                "keep it in one of them",
            )
        # Only the names of the parameters are checked: an optional metric may leave a
        # parameter to the user (a judge's model, given with --metrics +judge:model=...).
        if not metric.params:
            continue
        fields = getattr(registry.get("metric", metric.name), "model_fields", {})
        for key in metric.params:
            if key not in fields:
                fail(
                    ("optional_metrics", i, metric.name),
                    f"unknown parameter '{key}'{did_you_mean(key, list(fields))}",
                    f"the parameters of {metric.name} are: {', '.join(fields)}",
                )
    try:
        family.validate(spec)  # options, prompt template, then the family's own checks
    except TaskSpecError as exc:
        fail(getattr(exc, "loc", ("family",)), exc.message, exc.fix)


def _brief(exc: ValidationError, cls: Any = None) -> str:
    params = [n for n in getattr(cls, "model_fields", {}) if not n.startswith("_")]
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            key = str(err["loc"][-1]) if err["loc"] else ""
            msg = f"unknown parameter{did_you_mean(key, params)}"
            if params:
                msg += f"; parameters: {', '.join(params)}"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def _describe(exc: ValidationError, where: str, lines: dict[tuple[Any, ...], int]) -> str:
    messages = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        # pydantic adds function-name segments for before-validators; drop them.
        loc = tuple(p for p in loc if p not in ("function-after", "function-before"))
        line = _nearest_line(lines, loc)
        if err["type"] == "extra_forbidden":
            key = str(loc[-1])
            siblings = _field_names(loc[:-1])
            msg = f"unknown key '{key}'{did_you_mean(key, siblings)}"
            if siblings:
                msg += f"; allowed: {', '.join(siblings)}"
        elif err["type"] == "missing":
            msg = "required field is missing"
        else:
            msg = err["msg"].removeprefix("Value error, ")
        messages.append(f"{where} line {line}: field '{_dotted(loc)}': {msg}")
    return messages[0] if len(messages) == 1 else f"{len(messages)} errors: " + " | ".join(messages)


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def _field_names(loc: tuple[Any, ...]) -> list[str]:
    """Field names of the pydantic model found by walking ``loc`` from TaskSpec."""
    model: Any = TaskSpec
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if field is None:
            return []
        model = _model_of(field.annotation)
    if model is None or not hasattr(model, "model_fields"):
        return []
    return [n for n in model.model_fields if n not in ("path", "suite")]


def _model_of(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _line_index(node: yaml.Node | None) -> dict[tuple[Any, ...], int]:
    """Map each path in the YAML document to its 1-based line number."""
    index: dict[tuple[Any, ...], int] = {}

    def walk(n: yaml.Node, path: tuple[Any, ...]) -> None:
        index[path] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            for key, value in n.value:
                k = key.value
                index[(*path, k)] = key.start_mark.line + 1
                walk(value, (*path, k))
                index[(*path, k)] = key.start_mark.line + 1
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, (*path, i))

    if node is not None:
        walk(node, ())
    return index


def _check_duplicate_keys(node: yaml.Node | None, where: str) -> None:
    """YAML keeps the last of two equal keys; a task file must not say two things at once."""

    def walk(n: yaml.Node, path: tuple[Any, ...]) -> None:
        if isinstance(n, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key, value in n.value:
                k = key.value
                line = key.start_mark.line + 1
                if k in seen:
                    raise TaskSpecError(
                        f"{where} line {line}: field '{_dotted((*path, k))}': key '{k}' is "
                        f"given twice (first on line {seen[k]})",
                        fix="keep one of them",
                    )
                seen[k] = line
                walk(value, (*path, k))
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, (*path, i))

    if node is not None:
        walk(node, ())


def _nearest_line(lines: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int:
    for end in range(len(loc), -1, -1):
        key = tuple(loc[:end])
        if key in lines:
            return lines[key]
        # Mapping keys in YAML may be ints where the loc holds strings, and vice versa.
        alt = tuple(str(p) if not isinstance(p, str) else p for p in key)
        for k, v in lines.items():
            if tuple(str(p) for p in k) == tuple(str(p) for p in alt):
                return v
    return 1
