"""IBM Model 1: EM checked against a plain reference implementation, and real translation.

The smoke corpus (bench/builtin/smoke/translation-zh-en) is our own Chinese-English parallel
text: the model is trained on its train split in both directions and must beat the copy
baseline's BLEU on its test split, scored with sacrebleu's corpus BLEU (``13a`` into English,
``zh`` into Chinese).
"""

from __future__ import annotations

import doctest
import json
import math
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bench.adapters.ibm1 as ibm1
from bench.adapters.base import make_adapter
from bench.adapters.generation import CopyBaseline
from bench.adapters.ibm1 import NULL, IBM1Baseline, detokenize, word_tokens
from bench.errors import AdapterError, ModelSpecError
from bench.families.generation import TextResponse
from bench.families.summarization import SummarizationRequest
from bench.families.translation import TranslationRequest
from bench.registry import registry

SMOKE = Path(ibm1.__file__).resolve().parents[1] / "builtin" / "smoke" / "translation-zh-en"

Example = tuple[TranslationRequest, tuple[str, ...]]


def _rows(split: str) -> list[dict[str, Any]]:
    path = SMOKE / f"{split}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _examples(rows: list[dict[str, Any]], src: str, tgt: str) -> list[Example]:
    return [
        (
            TranslationRequest(
                id=row["id"],
                language=tgt,
                source=row[src],
                source_language=src,
                target_language=tgt,
            ),
            (row[tgt],),
        )
        for row in rows
    ]


def _request(i: int, text: str, src: str = "de", tgt: str = "en") -> TranslationRequest:
    return TranslationRequest(
        id=str(i), language=tgt, source=text, source_language=src, target_language=tgt
    )


def _texts(model: Any, requests: list[TranslationRequest]) -> list[str]:
    responses = model.predict(requests)
    assert len(responses) == len(requests)
    assert all(isinstance(r, TextResponse) for r in responses)
    return [r.text for r in responses]


def _bleu(hypotheses: list[str], references: list[str], tokenize: str) -> float:
    import sacrebleu

    return float(sacrebleu.corpus_bleu(hypotheses, [references], tokenize=tokenize).score)


@pytest.fixture(scope="module")
def train_rows() -> list[dict[str, Any]]:
    rows = _rows("train")
    assert len(rows) >= 500
    return rows


@pytest.fixture(scope="module")
def test_rows() -> list[dict[str, Any]]:
    rows = _rows("test")
    assert len(rows) >= 150
    return rows


HAUS = [("das Haus", "the house"), ("das Buch", "the book"), ("ein Buch", "a book")]


def _haus_model(iterations: int = 10) -> IBM1Baseline:
    model = IBM1Baseline(iterations=iterations)
    model.fit([(_request(i, de), (en,)) for i, (de, en) in enumerate(HAUS)])
    return model


def _reference_model1(
    pairs: list[tuple[list[str], list[str]]], iterations: int
) -> tuple[dict[tuple[str, str], float], list[float]]:
    """IBM Model 1 EM written out as in Koehn (2010, figure 4.3), with a NULL word.

    Returns ``t[(e, f)]`` and the per-target-word log-likelihood before each iteration and
    after the last (without the constant ``log ε``).
    """
    e_vocab = {e for _, es in pairs for e in es}
    t: dict[tuple[str, str], float] = defaultdict(lambda: 1.0 / len(e_vocab))
    history = []
    for step in range(iterations + 1):
        count: dict[tuple[str, str], float] = defaultdict(float)
        total: dict[str, float] = defaultdict(float)
        loglik, words = 0.0, 0
        for fs, es in pairs:
            fs = [NULL, *fs]
            for e in es:
                z = sum(t[(e, f)] for f in fs)
                loglik += math.log(z) - math.log(len(fs))
                words += 1
                for f in fs:
                    c = t[(e, f)] / z
                    count[(e, f)] += c
                    total[f] += c
        history.append(loglik / words)
        if step == iterations:
            break
        t = defaultdict(float, {(e, f): c / total[f] for (e, f), c in count.items()})
    return dict(t), history


# -- protocol -----------------------------------------------------------------------------------


def test_registry_name_params_and_families() -> None:
    assert registry.get("adapter", "baseline:ibm1") is IBM1Baseline
    model = make_adapter("baseline:ibm1,iterations=3,max_vocab=100")
    assert isinstance(model, IBM1Baseline)
    assert model.name == "baseline:ibm1"
    assert (model.params.iterations, model.params.max_vocab) == (3, 100)
    assert IBM1Baseline.requires_training
    assert model.supports("translation")
    assert not model.supports("summarization")
    with pytest.raises(ModelSpecError, match="iterations"):
        make_adapter("baseline:ibm1,iterations=0")
    with pytest.raises(ModelSpecError, match="did you mean 'lowercase'"):
        make_adapter("baseline:ibm1,lowercas=false")


def test_fingerprints_differ_by_params() -> None:
    prints = {
        IBM1Baseline().fingerprint(),
        IBM1Baseline(iterations=5).fingerprint(),
        IBM1Baseline(lowercase=False).fingerprint(),
        IBM1Baseline(max_vocab=1000).fingerprint(),
        IBM1Baseline(min_prob=0.1).fingerprint(),
    }
    assert len(prints) == 5
    assert IBM1Baseline().fingerprint() == IBM1Baseline().fingerprint()


def test_predict_before_fit_and_bad_input_are_loud_errors() -> None:
    with pytest.raises(AdapterError, match="before fit"):
        IBM1Baseline().predict([_request(0, "das Haus")])
    with pytest.raises(AdapterError, match="empty"):
        IBM1Baseline().fit([])
    summary = SummarizationRequest(id="1", language="en", document="x")
    with pytest.raises(AdapterError, match="expected translation requests"):
        IBM1Baseline().fit([(summary, ("x",))])
    model = _haus_model()
    with pytest.raises(AdapterError, match="trained on de→en"):
        model.predict([_request(1, "das Haus", src="fr")])
    mixed = [(_request(0, "das Haus"), ("the house",)), (_request(1, "la maison", "fr"), ("x",))]
    with pytest.raises(AdapterError, match="mixes language pairs"):
        IBM1Baseline().fit(mixed)
    with pytest.raises(AdapterError, match="no train pair"):
        IBM1Baseline().fit([(_request(0, "  "), ("the house",))])


def test_module_docstring_examples_run() -> None:
    result = doctest.testmod(ibm1, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 5
    assert result.failed == 0


# -- EM -----------------------------------------------------------------------------------------


def test_das_haus_the_classic_example() -> None:
    """Koehn (2010, section 4.2.3): EM learns that Haus is house, das is the, Buch is book."""
    model = _haus_model(iterations=10)
    t = model.translation_probability
    for f, e in [("haus", "house"), ("das", "the"), ("buch", "book"), ("ein", "a")]:
        best = max(["the", "house", "book", "a"], key=lambda w, f=f: t(w, f))
        assert best == e, f
        assert t(e, f) > 0.9
        assert model.translations(f, 1)[0][0] == e
    assert t("house", "haus") > t("the", "haus")
    # Words that never co-occur get no probability at all (the table is sparse).
    assert t("a", "haus") == 0.0
    assert t("house", "ein") == 0.0
    # Every t(· | f) is a distribution.
    for f in ["das", "haus", "buch", "ein", NULL]:
        assert sum(p for _, p in model.translations(f, 10)) == pytest.approx(1.0, abs=1e-12)
    assert _texts(model, [_request(9, "ein Haus"), _request(10, "das Buch.")]) == [
        "A house",
        "The book.",
    ]


def test_em_equals_a_plain_reference_implementation(train_rows: list[dict[str, Any]]) -> None:
    rows = train_rows[:80]
    examples = _examples(rows, "zh", "en")
    model = IBM1Baseline(iterations=6)
    model.fit(examples)
    pairs = [
        (
            [w.lower() for w in word_tokens(r.source, "zh")],
            [w.lower() for w in word_tokens(refs[0], "en")],
        )
        for r, refs in examples
    ]
    t, history = _reference_model1(pairs, iterations=6)
    np.testing.assert_allclose(model.log_likelihood, history, rtol=0, atol=1e-10)
    nonzero = {k: v for k, v in t.items() if v > 0}
    assert model.info()["translation_pairs"] == len(nonzero)
    for (e, f), p in nonzero.items():
        assert model.translation_probability(e, f) == pytest.approx(p, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize(("src", "tgt"), [("zh", "en"), ("en", "zh")])
def test_log_likelihood_never_decreases(
    train_rows: list[dict[str, Any]], src: str, tgt: str
) -> None:
    model = IBM1Baseline(iterations=15)
    model.fit(_examples(train_rows, src, tgt))
    ll = np.asarray(model.log_likelihood)
    assert len(ll) == 16
    assert np.all(np.isfinite(ll))
    assert np.all(np.diff(ll) >= -1e-12), ll
    assert ll[-1] > ll[0] + 0.5  # EM really moved away from the uniform start
    info = model.info()
    assert info["log_likelihood_per_word"] == model.log_likelihood
    assert info["iterations"] == 15
    assert info["train_pairs"] == len(train_rows)
    # Sparse: far fewer parameters than the dense |F| x |E| table.
    assert info["translation_pairs"] < info["source_vocabulary"] * info["target_vocabulary"] / 20


def test_max_vocab_shares_unk_and_still_trains(train_rows: list[dict[str, Any]]) -> None:
    model = IBM1Baseline(max_vocab=200)
    model.fit(_examples(train_rows, "en", "zh"))
    info = model.info()
    assert info["source_vocabulary"] == 200 + 2  # NULL and <unk>
    assert info["target_vocabulary"] == 200 + 1  # <unk>
    assert np.all(np.diff(model.log_likelihood) >= -1e-12)
    # A rare source word is copied through, never translated as "<unk>".
    (text,) = _texts(model, [_request(0, "Zanzibar is far.", "en", "zh")])
    assert "Zanzibar" in text
    assert "<unk>" not in text


# -- translation --------------------------------------------------------------------------------


@pytest.mark.parametrize(("src", "tgt", "tokenize"), [("zh", "en", "13a"), ("en", "zh", "zh")])
def test_ibm1_beats_copy_on_the_smoke_test_set(
    train_rows: list[dict[str, Any]],
    test_rows: list[dict[str, Any]],
    src: str,
    tgt: str,
    tokenize: str,
) -> None:
    model = IBM1Baseline()
    tick = time.perf_counter()
    model.fit(_examples(train_rows, src, tgt))
    seconds = time.perf_counter() - tick
    test = _examples(test_rows, src, tgt)
    requests = [r for r, _ in test]
    references = [refs[0] for _, refs in test]
    ibm1_bleu = _bleu(_texts(model, requests), references, tokenize)
    copy_bleu = _bleu(_texts(CopyBaseline(), requests), references, tokenize)
    info = model.info()
    print(
        f"\n{src}->{tgt}: IBM1 BLEU {ibm1_bleu:.2f} vs copy {copy_bleu:.2f} "
        f"(tokenize={tokenize}; {len(train_rows)} train pairs, {len(test)} test; "
        f"|F|={info['source_vocabulary']}, |E|={info['target_vocabulary']}; "
        f"trained in {seconds:.2f}s)"
    )
    assert copy_bleu < 1.0
    assert ibm1_bleu > copy_bleu + 2.0


def test_training_and_translation_are_deterministic(train_rows: list[dict[str, Any]]) -> None:
    examples = _examples(train_rows, "zh", "en")
    requests = [r for r, _ in examples[:50]]
    a, b = IBM1Baseline(), IBM1Baseline()
    a.fit(examples)
    b.fit(list(examples))
    assert a.log_likelihood == b.log_likelihood
    assert a.info() == b.info()
    assert _texts(a, requests) == _texts(b, requests)
    # Batching does not matter: one request at a time gives the same answers.
    assert [_texts(a, [r])[0] for r in requests[:10]] == _texts(a, requests[:10])


def test_source_tokens_are_used_when_present() -> None:
    model = IBM1Baseline()
    model.fit(
        [
            (
                _request(0, "das Haus").model_copy(update={"source_tokens": ("das", "Haus")}),
                ("the house",),
            ),
            (
                _request(1, "das Buch").model_copy(update={"source_tokens": ("das", "Buch")}),
                ("the book",),
            ),
            (
                _request(2, "ein Buch").model_copy(update={"source_tokens": ("ein", "Buch")}),
                ("a book",),
            ),
        ]
    )
    # The text says one thing, the tokens another: the tokens win.
    request = _request(3, "ignored text").model_copy(update={"source_tokens": ("ein", "Haus")})
    assert _texts(model, [request]) == ["A house"]


def test_unknown_words_numbers_and_names_are_copied_through() -> None:
    model = _haus_model()
    assert _texts(model, [_request(0, "das Haus Nr. 42 in Berlin")]) == [
        "The house Nr. 42 in Berlin"
    ]


def test_lowercase_off_keeps_case_apart() -> None:
    model = IBM1Baseline(lowercase=False)
    model.fit([(_request(i, de), (en,)) for i, (de, en) in enumerate(HAUS)])
    assert model.translation_probability("house", "Haus") > 0.9
    assert model.translation_probability("house", "haus") == 0.0


def test_chinese_unknown_words_back_off_to_known_words(
    train_rows: list[dict[str, Any]],
) -> None:
    model = IBM1Baseline()
    model.fit(_examples(train_rows, "zh", "en"))
    vocab = model._source_vocab
    assert "电脑" in vocab and "屏幕" in vocab and "电脑屏幕" not in vocab
    assert model._known_pieces("电脑屏幕") == ["电脑", "屏幕"]
    assert model._known_pieces("电脑") == ["电脑"]
    (text,) = _texts(model, [_request(0, "电脑屏幕", "zh", "en")])
    assert "电脑" not in text


def test_tokenize_and_detokenize() -> None:
    assert word_tokens("Don't pay $3.50, it's 10,000 yuan!", "en") == [
        "Don't", "pay", "$", "3.50", ",", "it's", "10,000", "yuan", "!",
    ]  # fmt: skip
    assert word_tokens("我们明天去北京。", "zh") == ["我们", "明天", "去", "北京", "。"]
    assert detokenize(["hello", ",", "world", "!"], "en") == "Hello, world!"
    assert detokenize(["“", "yes", "”", ",", "she", "said", "."], "en") == "“Yes”, she said."
    assert detokenize([",", "ok"], "en") == ", Ok"
    assert detokenize(["he", "said", '"', "no", '"', "."], "en") == 'He said "no".'
    assert detokenize(["the", "students", "'", "books"], "en") == "The students' books"
    assert detokenize([], "en") == ""
    assert detokenize(["我们", "用", "iphone", "15", "拍照", "。"], "zh") == "我们用iphone 15拍照。"
