"""Hypothesis properties of the MT metrics (BLEU, chrF/chrF++, TER).

A perfect hypothesis scores the maximum (BLEU 100, chrF 100, TER 0) with one or several
references; corpus scores do not depend on the order of the examples (permuted together with
their references); BLEU and chrF stay in [0, 100] and TER ≥ 0, for values, intervals and
sentence scores, over English-like and Chinese text, failed examples and empty outputs.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.families.generation import TextResponse
from bench.families.translation import TranslationRequest
from bench.metrics.base import MIN_CI_N, BootstrapConfig, ScoringContext, score_task
from bench.metrics.mt import BLEU, CHRF, TER
from bench.spec import TaskSpec, parse_task

# BLEU's exp(mean log precision) of a perfect corpus is 100 up to floating-point rounding
# (sacrebleu itself returns 100.00000000000004 for some inputs).
ULP = 1e-9

METRICS: list[Any] = [
    BLEU(),
    BLEU(smooth_method="floor"),
    CHRF(),
    CHRF(word_order=2),
    TER(),
    TER(normalized=True, no_punct=True),
]

_TASK = """\
name: mt-prop
version: 1
family: translation
languages: [{src}, {tgt}]
description: Carries a language pair for the MT property tests.
source:
  kind: sacrebleu
  testset: wmt21
  langpair: {src}-{tgt}
  splits: {{test: test}}
metrics: [bleu, chrf, ter]
primary_metric: bleu
"""

_SPECS: dict[str, TaskSpec] = {}


def spec_for(tgt: str) -> TaskSpec:
    if tgt not in _SPECS:
        src = "en" if tgt == "zh" else "zh"
        _SPECS[tgt] = parse_task(_TASK.format(src=src, tgt=tgt))
    return _SPECS[tgt]


WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC", min_size=1, max_size=7)
# Common characters, so n-grams repeat across segments as they do in real Chinese text.
HANZI = st.text(
    alphabet="的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去"
    "之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方",
    min_size=1,
    max_size=3,
)


@st.composite
def segment(draw: st.DrawFn, chinese: bool, min_units: int = 1) -> str:
    """A segment of ``min_units``–14 words (runs of CJK characters when ``chinese``)."""
    units = draw(st.lists(HANZI if chinese else WORDS, min_size=min_units, max_size=14))
    punct = draw(st.sampled_from(["", ".", "。", ",", "!"]))
    return ("" if chinese and draw(st.booleans()) else " ").join(units) + punct


@st.composite
def corpus(draw: st.DrawFn, min_units: int = 1) -> tuple[str, list[tuple[str, ...]]]:
    """A target language and N examples × K references."""
    tgt = draw(st.sampled_from(["en", "zh"]))
    n = draw(st.integers(min_value=1, max_value=12))
    k = draw(st.integers(min_value=1, max_value=3))
    refs = [tuple(draw(segment(tgt == "zh", min_units)) for _ in range(k)) for _ in range(n)]
    return tgt, refs


def make_ctx(
    tgt: str,
    hyps: list[str | None],
    refs: list[tuple[str, ...]],
    bootstrap: BootstrapConfig | None = None,
) -> ScoringContext:
    src = "en" if tgt == "zh" else "zh"
    requests = [
        TranslationRequest(
            id=str(i), language=tgt, source="s", source_language=src, target_language=tgt
        )
        for i in range(len(refs))
    ]
    return ScoringContext(
        spec=spec_for(tgt),
        requests=requests,
        references=refs,
        responses=[None if h is None else TextResponse(text=h) for h in hyps],
        bootstrap=bootstrap or BootstrapConfig(resamples=0),
    )


def values(ctx: ScoringContext, metric: Any) -> Any:
    (v,) = metric.score(ctx)
    return v


PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(data=corpus(min_units=4), pick=st.integers(min_value=0, max_value=2))
def test_perfect_hypothesis_scores_the_maximum(
    data: tuple[str, list[tuple[str, ...]]], pick: int
) -> None:
    tgt, refs = data
    # Equal to one of the references of each example (any one of them).
    hyps: list[str | None] = [r[pick % len(r)] for r in refs]
    ctx = make_ctx(tgt, hyps, refs)
    for metric in METRICS:
        v = values(ctx, metric).value
        if isinstance(metric, TER):
            assert v == 0.0, metric
        else:
            assert v == pytest.approx(100.0, abs=ULP), metric
    rows = score_task(ctx, [BLEU(), CHRF(), TER()])[2]
    for row in rows:
        assert row["sentence_bleu"] == pytest.approx(100.0, abs=ULP)
        assert row["sentence_chrf"] == pytest.approx(100.0, abs=ULP)
        assert row["sentence_ter"] == 0.0


@st.composite
def system(draw: st.DrawFn) -> tuple[str, list[str | None], list[tuple[str, ...]]]:
    """A corpus and a system output: copies, edits, other segments, empties and failures."""
    tgt, refs = draw(corpus())
    hyps: list[str | None] = []
    for ref in refs:
        kind = draw(st.sampled_from(["copy", "drop", "other", "empty", "none"]))
        if kind == "copy":
            hyps.append(ref[0])
        elif kind == "drop":
            words = ref[0].split() or [ref[0]]
            hyps.append(" ".join(words[:: draw(st.integers(min_value=2, max_value=3))]))
        elif kind == "other":
            hyps.append(draw(segment(tgt == "zh")))
        elif kind == "empty":
            hyps.append("")
        else:
            hyps.append(None)
    return tgt, hyps, refs


@PROPS
@given(data=system(), perm=st.randoms(use_true_random=False))
def test_scores_do_not_depend_on_example_order(
    data: tuple[str, list[str | None], list[tuple[str, ...]]], perm: Any
) -> None:
    tgt, hyps, refs = data
    order = list(range(len(refs)))
    perm.shuffle(order)
    ctx = make_ctx(tgt, hyps, refs)
    shuffled = make_ctx(tgt, [hyps[i] for i in order], [refs[i] for i in order])
    for metric in METRICS:
        a, b = values(ctx, metric), values(shuffled, metric)
        if isinstance(metric, TER):
            # Average reference lengths are fractions (x/3): sums may round in the last bit.
            assert b.value == pytest.approx(a.value, rel=1e-12, abs=1e-12), metric
        else:
            assert b.value == a.value, metric  # integer statistics: exactly equal
        assert a.signature == b.signature
    rows = score_task(ctx, [BLEU(), CHRF(), TER()])[2]
    rows_shuffled = score_task(shuffled, [BLEU(), CHRF(), TER()])[2]
    assert [rows[i] for i in order] == rows_shuffled


@PROPS
@given(data=system(), seed=st.integers(min_value=0, max_value=2**31 - 1))
def test_bounds(data: tuple[str, list[str | None], list[tuple[str, ...]]], seed: int) -> None:
    tgt, hyps, refs = data
    ctx = make_ctx(tgt, hyps, refs, BootstrapConfig(resamples=100, seed=seed))
    values_, skipped, rows = score_task(ctx, METRICS[::2])  # BLEU, CHRF, TER
    assert not skipped
    for name in ("bleu", "chrf", "ter"):  # intervals are withheld below 10 examples
        v = values_[name]
        assert (v.ci_reason is not None) == (v.ci_low is None) == (v.ci_high is None), name
        assert v.ci_reason is None or v.n < MIN_CI_N or "contain" in v.ci_reason, name
    for name in ("bleu", "chrf"):
        v = values_[name]
        if v.ci_low is None or v.ci_high is None:
            continue
        for x in (v.value, v.ci_low, v.ci_high):
            assert -ULP <= x <= 100 + ULP, (name, x)
        assert v.ci_low <= v.ci_high
    ter = values_["ter"]
    assert ter.value >= 0 and (ter.ci_low is None or ter.ci_low >= 0)
    assert ter.higher_is_better is False
    for row in rows:
        assert -ULP <= row["sentence_bleu"] <= 100 + ULP  # type: ignore[operator]
        assert -ULP <= row["sentence_chrf"] <= 100 + ULP  # type: ignore[operator]
        assert row["sentence_ter"] >= 0  # type: ignore[operator]
    # A failed example counts as an empty hypothesis, never as a skipped one.
    assert all(v.n == len(refs) for v in values_.values())
