"""ROUGE metrics, cross-checked against rouge-score called directly.

English pairs are real: the FRANK subset of CNN/DailyMail (``../shared/data/cnn-dailymail``),
BART's system summaries against their reference highlights. Chinese pairs come from the CSL
title set (``../shared/data/csl-title-summarization``). Beyond agreeing with rouge-score, the
tests pin bench's own choices: sentence splitting for ROUGE-Lsum, best-of-several references,
failed examples as misses, the bootstrap, the tokenizers, parallel scoring and signatures.
"""

from __future__ import annotations

import csv
import json
import math
import pickle
import re
from importlib import metadata
from pathlib import Path
from typing import Any

import nltk
import numpy as np
import pytest
from rouge_score.rouge_scorer import RougeScorer

from bench.errors import DataError, TaskSpecError
from bench.families.generation import TextResponse
from bench.families.summarization import SummarizationRequest
from bench.metrics import rouge as rouge_module
from bench.metrics.base import BootstrapConfig, ScoringContext, score_task
from bench.metrics.rouge import (
    CharTokenizer,
    JiebaTokenizer,
    Rouge1,
    Rouge2,
    RougeL,
    RougeLsum,
    rouge_scores,
)
from bench.preprocess.resources import jieba_status
from bench.spec import TaskSpec, parse_task

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
FRANK = DATA / "cnn-dailymail" / "frank-test-subset" / "cnndm_test_frank_subset.jsonl"
CSL = DATA / "csl-title-summarization" / "ts" / "dev.tsv"
TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
ALL = [Rouge1(), Rouge2(), RougeL(), RougeLsum()]
RS_VERSION = metadata.version("rouge-score")

_TASK = """\
name: rouge-test-{lang}
version: 1
family: summarization
languages: [{lang}]
description: Carries a language and metric list for ROUGE tests.
source:
  kind: builtin
  location: smoke/summarization-{src}
  format: jsonl
  files: {{test: test.jsonl}}
  splits: {{test: test}}
  fields: {{id: id, document: document, references: summary}}
metrics: {metrics}
primary_metric: rouge1
"""


def make_spec(lang: str = "en", metrics: str = "[rouge1, rouge2, rougeL, rougeLsum]") -> TaskSpec:
    src = "zh" if lang.startswith("zh") else "en"
    return parse_task(_TASK.format(lang=lang, src=src, metrics=metrics))


def make_ctx(
    predictions: list[str | None],
    references: list[tuple[str, ...]],
    lang: str = "en",
    *,
    metrics: str = "[rouge1, rouge2, rougeL, rougeLsum]",
    bootstrap: BootstrapConfig | None = None,
) -> ScoringContext:
    spec = make_spec(lang, metrics)
    requests = [
        SummarizationRequest(id=str(i), language=spec.language, document="d")
        for i in range(len(references))
    ]
    return ScoringContext(
        spec=spec,
        requests=requests,
        references=list(references),
        responses=[None if p is None else TextResponse(text=p) for p in predictions],
        bootstrap=bootstrap or BootstrapConfig(resamples=0),
    )


def values(ctx: ScoringContext, metrics: list[Any] = ALL) -> dict[str, Any]:
    return score_task(ctx, metrics)[0]


@pytest.fixture(scope="module")
def frank() -> tuple[list[str], list[tuple[str, ...]]]:
    rows = [json.loads(line) for line in FRANK.read_text(encoding="utf-8").splitlines()]
    return [r["bart"] for r in rows], [(r["bart_reference"],) for r in rows]


@pytest.fixture(scope="module")
def csl() -> tuple[list[str], list[tuple[str, ...]]]:
    with CSL.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    rows = rows[:200]
    # The abstract's first clause as the "summary", the title as the reference.
    return [re.split(r"[。.；;，,]", r[1])[0] for r in rows], [(r[2],) for r in rows]


# --------------------------------------------------------------------------- English


def test_english_with_stemmer_equals_rouge_score(frank, nltk_data) -> None:
    preds, refs = frank
    ctx = make_ctx(preds, refs)
    got = values(ctx)
    per = score_task(ctx, ALL)[2]
    # rouge-score as it is used in the wild: Porter stemmer, NLTK sentences for rougeLsum.
    scorer = RougeScorer(TYPES, use_stemmer=True, split_summaries=True)
    direct = [scorer.score(r[0], p) for p, r in zip(preds, refs, strict=True)]
    for t in TYPES:
        expected = np.array([d[t].fmeasure for d in direct])
        assert [row[t] for row in per] == expected.tolist()
        assert got[t].value == pytest.approx(expected.mean(), abs=1e-12)
        assert got[t].n == len(preds)
    assert 0.3 < got["rouge1"].value < 0.6  # a sane number for BART on CNN/DM


def test_stemmer_default_is_on_for_english_only(frank) -> None:
    preds, refs = frank
    preds, refs = preds[:40], refs[:40]
    stemmed = values(make_ctx(preds, refs), [Rouge1()])["rouge1"].value
    plain = values(make_ctx(preds, refs), [Rouge1(stemmer=False)])["rouge1"].value
    direct = RougeScorer(["rouge1"], use_stemmer=False)
    expected = np.mean(
        [direct.score(r[0], p)["rouge1"].fmeasure for p, r in zip(preds, refs, strict=True)]
    )
    assert plain == pytest.approx(expected, abs=1e-12)
    assert stemmed > plain
    assert rouge_module._resolve_stemmer(None, "en") is True
    assert rouge_module._resolve_stemmer(None, "zh") is False
    assert rouge_module._resolve_stemmer(None, "de") is False
    assert rouge_module._resolve_stemmer(None, "en-GB") is True
    assert rouge_module._resolve_stemmer(None, "eng") is False


def test_prf_report_matches_rouge_score(frank) -> None:
    preds, refs = frank
    preds, refs = preds[:30], refs[:30]
    ctx = make_ctx(preds, refs)
    got = values(ctx, [RougeL(report="prf")])
    per = score_task(ctx, [RougeL(report="prf")])[2]
    direct = [
        RougeScorer(["rougeL"], use_stemmer=True).score(r[0], p)["rougeL"]
        for p, r in zip(preds, refs, strict=True)
    ]
    assert set(got) == {"rougeL", "rougeL/precision", "rougeL/recall"}
    assert got["rougeL/precision"].value == pytest.approx(np.mean([d.precision for d in direct]))
    assert got["rougeL/recall"].value == pytest.approx(np.mean([d.recall for d in direct]))
    assert [row["rougeL/recall"] for row in per] == [d.recall for d in direct]
    assert "|p|" in got["rougeL/precision"].signature
    assert "|r|" in got["rougeL/recall"].signature


# --------------------------------------------------------------------------- ROUGE-Lsum


def test_rougelsum_reads_sentences_not_one_line() -> None:
    pred = "The committee approved the budget. Taxes will rise next year."
    ref = "Taxes will rise next year. The committee approved the budget."
    got = rouge_scores([pred], [(ref,)], "en", splitter="rule")
    # Whole-text LCS is hurt by the swapped sentences; summary-level LCS is not.
    assert got["rougeL"].fmeasure[0] < 0.6
    assert got["rougeLsum"].fmeasure[0] == 1.0
    # Without newlines rouge-score sees one sentence, and rougeLsum collapses to rougeL:
    # which is why bench splits sentences before calling it.
    flat = RougeScorer(["rougeL", "rougeLsum"], use_stemmer=True).score(ref, pred)
    assert flat["rougeLsum"].fmeasure == flat["rougeL"].fmeasure == got["rougeL"].fmeasure[0]
    lines = RougeScorer(["rougeLsum"], use_stemmer=True).score(
        ref.replace(". ", ".\n"), pred.replace(". ", ".\n")
    )
    assert lines["rougeLsum"].fmeasure == 1.0


def test_rougelsum_chinese_sentences_equal_rouge_score_on_lines() -> None:
    pred = "会议通过了预算。明年税收将上升！"
    ref = "明年税收将上升。会议通过了预算。"
    got = rouge_scores([pred], [(ref,)], "zh", types=("rougeL", "rougeLsum"))
    tok = JiebaTokenizer()
    direct = RougeScorer(["rougeLsum"], tokenizer=tok).score(
        "明年税收将上升。\n会议通过了预算。", "会议通过了预算。\n明年税收将上升！"
    )
    assert got["rougeLsum"].fmeasure[0] == direct["rougeLsum"].fmeasure == 1.0
    assert got["rougeL"].fmeasure[0] < 1.0


def test_rougelsum_existing_newlines_and_paragraphs() -> None:
    pred = "First point here.\nSecond point\n\nthird point."
    ref = "Second point. First point here. Third point."
    got = rouge_scores([pred], [(ref,)], "en", types=("rougeLsum",), splitter="rule")
    assert got["rougeLsum"].fmeasure[0] == 1.0


def test_rougelsum_splitter_names(nltk_data) -> None:
    assert rouge_module._splitter_name("en", "auto") == "punkt_tab"
    assert rouge_module._splitter_name("en", "rule") == "rule"
    assert rouge_module._splitter_name("zh", "auto") == "zh-punct"


# --------------------------------------------------------------------------- references


def test_multi_reference_takes_the_best_per_type() -> None:
    pred = "the cat sat on the mat"
    good, bad = "the cat sat on a mat", "dogs bark loudly at night"
    both = rouge_scores([pred, pred], [(bad, good), (good, bad)], "en")
    alone = rouge_scores([pred], [(good,)], "en")
    for t in TYPES:
        assert both[t].fmeasure.tolist() == [alone[t].fmeasure[0]] * 2


def test_multi_reference_types_may_pick_different_references() -> None:
    # ref_a shares more words (rouge1), ref_b a longer run of bigrams (rouge2).
    pred = "a b c d e f"
    ref_a = "f e d c b a"
    ref_b = "a b c x y z w v"
    got = rouge_scores([pred], [(ref_a, ref_b)], "en", types=("rouge1", "rouge2"))
    scorer = RougeScorer(["rouge1", "rouge2"], use_stemmer=True)
    a, b = scorer.score(ref_a, pred), scorer.score(ref_b, pred)
    assert a["rouge1"].fmeasure > b["rouge1"].fmeasure
    assert b["rouge2"].fmeasure > a["rouge2"].fmeasure
    assert got["rouge1"].fmeasure[0] == a["rouge1"].fmeasure
    assert got["rouge2"].fmeasure[0] == b["rouge2"].fmeasure
    multi = scorer.score_multi([ref_a, ref_b], pred)  # rouge-score's own rule, confirmed
    assert got["rouge1"].fmeasure[0] == multi["rouge1"].fmeasure
    assert got["rouge2"].fmeasure[0] == multi["rouge2"].fmeasure


@pytest.mark.parametrize(
    "references, problem",
    [(["a flat string"], "tuple"), ([()], "non-empty"), ([("ok", None)], "string")],
)
def test_bad_references_are_refused(references, problem) -> None:
    with pytest.raises(DataError, match=problem):
        rouge_scores(["x"], references, "en")


def test_lengths_must_match() -> None:
    with pytest.raises(DataError, match="2 predictions but 1"):
        rouge_scores(["a", "b"], [("a",)], "en")


# --------------------------------------------------------------------------- failures


def test_failed_example_scores_zero_and_counts() -> None:
    preds: list[str | None] = ["the cat sat on the mat", None, ""]
    refs = [("the cat sat on the mat",)] * 3
    ctx = make_ctx(preds, refs)
    got = values(ctx)
    per = score_task(ctx, ALL)[2]
    for t in TYPES:
        assert [row[t] for row in per] == [1.0, 0.0, 0.0]
        assert got[t].value == pytest.approx(1 / 3)
        assert got[t].n == 3


def test_empty_task_has_no_value() -> None:
    got = values(make_ctx([], [], bootstrap=BootstrapConfig()))
    assert math.isnan(got["rouge1"].value)
    assert got["rouge1"].n == 0 and got["rouge1"].ci_low is None


# --------------------------------------------------------------------------- bootstrap


def test_ci_contains_mean_and_is_the_vectorised_percentile_bootstrap(frank) -> None:
    preds, refs = frank
    boot = BootstrapConfig(resamples=500, seed=7)
    ctx = make_ctx(preds, refs, bootstrap=boot)
    got = values(ctx)
    per = score_task(make_ctx(preds, refs), ALL)[2]
    idx = boot.resample_indices(len(preds))
    for t in TYPES:
        v = got[t]
        assert v.ci_low is not None and v.ci_high is not None
        assert v.ci_low < v.value < v.ci_high
        f1 = np.array([row[t] for row in per])
        means = np.array([f1[row].mean() for row in idx])  # the plain loop
        low, high = np.quantile(means, [0.025, 0.975])
        assert (v.ci_low, v.ci_high) == pytest.approx((low, high), abs=1e-12)


def test_bootstrap_is_seeded(frank) -> None:
    preds, refs = frank
    preds, refs = preds[:60], refs[:60]

    def ci(seed: int) -> tuple[Any, Any]:
        v = values(make_ctx(preds, refs, bootstrap=BootstrapConfig(seed=seed)), [Rouge2()])
        return v["rouge2"].ci_low, v["rouge2"].ci_high

    assert ci(1) == ci(1)
    assert ci(1) != ci(2)
    none = values(make_ctx(preds, refs, bootstrap=BootstrapConfig(resamples=0)), [Rouge2()])
    assert none["rouge2"].ci_low is None and none["rouge2"].ci_high is None


# --------------------------------------------------------------------------- tokenizers


def test_jieba_tokenizer_drops_punctuation_and_lowercases() -> None:
    tok = JiebaTokenizer()
    assert tok.tokenize("我来到北京清华大学，学习NLP。") == [
        "我",
        "来到",
        "北京",
        "清华大学",
        "学习",
        "nlp",
    ]
    assert tok.tokenize("  ，。！？——……  ") == []
    assert tok.tokenize("COVID-19疫情") == ["covid", "19", "疫情"]
    assert JiebaTokenizer(use_stemmer=True).tokenize("running 跑步") == ["run", "跑步"]


def test_jieba_tokenizer_is_used_through_rouge_score() -> None:
    tok = JiebaTokenizer()
    pred, ref = "研究了飞行器姿态控制系统", "飞行器姿态控制系统设计方法"
    direct = RougeScorer(["rouge1", "rouge2", "rougeL"], tokenizer=tok).score(ref, pred)
    got = rouge_scores([pred], [(ref,)], "zh", types=("rouge1", "rouge2", "rougeL"))
    for t in ("rouge1", "rouge2", "rougeL"):
        assert got[t].fmeasure[0] == direct[t].fmeasure > 0


def test_tokenizers_pickle() -> None:
    for tok in (JiebaTokenizer(), CharTokenizer(use_stemmer=True)):
        tok.tokenize("先用一次 warm up")  # builds jieba / the stemmer in this process
        blob = pickle.dumps(tok)
        assert len(blob) < 200  # nothing heavy travels to a worker process
        again = pickle.loads(blob)
        assert again.tokenize("北京大学的学生 Running") == tok.tokenize("北京大学的学生 Running")


def test_char_tokenizer() -> None:
    tok = CharTokenizer()
    assert tok.tokenize("用BERT做中文NER，F1是92.5。") == [
        "用", "bert", "做", "中", "文", "ner", "f1", "是", "92", "5",
    ]  # fmt: skip
    assert tok.tokenize("ひらがなとカタカナ") == list("ひらがなとカタカナ")
    assert tok.tokenize("한국어 텍스트") == list("한국어텍스트")
    assert tok.tokenize("Café crème") == ["café", "crème"]


def test_char_tokenizer_through_the_metric(csl) -> None:
    preds, refs = csl
    preds, refs = preds[:50], refs[:50]
    got = values(make_ctx(preds, refs, "zh"), [Rouge1(tokenizer="char")])["rouge1"]
    scorer = RougeScorer(["rouge1"], tokenizer=CharTokenizer())
    direct = [scorer.score(r[0], p)["rouge1"].fmeasure for p, r in zip(preds, refs, strict=True)]
    assert got.value == pytest.approx(np.mean(direct), abs=1e-12)
    assert "tok:char" in got.signature
    jieba_value = values(make_ctx(preds, refs, "zh"), [Rouge1()])["rouge1"].value
    assert got.value != jieba_value  # characters match more often than words


def test_auto_tokenizer_by_language() -> None:
    resolve = rouge_module._resolve_tokenizer
    assert resolve("auto", "zh") == "jieba"
    assert resolve("auto", "zh-Hant") == "jieba"
    assert resolve("auto", "ja") == "char"
    assert resolve("auto", "en") == "default"
    assert resolve("auto", "de") == "default"


def test_default_tokenizer_is_refused_for_chinese() -> None:
    ctx = make_ctx(["今天天气很好"], [("今天天气不错",)], "zh")
    with pytest.raises(TaskSpecError, match=r"task 'rouge-test-zh', metric 'rouge1'.*score 0"):
        Rouge1(tokenizer="default").score(ctx)
    assert Rouge1(tokenizer="default").language_problem("zh") is not None
    assert Rouge1(tokenizer="default").language_problem("en") is None
    assert Rouge1().language_problem("zh") is None


# --------------------------------------------------------------------------- one pass, parallel


def test_four_metrics_share_one_scoring_pass(frank, monkeypatch) -> None:
    preds, refs = frank
    calls: list[Any] = []
    real = rouge_module._run

    def spy(plan, pairs, processes):
        calls.append(plan)
        return real(plan, pairs, processes)

    monkeypatch.setattr(rouge_module, "_run", spy)
    metrics = "[rouge1, rouge2, rougeL, {rougeLsum: {splitter: rule}}]"
    ctx = make_ctx(preds[:20], refs[:20], metrics=metrics)
    score_task(ctx, [Rouge1(), Rouge2(), RougeL(), RougeLsum(splitter="rule")])
    assert len(calls) == 1
    assert calls[0].types == ("rouge1", "rouge2", "rougeL")
    assert calls[0].splitters == ("rule",)
    # A metric configured differently (no stemmer) gets a pass of its own.
    calls.clear()
    ctx = make_ctx(preds[:20], refs[:20], metrics="[rouge1, {rouge2: {stemmer: false}}]")
    score_task(ctx, [Rouge1(), Rouge2(stemmer=False)])
    assert [c.types for c in calls] == [("rouge1",), ("rouge2",)]


def test_parallel_equals_serial(frank, csl) -> None:
    for (preds, refs), lang in ((frank, "en"), (csl, "zh")):
        serial = rouge_scores(preds, refs, lang, processes=1)
        parallel = rouge_scores(preds, refs, lang, processes=2)
        for t in TYPES:
            for a, b in zip(serial[t], parallel[t], strict=True):
                assert np.array_equal(a, b)


def test_parallel_through_the_metric_with_punkt(frank, nltk_data) -> None:
    preds, refs = frank
    metrics = [m.model_copy(update={"processes": 2}) for m in ALL]
    parallel = score_task(make_ctx(preds, refs), metrics)
    serial = score_task(make_ctx(preds, refs), [m.model_copy(update={"processes": 1}) for m in ALL])
    assert parallel[2] == serial[2]
    assert {k: v.value for k, v in parallel[0].items()} == {
        k: v.value for k, v in serial[0].items()
    }


def test_auto_processes_threshold(monkeypatch) -> None:
    monkeypatch.setattr(rouge_module, "_available_cpus", lambda: 8)
    assert rouge_module.PARALLEL_MIN_PAIRS == 50_000
    assert rouge_module._auto_processes(49_999) == 1
    assert rouge_module._auto_processes(50_000) == 2
    monkeypatch.setattr(rouge_module, "_available_cpus", lambda: 1)
    assert rouge_module._auto_processes(100_000) == 1
    monkeypatch.setattr(rouge_module, "_available_cpus", lambda: 8)
    monkeypatch.setattr(rouge_module, "_in_daemon", lambda: True)
    assert rouge_module._auto_processes(100_000) == 1


# --------------------------------------------------------------------------- signatures


def test_signatures_english(frank, nltk_data) -> None:
    preds, refs = frank
    got = values(make_ctx(preds[:5], refs[:5], bootstrap=BootstrapConfig()))
    nltk_v = nltk.__version__
    tail = f"multiref:best|rouge-score:{RS_VERSION}|boot:1000|conf:0.95|seed:12345|v:1"
    assert got["rouge1"].signature == f"rouge1|f|tok:default|stem:porter-nltk-{nltk_v}|{tail}"
    assert got["rougeLsum"].signature == (
        f"rougeLsum|f|tok:default|stem:porter-nltk-{nltk_v}|split:punkt_tab-nltk-{nltk_v}|{tail}"
    )
    rule = values(make_ctx(preds[:5], refs[:5]), [RougeLsum(splitter="rule", stemmer=False)])
    assert "|stem:no|split:rule|" in rule["rougeLsum"].signature


def test_signatures_chinese(csl) -> None:
    preds, refs = csl
    got = values(make_ctx(preds[:5], refs[:5], "zh", bootstrap=BootstrapConfig(resamples=100)))
    status = jieba_status()
    tok = f"tok:jieba-{status.version}-dict:{status.checksum}"
    tail = f"multiref:best|rouge-score:{RS_VERSION}|boot:100|conf:0.95|seed:12345|v:1"
    assert got["rouge2"].signature == f"rouge2|f|{tok}|stem:no|{tail}"
    assert got["rougeLsum"].signature == f"rougeLsum|f|{tok}|stem:no|split:zh-punct|{tail}"
