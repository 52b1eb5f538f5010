"""The LLM judge (``judge``), against the fixture OpenAI-compatible server with scripted answers.

Every number is checked exactly against answers the test scripts: parsing rules, failure
counts (never scored 0), repeats and their spread, the segment cache (no new request on a
second scoring), signatures and secrets. The judge goes through the real ``openai:`` adapter
over HTTP on 127.0.0.1, and once through a tiny seeded ``hf:`` causal model.
"""

from __future__ import annotations

import math
import statistics
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bench.cache import PredictionCache
from bench.catalog import find_task
from bench.errors import AdapterError, TaskSpecError
from bench.families.base import family_class, get_family
from bench.families.generation import TextResponse
from bench.families.judge import JudgeRequest
from bench.metrics.base import BootstrapConfig, ScoringContext, score_task
from bench.metrics.judge import Judge, parse_score
from bench.metrics.judge_templates import TEMPLATES
from bench.registry import registry
from bench.spec import parse_task
from bench.stages import RunConfig, prepare
from tests.fixtures.openai_server import OpenAIServer

SECRET = "sk-judge-secret-0123456789"


@pytest.fixture
def server() -> Any:
    with OpenAIServer() as srv:
        yield srv


def context(task: str, n: int, cache: PredictionCache | None = None) -> ScoringContext:
    """The first ``n`` examples of smoke task ``task``, each answered with its reference."""
    spec = find_task(task, [])
    prepared = prepare(spec, RunConfig(results=Path("/nonexistent"), limit=n))
    refs = list(prepared.references)
    return ScoringContext(
        spec=spec,
        requests=list(prepared.requests),
        references=refs,
        responses=[TextResponse(text=r[0]) for r in refs],
        bootstrap=BootstrapConfig(resamples=0),
        segment_cache=cache,
    )


def sources(ctx: ScoringContext) -> list[str]:
    """Each example's source (in the prompt): the scripts' keys, checked to be unambiguous."""
    family = get_family(ctx.spec.family)
    out = [family.metric_source(r) for r in ctx.requests]
    assert all(a not in b for a in out for b in out if a is not b)
    return out


def judge(server: Any, **params: Any) -> Judge:
    model = f"openai:judge-model,base_url={server.base_url},concurrency=1,max_retries=0"
    return Judge(model=model, **params)


def values(ctx: ScoringContext, metric: Judge) -> dict[str, Any]:
    return {k: v for k, v in score_task(ctx, [metric])[0].items()}


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("answer", "rule", "scale", "expected"),
    [
        ("85", "number", (0, 100), 85.0),
        ("Score: 72.5 out of 100", "number", (0, 100), 72.5),
        ("I would give it 90/100.", "number", (0, 100), 90.0),
        ("得分：８８", "number", (0, 100), 88.0),  # full-width digits
        ("150", "number", (0, 100), None),  # out of scale: no score (never clipped)
        ("-3", "number", (0, 100), None),
        ("no number here", "number", (0, 100), None),
        ("", "number", (1, 5), None),
        ("Coherence: 4", "number", (1, 5), 4.0),
        ("Rating: 3 stars (of 5)", r"regex:Rating:\s*(\d+)", (1, 5), 3.0),
        ("Rating 3", r"regex:Rating:\s*(\d+)", (1, 5), None),
        ("grade=4", r"regex:\d", (1, 5), 4.0),  # no group: the whole match
        ('Here: {"score": 4, "why": "ok"}', "json:score", (1, 5), 4.0),
        ('{"score": "4.5"}', "json:score", (1, 5), 4.5),
        ('{"score": 7}', "json:score", (1, 5), None),
        ('{"other": 3}', "json:score", (1, 5), None),
        ('{"score": "good"}', "json:score", (1, 5), None),
    ],
)
def test_parse_score(answer: str, rule: str, scale: tuple[float, float], expected: Any) -> None:
    assert parse_score(answer, rule, scale) == expected


def test_parsing_and_failures_are_exact_against_scripted_answers(server: Any) -> None:
    ctx = context("translation-zh-en", 6)
    src = sources(ctx)
    answers = ["85", "Score: 72.5 out of 100", "150", "I cannot rate this.", "-3", "100"]
    server.faults.script = {s: [a] for s, a in zip(src, answers, strict=True)}
    metric = judge(server, template="gemba-da")
    got = values(ctx, metric)
    assert got["judge"].value == (85 + 72.5 + 100) / 3
    assert got["judge"].n == 3
    assert got["judge"].scale == 100
    assert got["judge/failed"].value == 3  # out of scale (150, -3) and no number: never 0
    assert got["judge/repeats-failed"].value == 3
    assert "judge/repeat-sd" not in got  # one repeat: no spread
    per = score_task(ctx, [metric])[2]
    assert [row["judge"] for row in per] == [85.0, 72.5, None, None, None, 100.0]
    assert ctx.segment_counts["judge"] == {"segments": 6, "hits": 0, "computed": 6, "failed": 3}
    rows = metric.segment_scores(ctx).rows
    assert rows[2] == {
        "score": None,
        "repeats": {"score": [None]},
        "answers": {"score": ["150"]},
        "failed_repeats": 1,
    }
    # The prompt the judge saw: GEMBA-DA with the task's languages, source, reference, output.
    body = server.faults.bodies[0]
    prompt = body["messages"][-1]["content"]
    assert "Chinese to English translation" in prompt
    assert f'Chinese source: "{src[0]}"' in prompt
    assert f'English human reference: "{ctx.references[0][0]}"' in prompt
    assert body["temperature"] == 0 and body["max_tokens"] == 16 and "stop" not in body


def test_regex_and_json_rules_with_inline_templates(server: Any) -> None:
    ctx = context("summarization-en", 3)
    src = sources(ctx)
    server.faults.script = {
        src[0]: ['Verdict {"score": 4}', "Rating: 2"],
        src[1]: ['{"score": 9}', "Rating: 5"],
        src[2]: ["{}", "no rating"],
    }
    template = "Rate the summary.\n\n{{ source }}\n\n{{ hypothesis }}\n\nJSON:"
    as_json = judge(server, template=template, parse="json:score", scale=[1, 5])
    got = values(ctx, as_json)
    assert (got["judge"].value, got["judge"].n, got["judge/failed"].value) == (4.0, 1, 2)
    assert got["judge"].scale == 5
    as_regex = judge(server, template=template, parse=r"regex:Rating: (\d)", scale=[1, 5])
    got = values(context("summarization-en", 3), as_regex)
    assert (got["judge"].value, got["judge"].n, got["judge/failed"].value) == (3.5, 2, 1)


# --------------------------------------------------------------------------- repeats


def test_repeats_mean_failures_and_spread_are_exact(server: Any) -> None:
    ctx = context("translation-zh-en", 3)
    src = sources(ctx)
    server.faults.script = {
        src[0]: ["80", "90", "70"],
        src[1]: ["60", "none", "40"],
        src[2]: ["bad", "worse", "150"],
    }
    metric = judge(server, template="gemba-da", repeats=3, temperature=0.7)
    got = values(ctx, metric)
    assert got["judge"].value == (80 + 50) / 2 and got["judge"].n == 2
    assert got["judge/failed"].value == 1
    assert got["judge/repeats-failed"].value == 4 and got["judge/repeats-failed"].n == 9
    # Per repeat, the corpus mean over the segments that have that repeat's score.
    assert got["judge/repeat-sd"].value == pytest.approx(statistics.stdev([70, 90, 55]), 1e-12)
    assert got["judge/repeat-sd"].n == 3
    sd = (statistics.stdev([80, 90, 70]) + statistics.stdev([60, 40])) / 2
    assert got["judge/segment-sd"].value == pytest.approx(sd, rel=1e-12)
    assert got["judge/segment-sd"].n == 2
    assert metric.segment_scores(ctx).rows[1]["repeats"] == {"score": [60.0, None, 40.0]}
    # No paired test and no interval for the spread and the counts; scores keep theirs.
    for name in ("judge/repeat-sd", "judge/segment-sd", "judge/failed", "judge/repeats-failed"):
        assert metric.paired(name) is None and got[name].ci_low is None
        assert metric.value_range(name) == (0.0, math.inf)
    assert metric.paired("judge") is not None
    assert metric.value_range("judge") == (0.0, 1.0)


def test_repeats_are_seeded_requests(server: Any) -> None:
    def seeds(seed: int) -> list[int]:
        server.faults.bodies.clear()
        values(context("translation-zh-en", 2), judge(server, template="gemba-da",
               repeats=3, temperature=0.7, seed=seed))  # fmt: skip
        bodies = server.faults.bodies
        assert [b["temperature"] for b in bodies] == [0.7] * 6
        return [b["seed"] for b in bodies]

    first = seeds(0)
    assert len(set(first)) == 6  # every repeat of every segment its own seed
    assert seeds(0) == first  # reproducible
    assert set(seeds(1)).isdisjoint(first)


def test_geval_scores_four_aspects_and_their_mean(server: Any) -> None:
    ctx = context("summarization-en", 2)
    server.faults.script = {
        "Coherence (1-5):": ["4"],
        "Consistency (1-5):": ["5"],
        "Fluency (1-5):": ["3"],
        "Relevance (1-5):": ["2", "unsure"],  # segment 1: 2, segment 2: no score
    }
    metric = judge(server, template="geval")
    got = values(ctx, metric)
    assert got["judge"].value == (4 + 5 + 3 + 2) / 4 and got["judge"].n == 1
    assert (got["judge/coherence"].value, got["judge/coherence"].n) == (4.0, 2)
    assert (got["judge/relevance"].value, got["judge/relevance"].n) == (2.0, 1)
    assert got["judge/failed"].value == 1 and got["judge/repeats-failed"].value == 1
    assert server.faults.requests == 8
    assert metric.output_names() == ("score", "coherence", "consistency", "fluency", "relevance")
    assert metric.value_range("judge/fluency") == (0.2, 1.0)


# --------------------------------------------------------------------------- cache, failures


def test_second_scoring_hits_the_segment_cache(server: Any, tmp_path: Path) -> None:
    cache = PredictionCache(tmp_path / "cache.sqlite")
    server.faults.script = {"Score:": ["70", "nothing"]}
    metric = judge(server, template="gemba-da", repeats=2, temperature=1.0)
    first = values(context("translation-zh-en", 4, cache), metric)
    sent = server.faults.requests
    assert sent == 8
    ctx = context("translation-zh-en", 4, cache)
    again = values(ctx, judge(server, template="gemba-da", repeats=2, temperature=1.0))
    assert server.faults.requests == sent  # nothing asked again
    assert ctx.segment_counts["judge"] == {"segments": 4, "hits": 4, "computed": 0, "failed": 0}
    assert {k: v.value for k, v in again.items()} == {k: v.value for k, v in first.items()}
    # Another setting is another fingerprint: computed afresh.
    ctx = context("translation-zh-en", 4, cache)
    values(ctx, judge(server, template="gemba-da", repeats=2, temperature=0.5))
    assert ctx.segment_counts["judge"]["computed"] == 4


def test_a_failed_request_is_a_failed_segment_asked_again(server: Any, tmp_path: Path) -> None:
    cache = PredictionCache(tmp_path / "cache.sqlite")
    ctx = context("translation-zh-en", 3, cache)
    src = sources(ctx)
    server.faults.script = {"Score:": ["90"]}
    server.faults.fail500 = {src[1]}  # 500 for every try: max_retries=0, so it gives up
    got = values(ctx, judge(server, template="gemba-da", repeats=2))
    assert got["judge"].value == 90 and got["judge"].n == 2
    assert got["judge/failed"].value == 1 and got["judge/repeats-failed"].value == 2
    assert ctx.segment_counts["judge"]["failed"] == 1
    server.faults.fail500 = set()
    before = server.faults.requests
    ctx = context("translation-zh-en", 3, cache)
    got = values(ctx, judge(server, template="gemba-da", repeats=2))
    assert ctx.segment_counts["judge"] == {"segments": 3, "hits": 2, "computed": 1, "failed": 0}
    assert server.faults.requests - before == 2  # only the failed segment's two repeats
    assert got["judge"].n == 3 and got["judge/failed"].value == 0


# --------------------------------------------------------------------------- identity


def test_signature_names_the_judge_and_hides_secrets(
    server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUDGE_KEY", SECRET)
    server.faults.echo_auth = True  # a server that echoes the key in its answers
    server.faults.script = {"Score:": ["77"]}
    model = f"openai:qwen,base_url={server.base_url},api_key_env=JUDGE_KEY"
    metric = Judge(model=model, template="gemba-da", repeats=3, temperature=0.7,
                   max_new_tokens=64)  # fmt: skip
    ctx = context("translation-zh-en", 2)
    got = values(ctx, metric)
    fp = metric.adapter().fingerprint(metric.judge_task())
    sha = TEMPLATES["gemba-da"].sha256
    assert got["judge"].signature == (
        f"judge|score|judge:openai:qwen@{fp[:12]}|tpl:gemba-da@{sha[:8]}|parse:number[0,100]|"
        "repeats:3|T:0.7|seed:0|max:64|ci:none|v:1"
    )
    assert got["judge"].value == 77
    assert server.faults.auth[0] == f"Bearer {SECRET}"
    for value in got.values():
        assert SECRET not in value.signature
    answers = metric.segment_scores(ctx).rows[0]["answers"]["score"]
    assert answers and all(SECRET not in a and "***" in a for a in answers)
    assert SECRET not in repr(metric.model_dump())
    # A secret written into the spec would be stored in the record: refused.
    with pytest.raises(ValidationError, match="api_key"):
        Judge(model="openai:qwen,api_key=sk-123", template="gemba-da")
    # Everything that changes a judgement changes the fingerprint (and so the cache key).
    base = metric.fingerprint(ctx)
    for change in ({"template": "gemba-da-noref"}, {"repeats": 2}, {"seed": 1},
                   {"temperature": 0.5}, {"parse": r"regex:(\d+)"}, {"scale": [0, 10]},
                   {"model": model + ",endpoint=completions"}):  # fmt: skip
        params = {"model": model, "template": "gemba-da", "repeats": 3, "temperature": 0.7,
                  "max_new_tokens": 64, **change}  # fmt: skip
        assert Judge(**params).fingerprint(ctx) != base, change
    # ... and what does not, does not.
    assert Judge(model=model, template="gemba-da", repeats=3, temperature=0.7,
                 max_new_tokens=64, batch_size=2).fingerprint(ctx) == base  # fmt: skip


def test_a_regex_with_a_bar_is_shown_by_its_hash(server: Any) -> None:
    metric = judge(server, template="gemba-da", parse=r"regex:(\d+|none)")
    parts = metric.signature_parts(context("translation-zh-en", 1))
    assert parts[2].startswith("parse:regex@") and "|" not in "".join(parts)


# --------------------------------------------------------------------------- parameters


def test_parameters_are_checked_when_the_metric_is_built() -> None:
    with pytest.raises(ValidationError, match="did you mean 'gemba-da'"):
        Judge(model="openai:m", template="gemba_da")
    with pytest.raises(ValidationError, match="hypotesis"):
        Judge(model="openai:m", template="Rate {{ hypotesis }}", scale=[0, 1])
    with pytest.raises(ValidationError, match="needs scale"):
        Judge(model="openai:m", template="Rate {{ hypothesis }}")
    with pytest.raises(ValidationError, match="not number"):
        Judge(model="openai:m", template="gemba-da", parse="first")
    with pytest.raises(ValidationError, match="min < max"):
        Judge(model="openai:m", template="gemba-da", scale=[5, 1])
    with pytest.raises(ValidationError):
        Judge(model="openai:m", template="gemba-da", repeats=0)
    with pytest.raises(ValidationError, match="KIND:TARGET"):
        Judge(model="gpt-4o", template="gemba-da")
    # The command line's model.KEY=VALUE join the model spec.
    folded = Judge(**{"model": "openai:m", "model.base_url": "http://h/v1", "template": "geval"})
    assert folded.model == "openai:m,base_url=http://h/v1"
    assert registry.get("metric", "judge") is Judge


def test_a_model_that_cannot_judge_is_refused(server: Any) -> None:
    metric = Judge(model="baseline:copy", template="gemba-da")
    with pytest.raises(AdapterError, match="cannot answer free-text prompts"):
        values(context("translation-zh-en", 2), metric)


def test_judge_metric_in_a_task_file() -> None:
    text = """\
name: judged
version: 1
family: translation
languages: [zh, en]
description: A task with a judge among its optional metrics.
source: {kind: builtin, location: smoke/translation-zh-en, format: jsonl,
         files: {test: test.jsonl}, splits: {test: test},
         fields: {id: id, source: source, references: reference}}
metrics: [bleu]
optional_metrics:
  - {name: judge, params: {model: "openai:m,base_url=http://127.0.0.1:9/v1",
                           template: gemba-da, repeats: 2, temperature: 0.7}}
primary_metric: bleu
"""
    spec = parse_task(text)
    assert spec.optional_metrics[0].params["repeats"] == 2
    bad = 'metrics: [bleu, {name: judge, params: {model: "openai:m", template: "{{ hypotesis }}",'
    bad += " scale: [0, 1]}}]"
    with pytest.raises(TaskSpecError, match="hypotesis"):
        parse_task(text.replace("metrics: [bleu]", bad))


# --------------------------------------------------------------------------- the family


def test_the_judge_family_is_internal() -> None:
    cls = family_class("judge")
    assert cls is not None and cls.internal and cls.new_task_template is None
    text = """\
name: judge-task
version: 1
family: judge
languages: [en]
description: Tries to use the internal family.
source: {kind: hub, location: x/y, splits: {test: test}}
metrics: [bleu]
primary_metric: bleu
"""
    with pytest.raises(TaskSpecError, match="internal"):
        parse_task(text)
    family = get_family("judge")
    request = JudgeRequest(id="1", language="en", prompt="Rate: 5?\n\nScore:")
    assert family.render_prompt(request, None) == request.prompt
    assert family.parse_answer("  85\n\nbecause", request, None).text == "  85\n\nbecause"
    again = JudgeRequest(id="2", language="en", prompt=request.prompt, repeat=1)
    assert again.content_hash() != request.content_hash()


@pytest.mark.slow
def test_an_hf_causal_model_judges(tmp_path: Path) -> None:
    """Any adapter: a tiny seeded causal model answers judge prompts (its random text rarely
    holds a score; whatever it says is parsed or counted as a failure, never scored 0)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "adapters"))
    from tiny_hf import causal_model

    path = causal_model(tmp_path / "tiny-gpt")
    metric = Judge(model=f"hf:{path},task=causal", template="gemba-da", max_new_tokens=4)
    ctx = context("translation-zh-en", 3)
    got, skipped, _ = score_task(ctx, [metric])
    rows = metric.segment_scores(ctx).rows
    assert all(row is not None for row in rows)
    parsed = [p for row in rows if row for p in row["repeats"]["score"] if p is not None]
    if parsed:
        assert got["judge/failed"].value == 3 - len(parsed)
        assert got["judge"].n == len(parsed)
    else:  # nothing parsed: the metric is skipped with the reason, never scored 0
        assert "judge" not in got
        assert skipped["judge"].startswith("no segment could be scored (3 of 3 failed")
        assert "the judge answered" in skipped["judge"]
    assert metric.signature_parts(ctx)[0].startswith(f"judge:hf:{path}@")
