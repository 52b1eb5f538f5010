"""Chinese ROUGE on real data: the CSL title-generation dev set against rouge-score directly.

CSL (Li et al., 2022) pairs Chinese paper abstracts with their titles. The references are the
titles; the "system" is a deterministic extractive rule, the abstract's first clause (up to the
first 。 . ； ; ， or ,), which shares words with the title often but not always.

bench's numbers must equal rouge-score's, called directly with the same jieba tokenizer object,
per example and as means. And rouge-score's default tokenizer, which keeps only ``a-z0-9``,
scores the same pairs 0 wherever the title has no ASCII letter or digit: why bench never uses it
on Chinese.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest
from rouge_score.rouge_scorer import RougeScorer
from rouge_score.tokenizers import DefaultTokenizer

from bench.families.generation import TextResponse
from bench.families.summarization import SummarizationRequest
from bench.metrics.base import BootstrapConfig, ScoringContext, score_task
from bench.metrics.rouge import JiebaTokenizer, Rouge1, Rouge2, RougeL, RougeLsum
from bench.spec import parse_task

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
DEV = DATA / "csl-title-summarization" / "ts" / "dev.tsv"
TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]

_TASK = """\
name: csl-title-golden
version: 1
family: summarization
languages: [zh]
description: CSL dev titles as references for the ROUGE golden test.
source:
  kind: builtin
  location: smoke/summarization-zh
  format: jsonl
  files: {test: test.jsonl}
  splits: {test: test}
  fields: {id: id, document: document, references: summary}
metrics: [rouge1, rouge2, rougeL, rougeLsum]
primary_metric: rougeL
"""

_CLAUSE_END = re.compile(r"[。.；;，,]")
_ZH_SENTENCE_END = re.compile(r"(?<=[。！？!?…])")


def first_clause(abstract: str) -> str:
    return _CLAUSE_END.split(abstract, maxsplit=1)[0]


def lines(text: str) -> str:
    """Sentences one per line, for rougeLsum: split after 。！？!?… (bench's Chinese rule)."""
    return "\n".join(s.strip() for s in _ZH_SENTENCE_END.split(text) if s.strip())


@pytest.fixture(scope="module")
def pairs() -> tuple[list[str], list[str]]:
    assert DEV.is_file(), f"expected the CSL dev set at {DEV}"
    with DEV.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert len(rows) == 1000 and {len(r) for r in rows} == {3}
    return [first_clause(r[1]) for r in rows], [r[2] for r in rows]


@pytest.fixture(scope="module")
def bench_scores(pairs) -> tuple[dict, list[dict]]:
    preds, titles = pairs
    spec = parse_task(_TASK)
    ctx = ScoringContext(
        spec=spec,
        requests=[
            SummarizationRequest(id=str(i), language="zh", document="d") for i in range(len(preds))
        ],
        references=[(t,) for t in titles],
        responses=[TextResponse(text=p) for p in preds],
        bootstrap=BootstrapConfig(resamples=200),
    )
    values, _, per_example = score_task(ctx, [Rouge1(), Rouge2(), RougeL(), RougeLsum()])
    return values, per_example


def test_chinese_rouge_equals_rouge_score_with_the_same_jieba_tokenizer(
    pairs, bench_scores
) -> None:
    preds, titles = pairs
    values, per_example = bench_scores
    scorer = RougeScorer(TYPES, tokenizer=JiebaTokenizer())
    direct = [scorer.score(lines(t), lines(p)) for p, t in zip(preds, titles, strict=True)]
    for t in TYPES:
        expected = np.array([d[t].fmeasure for d in direct])
        got = np.array([row[t] for row in per_example])
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
        assert values[t].value == pytest.approx(expected.mean(), abs=1e-12)
        assert values[t].n == 1000
        assert values[t].value > 0.1, f"{t} is {values[t].value}: Chinese ROUGE must be > 0"
        assert values[t].ci_low < values[t].value < values[t].ci_high
    # The rule extracts the title's own words often, so ROUGE-1 is clearly above ROUGE-2.
    assert values["rouge1"].value > values["rouge2"].value > 0


def test_the_default_tokenizer_scores_chinese_zero(pairs, bench_scores) -> None:
    preds, titles = pairs
    values, per_example = bench_scores
    default = RougeScorer(TYPES, use_stemmer=False)  # what most harnesses call
    # Titles without an ASCII letter or digit: the default tokenizer deletes every character.
    chinese_only = [i for i, t in enumerate(titles) if not re.search(r"[A-Za-z0-9]", t)]
    assert len(chinese_only) > 700
    for i in chinese_only:
        assert DefaultTokenizer().tokenize(titles[i]) == []
        scores = default.score(titles[i], preds[i])
        assert all(scores[t].fmeasure == 0 for t in TYPES)
    # bench gives the same pairs real scores.
    bench_rouge1 = np.array([per_example[i]["rouge1"] for i in chinese_only])
    assert bench_rouge1.mean() > 0.2
    assert (bench_rouge1 > 0).mean() > 0.8
    # Over all 1,000 pairs the default tokenizer sees only digits and Latin words (a lone
    # shared number scores 1.0), which is a different and far smaller number.
    everything = np.mean(
        [default.score(t, p)["rouge1"].fmeasure for p, t in zip(preds, titles, strict=True)]
    )
    assert everything < values["rouge1"].value / 3


def test_first_pair_by_hand(pairs) -> None:
    preds, titles = pairs
    tok = JiebaTokenizer()
    assert titles[0] == "一种基于平方和优化的飞行器大角度机动镇定控制器设计方法"
    assert preds[0] == "采用修正的Rodrigues参数(MRP)"
    assert "飞行器" in tok.tokenize(titles[0])
    assert DefaultTokenizer().tokenize(titles[0]) == []
