"""Recommendation for language models (issue 15, item 9): item texts in the prompt, the shown
history and candidates as the task declares them, generated rankings parsed back to ids, and
log-likelihood rankings; MovieLens-100K's real titles; a tiny causal model end to end."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.adapters.prompting import render
from bench.catalog import find_task
from bench.errors import TaskSpecError
from bench.families.base import Failure, get_family
from bench.families.recommendation import (
    RankingResponse,
    RecommendationRequest,
    normalize_title,
    parse_ranking,
)
from bench.spec import ScoringSpec, TaskSpec, load_task

ROOT = Path(__file__).resolve().parents[2]
ML100K = ROOT.parent / "shared" / "data" / "movielens-100k" / "ml-100k"
FAMILY = get_family("recommendation")


def _with_options(spec: TaskSpec, **shown: Any) -> TaskSpec:
    options = dict(spec.options or {})
    options["shown"] = {**options.get("shown", {}), **shown}
    return spec.model_copy(update={"options": options})


def _text(row: list[str]) -> str:
    """An item of the smoke table as its task shows it: ``title (genre, genre)``."""
    return f"{row[1]} ({row[3].replace('|', ', ')})"


def _prepare(spec: TaskSpec, limit: int = 5, data: Path | None = None) -> Any:
    return FAMILY.prepare(spec, data_override=data, limit=limit)


# --------------------------------------------------------------------------- prompts


def test_prompt_shows_item_texts_with_the_declared_history_and_candidates() -> None:
    spec = find_task("recommendation-synthetic")
    assert [name for name, _ in spec.prompt_variants()] == ["list", "next-item", "zh"]
    prepared = _prepare(spec)
    items = {
        line.split(",")[0]: line.split(",")
        for line in (ROOT / "bench/builtin/smoke/recommendation-synthetic/items.csv")
        .read_text()
        .splitlines()[1:]
    }
    for req in prepared.requests:
        for name, _ in spec.prompt_variants():
            prompt = render(req, spec.bind_variant(name))
            assert "i0" not in prompt and "i1" not in prompt  # no item ids, only texts
        prompt = render(req, spec.bind_variant("list"))
        history_lines = [ln[2:] for ln in prompt.split("Candidates:")[0].splitlines()[1:] if ln]
        # the 10 most recent history items, oldest first, as "title (genres)"
        assert history_lines == [_text(items[i]) for i in req.history[-10:]]
        # every candidate is shown (candidates: null), numbered, in a shuffled order
        assert sorted(req.shown) == sorted(req.candidates) and req.shown != req.candidates
        numbered = [ln for ln in prompt.splitlines() if ln[:1].isdigit()]
        assert len(numbered) == len(req.candidates)
        assert numbered[0] == f"1. {_text(items[req.shown[0]])}"
    # the shuffle is seeded per user: the same again, for any --limit; another seed differs
    again = _prepare(spec, limit=2)
    assert [r.shown for r in again.requests] == [r.shown for r in prepared.requests[:2]]
    other = _prepare(_with_options(spec, seed=1))
    assert [r.shown for r in other.requests] != [r.shown for r in prepared.requests]
    info = prepared.info
    assert (info["shown_history"], info["shown_candidates"], info["shown_order"]) == (
        10,
        None,
        "shuffled",
    )
    assert info["shown_seed"] == 0
    assert info["item_text"] == "{{ title }} ({{ genres | replace('|', ', ') }})"
    assert info["shown_sha256"] != other.info["shown_sha256"]
    # the scored data is unchanged by the view: candidates and fingerprint stay
    assert other.fingerprint == prepared.fingerprint
    assert other.info["candidates_sha256"] == info["candidates_sha256"]


def test_fewer_candidates_shown_and_the_rest_ranked_after_them() -> None:
    spec = _with_options(find_task("recommendation-synthetic"), candidates=5, order="frozen")
    (req,) = _prepare(spec, limit=1).requests
    assert len(req.shown) == 5 and set(req.shown) <= set(req.candidates)
    positions = [req.candidates.index(i) for i in req.shown]
    assert positions == sorted(positions)  # order: frozen keeps the candidate set's order
    prompt = render(req, spec.bind_variant("list"))
    assert len([ln for ln in prompt.splitlines() if ln[:1].isdigit()]) == 5
    assert FAMILY.answer_choices(req, spec) == req.shown_texts
    resp = FAMILY.from_choice_scores(req, spec, [-3.0, -1.0, -2.0, -1.0, -9.0])
    assert isinstance(resp, RankingResponse)
    shown = req.shown
    assert resp.ranked[:5] == (shown[1], shown[3], shown[2], shown[0], shown[4])
    rest = [i for i in req.candidates if i not in shown]
    assert list(resp.ranked[5:]) == rest and resp.scores is None
    # every candidate shown: scores come with the ranking
    (full,) = _prepare(find_task("recommendation-synthetic"), limit=1).requests
    scores = [float(-k % 7) for k in range(len(full.shown))]
    ranked = FAMILY.from_choice_scores(full, None, scores)
    assert ranked.scores == tuple(sorted(scores, reverse=True))  # type: ignore[attr-defined]
    best = max(range(len(scores)), key=lambda k: (scores[k], -k))
    assert ranked.ranked[0] == full.shown[best]  # type: ignore[attr-defined]


def test_scoring_mode_picks_choices_or_generation() -> None:
    spec = find_task("recommendation-synthetic")
    (req,) = _prepare(spec, limit=1).requests
    assert FAMILY.default_scoring == "loglik"
    assert FAMILY.answer_choices(req, spec) == req.shown_texts
    generate = spec.model_copy(update={"scoring": ScoringSpec(mode="generate")})
    assert FAMILY.answer_choices(req, generate) is None


def test_item_text_names_only_the_item_tables_fields() -> None:
    spec = find_task("recommendation-synthetic")
    with pytest.raises(TaskSpecError, match=r"item_text.*tittle") as err:
        FAMILY.check_spec(_with_options(spec, item_text="{{ tittle }}"))
    assert getattr(err.value, "loc", None) == ("options", "shown", "item_text")
    with pytest.raises(TaskSpecError, match="greater than or equal to 1") as err:
        FAMILY.options(_with_options(spec, history=0))
    assert getattr(err.value, "loc", None) == ("options", "shown", "history")


def test_answer_text_is_the_held_out_items_text() -> None:
    prepared = _prepare(find_task("recommendation-synthetic"), limit=2)
    req, ref = prepared.requests[0], prepared.references[0]
    text = FAMILY.answer_text(req, ref, None)
    assert text == dict(zip(req.shown, req.shown_texts, strict=True))[ref[0]]
    assert not text.startswith("i")


def test_fewshot_exemplars_are_train_histories_answered_by_their_next_item() -> None:
    from bench.fewshot import attach_shots
    from bench.spec import FewshotSpec

    spec = find_task("recommendation-synthetic")
    fewshot = FewshotSpec(k=2, split="train", selector="first")
    bound = spec.bind_variant("list").model_copy(update={"fewshot": fewshot})
    prepared = _prepare(spec, limit=3)
    assert prepared.load_train is not None
    pool = prepared.load_train()
    (req,) = attach_shots(FAMILY, bound, fewshot, 0, prepared.requests[:1], pool)
    assert [s.id for s in req.shots] == [pool[0][0].id, pool[1][0].id]
    prompt = render(req, bound)
    for (example, _), shot in zip(pool[:2], req.shots, strict=True):
        assert isinstance(example, RecommendationRequest)
        history = example.history
        # the exemplar shows its 10 items before the last one, answered by the last one's text
        assert shot.answer == example.next_text != ""
        assert example.shown_history()[0] == history[-11:-1]
        assert example.history_texts[-1] != shot.answer
        rendered = FAMILY.render_prompt(example, bound)
        assert rendered + " " + shot.answer in prompt
    assert prompt.endswith(render(prepared.requests[0], bound))
    # trainable adapters still read every training interaction
    assert pool[0][0].history == prepared.requests[0].history


# --------------------------------------------------------------------------- parsing

_IDS = ["1", "2", "50", "64", "100", "7"]
_TEXTS = [
    "Toy Story (1995)",
    "GoldenEye (1995)",
    "Star Wars (1977)",
    "Shawshank Redemption, The (1994)",
    "Fargo (1996)",
    "2001: A Space Odyssey (1968)",
]


@pytest.mark.parametrize(
    ("answer", "ranked", "unknown", "repeated"),
    [
        ("Fargo (1996)\nToy Story (1995)", ("100", "1"), 0, 0),  # exact texts
        ("  fargo 1996!!\nTOY STORY (1995).", ("100", "1"), 0, 0),  # case and punctuation
        ("1. The Shawshank Redemption (1994)\n2) Star Wars\n3. GoldenEye", ("64", "50", "2"), 0, 0),
        ("- Toy Story (1995) - a classic\n- Fargo", ("1", "100"), 0, 0),  # text plus more
        ("1. Fargo (1969)\n2. Star Warz (1977)", ("100", "50"), 0, 0),  # fuzzy (difflib)
        ("64\n100\n1", ("64", "100", "1"), 0, 0),  # ids
        ("1. 64\n2. 2", ("64", "2"), 0, 0),  # numbered ids
        ("I'd pick Star Wars (1977) and then Fargo (1996).", ("50", "100"), 0, 0),  # a sentence
        ("Toy Story (1995); Fargo (1996)", ("1", "100"), 0, 0),  # one line, separated
        ("1. Casablanca (1942)\n2. Fargo\n3. Heat", ("100",), 2, 0),  # unknown entries
        ("1. Fargo\n2. Toy Story\n3. fargo (1996)", ("100", "1"), 0, 1),  # repeats
        ("Here is my ranking:\n1. Fargo", ("100",), 0, 0),  # a preamble is ignored
        ("2001: A Space Odyssey (1968)\n1. Fargo", ("7", "100"), 0, 0),  # not a marker
        ("I cannot rank these.", (), 0, 0),  # nothing parsable
        ("1. Casablanca\n2. Heat", (), 2, 0),
    ],
)
def test_parse_ranking_table(
    answer: str, ranked: tuple[str, ...], unknown: int, repeated: int
) -> None:
    got, note = parse_ranking(answer, _IDS, _TEXTS)
    assert got == ranked
    assert (note.named, note.unknown, note.repeated) == (len(ranked), unknown, repeated)


def test_normalize_title_moves_the_article_and_folds() -> None:
    assert normalize_title("Shawshank Redemption, The (1994)") == "the shawshank redemption 1994"
    assert normalize_title("ＴＯＹ　Story!") == "toy story"  # NFKC full-width letters
    assert normalize_title("Léon, Le") == "le léon"


def test_parse_answer_completes_the_ranking_or_fails_unparsable() -> None:
    req = RecommendationRequest(
        id="u",
        language="en",
        user="u",
        history=("1",),
        candidates=tuple(_IDS[:5]),
        shown=("100", "64", "50", "2", "1"),
        shown_texts=(_TEXTS[4], _TEXTS[3], _TEXTS[2], _TEXTS[1], _TEXTS[0]),
    )
    resp = FAMILY.parse_answer("1. Toy Story\n2. Casablanca\n3. Toy Story (1995)", req, None)
    assert isinstance(resp, RankingResponse)
    # the named one first, then the unnamed shown ones in shown order
    assert resp.ranked == ("1", "100", "64", "50", "2")
    assert resp.parse is not None and (resp.parse.unknown, resp.parse.repeated) == (1, 1)
    assert json.loads(resp.model_dump_json())["parse"] == {"named": 1, "unknown": 1, "repeated": 1}
    failed = FAMILY.parse_answer("No idea, sorry.", req, None)
    assert isinstance(failed, Failure) and failed.cause == "unparsable"
    assert "No idea" in failed.message
    # a response without a parse note dumps as before (baselines' caches unchanged)
    assert "parse" not in RankingResponse(ranked=("1",)).model_dump()
    bare = RecommendationRequest(id="u", language="en", user="u", history=(), candidates=("a",))
    assert set(bare.model_dump()) == {"id", "language", "shots", "user", "history",
                                      "history_titles", "candidates"}  # fmt: skip


# --------------------------------------------------------------------------- MovieLens-100K


@pytest.mark.skipif(not ML100K.is_dir(), reason="shared/data/movielens-100k is not here")
def test_movielens_titles_load_as_latin1_with_genres() -> None:
    spec = find_task("movielens-100k")
    genres_spec = _with_options(spec, item_text="{{ title }} ({{ genres }})")
    FAMILY.check_spec(genres_spec)
    prepared = _prepare(genres_spec, limit=3, data=ML100K)
    texts = {i: t for r in prepared.requests for i, t in zip(r.shown, r.shown_texts, strict=True)}
    texts.update(
        (i, t)
        for r in prepared.requests
        for i, t in zip(r.history[-len(r.history_texts) :], r.history_texts, strict=True)
    )
    assert texts["64"] == "Shawshank Redemption, The (1994) (Drama)"
    assert texts["1"] == "Toy Story (1995) (Animation, Children's, Comedy)"
    # Latin-1 titles decode (u.item line 1633: "Á köldum klaka (Cold Fever) (1994)")
    assert texts["1633"].startswith("Á köldum klaka")
    # the task's own view: 20 most recent, titles only, every unseen movie a candidate
    (req,) = _prepare(spec, limit=1, data=ML100K).requests
    assert len(req.history_texts) == min(20, len(req.history))
    assert req.shown == req.candidates and len(req.candidates) > 1000
    texts_by_id = dict(zip(req.shown, req.shown_texts, strict=True))
    ranked, _ = parse_ranking(
        "1. The Shawshank Redemption\n2. Star Wars (1977)", req.shown, req.shown_texts
    )
    wanted = [i for i in ("64", "50") if i in texts_by_id]
    assert list(ranked) == wanted
    prompt = render(req, spec.bind_variant("watched"))
    assert prompt.count("\n- ") == len(req.history_texts) and "(19" in prompt


# --------------------------------------------------------------------------- end to end

_HERE = Path(__file__).resolve().parent / "adapters"


def _tiny_hf() -> Any:
    if "tiny_hf" in sys.modules:
        return sys.modules["tiny_hf"]
    spec = importlib.util.spec_from_file_location("tiny_hf", _HERE / "tiny_hf.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["tiny_hf"] = module
    spec.loader.exec_module(module)
    return module


_TASK = """\
name: rec-tiny
version: 1
family: recommendation
languages: [en]
description: A tiny interaction log with titled items, for the end-to-end test.
source:
  kind: local
  location: data
  format: csv
  files: {{all: interactions.csv, items: items.csv}}
  splits: {{test: all}}
  fields: {{user: user_id, item: item_id, timestamp: timestamp}}
options:
  protocol: leave-last-out
  candidates: sampled
  negatives: 3
  seed: 7
  items: {{file: items, format: csv, fields: {{item: item_id, title: title, genres: genres}}}}
  shown: {{history: 3, item_text: "{{{{ title }}}} ({{{{ genres }}}})"}}
preprocess: []
{scoring}
metrics:
  - hit_rate: {{k: [1, 3]}}
  - mrr
primary_metric: mrr
"""


def _tiny_task(root: Path, scoring: str) -> TaskSpec:
    data = root / "data"
    data.mkdir(parents=True)
    titles = ["Red River", "Blue Moon", "Green Field", "Dark Night", "Sunny Day", "Cold Rain"]
    genres = ["Drama", "Comedy", "Drama", "Thriller", "Comedy", "Drama"]
    (data / "items.csv").write_text(
        "item_id,title,genres\n"
        + "".join(f"m{k},{t},{g}\n" for k, (t, g) in enumerate(zip(titles, genres, strict=True)))
    )
    rows = ["user_id,item_id,timestamp"]
    for u in range(4):
        for t, item in enumerate([(u + j) % 6 for j in range(3)]):
            rows.append(f"u{u},m{item},{t}")
    (data / "interactions.csv").write_text("\n".join(rows) + "\n")
    path = root / "rec-tiny.yaml"
    path.write_text(_TASK.format(scoring=scoring))
    return load_task(path)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["loglik", "generate"])
def test_tiny_causal_model_end_to_end(tmp_path: Path, mode: str) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from bench.adapters.base import parse_model_spec
    from bench.metrics.base import BootstrapConfig
    from bench.runner import RunConfig, run_plan

    model = _tiny_hf().causal_model(tmp_path / "model", arch="gpt2")
    scoring = "scoring: {mode: generate}" if mode == "generate" else ""
    spec = _tiny_task(tmp_path / "task", scoring)
    # a random tiny model may name no candidate at all: recorded anyway, its failures counted
    config = RunConfig(
        results=tmp_path / "results", bootstrap=BootstrapConfig(resamples=0), max_failures=4
    )
    (outcome,) = run_plan(
        [parse_model_spec(f"hf:{model},task=causal,max_new_tokens=12")], [spec], config
    )
    record = outcome.record
    assert record is not None, outcome
    assert record.task.protocol is not None
    assert record.task.protocol["shown_history"] == 3
    assert record.task.protocol["item_text"] == "{{ title }} ({{ genres }})"
    samples = [
        json.loads(line)
        for line in (Path(outcome.record_path).parent / "samples.jsonl").read_text().splitlines()
    ]
    assert len(samples) == 4
    if mode == "loglik":
        import torch
        import transformers

        assert record.failures.count == 0
        tok = transformers.AutoTokenizer.from_pretrained(model)
        lm = transformers.AutoModelForCausalLM.from_pretrained(model).eval()
        requests = {r.id: r for r in FAMILY.prepare(spec, data_override=None, limit=None).requests}
        for sample in samples:
            response = sample["response"]
            assert len(response["ranked"]) == 4 and len(response["scores"]) == 4
            assert response["scores"] == sorted(response["scores"], reverse=True)
            req = requests[sample["id"]]
            prompt = render(req, spec)  # the family's default prompt: texts, not ids
            assert "- " + req.history_texts[-1] in prompt and "m0" not in prompt
            texts = dict(zip(req.shown, req.shown_texts, strict=True))
            ctx = tok(prompt)["input_ids"]
            for item, score in zip(response["ranked"], response["scores"], strict=True):
                whole = tok(prompt + " " + texts[item])["input_ids"]
                assert whole[: len(ctx)] == ctx
                with torch.no_grad():
                    logits = lm(torch.tensor([whole])).logits[0].float().log_softmax(-1)
                direct = sum(float(logits[t - 1, whole[t]]) for t in range(len(ctx), len(whole)))
                assert score == pytest.approx(direct, rel=1e-6)  # float32 sums
    else:
        # a random tiny model names no candidate: each such answer is a counted failure
        parsed = [s for s in samples if s["response"] is not None]
        unparsable = [s for s in samples if (s["failure"] or "").startswith("unparsable")]
        assert len(parsed) + len(unparsable) == 4
        assert record.failures.count == len(unparsable)
        assert set(record.failures.by_kind or {}) <= {"unparsable"}
        for sample in unparsable:
            assert sample["failure"].startswith("unparsable: the answer names no candidate")
        for sample in parsed:
            assert sample["response"]["parse"]["named"] >= 1
    assert 0.0 <= record.metrics["mrr"].value <= 1.0


def _openai_server() -> Any:
    path = ROOT / "tests" / "fixtures" / "openai_server.py"
    spec = importlib.util.spec_from_file_location("rec_openai_server", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["rec_openai_server"] = module
    spec.loader.exec_module(module)
    return module


def test_a_chat_endpoints_ranked_titles_parse_back_to_the_shown_ids() -> None:
    from bench.adapters.openai import OpenAIAdapter

    server_module = _openai_server()
    # a chat endpoint generates: the ranking is parsed back from text
    spec = find_task("recommendation-synthetic")
    spec = spec.model_copy(update={"scoring": ScoringSpec(mode="generate")})
    requests = list(_prepare(spec, limit=3).requests)
    with server_module.OpenAIServer() as server:
        adapter = OpenAIAdapter(
            "test-model",
            base_url=server.base_url,
            backoff=0.0,
            api_key_env="BENCH_TEST_NO_SUCH_KEY",
            max_tokens=4096,  # the whole ranking (the default, 128 tokens, cuts it)
        )
        for name, _ in spec.prompt_variants():
            bound = spec.bind_variant(name)
            responses = adapter.for_task(bound, FAMILY).predict(requests)
            for req, resp in zip(requests, responses, strict=True):
                # the server answers the numbered texts in reverse: every one parses back
                assert isinstance(resp, RankingResponse), resp
                assert resp.ranked == tuple(reversed(req.shown))
                assert resp.parse is not None and resp.parse.named == len(req.shown)
                assert (resp.parse.unknown, resp.parse.repeated) == (0, 0)
