"""Hypothesis properties of the ROUGE metrics, in English and Chinese.

* A perfect prediction scores 1.0 for every type (ROUGE-2 needs two tokens to have a bigram).
* Scores are invariant to the order of the examples.
* ROUGE-1, ROUGE-2 and ROUGE-L F-measures are symmetric: swapping prediction and reference
  swaps precision and recall and leaves F unchanged.
* Every precision, recall and F-measure lies in [0, 1], for any text at all.

Texts are drawn from small vocabularies so that overlaps are common, with sentence punctuation
so that ROUGE-Lsum sees several sentences; the bounds property also uses arbitrary Unicode.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rouge_score.tokenizers import DefaultTokenizer

from bench.families.generation import TextResponse
from bench.families.summarization import SummarizationRequest
from bench.metrics.base import BootstrapConfig, ScoringContext, score_task
from bench.metrics.rouge import JiebaTokenizer, Rouge1, Rouge2, RougeL, RougeLsum, rouge_scores
from bench.spec import TaskSpec, parse_task

TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
EN_WORDS = ["the", "cat", "cats", "sat", "on", "mat", "running", "ran", "dog", "a", "rain", "42"]
ZH_WORDS = ["北京", "是", "中国", "的", "首都", "今天", "天气", "很", "好", "我们", "学习", "NLP"]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_TASK = """\
name: rouge-props-{lang}
version: 1
family: summarization
languages: [{lang}]
description: Carries a language for ROUGE property tests.
source:
  kind: builtin
  location: smoke/summarization-{lang}
  format: jsonl
  files: {{test: test.jsonl}}
  splits: {{test: test}}
  fields: {{id: id, document: document, references: summary}}
metrics: [rouge1, rouge2, rougeL, {{rougeLsum: {{splitter: rule}}}}]
primary_metric: rouge1
"""
_SPECS: dict[str, TaskSpec] = {}
METRICS = [Rouge1(), Rouge2(), RougeL(), RougeLsum(splitter="rule")]


def spec_for(lang: str) -> TaskSpec:
    if lang not in _SPECS:
        _SPECS[lang] = parse_task(_TASK.format(lang=lang))
    return _SPECS[lang]


@st.composite
def texts(draw: Any, lang: str, min_words: int = 1) -> str:
    """A text of one to three sentences from ``lang``'s vocabulary."""
    words = EN_WORDS if lang == "en" else ZH_WORDS
    sentences = draw(
        st.lists(st.lists(st.sampled_from(words), min_size=1, max_size=8), min_size=1, max_size=3)
    )
    if sum(len(s) for s in sentences) < min_words:
        sentences[-1] += draw(
            st.lists(st.sampled_from(words), min_size=min_words, max_size=min_words)
        )
    if lang == "en":
        return " ".join(" ".join(s).capitalize() + "." for s in sentences)
    return "".join("".join(s) + "。" for s in sentences)


def n_tokens(text: str, lang: str) -> int:
    tokenizer = JiebaTokenizer() if lang == "zh" else DefaultTokenizer(use_stemmer=True)
    return len(tokenizer.tokenize(text))


def score(lang: str, preds: list[str | None], refs: list[tuple[str, ...]]) -> dict[str, Any]:
    ctx = ScoringContext(
        spec=spec_for(lang),
        requests=[
            SummarizationRequest(id=str(i), language=lang, document="d") for i in range(len(refs))
        ],
        references=refs,
        responses=[None if p is None else TextResponse(text=p) for p in preds],
        bootstrap=BootstrapConfig(resamples=0),
    )
    values, _, per_example = score_task(ctx, METRICS)
    return {"values": {k: v.value for k, v in values.items()}, "per_example": per_example}


@pytest.mark.parametrize("lang", ["en", "zh"])
@SETTINGS
@given(data=st.data())
def test_perfect_prediction_scores_one(lang: str, data: Any) -> None:
    text = data.draw(texts(lang))
    got = rouge_scores([text], [(text, "an unrelated second reference")], lang, splitter="rule")
    assert got["rouge1"].fmeasure[0] == 1.0
    assert got["rougeL"].fmeasure[0] == 1.0
    assert got["rougeLsum"].fmeasure[0] == 1.0
    # A bigram needs two tokens (a Chinese "sentence" may be one jieba word).
    assert got["rouge2"].fmeasure[0] == (1.0 if n_tokens(text, lang) >= 2 else 0.0)


@pytest.mark.parametrize("lang", ["en", "zh"])
@SETTINGS
@given(data=st.data())
def test_invariant_to_example_order(lang: str, data: Any) -> None:
    n = data.draw(st.integers(min_value=1, max_value=6))
    preds = [data.draw(st.one_of(st.none(), texts(lang))) for _ in range(n)]
    refs = [tuple(data.draw(st.lists(texts(lang), min_size=1, max_size=2))) for _ in range(n)]
    order = data.draw(st.permutations(range(n)))
    a = score(lang, preds, refs)
    b = score(lang, [preds[i] for i in order], [refs[i] for i in order])
    assert a["values"] == b["values"]  # exactly: the mean is an exactly rounded sum
    for new, old in enumerate(order):
        assert b["per_example"][new] == a["per_example"][old]


@pytest.mark.parametrize("lang", ["en", "zh"])
@SETTINGS
@given(data=st.data())
def test_f_measure_is_symmetric(lang: str, data: Any) -> None:
    a, b = data.draw(texts(lang)), data.draw(texts(lang))
    types = ("rouge1", "rouge2", "rougeL")
    ab = rouge_scores([a], [(b,)], lang, types=types)
    ba = rouge_scores([b], [(a,)], lang, types=types)
    for t in types:
        assert ab[t].fmeasure[0] == ba[t].fmeasure[0]
        assert ab[t].precision[0] == ba[t].recall[0]


_ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)


@pytest.mark.parametrize("lang", ["en", "zh"])
@SETTINGS
@given(data=st.data())
def test_bounds(lang: str, data: Any) -> None:
    mixed = st.one_of(texts(lang), _ANY_TEXT)
    n = data.draw(st.integers(min_value=1, max_value=4))
    preds = [data.draw(st.one_of(st.none(), mixed)) for _ in range(n)]
    refs = [tuple(data.draw(st.lists(mixed, min_size=1, max_size=3))) for _ in range(n)]
    got = rouge_scores(preds, refs, lang, splitter="rule")
    for t in TYPES:
        for column in got[t]:
            assert ((column >= 0) & (column <= 1)).all()
    result = score(lang, preds, refs)
    for value in result["values"].values():
        assert 0.0 <= value <= 1.0
