"""The ``openai:`` adapter against a real HTTP server on 127.0.0.1, and its prompting."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.adapters.base import parse_model_spec
from bench.adapters.openai import OpenAIAdapter
from bench.adapters.prompting import parse, render
from bench.cache import PredictionCache
from bench.catalog import find_task
from bench.errors import AdapterError, ModelSpecError, TaskSpecError
from bench.families.base import Failure, get_family
from bench.families.qa import QARequest
from bench.families.recommendation import RecommendationRequest
from bench.families.sentiment import SentimentRequest
from bench.families.translation import TranslationRequest
from bench.metrics.base import BootstrapConfig
from bench.runner import RunConfig, RunOutcome, run_pair
from bench.spec import ScoringSpec, TaskSpec

_FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "openai_server.py"
_spec = importlib.util.spec_from_file_location("openai_server", _FIXTURE)
assert _spec is not None and _spec.loader is not None
openai_server = importlib.util.module_from_spec(_spec)
sys.modules["openai_server"] = openai_server
_spec.loader.exec_module(openai_server)
OpenAIServer = openai_server.OpenAIServer

SECRET = "sk-test-DO-NOT-LEAK-4f1c9a"


@pytest.fixture()
def server() -> Iterator[Any]:
    with OpenAIServer() as srv:
        yield srv


def _config(tmp: Path, **kw: Any) -> RunConfig:
    kw.setdefault("bootstrap", BootstrapConfig(resamples=0))
    return RunConfig(results=tmp / "results", **kw)


def _adapter(server: Any, **kw: Any) -> OpenAIAdapter:
    kw.setdefault("backoff", 0.0)
    kw.setdefault("api_key_env", "BENCH_TEST_NO_SUCH_KEY")
    return OpenAIAdapter("test-model", base_url=server.base_url, **kw)


def _generating(task: str) -> TaskSpec:
    """The catalogue task with its default prompt variant only (these tests are about HTTP,
    one request per example), answered by generating (sentiment's default is loglik, which a
    chat endpoint cannot do)."""
    spec = find_task(task)
    spec = spec.bind_variant(spec.prompt_variants()[0][0])
    return spec.model_copy(update={"scoring": ScoringSpec(mode="generate")})


def _run(
    server: Any,
    task: str,
    tmp: Path,
    *,
    limit: int,
    adapter: OpenAIAdapter | None = None,
    **kw: Any,
) -> RunOutcome:
    model = parse_model_spec(f"openai:test-model,base_url={server.base_url}")
    cache = kw.pop("cache", None)
    return run_pair(
        model,
        _generating(task),
        _config(tmp, limit=limit, **kw),
        adapter=adapter or _adapter(server),
        cache=cache,
    )


def _samples(outcome: RunOutcome) -> list[dict[str, Any]]:
    assert outcome.record_path is not None
    text = (outcome.record_path.parent / "samples.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


# --------------------------------------------------------------------------- prompting


def test_render_fills_fields_and_verbalises_labels() -> None:
    task = find_task("sentiment-zh").bind_variant("default")
    req = SentimentRequest(id="1", language="zh", text="很好", labels=("negative", "positive"))
    prompt = render(req, task)
    assert "负面, 正面" in prompt
    assert "很好" in prompt


def test_render_names_task_and_unknown_placeholder() -> None:
    task = find_task("sentiment-en").bind_variant("default")
    assert task.prompt is not None
    bad = task.model_copy(
        update={"prompt": task.prompt.model_copy(update={"template": "Say {nonsense}"})}
    )
    req = SentimentRequest(id="1", language="en", text="x", labels=("negative", "positive"))
    with pytest.raises(TaskSpecError, match=r"sentiment-en.*\{nonsense\}"):
        render(req, bad)


def test_render_default_template_and_readable_lists() -> None:
    req = RecommendationRequest(
        id="u1",
        language="en",
        user="u1",
        history=("i1", "i2"),
        history_titles=("First", ""),
        candidates=("i3", "i4"),
    )
    prompt = render(req, None)
    assert "- First\n- i2\n" in prompt  # the title, else the id
    assert "1. i3\n2. i4\n" in prompt and prompt.endswith("Answer:")


def test_parse_sentiment_first_whole_word_or_none() -> None:
    req = SentimentRequest(id="1", language="en", text="x", labels=("negative", "positive"))
    assert parse("POSITIVE, not negative", req, None).label == "positive"  # type: ignore[attr-defined]
    assert parse("nonpositive", req, None).label is None  # type: ignore[attr-defined]
    assert parse("I cannot tell", req, None).label is None  # type: ignore[attr-defined]
    zh = find_task("sentiment-zh").bind_variant("default")
    assert parse("这是正面的评价", req, zh).label == "positive"  # type: ignore[attr-defined]


def test_parse_text_and_ranking() -> None:
    qa = QARequest(id="1", language="en", question="q", context="c")
    assert parse('  Answer: "Paris" \n', qa, None).text == "Paris"  # type: ignore[attr-defined]
    tr = TranslationRequest(
        id="1", language="zh", source="hi", source_language="en", target_language="zh"
    )
    assert parse("“你好”", tr, None).text == "你好"  # type: ignore[attr-defined]
    rec = RecommendationRequest(
        id="u", language="en", user="u", history=("a",), candidates=("i1", "i2", "i3")
    )
    ranked = parse("1. i3\n2. i9\n3. i1. i3 again", rec, None).ranked  # type: ignore[attr-defined]
    assert ranked == ("i3", "i1", "i2")  # named first, then the rest in the shown order


# --------------------------------------------------------------------------- adapter basics


def test_params_validated_and_fingerprint_ignores_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelSpecError, match="endpoint"):
        OpenAIAdapter("m", endpoint="embeddings")
    monkeypatch.setenv("OPENAI_API_KEY", "one")
    a = OpenAIAdapter("m", base_url="http://h/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "two")
    b = OpenAIAdapter("m", base_url="http://h/v1", concurrency="2")
    assert a.fingerprint() == b.fingerprint()
    assert OpenAIAdapter("m", temperature=0.5).fingerprint() != a.fingerprint()
    task = find_task("sentiment-en")
    assert a.fingerprint(task) != a.fingerprint()  # the prompt is part of it
    bound = a.for_task(task, get_family("sentiment"))
    assert bound is not a and a._spec is None  # for_task never changes the adapter itself
    # Pure: the same for the bound copy, before and after for_task, in any order.
    assert bound.fingerprint(task) == a.fingerprint(task) == b.fingerprint(task)
    assert a.supports("qa") and not a.supports("generation")
    assert a.resources().remote and a.resources().num_cpus == 0


def test_wrong_url_stops_the_run_with_a_clear_error(server: Any) -> None:
    adapter = OpenAIAdapter("m", base_url=server.base_url + "/nowhere", backoff=0)
    req = SentimentRequest(id="1", language="en", text="great", labels=("negative", "positive"))
    with pytest.raises(AdapterError, match="HTTP 404"):
        adapter.predict([req])


def test_importing_the_adapter_does_not_import_httpx() -> None:
    code = "import sys, bench.adapters.openai; print('httpx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- end to end


@pytest.mark.parametrize(
    ("task", "limit", "metric"),
    [
        ("sentiment-en", 20, "accuracy"),
        ("qa-en", 10, "squad_em"),
        ("translation-en-zh", 10, "bleu"),
        ("summarization-zh", 5, "rouge"),
        ("recommendation-synthetic", 5, "hit_rate"),
    ],
)
def test_runs_smoke_tasks_end_to_end(
    server: Any, tmp_path: Path, task: str, limit: int, metric: str
) -> None:
    outcome = _run(server, task, tmp_path, limit=limit)
    assert outcome.status == "done" and outcome.record is not None
    record = outcome.record
    n = record.task.n_examples
    assert n == limit
    assert record.failures.count == 0
    assert any(k.startswith(metric) for k in record.metrics)
    assert server.faults.requests == n
    assert set(server.faults.paths) == {"/v1/chat/completions"}
    samples = _samples(outcome)
    assert len(samples) == n and all(s["prediction"] is not None for s in samples)
    if task == "sentiment-en":
        expected = [
            "positive"
            if openai_server.answer(f"Review: {s['input']}\n\nSentiment:")[0] == "P"
            else "negative"
            for s in samples
        ]
        assert [s["prediction"] for s in samples] == expected
        assert set(expected) == {"positive", "negative"}


def test_completions_endpoint(server: Any, tmp_path: Path) -> None:
    adapter = _adapter(server, endpoint="completions")
    outcome = _run(server, "qa-en", tmp_path, limit=3, adapter=adapter)
    assert outcome.record is not None and outcome.record.failures.count == 0
    assert set(server.faults.paths) == {"/v1/completions"}
    assert all(
        s["prediction"] and not s["prediction"].startswith("Answer") for s in _samples(outcome)
    )


# --------------------------------------------------------------------------- faults


def test_429_twice_then_success_is_retried_and_counted(server: Any, tmp_path: Path) -> None:
    server.faults.n429 = 2
    server.faults.retry_after = "0"
    outcome = _run(server, "sentiment-en", tmp_path, limit=5)
    assert outcome.record is not None
    assert outcome.record.failures.count == 0
    info = outcome.record.model.info
    assert info["retries"] == 2
    assert info["retries_by_cause"] == {"HTTP 429": 2}
    assert info["failures"] == 0
    assert server.faults.requests == 5 + 2


def test_retry_after_is_honoured(server: Any, tmp_path: Path) -> None:
    import time

    server.faults.n429 = 1
    server.faults.retry_after = "0.4"
    adapter = _adapter(server, concurrency=1)
    req = SentimentRequest(id="1", language="en", text="great", labels=("negative", "positive"))
    t0 = time.perf_counter()
    (resp,) = adapter.predict([req])
    assert time.perf_counter() - t0 >= 0.4
    assert resp.label == "positive"  # type: ignore[attr-defined]


def test_500_past_the_retry_cap_is_a_counted_failure(server: Any, tmp_path: Path) -> None:
    server.faults.n500 = 1000
    adapter = _adapter(server, max_retries=2)
    # Every example fails: recorded only because --max-failures allows all 3 (else an error).
    outcome = _run(server, "sentiment-en", tmp_path, limit=3, adapter=adapter, max_failures=3)
    assert outcome.record is not None
    assert outcome.record.failures.count == 3
    assert outcome.record.failures.by_cause == {"HTTP 500: gave up after 3 attempts": 3}
    assert outcome.record.model.info["retries_by_cause"] == {"HTTP 500": 6}
    assert server.faults.requests == 9  # 3 attempts each, never re-sent by the runner


def test_malformed_json_for_two_examples_fails_exactly_those(server: Any, tmp_path: Path) -> None:
    first = _run(server, "sentiment-en", tmp_path / "probe", limit=10)
    texts = {s["id"]: s["input"] for s in _samples(first)}
    bad_ids = sorted(texts)[3:5]
    server.faults.malformed = {texts[i] for i in bad_ids}
    server.faults.requests = 0
    outcome = _run(server, "sentiment-en", tmp_path, limit=10)
    assert outcome.record is not None
    assert outcome.record.failures.count == 2
    assert outcome.record.failures.ids == bad_ids
    assert outcome.record.failures.by_cause == {"malformed JSON": 2}
    assert outcome.record.predictions.computed == 8
    assert server.faults.requests == 10  # each request sent once
    failed = [s for s in _samples(outcome) if s["failure"]]
    assert [s["id"] for s in failed] == bad_ids and all(s["prediction"] is None for s in failed)


def test_timeout_is_a_counted_failure(server: Any) -> None:
    server.faults.delay = 0.5
    adapter = _adapter(server, timeout=0.1, max_retries=1)
    req = SentimentRequest(id="1", language="en", text="great", labels=("negative", "positive"))
    (failure,) = adapter.predict([req])
    assert failure == Failure(cause="timeout", message="gave up after 2 attempts")
    assert adapter.info()["retries_by_cause"] == {"timeout": 1}
    assert adapter.info()["failures_by_cause"] == {"timeout": 1}


# --------------------------------------------------------------------------- cache and secrets


def test_second_run_hits_the_prediction_cache(server: Any, tmp_path: Path) -> None:
    with PredictionCache(tmp_path / "cache.sqlite") as cache:
        first = _run(server, "qa-en", tmp_path / "a", limit=10, cache=cache)
        sent = server.faults.requests
        second = _run(server, "qa-en", tmp_path / "b", limit=10, cache=cache)
    assert first.adapter_calls >= 1 and sent == 10
    assert second.adapter_calls == 0
    assert server.faults.requests == sent
    assert second.record is not None and second.record.predictions.cached == 10
    assert first.record is not None
    assert second.record.metrics["squad_f1"].value == first.record.metrics["squad_f1"].value


def test_api_key_is_sent_but_never_written(
    server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCH_TEST_KEY", SECRET)
    adapter = _adapter(server, api_key_env="BENCH_TEST_KEY")
    server.faults.malformed = {"Respect"}  # one failure, so an error message is written too
    model = parse_model_spec(
        f"openai:test-model,base_url={server.base_url},api_key_env=BENCH_TEST_KEY"
    )
    outcome = run_pair(
        model, _generating("sentiment-en"), _config(tmp_path, limit=5), adapter=adapter
    )
    assert set(server.faults.auth) == {f"Bearer {SECRET}"}
    assert outcome.record_path is not None
    folder = outcome.record_path.parent
    written = [folder / "record.json", folder / "samples.jsonl"]
    for path in written:
        assert SECRET not in path.read_text(encoding="utf-8")
    assert SECRET not in adapter.fingerprint() and SECRET not in json.dumps(adapter.info())
    assert SECRET not in repr(adapter.params)
