"""The ``openai:`` adapter's protocol (issue 15): log-likelihood scoring through a completions
server's ``echo`` + ``logprobs``, generation settings and seeds, chat messages and transcripts,
against the real fixture server on 127.0.0.1 and its toy language model."""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.adapters.base import parse_model_spec
from bench.adapters.loglik import answer_only_context, continuation
from bench.adapters.openai import CHAT_CANNOT_LOGLIK, OpenAIAdapter
from bench.adapters.prompting import parse, render
from bench.catalog import find_task
from bench.errors import AdapterError
from bench.families.base import Failure, Shot, get_family
from bench.families.qa import QARequest
from bench.families.sentiment import SentimentRequest
from bench.metrics.base import BootstrapConfig
from bench.protocol import Unit, resolve
from bench.runner import RunConfig, run_pair
from bench.spec import FewshotSpec, GenerationSpec, PromptSpec, ScoringSpec, TaskSpec

_FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "openai_server.py"
if "openai_server" in sys.modules:
    openai_server = sys.modules["openai_server"]
else:
    _spec = importlib.util.spec_from_file_location("openai_server", _FIXTURE)
    assert _spec is not None and _spec.loader is not None
    openai_server = importlib.util.module_from_spec(_spec)
    sys.modules["openai_server"] = openai_server
    _spec.loader.exec_module(openai_server)
MODEL = openai_server.MODEL
tokenize = openai_server.tokenize

LABELS = ("negative", "positive")
TEXTS = ("Great food and friendly staff.", "Cold soup, rude waiter.", "It was fine I guess.")


@pytest.fixture()
def server() -> Iterator[Any]:
    with openai_server.OpenAIServer() as srv:
        yield srv


def _adapter(server: Any, **kw: Any) -> OpenAIAdapter:
    kw.setdefault("backoff", 0.0)
    kw.setdefault("api_key_env", "BENCH_TEST_NO_SUCH_KEY")
    return OpenAIAdapter("test-model", base_url=server.base_url, **kw)


def _bound(task: TaskSpec, sample: int = 0) -> TaskSpec:
    """The spec the runner configures an adapter with for the task's first unit."""
    protocol = resolve(task)
    unit = protocol.units()[0]
    return protocol.bind(task, Unit(unit.variant, unit.draw, sample))


def _task(name: str, **update: Any) -> TaskSpec:
    return find_task(name).bind_variant("default").model_copy(update=update)


def _sentiment(lang: str = "en") -> list[SentimentRequest]:
    texts = TEXTS if lang == "en" else ("菜很好吃，服务热情。", "汤是冷的，服务员很粗鲁。")
    return [
        SentimentRequest(id=str(i), language=lang, text=t, labels=LABELS)
        for i, t in enumerate(texts)
    ]


def _continuation_tokens(prompt: str, cont: str) -> int:
    """How many of the fixture's tokens of ``prompt + cont`` hold the continuation."""
    return sum(1 for tok, start in tokenize(prompt + cont) if start + len(tok) > len(prompt))


# --------------------------------------------------------------------------- plan time


def test_prompted_and_chat_refuses_loglik_at_plan_time() -> None:
    chat = OpenAIAdapter("m", base_url="http://h/v1")
    completions = OpenAIAdapter("m", base_url="http://h/v1", endpoint="completions")
    assert chat.prompted and completions.prompted
    sentiment = find_task("sentiment-en")  # the family's default: loglik
    assert chat.protocol_support(_bound(sentiment)) == CHAT_CANNOT_LOGLIK
    assert chat.protocol_support(sentiment) == CHAT_CANNOT_LOGLIK  # unbound: resolved here
    assert "endpoint=completions" in CHAT_CANNOT_LOGLIK and "mode: generate" in CHAT_CANNOT_LOGLIK
    generating = _task("sentiment-en", scoring=ScoringSpec(mode="generate"))
    assert chat.protocol_support(_bound(generating)) is None
    assert completions.protocol_support(_bound(sentiment)) is None
    qa = _task("qa-en", scoring=ScoringSpec(mode="loglik"))
    reason = completions.protocol_support(_bound(qa))
    assert reason is not None and "no answer choices" in reason
    assert completions.protocol_support(_bound(find_task("qa-en"))) is None


def test_chat_predict_on_a_loglik_task_stops_with_the_reason(server: Any) -> None:
    adapter = _adapter(server).for_task(_bound(find_task("sentiment-en")), get_family("sentiment"))
    with pytest.raises(AdapterError, match="cannot score by log-likelihood"):
        adapter.predict(_sentiment())
    assert server.faults.requests == 0


# --------------------------------------------------------------------------- loglik


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("norm", ["none", "token", "char", "byte", "pmi"])
def test_loglik_choice_scores_equal_the_toy_model(server: Any, lang: str, norm: str) -> None:
    task = _task(f"sentiment-{lang}", scoring=ScoringSpec(mode="loglik", normalization=norm))
    if lang == "en":  # several tokens per choice, so every normalisation differs
        assert task.prompt is not None
        words = {"negative": "quite bad", "positive": "really good!"}
        task = task.model_copy(
            update={"prompt": task.prompt.model_copy(update={"verbalizers": words})}
        )
    bound = _bound(task)
    adapter = _adapter(server, endpoint="completions").for_task(bound, get_family("sentiment"))
    requests = _sentiment(lang)
    responses = adapter.predict(requests)
    words = bound.prompt.verbalizers if bound.prompt and bound.prompt.verbalizers else {}
    for req, resp in zip(requests, responses, strict=True):
        assert not isinstance(resp, Failure)
        prompt = render(req, bound)
        assert resp.transcript is not None and resp.transcript.prompt == prompt
        expected = {}
        for label in LABELS:
            word = words.get(label, label)
            cont = continuation(prompt, word)
            logprob = MODEL.logprob(cont, prompt)
            value = {
                "none": logprob,
                "token": logprob / _continuation_tokens(prompt, cont),
                "char": logprob / len(cont),
                "byte": logprob / len(cont.encode("utf-8")),
                "pmi": logprob - MODEL.logprob(cont, answer_only_context(prompt)),
            }[norm]
            expected[word] = value
        got = resp.transcript.choices
        assert got is not None and set(got) == set(expected)
        for word, value in expected.items():
            assert got[word] == pytest.approx(value, abs=1e-6)
        best = max(LABELS, key=lambda lab: expected[words.get(lab, lab)])
        assert resp.label == best  # type: ignore[attr-defined]
        if lang == "en":
            assert [_continuation_tokens(prompt, continuation(prompt, w)) for w in got] == [2, 3]
    bodies = server.faults.bodies
    assert all(b["echo"] is True and b["logprobs"] == 1 and b["max_tokens"] == 1 for b in bodies)
    # pmi: the answer-only context is the same for every example, so it is sent once.
    extra = len(LABELS) if norm == "pmi" else 0
    assert len(bodies) == len(LABELS) * len(requests) + extra
    assert adapter.info()["scoring"] == {"mode": "loglik", "normalization": norm}


def test_loglik_token_that_straddles_the_context_counts_as_the_continuation(server: Any) -> None:
    # No colon after 情感: the prompt's last word and the answer merge into one token.
    prompt_spec = PromptSpec(
        template="评论：{{ text }}\n\n情感", verbalizers={"negative": "负面", "positive": "正面"}
    )
    task = _task(
        "sentiment-zh",
        prompt=prompt_spec,
        scoring=ScoringSpec(mode="loglik", normalization="token"),
    )
    bound = _bound(task)
    adapter = _adapter(server, endpoint="completions").for_task(bound, get_family("sentiment"))
    (req,) = _sentiment("zh")[:1]
    (resp,) = adapter.predict([req])
    assert not isinstance(resp, Failure) and resp.transcript is not None
    prompt = render(req, bound)
    for word in ("负面", "正面"):
        toks = tokenize(prompt + word)
        tok, start = toks[-1]
        assert start < len(prompt) < start + len(tok)  # really merged
        prev = (prompt + word)[:start].encode("utf-8")[-1]
        expected = MODEL.bytes_logprob(tok.encode("utf-8"), prev)  # one token
        assert resp.transcript.choices is not None
        assert resp.transcript.choices[word] == pytest.approx(expected, abs=1e-6)


def test_loglik_end_to_end_records_transcripts(server: Any, tmp_path: Path) -> None:
    model = parse_model_spec(f"openai:test-model,base_url={server.base_url},endpoint=completions")
    adapter = _adapter(server, endpoint="completions")
    config = RunConfig(
        results=tmp_path / "results", limit=6, bootstrap=BootstrapConfig(resamples=0)
    )
    task = find_task("sentiment-en").bind_variant("default")
    outcome = run_pair(model, task, config, adapter=adapter)
    assert outcome.status == "done" and outcome.record is not None
    assert outcome.record.failures.count == 0
    assert outcome.record.model.info["scoring"]["mode"] == "loglik"
    assert outcome.record_path is not None
    lines = (outcome.record_path.parent / "samples.jsonl").read_text(encoding="utf-8")
    samples = [json.loads(line) for line in lines.splitlines()]
    assert len(samples) == 6
    for s in samples:
        transcript = s["response"]["transcript"]
        assert transcript["prompt"].endswith("Sentiment:")
        scores = transcript["choices"]
        assert s["prediction"] == max(scores, key=scores.get)


def test_server_without_prompt_logprobs_stops_at_the_first_answer(server: Any) -> None:
    server.faults.no_prompt_logprobs = True
    task = _task("sentiment-en", scoring=ScoringSpec(mode="loglik"))
    adapter = _adapter(server, endpoint="completions").for_task(
        _bound(task), get_family("sentiment")
    )
    with pytest.raises(AdapterError, match="no log-probabilities for the prompt") as info:
        adapter.predict(_sentiment())
    assert "scoring: {mode: generate}" in str(info.value.fix)
    assert server.faults.requests == 1  # one probe, not every choice of every example


def test_server_refusing_echo_is_a_counted_failure(server: Any) -> None:
    server.faults.reject_echo = True
    adapter = _adapter(server, endpoint="completions").for_task(
        _bound(find_task("sentiment-en")), get_family("sentiment")
    )
    responses = adapter.predict(_sentiment())
    assert all(isinstance(r, Failure) and r.cause == "HTTP 400" for r in responses)
    assert "echo" in responses[0].message  # type: ignore[union-attr]
    assert adapter.info()["failures_by_cause"] == {"HTTP 400": len(responses)}


# --------------------------------------------------------------------------- generation


def _generating(name: str, generation: GenerationSpec | None = None, **update: Any) -> TaskSpec:
    return _task(name, scoring=ScoringSpec(mode="generate"), generation=generation, **update)


def test_generation_settings_model_spec_over_task_over_default(server: Any) -> None:
    family = get_family("qa")
    req = QARequest(id="1", language="en", question="Who?", context="Ada wrote the notes.")
    plain = _adapter(server, endpoint="completions").for_task(_bound(_generating("qa-en")), family)
    plain.predict([req])
    body = server.faults.bodies[-1]
    assert body["max_tokens"] == 128 and body["temperature"] == 0.0
    assert body["stop"] == ["\n"] and "top_p" not in body  # the family's stop strings
    assert plain.info()["generation_from"] == {
        "max_tokens": "default",
        "temperature": "default",
        "top_p": "default",
        "stop": "default",
        "seed": "task",
    }
    gen = GenerationSpec(max_new_tokens=5, stop=["Ada"], temperature=0.7, top_p=0.9, seed=3)
    task = _bound(_generating("qa-en", gen))
    ours = _adapter(server, endpoint="completions", max_tokens=7).for_task(task, family)
    ours.predict([req])
    body = server.faults.bodies[-1]
    assert (body["max_tokens"], body["temperature"], body["top_p"]) == (7, 0.7, 0.9)
    assert body["stop"] == ["Ada"]
    info = ours.info()
    assert info["generation"] == {
        "max_tokens": 7,
        "temperature": 0.7,
        "top_p": 0.9,
        "stop": ["Ada"],
        "seed": 3,
    }
    assert info["generation_from"]["max_tokens"] == "model"
    assert info["generation_from"]["temperature"] == "task"
    # The effective settings are in the fingerprint.
    base = _adapter(server, endpoint="completions")
    fp = base.fingerprint(task)
    assert fp != base.fingerprint(_bound(_generating("qa-en")))
    assert fp != _adapter(server, endpoint="completions", max_tokens=7).fingerprint(task)
    other_seed = _bound(_generating("qa-en", gen.model_copy(update={"seed": 4})))
    assert fp != base.fingerprint(other_seed)
    assert fp == base.for_task(task, family).fingerprint(task)


def test_stop_strings_past_the_api_limit_are_cut_here(server: Any) -> None:
    gen = GenerationSpec(stop=["x1", "x2", "x3", "x4", " notes"])
    task = _bound(_generating("qa-en", gen))
    adapter = _adapter(server, endpoint="completions").for_task(task, get_family("qa"))
    req = QARequest(id="1", language="en", question="Who?", context="Ada wrote notes daily.")
    (resp,) = adapter.predict([req])
    assert server.faults.bodies[-1]["stop"] == ["x1", "x2", "x3", "x4"]
    assert not isinstance(resp, Failure) and resp.transcript is not None
    assert resp.transcript.completion == 'Answer: "Ada wrote notes"'  # raw, as the server sent
    cut = parse('Answer: "Ada wrote', req, task)
    assert resp.text == cut.text  # type: ignore[attr-defined]


def test_sampling_seeds_depend_on_the_request_not_the_batch(server: Any) -> None:
    gen = GenerationSpec(temperature=1.5, n=4, seed=11)
    task = _generating("sentiment-en", gen)
    family = get_family("sentiment")
    requests = [
        SentimentRequest(id=str(i), language="en", text=f"great visit {i}", labels=LABELS)
        for i in range(12)
    ]

    def labels(sample: int, reqs: list[SentimentRequest]) -> dict[str, str | None]:
        bound = _bound(task, sample)
        out = _adapter(server).for_task(bound, family).predict(reqs)
        return {r.id: o.label for r, o in zip(reqs, out, strict=True)}  # type: ignore[union-attr]

    first = labels(0, requests)
    seeds = {b["messages"][-1]["content"]: b["seed"] for b in server.faults.bodies}
    assert labels(0, list(reversed(requests))) == first  # order and batch do not matter
    assert labels(0, requests[:3]) == {r.id: first[r.id] for r in requests[:3]}
    again = {b["messages"][-1]["content"]: b["seed"] for b in server.faults.bodies[-15:]}
    assert all(seeds[k] == v for k, v in again.items())
    assert len(set(seeds.values())) == len(requests)  # each request its own seed
    # Each answer is the fixture's own draw for that seed.
    bound = _bound(task)
    for req in requests:
        prompt = render(req, bound)
        word = openai_server.sample(prompt, 1.5, None, random.Random(seeds[prompt]))
        assert first[req.id] == ("positive" if word == "Positive." else "negative")
    assert set(first.values()) == {"positive", "negative"}  # it really sampled
    assert labels(1, requests) != first  # another sample unit, another seed


def test_chat_transcript_system_and_multiturn_shots(server: Any) -> None:
    base = find_task("sentiment-en").bind_variant("default")
    assert base.prompt is not None
    prompt = base.prompt.model_copy(update={"system": "You label reviews."})
    fewshot = FewshotSpec(k=1, as_multiturn=True)
    task = _generating("sentiment-en", prompt=prompt, fewshot=fewshot)
    bound = _bound(task)
    family = get_family("sentiment")
    shot_req = SentimentRequest(id="t1", language="en", text="Loved it.", labels=LABELS)
    shot = Shot(
        id="t1", request=shot_req.model_dump(mode="json", exclude={"shots"}), answer="positive"
    )
    req = SentimentRequest(id="1", language="en", text="Great food.", labels=LABELS, shots=(shot,))
    (resp,) = _adapter(server).for_task(bound, family).predict([req])
    assert not isinstance(resp, Failure) and resp.transcript is not None
    msgs = resp.transcript.messages
    assert msgs is not None
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert msgs[0]["content"] == "You label reviews." and msgs[2]["content"] == "positive"
    assert "Loved it." in msgs[1]["content"] and "Great food." in msgs[3]["content"]
    assert server.faults.bodies[-1]["messages"] == msgs
    assert resp.transcript.completion == "Positive."  # raw, before parsing
    assert resp.label == "positive"  # type: ignore[attr-defined]
    # system= replaces the task's system prompt, and is recorded; empty sends none.
    override = _adapter(server, system="Be brief.").for_task(bound, family)
    (resp2,) = override.predict([req])
    assert resp2.transcript.messages[0] == {"role": "system", "content": "Be brief."}  # type: ignore[union-attr]
    assert override.info()["system"] == "Be brief." and override.info()["system_from"] == "model"
    assert override.fingerprint(bound) != _adapter(server).fingerprint(bound)
    (resp3,) = _adapter(server, system="").for_task(bound, family).predict([req])
    assert resp3.transcript.messages[0]["role"] == "user"  # type: ignore[union-attr]
    # Inline shots when not multiturn: one user turn holding the rendered prompt.
    inline = _bound(task.model_copy(update={"fewshot": FewshotSpec(k=1)}))
    (resp4,) = _adapter(server).for_task(inline, family).predict([req])
    assert resp4.transcript.messages[-1]["content"] == render(req, inline)  # type: ignore[union-attr]
    assert len(resp4.transcript.messages) == 2  # type: ignore[union-attr]


def test_completions_transcript_holds_the_prompt_and_raw_completion(server: Any) -> None:
    task = _bound(_generating("qa-en"))
    adapter = _adapter(server, endpoint="completions", system="Answer briefly.")
    req = QARequest(id="1", language="en", question="Who?", context="Ada wrote the notes.")
    (resp,) = adapter.for_task(task, get_family("qa")).predict([req])
    assert not isinstance(resp, Failure) and resp.transcript is not None
    assert resp.transcript.prompt == "Answer briefly.\n\n" + render(req, task)
    assert resp.transcript.completion == 'Answer: "Ada wrote the"'
    assert resp.text == "Ada wrote the"  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- the fixture


def test_fixture_echo_logprobs_n_and_max_tokens_zero(server: Any) -> None:
    import httpx

    url = server.base_url + "/completions"
    prompt = "Review: great\n\nSentiment:"
    reply = httpx.post(url, json={"prompt": prompt, "echo": True, "logprobs": 1, "max_tokens": 0})
    choice = reply.json()["choices"][0]
    assert choice["text"] == prompt
    lp = choice["logprobs"]
    assert "".join(lp["tokens"]) == prompt and lp["token_logprobs"][0] is None
    assert lp["text_offset"] == [start for _, start in tokenize(prompt)]
    assert sum(lp["token_logprobs"][1:]) == pytest.approx(
        MODEL.logprob(prompt[len(lp["tokens"][0]) :], lp["tokens"][0]), abs=1e-9
    )
    body = {"prompt": prompt, "temperature": 2.0, "n": 20, "seed": 5, "max_tokens": 1}
    texts = [c["text"] for c in httpx.post(url, json=body).json()["choices"]]
    assert len(texts) == 20 and set(texts) == {"Positive", "negative"}
    again = [c["text"] for c in httpx.post(url, json=body).json()["choices"]]
    assert again == texts  # seeded
    narrow = {**body, "top_p": 0.5}
    assert {c["text"] for c in httpx.post(url, json=narrow).json()["choices"]} == {"Positive"}


def test_pmi_after_an_empty_answer_only_context_is_a_failure(server: Any) -> None:
    # The prompt's last line is blank: the answer-only context is "", so the continuation
    # starts the text and the server gives its first token no log-probability.
    prompt_spec = PromptSpec(template="Review: {{ text }}\n \n")
    task = _task(
        "sentiment-en", prompt=prompt_spec, scoring=ScoringSpec(mode="loglik", normalization="pmi")
    )
    bound = _bound(task)
    (req,) = _sentiment()[:1]
    assert answer_only_context(render(req, bound)) == ""
    adapter = _adapter(server, endpoint="completions").for_task(bound, get_family("sentiment"))
    (resp,) = adapter.predict([req])
    assert isinstance(resp, Failure) and resp.cause == "no logprob for the first token"
    assert adapter.info()["failures_by_cause"] == {"no logprob for the first token": 1}
