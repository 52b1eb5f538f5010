"""Copy, lead-k and TextRank baselines on the built-in smoke documents and hand-made texts."""

from __future__ import annotations

import doctest
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bench.adapters.generation as generation
from bench.adapters.base import make_adapter
from bench.adapters.generation import (
    CopyBaseline,
    LeadK,
    TextRank,
    apply_budget,
    budget_length,
    pagerank,
)
from bench.errors import AdapterError, ModelSpecError
from bench.families.generation import TextResponse
from bench.families.sentiment import SentimentRequest
from bench.families.summarization import SummarizationRequest
from bench.families.translation import TranslationRequest
from bench.preprocess.sentences import sentence_splitter
from bench.registry import registry

SMOKE = Path(generation.__file__).resolve().parents[1] / "builtin" / "smoke"


def _documents(language: str) -> list[SummarizationRequest]:
    path = SMOKE / f"summarization-{language}" / "test.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    assert len(rows) >= 60
    return [
        SummarizationRequest(id=row["id"], language=language, document=row["document"])
        for row in rows
    ]


def _texts(adapter: Any, requests: list[Any]) -> list[str]:
    responses = adapter.predict(requests)
    assert len(responses) == len(requests)
    assert all(isinstance(r, TextResponse) for r in responses)
    return [r.text for r in responses]


def _with_budget(request: SummarizationRequest, max_words: int | None) -> SummarizationRequest:
    return request.model_copy(update={"max_words": max_words})


@pytest.fixture(scope="module")
def en_docs() -> list[SummarizationRequest]:
    return _documents("en")


@pytest.fixture(scope="module")
def zh_docs() -> list[SummarizationRequest]:
    return _documents("zh")


# -- registry, params, protocol ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "cls"),
    [("baseline:copy", CopyBaseline), ("baseline:lead-k", LeadK), ("baseline:textrank", TextRank)],
)
def test_registry_names_resolve_to_the_classes(spec: str, cls: type) -> None:
    assert registry.get("adapter", spec) is cls
    adapter = make_adapter(spec)
    assert isinstance(adapter, cls)
    assert adapter.name == spec


def test_families_and_supports() -> None:
    assert CopyBaseline().supports("translation")
    assert not CopyBaseline().supports("summarization")
    for cls in (LeadK, TextRank):
        assert cls().supports("summarization")
        assert not cls().supports("translation")
        assert not cls().supports("sentiment")
    assert not CopyBaseline.requires_training
    assert not LeadK.requires_training
    assert not TextRank.requires_training


def test_wrong_request_type_is_a_loud_error() -> None:
    sentiment = SentimentRequest(id="1", language="en", text="fine", labels=("neg", "pos"))
    summary = SummarizationRequest(id="2", language="en", document="One. Two.")
    with pytest.raises(AdapterError, match="expected summarization requests"):
        LeadK().predict([sentiment])
    with pytest.raises(AdapterError, match="expected summarization requests"):
        TextRank().predict([sentiment])
    with pytest.raises(AdapterError, match="expected translation requests"):
        CopyBaseline().predict([summary])


def test_params_are_validated() -> None:
    with pytest.raises(ModelSpecError, match="k"):
        make_adapter("baseline:lead-k,k=0")
    with pytest.raises(ModelSpecError, match="splitter"):
        make_adapter("baseline:lead-k,splitter=spacy")
    with pytest.raises(ModelSpecError, match="damping"):
        make_adapter("baseline:textrank,damping=1.5")
    with pytest.raises(ModelSpecError, match="did you mean 'k'"):
        make_adapter("baseline:textrank,kk=2")
    assert make_adapter("baseline:lead-k,k=2,splitter=rule").params.k == 2


def test_module_docstring_examples_run() -> None:
    result = doctest.testmod(generation, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 8
    assert result.failed == 0


# -- copy ---------------------------------------------------------------------------------------


def test_copy_returns_the_source_unchanged() -> None:
    requests = [
        TranslationRequest(
            id="1",
            language="en",
            source="我们明天去北京 2024。",
            source_language="zh",
            target_language="en",
        ),
        TranslationRequest(
            id="2",
            language="zh",
            source="  Spaces  stay, as do CAPITALS.",
            source_language="en",
            target_language="zh",
        ),
    ]
    assert _texts(CopyBaseline(), requests) == [r.source for r in requests]
    assert CopyBaseline().predict([]) == []


# -- lead-k -------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 3, 5])
def test_lead_k_english_is_the_first_k_rule_sentences(
    en_docs: list[SummarizationRequest], k: int
) -> None:
    split = sentence_splitter("en", "rule").split
    expected = [" ".join(split(r.document)[:k]) for r in en_docs]
    assert _texts(LeadK(k=k, splitter="rule"), en_docs) == expected
    assert LeadK(k=k, splitter="rule").info() == {
        "k": k,
        "splitter": {"en": "rule", "zh": "zh-punct"},
    }


def test_lead_k_english_with_punkt(en_docs: list[SummarizationRequest], nltk_data: Path) -> None:
    splitter = sentence_splitter("en", "punkt")
    assert splitter.name == "punkt_tab"
    model = LeadK(splitter="punkt")
    expected = [" ".join(splitter.split(r.document)[:3]) for r in en_docs]
    assert _texts(model, en_docs) == expected
    assert model.info()["splitter"] == {"en": "punkt_tab"}


@pytest.mark.parametrize("k", [1, 3])
def test_lead_k_chinese_is_the_first_k_sentences_joined_without_spaces(
    zh_docs: list[SummarizationRequest], k: int
) -> None:
    split = sentence_splitter("zh").split
    got = _texts(LeadK(k=k), zh_docs)
    assert got == ["".join(split(r.document)[:k]) for r in zh_docs]
    for text, request in zip(got, zh_docs, strict=True):
        sentences = split(text)
        assert len(sentences) == k
        assert request.document.replace("\n", "").startswith(text)


def test_lead_k_on_a_hand_made_document() -> None:
    doc = "Dr. Smith arrived. It was late!\n\nWe had waited since noon. Then we ate."
    request = SummarizationRequest(id="1", language="en", document=doc)
    # The rule splitter splits after "Dr." too: that is the price of having no Punkt data.
    assert _texts(LeadK(k=2, splitter="rule"), [request]) == ["Dr. Smith arrived."]
    zh = SummarizationRequest(id="2", language="zh", document="今天下雨了。我们不去公园了！好吗？")
    assert _texts(LeadK(k=2), [zh]) == ["今天下雨了。我们不去公园了！"]
    assert _texts(LeadK(k=10), [zh]) == ["今天下雨了。我们不去公园了！好吗？"]
    empty = SummarizationRequest(id="3", language="en", document="  \n ")
    assert _texts(LeadK(), [empty]) == [""]


@pytest.mark.parametrize(("language", "budget"), [("en", 40), ("en", 25), ("zh", 60), ("zh", 30)])
def test_lead_k_respects_max_words(
    en_docs: list[SummarizationRequest],
    zh_docs: list[SummarizationRequest],
    language: str,
    budget: int,
) -> None:
    docs = en_docs if language == "en" else zh_docs
    cjk = language == "zh"
    split = sentence_splitter(language, "rule").split
    model = LeadK(k=3, splitter="rule")
    requests = [_with_budget(r, budget) for r in docs]
    for text, request in zip(_texts(model, requests), requests, strict=True):
        assert 0 < budget_length(text, cjk) <= budget
        lead = split(request.document)[:3]
        # The longest prefix of the lead sentences that fits, or the first one cut.
        sep = "" if cjk else " "
        fitting = [
            lead[:n]
            for n in range(1, len(lead) + 1)
            if budget_length(sep.join(lead[:n]), cjk) <= budget
        ]
        if fitting:
            assert text == sep.join(fitting[-1])
        else:
            first = lead[0]
            assert first.startswith(text) if cjk else " ".join(first.split()).startswith(text)
            assert budget_length(text, cjk) == budget


def test_max_words_cuts_an_overlong_first_sentence() -> None:
    en = SummarizationRequest(
        id="1",
        language="en",
        document="The committee met for six long hours on Tuesday. It decided nothing.",
        max_words=4,
    )
    assert _texts(LeadK(splitter="rule"), [en]) == ["The committee met for"]
    zh = SummarizationRequest(
        id="2", language="zh", document="委员会周二开了六个小时的会。什么也没决定。", max_words=5
    )
    assert _texts(LeadK(), [zh]) == ["委员会周二"]
    # A budget larger than the lead changes nothing.
    assert _texts(LeadK(splitter="rule"), [_with_budget(en, 1000)]) == [en.document]


def test_apply_budget_stops_at_the_first_overflow() -> None:
    # Stops, rather than skipping the long sentence and taking a later short one.
    assert apply_budget(["a b", "c d e f", "g"], 4, cjk=False) == ["a b"]
    assert apply_budget(["今天下雨。", "好。"], 7, cjk=True) == ["今天下雨。", "好。"]
    assert apply_budget(["今天下雨。", "好。"], 6, cjk=True) == ["今天下雨。"]
    assert apply_budget([], 3, cjk=False) == []
    assert apply_budget(["x y"], None, cjk=False) == ["x y"]


# -- fingerprints -------------------------------------------------------------------------------


def test_fingerprints_differ_by_params_and_class() -> None:
    prints = {
        LeadK().fingerprint(),
        LeadK(k=2).fingerprint(),
        LeadK(splitter="rule").fingerprint(),
        TextRank().fingerprint(),
        TextRank(k=2).fingerprint(),
        TextRank(damping=0.5).fingerprint(),
        TextRank(splitter="rule").fingerprint(),
        CopyBaseline().fingerprint(),
    }
    assert len(prints) == 8
    assert LeadK(k=2).fingerprint() == LeadK(k=2).fingerprint()


def test_fingerprint_follows_the_splitter_that_actually_runs(
    nltk_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nltk

    with_punkt = LeadK(splitter="auto")
    assert with_punkt.info()["splitter"]["en"] == "punkt_tab"
    print_punkt = with_punkt.fingerprint()
    textrank_punkt = TextRank(splitter="auto").fingerprint()
    # The same parameters on a machine without Punkt data split by rules: a new fingerprint.
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    without = LeadK(splitter="auto")
    assert without.info()["splitter"]["en"] == "rule"
    assert without.fingerprint() != print_punkt
    assert without.fingerprint() == LeadK(splitter="auto").fingerprint()
    assert LeadK(splitter="rule").fingerprint() != without.fingerprint()  # params differ
    assert TextRank(splitter="auto").fingerprint() != textrank_punkt


# -- PageRank -----------------------------------------------------------------------------------


def _closed_form(weights: np.ndarray, damping: float) -> np.ndarray:
    """Solve ``(I - d Pᵀ) s = (1 - d) / n · 1`` directly."""
    n = len(weights)
    out = weights.sum(axis=1, keepdims=True)
    transition = np.where(out > 0, weights / np.where(out > 0, out, 1.0), 1.0 / n)
    return np.linalg.solve(np.eye(n) - damping * transition.T, np.full(n, (1 - damping) / n))


def _stationary(weights: np.ndarray, damping: float) -> np.ndarray:
    """The eigenvector of eigenvalue 1 of the Google matrix, normalised to sum 1."""
    n = len(weights)
    out = weights.sum(axis=1, keepdims=True)
    transition = np.where(out > 0, weights / np.where(out > 0, out, 1.0), 1.0 / n)
    google = damping * transition + (1 - damping) / n
    values, vectors = np.linalg.eig(google.T)
    vec = np.real(vectors[:, np.argmin(np.abs(values - 1.0))])
    return vec / vec.sum()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("damping", [0.85, 0.5])
def test_pagerank_equals_the_closed_form(seed: int, damping: float) -> None:
    rng = np.random.default_rng(seed)
    weights = rng.random((7, 7)) * (rng.random((7, 7)) < 0.5)
    weights = weights + weights.T  # a TextRank graph is undirected
    np.fill_diagonal(weights, 0.0)
    weights[3, :] = weights[:, 3] = 0.0  # a sentence sharing no word: a dangling node
    scores = pagerank(weights, damping=damping)
    assert scores.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(scores, _closed_form(weights, damping), atol=1e-6, rtol=0)
    np.testing.assert_allclose(scores, _stationary(weights, damping), atol=1e-6, rtol=0)
    tight = pagerank(weights, damping=damping, tol=1e-14, max_iter=1000)
    np.testing.assert_allclose(tight, _closed_form(weights, damping), atol=1e-12, rtol=0)


def test_pagerank_on_a_directed_graph_and_edge_cases() -> None:
    # A → B, A → C, B → C, C → A; D has no out-links (dangling).
    weights = np.array([[0, 1, 1, 0], [0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 1, 0]], dtype=float)
    weights[3] = 0.0
    np.testing.assert_allclose(pagerank(weights), _closed_form(weights, 0.85), atol=1e-6, rtol=0)
    assert pagerank(np.zeros((3, 3))).tolist() == pytest.approx([1 / 3] * 3)
    assert pagerank(np.zeros((0, 0))).shape == (0,)
    with pytest.raises(ValueError, match="square"):
        pagerank(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="non-negative"):
        pagerank(np.array([[0.0, -1.0], [1.0, 0.0]]))


# -- TextRank -----------------------------------------------------------------------------------

CENTRAL_EN = (
    "Heavy rain flooded the river valley on Monday. "
    "Cats are popular pets in many countries. "
    "The flood closed the valley school and the river bridge on Monday. "
    "Volunteers cleaned the school after the flood. "
    "The bridge over the river reopened on Friday. "
    "Chess is an ancient board game."
)


def test_textrank_picks_the_central_sentence() -> None:
    request = SummarizationRequest(id="1", language="en", document=CENTRAL_EN)
    model = TextRank(k=1, splitter="rule")
    assert _texts(model, [request]) == [
        "The flood closed the valley school and the river bridge on Monday."
    ]
    sentences = sentence_splitter("en", "rule").split(CENTRAL_EN)
    scores = model.sentence_scores(sentences, "en")
    assert int(np.argmax(scores)) == 2
    # The off-topic sentences share no word with the rest: they get the least.
    assert set(np.argsort(scores)[:2].tolist()) == {1, 5}


def test_textrank_picks_the_central_chinese_sentence() -> None:
    doc = (
        "周一暴雨导致河谷发生洪水。"
        "猫是很多国家常见的宠物。"
        "洪水冲毁了河谷的学校和桥梁。"
        "志愿者清理了被洪水冲毁的学校。"
        "河上的桥梁周五重新开放。"
        "象棋是一种古老的游戏。"
    )
    request = SummarizationRequest(id="1", language="zh", document=doc)
    assert _texts(TextRank(k=1), [request]) == ["洪水冲毁了河谷的学校和桥梁。"]
    two = _texts(TextRank(k=2), [request])[0]
    assert "猫" not in two and "象棋" not in two


def test_textrank_returns_top_k_in_document_order(en_docs: list[SummarizationRequest]) -> None:
    model = TextRank(k=3, splitter="rule")
    split = sentence_splitter("en", "rule").split
    for text, request in zip(_texts(model, en_docs), en_docs, strict=True):
        sentences = split(request.document)
        scores = model.sentence_scores(sentences, "en")
        top = sorted(range(len(sentences)), key=lambda i: (-round(float(scores[i]), 12), i))[:3]
        assert text == " ".join(sentences[i] for i in sorted(top))


def test_textrank_chinese_documents(zh_docs: list[SummarizationRequest]) -> None:
    split = sentence_splitter("zh").split
    texts = _texts(TextRank(k=2), zh_docs)
    for text, request in zip(texts, zh_docs, strict=True):
        sentences = split(request.document)
        picked = split(text)
        assert len(picked) == 2
        positions = [sentences.index(s) for s in picked]
        assert positions == sorted(positions)
    # Not just the lead: centrality picks other sentences in some documents.
    assert texts != _texts(LeadK(k=2), zh_docs)


def test_textrank_ties_go_to_the_earlier_sentence() -> None:
    # No two sentences share a word: every node is dangling, every score equal.
    doc = "Alpha beta gamma. Delta epsilon. Zeta eta theta. Iota kappa."
    request = SummarizationRequest(id="1", language="en", document=doc)
    assert _texts(TextRank(k=2, splitter="rule"), [request]) == ["Alpha beta gamma. Delta epsilon."]
    # Two identical sentences score the same; the earlier one wins.
    doc = "Rain fell. The sun set. Rain fell. Birds sang at dawn."
    request = SummarizationRequest(id="2", language="en", document=doc)
    assert _texts(TextRank(k=1, splitter="rule"), [request]) == ["Rain fell."]


def test_textrank_short_documents_are_returned_whole() -> None:
    doc = "First sentence here.\n\nSecond one."
    request = SummarizationRequest(id="1", language="en", document=doc)
    assert _texts(TextRank(k=3, splitter="rule"), [request]) == ["First sentence here. Second one."]
    zh = SummarizationRequest(id="2", language="zh", document="只有一句话。")
    assert _texts(TextRank(), [zh]) == ["只有一句话。"]
    empty = SummarizationRequest(id="3", language="zh", document="")
    assert _texts(TextRank(), [empty]) == [""]


@pytest.mark.parametrize(("language", "budget"), [("en", 30), ("en", 8), ("zh", 50), ("zh", 10)])
def test_textrank_respects_max_words(
    en_docs: list[SummarizationRequest],
    zh_docs: list[SummarizationRequest],
    language: str,
    budget: int,
) -> None:
    docs = en_docs if language == "en" else zh_docs
    cjk = language == "zh"
    model = TextRank(k=3, splitter="rule")
    requests = [_with_budget(r, budget) for r in docs]
    unbudgeted = _texts(model, docs)
    for text, full in zip(_texts(model, requests), unbudgeted, strict=True):
        assert 0 < budget_length(text, cjk) <= budget
        if budget_length(full, cjk) <= budget:
            assert text == full


def test_textrank_budget_keeps_the_best_ranked_sentences() -> None:
    request = SummarizationRequest(id="1", language="en", document=CENTRAL_EN, max_words=12)
    # Rank order fills the budget: the central sentence (12 words) alone fits.
    assert _texts(TextRank(k=3, splitter="rule"), [request]) == [
        "The flood closed the valley school and the river bridge on Monday."
    ]


def test_textrank_and_lead_k_are_deterministic(
    en_docs: list[SummarizationRequest], zh_docs: list[SummarizationRequest]
) -> None:
    docs = en_docs[:20] + zh_docs[:20]
    for cls in (LeadK, TextRank):
        first = _texts(cls(), docs)
        assert _texts(cls(), docs) == first
        assert _texts(cls(), list(reversed(docs))) == list(reversed(first))
