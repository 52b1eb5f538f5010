"""Hypothesis properties of the QA metrics (SQuAD v1.1, v2.0, CMRC2018).

* A prediction equal to a gold answer scores EM = F1 = 100 (v1.1 and CMRC2018: when the answer
  keeps at least one token after normalisation; v2.0: whenever that gold answer survives its
  empty-answer filter).
* Adding the scheme's own punctuation around a prediction never changes its EM (CMRC2018:
  when the prediction has no outer whitespace, which the script strips first).
* Every value, interval end and per-question score lies in [0, 100], for any text at all.
* Values do not depend on the order of the questions.
* EM = 100 implies F1 = 100 under v2.0 (under v1.1 and CMRC2018 two texts without tokens
  match exactly and still score F1 0).

Texts mix a small English vocabulary (articles included), digits, Chinese characters and the
punctuation both schemes remove, so that matches and edge cases are common.
"""

from __future__ import annotations

import string
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.families.generation import TextResponse
from bench.families.qa import QARequest
from bench.metrics.base import BootstrapConfig, Metric, ScoringContext, score_task
from bench.metrics.qa import (
    CMRC_PUNCTUATION,
    CmrcEM,
    CmrcF1,
    Squad2EM,
    Squad2F1,
    SquadEM,
    SquadF1,
    cmrc_em_f1,
    cmrc_segment,
    squad_em_f1,
    squad_normalize,
)
from bench.metrics.resampling import MIN_CI_N
from bench.spec import TaskSpec, parse_task

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PIECES = [
    "the", "a", "an", "Cat", "sat", "on", "mat", "Denver", "Broncos", "1,000", "3.14",
    "北京", "大学", "的", "校长", "iPhone", "12", "年", "“", "”", "，", "。", "《", "》",
    "-", "!", ".", "(", ")", " ", "  ",
]  # fmt: skip
METRICS: list[Metric] = [
    SquadEM(),
    SquadF1(),
    Squad2EM(),
    Squad2F1(),
    CmrcEM(sentences="line"),
    CmrcF1(sentences="line"),
]

_TASK = """\
name: qa-props
version: 1
family: qa
languages: [zh, en]
description: Carries the QA metrics for property tests.
source:
  kind: local
  location: unused
  format: json
  files: {test: dev.json}
  splits: {test: test}
metrics: [squad_em, squad_f1, squad2_em, squad2_f1, cmrc_em, cmrc_f1]
primary_metric: squad_f1
"""
_SPEC: list[TaskSpec] = []
# The script's list holds "……", two characters that never equal one: it removes nothing.
SINGLE_MARKS = sorted(ch for ch in CMRC_PUNCTUATION if len(ch) == 1)


def spec() -> TaskSpec:
    if not _SPEC:
        _SPEC.append(parse_task(_TASK))
    return _SPEC[0]


texts = st.lists(st.sampled_from(PIECES), min_size=0, max_size=8).map(" ".join)
golds = st.lists(texts, min_size=1, max_size=3).map(tuple)
any_text = st.text(max_size=30)


def ctx_for(
    predictions: list[str | None], references: list[tuple[str, ...]], resamples: int = 100
) -> ScoringContext:
    return ScoringContext(
        spec=spec(),
        requests=[
            QARequest(id=str(i), language="zh", question="?", context="")
            for i in range(len(references))
        ],
        references=references,
        responses=[None if p is None else TextResponse(text=p) for p in predictions],
        bootstrap=BootstrapConfig(resamples=resamples, seed=1),
    )


@SETTINGS
@given(golds, st.data())
def test_a_gold_answer_scores_full_marks(answers: tuple[str, ...], data: Any) -> None:
    pick = data.draw(st.sampled_from(answers))
    em, f1 = squad_em_f1(pick, answers, "1.1")
    assert em == 1.0
    if squad_normalize(pick):
        assert f1 == 1.0
    em2, f1_2 = squad_em_f1(pick, answers, "2.0")
    if squad_normalize(pick) or not any(squad_normalize(a) for a in answers):
        assert (em2, f1_2) == (1.0, 1.0)
    em_c, f1_c = cmrc_em_f1(pick, answers, sentences="line")
    assert em_c == 1.0
    if cmrc_segment(pick, sentences="line"):
        assert f1_c == 1.0


@SETTINGS
@given(golds, texts, st.lists(st.sampled_from(sorted(string.punctuation)), max_size=4))
def test_squad_punctuation_never_changes_em(
    answers: tuple[str, ...], prediction: str, marks: list[str]
) -> None:
    noisy = "".join(marks) + prediction + "".join(reversed(marks))
    assert squad_em_f1(noisy, answers, "1.1")[0] == squad_em_f1(prediction, answers, "1.1")[0]
    assert squad_em_f1(noisy, answers, "2.0")[0] == squad_em_f1(prediction, answers, "2.0")[0]


@SETTINGS
@given(golds, texts, st.lists(st.sampled_from(SINGLE_MARKS), max_size=4))
def test_cmrc_punctuation_never_changes_em(
    answers: tuple[str, ...], prediction: str, marks: list[str]
) -> None:
    # The script strips whitespace before it deletes punctuation, so "* x" keeps its space:
    # the property holds for predictions without outer whitespace.
    prediction = prediction.strip()
    noisy = "".join(marks) + prediction + "".join(marks)
    assert cmrc_em_f1(noisy, answers, "line")[0] == cmrc_em_f1(prediction, answers, "line")[0]


@SETTINGS
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), texts, any_text),
            st.lists(st.one_of(texts, any_text), min_size=1, max_size=3),
        ),
        min_size=1,
        max_size=16,
    )
)
def test_values_lie_between_0_and_100(rows: list[tuple[str | None, list[str]]]) -> None:
    ctx = ctx_for([p for p, _ in rows], [tuple(g) for _, g in rows])
    values, _, per_example = score_task(ctx, METRICS)
    for value in values.values():
        assert 0.0 <= value.value <= 100.0
        assert value.scale == 100.0
        if len(rows) < MIN_CI_N:  # too few examples: the interval is withheld, with its reason
            assert value.ci_low is None and value.ci_high is None and value.ci_reason
            continue
        assert value.ci_low is not None and value.ci_high is not None
        assert 0.0 <= value.ci_low <= value.ci_high <= 100.0
    for row in per_example:
        for score in row.values():
            assert score is not None and 0.0 <= score <= 100.0


@SETTINGS
@given(
    st.lists(st.tuples(st.one_of(st.none(), texts), golds), min_size=2, max_size=10),
    st.randoms(use_true_random=False),
)
def test_values_do_not_depend_on_question_order(
    rows: list[tuple[str | None, tuple[str, ...]]], rnd: Any
) -> None:
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    first, _, _ = score_task(ctx_for([p for p, _ in rows], [g for _, g in rows], 0), METRICS)
    second, _, _ = score_task(
        ctx_for([p for p, _ in shuffled], [g for _, g in shuffled], 0), METRICS
    )
    assert first.keys() == second.keys()
    for name, value in first.items():
        assert value.value == second[name].value, name
        assert value.n == second[name].n


@SETTINGS
@given(st.lists(st.tuples(texts, st.lists(texts, max_size=3).map(tuple)), min_size=1, max_size=8))
def test_v2_exact_match_implies_full_f1(rows: list[tuple[str, tuple[str, ...]]]) -> None:
    for prediction, answers in rows:
        em, f1 = squad_em_f1(prediction, answers, "2.0")
        assert f1 >= em
        assert 0.0 <= f1 <= 1.0
