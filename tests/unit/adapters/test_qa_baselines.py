"""The extractive-QA baselines: ``sliding-window`` and ``first-sentence``.

Real data: a slice of the SQuAD v1.1 dev set and of the CMRC2018 dev set from
``../shared/data``. Small cases are worked out by hand from the documented rule.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from bench.adapters.base import make_adapter
from bench.adapters.qa import FirstSentence, SlidingWindow, qa_tokens
from bench.errors import AdapterError, MissingResource, ModelSpecError
from bench.families.qa import QARequest
from bench.families.summarization import SummarizationRequest
from bench.metrics.qa import qa_scores
from bench.registry import registry

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
SQUAD = DATA / "squad-v1.1" / "dev-v1.1.json"
CMRC = DATA / "cmrc2018" / "cmrc2018_dev.json"

ADA = QARequest(
    id="ada",
    language="en",
    question="Where was Ada Lovelace born?",
    context="Ada Lovelace was born in London. She died in 1852.",
)
SANTI = QARequest(
    id="santi",
    language="zh",
    question="《三体》的作者是谁？",
    context="《三体》是刘慈欣创作的长篇科幻小说。它获得了雨果奖。",
)


@cache
def dev_slice(path: Path, step: int) -> tuple[tuple[QARequest, ...], tuple[tuple[str, ...], ...]]:
    """Every ``step``-th question of a SQuAD-format file, as requests and gold answers."""
    with path.open(encoding="utf-8") as fh:
        data = json.load(fh)
    lang = "zh" if "cmrc" in path.name else "en"
    requests, golds = [], []
    i = 0
    for article in data["data"]:
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                if i % step == 0:
                    requests.append(
                        QARequest(
                            id=qa["id"],
                            language=lang,
                            question=qa["question"],
                            context=para["context"],
                            title=article.get("title"),
                        )
                    )
                    golds.append(tuple(a["text"] for a in qa["answers"]))
                i += 1
    return tuple(requests), tuple(golds)


def f1_of(adapter: object, path: Path, step: int) -> tuple[float, float]:
    requests, golds = dev_slice(path, step)
    responses = adapter.predict(list(requests))  # type: ignore[attr-defined]
    scheme = "cmrc" if "cmrc" in path.name else "squad1"
    scores = qa_scores(responses, list(golds), scheme, sentences="line")
    return 100 * float(scores.em.mean()), 100 * float(scores.f1.mean())


# --------------------------------------------------------------------------- real data


@pytest.mark.parametrize(("path", "step"), [(SQUAD, 5), (CMRC, 2)], ids=["squad", "cmrc2018"])
def test_sliding_window_beats_first_sentence(path: Path, step: int, nltk_data: Path) -> None:
    sw_em, sw_f1 = f1_of(SlidingWindow(stopwords=True), path, step)
    fs_em, fs_f1 = f1_of(FirstSentence(), path, step)
    # full dev sets, stopwords=true: SQuAD 9.9 / 21.7 vs 0.0 / 9.8; CMRC2018 11.8 / 27.2 vs
    # 0.0 / 11.4 (the default, without an English list: SQuAD 6.4 / 16.5)
    assert sw_f1 > fs_f1 + 8.0, (sw_f1, fs_f1)
    assert sw_em > fs_em + 5.0, (sw_em, fs_em)
    assert 15.0 < sw_f1 < 40.0  # a lexical baseline: far above nothing, far below a model


@pytest.mark.parametrize(("path", "step"), [(SQUAD, 25), (CMRC, 10)], ids=["squad", "cmrc2018"])
def test_answers_are_exact_spans_of_the_context(path: Path, step: int) -> None:
    requests, _ = dev_slice(path, step)
    for adapter in (SlidingWindow(), FirstSentence(splitter="rule")):
        for request, response in zip(requests, adapter.predict(list(requests)), strict=True):
            assert response.text  # type: ignore[attr-defined]
            assert response.text in request.context  # type: ignore[attr-defined]


def test_sliding_window_respects_its_budget() -> None:
    requests, _ = dev_slice(SQUAD, 25)
    for budget in (1, 3):
        adapter = SlidingWindow(max_tokens=budget, stopwords=False)
        for response in adapter.predict(list(requests)):
            assert 1 <= len(qa_tokens(response.text, "en")) <= budget  # type: ignore[attr-defined]


def test_predictions_are_deterministic() -> None:
    requests, _ = dev_slice(CMRC, 20)
    first = SlidingWindow().predict(list(requests))
    again = SlidingWindow().predict(list(requests))
    reversed_order = SlidingWindow().predict(list(reversed(requests)))
    assert first == again
    assert first == list(reversed(reversed_order))  # no state carried between requests
    assert FirstSentence().predict(list(requests)) == FirstSentence().predict(list(requests))


# --------------------------------------------------------------------------- by hand


def test_sliding_window_by_hand_english() -> None:
    # No stopwords: Q = {where, was, ada, lovelace, born}; each occurs once in the context,
    # IC = log 2. The 5-word window "Ada Lovelace was born in" scores 4 log 2 (the best, and
    # the first). Runs of other words, split at ".": "in London" and "She died in 1852".
    # "in London" (words 4-5) is 1-4 words from the four matches: log 2 · (1/5+1/4+1/3+1/2);
    # "She died in 1852" is farther from all of them.
    assert SlidingWindow(stopwords=False).predict([ADA])[0].text == "in London"  # type: ignore[attr-defined]


def test_sliding_window_trims_stopwords(nltk_data: Path) -> None:
    # NLTK's stopwords: Q = {ada, lovelace, born}; "in London" loses "in"
    assert SlidingWindow(stopwords=True).predict([ADA])[0].text == "London"  # type: ignore[attr-defined]


def test_sliding_window_by_hand_chinese() -> None:
    # jieba: 三体|是|刘慈欣|创作|的|长篇|科幻小说|它|获得|了|雨果|奖 (punctuation dropped)
    # No stopwords: Q = {三体, 的, 作者, 是, 谁}; matches at 0, 1, 4 (IC log 2 each).
    # The 5-word window [0, 5) holds all three. Candidates: 刘慈欣创作 (2-3, one word from
    # two matches), 长篇科幻小说 (5-6, ends at 。), 它获得了雨果 (7-10, cut at the reach).
    # 刘慈欣创作 scores log 2 · (1/3 + 1/2 + 1/2), the most.
    words = [t.word for t in qa_tokens(SANTI.context, "zh")]
    assert words == [
        "三体",
        "是",
        "刘慈欣",
        "创作",
        "的",
        "长篇",
        "科幻小说",
        "它",
        "获得",
        "了",
        "雨果",
        "奖",
    ]
    assert SlidingWindow(stopwords=False).predict([SANTI])[0].text == "刘慈欣创作"  # type: ignore[attr-defined]


def test_first_sentence() -> None:
    assert (
        FirstSentence(splitter="rule").predict([ADA])[0].text == "Ada Lovelace was born in London."
    )  # type: ignore[attr-defined]
    assert FirstSentence().predict([SANTI])[0].text == "《三体》是刘慈欣创作的长篇科幻小说。"  # type: ignore[attr-defined]


def test_empty_context_gives_an_empty_answer() -> None:
    empty = QARequest(id="e", language="en", question="Who?", context="")
    assert SlidingWindow().predict([empty])[0].text == ""  # type: ignore[attr-defined]
    assert FirstSentence().predict([empty])[0].text == ""  # type: ignore[attr-defined]


def test_rare_question_words_weigh_more() -> None:
    # No stopwords: Q = {who, founded, acme}. "acme" occurs 3 times (IC log(4/3) = 0.288),
    # "founded" once (IC log 2 = 0.693). No 3-word window holds two "acme"s, so the best
    # window is the first one holding "founded": "staff Jones founded" (with plain counts it
    # would tie with "Acme sells tools" and lose to it). Candidates and their scores
    # Σ IC / (1 + distance) over the four matches (acme at 0, 3, 6; founded at 10):
    #   Jones (9):         0.693/2 + 0.288/4 + 0.288/7 + 0.288/10 = 0.488
    #   hires staff (7-8): 0.693/3 + 0.288/2 + 0.288/5 + 0.288/8  = 0.468
    #   sells paint (4-5): 0.693/6 + 0.288/2 + 0.288/2 + 0.288/5  = 0.461
    #   it (11):           0.693/2 + 0.288/6 + 0.288/9 + 0.288/12 = 0.450
    #   sells tools (1-2): 0.693/9 + 0.288/2 + 0.288/2 + 0.288/5  = 0.420
    request = QARequest(
        id="acme",
        language="en",
        question="Who founded Acme?",
        context="Acme sells tools. Acme sells paint. Acme hires staff. Jones founded it.",
    )
    assert SlidingWindow(stopwords=False).predict([request])[0].text == "Jones"  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- protocol


def test_fingerprints_differ_by_params_and_are_stable() -> None:
    prints = {
        SlidingWindow().fingerprint(),
        SlidingWindow(max_tokens=5).fingerprint(),
        SlidingWindow(stopwords=False).fingerprint(),
        FirstSentence(splitter="rule").fingerprint(),
    }
    assert len(prints) == 4
    assert SlidingWindow(max_tokens=5).fingerprint() == SlidingWindow(max_tokens=5).fingerprint()


def test_auto_choices_are_in_the_fingerprint(
    nltk_data: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # first-sentence's "auto" splitter is Punkt where NLTK's data is installed and rules where it
    # is not: the two answer differently, so must not share cached predictions
    with_data = (SlidingWindow().fingerprint(), FirstSentence().fingerprint())
    assert FirstSentence().info()["splitter"] == {"en": "punkt_tab", "zh": "zh-punct"}
    # sliding-window's default uses only bench's own lists: no English list even where NLTK's
    # is installed, so it answers (and fingerprints) the same on every machine
    assert SlidingWindow().info()["stopwords"]["en"] == "none"
    assert SlidingWindow(stopwords=True).info()["stopwords"]["en"] not in ("none", "missing")
    assert SlidingWindow().predict([ADA])[0].text == "in London"  # type: ignore[attr-defined]
    import nltk

    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    without = (SlidingWindow().fingerprint(), FirstSentence().fingerprint())
    assert FirstSentence().info()["splitter"]["en"] == "rule"
    assert SlidingWindow().info()["stopwords"]["en"] == "none"
    assert with_data[0] == without[0]
    assert with_data[1] != without[1]
    # the Chinese list ships with bench: it is always there
    assert SlidingWindow().info()["stopwords"]["zh"] != "none"
    required = SlidingWindow(stopwords=True)
    assert required.info()["stopwords"]["en"] == "missing"
    assert required.predict([SANTI])  # Chinese needs only bench's own list
    with pytest.raises(MissingResource, match="stopwords"):
        required.predict([ADA])


def test_registry_and_model_specs() -> None:
    assert registry.get("adapter", "baseline:sliding-window") is SlidingWindow
    assert registry.get("adapter", "baseline:first-sentence") is FirstSentence
    adapter = make_adapter("baseline:sliding-window,max_tokens=5")
    assert isinstance(adapter, SlidingWindow)
    assert adapter.params.max_tokens == 5
    with pytest.raises(ModelSpecError, match="max_tokens"):
        make_adapter("baseline:sliding-window,max_tokens=0")
    with pytest.raises(ModelSpecError, match="did you mean"):
        make_adapter("baseline:sliding-window,max_token=5")


def test_families_and_training() -> None:
    for adapter in (SlidingWindow(), FirstSentence()):
        assert adapter.supports("qa")
        assert not adapter.supports("summarization")
        assert not adapter.requires_training
        assert not adapter.trainable


def test_non_qa_requests_are_refused() -> None:
    doc = SummarizationRequest(id="d", language="en", document="Text.")
    for adapter in (SlidingWindow(), FirstSentence()):
        with pytest.raises(AdapterError, match="qa"):
            adapter.predict([doc])
