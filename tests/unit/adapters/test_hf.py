"""The ``hf:`` adapter on tiny models built here (configs, seeded weights, trained tokenizers).

Each model is saved to a temporary folder and loaded by path, the code path of a hub id. Runs go
through the real ``bench run`` command (typer's runner, in process); the cross-checks compute
the same answers directly with transformers and torch.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from typer.testing import CliRunner  # noqa: E402

from bench.adapters.base import make_adapter, parse_model_spec  # noqa: E402
from bench.adapters.hf import HFAdapter, best_span, map_labels  # noqa: E402
from bench.adapters.prompting import parse, render  # noqa: E402
from bench.catalog import find_task  # noqa: E402
from bench.cli import app  # noqa: E402
from bench.data import load_split  # noqa: E402
from bench.errors import AdapterError, MissingDependency, ModelSpecError  # noqa: E402
from bench.families.base import Request, get_family  # noqa: E402
from bench.families.qa import QARequest  # noqa: E402
from bench.families.recommendation import RecommendationRequest  # noqa: E402
from bench.preprocess import apply_steps, build_steps  # noqa: E402

_HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("tiny_hf", _HERE / "tiny_hf.py")
assert _spec is not None and _spec.loader is not None
tiny_hf = importlib.util.module_from_spec(_spec)
sys.modules["tiny_hf"] = tiny_hf
_spec.loader.exec_module(tiny_hf)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hf-models")
    return {
        "llama": tiny_hf.causal_model(root / "llama", chat_template=tiny_hf.CHAT_TEMPLATE),
        "gpt2": tiny_hf.causal_model(root / "gpt2", arch="gpt2"),
        "s2s": tiny_hf.seq2seq_model(root / "s2s"),
        "cls": tiny_hf.classifier_model(root / "cls"),
        "qa": tiny_hf.qa_model(root / "qa"),
    }


@pytest.fixture()
def home(bench_home: Path, nltk_data: Path) -> Path:
    return bench_home


def bench_run(home: Path, spec: str, task: str, limit: int, *extra: str) -> dict[str, Any]:
    """``bench run`` in process; the record, with its samples under ``"samples"``."""
    args = ["run", "-m", spec, "-t", task, "--limit", str(limit), "--bootstrap", "0", *extra]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    folder = home / "results" / parse_model_spec(spec).dir_name / task
    record = json.loads((folder / "record.json").read_text(encoding="utf-8"))
    lines = (folder / "samples.jsonl").read_text(encoding="utf-8").splitlines()
    record["samples"] = [json.loads(line) for line in lines]
    return record


def requests_for(task: str, limit: int) -> tuple[Any, list[Request]]:
    """The task's spec and its first ``limit`` preprocessed requests."""
    spec = find_task(task)
    family = get_family(spec.family)
    prepared = family.prepare(spec, data_override=None, limit=limit)
    if prepared is not None:
        return spec, prepared.requests
    split = load_split(spec, family, "test", data_override=None, limit=limit)
    ds = apply_steps(split.dataset, build_steps(spec), family)
    return spec, [family.build(row, spec)[0] for row in ds]


def adapter_for(path: Path, task: str, spec: Any = None, **params: Any) -> HFAdapter:
    adapter = HFAdapter(str(path), task=task, device="cpu", **params)
    if spec is not None:
        return adapter.for_task(spec, get_family(spec.family))
    return adapter


# --------------------------------------------------------------------------- end to end


@pytest.mark.parametrize(
    ("model", "kind", "task", "limit"),
    [
        ("llama", "causal", "sentiment-en", 6),
        ("cls", "classifier", "sentiment-zh", 6),
        ("s2s", "seq2seq", "translation-zh-en", 4),
        ("gpt2", "causal", "translation-en-zh", 3),
        ("s2s", "seq2seq", "summarization-en", 3),
        ("llama", "causal", "summarization-zh", 3),
        ("qa", "qa", "qa-en", 6),
        ("gpt2", "causal", "qa-zh", 3),
        ("llama", "causal", "recommendation-synthetic", 1),
    ],
)
def test_every_family_runs_end_to_end(
    models: dict[str, Path], home: Path, model: str, kind: str, task: str, limit: int
) -> None:
    spec = f"hf:{models[model]},task={kind},max_new_tokens=12,device=cpu"
    record = bench_run(home, spec, task, limit)
    # A causal model answers every prompt variant of the smoke task: one unit each.
    units = len(record["protocol"]["units"]) if kind == "causal" else 1
    assert units == (3 if kind == "causal" else 1)
    n = limit * units
    assert record["predictions"] == {"total": n, "cached": 0, "computed": n, "failed": 0}
    assert record["primary_metric"] in record["metrics"]
    info = record["model"]["info"]
    assert info["task"] == kind and info["device"] == "cpu" and info["dtype"] == "float32"
    assert info["trust_remote_code"] is False
    assert len(info["weights_sha256"]) == 64 and info["parameters"] > 1000
    family = find_task(task).family
    for sample in record["samples"]:
        response = sample["response"]
        if family == "sentiment":
            assert response["label"] in ("negative", "positive")
            assert sum(response["probabilities"].values()) == pytest.approx(1.0)
        elif family == "recommendation":
            # every candidate ranked, scores non-increasing
            assert len(response["ranked"]) == len(set(response["ranked"])) > 100
            assert all(
                a >= b for a, b in zip(response["scores"], response["scores"][1:], strict=False)
            )
        else:
            assert isinstance(response["text"], str)


def test_second_run_hits_the_cache_and_still_describes_the_model(
    models: dict[str, Path], home: Path
) -> None:
    spec = f"hf:{models['cls']},task=classifier,device=cpu"
    first = bench_run(home, spec, "sentiment-en", 5)
    # --rescore: the record is up to date; scored again, every prediction is the cache's.
    second = bench_run(home, spec, "sentiment-en", 5, "--rescore")
    assert second["predictions"]["cached"] == 5 and second["predictions"]["computed"] == 0
    assert second["model"]["fingerprint"] == first["model"]["fingerprint"]
    for key in ("model_class", "parameters", "weights_sha256", "label_map"):
        assert second["model"]["info"][key] == first["model"]["info"][key], key
    assert first["model"]["info"]["model_class"] == "BertForSequenceClassification"
    assert [s["response"] for s in second["samples"]] == [s["response"] for s in first["samples"]]


def test_trust_remote_code_is_off_unless_asked_and_recorded(
    models: dict[str, Path], home: Path
) -> None:
    spec = f"hf:{models['qa']},task=qa,device=cpu,trust_remote_code=true,name=qa-trusting"
    record = bench_run(home, spec, "qa-en", 2)
    assert record["model"]["info"]["trust_remote_code"] is True
    assert HFAdapter(str(models["qa"]), task="qa").params.trust_remote_code is False


def test_unmappable_labels_fail_with_the_fix(
    tmp_path: Path, home: Path, models: dict[str, Path]
) -> None:
    path = tiny_hf.classifier_model(tmp_path / "generic", id2label={0: "LABEL_0", 1: "LABEL_1"})
    result = CliRunner().invoke(
        app, ["run", "-m", f"hf:{path},task=classifier", "-t", "sentiment-en", "--limit", "3"]
    )
    # bench's main() prints a BenchError as one line and exits with 2; the app raises it
    assert isinstance(result.exception, AdapterError), result.output
    message = str(result.exception)
    for needle in ("LABEL_0", "LABEL_1", "negative", "positive", "label_map="):
        assert needle in message, (needle, message)
    # the fix the message names works, in both spellings, and gives the same answers
    a = bench_run(home, f"hf:{path},task=classifier,label_map=negative|positive", "sentiment-en", 4)
    b = bench_run(
        home, f"hf:{path},task=classifier,label_map=LABEL_1:positive|LABEL_0:negative",
        "sentiment-en", 4,
    )  # fmt: skip
    assert [s["response"] for s in a["samples"]] == [s["response"] for s in b["samples"]]


def test_map_labels_rules() -> None:
    task = ["negative", "positive"]
    assert map_labels({0: "Negative", 1: "POS"}, task, None, where="m") == {
        0: "negative",
        1: "positive",
    }
    stars = {0: "1 star", 1: "2 stars", 2: "4 stars", 3: "5 stars"}
    many = map_labels(
        stars, task, "1 star:negative|2 stars:negative|4 stars:positive|5 stars:positive", where="m"
    )
    assert many == {0: "negative", 1: "negative", 2: "positive", 3: "positive"}
    with pytest.raises(AdapterError, match="matches no task label"):
        map_labels({0: "NEG", 1: "NEUTRAL", 2: "POS"}, task, None, where="m")
    with pytest.raises(AdapterError, match="lists 3 labels for the model's 2"):
        map_labels({0: "a", 1: "b"}, task, "negative|positive|negative", where="m")
    with pytest.raises(AdapterError, match="no model label maps to \\['positive'\\]"):
        map_labels({0: "a", 1: "b"}, task, "a:negative|b:negative", where="m")
    with pytest.raises(AdapterError, match=r"'postive' is not a task label.*did you mean"):
        map_labels({0: "a", 1: "b"}, task, "negative|postive", where="m")


# --------------------------------------------------------------------------- cross-checks


def test_classifier_equals_argmax_of_a_direct_forward(models: dict[str, Path]) -> None:
    spec, requests = requests_for("sentiment-en", 12)
    adapter = adapter_for(models["cls"], "classifier", spec, batch_size=5)
    responses = adapter.predict(requests)
    tok = transformers.AutoTokenizer.from_pretrained(models["cls"])
    model = transformers.AutoModelForSequenceClassification.from_pretrained(models["cls"]).eval()
    for req, resp in zip(requests, responses, strict=True):
        with torch.no_grad():
            logits = model(**tok(req.text, return_tensors="pt")).logits[0]
        probs = torch.softmax(logits, -1)
        expected = model.config.id2label[int(logits.argmax())].lower()
        assert resp.label == expected
        assert resp.probabilities["negative"] == pytest.approx(float(probs[0]), abs=1e-5)


@pytest.mark.parametrize(("model", "kind", "task"), [
    ("gpt2", "causal", "qa-en"),
    ("llama", "causal", "sentiment-en"),
    ("s2s", "seq2seq", "translation-zh-en"),
    ("cls", "classifier", "sentiment-en"),
])  # fmt: skip
def test_answers_in_input_order_whatever_the_batching(
    models: dict[str, Path], model: str, kind: str, task: str
) -> None:
    spec, requests = requests_for(task, 9)
    one = adapter_for(models[model], kind, spec, batch_size=1, max_new_tokens=10).predict(requests)
    eight = adapter_for(models[model], kind, spec, batch_size=8, max_new_tokens=10)
    got = eight.predict(requests)
    for a, b in zip(one, got, strict=True):
        da, db = a.model_dump(), b.model_dump()
        probs_a, probs_b = da.pop("probabilities", None), db.pop("probabilities", None)
        # choice scores (in the transcript) agree to float32 batching noise
        choices_a = (da.get("transcript") or {}).pop("choices", None)
        choices_b = (db.get("transcript") or {}).pop("choices", None)
        assert da == db
        if probs_a is not None:
            assert probs_a == pytest.approx(probs_b, abs=1e-5)
        if choices_a is not None:
            assert choices_a == pytest.approx(choices_b, abs=1e-5)
    # and reversing the input reverses the output
    backwards = eight.predict(list(reversed(requests)))
    assert [r.model_dump().get("label", r.model_dump().get("text")) for r in backwards] == [
        r.model_dump().get("label", r.model_dump().get("text")) for r in reversed(got)
    ]


def _window_logits(path: Path, question: str, context: str, max_len: int, stride: int) -> Any:
    tok = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModelForQuestionAnswering.from_pretrained(path).eval()
    enc = tok(
        question,
        context,
        truncation="only_second",
        max_length=max_len,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    out = []
    for w in range(len(enc["input_ids"])):
        ids = torch.tensor([enc["input_ids"][w]])
        with torch.no_grad():
            o = model(input_ids=ids, token_type_ids=torch.tensor([enc["token_type_ids"][w]]))
        out.append((o.start_logits[0].tolist(), o.end_logits[0].tolist(), enc, w))
    return out


def _brute_force(windows: Any, context: str, max_answer: int) -> tuple[float, str, float]:
    best_score, best_text, null = -math.inf, "", math.inf
    for start, end, enc, w in windows:
        ctx = [i for i, s in enumerate(enc.sequence_ids(w)) if s == 1]
        null = min(null, start[0] + end[0])
        offsets = enc["offset_mapping"][w]
        for i in ctx:
            for j in ctx:
                if i <= j < i + max_answer and start[i] + end[j] > best_score:
                    best_score = start[i] + end[j]
                    best_text = context[offsets[i][0] : offsets[j][1]].strip()
    return best_score, best_text, null


def test_qa_span_is_the_brute_force_best_over_windows(models: dict[str, Path]) -> None:
    long_context = " ".join(tiny_hf.SENTENCES[:4] + tiny_hf.SENTENCES[10:11]) * 4
    questions = {
        "When was the bridge built?": long_context,
        "How was the food?": tiny_hf.SENTENCES[0],
        "What broke?": " ".join(tiny_hf.SENTENCES[2:6]),
    }
    requests = [
        QARequest(id=str(i), language="en", question=q, context=c)
        for i, (q, c) in enumerate(questions.items())
    ]
    kw = {"max_seq_length": 48, "doc_stride": 12, "max_answer_length": 6}
    adapter = adapter_for(models["qa"], "qa", batch_size=3, **kw)
    answers = adapter.predict(requests)
    n_windows = 0
    for req, answer in zip(requests, answers, strict=True):
        windows = _window_logits(models["qa"], req.question, req.context, 48, 12)
        n_windows = max(n_windows, len(windows))
        score, text, null = _brute_force(windows, req.context, 6)
        assert answer.text == text, req.id
        assert text in req.context and text
        # SQuAD v2 no-answer: the null score wins exactly when it beats the span + threshold
        margin = null - score
        below = adapter_for(models["qa"], "qa", no_answer=True, null_threshold=margin - 0.01, **kw)
        above = adapter_for(models["qa"], "qa", no_answer=True, null_threshold=margin + 0.01, **kw)
        assert below.predict([req])[0].text == ""
        assert above.predict([req])[0].text == text
    assert n_windows >= 4  # the long context really was split


def test_best_span_respects_length_and_context() -> None:
    import numpy as np

    start = np.array([9.0, 1.0, 0.0, 5.0, 0.0])
    end = np.array([9.0, 0.0, 0.0, 0.0, 6.0])
    ctx = np.array([False, True, True, True, True])
    assert best_span(start, end, ctx, 30) == (11.0, 3, 4)
    assert best_span(start, end, ctx, 1) == (6.0, 4, 4)  # one-token spans only
    assert best_span(start, end, np.zeros(5, dtype=bool), 30) is None


def _loglik(model: Any, tok: Any, prompt: str, continuation: str, special: bool) -> float:
    """log p(continuation | prompt), by one forward pass over the joined text."""
    ctx = tok(prompt, add_special_tokens=special)["input_ids"]
    whole = tok(prompt + continuation, add_special_tokens=special)["input_ids"]
    assert whole[: len(ctx)] == ctx
    with torch.no_grad():
        logits = model(torch.tensor([whole])).logits[0].log_softmax(-1)
    return sum(float(logits[t - 1, whole[t]]) for t in range(len(ctx), len(whole)))


@pytest.mark.parametrize("chat", [True, False])
def test_verbaliser_choice_equals_a_direct_log_likelihood(
    models: dict[str, Path], chat: bool
) -> None:
    spec, requests = requests_for("sentiment-en", 6)
    adapter = adapter_for(models["llama"], "causal", spec, chat=chat, batch_size=4)
    responses = adapter.predict(requests)
    tok = transformers.AutoTokenizer.from_pretrained(models["llama"])
    model = transformers.AutoModelForCausalLM.from_pretrained(models["llama"]).eval()
    for req, resp in zip(requests, responses, strict=True):
        prompt = render(req, spec)
        if chat:  # the tokenizer's chat template wraps the task prompt
            prompt = tok.apply_chat_template(
                [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
            )
            assert prompt.startswith("<s><|user|>\n") and prompt.endswith("<|assistant|>\n")
        assert adapter.prompt_text(req) == prompt
        sep = "" if prompt.endswith("\n") else " "
        ll = {lab: _loglik(model, tok, prompt, sep + lab, not chat) for lab in req.labels}
        assert resp.label == max(req.labels, key=lambda k: ll[k])
        total = sum(math.exp(v) for v in ll.values())
        for label, value in ll.items():
            assert resp.probabilities[label] == pytest.approx(math.exp(value) / total, abs=1e-5)
    info = adapter.info()
    assert info["chat_template"] is chat


def test_ranking_equals_direct_log_likelihoods(models: dict[str, Path]) -> None:
    spec = find_task("recommendation-synthetic")
    candidates = ("i007", "i042", "i100", "i123", "i250", "i003", "i299", "i018", "i077")
    req = RecommendationRequest(
        id="u", language="en", user="u", history=("i001", "i002"),
        history_titles=("The Bright Bridge", "The Endless Island"), candidates=candidates,
    )  # fmt: skip
    adapter = adapter_for(models["gpt2"], "causal", spec, batch_size=4)
    (resp,) = adapter.predict([req])
    tok = transformers.AutoTokenizer.from_pretrained(models["gpt2"])
    model = transformers.AutoModelForCausalLM.from_pretrained(models["gpt2"]).eval()
    prompt = render(req, spec)
    ll = {c: _loglik(model, tok, prompt, " " + c, True) for c in candidates}
    assert set(resp.ranked) == set(candidates)
    for item, score in zip(resp.ranked, resp.scores, strict=True):
        assert score == pytest.approx(ll[item], abs=1e-4)
    assert list(resp.ranked) == sorted(candidates, key=lambda c: -ll[c])


def test_generation_equals_a_direct_greedy_decode_cut_at_the_stop(
    models: dict[str, Path],
) -> None:
    spec, requests = requests_for("qa-en", 5)
    adapter = adapter_for(models["llama"], "causal", spec, batch_size=5, max_new_tokens=16)
    responses = adapter.predict(requests)
    tok = transformers.AutoTokenizer.from_pretrained(models["llama"])
    model = transformers.AutoModelForCausalLM.from_pretrained(models["llama"]).eval()
    for req, resp in zip(requests, responses, strict=True):
        prompt = adapter.prompt_text(req)
        # a base model (its name marks no instruct/chat model): no chat template, BOS added
        ids = tok(prompt, add_special_tokens=True, return_tensors="pt")
        with torch.no_grad():  # unpadded, one at a time, no stopping criteria
            out = model.generate(**ids, max_new_tokens=16, do_sample=False, pad_token_id=2)
        text = tok.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
        assert resp.model_copy(update={"transcript": None}) == parse(text.split("\n")[0], req, spec)
        assert resp.transcript is not None and resp.transcript.completion == text.split("\n")[0]


def test_seq2seq_sets_language_codes_like_nllb(models: dict[str, Path]) -> None:
    spec, requests = requests_for("translation-zh-en", 3)
    adapter = adapter_for(models["s2s"], "seq2seq", spec, max_new_tokens=8)
    responses = adapter.predict(requests)
    tok = adapter._tokenizer
    assert tok.src_lang == "zho_Hans"  # derived from the task's source language
    assert tok(requests[0].source)["input_ids"][0] == tok.convert_tokens_to_ids("zho_Hans")
    model = transformers.AutoModelForSeq2SeqLM.from_pretrained(models["s2s"]).eval()
    forced = tok.convert_tokens_to_ids("eng_Latn")
    for req, resp in zip(requests, responses, strict=True):
        with torch.no_grad():
            out = model.generate(
                **tok(req.source, return_tensors="pt"),
                max_new_tokens=8,
                do_sample=False,
                forced_bos_token_id=forced,
            )
        assert int(out[0, 1]) == forced  # decoder start, then the target language
        assert resp.text == tok.decode(out[0], skip_special_tokens=True).strip()
    # explicit codes win; an unknown one is an error naming the codes the model has
    explicit = adapter_for(models["s2s"], "seq2seq", spec, src_lang="eng_Latn", max_new_tokens=8)
    explicit.predict(requests[:1])
    assert explicit._tokenizer.src_lang == "eng_Latn"
    bad = adapter_for(models["s2s"], "seq2seq", spec, tgt_lang="eng_Latm")
    with pytest.raises(ModelSpecError, match="did you mean 'eng_Latn'"):
        bad.predict(requests[:1])


# --------------------------------------------------------------------------- spec, fingerprint


def test_fingerprint_follows_the_weights_not_the_folder(
    models: dict[str, Path], tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(models["cls"], copy)
    a = adapter_for(models["cls"], "classifier").fingerprint()
    assert adapter_for(copy, "classifier").fingerprint() == a  # moved, same weights
    tiny_hf.classifier_model(copy, seed=1)  # same config, other weights
    assert adapter_for(copy, "classifier").fingerprint() != a
    assert adapter_for(models["cls"], "classifier", batch_size=3).fingerprint() == a
    assert adapter_for(models["cls"], "classifier", dtype="bfloat16").fingerprint() != a


def test_fingerprint_is_pure(models: dict[str, Path]) -> None:
    """The same before and after for_task and predict, on any device, in a fresh process."""
    spec, requests = requests_for("sentiment-en", 3)
    adapter = HFAdapter(str(models["llama"]), task="causal", batch_size=2, max_new_tokens=4)
    before = adapter.fingerprint(spec)
    assert before != adapter.fingerprint()  # a causal model's prompt is part of it
    bound = adapter.for_task(spec, get_family(spec.family))
    bound.predict(requests)
    assert bound.fingerprint(spec) == adapter.fingerprint(spec) == before
    on_cpu = HFAdapter(str(models["llama"]), task="causal", batch_size=2, max_new_tokens=4)
    assert on_cpu.fingerprint(spec) == before  # loaded or not, any device visible
    code = (
        "import sys; from bench.adapters.hf import HFAdapter; from bench.catalog import find_task;"
        "a = HFAdapter(sys.argv[1], task='causal', batch_size=2, max_new_tokens=4);"
        "print(a.fingerprint(find_task('sentiment-en')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(models["llama"])],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
    )
    assert out.stdout.strip() == before


def test_spec_errors_are_bench_errors(models: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ModelSpecError, match="task"):
        make_adapter(f"hf:{models['cls']}")
    with pytest.raises(ModelSpecError, match=r"unknown parameter.*did you mean 'batch_size'"):
        make_adapter(f"hf:{models['cls']},task=classifier,batchsize=2")
    adapter = make_adapter(f"hf:{models['cls']},task=classifier,batch_size=4")
    assert adapter.params.batch_size == 4 and adapter.supports("sentiment")
    assert not adapter.supports("qa")
    missing = HFAdapter(str(tmp_path / "nope"), task="classifier", device="cpu")
    with pytest.raises(ModelSpecError, match="cannot be loaded"):
        missing.predict(requests_for("sentiment-en", 1)[1])


def test_missing_transformers_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(MissingDependency, match=r"bench\[hf\]"):
        HFAdapter("some/model", task="causal")
