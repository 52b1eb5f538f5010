"""The ``hf:`` causal adapter under a task's protocol (issue 15), on tiny seeded models.

Scoring modes and every log-likelihood normalisation (each checked against a forward pass
computed here, to 1e-6), in-context examples in the prompt, the chat-template rule, the system
prompt, transcripts, the precedence of generation settings, sampling that does not depend on
the batch size, and stop strings.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from bench.adapters.hf import HFAdapter  # noqa: E402
from bench.adapters.loglik import continuation  # noqa: E402
from bench.adapters.prompting import render  # noqa: E402
from bench.catalog import find_task  # noqa: E402
from bench.data import load_split  # noqa: E402
from bench.errors import ModelSpecError  # noqa: E402
from bench.families.base import Request, Shot, get_family  # noqa: E402
from bench.families.recommendation import RecommendationRequest  # noqa: E402
from bench.preprocess import apply_steps, build_steps  # noqa: E402
from bench.spec import FewshotSpec, GenerationSpec, PromptSpec, ScoringSpec  # noqa: E402

_HERE = Path(__file__).resolve().parent
if "tiny_hf" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("tiny_hf", _HERE / "tiny_hf.py")
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["tiny_hf"] = _module
    _spec.loader.exec_module(_module)
tiny_hf = sys.modules["tiny_hf"]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hf-protocol")
    instruct = tiny_hf.instruct_model(root)
    base = root / "tiny-llama"  # the same weights and template under a base model's name
    shutil.copytree(instruct, base)
    return {
        "gpt2": tiny_hf.causal_model(root / "gpt2", arch="gpt2"),
        "instruct": instruct,
        "base": base,
    }


def requests_for(task: str, limit: int) -> tuple[Any, list[Request]]:
    spec = find_task(task).bind_variant("default")  # one prompt: these tests bind no units
    family = get_family(spec.family)
    split = load_split(spec, family, "test", data_override=None, limit=limit)
    ds = apply_steps(split.dataset, build_steps(spec), family)
    return spec, [family.build(row, spec)[0] for row in ds]


def with_shot(spec: Any, requests: list[Request]) -> list[Request]:
    """Each request with one in-context example: the next request, answered by its first
    label's (sentiment) or a fixed (other families) answer."""
    out = []
    for i, req in enumerate(requests):
        other = requests[(i + 1) % len(requests)]
        answer = getattr(other, "labels", ("an answer",))[0]
        shot = Shot(id=other.id, request=other.model_dump(mode="json"), answer=answer)
        out.append(req.model_copy(update={"shots": (shot,)}))
    return out


def adapter(path: Path, spec: Any, **params: Any) -> HFAdapter:
    a = HFAdapter(str(path), task="causal", device="cpu", **params)
    return a.for_task(spec, get_family(spec.family))


def direct_loglik(path: Path, prompt: str, cont: str, special: bool) -> tuple[float, int]:
    """log p(cont | prompt) and its token count, from one forward pass over the joined text
    (log_softmax over the full sequence, computed here)."""
    tok = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModelForCausalLM.from_pretrained(path).eval()
    ctx = tok(prompt, add_special_tokens=special)["input_ids"]
    whole = tok(prompt + cont, add_special_tokens=special)["input_ids"]
    assert whole[: len(ctx)] == ctx and len(whole) > len(ctx)
    if not ctx:  # an empty context: scored after the BOS token
        ctx, whole = [tok.bos_token_id], [tok.bos_token_id, *whole]
    with torch.no_grad():
        logp = model(torch.tensor([whole])).logits[0].double().log_softmax(-1)
    total = sum(float(logp[t - 1, whole[t]]) for t in range(len(ctx), len(whole)))
    return total, len(whole) - len(ctx)


def expected(norm: str, path: Path, prompt: str, context: str, word: str, special: bool) -> float:
    cont = continuation(prompt, word)
    logprob, n = direct_loglik(path, prompt, cont, special)
    if norm == "none":
        return logprob
    if norm == "token":
        return logprob / n
    if norm == "char":
        return logprob / len(cont)
    if norm == "byte":
        return logprob / len(cont.encode("utf-8"))
    return logprob - direct_loglik(path, context, cont, special)[0]


# --------------------------------------------------------------------------- loglik


@pytest.mark.parametrize("norm", ["none", "token", "char", "byte", "pmi"])
@pytest.mark.parametrize("task", ["sentiment-en", "sentiment-zh"])
def test_every_normalisation_equals_a_direct_forward_pass(
    models: dict[str, Path], task: str, norm: str
) -> None:
    spec, requests = requests_for(task, 3)
    spec = spec.model_copy(update={"scoring": ScoringSpec(mode="loglik", normalization=norm)})
    requests = with_shot(spec, requests)
    # one sequence per forward pass, as computed here: padding a batch moves float32 logits
    # by ~1e-6 (batch-size invariance is checked to 1e-5 in test_hf.py)
    a = adapter(models["gpt2"], spec, batch_size=1)
    responses = a.predict(requests)
    for req, resp in zip(requests, responses, strict=True):
        prompt = render(req, spec)  # shots included, no chat template (gpt2 has none)
        assert req.shots[0].answer in prompt and req.shots[0].id != req.id
        assert resp.transcript is not None and resp.transcript.prompt == prompt
        context = prompt.rstrip("\n").split("\n")[-1].strip()
        words = dict(
            zip(req.labels, get_family("sentiment").answer_choices(req, spec), strict=True)
        )
        want = {w: expected(norm, models["gpt2"], prompt, context, w, True) for w in words.values()}
        assert resp.transcript.choices == pytest.approx(want, abs=1e-6, rel=0)
        best = max(req.labels, key=lambda label: want[words[label]])
        assert resp.label == best
    assert a.info()["scoring"] == {"mode": "loglik", "normalization": norm}


def test_pmi_under_the_chat_template_scores_after_the_answer_cue_in_a_user_turn(
    models: dict[str, Path],
) -> None:
    spec, requests = requests_for("sentiment-en", 2)
    spec = spec.model_copy(update={"scoring": ScoringSpec(mode="loglik", normalization="pmi")})
    a = adapter(models["instruct"], spec, batch_size=1)
    tok = transformers.AutoTokenizer.from_pretrained(models["instruct"])
    for req, resp in zip(requests, a.predict(requests), strict=True):
        chat = [{"role": "user", "content": render(req, spec)}]
        prompt = tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        cue = [{"role": "user", "content": render(req, spec).split("\n")[-1]}]
        context = tok.apply_chat_template(cue, tokenize=False, add_generation_prompt=True)
        assert resp.transcript is not None and resp.transcript.prompt == prompt
        want = {
            w: expected("pmi", models["instruct"], prompt, context, w, False) for w in req.labels
        }
        assert resp.transcript.choices == pytest.approx(want, abs=1e-6, rel=0)


def test_pmi_of_an_empty_answer_cue_scores_after_bos(models: dict[str, Path]) -> None:
    spec, requests = requests_for("sentiment-en", 2)
    spec = spec.model_copy(
        update={
            "scoring": ScoringSpec(mode="loglik", normalization="pmi"),
            "prompt": PromptSpec(template="Review: {{ text }}\n \n"),
        }
    )
    a = adapter(models["gpt2"], spec, batch_size=1)
    for req, resp in zip(requests, a.predict(requests), strict=True):
        prompt = render(req, spec)
        want = {w: expected("pmi", models["gpt2"], prompt, "", w, True) for w in req.labels}
        assert resp.transcript is not None
        assert resp.transcript.choices == pytest.approx(want, abs=1e-6, rel=0)


@pytest.mark.parametrize("norm", ["token", "pmi"])
def test_ranking_normalisations_equal_a_direct_forward_pass(
    models: dict[str, Path], norm: str
) -> None:
    """Recommendation scores every candidate against the prompt's cached keys/values."""
    spec = find_task("recommendation-synthetic")
    spec = spec.model_copy(update={"scoring": ScoringSpec(mode="loglik", normalization=norm)})
    candidates = ("i007", "i042", "i100", "i123", "i250")
    req = RecommendationRequest(
        id="u", language="en", user="u", history=("i001", "i002"),
        history_titles=("The Bright Bridge", "The Endless Island"), candidates=candidates,
    )  # fmt: skip
    # One candidate per batch: padding a float32 batch moves logits by ~1e-6 (the batching
    # itself is checked against batch_size=1 to 1e-5 elsewhere).
    (resp,) = adapter(models["gpt2"], spec, batch_size=1).predict([req])
    prompt = render(req, spec)
    context = prompt.rstrip("\n").split("\n")[-1].strip()
    want = {c: expected(norm, models["gpt2"], prompt, context, c, True) for c in candidates}
    assert resp.transcript is not None
    # The prompt's key/value cache, reused for every candidate, is float32 arithmetic in
    # another order than one full forward pass: each summed log-likelihood moves by a few
    # 1e-6 (1.7e-6 seen on a loaded 2-core machine), and PMI subtracts two of them.
    assert resp.transcript.choices == pytest.approx(
        want, abs=1e-5 if norm == "pmi" else 5e-6, rel=0
    )
    assert list(resp.ranked) == sorted(candidates, key=lambda c: (-want[c], candidates.index(c)))


def test_loglik_for_a_family_without_choices_is_refused_at_plan_time(
    models: dict[str, Path],
) -> None:
    spec = find_task("qa-en").model_copy(update={"scoring": ScoringSpec(mode="loglik")})
    a = HFAdapter(str(models["gpt2"]), task="causal", device="cpu")
    assert a.prompted
    reason = a.protocol_support(spec)
    assert reason is not None and "generate" in reason
    assert a.protocol_support(find_task("qa-en")) is None  # generate: fine
    assert a.protocol_support(find_task("sentiment-en")) is None  # loglik: fine
    assert not HFAdapter(str(models["gpt2"]), task="classifier").prompted


def test_sentiment_in_generate_mode_parses_the_completion(models: dict[str, Path]) -> None:
    spec, requests = requests_for("sentiment-en", 3)
    spec = spec.model_copy(update={"scoring": ScoringSpec(mode="generate")})
    a = adapter(models["gpt2"], spec, max_new_tokens=6)
    family = get_family("sentiment")
    for req, resp in zip(requests, a.predict(requests), strict=True):
        assert resp.transcript is not None and resp.transcript.choices is None
        assert resp.transcript.completion is not None
        parsed = family.parse_answer(resp.transcript.completion, req, spec)
        assert resp.model_copy(update={"transcript": None}) == parsed


# --------------------------------------------------------------------------- chat, system


def test_chat_template_follows_the_rule(models: dict[str, Path]) -> None:
    spec, requests = requests_for("sentiment-en", 1)
    (req,) = requests
    user = render(req, spec)
    cases = {
        ("instruct", None): True,  # template + an instruct name
        ("base", None): False,  # template, but a base model's name
        ("instruct", False): False,
        ("base", True): True,
        ("gpt2", None): False,  # no template
    }
    prints = {}
    for (model, chat), applied in cases.items():
        a = adapter(models[model], spec, chat=chat)
        (resp,) = a.predict([req])
        assert resp.transcript is not None
        prompt = resp.transcript.prompt
        assert prompt == (f"<s><|user|>\n{user}\n<|assistant|>\n" if applied else user)
        info = a.info()
        assert info["chat_template"] is applied, (model, chat, info["chat_rule"])
        prints[(model, chat)] = a.fingerprint(spec)
    assert "instruct" in adapter(models["instruct"], spec).info()["chat_rule"]
    assert prints[("base", None)] != prints[("base", True)]
    with pytest.raises(ModelSpecError, match="no chat template"):
        adapter(models["gpt2"], spec, chat=True).predict([req])


def test_system_prompt_and_multiturn_exemplars(models: dict[str, Path]) -> None:
    spec, requests = requests_for("sentiment-en", 2)
    assert spec.prompt is not None
    spec = spec.model_copy(
        update={
            "prompt": spec.prompt.model_copy(update={"system": "Be brief."}),
            "fewshot": FewshotSpec(k=1, as_multiturn=True),
        }
    )
    req = with_shot(spec, requests)[0]
    family = get_family("sentiment")
    shot_req = family.request_type.model_validate(req.shots[0].request)
    (resp,) = adapter(models["instruct"], spec).predict([req])
    assert resp.transcript is not None
    assert resp.transcript.prompt == (
        "<s><|system|>\nBe brief.\n"
        f"<|user|>\n{family.render_prompt(shot_req, spec)}\n"
        f"<|assistant|>\n{req.shots[0].answer}\n"
        f"<|user|>\n{family.render_prompt(req, spec)}\n<|assistant|>\n"
    )
    # system= on the spec replaces the task's; without a chat template it leads the text
    (over,) = adapter(models["instruct"], spec, system="Answer in one word.").predict([req])
    assert over.transcript is not None and "<|system|>\nAnswer in one word.\n" in str(
        over.transcript.prompt
    )
    (plain,) = adapter(models["gpt2"], spec).predict([req])
    assert plain.transcript is not None
    assert plain.transcript.prompt == "Be brief.\n\n" + render(req, spec)  # shots inline
    a = adapter(models["instruct"], spec)
    assert a.fingerprint(spec) != adapter(models["instruct"], spec, system="x").fingerprint(spec)


# --------------------------------------------------------------------------- generation


def test_generation_settings_precedence_is_recorded(models: dict[str, Path]) -> None:
    spec, requests = requests_for("qa-en", 2)
    task_gen = spec.model_copy(update={"generation": GenerationSpec(max_new_tokens=5, stop=["."])})
    default = adapter(models["gpt2"], spec)
    from_task = adapter(models["gpt2"], task_gen)
    from_spec = adapter(models["gpt2"], task_gen, max_new_tokens=3, stop="", temperature=0)
    assert default.info()["generation"] == {
        "max_new_tokens": 128, "stop": ["\n"], "temperature": 0.0, "top_p": 1.0, "seed": 0,
    }  # fmt: skip
    assert from_task.info()["generation"]["max_new_tokens"] == 5
    assert from_task.info()["generation"]["stop"] == ["."]
    assert from_spec.info()["generation"]["max_new_tokens"] == 3
    assert from_spec.info()["generation"]["stop"] == []  # stop= (empty): no stop strings
    prints = {a.fingerprint(s) for a, s in [(default, spec), (from_task, task_gen)]}
    prints.add(from_spec.fingerprint(task_gen))
    assert len(prints) == 3
    tok = transformers.AutoTokenizer.from_pretrained(models["gpt2"])
    model = transformers.AutoModelForCausalLM.from_pretrained(models["gpt2"]).eval()
    for req, resp in zip(requests, from_spec.predict(requests), strict=True):
        ids = tok(render(req, spec), return_tensors="pt")
        with torch.no_grad():  # 3 new tokens (the spec's), no stop string (the spec's stop=)
            out = model.generate(**ids, max_new_tokens=3, do_sample=False, pad_token_id=2)
        text = tok.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
        assert resp.transcript is not None and resp.transcript.completion == text


def test_stop_strings_cut_like_a_direct_greedy_decode(models: dict[str, Path]) -> None:
    spec, requests = requests_for("qa-en", 4)
    tok = transformers.AutoTokenizer.from_pretrained(models["gpt2"])
    model = transformers.AutoModelForCausalLM.from_pretrained(models["gpt2"]).eval()
    free = []
    for req in requests:
        ids = tok(render(req, spec), return_tensors="pt")
        with torch.no_grad():
            out = model.generate(**ids, max_new_tokens=20, do_sample=False, pad_token_id=2)
        free.append(tok.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True))
    # a stop string that really occurs in the first answer, past its start
    stop = free[0][4:6]
    assert len(stop) == 2 and stop.strip(), free[0]
    a = adapter(models["gpt2"], spec, max_new_tokens=20, stop=stop.replace("\n", "\\n"))
    for text, resp in zip(free, a.predict(requests), strict=True):
        assert resp.transcript is not None
        assert resp.transcript.completion == text.split(stop)[0]


def _sampled(path: Path, spec: Any, requests: list[Request], **params: Any) -> list[str]:
    out = []
    for resp in adapter(path, spec, max_new_tokens=8, stop="", **params).predict(requests):
        assert resp.transcript is not None and resp.transcript.completion is not None
        out.append(resp.transcript.completion)
    return out


def test_sampling_does_not_depend_on_batch_size_or_order(models: dict[str, Path]) -> None:
    spec, requests = requests_for("qa-en", 6)
    sampled = spec.model_copy(update={"generation": GenerationSpec(temperature=1.0, seed=7)})
    one = _sampled(models["gpt2"], sampled, requests, batch_size=1)
    sixteen = _sampled(models["gpt2"], sampled, requests, batch_size=16)
    assert one == sixteen
    backwards = _sampled(models["gpt2"], sampled, list(reversed(requests)), batch_size=4)
    assert backwards == list(reversed(one))
    other_seed = sampled.model_copy(update={"generation": GenerationSpec(temperature=1.0, seed=8)})
    assert _sampled(models["gpt2"], other_seed, requests, batch_size=16) != one
    assert _sampled(models["gpt2"], spec, requests, batch_size=16) != one  # greedy differs


def test_sort_key_is_the_prompt_token_length(models: dict[str, Path]) -> None:
    spec, requests = requests_for("qa-en", 4)
    a = adapter(models["gpt2"], spec)
    tok = transformers.AutoTokenizer.from_pretrained(models["gpt2"])
    for req in requests:
        assert a.sort_key(req) == len(tok(render(req, spec), add_special_tokens=False)["input_ids"])


def test_sample_units_of_a_bound_protocol_draw_different_answers(models: dict[str, Path]) -> None:
    from bench.protocol import resolve

    spec, requests = requests_for("qa-en", 4)
    task = spec.model_copy(update={"generation": GenerationSpec(temperature=1.0, n=2, seed=3)})
    protocol = resolve(task)
    first, second = (protocol.bind(task, unit) for unit in protocol.units())
    a, b = _sampled(models["gpt2"], first, requests), _sampled(models["gpt2"], second, requests)
    assert a != b
    assert _sampled(models["gpt2"], first, requests, batch_size=1) == a
    base = HFAdapter(str(models["gpt2"]), task="causal", device="cpu")
    assert base.fingerprint(first) != base.fingerprint(second)  # the sample's seed


def test_seeded_sampling_follows_the_model_distribution(models: dict[str, Path]) -> None:
    """One sampled token per request: how often it is the most likely token's text matches the
    probabilities a direct forward pass gives (within 4 standard deviations)."""
    from bench.families.qa import QARequest

    spec = find_task("qa-en").model_copy(
        update={"generation": GenerationSpec(temperature=1.0, seed=11)}
    )
    requests = [
        QARequest(id=str(i), language="en", question=f"What is {i}?", context=sentence)
        for i, sentence in enumerate(tiny_hf.SENTENCES * 5)
    ]
    a = adapter(models["gpt2"], spec, max_new_tokens=1, stop="", batch_size=16)
    responses = a.predict(requests)
    tok = transformers.AutoTokenizer.from_pretrained(models["gpt2"])
    model = transformers.AutoModelForCausalLM.from_pretrained(models["gpt2"]).eval()
    texts = [tok.decode([k], skip_special_tokens=True) for k in range(model.config.vocab_size)]
    hits, mean, var = 0, 0.0, 0.0
    for req, resp in zip(requests, responses, strict=True):
        with torch.no_grad():
            logits = model(**tok(render(req, spec), return_tensors="pt")).logits[0, -1]
        probs = logits.double().softmax(-1)
        top = texts[int(probs.argmax())]
        p = float(sum(probs[k] for k, t in enumerate(texts) if t == top))
        assert resp.transcript is not None
        hits += resp.transcript.completion == top
        mean, var = mean + p, var + p * (1 - p)
    # the check has power: greedy decoding (always the top token) would fail it
    assert len(requests) - mean > 4 * var**0.5, (mean, var)
    assert abs(hits - mean) < 4 * var**0.5, (hits, mean, var)


def test_a_stop_string_never_straddles_the_prompt_end(models: dict[str, Path]) -> None:
    """``generate(stop_strings=...)`` matches across the prompt's end (a chat template's
    final newline and a first generated newline read as ``\\n\\n``); the adapter matches on
    the generated tokens only."""
    spec, requests = requests_for("qa-en", 12)
    tok = transformers.AutoTokenizer.from_pretrained(models["gpt2"])
    model = transformers.AutoModelForCausalLM.from_pretrained(models["gpt2"]).eval()
    for req in requests:  # one whose first generated token is whole characters
        prompt = render(req, spec)
        ids = tok(prompt, return_tensors="pt")
        start = ids["input_ids"].shape[1]
        with torch.no_grad():
            free = model.generate(**ids, max_new_tokens=12, do_sample=False, pad_token_id=2)
        first = tok.decode(free[0, start : start + 1])
        if first.strip() and "\ufffd" not in first:
            break
    else:
        raise AssertionError("no request starts its answer with a whole character")
    text = tok.decode(free[0, start:], skip_special_tokens=True)
    stop = prompt[-1] + text[0]  # half in the prompt, half in the first generated token
    with torch.no_grad():
        straddled = model.generate(
            **ids, max_new_tokens=12, do_sample=False, pad_token_id=2,
            stop_strings=[stop], tokenizer=tok,
        )  # fmt: skip
    assert straddled.shape[1] == start + 1  # transformers' own option stops at once
    a = adapter(models["gpt2"], spec, max_new_tokens=12, stop=stop.replace("\n", "\\n"))
    (resp,) = a.predict([req])
    assert resp.transcript is not None
    assert resp.transcript.completion == text.split(stop)[0]
    assert len(resp.transcript.completion) > len(first)


@pytest.mark.parametrize(
    ("model_id", "chat"),
    [
        ("Qwen/Qwen2.5-0.5B-Instruct", True),
        ("meta-llama/Llama-2-7b-chat-hf", True),
        ("google/gemma-2-2b-it", True),
        ("THUDM/chatglm3-6b", True),
        ("HuggingFaceH4/mistral-7b-sft-beta", True),
        ("./runs/tiny-llama-Instruct/", True),
        ("Qwen/Qwen2.5-0.5B", False),  # a base model, though its tokenizer has a template
        ("gpt2", False),
        ("dbmdz/bert-base-italian-cased", False),
        ("./checkpoints/llama", False),
    ],
)
def test_which_names_mark_an_instruct_model(model_id: str, chat: bool) -> None:
    from bench.adapters.hf import _CHAT_NAME, _model_name

    assert bool(_CHAT_NAME.search(_model_name(model_id))) is chat
