"""MT metrics (BLEU, chrF/chrF++, TER), cross-checked against sacrebleu called directly.

Texts are real: slices of the WMT21 news test sets in ``../shared/data/wmt21-newstest2021``
(two human Chinese translations of the same English, two German ones, and the Chinese source
with its English reference). Hypotheses are one reference scored against the other, or a
reference with words dropped, so every score is between the extremes.
"""

from __future__ import annotations

import doctest
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError
from sacrebleu.metrics.bleu import BLEU as SacreBLEU
from sacrebleu.metrics.chrf import CHRF as SacreCHRF
from sacrebleu.metrics.ter import TER as SacreTER

import bench.metrics.mt as mt
import bench.metrics.paired as paired
from bench.errors import DataError, MissingDependency, UnknownName
from bench.families.generation import TextResponse
from bench.families.translation import TranslationRequest
from bench.metrics.base import BootstrapConfig, ScoringContext, score_task
from bench.metrics.mt import BLEU, CHRF, TER, corpus_stats
from bench.registry import registry
from bench.spec import TaskSpec, parse_task

WMT = "wmt21-newstest2021"

_TASK = """\
name: mt-test
version: 1
family: translation
languages: [{src}, {tgt}]
description: Carries a language pair for the MT metric tests.
source:
  kind: sacrebleu
  testset: wmt21
  langpair: {src}-{tgt}
  splits: {{test: test}}
metrics: [bleu, chrf, ter]
primary_metric: bleu
"""

_SPECS: dict[tuple[str, str], TaskSpec] = {}


def make_spec(src: str, tgt: str) -> TaskSpec:
    if (src, tgt) not in _SPECS:
        _SPECS[(src, tgt)] = parse_task(_TASK.format(src=src, tgt=tgt))
    return _SPECS[(src, tgt)]


def make_ctx(
    hyps: Sequence[str | None],
    refs: Sequence[tuple[str, ...]],
    *,
    src: str = "en",
    tgt: str = "zh",
    bootstrap: BootstrapConfig | None = None,
) -> ScoringContext:
    requests = [
        TranslationRequest(
            id=str(i),
            language=tgt,
            source=f"source {i}",
            source_language=src,
            target_language=tgt,
        )
        for i in range(len(refs))
    ]
    return ScoringContext(
        spec=make_spec(src, tgt),
        requests=requests,
        references=list(refs),
        responses=[None if h is None else TextResponse(text=h) for h in hyps],
        bootstrap=bootstrap or BootstrapConfig(resamples=0),
    )


def lines(shared_data: Path, name: str, n: int = 120) -> list[str]:
    path = shared_data / WMT / ("sources" if ".src." in name else "references") / name
    return path.read_text(encoding="utf-8").splitlines()[:n]


@pytest.fixture(scope="module")
def en_zh(request: pytest.FixtureRequest) -> dict[str, list[str]]:
    data = request.getfixturevalue("shared_data")
    return {
        "A": lines(data, "newstest2021.en-zh.ref.A.zh"),
        "B": lines(data, "newstest2021.en-zh.ref.B.zh"),
    }


@pytest.fixture(scope="module")
def en_de(request: pytest.FixtureRequest) -> dict[str, list[str]]:
    data = request.getfixturevalue("shared_data")
    return {
        "A": lines(data, "newstest2021.en-de.ref.A.de"),
        "C": lines(data, "newstest2021.en-de.ref.C.de"),
    }


def drop_words(text: str, every: int = 4) -> str:
    words = text.split()
    return " ".join(w for i, w in enumerate(words) if i % every != every - 1)


def value(ctx: ScoringContext, metric: Any) -> Any:
    (v,) = metric.score(ctx)
    return v


# --------------------------------------------------------------------------- registry, docs


def test_registry_names() -> None:
    assert registry.get("metric", "bleu") is BLEU
    assert registry.get("metric", "chrf") is CHRF
    assert registry.get("metric", "ter") is TER
    assert BLEU.higher_is_better and CHRF.higher_is_better and not TER.higher_is_better


def test_docstring_examples_run() -> None:
    result = doctest.testmod(mt, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 10
    assert result.failed == 0


# --------------------------------------------------------------------------- tokenizer choice


def test_tokenizer_map_is_sacrebleus() -> None:
    assert mt.BLEU_TOKENIZER_BY_LANGUAGE == SacreBLEU._TOKENIZER_MAP
    assert mt.DEFAULT_BLEU_TOKENIZER == SacreBLEU.TOKENIZER_DEFAULT


@pytest.mark.parametrize(
    ("src", "tgt", "tok"),
    [("en", "zh", "zh"), ("zh", "en", "13a"), ("en", "de", "13a"), ("en", "zh-Hans", "zh")],
)
def test_bleu_tokenizer_follows_target_language(src: str, tgt: str, tok: str) -> None:
    ctx = make_ctx(["猫坐在垫子上。 The cat."], [("猫坐在垫子上。 A cat.",)], src=src, tgt=tgt)
    v = value(ctx, BLEU())
    assert f"|tok:{tok}|" in v.signature
    expected = SacreBLEU(tokenize=tok).corpus_score(
        ["猫坐在垫子上。 The cat."], [["猫坐在垫子上。 A cat."]]
    )
    assert v.value == expected.score


def test_explicit_tokenizer_wins(en_zh: dict[str, list[str]]) -> None:
    ctx = make_ctx(en_zh["B"], [(a,) for a in en_zh["A"]], tgt="zh")
    v = value(ctx, BLEU(tokenize="char"))
    assert "|tok:char|" in v.signature
    expected = SacreBLEU(tokenize="char").corpus_score(en_zh["B"], [en_zh["A"]]).score
    assert v.value == expected
    assert v.value != value(ctx, BLEU()).value


def test_unknown_tokenizer_is_refused_at_construction() -> None:
    with pytest.raises(ValidationError, match="unknown sacrebleu tokenizer '13b'"):
        BLEU(tokenize="13b")
    with pytest.raises(ValidationError):
        BLEU(smooth_method="nist")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        CHRF(wordorder=2)  # type: ignore[call-arg]


@pytest.mark.parametrize(("lang", "package", "module"), [("ja", "sacrebleu[ja]", "MeCab")])
def test_mecab_tokenizer_missing_names_the_package(lang: str, package: str, module: str) -> None:
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed here")
    ctx = make_ctx(["猫が座った"], [("猫が座った",)], src="en", tgt=lang)
    # Asked for explicitly, a missing MeCab is an error that names the extra...
    with pytest.raises(MissingDependency, match=r"ja-mecab.*pip install 'sacrebleu\[ja\]'"):
        BLEU(tokenize="ja-mecab").score(ctx)
    # ...by default BLEU falls back to 13a, as sacrebleu -l en-ja does, and says so.
    v = value(ctx, BLEU())
    assert "|tok:13a|" in v.signature
    # chrF and TER need no tokenizer and still score.
    assert value(ctx, CHRF()).value == 100.0


def test_ko_mecab_missing_names_the_package() -> None:
    if importlib.util.find_spec("mecab_ko") is not None:
        pytest.skip("mecab_ko is installed here")
    with pytest.raises(MissingDependency, match=r"pip install 'sacrebleu\[ko\]'"):
        BLEU(tokenize="ko-mecab").scorer("ko")
    from bench.metrics.mt import bleu_tokenizer_for

    assert bleu_tokenizer_for("ko") == "13a"


def test_chinese_bleu_needs_the_zh_tokenizer(en_zh: dict[str, list[str]]) -> None:
    """Two human translations of the same news, one scored against the other.

    With ``zh`` every Chinese character is a token and the translations share many n-grams;
    with ``13a`` an unsegmented clause is one "word", so almost nothing matches and BLEU
    collapses: the default tokenizer is what makes Chinese BLEU mean anything.
    """
    ctx = make_ctx(en_zh["B"], [(a,) for a in en_zh["A"]], tgt="zh")
    zh = value(ctx, BLEU()).value
    v13a = value(ctx, BLEU(tokenize="13a")).value
    assert zh == SacreBLEU(tokenize="zh").corpus_score(en_zh["B"], [en_zh["A"]]).score
    assert v13a == SacreBLEU(tokenize="13a").corpus_score(en_zh["B"], [en_zh["A"]]).score
    assert zh > 20
    assert v13a < zh / 3


# --------------------------------------------------------------------------- values, failures


def test_values_equal_sacrebleu_corpus_score(en_de: dict[str, list[str]]) -> None:
    hyps = [drop_words(c) for c in en_de["C"]]
    ctx = make_ctx(hyps, [(a,) for a in en_de["A"]], tgt="de")
    streams = [en_de["A"]]
    assert value(ctx, BLEU()).value == SacreBLEU().corpus_score(hyps, streams).score
    assert value(ctx, CHRF()).value == SacreCHRF().corpus_score(hyps, streams).score
    assert value(ctx, TER()).value == SacreTER().corpus_score(hyps, streams).score


def test_none_response_scores_as_empty_hypothesis(en_de: dict[str, list[str]]) -> None:
    hyps: list[str | None] = list(en_de["C"][:30])
    hyps[3] = None
    hyps[17] = None
    as_text = ["" if h is None else h for h in hyps]
    refs = en_de["A"][:30]
    ctx = make_ctx(hyps, [(a,) for a in refs], tgt="de")
    assert ctx.n == 30
    for metric, sacre in ((BLEU(), SacreBLEU()), (CHRF(), SacreCHRF()), (TER(), SacreTER())):
        v = value(ctx, metric)
        assert v.n == 30
        assert v.value == sacre.corpus_score(as_text, [refs]).score
    full = make_ctx(list(en_de["C"][:30]), [(a,) for a in refs], tgt="de")
    assert value(ctx, BLEU()).value < value(full, BLEU()).value
    assert value(ctx, TER()).value > value(full, TER()).value
    _, _, rows = score_task(ctx, [BLEU(), CHRF(), TER()])
    assert rows[3] == {"sentence_bleu": 0.0, "sentence_chrf": 0.0, "sentence_ter": 100.0}


def test_multi_reference(en_zh: dict[str, list[str]]) -> None:
    hyps = [drop_words(b, 3) + a[:4] for a, b in zip(en_zh["A"], en_zh["B"], strict=True)]
    refs = list(zip(en_zh["A"], en_zh["B"], strict=True))
    ctx = make_ctx(hyps, refs, tgt="zh")
    streams = [en_zh["A"], en_zh["B"]]
    bleu = value(ctx, BLEU())
    assert bleu.value == SacreBLEU(tokenize="zh").corpus_score(hyps, streams).score
    assert bleu.signature.startswith("bleu|nrefs:2|case:mixed|eff:no|tok:zh|smooth:exp|version:")
    assert value(ctx, CHRF()).value == SacreCHRF().corpus_score(hyps, streams).score
    # TER on the first 40 lines: tercom's shift search over Chinese characters is slow.
    head = make_ctx(hyps[:40], refs[:40], tgt="zh")
    sacre_ter = SacreTER(normalized=True, asian_support=True)
    assert (
        value(head, TER()).value
        == sacre_ter.corpus_score(hyps[:40], [s[:40] for s in streams]).score
    )
    single = make_ctx(hyps, [(a,) for a in en_zh["A"]], tgt="zh")
    assert bleu.value > value(single, BLEU()).value
    assert "nrefs:1|" in value(single, BLEU()).signature


def test_chrf_plus_plus(en_de: dict[str, list[str]]) -> None:
    hyps = [drop_words(c, 5) for c in en_de["C"]]
    ctx = make_ctx(hyps, [(a,) for a in en_de["A"]], tgt="de")
    v = value(ctx, CHRF(word_order=2))
    sacre = SacreCHRF(word_order=2)
    assert v.value == sacre.corpus_score(hyps, [en_de["A"]]).score
    assert v.name == "chrf"
    assert v.signature.startswith(f"chrf|{sacre.get_signature().format()}|")
    assert "|nw:2|" in v.signature
    assert v.value != value(ctx, CHRF()).value


def test_ter_options_follow_the_target_language() -> None:
    # Normalised with CJK support for CJK targets (tercom would see one word per unspaced
    # sentence); both off otherwise, as sacrebleu's CLI.
    assert TER().normalized_for("zh") and TER().asian_support_for("zh")
    assert not TER().normalized_for("en") and not TER().asian_support_for("en")
    assert TER(no_punct=True).asian_support_for("ja-JP")
    assert not TER(normalized=True).asian_support_for("en")
    assert not TER(asian_support=False).asian_support_for("zh")
    assert not TER(normalized=False).asian_support_for("zh")
    ctx = make_ctx(["猫 坐在 垫子上"], [("猫 坐 在 垫子 上",)], tgt="zh")
    v = value(ctx, TER())
    assert "|asian:yes|" in v.signature and "|norm:yes|" in v.signature
    # Normalisation with CJK support splits CJK into characters, which is what moves the number.
    assert (
        v.value
        == SacreTER(normalized=True, asian_support=True)
        .sentence_score("猫 坐在 垫子上", ["猫 坐 在 垫子 上"])
        .score
        == 0.0
    )
    # The tercom default (what bench did before) sees whole chunks as words.
    plain = value(ctx, TER(normalized=False))
    assert "|asian:no|" in plain.signature and "|norm:no|" in plain.signature
    assert plain.value > 0
    # Without normalisation or punctuation removal, asian support changes only the signature.
    assert plain.value == value(ctx, TER(normalized=False, asian_support=True)).value


# --------------------------------------------------------------------------- signatures, CIs


def test_signature_is_sacrebleus_between_name_and_bootstrap(en_de: dict[str, list[str]]) -> None:
    boot = BootstrapConfig(resamples=200, seed=7)
    ctx = make_ctx(en_de["C"], [(a,) for a in en_de["A"]], tgt="de", bootstrap=boot)
    for metric, sacre in ((BLEU(), SacreBLEU()), (CHRF(), SacreCHRF()), (TER(), SacreTER())):
        sacre.corpus_score(en_de["C"], [en_de["A"]])
        v = value(ctx, metric)
        assert v.signature == f"{metric.name}|{sacre.get_signature().format()}|{boot.tag()}"
    assert value(ctx, BLEU()).signature.endswith("|boot:200|conf:0.95|seed:7")
    assert value(ctx, TER()).higher_is_better is False


def test_ci_contains_value_and_is_seeded(en_de: dict[str, list[str]]) -> None:
    hyps = [drop_words(c) for c in en_de["C"]]
    refs = [(a,) for a in en_de["A"]]
    boot = BootstrapConfig(resamples=500)
    for metric in (BLEU(), CHRF(), TER()):
        v = value(make_ctx(hyps, refs, tgt="de", bootstrap=boot), metric)
        assert v.ci_low is not None and v.ci_high is not None
        assert v.ci_low < v.value < v.ci_high
        again = value(make_ctx(hyps, refs, tgt="de", bootstrap=boot), metric)
        assert (again.ci_low, again.ci_high) == (v.ci_low, v.ci_high)
        other = value(
            make_ctx(hyps, refs, tgt="de", bootstrap=BootstrapConfig(resamples=500, seed=1)),
            metric,
        )
        assert (other.ci_low, other.ci_high) != (v.ci_low, v.ci_high)
        assert other.value == v.value


def test_no_resamples_no_interval(en_de: dict[str, list[str]]) -> None:
    ctx = make_ctx(en_de["C"], [(a,) for a in en_de["A"]], tgt="de")
    for metric in (BLEU(), CHRF(), TER()):
        v = value(ctx, metric)
        assert v.ci_low is None and v.ci_high is None
        assert v.signature.endswith("|ci:none")


def test_bootstrap_matches_sacrebleu_per_resample(en_zh: dict[str, list[str]]) -> None:
    """The vectorised formulas give ``_compute_score_from_stats`` of every resample's sums."""
    hyps = [drop_words(b, 3) for b in en_zh["B"]]
    hyps[5] = ""
    refs = list(zip(en_zh["A"], en_zh["B"], strict=True))
    idx = BootstrapConfig(resamples=100, seed=3).resample_indices(len(hyps))
    metrics: list[Any] = [
        BLEU(),
        BLEU(smooth_method="floor"),
        BLEU(smooth_method="add-k", smooth_value=0.5),
        BLEU(smooth_method="none"),
        BLEU(tokenize="13a"),  # many zero n-gram matches: exercises smoothing and early exits
        CHRF(),
        CHRF(word_order=2, beta=1),
        TER(),
    ]
    for metric in metrics:
        stats = corpus_stats(metric, hyps, refs, language="zh")
        fast = stats.resample_scores(idx)
        slow = [
            stats.scorer._compute_score_from_stats(
                [sum(stats.rows[i][j] for i in row) for j in range(len(stats.rows[0]))]
            ).score
            for row in idx
        ]
        np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12, err_msg=str(metric))


def test_bleu_vector_edge_cases() -> None:
    """Empty system, no matches, short segments (no 4-grams), effective order."""
    rows = np.array(
        [
            [0, 5, 0, 0, 0, 0, 0, 0, 0, 0],  # empty hypothesis
            [3, 4, 0, 0, 0, 0, 3, 2, 1, 0],  # no matches at all
            [3, 3, 3, 2, 1, 0, 3, 2, 1, 0],  # no 4-grams: total[3] == 0
            [6, 5, 5, 3, 0, 0, 6, 5, 4, 3],  # longer than reference, 3-gram miss
            [6, 9, 6, 5, 4, 3, 6, 5, 4, 3],  # brevity penalty
        ],
        dtype=float,
    )
    for eff in (False, True):
        for smooth in ("exp", "floor", "add-k", "none"):
            sacre = SacreBLEU(smooth_method=smooth, effective_order=eff)
            fast = mt._bleu_vector(
                rows, smooth_method=smooth, smooth_value=None, effective_order=eff
            )
            slow = [sacre._compute_score_from_stats([int(x) for x in r]).score for r in rows]
            np.testing.assert_allclose(fast, slow, rtol=1e-12, err_msg=f"{smooth} eff={eff}")


@pytest.mark.parametrize("metric", [CHRF(), CHRF(word_order=2, beta=3), TER()], ids=str)
def test_chrf_ter_vector_edge_cases(metric: Any) -> None:
    """Segments shorter than the n-gram orders, empty hypotheses and empty references."""
    hyps = ["a", "", "ab c", "猫", "the cat sat", "x", "", "Ein Satz."]
    refs = [("a",), ("abc",), ("ab cd",), ("猫狗",), ("the cat",), ("",), ("",), ("Ein Satz!",)]
    stats = corpus_stats(metric, hyps, refs, language="en")
    one_by_one = stats.vector_score(stats.matrix)  # each row on its own: sentence scores
    sacre = [stats.scorer._compute_score_from_stats(list(row)).score for row in stats.rows]
    np.testing.assert_allclose(one_by_one, sacre, rtol=1e-12, atol=1e-12)
    pairs = stats.matrix[[0, 1, 2, 3]] + stats.matrix[[5, 6, 3, 0]]  # sums of two rows
    sacre_pairs = [stats.scorer._compute_score_from_stats(list(row)).score for row in pairs]
    np.testing.assert_allclose(stats.vector_score(pairs), sacre_pairs, rtol=1e-12, atol=1e-12)


def test_resample_sums_in_blocks(
    monkeypatch: pytest.MonkeyPatch, en_de: dict[str, list[str]]
) -> None:
    stats = corpus_stats("chrf", en_de["C"], [(a,) for a in en_de["A"]], language="de")
    idx = BootstrapConfig(resamples=137).resample_indices(len(en_de["C"]))
    whole = stats.resample_sums(idx)
    monkeypatch.setattr(paired, "BLOCK_CELLS", 5 * len(en_de["C"]))
    assert np.array_equal(stats.resample_sums(idx), whole)
    assert np.array_equal(whole[0], stats.matrix[idx[0]].sum(axis=0))


# --------------------------------------------------------------------------- sentence scores


def test_sentence_scores_use_effective_order(en_de: dict[str, list[str]]) -> None:
    hyps = [drop_words(c) for c in en_de["C"][:40]] + ["Das ist", ""]
    refs = [(a,) for a in en_de["A"][:40]] + [("Das ist gut",), ("Ein Satz.",)]
    ctx = make_ctx(hyps, refs, tgt="de")
    _, _, rows = score_task(ctx, [BLEU(), CHRF(), TER()])
    assert len(rows) == len(hyps)
    sent_bleu = SacreBLEU(effective_order=True)
    for row, hyp, ref in zip(rows, hyps, refs, strict=True):
        assert set(row) == {"sentence_bleu", "sentence_chrf", "sentence_ter"}
        assert row["sentence_bleu"] == sent_bleu.sentence_score(hyp, list(ref)).score
        assert row["sentence_chrf"] == SacreCHRF().sentence_score(hyp, list(ref)).score
        assert row["sentence_ter"] == SacreTER().sentence_score(hyp, list(ref)).score
    # A two-word segment has no 3- or 4-grams: without effective order its BLEU would be 0.
    assert (rows[40]["sentence_bleu"] or 0.0) > 50
    assert SacreBLEU().sentence_score("Das ist", ["Das ist gut"]).score == 0.0


def test_sentence_scores_multi_reference(en_zh: dict[str, list[str]]) -> None:
    hyps = [drop_words(b, 2) for b in en_zh["B"][:25]]
    refs = list(zip(en_zh["A"][:25], en_zh["B"][:25], strict=True))
    ctx = make_ctx(hyps, refs, tgt="zh")
    (column,) = BLEU().per_example(ctx).values()
    sacre = SacreBLEU(tokenize="zh", effective_order=True)
    assert column == [
        sacre.sentence_score(h, list(r)).score for h, r in zip(hyps, refs, strict=True)
    ]


# --------------------------------------------------------------------------- reference layout


def test_flat_references_are_refused(en_de: dict[str, list[str]]) -> None:
    hyps = en_de["C"][:10]
    flat: Any = en_de["A"][:10]  # a list of strings, not one tuple per example
    ctx = make_ctx(hyps, [(a,) for a in flat], tgt="de")
    ctx.references = flat
    for metric in (BLEU(), CHRF(), TER()):
        with pytest.raises(DataError, match="flat list"):
            metric.score(ctx)
    with pytest.raises(DataError, match="flat list"):
        corpus_stats("bleu", hyps, flat, language="de")


def test_transposed_references_are_refused(en_de: dict[str, list[str]]) -> None:
    """K streams × N segments passed where N examples × K references are expected."""
    hyps = en_de["C"][:10]
    streams = [tuple(en_de["A"][:10]), tuple(en_de["C"][:10])]  # 2 × 10, not 10 × 2
    ctx = make_ctx(hyps, [(a, c) for a, c in zip(*streams, strict=True)], tgt="de")
    ctx.references = streams
    for metric in (BLEU(), CHRF(), TER()):
        with pytest.raises(DataError, match="2 examples have references but there are 10"):
            metric.score(ctx)
    with pytest.raises(DataError, match="N examples × K references"):
        corpus_stats("chrf", hyps, streams, language="de")


def test_ragged_references_are_refused(en_de: dict[str, list[str]]) -> None:
    hyps = en_de["C"][:3]
    ragged = [(en_de["A"][0], en_de["C"][0]), (en_de["A"][1],), (en_de["A"][2], en_de["C"][2])]
    with pytest.raises(DataError, match="different numbers of references"):
        corpus_stats("ter", hyps, ragged, language="de")
    with pytest.raises(DataError, match="reference 0 is NoneType"):
        corpus_stats("ter", hyps, [(None,), ("a",), ("b",)], language="de")  # type: ignore[list-item]


def test_stream_length_must_match_hypotheses(en_de: dict[str, list[str]]) -> None:
    with pytest.raises(DataError, match="stream 1 has 9 segments for 10 hypotheses"):
        BLEU().statistics(en_de["C"][:10], [en_de["A"][:10], en_de["A"][:9]], "de")


def test_mixed_target_languages_are_refused() -> None:
    ctx = make_ctx(["a", "b"], [("a",), ("b",)], tgt="en")
    ctx.requests = [
        ctx.requests[0],
        TranslationRequest(
            id="1", language="zh", source="b", source_language="en", target_language="zh"
        ),
    ]
    with pytest.raises(DataError, match="different target languages"):
        BLEU().score(ctx)


def test_no_examples_is_unavailable_not_a_value() -> None:
    ctx = make_ctx([], [], tgt="de")
    values, skipped, rows = score_task(ctx, [BLEU(), CHRF(), TER()])
    assert values == {} and rows == []
    assert skipped == {name: "no examples to score" for name in ("bleu", "chrf", "ter")}


def test_corpus_stats_unknown_metric() -> None:
    with pytest.raises(UnknownName, match="did you mean 'bleu'"):
        corpus_stats("blue", ["a"], [("a",)], language="en")


def test_statistics_refuses_an_empty_corpus() -> None:
    with pytest.raises(DataError, match="nothing to score"):
        BLEU().statistics([], [], "en")
    with pytest.raises(DataError, match="nothing to score"):
        TER().statistics(["a"], [], "en")


# --------------------------------------------------------------------------- chunked statistics


def test_chunked_statistics_equal_sacrebleu_across_chunks(shared_data: Path) -> None:
    # The 1,002 WMT21 en-de segments and 298 of them again with the references swapped: 1,300
    # segments cross a chunk boundary (bench.streaming.CHUNK = 1024). Every value, signature and
    # sentence score is sacrebleu's on the whole corpus. Some second references are '' in the
    # last chunk only (sacrebleu matches against what is left).
    ref_a = lines(shared_data, "newstest2021.en-de.ref.A.de", 2000)
    ref_b = lines(shared_data, "newstest2021.en-de.ref.C.de", 2000)
    a, b = ref_a + ref_b[:298], ref_b + ref_a[:298]
    n = len(a)
    assert n > mt.CHUNK
    b2 = [("" if i > mt.CHUNK and i % 7 == 0 else r) for i, r in enumerate(b)]
    hyps: list[str | None] = [drop_words(x, 3) for x in b]
    hyps[5] = None
    texts = ["" if h is None else h for h in hyps]
    ctx = make_ctx(hyps, list(zip(a, b2, strict=True)), tgt="de")
    for metric, sacre in ((BLEU(), SacreBLEU()), (CHRF(word_order=2), SacreCHRF(word_order=2))):
        got = value(ctx, metric)
        want = sacre.corpus_score(texts, [a, b2])
        assert got.value == want.score, metric.name
        assert f"|{sacre.get_signature().format()}|" in got.signature
    _, _, rows = score_task(ctx, [BLEU()])
    sentence = SacreBLEU(effective_order=True)
    for i in (0, 5, mt.CHUNK - 1, mt.CHUNK, n - 1):
        refs = [r for r in (a[i], b2[i]) if r]
        assert rows[i]["sentence_bleu"] == sentence.sentence_score(texts[i], refs).score
    # TER (float statistics, summed in sacrebleu's order) on the first five words of each
    # segment: tercom's shift search is too slow for whole WMT sentences in a unit test.
    short = [" ".join(t.split()[:5]) for t in texts]
    ref_short = [" ".join(t.split()[:5]) for t in a]
    ter = value(make_ctx(short, [(r,) for r in ref_short], tgt="de"), TER())
    assert ter.value == SacreTER().corpus_score(short, [ref_short]).score


def test_tokenized_period_warning_counts_the_whole_corpus(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # 150 tokenized lines, fewer than 100 in any one chunk: warned once, as sacrebleu would.
    hyps = [f"line {i} ." if i % 10 == 0 else f"line {i}" for i in range(1500)]
    refs = [(f"line {i}.",) for i in range(1500)]
    with caplog.at_level("WARNING", logger="sacrebleu"):
        value(make_ctx(hyps, refs, tgt="en"), BLEU())
    warned = [r for r in caplog.records if "tokenized period" in r.getMessage()]
    assert len(warned) == 1 and "150 hypotheses" in warned[0].getMessage()
    caplog.clear()
    with caplog.at_level("WARNING", logger="sacrebleu"):
        value(make_ctx(hyps, refs, tgt="en"), BLEU(force=True))
    assert not [r for r in caplog.records if "tokenized" in r.getMessage()]
