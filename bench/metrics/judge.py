"""``judge``: an LLM grades each segment, through any bench adapter.

The judge is a model spec (``openai:gpt-4o-mini,base_url=http://...``, ``hf:PATH,task=causal``,
a prompted plugin): bench builds that adapter, configures it for an in-memory judge task
(family ``judge``, :mod:`bench.families.judge`: the prompt is sent as rendered, the answer
comes back as raw text) with the judge's own generation settings, and asks it for every
segment. The prompt is a built-in template or the task's own (see
:mod:`bench.metrics.judge_templates`):

* ``gemba-da`` (translation, 0–100 direct assessment with the reference) and
  ``gemba-da-noref`` (without it), after GEMBA-DA (Kocmi and Federmann, 2023);
* ``geval-coherence``, ``geval-consistency``, ``geval-fluency``, ``geval-relevance``
  (summarization, 1–5 rubrics over the document and the summary), after G-Eval (Liu et al.,
  2023), and ``geval``: all four, each asked on its own; its outputs are ``judge/coherence``,
  ``judge/consistency``, ``judge/fluency`` and ``judge/relevance``, and the headline
  ``judge`` is, per segment, the mean of the four aspects (a segment missing any aspect has
  no headline score), averaged over segments;
* an inline jinja2 template (``template: "Rate ... {{ hypothesis }} ..."``), with
  ``scale`` required. Fields: ``source``, ``hypothesis``, ``reference``, ``references``,
  ``source_language``, ``target_language``, ``language``, ``source_language_name``,
  ``target_language_name`` (strict: an unknown field is an error when the task loads).

Parameters (task file ``optional_metrics: [{name: judge, params: {...}}]``, or
``--metrics +judge:model=openai:NAME,model.base_url=URL,template=gemba-da``: on the command
line, where commas separate the metric's parameters, ``model.KEY=VALUE`` adds ``KEY=VALUE`` to
the judge's model spec):

* ``model`` (required): the judge's model spec. Secrets never go in it (it is stored in the
  record): a key such as ``api_key=...`` is refused; the ``openai:`` adapter reads the key from
  the environment variable ``api_key_env`` names;
* ``template`` (required): a built-in name or an inline template;
* ``parse``: how a score is read from the answer (default: the template's, ``number``):
  ``number`` — the first number in the answer; ``regex:PATTERN`` — its first group (the
  whole match without one); ``json:FIELD`` — that field of the first JSON object. The score
  must lie within ``scale``;
* ``scale``: ``[min, max]`` of a valid score (default: the template's);
* ``repeats`` (default 1): judgements per segment; the segment's score is the mean of the
  parsed ones. Each repeat is its own request (its own sampling seed, from ``seed`` and the
  repeat). Repeats with ``temperature: 0`` are allowed, but a greedy judge answers the same
  every time, so they measure nothing and cost ``repeats`` times as much;
* ``temperature`` (default 0: greedy), ``max_new_tokens`` (default: the template's, 16) and
  ``seed`` (default 0): the judge's generation settings (they override the model spec's own
  decoding settings only where the adapter gives the task's precedence; ``openai:``'s own
  ``temperature=``/``max_tokens=`` win, and the fingerprint records either way).

Failures are counted, never scored as 0. A repeat whose answer has no score (nothing parsed,
or a number outside ``scale``) is a failed repeat; a segment without any parsed repeat (for
``geval``: without a parsed repeat of every aspect) has no score: it is left out of the mean
(``n`` counts the scored segments) and counted as failed. A request the adapter gave up on (a
:class:`~bench.families.base.Failure`: HTTP retries exhausted) fails its whole segment for this
scoring and is not cached, so the next scoring asks again. Each segment's cached row keeps the
parsed score and the raw answer of every repeat (``repeats``, ``answers``) and the number of
failed repeats.

Values beyond the scores (no interval; no paired test, so ``bench compare`` lists them as
not compared):

* ``judge/failed``: segments without a score; ``judge/repeats-failed``: repeats without a
  score (an unparsable or out-of-scale answer, and every repeat of a segment whose request
  failed); both counts, on scale 1;
* with ``repeats`` > 1, on the headline's scale: ``judge/repeat-sd``, the sample standard
  deviation (n − 1) over repeats ``r`` of the corpus mean of repeat ``r`` (the mean over
  segments of their repeat-``r`` score; for ``geval`` the mean of the four aspects' repeat-``r``
  scores; a segment without one is left out of that repeat's mean): how much the corpus score
  moves from one judging pass to the next; and ``judge/segment-sd``, the mean over segments
  with at least two parsed repeats of the sample standard deviation of their repeat scores.

The signature names the judge adapter's fingerprint for the judge task, the template's
hash, the parsing rule and scale, repeats, temperature, seed and answer length, e.g.
``judge|score|judge:openai:qwen@1a2b3c4d5e6f|tpl:gemba-da@9f8e7d6c|parse:number[0,100]|``
``repeats:3|T:0.7|seed:0|max:16|<bootstrap>|v:1``.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import Field, PrivateAttr, field_validator, model_validator

from bench.adapters.base import Adapter, make_adapter, parse_model_spec
from bench.errors import AdapterError, BenchError, did_you_mean
from bench.families.base import Failure, get_family
from bench.families.extract import first_json_field
from bench.families.judge import JUDGE_FAMILY, JudgeRequest
from bench.families.prompts import check_template, render_template
from bench.identity import short_hash
from bench.metrics.base import MetricValue, ScoringContext
from bench.metrics.judge_templates import (
    EXAMPLE_VALUES,
    TEMPLATES,
    JudgeTemplate,
    language_name,
)
from bench.metrics.model_based import ModelMetric, Segment
from bench.redaction import SECRET_KEYS, Redactor
from bench.spec import TaskSpec

__all__ = ["Judge", "parse_score"]

_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)")
_MODEL_KEY = "model."
_ADAPTERS: dict[str, Adapter] = {}  # bound judge adapters by spec + task (a loaded hf model)
_MAX_ADAPTERS = 4


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_score(answer: str, rule: str, scale: tuple[float, float]) -> float | None:
    """The score in a judge's ``answer`` under ``rule``, or ``None`` (no score: nothing
    matched, not a number, or outside ``scale``).

    Example:
        >>> parse_score("Score: 85/100", "number", (0, 100))
        85.0
        >>> parse_score("150", "number", (0, 100)) is None
        True
        >>> parse_score('{"score": 4}', "json:score", (1, 5))
        4.0
        >>> parse_score("Rating: 3 stars", r"regex:Rating: (\\d+)", (1, 5))
        3.0
    """
    if rule == "number":
        match = _NUMBER.search(answer)
        value = _number(match.group() if match else None)
    elif rule.startswith("regex:"):
        match = re.search(rule[len("regex:") :], answer)
        if match is None:
            return None
        value = _number(match.group(1) if match.re.groups and match.group(1) else match.group())
    elif rule.startswith("json:"):
        value = _number(first_json_field(answer, rule[len("json:") :]))
    else:  # pragma: no cover - refused when the metric is built
        raise ValueError(f"unknown parse rule {rule!r}")
    if value is None or not scale[0] <= value <= scale[1]:
        return None
    return value


class Judge(ModelMetric):
    """An LLM judge over any bench adapter; see the module docstring."""

    name: ClassVar[str] = "judge"
    version: ClassVar[int] = 1
    families: ClassVar[tuple[str, ...]] = ("translation", "summarization")
    needs_references: ClassVar[bool] = False
    auto_batch_start: ClassVar[int] = 128  # segments per predict call (one HTTP session)

    model: str = Field(description="The judge's model spec (no secrets: it is recorded).")
    template: str = Field(description="A built-in template name, or an inline jinja2 template.")
    parse: str | None = Field(
        default=None, description="number, regex:PATTERN or json:FIELD (default: the template's)."
    )
    score_range: tuple[float, float] | None = Field(
        default=None,
        alias="scale",
        description="scale: [min, max] of a valid score (default: the template's).",
    )
    repeats: int = Field(default=1, ge=1, le=100, description="Judgements per segment.")
    temperature: float = Field(default=0.0, ge=0, le=10, description="0: greedy.")
    max_new_tokens: int | None = Field(
        default=None, ge=1, le=32768, description="Answer length (default: the template's)."
    )
    seed: int = Field(default=0, ge=0, description="Seeds the judge's sampling.")

    _bound: Adapter | None = PrivateAttr(default=None)

    # ------------------------------------------------------------------ validation

    @model_validator(mode="before")
    @classmethod
    def _fold_model_params(cls, data: Any) -> Any:
        """``model.KEY=VALUE`` parameters (the command line's way) join the model spec."""
        if not isinstance(data, dict) or not any(str(k).startswith(_MODEL_KEY) for k in data):
            return data
        out = {k: v for k, v in data.items() if not str(k).startswith(_MODEL_KEY)}
        extra = [f"{str(k)[len(_MODEL_KEY) :]}={v}" for k, v in data.items() if k not in out]
        if "model" not in out:
            raise ValueError("model.KEY=VALUE parameters need model=KIND:TARGET first")
        out["model"] = ",".join([str(out["model"]), *extra])
        return out

    @field_validator("model")
    @classmethod
    def _model_spec(cls, value: str) -> str:
        try:
            spec = parse_model_spec(value)
        except BenchError as exc:
            raise ValueError(exc.message) from None
        secret = [k for k in spec.params if SECRET_KEYS.search(k) and not k.endswith("_env")]
        if secret:
            raise ValueError(
                f"the judge's model spec holds '{secret[0]}=...', and the spec is stored in "
                "the record; pass secrets through the environment (openai: api_key_env=NAME "
                "names the variable that holds the key)"
            )
        return value

    @field_validator("template")
    @classmethod
    def _template_known(cls, value: str) -> str:
        if value in TEMPLATES:
            return value
        if "{{" not in value:
            raise ValueError(
                f"unknown judge template '{value}'{did_you_mean(value, TEMPLATES)}; built-in: "
                f"{', '.join(TEMPLATES)}, or write an inline jinja2 template"
            )
        try:
            check_template(value, EXAMPLE_VALUES, where="judge template", family="judge")
        except BenchError as exc:
            raise ValueError(exc.message) from None
        return value

    @field_validator("parse")
    @classmethod
    def _parse_rule(cls, value: str | None) -> str | None:
        if value is None or value == "number":
            return value
        if value.startswith("regex:") and value[len("regex:") :]:
            try:
                re.compile(value[len("regex:") :])
            except re.error as exc:
                raise ValueError(f"parse {value!r}: not a valid regex: {exc}") from None
            return value
        if value.startswith("json:") and value[len("json:") :]:
            return value
        raise ValueError(f"parse {value!r} is not number, regex:PATTERN or json:FIELD")

    @model_validator(mode="after")
    def _scale_ok(self) -> Judge:
        if self.score_range is None and self.template not in TEMPLATES:
            raise ValueError("an inline judge template needs scale: [min, max]")
        lo, hi = self.judge_scale
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi and hi > 0):
            raise ValueError(f"scale [{lo:g}, {hi:g}] must be finite with min < max and max > 0")
        return self

    # ------------------------------------------------------------------ settings

    @property
    def judge_template(self) -> JudgeTemplate:
        """The template: a built-in one, or the inline one (aspect ``score``)."""
        if self.template in TEMPLATES:
            return TEMPLATES[self.template]
        inline = (("score", self.template),)
        return JudgeTemplate("inline", inline, self.score_range or (0.0, 1.0))

    @property
    def judge_scale(self) -> tuple[float, float]:
        """``[min, max]`` of a valid score."""
        lo, hi = self.score_range or self.judge_template.scale
        return float(lo), float(hi)

    @property
    def rule(self) -> str:
        """The parsing rule in force."""
        return self.parse or self.judge_template.parse

    @property
    def answer_tokens(self) -> int:
        """The answer length in tokens in force."""
        return self.max_new_tokens or self.judge_template.max_new_tokens

    def aspects(self) -> tuple[str, ...]:
        """The template's aspects (``("score",)`` for a single-aspect template)."""
        return tuple(a for a, _ in self.judge_template.aspects)

    def output_names(self) -> tuple[str, ...]:
        """``score`` (the headline, ``judge``), then each aspect of a multi-aspect template."""
        tpl = self.judge_template
        return ("score", *self.aspects()) if tpl.multi else ("score",)

    def scale(self, output: str) -> float:
        """The scale's maximum for every score (``judge/failed`` counts: 1)."""
        return 1.0 if output in ("failed", "repeats-failed") else self.judge_scale[1]

    def value_range(self, value: str) -> tuple[float, float] | None:
        """Scores: ``[min/max, 1]`` (units of the scale's maximum); spreads and counts: at
        least 0."""
        lo, hi = self.judge_scale
        scores = {self.value_name(o) for o in self.output_names()}
        if value in scores:
            return (lo / hi, 1.0)
        extra = ("failed", "repeats-failed", "repeat-sd", "segment-sd")
        if value in {f"{self.name}/{e}" for e in extra}:
            return (0.0, math.inf)
        return None

    def judge_task(self) -> TaskSpec:
        """The in-memory task the judge adapter is configured for: family ``judge``, template
        ``{{ prompt }}``, scoring by generation, the judge's generation settings."""
        return TaskSpec.model_validate(
            {
                "name": "llm-judge",
                "version": 1,
                "family": JUDGE_FAMILY,
                "languages": ["en"],
                "description": "The LLM judge's requests (internal).",
                "source": {
                    "kind": "hub",
                    "location": "bench/llm-judge",
                    "splits": {"test": "test"},
                },
                "prompt": {"template": "{{ prompt }}"},
                "scoring": {"mode": "generate"},
                "generation": {
                    "temperature": self.temperature,
                    "max_new_tokens": self.answer_tokens,
                    "seed": self.seed,
                },
                "metrics": [{"name": "judge"}],
                "primary_metric": "judge",
            }
        )

    def adapter(self) -> Adapter:
        """The judge adapter, configured for :meth:`judge_task` (built once per process and
        model spec, so a local model loads once).

        Raises:
            AdapterError: The adapter cannot answer judge requests, or not with these
                settings.
        """
        if self._bound is not None:
            return self._bound
        task = self.judge_task()
        key = f"{self.model}\0{task.spec_hash()}\0{short_hash(task.model_dump(mode='json'))}"
        bound = _ADAPTERS.get(key)
        if bound is None:
            base = make_adapter(self.model)
            spec = parse_model_spec(self.model)
            if not base.supports(JUDGE_FAMILY):
                raise AdapterError(
                    f"judge model '{spec.kind}:{spec.target}' cannot answer free-text prompts "
                    "(it does not serve the judge family)",
                    fix="use a prompted model as the judge: openai:NAME,base_url=..., "
                    "hf:PATH,task=causal, or a plugin that supports the 'judge' family",
                )
            reason = base.protocol_support(task)
            if reason is not None:
                raise AdapterError(f"judge model '{spec.kind}:{spec.target}': {reason}")
            bound = base.for_task(task, get_family(JUDGE_FAMILY))
            while len(_ADAPTERS) >= _MAX_ADAPTERS:
                _ADAPTERS.pop(next(iter(_ADAPTERS)))
            _ADAPTERS[key] = bound
        self._bound = bound
        return bound

    # ------------------------------------------------------------------ ModelMetric hooks

    def identity(self, ctx: ScoringContext) -> dict[str, Any]:
        """The judge adapter's fingerprint for the judge task, the template's SHA-256, the
        parsing rule, scale, repeats and generation settings."""
        return {
            "judge": self.adapter().fingerprint(self.judge_task()),
            "template": self.judge_template.sha256,
            "parse": self.rule,
            "scale": list(self.judge_scale),
            "repeats": self.repeats,
            "temperature": self.temperature,
            "seed": self.seed,
            "max_new_tokens": self.answer_tokens,
        }

    def signature_parts(self, ctx: ScoringContext) -> list[str]:
        """``judge:KIND:TARGET@fp12``, ``tpl:NAME@sha8``, ``parse:RULE[min,max]``,
        ``repeats:R``, ``T:t``, ``seed:s``, ``max:tokens`` (a regex holding ``|`` is shown
        by its hash)."""
        spec = parse_model_spec(self.model)
        fp = self.adapter().fingerprint(self.judge_task())
        tpl = self.judge_template
        rule = self.rule
        if "|" in rule:
            rule = f"{rule.partition(':')[0]}@{short_hash(rule)[:8]}"
        lo, hi = self.judge_scale
        return [
            f"judge:{spec.kind}:{spec.target}@{fp[:12]}",
            f"tpl:{tpl.name}@{tpl.sha256[:8]}",
            f"parse:{rule}[{lo:g},{hi:g}]",
            f"repeats:{self.repeats}",
            f"T:{self.temperature:g}",
            f"seed:{self.seed}",
            f"max:{self.answer_tokens}",
        ]

    def prepare(self, ctx: ScoringContext, todo: Sequence[Segment]) -> None:
        """Build the judge adapter (before the first batch)."""
        self.adapter()

    def _values(self, segment: Segment, ctx: ScoringContext) -> dict[str, Any]:
        languages = ctx.spec.languages
        source_language, target_language = languages[0], languages[-1]
        return {
            "source": segment.source,
            "hypothesis": segment.hypothesis,
            "reference": segment.references[0] if segment.references else "",
            "references": list(segment.references),
            "source_language": source_language,
            "target_language": target_language,
            "language": target_language,
            "source_language_name": language_name(source_language),
            "target_language_name": language_name(target_language),
        }

    def compute(self, batch: Sequence[Segment], ctx: ScoringContext) -> list[dict[str, Any] | None]:
        """Ask the judge every (segment, aspect, repeat) of the batch in one ``predict``
        call, then parse each answer (see the module docstring)."""
        adapter = self.adapter()
        tpl = self.judge_template
        requests = []
        for i, segment in enumerate(batch):
            values = self._values(segment, ctx)
            for aspect, template in tpl.aspects:
                prompt = render_template(template, values, where=f"judge template {tpl.name}")
                for r in range(self.repeats):
                    requests.append(
                        JudgeRequest(
                            id=f"{i}/{aspect}/{r}",
                            language=values["language"],
                            prompt=prompt,
                            repeat=r,
                        )
                    )
        answers = list(adapter.predict(requests)) if requests else []
        if len(answers) != len(requests):
            raise AdapterError(
                f"judge model '{self.model}' gave {len(answers)} answers to "
                f"{len(requests)} requests",
                fix="this is a bug in the adapter; report it",
            )
        redact = Redactor(adapter.secrets())
        per = len(tpl.aspects) * self.repeats
        return [self._row(answers[i * per : (i + 1) * per], redact) for i in range(len(batch))]

    def _row(self, answers: Sequence[Any], redact: Redactor) -> dict[str, Any] | None:
        """One segment's row from its answers (aspect-major, repeat-minor), or ``None`` when
        a request failed."""
        if any(isinstance(a, Failure) for a in answers):
            return None
        scale = self.judge_scale
        repeats: dict[str, list[float | None]] = {}
        texts: dict[str, list[str]] = {}
        row: dict[str, Any] = {}
        for k, aspect in enumerate(self.aspects()):
            chunk = answers[k * self.repeats : (k + 1) * self.repeats]
            raw = [redact.text(str(getattr(a, "text", ""))) for a in chunk]
            parsed = [parse_score(t, self.rule, scale) for t in raw]
            repeats[aspect], texts[aspect] = parsed, raw
            kept = [p for p in parsed if p is not None]
            row[aspect] = math.fsum(kept) / len(kept) if kept else None
        if self.judge_template.multi:
            aspect_scores = [row[a] for a in self.aspects()]
            row["score"] = (
                None
                if any(s is None for s in aspect_scores)
                else math.fsum(aspect_scores) / len(aspect_scores)
            )
        row["repeats"] = repeats
        row["answers"] = texts
        row["failed_repeats"] = sum(p is None for ps in repeats.values() for p in ps)
        return row

    def unscored_hint(self, scores: Any) -> str:
        """The first answer the parsing rule found no score in, or that the requests failed."""
        for row in scores.rows:
            if row is None:
                continue
            for aspect, parsed in row.get("repeats", {}).items():
                for k, value in enumerate(parsed):
                    if value is None:
                        text = row["answers"][aspect][k]
                        shown = text if len(text) <= 60 else text[:57] + "..."
                        return (
                            f"e.g. the judge answered {shown!r}, which rule "
                            f"'{self.rule}' finds no score in within {list(self.judge_scale)}"
                        )
        return "the judge's requests failed (the adapter gave up on them)"

    # ------------------------------------------------------------------ extra values

    def _repeat_score(self, row: dict[str, Any], r: int) -> float | None:
        """A segment's headline score on repeat ``r`` (the mean of its aspects' repeat-``r``
        scores), or ``None`` when one is missing."""
        scores: list[float | None] = [row["repeats"][a][r] for a in self.aspects()]
        kept = [s for s in scores if s is not None]
        if len(kept) < len(scores):
            return None
        return math.fsum(kept) / len(kept)

    def extra_values(self, ctx: ScoringContext, scores: Any) -> list[MetricValue]:
        """``judge/failed`` and ``judge/repeats-failed`` (counts), and with ``repeats`` > 1
        ``judge/repeat-sd`` and ``judge/segment-sd`` (see the module docstring)."""
        rows: list[dict[str, Any] | None] = scores.rows
        per_segment = self.repeats * len(self.aspects())
        repeats_failed = sum(per_segment if r is None else int(r["failed_repeats"]) for r in rows)
        out = [
            self._extra(ctx, "failed", float(scores.failed), len(rows)),
            self._extra(ctx, "repeats-failed", float(repeats_failed), len(rows) * per_segment),
        ]
        if self.repeats < 2:
            return out
        answered = [r for r in rows if r is not None]
        grid = [[self._repeat_score(row, r) for r in range(self.repeats)] for row in answered]
        means = []
        for r in range(self.repeats):
            column = [x for x in (g[r] for g in grid) if x is not None]
            if column:
                means.append(math.fsum(column) / len(column))
        if len(means) >= 2:
            out.append(self._extra(ctx, "repeat-sd", statistics.stdev(means), len(means)))
        spreads = [
            statistics.stdev(kept)
            for kept in ([x for x in g if x is not None] for g in grid)
            if len(kept) >= 2
        ]
        if spreads:
            sd = math.fsum(spreads) / len(spreads)
            out.append(self._extra(ctx, "segment-sd", sd, len(spreads)))
        return out

    def _extra(self, ctx: ScoringContext, what: str, value: float, n: int) -> MetricValue:
        return MetricValue(
            name=f"{self.name}/{what}",
            value=value,
            n=n,
            signature=self._signature(ctx, what),
            higher_is_better=False,
            scale=self.scale(what),
        )
