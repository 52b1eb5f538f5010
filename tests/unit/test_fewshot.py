"""Few-shot exemplar selection (bench/fewshot.py) on the real smoke tasks' train splits, the
families' answer texts, and how prompting renders the shots (inline and as chat turns)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from bench.adapters import prompting
from bench.errors import TaskSpecError
from bench.families.base import Family, Request, get_family
from bench.families.qa import QARequest
from bench.families.sentiment import SentimentRequest
from bench.families.summarization import SummarizationRequest
from bench.fewshot import attach_shots, bm25_rankings, fewshot_hash, request_words
from bench.preprocess.segmenter import jieba_words
from bench.runner import RunConfig
from bench.spec import FewshotSpec, PromptSpec, TaskSpec, load_task
from bench.stages import prepare

ROOT = Path(__file__).resolve().parents[2]
TASKS = ROOT / "tasks" / "smoke"

Pool = list[tuple[Request, Any]]
Loaded = tuple[TaskSpec, Family, list[Request], Pool]


def _load(name: str, tmp: Path) -> Loaded:
    task = load_task(TASKS / f"{name}.yaml").bind_variant("default")
    prepared = prepare(
        task, RunConfig(results=tmp / "results", cache=tmp / "cache.sqlite"), want_train=True
    )
    assert prepared.load_train is not None
    return task, get_family(task.family), list(prepared.requests), prepared.load_train()


@pytest.fixture(scope="module")
def sent_en(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    return _load("sentiment-en", tmp_path_factory.mktemp("sent-en"))


@pytest.fixture(scope="module")
def sent_zh(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    return _load("sentiment-zh", tmp_path_factory.mktemp("sent-zh"))


@pytest.fixture(scope="module")
def trans(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    return _load("translation-zh-en", tmp_path_factory.mktemp("trans"))


def ids(requests: list[Request]) -> list[list[str]]:
    return [[s.id for s in r.shots] for r in requests]


def sha_order(pool: Pool, seed: int) -> list[str]:
    """The documented random order, computed here directly: SHA-256 of JSON [seed, id]."""

    def key(pid: str) -> str:
        return hashlib.sha256(json.dumps([seed, pid], ensure_ascii=False).encode()).hexdigest()

    return sorted((q.id for q, _ in pool), key=key)


# --------------------------------------------------------------------------- first / random


def test_first_takes_the_pool_order(sent_en: Loaded) -> None:
    task, family, tests, pool = sent_en
    out = attach_shots(family, task, FewshotSpec(k=3), 0, tests[:4], pool)
    assert ids(out) == [[q.id for q, _ in pool[:3]]] * 4
    assert [r.id for r in out] == [r.id for r in tests[:4]]  # same requests, same order
    assert out[0].shots[0].answer == "negative"  # en-train-0001 is negative (its verbaliser)


def test_random_is_the_documented_sha256_order_and_frozen(sent_en: Loaded) -> None:
    task, family, tests, pool = sent_en
    fs = FewshotSpec(k=4, selector="random", seed=7)
    first = attach_shots(family, task, fs, 0, tests, pool)
    again = attach_shots(family, task, fs, 0, list(reversed(tests)), pool)
    alone = attach_shots(family, task, fs, 0, tests[5:6], pool)
    assert ids(first) == [sha_order(pool, 7)[:4]] * len(tests)
    assert ids(first) == list(reversed(ids(again)))  # order / batch of the tests is irrelevant
    assert ids(alone) == ids(first)[5:6]
    assert sha_order(pool, 7)[:4] != [q.id for q, _ in pool[:4]]


def test_random_and_balanced_same_in_a_fresh_process(sent_en: Loaded, tmp_path: Path) -> None:
    task, family, tests, pool = sent_en
    script = textwrap.dedent(
        f"""
        import json, sys
        from pathlib import Path
        from bench.families.base import get_family
        from bench.fewshot import attach_shots
        from bench.runner import RunConfig
        from bench.spec import FewshotSpec, load_task
        from bench.stages import prepare
        tmp = Path(sys.argv[1])
        task = load_task(Path({str(TASKS / "sentiment-en.yaml")!r}))
        p = prepare(task, RunConfig(results=tmp / "r", cache=tmp / "c.sqlite"), want_train=True)
        pool, fam = p.load_train(), get_family(task.family)
        out = {{}}
        for sel in ("random", "balanced"):
            fs = FewshotSpec(k=2, selector=sel, seed=99, draws=2)
            out[sel] = [[s.id for s in r.shots]
                        for r in attach_shots(fam, task, fs, 1, p.requests[:3], pool)]
        print(json.dumps(out))
        """
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # a different hash() seed changes nothing
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=True,
    )
    theirs = json.loads(done.stdout.strip().splitlines()[-1])
    for sel in ("random", "balanced"):
        fs = FewshotSpec(k=2, selector=sel, seed=99, draws=2)
        assert theirs[sel] == ids(attach_shots(family, task, fs, 1, tests[:3], pool))


def test_draws_give_different_sets(sent_en: Loaded) -> None:
    task, family, tests, pool = sent_en
    for sel in ("random", "balanced", "bm25"):
        fs = FewshotSpec(k=3, selector=sel, draws=3)
        sets = [ids(attach_shots(family, task, fs, d, tests[:5], pool)) for d in range(3)]
        for d in (1, 2):
            assert sets[d] != sets[0], sel
    # random draw r is seed + r: draw 1 of seed 1234 is draw 0 of seed 1235
    one = attach_shots(family, task, FewshotSpec(k=3, selector="random", draws=2), 1, tests, pool)
    other = attach_shots(
        family, task, FewshotSpec(k=3, selector="random", seed=1235), 0, tests, pool
    )
    assert ids(one) == ids(other)


# --------------------------------------------------------------------------- bm25


def lexical(tokens: Any) -> list[str]:
    return [t.lower() for t in tokens if any(c.isalnum() for c in t)]


def direct_top(pool_tokens: list[list[str]], query: list[str], k: int) -> list[int]:
    scores = BM25Okapi(pool_tokens).get_scores(query)
    return np.argsort(-scores, kind="stable")[:k].tolist()


def test_bm25_english_agrees_with_rank_bm25_and_is_lexical(sent_en: Loaded) -> None:
    task, family, tests, pool = sent_en
    # the task's tokenising step gave every request tokens: those, lowercased, sans punctuation
    words = [lexical(q.tokens) for q, _ in pool]  # type: ignore[attr-defined]
    out = attach_shots(family, task, FewshotSpec(k=3, selector="bm25"), 0, tests[:12], pool)
    for req in out:
        query = lexical(req.tokens)  # type: ignore[attr-defined]
        assert [s.id for s in req.shots] == [pool[i][0].id for i in direct_top(words, query, 3)]
    probe = SentimentRequest(
        id="probe",
        language="en",
        text="Ink cartridges for this printer cost a fortune.",
        labels=("negative", "positive"),
    )  # no tokens: lowercased \w+ words
    assert request_words(family, probe) == re.findall(r"\w+", probe.text.lower())
    (got,) = attach_shots(family, task, FewshotSpec(k=2, selector="bm25"), 0, [probe], pool)
    assert [s.id for s in got.shots] == ["en-train-0002", "en-train-0136"]  # the printer ones


def test_bm25_chinese_uses_the_segmenters_tokens_or_jieba(sent_zh: Loaded) -> None:
    task, family, tests, pool = sent_zh
    tokens = [lexical(q.tokens) for q, _ in pool]  # type: ignore[attr-defined]
    out = attach_shots(family, task, FewshotSpec(k=2, selector="bm25"), 0, tests[:10], pool)
    for req in out:
        query = lexical(req.tokens)  # type: ignore[attr-defined]
        assert [s.id for s in req.shots] == [pool[i][0].id for i in direct_top(tokens, query, 2)]
    # no tokens on the request (no segmenting step): bench's jieba words of the text
    probe = SentimentRequest(
        id="probe", language="zh", text="这台手机发烫，看短视频也烫手", labels=task.labels or ()
    )
    assert request_words(family, probe) == [w for w in jieba_words(probe.text) if w != "，"]
    (got,) = attach_shots(family, task, FewshotSpec(k=1, selector="bm25"), 0, [probe], pool)
    assert [s.id for s in got.shots] == ["zh-train-0096"]  # 手机发烫严重，刷个短视频都烫手。
    assert got.shots[0].answer == "负面"


def test_bm25_windows_per_draw(trans: Loaded) -> None:
    task, family, tests, pool = trans
    fs = FewshotSpec(k=2, selector="bm25", draws=3)
    deep = bm25_rankings(
        [request_words(family, q) for q, _ in pool],
        [request_words(family, r) for r in tests[:6]],
        6,
    )
    for d in range(3):
        out = attach_shots(family, task, fs, d, tests[:6], pool)
        expected = [[pool[i][0].id for i in row[2 * d : 2 * d + 2]] for row in deep]
        assert ids(out) == expected
    assert out[0].shots[0].answer == pool[deep[0][4]][1][0]  # the reference translation


def test_bm25_rankings_equal_get_scores() -> None:
    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(800)]
    pool = [[vocab[j] for j in row] for row in rng.zipf(1.3, size=(2000, 30)) % 800]
    queries = [[vocab[j] for j in row] for row in rng.zipf(1.3, size=(600, 15)) % 800]
    queries[0] = ["w1", "w1", "unseen"]  # repeated and unknown words count as get_scores does
    queries[1] = []  # no words: every score 0, pool order
    got = bm25_rankings(pool, queries, 10)
    assert got.shape == (600, 10)
    assert got[1].tolist() == list(range(10))
    model = BM25Okapi(pool)
    for i in (0, 2, 300, 513, 599):  # 513: in the second block of 512 queries
        expected = np.argsort(-model.get_scores(queries[i]), kind="stable")[:10]
        assert got[i].tolist() == expected.tolist()


def test_bm25_selects_for_1000_tests_from_5000_in_seconds(sent_en: Loaded) -> None:
    task, family, _, _ = sent_en
    rng = np.random.default_rng(1)
    vocab = [f"word{i}" for i in range(3000)]

    def request(i: int, n: int) -> SentimentRequest:
        text = " ".join(vocab[j] for j in rng.zipf(1.3, size=n) % 3000)
        return SentimentRequest(id=f"r{i}", language="en", text=text, labels=("a", "b"))

    pool: Pool = [(request(i, 30), "negative") for i in range(5000)]
    tests = [request(10_000 + i, 15) for i in range(1000)]
    start = time.perf_counter()
    out = attach_shots(family, task, FewshotSpec(k=5, selector="bm25"), 0, tests, pool)
    elapsed = time.perf_counter() - start
    assert all(len(r.shots) == 5 for r in out)
    assert elapsed < 20, elapsed  # about 2.5 s on one free core


# --------------------------------------------------------------------------- exclusion, sizes


def test_an_exemplar_equal_to_the_test_example_is_never_used(sent_en: Loaded) -> None:
    task, family, _, pool = sent_en
    same = [pool[0][0], pool[1][0].model_copy(update={"id": "renamed"})]  # same content
    out = attach_shots(family, task, FewshotSpec(k=2), 0, same, pool)
    assert ids(out) == [[pool[1][0].id, pool[2][0].id], [pool[0][0].id, pool[2][0].id]]
    first_random = sha_order(pool, 1234)[0]
    me = next(q for q, _ in pool if q.id == first_random)
    (got,) = attach_shots(family, task, FewshotSpec(k=2, selector="random"), 0, [me], pool)
    assert ids([got]) == [sha_order(pool, 1234)[1:3]]
    (got,) = attach_shots(family, task, FewshotSpec(k=2, selector="bm25"), 0, [pool[5][0]], pool)
    assert pool[5][0].id not in ids([got])[0] and len(got.shots) == 2
    (got,) = attach_shots(family, task, FewshotSpec(k=2, selector="balanced"), 0, [me], pool)
    assert me.id not in ids([got])[0] and len(got.shots) == 4


def test_a_pool_smaller_than_k_is_a_task_error(sent_en: Loaded) -> None:
    task, family, tests, pool = sent_en
    with pytest.raises(TaskSpecError) as exc:
        attach_shots(family, task, FewshotSpec(k=3), 0, [pool[0][0]], pool[:3])
    text = str(exc.value)
    assert "fewshot.k is 3" in text and "only 2 exemplars" in text and "of 3 pool" in text
    assert "split 'train'" in text and "fix: lower fewshot.k" in text
    with pytest.raises(TaskSpecError, match="draw 2"):
        attach_shots(
            family, task, FewshotSpec(k=2, selector="bm25", draws=3), 2, tests[:1], pool[:5]
        )


# --------------------------------------------------------------------------- balanced, fixed


def test_balanced_has_k_per_label_interleaved(sent_en: Loaded) -> None:
    task, family, tests, pool = sent_en
    label = {q.id: ref for q, ref in pool}
    out = attach_shots(
        family, task, FewshotSpec(k=3, selector="balanced", seed=5), 0, tests[:3], pool
    )
    order = sha_order(pool, 5)
    for req in out:
        got = [s.id for s in req.shots]
        assert Counter(label[i] for i in got) == {"negative": 3, "positive": 3}
        assert got == sorted(got, key=order.index)  # shown in the random order, not by label
        for lab in ("negative", "positive"):
            assert [i for i in got if label[i] == lab] == [i for i in order if label[i] == lab][:3]
        assert [s.answer for s in req.shots] == [label[i] for i in got]


def test_balanced_needs_labels(trans: Loaded) -> None:
    task, family, tests, pool = trans
    with pytest.raises(TaskSpecError, match="no labels") as exc:
        attach_shots(family, task, FewshotSpec(k=1, selector="balanced"), 0, tests[:1], pool)
    assert exc.value.loc == ("fewshot", "selector")  # type: ignore[attr-defined]


def test_fixed_keeps_the_listed_order_and_spares(sent_en: Loaded) -> None:
    task, family, tests, pool = sent_en
    chosen = ["en-train-0010", "en-train-0003", "en-train-0007"]
    fs = FewshotSpec(k=2, selector="fixed", ids=chosen)
    assert ids(attach_shots(family, task, fs, 0, tests[:2], pool)) == [chosen[:2]] * 2
    me = next(q for q, _ in pool if q.id == "en-train-0003")
    assert ids(attach_shots(family, task, fs, 0, [me], pool)) == [
        ["en-train-0010", "en-train-0007"]
    ]
    with pytest.raises(TaskSpecError, match="only 1 exemplars"):
        attach_shots(family, task, fs.model_copy(update={"ids": chosen[:2]}), 0, [me], pool)


def test_fixed_unknown_id_names_the_field(sent_en: Loaded) -> None:
    task, family, tests, pool = sent_en
    fs = FewshotSpec(k=1, selector="fixed", ids=["en-train-0001", "en-train-001"])
    with pytest.raises(TaskSpecError) as exc:
        attach_shots(family, task, fs, 0, tests[:1], pool)
    text = str(exc.value)
    assert "fewshot.ids [1] is 'en-train-001'" in text and "did you mean 'en-train-0" in text
    assert exc.value.loc == ("fewshot", "ids")  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- answers, hash


def test_answer_text_per_family(sent_zh: Loaded, trans: Loaded) -> None:
    task, family, _, pool = sent_zh
    req, ref = pool[0]
    assert family.answer_text(req, ref, task) == "负面"
    other = task.model_copy(
        update={"prompt": PromptSpec(template="{{ text }}", verbalizers={"negative": "差评"})}
    )
    assert family.answer_text(req, ref, other) == "差评"  # the bound variant's verbaliser
    t_task, t_family, _, t_pool = trans
    assert t_family.answer_text(t_pool[1][0], t_pool[1][1], t_task) == (
        "Downloading this file takes ten minutes."
    )
    summ = get_family("summarization")
    doc = SummarizationRequest(id="d", language="en", document="A long text.")
    assert summ.answer_text(doc, ("First summary.", "Second."), None) == "First summary."
    qa = get_family("qa")
    q = QARequest(id="q", language="en", question="Where?", context="In Paris.")
    assert qa.answer_text(q, ("Paris", "in Paris"), None) == "Paris"
    assert qa.answer_text(q, (), None) == "unanswerable"


def test_fewshot_hash_over_every_unit(sent_en: Loaded) -> None:
    task, family, tests, pool = sent_en
    fs = FewshotSpec(k=2, selector="random", draws=2)
    units = [attach_shots(family, task, fs, d, tests[:4], pool) for d in range(2)]
    whole = fewshot_hash(units)
    assert whole == fewshot_hash([*units[0], *units[1]])
    assert whole != fewshot_hash(units[0]) and whole != fewshot_hash([units[1], units[0]])
    assert fewshot_hash(tests[:4]) is None


# --------------------------------------------------------------------------- rendering


def _two_shots(sent_en: Loaded) -> tuple[TaskSpec, Request]:
    task, family, _, pool = sent_en
    spec = task.model_copy(
        update={
            "prompt": PromptSpec(
                template="Review: {{ text }}\nSentiment:",
                system="Be brief.",
                verbalizers={"negative": "bad", "positive": "good"},
            )
        }
    )
    test = SentimentRequest(id="t", language="en", text="Fine.", labels=("negative", "positive"))
    fs = FewshotSpec(k=2, selector="fixed", ids=["en-train-0003", "en-train-0009"])
    (req,) = attach_shots(family, spec.model_copy(update={"fewshot": fs}), fs, 0, [test], pool)
    return spec.model_copy(update={"fewshot": fs}), req


def test_render_inline_shots_exactly(sent_en: Loaded) -> None:
    spec, req = _two_shots(sent_en)
    pool = {q.id: q for q, _ in sent_en[3]}
    t3, t9 = pool["en-train-0003"].text, pool["en-train-0009"].text  # type: ignore[attr-defined]
    label9 = dict((q.id, ref) for q, ref in sent_en[3])["en-train-0009"]
    word9 = {"negative": "bad", "positive": "good"}[label9]
    expected = (
        f"Review: {t3}\nSentiment: bad\n\nReview: {t9}\nSentiment: {word9}\n\n"
        "Review: Fine.\nSentiment:"
    )
    assert prompting.render(req, spec) == expected  # no system prompt in the text
    semi = spec.model_copy(
        update={"fewshot": spec.fewshot.model_copy(update={"separator": "\n###\n"})}
    )  # type: ignore[union-attr]
    assert prompting.render(req, semi) == expected.replace("\n\nReview", "\n###\nReview")
    assert prompting.messages(req, spec) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": expected},
    ]


def test_messages_multiturn_shape(sent_en: Loaded) -> None:
    spec, req = _two_shots(sent_en)
    multi = spec.model_copy(
        update={"fewshot": spec.fewshot.model_copy(update={"as_multiturn": True})}
    )  # type: ignore[union-attr]
    msgs = prompting.messages(req, multi)
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert msgs[1]["content"].startswith("Review: ") and msgs[1]["content"].endswith("Sentiment:")
    assert msgs[2]["content"] == "bad"  # the answer alone, no delimiter
    assert msgs[5]["content"] == "Review: Fine.\nSentiment:"
