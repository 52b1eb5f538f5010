"""The family contract: how a data row becomes a typed request and its reference.

A family knows which fields its rows need, which fields are text (so preprocessing applies to
them by default), how to build one :class:`Request` per example, how to check a task spec, and
how to read a response back from JSON (cache, predictions files). It also owns its protocol
for generic (language-model) adapters and reports, so nothing outside ``bench/families/``
switches on a family's name:

* :attr:`Family.Options`: the closed model of the task file's ``options:`` (an unknown key is a
  :class:`~bench.errors.TaskSpecError` with a did-you-mean and the allowed keys);
* :attr:`Family.default_prompt`, :attr:`Family.prompt_example` and
  :meth:`Family.prompt_values`: the jinja2 template used when a task has no ``prompt:``, the
  fields a template may use (see :mod:`bench.families.prompts`) and their values per request;
* :meth:`Family.parse_answer` (free text back into the family's response, under the task's
  ``scoring.extract`` / ``strip_reasoning``: :mod:`bench.families.extract`),
  :meth:`Family.check_protocol` (what ``scoring:`` and ``fewshot:`` the family can serve),
  :meth:`Family.answer_choices` / :meth:`Family.from_choice_scores` (answer by scoring
  continuations instead of generating) and :attr:`Family.stop_sequences`;
* :meth:`Family.labels`, :attr:`Family.title` (display names by report language),
  :meth:`Family.language_group` (the leaderboard's language view) and
  :attr:`Family.new_task_template` (``bench new-task``).
"""

from __future__ import annotations

import functools
import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
)

from bench.errors import TaskSpecError, UnknownName, did_you_mean
from bench.families.prompts import PromptValue, check_template, render_template
from bench.spec import TaskSpec

__all__ = [
    "Failure",
    "Family",
    "NoOptions",
    "Prepared",
    "Request",
    "Response",
    "Shot",
    "Transcript",
    "family_class",
    "get_family",
]


class Shot(BaseModel):
    """One in-context example (exemplar) shown before a test request.

    Attributes:
        id: The exemplar's id in its split.
        request: The exemplar's request, as its family's request model dumps it (no shots).
        answer: The exemplar's gold answer as the model is shown it (a label's verbaliser, a
            reference translation, the first QA answer).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    request: dict[str, Any]
    answer: str


class Transcript(BaseModel):
    """What a language model saw and said for one request, kept with its response.

    Attributes:
        prompt: The text the model was given (after the chat template), when it was one text.
        messages: The message list sent to a chat endpoint, when it was messages.
        completion: The raw generated text, before any parsing (``generate``).
        choices: The score of each answer choice (``loglik``, after normalisation).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str | None = None
    messages: list[dict[str, str]] | None = None
    completion: str | None = None
    choices: dict[str, float] | None = None


class Request(BaseModel):
    """One example as a model sees it. Subclasses add the family's fields.

    ``id`` identifies the example within its task; it is not part of :meth:`content_hash`, so
    two examples with the same content share a cached prediction. ``shots`` are the in-context
    examples a prompted model is shown first (empty for every other adapter); they are part of
    the content hash when there are any.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    family: ClassVar[str]
    id: str
    language: str
    shots: tuple[Shot, ...] = ()

    def content_hash(self) -> str:
        """SHA-256 of everything the model sees (all fields but ``id``; ``shots`` when there
        are any)."""
        exclude = {"id"} if self.shots else {"id", "shots"}
        payload = self.model_dump(mode="json", exclude=exclude)
        payload["__family__"] = self.family
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()


class Response(BaseModel):
    """What an adapter returns for one request. Subclasses add the family's fields.

    ``transcript``, set by prompted (language-model) adapters, holds the rendered prompt and
    the raw completion (or the choice scores) the answer was parsed from.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    family: ClassVar[str]
    transcript: Transcript | None = None

    @model_serializer(mode="wrap")
    def _drop_empty_transcript(self, handler: SerializerFunctionWrapHandler) -> Any:
        # A response without a transcript dumps as it did before transcripts existed, so
        # cached answers, samples and predictions files of other adapters are unchanged.
        data = handler(self)
        if isinstance(data, dict) and data.get("transcript", 0) is None:
            del data["transcript"]
        return data


class Failure(BaseModel):
    """An example the adapter knows it could not answer: a value, not an exception.

    An adapter returns one in place of a :class:`Response` when it gave up on that example (the
    HTTP API failed after its retries, the answer could not be parsed, the predictions file has
    no line for the id). The runner counts it by :attr:`label`, scores the example as a miss and
    never caches it. Any *exception* an adapter raises is a bug: it stops the run.

    Attributes:
        cause: A short, stable category (``http``, ``timeout``, ``unparsable``, ``missing``,
            ``invalid``, ...): what failure counts are grouped by.
        message: What happened, for a person (at most a few hundred characters).

    Example:
        >>> Failure(cause="http", message="503 after 3 retries").label
        'http: 503 after 3 retries'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    cause: str
    message: str = ""

    @property
    def label(self) -> str:
        """``cause: message`` (or just ``cause``), the key failures are counted by."""
        return f"{self.cause}: {self.message}" if self.message else self.cause


@dataclass
class Prepared:
    """A task's test requests (and, lazily, its train examples), ready for an adapter.

    Families whose requests are not one per data row (recommendation builds one per user from
    an interaction log) return this from :meth:`Family.prepare`.

    Attributes:
        requests: One request per scored example (a list, or a lazy sequence built from the
            dataset chunk by chunk: see :mod:`bench.streaming`).
        references: The reference of each request.
        fingerprint: Content fingerprint of what is scored (data, protocol, candidates).
        origin: Human-readable description of the data read.
        dropped: Rows dropped before scoring (``drop_empty``).
        train_fingerprint: Content fingerprint of the train examples, if there are any.
        load_train: Builds the train examples (called only when the adapter must be trained).
        info: Family-specific facts for the record (protocol, candidate hash, excluded users).
        train_overlap: Test examples whose input is also a train example's (``None``: not
            counted; see :mod:`bench.overlap`).
    """

    requests: Sequence[Request]
    references: Sequence[Any]
    fingerprint: str
    origin: str
    dropped: int = 0
    train_fingerprint: str | None = None
    load_train: Callable[[], list[tuple[Request, Any]]] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    train_overlap: int | None = None


class NoOptions(BaseModel):
    """The options of a family that takes none: every key under ``options:`` is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _option_names(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """Field names of the (nested) options model found by walking ``loc``."""
    current: Any = model
    for part in loc:
        field_info = getattr(current, "model_fields", {}).get(part)
        if field_info is None:
            break
        current = next(
            (
                a
                for a in (field_info.annotation, *getattr(field_info.annotation, "__args__", ()))
                if isinstance(a, type) and issubclass(a, BaseModel)
            ),
            None,
        )
    return list(getattr(current, "model_fields", {}))


@functools.lru_cache(maxsize=256)
def _check_once(cls: type[Family], template: str, where: str) -> None:
    """:func:`check_template` once per family and template (a spec built in code, never
    validated from a file, gets the same checks before its first prompt is rendered)."""
    check_template(template, cls.prompt_example, where=where, family=cls.name)


class Family(ABC):
    """A task family (sentiment, translation, ...).

    Subclasses set the class attributes below; the protocol ones have defaults that mean "no
    such thing" (no options, no prompt: generic language-model adapters cannot serve the
    family, no display name beyond :attr:`name`).

    Attributes:
        name: The registry name.
        request_type: The family's request model.
        response_type: The family's response model.
        required_fields: Canonical fields every row needs.
        optional_fields: Canonical fields a row may have.
        text_fields: Fields preprocessing applies to by default.
        default_metrics: Metrics a new task of the family lists.
        Options: The closed model of the task file's ``options:``.
        default_prompt: The jinja2 template used when a task has no ``prompt:``.
        prompt_example: Every field a template may use, with an example value.
        stop_sequences: Where generated answers are cut by default.
        choices_share_prompt: :meth:`answer_choices` returns many continuations of one long
            prompt (a catalogue of items): backends should score them against one cached
            prompt rather than as independent pairs.
        default_scoring: The scoring mode (``loglik`` or ``generate``) of a task that
            declares none in ``scoring.mode``.
        correctness: How one answer is judged right or wrong, for ``pass@k`` and majority
            votes over samples (:mod:`bench.metrics.sampling`): ``label`` (the predicted
            label equals the reference), ``exact_match`` (the task's exact-match metric), or
            ``None`` (the family defines no correctness).
        title: Display names by report language (``{"en": ..., "zh": ...}``).
        new_task_template: The commented task file ``bench new-task`` writes (``{name}`` is
            replaced by the task's name), or ``None``.
        internal: A family bench uses inside itself (the LLM judge's requests,
            :mod:`bench.families.judge`): no task file may use it and it has no task
            template.
        scored_unit: What one scored test item is, where it is not an example (``users``
            for recommendation): how sizes are labelled in listings and the catalog.
        directed: The task's languages are ``[source, target]`` (translation): listings
            write them ``zh→en``.
    """

    name: ClassVar[str]
    request_type: ClassVar[type[Request]]
    response_type: ClassVar[type[Response]]
    required_fields: ClassVar[tuple[str, ...]]
    optional_fields: ClassVar[tuple[str, ...]] = ("id",)
    text_fields: ClassVar[tuple[str, ...]]
    default_metrics: ClassVar[tuple[str, ...]]
    Options: ClassVar[type[BaseModel]] = NoOptions
    default_prompt: ClassVar[str | None] = None
    prompt_example: ClassVar[Mapping[str, PromptValue]] = {}
    stop_sequences: ClassVar[tuple[str, ...]] = ()
    choices_share_prompt: ClassVar[bool] = False
    default_scoring: ClassVar[Literal["loglik", "generate"]] = "generate"
    correctness: ClassVar[Literal["label", "exact_match"] | None] = None
    title: ClassVar[Mapping[str, str]] = {}
    new_task_template: ClassVar[str | None] = None
    internal: ClassVar[bool] = False
    scored_unit: ClassVar[str] = ""
    directed: ClassVar[bool] = False

    # ------------------------------------------------------------------ task checks

    @classmethod
    def validate(cls, spec: TaskSpec) -> None:
        """Every check a task of this family gets at load: options, prompt, the ``scoring`` /
        ``fewshot`` blocks (:meth:`check_protocol`), then :meth:`check_spec`.

        Raises:
            TaskSpecError: With ``loc`` set to the field at fault (the task loader turns it
                into the file's line).
        """
        cls.options(spec)
        cls.check_prompt(spec)
        cls.check_protocol(spec)
        cls.check_spec(spec)

    @classmethod
    def has_choices(cls) -> bool:
        """Whether the family answers by scoring choices (it overrides
        :meth:`answer_choices`), so ``scoring.mode: loglik`` can serve it."""
        return cls.answer_choices is not Family.answer_choices

    @classmethod
    def shows_examples(cls) -> bool:
        """Whether the family can show a pool example's answer (it overrides
        :meth:`answer_text`), so ``fewshot:`` can serve it."""
        return cls.answer_text is not Family.answer_text

    @classmethod
    def check_protocol(cls, spec: TaskSpec) -> None:
        """Check the ``scoring:`` and ``fewshot:`` blocks against what the family can do.

        ``scoring.mode: loglik`` needs answer choices (:meth:`has_choices`); ``extract`` rules
        (``first``, ``last``, ``regex``, ``json``) suit every family. ``fewshot`` with
        ``k > 0`` needs examples the family can show (:meth:`shows_examples`), and
        ``selector: balanced`` a family with labels.

        Raises:
            TaskSpecError: With ``loc`` at the field at fault.
        """
        scoring = spec.scoring
        if scoring is not None and scoring.mode == "loglik" and not cls.has_choices():
            exc = TaskSpecError(
                f"'loglik' scores answer choices, and {cls.name} tasks have none "
                "(the model writes its answer)",
                fix="use 'mode: generate' (with an 'extract:' rule) or remove 'mode:'",
            )
            exc.loc = ("scoring", "mode")  # type: ignore[attr-defined]
            raise exc
        fewshot = spec.fewshot
        if fewshot is None or fewshot.k == 0:
            return
        if not cls.shows_examples():
            exc = TaskSpecError(
                f"in-context examples need each exemplar's answer, and {cls.name} examples "
                "cannot be shown with theirs",
                fix="remove 'fewshot:' (or set 'k: 0')",
            )
            exc.loc = ("fewshot",)  # type: ignore[attr-defined]
            raise exc
        roles = cls.exemplar_roles(spec)
        if fewshot.split not in roles:
            exc = TaskSpecError(
                f"fewshot.split '{fewshot.split}' is not one of the task's splits "
                f"{sorted(roles) or '(none besides test)'}; exemplars never come from the test "
                "split",
                fix="add a train (or validation) split to source.splits, or remove 'fewshot:'",
            )
            exc.loc = ("fewshot", "split")  # type: ignore[attr-defined]
            raise exc
        if fewshot.selector == "balanced" and not cls.labels(spec):
            exc = TaskSpecError(
                f"'balanced' picks k exemplars per label, and {cls.name} tasks have no labels",
                fix="use 'selector:' first, random, fixed or bm25",
            )
            exc.loc = ("fewshot", "selector")  # type: ignore[attr-defined]
            raise exc

    @classmethod
    def exemplar_roles(cls, spec: TaskSpec) -> set[str]:
        """The roles in-context examples can come from (``fewshot.split``): the task's
        ``train`` and ``validation`` splits. A family that builds its own train examples
        (recommendation's held-out protocol) adds ``train``."""
        return {r for r in spec.source.splits if r != "test"}

    @classmethod
    def check_spec(cls, spec: TaskSpec) -> None:
        """Raise :class:`~bench.errors.TaskSpecError` when ``spec`` cannot work for this family.

        The default accepts every spec that passed the schema.
        """
        return None

    @classmethod
    def options(cls, spec: TaskSpec) -> BaseModel:
        """The task's ``options:`` validated by :attr:`Options`: the one way to read them.

        Raises:
            TaskSpecError: An unknown key (with a did-you-mean and the allowed keys) or a bad
                value; ``loc`` is the key's path under ``options``.
        """
        try:
            return cls.Options.model_validate(spec.options)
        except ValidationError as exc:
            # An unknown key first: it is usually why a required one looks missing.
            err = min(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
            loc = tuple(err["loc"])
            allowed = _option_names(cls.Options, loc[:-1])
            if err["type"] == "extra_forbidden":
                key = str(loc[-1])
                msg = f"unknown key '{key}'{did_you_mean(key, allowed)}; allowed: "
                msg += ", ".join(allowed) if allowed else f"none ({cls.name} tasks take no options)"
            elif err["type"] == "missing":
                msg = f"required key '{loc[-1]}' is missing"
            else:
                msg = err["msg"]
            fix = (
                f"{cls.name} options: {', '.join(cls.Options.model_fields)}"
                if cls.Options.model_fields
                else "remove 'options:'"
            )
            exc2 = TaskSpecError(msg, fix=fix)
            exc2.loc = ("options", *loc)  # type: ignore[attr-defined]
            raise exc2 from exc

    @classmethod
    def labels(cls, spec: TaskSpec) -> tuple[str, ...]:
        """The task's label set (empty for families that do not classify)."""
        return ()

    # ------------------------------------------------------------------ prompts

    @classmethod
    def prompt_template(cls, spec: TaskSpec | None) -> str:
        """The template used for ``spec``: its ``prompt.template``, else :attr:`default_prompt`.

        Raises:
            TaskSpecError: The task has no prompt and the family no default.
        """
        if spec is not None and spec.prompt is not None:
            return spec.prompt.template
        if cls.default_prompt is None:
            name = spec.name if spec is not None else "?"
            raise TaskSpecError(
                f"task '{name}': family '{cls.name}' has no default prompt",
                fix="add a prompt: {template: ...} to the task file",
            )
        return cls.default_prompt

    @classmethod
    def check_prompt(cls, spec: TaskSpec) -> None:
        """Check the task's template (or the default) against :attr:`prompt_example`.

        A family without prompt fields accepts no ``prompt:``. See
        :func:`~bench.families.prompts.check_template` for the rules.
        """
        if spec.prompts is None and spec.prompt is None:
            if cls.default_prompt is not None:
                where = f"the {cls.name} family's default prompt"
                check_template(cls.default_prompt, cls.prompt_example, where=where, family=cls.name)
            return
        key = "prompts" if spec.prompts is not None else "prompt"
        if not cls.prompt_example:
            exc = TaskSpecError(
                f"{cls.name} tasks take no {key} (no generic adapter serves the family)",
                fix=f"remove '{key}:'",
            )
            exc.loc = (key,)  # type: ignore[attr-defined]
            raise exc
        # (where an error points, template): check_template points a lone prompt's itself.
        templates: list[tuple[tuple[Any, ...] | None, str]] = (
            [(("prompts", i, "template"), v.template) for i, v in enumerate(spec.prompts)]
            if spec.prompts is not None
            else [(None, spec.prompt.template)]  # type: ignore[union-attr]
        )
        for loc, template in templates:
            try:
                check_template(template, cls.prompt_example, where=None, family=cls.name)
            except TaskSpecError as bad:
                if loc is not None:
                    bad.loc = loc  # type: ignore[attr-defined]
                raise

    def prompt_values(self, request: Request, spec: TaskSpec | None) -> dict[str, PromptValue]:
        """The plain values a template sees for ``request`` (the keys of
        :attr:`prompt_example`).

        Raises:
            TypeError: The family has no prompt fields.
        """
        raise TypeError(f"the {self.name} family has no prompt fields")

    def render_prompt(self, request: Request, spec: TaskSpec | None) -> str:
        """The prompt for ``request``: the task's template filled with :meth:`prompt_values`.

        Raises:
            TaskSpecError: The template cannot be rendered (it names the task).
        """
        template = self.prompt_template(spec)
        where = (
            f"task '{spec.name}'"
            if spec is not None
            else f"the {self.name} family's default prompt"
        )
        _check_once(type(self), template, where)
        return render_template(template, self.prompt_values(request, spec), where=where)

    # ------------------------------------------------------------------ answers

    def parse_answer(self, text: str, request: Request, spec: TaskSpec | None) -> Response:
        """The family's response for a model's free-text ``text`` answering ``request``.

        Raises:
            TypeError: The family reads no free-text answers.
        """
        raise TypeError(f"no answer parser for {self.name} requests")

    def answer_text(self, request: Request, reference: Any, spec: TaskSpec | None) -> str:
        """The gold answer of a pool example as an in-context example shows it after its
        prompt (a label's verbaliser, the reference translation, the first QA answer).

        Raises:
            TypeError: The family cannot show its examples' answers (no few-shot).
        """
        raise TypeError(f"{self.name} examples cannot be shown as in-context examples")

    def answer_choices(self, request: Request, spec: TaskSpec | None) -> tuple[str, ...] | None:
        """Continuations a language model scores to answer ``request``, best-scored wins;
        ``None`` (the default) means the model generates and :meth:`parse_answer` reads it."""
        return None

    def from_choice_scores(
        self, request: Request, spec: TaskSpec | None, scores: Sequence[float]
    ) -> Response:
        """The response given the log-likelihood of each of :meth:`answer_choices`.

        Raises:
            TypeError: The family answers by generating, not by choices.
        """
        raise TypeError(f"{self.name} requests are not answered by choices")

    # ------------------------------------------------------------------ reports

    @classmethod
    def display_name(cls, lang: str = "en") -> str:
        """The family's name in reports written in ``lang`` (its :attr:`name` if none)."""
        return cls.title.get(lang) or cls.title.get("en") or cls.name

    @classmethod
    def language_group(cls, languages: Sequence[str]) -> str:
        """The leaderboard's language view of a task in ``languages``: the one language root,
        else ``multilingual``."""
        roots = sorted({lang.split("-")[0].lower() for lang in languages})
        return roots[0] if len(roots) == 1 else "multilingual"

    def has_train(self, spec: TaskSpec) -> bool:
        """Whether the task gives trainable adapters something to train on."""
        return "train" in spec.source.splits

    def prepare(
        self, spec: TaskSpec, *, data_override: str | Path | None, limit: int | None
    ) -> Prepared | None:
        """Build the task's requests in one go; ``None`` (the default) means one per row."""
        return None

    def data_notes(self, requests: Sequence[Request], references: Sequence[Any]) -> dict[str, Any]:
        """Facts about the test data worth recording, not errors (e.g. QA answers that are not
        spans of their context); they go into the record's ``task.protocol``. Default: none."""
        return {}

    @abstractmethod
    def build(self, row: Mapping[str, Any], spec: TaskSpec) -> tuple[Request, Any]:
        """Turn one preprocessed row into ``(request, reference)``."""

    @abstractmethod
    def check_row(self, row: Mapping[str, Any], spec: TaskSpec) -> str | None:
        """Return why ``row`` is unusable (naming the field), or ``None`` when it is fine."""

    def metric_source(self, request: Request) -> str:
        """The text a model-based metric reads as the segment's source (COMET's ``src``, a
        judge's ``{{ source }}``): the source sentence, the document; ``""`` when the family
        has none."""
        return ""

    @abstractmethod
    def sample_input(self, request: Request) -> Any:
        """The part of the request shown in ``samples.jsonl`` and ``bench tasks show``."""

    @abstractmethod
    def sample_prediction(self, response: Response | None) -> Any:
        """The part of the response shown in ``samples.jsonl``."""

    def parse_response(self, data: Mapping[str, Any]) -> Response:
        """Read a response back from its JSON form."""
        return self.response_type.model_validate(dict(data))

    def check_response(
        self, response: Response, request: Request, spec: TaskSpec | None = None
    ) -> str | None:
        """Why ``response`` cannot be scored as an answer to ``request`` (naming the field and
        the value), or ``None`` when it can. ``spec``, when given, may sharpen the message
        (a did-you-mean through the task's verbalisers).

        The response model checks what a response is on its own; this checks it against its
        request (a sentiment label outside the request's labels). The predict stage turns a
        problem into a counted :class:`Failure` (cause ``invalid``); a predictions file with
        one is refused. The default accepts every response.
        """
        return None

    def parse_prediction(self, value: Any, spec: TaskSpec) -> Response:
        """Read a response from a predictions file's ``prediction`` value."""
        if isinstance(value, Mapping):
            return self.parse_response(value)
        raise TypeError(f"expected an object, got {type(value).__name__}")


def get_family(name: str) -> Family:
    """Instantiate the registered family ``name``."""
    from bench.registry import registry

    cls = registry.get("family", name)
    family: Family = cls()
    return family


def family_class(name: str) -> type[Family] | None:
    """The registered family ``name``, or ``None`` when none is registered.

    For readers of records (the leaderboard) whose family may come from a plugin that is not
    installed here; they fall back to :class:`Family`'s defaults.
    """
    from bench.registry import registry

    try:
        cls: type[Family] = registry.get("family", name)
    except UnknownName:
        return None
    return cls
