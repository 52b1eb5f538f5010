"""QA metrics on hand-worked cases: SQuAD v1.1 / v2.0 and CMRC2018.

Every expected value below is worked out by hand from the rules of the official scripts (the
working is in the comments), never read back from bench. The full dev sets are scored in
``tests/golden/test_qa_official.py``.
"""

from __future__ import annotations

import nltk
import numpy as np
import pytest

from bench.errors import DataError
from bench.families.generation import TextResponse
from bench.families.qa import QARequest
from bench.metrics.base import BootstrapConfig, MetricValue, ScoringContext, score_task
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
    cmrc_strip_punctuation,
    qa_scores,
    squad_em_f1,
    squad_normalize,
)
from bench.registry import registry
from bench.spec import TaskSpec, parse_task

_TASK = """\
name: qa-metric-test
version: 1
family: qa
languages: [{lang}]
description: Carries a language and metric list for QA metric tests.
source:
  kind: local
  location: unused
  format: json
  files: {{test: dev.json}}
  splits: {{test: test}}
metrics: {metrics}
primary_metric: {primary}
"""


def make_spec(lang: str = "en", metrics: str = "[squad_em, squad_f1]") -> TaskSpec:
    primary = metrics.strip("[]").split(",")[0].strip()
    return parse_task(_TASK.format(lang=lang, metrics=metrics, primary=primary))


def make_ctx(
    predictions: list[str | None],
    references: list[tuple[str, ...]],
    lang: str = "en",
    *,
    bootstrap: BootstrapConfig | None = None,
) -> ScoringContext:
    requests = [
        QARequest(id=f"q{i}", language=lang, question="?", context="")
        for i in range(len(references))
    ]
    responses = [None if p is None else TextResponse(text=p) for p in predictions]
    return ScoringContext(
        spec=make_spec(lang),
        requests=requests,
        references=references,
        responses=responses,
        bootstrap=bootstrap or BootstrapConfig(resamples=200, seed=7),
    )


def by_name(values: list[MetricValue]) -> dict[str, MetricValue]:
    return {v.name: v for v in values}


# --------------------------------------------------------------------------- SQuAD normalisation


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # lower-case, ASCII punctuation out, articles out, whitespace collapsed
        ("A man, a plan, a canal: Panama!", "man plan canal panama"),
        ("The  Cat", "cat"),
        ("An apple", "apple"),
        ("another theory", "another theory"),  # articles only as whole words
        # punctuation goes before articles: "the-end" -> "theend", no article left
        ("the-end", "theend"),
        ("a_b", "ab"),  # "_" is in string.punctuation
        ("the5", "the5"),  # a digit is a word character: no boundary after "the"
        ("Théa", "théa"),  # Unicode word boundaries: "a" after "é" is inside a word
        ("résumé a", "résumé"),
        # numbers: separators are punctuation
        ("1,000", "1000"),
        ("3.14", "314"),
        ("$5 million", "5 million"),
        # non-ASCII punctuation is not in string.punctuation: it stays
        ("“Hello” — World", "“hello” — world"),
        ("\u3000Tokyo\xa0Tower ", "tokyo tower"),  # str.split knows Unicode spaces
        ("The", ""),
        ("", ""),
    ],
)
def test_squad_normalize(text: str, expected: str) -> None:
    assert squad_normalize(text) == expected


# --------------------------------------------------------------------------- SQuAD per question


def test_squad_multiple_golds_take_the_best() -> None:
    # pred tokens: denver broncos won (3)
    # vs "broncos": shared 1, P 1/3, R 1   -> F1 0.5
    # vs "denver broncos": shared 2, P 2/3, R 1 -> F1 0.8
    # vs "denver broncos team": shared 2, P 2/3, R 2/3 -> F1 2/3
    golds = ["Broncos", "Denver Broncos", "the Denver Broncos team"]
    em, f1 = squad_em_f1("Denver Broncos won", golds)
    assert em == 0.0
    assert f1 == pytest.approx(0.8, abs=1e-15)
    assert squad_em_f1("the denver broncos.", golds) == (1.0, 1.0)


def test_squad_f1_counts_repeated_tokens_once_each() -> None:
    # "cat cat cat" vs "cat": the multiset intersection is one "cat": P 1/3, R 1 -> 0.5
    assert squad_em_f1("cat cat cat", ["cat"])[1] == pytest.approx(0.5)
    # "the cat, cat and cat" -> "cat cat and cat" (4 tokens): P 1/4, R 1 -> 0.4
    assert squad_em_f1("the cat, cat and cat", ["cat"])[1] == pytest.approx(0.4)


def test_squad_numbers_and_unicode_punctuation() -> None:
    assert squad_em_f1("1,000 people", ["1000 people"]) == (1.0, 1.0)
    # “Hello” keeps its curly quotes: one token "“hello”", nothing shared with "hello"
    assert squad_em_f1("“Hello”", ["Hello"]) == (0.0, 0.0)
    # "the 1990s" vs "1990s." -> both "1990s"
    assert squad_em_f1("the 1990s", ["1990s."]) == (1.0, 1.0)


def test_squad_v1_and_v2_differ_on_empty_strings() -> None:
    # both normalise to empty: v1.1 EM 1 but F1 0 (no common token); v2.0 EM 1, F1 1
    assert squad_em_f1("", [""], "1.1") == (1.0, 0.0)
    assert squad_em_f1("The", ["a"], "1.1") == (1.0, 0.0)
    assert squad_em_f1("", [""], "2.0") == (1.0, 1.0)
    assert squad_em_f1("The", ["a"], "2.0") == (1.0, 1.0)
    # v2.0 drops gold answers that normalise to empty; v1.1 keeps them
    assert squad_em_f1("", ["The", "Paris"], "1.1") == (1.0, 0.0)
    assert squad_em_f1("", ["The", "Paris"], "2.0") == (0.0, 0.0)
    assert squad_em_f1("Paris", ["The", "Paris"], "2.0") == (1.0, 1.0)
    # one side empty: 0 in both
    assert squad_em_f1("", ["Paris"], "1.1") == (0.0, 0.0)
    assert squad_em_f1("", ["Paris"], "2.0") == (0.0, 0.0)
    assert squad_em_f1("Paris", [], "2.0") == (0.0, 0.0)


def test_squad_v2_unanswerable() -> None:
    assert squad_em_f1("", [], "2.0") == (1.0, 1.0)
    assert squad_em_f1("an", [], "2.0") == (1.0, 1.0)  # normalises to empty: "no answer"
    assert squad_em_f1("London", [], "2.0") == (0.0, 0.0)
    with pytest.raises(ValueError, match="at least one gold"):
        squad_em_f1("London", [], "1.1")


# --------------------------------------------------------------------------- SQuAD metrics


def test_squad_v1_metric_values_and_missing_prediction() -> None:
    refs = [("Denver Broncos",), ("Santa Clara, California",), ("gold",), ("1,000",)]
    preds = ["denver broncos", "Santa Clara", None, "1000"]
    # q0 EM 1 F1 1; q1 EM 0, F1: 2 shared, P 2/2, R 2/3 -> 0.8; q2 missing: 0, 0; q3 EM 1 F1 1
    ctx = make_ctx(preds, refs)
    values, _, rows = score_task(ctx, [SquadEM(), SquadF1()])
    assert values["squad_em"].value == pytest.approx(100 * 2 / 4)
    assert values["squad_f1"].value == pytest.approx(100 * 2.8 / 4)
    assert values["squad_em"].n == values["squad_f1"].n == 4
    assert values["squad_f1"].scale == 100.0
    assert [r["squad_em"] for r in rows] == [100.0, 0.0, 0.0, 100.0]
    assert [r["squad_f1"] for r in rows] == pytest.approx([100.0, 80.0, 0.0, 100.0])


def test_squad_v1_refuses_a_question_without_gold_answers() -> None:
    ctx = make_ctx(["x", "y"], [("x",), ()])
    with pytest.raises(DataError, match="q1"):
        SquadF1().score(ctx)


def test_squad_v1_refuses_a_flat_reference() -> None:
    ctx = make_ctx(["x"], ["x"])  # type: ignore[list-item]
    with pytest.raises(DataError, match="not a tuple"):
        SquadEM().score(ctx)


def _squad2_case() -> tuple[list[str | None], list[tuple[str, ...]]]:
    refs: list[tuple[str, ...]] = [(), ("Paris",), ("Paris",), (), ("the",), ("Eiffel Tower",)]
    preds: list[str | None] = ["", "Paris", None, "London", "", "the tower"]
    return preds, refs


def test_squad_v2_values_and_breakdown() -> None:
    # q0 NoAns "" -> 1, 1          q1 HasAns exact -> 1, 1
    # q2 HasAns missing -> 0, 0    q3 NoAns "London" -> 0, 0
    # q4 HasAns, its one gold "the" normalises to empty -> gold [""], "" -> 1, 1
    # q5 HasAns "tower" vs "eiffel tower": P 1, R 1/2 -> F1 2/3, EM 0
    preds, refs = _squad2_case()
    values = by_name(
        Squad2EM().score(make_ctx(preds, refs)) + Squad2F1().score(make_ctx(preds, refs))
    )
    assert values["squad2_em"].value == pytest.approx(100 * 3 / 6)
    assert values["squad2_f1"].value == pytest.approx(100 * (3 + 2 / 3) / 6)
    assert values["squad2_em/has_ans"].value == pytest.approx(100 * 2 / 4)
    assert values["squad2_f1/has_ans"].value == pytest.approx(100 * (2 + 2 / 3) / 4)
    assert values["squad2_em/no_ans"].value == pytest.approx(50.0)
    assert values["squad2_f1/no_ans"].value == pytest.approx(50.0)
    assert (values["squad2_f1"].n, values["squad2_f1/has_ans"].n) == (6, 4)
    assert values["squad2_f1/no_ans"].n == 2
    assert "subset:has_ans" in values["squad2_f1/has_ans"].signature


def test_squad_v2_missing_exclude_reproduces_the_script_totals() -> None:
    # the script leaves q2 out of every total: EM 3/5, HasAns EM 2/3
    preds, refs = _squad2_case()
    values = by_name(Squad2EM(missing="exclude").score(make_ctx(preds, refs)))
    assert values["squad2_em"].value == pytest.approx(100 * 3 / 5)
    assert values["squad2_em"].n == 5
    assert values["squad2_em/has_ans"].value == pytest.approx(100 * 2 / 3)
    assert values["squad2_em/has_ans"].n == 3
    assert "missing:exclude" in values["squad2_em"].signature
    rows = Squad2EM(missing="exclude").per_example(make_ctx(preds, refs))["squad2_em"]
    assert rows == [100.0, 100.0, None, 0.0, 100.0, 0.0]


def test_squad_v2_breakdown_leaves_out_empty_subsets_and_can_be_off() -> None:
    ctx = make_ctx(["Paris"], [("Paris",)])
    names = [v.name for v in Squad2F1().score(ctx)]
    assert names == ["squad2_f1", "squad2_f1/has_ans"]  # no NoAns question: no NoAns value
    assert [v.name for v in Squad2F1(breakdown=False).score(ctx)] == ["squad2_f1"]


def test_a_missing_prediction_is_not_an_empty_answer_in_v2() -> None:
    # "" is the right answer to an unanswerable question; a failure (None) is a miss
    ctx = make_ctx(["", None], [(), ()])
    assert Squad2EM().score(ctx)[0].value == pytest.approx(50.0)


# --------------------------------------------------------------------------- CMRC2018


def test_cmrc_punctuation_is_the_scripts_list() -> None:
    assert set("，。：？！“”；’《》·、「」（）－～『』") <= CMRC_PUNCTUATION
    assert set("-:_*^/\\~`+=") <= CMRC_PUNCTUATION
    # not string.punctuation: ASCII . , ( ) " ' ! ? are kept; so are ‘ and …
    for ch in ".,()\"'!?‘…":
        assert ch not in CMRC_PUNCTUATION


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("《三体》，刘慈欣著。", "三体刘慈欣著"),
        ("  Windows-10：系统 ", "windows10系统"),
        ("U.S. (1990)", "u.s. (1990)"),
        ("好……", "好……"),  # "……" is one entry of two characters: "…" never matches it
        ("‘a’", "‘a"),  # ’ is on the list, ‘ is not
        # whitespace is stripped before punctuation is deleted: the inner space stays
        ("* 北京 。", " 北京 "),
    ],
)
def test_cmrc_strip_punctuation(text: str, expected: str) -> None:
    assert cmrc_strip_punctuation(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("iPhone 12于2020年发布", ["iphone", "12", "于", "2020", "年", "发", "布"]),
        ("《A-B》计划", ["ab", "计", "划"]),  # "-" dropped without ending the run "ab"
        ("二〇〇八年", ["二", "〇〇", "八", "年"]),  # 〇 (U+3007) is outside U+4E00..U+9FA5
        ("Windows 10操作系统", ["windows", "10", "操", "作", "系", "统"]),
        ("，。", []),
        ("", []),
    ],
)
def test_cmrc_mixed_segmentation(text: str, expected: list[str]) -> None:
    assert cmrc_segment(text, sentences="line") == expected


def test_cmrc_em_and_f1_by_hand() -> None:
    # Chinese mixed with English: pred 7 tokens, gold [2020, 年]; LCS 2 -> P 2/7, R 1 -> 4/9
    em, f1 = cmrc_em_f1("iPhone 12于2020年发布", ["2020年"], sentences="line")
    assert (em, f1) == (0.0, pytest.approx(4 / 9, abs=1e-15))
    # full-width punctuation is removed before EM
    assert cmrc_em_f1("《三体》。", ["三体"], sentences="line") == (1.0, 1.0)
    # EM keeps inner whitespace; segmentation makes "iphone12" one token
    assert cmrc_em_f1("iPhone 12", ["iphone12"], sentences="line") == (0.0, 0.0)
    # gold 北京大学的校长 (7), pred 清华大学的校长是谁 (9): LCS 大学的校长 = 5
    # P 5/9, R 5/7 -> F1 = 2·(25/63) / (80/63) = 50/80
    f1 = cmrc_em_f1("清华大学的校长是谁", ["北京大学的校长"], sentences="line")[1]
    assert f1 == pytest.approx(0.625, abs=1e-15)
    # LCS is contiguous: gold 北京大学, pred 大学在北京 share 4 tokens but in two runs of 2
    # P 2/5, R 2/4 -> 4/9 (a bag-of-tokens F1 would be 8/9)
    assert cmrc_em_f1("大学在北京", ["北京大学"], sentences="line")[1] == pytest.approx(4 / 9)
    # the best of several golds: "windows 10" is contained -> P 2/6, R 1 -> 0.5
    best = cmrc_em_f1("Windows 10操作系统", ["Linux", "Windows 10"], sentences="line")
    assert best == (0.0, pytest.approx(0.5))
    # an empty prediction against a punctuation-only gold: EM 1 ("" == ""), F1 0 (no tokens)
    assert cmrc_em_f1("", ["。"], sentences="line") == (1.0, 0.0)
    assert cmrc_em_f1("", ["北京"], sentences="line") == (0.0, 0.0)


def test_cmrc_metrics_count_a_missing_prediction_as_zero() -> None:
    refs = [("北京",), ("2020年",), ("三体",)]
    preds = ["北京", "iPhone 12于2020年发布", None]
    ctx = make_ctx(preds, refs, "zh")
    values, _, rows = score_task(ctx, [CmrcEM(sentences="line"), CmrcF1(sentences="line")])
    assert values["cmrc_em"].value == pytest.approx(100 / 3)
    assert values["cmrc_f1"].value == pytest.approx(100 * (1 + 4 / 9) / 3)
    assert values["cmrc_f1"].n == 3
    assert [r["cmrc_f1"] for r in rows] == pytest.approx([100.0, 400 / 9, 0.0])


def test_cmrc_refuses_a_question_without_gold_answers() -> None:
    with pytest.raises(DataError, match="no gold answer"):
        CmrcF1(sentences="line").score(make_ctx(["北京"], [()], "zh"))


def test_cmrc_punkt_sentences_match_word_tokenize(nltk_data: object) -> None:
    from nltk.tokenize import word_tokenize

    # Punkt ends a sentence after "t.f.", so the Treebank rules split its final period off;
    # as one line, the period stays with the abbreviation.
    assert word_tokenize("t.f. gilbert") == ["t.f", ".", "gilbert"]
    assert cmrc_segment("T.F. Gilbert", sentences="punkt") == ["t.f", ".", "gilbert"]
    assert cmrc_segment("T.F. Gilbert", sentences="line") == ["t.f.", "gilbert"]
    assert cmrc_segment("T.F. Gilbert", sentences="auto") == ["t.f", ".", "gilbert"]
    sig = CmrcF1().score(make_ctx(["北京"], [("北京",)], "zh"))[0].signature
    assert "|sent:punkt|" in sig


def test_cmrc_auto_without_punkt_uses_lines(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    assert cmrc_segment("T.F. Gilbert") == ["t.f.", "gilbert"]
    sig = CmrcF1().score(make_ctx(["北京"], [("北京",)], "zh"))[0].signature
    assert "|sent:line|" in sig


# --------------------------------------------------------------------------- CI, signatures


def test_bootstrap_interval_is_seeded_and_matches_a_plain_loop() -> None:
    rng = np.random.default_rng(0)
    golds = [("alpha beta",)] * 60
    preds = [["alpha beta", "alpha", "gamma"][int(k)] for k in rng.integers(0, 3, 60)]
    boot = BootstrapConfig(resamples=300, seed=11)
    value = SquadF1().score(make_ctx(preds, golds, bootstrap=boot))[0]
    again = SquadF1().score(make_ctx(preds, golds, bootstrap=boot))[0]
    assert (value.ci_low, value.ci_high) == (again.ci_low, again.ci_high)
    assert value.ci_low is not None and value.ci_high is not None
    assert value.ci_low <= value.value <= value.ci_high
    # the same resamples, averaged one by one
    per = np.array([{"alpha beta": 1.0, "alpha": 2 / 3, "gamma": 0.0}[p] for p in preds])
    idx = boot.resample_indices(60)
    means = np.array([100 * per[row].mean() for row in idx])
    low, high = np.quantile(means, [0.025, 0.975])
    assert value.ci_low == pytest.approx(low, abs=1e-9)
    assert value.ci_high == pytest.approx(high, abs=1e-9)
    other = SquadF1().score(make_ctx(preds, golds, bootstrap=BootstrapConfig(seed=12)))[0]
    assert other.value == value.value
    none = SquadF1().score(make_ctx(preds, golds, bootstrap=BootstrapConfig(resamples=0)))[0]
    assert none.ci_low is None and none.ci_high is None
    assert "ci:none" in none.signature


def test_signatures() -> None:
    ctx = make_ctx(["x"], [("x",)], bootstrap=BootstrapConfig())
    boot = "boot:1000|conf:0.95|seed:12345"
    assert SquadF1().score(ctx)[0].signature == (
        f"squad_f1|v1.1|norm:squad|multi:max|missing:miss|{boot}|v:1"
    )
    assert SquadEM().score(ctx)[0].signature.startswith("squad_em|v1.1|norm:squad|")
    assert Squad2F1().score(ctx)[0].signature == (
        f"squad2_f1|v2.0|norm:squad|noans:empty|multi:max|missing:miss|{boot}|v:1"
    )
    version = nltk.__version__
    assert CmrcF1(sentences="line").score(ctx)[0].signature == (
        f"cmrc_f1|cmrc2018|seg:mixed|nltk:{version}|sent:line|punct:cmrc2018|multi:max|"
        f"missing:miss|{boot}|v:1"
    )


def test_registry_names() -> None:
    expected = {
        "squad_em": SquadEM,
        "squad_f1": SquadF1,
        "squad2_em": Squad2EM,
        "squad2_f1": Squad2F1,
        "cmrc_em": CmrcEM,
        "cmrc_f1": CmrcF1,
    }
    for name, cls in expected.items():
        assert registry.get("metric", name) is cls
        assert cls.name == name
        assert cls.families == ("qa",)


def test_metrics_share_one_scoring_pass() -> None:
    ctx = make_ctx(["a b"], [("a b c",)])
    SquadEM().score(ctx)
    SquadF1().score(ctx)
    assert [k for k in ctx.memo if k.startswith("qa|")] == ["qa|squad1|-"]


def test_length_mismatch_is_refused() -> None:
    with pytest.raises(DataError, match="2 predictions but 1"):
        qa_scores(["a", "b"], [("a",)], "squad1")


def test_an_article_alone_is_an_empty_answer() -> None:
    # "a" normalises to empty: v1.1 gives F1 0 against "a b c" (-> "b c") although a token
    # "a" is shared before normalisation; "x" against "x y z" is P 1, R 1/3 -> F1 exactly 0.5
    assert SquadF1().score(make_ctx(["a"] * 10, [("a b c",)] * 10))[0].value == 0.0
    assert SquadF1().score(make_ctx(["x"] * 10, [("x y z",)] * 10))[0].value == 50.0
