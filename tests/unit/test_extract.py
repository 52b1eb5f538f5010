"""Answer extraction (``scoring.extract``, ``scoring.strip_reasoning``) and the family checks of
the ``scoring:`` / ``fewshot:`` blocks, on the real smoke task files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bench.errors import TaskSpecError
from bench.families.base import get_family
from bench.families.extract import first_json_field, regex_answer, strip_reasoning
from bench.families.generation import TextResponse
from bench.families.qa import QARequest
from bench.families.sentiment import SentimentRequest, SentimentResponse
from bench.families.summarization import SummarizationRequest
from bench.families.translation import TranslationRequest
from bench.spec import ExtractSpec, ScoringSpec, TaskSpec, load_task

SMOKE = Path(__file__).resolve().parents[2] / "tasks" / "smoke"


def _task(name: str, variant: str = "default", **scoring: Any) -> TaskSpec:
    spec = load_task(SMOKE / f"{name}.yaml").bind_variant(variant)
    if scoring:
        extract = scoring.pop("extract", None)
        block = ScoringSpec(
            extract=ExtractSpec.model_validate(extract or "first"),
            **scoring,
        )
        spec = spec.model_copy(update={"scoring": block})
    return spec


SENT_EN = SentimentRequest(id="1", language="en", text="x", labels=("negative", "positive"))
SENT_ZH = SentimentRequest(id="1", language="zh", text="x", labels=("negative", "positive"))


def _label(text: str, task: str = "sentiment-en", variant: str = "default", **kw: Any) -> Any:
    spec = _task(task, variant, **kw)
    request = SENT_ZH if task.endswith("zh") else SENT_EN
    response = get_family("sentiment").parse_answer(text, request, spec)
    assert isinstance(response, SentimentResponse)
    assert response.raw == text
    return response.label


# --------------------------------------------------------------------------- sentiment


@pytest.mark.parametrize(
    ("text", "kw", "label"),
    [
        # first (the default and today's rule): the earliest mention.
        ("Positive, though a bit negative at the end.", {}, "positive"),
        ("Positive, though a bit negative at the end.", {"extract": "first"}, "positive"),
        # last: the latest mention (answers after reasoning).
        ("Positive, though a bit negative at the end.", {"extract": "last"}, "negative"),
        ("It is not clear.", {"extract": "last"}, None),
        # regex: first group, else the whole match; the result is matched to a verbaliser.
        (
            "negative words, but Label: positive",
            {"extract": {"rule": "regex", "pattern": r"Label:\s*(\w+)"}},
            "positive",
        ),
        (
            "negative? NEGATIVE.",
            {"extract": {"rule": "regex", "pattern": r"[A-Z]{5,}"}},
            "negative",
        ),
        ("no label here", {"extract": {"rule": "regex", "pattern": r"Label:\s*(\w+)"}}, None),
        # json: the field of the first object, nested braces and braces inside strings included.
        (
            'Thinking {not json} then {"why": {"a": "}{"}, "label": "Negative"} and {"label": '
            '"positive"}',
            {"extract": {"rule": "json", "field": "label"}},
            "negative",
        ),
        ('{"label": null}', {"extract": {"rule": "json", "field": "label"}}, None),
        ('{"other": "positive"}', {"extract": {"rule": "json", "field": "label"}}, None),
        ("no object", {"extract": {"rule": "json", "field": "label"}}, None),
        # reasoning: dropped first, so the mention inside it does not count.
        ("<think>negative? no...</think>Positive.", {"strip_reasoning": True}, "positive"),
        ("<think>negative? no...</think>Positive.", {}, "negative"),
        ("<THINKING>\nnegative\n</THINKING> positive", {"strip_reasoning": True}, "positive"),
        ("<reasoning>positive</reasoning>negative", {"strip_reasoning": True}, "negative"),
        # a lone closing tag: the chat template opened the block in the prompt.
        ("negative at first glance</think> positive", {"strip_reasoning": True}, "positive"),
        # unclosed: the whole text is reasoning, no answer.
        ("<think>positive, I think", {"strip_reasoning": True}, None),
        ("<think>a</think> <think>positive", {"strip_reasoning": True}, None),
    ],
)
def test_sentiment_extraction_rules(text: str, kw: dict[str, Any], label: str | None) -> None:
    assert _label(text, **kw) == label


def test_sentiment_cjk_first_last_and_variant_verbalisers() -> None:
    text = "这家店总体是正面的，但服务有点负面。"
    assert _label(text, "sentiment-zh") == "positive"
    assert _label(text, "sentiment-zh", extract="last") == "negative"
    # Each variant parses with its own verbalisers: 好评/差评 in zh-good-bad.
    assert _label("差评，不过价格还行，算是好评吧", "sentiment-zh", "zh-good-bad") == "negative"
    assert _label("正面", "sentiment-zh", "zh-good-bad") is None
    assert _label("答案：{\"情感\": \"好评\"}", "sentiment-zh", "zh-good-bad",
                  extract={"rule": "json", "field": "情感"}) == "positive"  # fmt: skip
    assert _label("<think>负面？</think>正面", "sentiment-zh", strip_reasoning=True) == "positive"


def test_last_prefers_the_longer_mention_over_the_word_inside_it() -> None:
    spec = _task("sentiment-en", extract="last").model_copy(
        update={"labels": ["positive", "very positive"]}
    )
    spec = spec.model_copy(
        update={"prompt": spec.prompt.model_copy(update={"verbalizers": None})}  # type: ignore[union-attr]
    )
    request = SentimentRequest(
        id="1", language="en", text="x", labels=("positive", "very positive")
    )
    family = get_family("sentiment")
    parsed = family.parse_answer("positive? no: very positive", request, spec)
    assert getattr(parsed, "label", None) == "very positive"


# --------------------------------------------------------------------------- text families

QA = QARequest(id="1", language="en", question="Where?", context="In Paris.")
MT = TranslationRequest(
    id="1", language="en", source="你好", source_language="zh", target_language="en"
)
SUM = SummarizationRequest(id="1", language="en", document="A. B.")
TEXT_CASES = [("qa", "qa-en", QA), ("translation", "translation-zh-en", MT),
              ("summarization", "summarization-en", SUM)]  # fmt: skip


@pytest.mark.parametrize(("family", "task", "request_"), TEXT_CASES)
@pytest.mark.parametrize(
    ("text", "kw", "answer"),
    [
        # first (default): the first block between blank lines, cleaned as before.
        ('  Answer: "Paris" ', {}, "Paris"),
        ("Paris\nis the capital", {}, "Paris\nis the capital"),  # one block: kept whole
        ("\n\nParis\n\nBecause the passage says so.", {}, "Paris"),
        # last: the last block (an answer after the working).
        ("The passage says it.\n \nAnswer: Paris", {"extract": "last"}, "Paris"),
        # regex with and without a group.
        ("so the answer is **Paris**.", {"extract": {"rule": "regex", "pattern": r"\*\*(.+?)\*\*"}},
         "Paris"),
        ("It is Paris, France.", {"extract": {"rule": "regex", "pattern": r"P\w+"}}, "Paris"),
        ("nothing bold", {"extract": {"rule": "regex", "pattern": r"\*\*(.+?)\*\*"}}, ""),
        # an optional group that did not take part: the whole match.
        ("Paris", {"extract": {"rule": "regex", "pattern": r"(x)?Paris"}}, "Paris"),
        # json: nested braces, braces in strings, text around.
        ('Here: {"meta": {"n": 1}, "s": "a}b", "answer": " Paris "} ok',
         {"extract": {"rule": "json", "field": "answer"}}, "Paris"),
        ('{"answer": 42}', {"extract": {"rule": "json", "field": "answer"}}, "42"),
        ('{"answer": [1]}', {"extract": {"rule": "json", "field": "answer"}}, ""),
        ("{broken", {"extract": {"rule": "json", "field": "answer"}}, ""),
        # reasoning stripping, and an unclosed block is no answer.
        ("<think>Lyon?\n\nNo.</think>\nParis", {"strip_reasoning": True}, "Paris"),
        ("<think>Lyon? Paris? Still", {"strip_reasoning": True}, ""),
        ("<think>Lyon</think>", {"strip_reasoning": True}, ""),
    ],
)  # fmt: skip
def test_text_family_extraction_rules(
    family: str, task: str, request_: Any, text: str, kw: dict[str, Any], answer: str
) -> None:
    response = get_family(family).parse_answer(text, request_, _task(task, **kw))
    assert isinstance(response, TextResponse)
    assert response.text == answer


def test_cjk_text_answers() -> None:
    qa = QARequest(id="1", language="zh", question="在哪？", context="在北京。")
    family = get_family("qa")
    assert family.parse_answer("答案：「北京」", qa, _task("qa-zh")).text == "北京"  # type: ignore[attr-defined]
    spec = _task("qa-zh", extract={"rule": "regex", "pattern": r"答案是(.+?)。"})
    assert family.parse_answer("我想答案是北京。对", qa, spec).text == "北京"  # type: ignore[attr-defined]
    spec = _task("qa-zh", extract={"rule": "json", "field": "答案"})
    assert family.parse_answer('{"答案": "北京，中国"}', qa, spec).text == "北京，中国"  # type: ignore[attr-defined]


def test_no_scoring_block_reads_as_before() -> None:
    # The bench defaults: rule first, reasoning kept (a model's <think> text is the answer).
    spec = _task("qa-en")
    assert spec.scoring is None
    got = get_family("qa").parse_answer("<think>x</think> Paris", QA, spec)
    assert getattr(got, "text", None) == "<think>x</think> Paris"


def test_helpers_directly() -> None:
    assert strip_reasoning("a<think>b</think>c<thinking>d</thinking>e") == "ace"
    assert strip_reasoning("<Think >b</think>") == ""
    assert strip_reasoning("<think>b</thinking>c") is None  # mismatched tags never close
    assert regex_answer("abc", r"(b)(c)") == "b"
    assert first_json_field('x {"a": {"b": 1}} {"b": 2}', "b") is None  # first object only
    assert first_json_field('[{"b": 1}] {"b": 2}', "b") == "1"  # a list is not an object


# --------------------------------------------------------------------------- checks


def _write(tmp_path: Path, name: str, extra: str) -> Path:
    text = (SMOKE / f"{name}.yaml").read_text(encoding="utf-8") + extra
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _line(path: Path, key: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if re.match(rf"\s*{key}:", line))


@pytest.mark.parametrize("name", ["qa-en", "translation-zh-en", "summarization-zh"])
def test_loglik_on_a_family_without_choices_names_the_field(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path, name, "scoring:\n  mode: loglik\n")
    family = load_task(path, check_names=False).family
    with pytest.raises(TaskSpecError) as err:
        load_task(path)
    line = _line(path, "mode")
    assert err.value.message == (
        f"{path} line {line}: field 'scoring.mode': 'loglik' scores answer choices, and "
        f"{family} tasks have none (the model writes its answer)"
    )
    assert err.value.fix == "use 'mode: generate' (with an 'extract:' rule) or remove 'mode:'"


@pytest.mark.parametrize("name", ["sentiment-zh", "qa-zh", "translation-en-zh", "summarization-en"])
@pytest.mark.parametrize(
    "extract",
    ["{rule: json, field: answer}", "{rule: regex, pattern: 'A: (.*)'}", "last"],
)
def test_generate_with_any_extract_rule_is_accepted(
    tmp_path: Path, name: str, extract: str
) -> None:
    path = _write(tmp_path, name, f"scoring:\n  mode: generate\n  extract: {extract}\n")
    spec = load_task(path)
    assert spec.scoring is not None and spec.scoring.mode == "generate"


def test_loglik_on_sentiment_is_accepted(tmp_path: Path) -> None:
    spec = load_task(
        _write(tmp_path, "sentiment-en", "scoring: {mode: loglik, normalization: pmi}\n")
    )
    assert spec.scoring is not None and spec.scoring.normalization == "pmi"


def test_balanced_selector_needs_labels() -> None:
    from bench.spec import FewshotSpec

    class Shown(type(get_family("qa"))):  # type: ignore[misc]
        def answer_text(self, request: Any, reference: Any, spec: Any) -> str:
            return str(reference[0])

    spec = _task("qa-en")
    balanced = spec.model_copy(update={"fewshot": FewshotSpec(k=2, selector="balanced")})
    with pytest.raises(TaskSpecError) as err:
        Shown.check_protocol(balanced)
    assert (
        err.value.message == "'balanced' picks k exemplars per label, and qa tasks have no labels"
    )
    assert err.value.fix == "use 'selector:' first, random, fixed or bm25"
    assert err.value.loc == ("fewshot", "selector")  # type: ignore[attr-defined]
    Shown.check_protocol(spec.model_copy(update={"fewshot": FewshotSpec(k=2, selector="random")}))


def test_fewshot_on_a_family_that_cannot_show_examples(tmp_path: Path) -> None:
    from bench.families.base import Family

    class Mute(type(get_family("translation"))):  # type: ignore[misc]
        answer_text = Family.answer_text  # cannot show its examples

    path = _write(tmp_path, "translation-zh-en", "fewshot: {k: 2}\n")
    spec = load_task(path, check_names=False)
    with pytest.raises(TaskSpecError) as err:
        Mute.check_protocol(spec)
    assert err.value.message == (
        "in-context examples need each exemplar's answer, and translation examples cannot be "
        "shown with theirs"
    )
    assert err.value.fix == "remove 'fewshot:' (or set 'k: 0')"
    assert err.value.loc == ("fewshot",)  # type: ignore[attr-defined]
    # k: 0 is zero-shot: nothing to show, accepted.
    Mute.check_protocol(
        spec.model_copy(update={"fewshot": spec.fewshot.model_copy(update={"k": 0})})
    )  # type: ignore[union-attr]


def test_fewshot_error_in_a_file_names_its_line(tmp_path: Path) -> None:
    family = type(get_family("translation"))
    path = _write(tmp_path, "translation-zh-en", "fewshot:\n  k: 2\n  selector: balanced\n")
    if family.shows_examples():
        expected_field, tail = (
            "fewshot.selector",
            ("'balanced' picks k exemplars per label, and translation tasks have no labels"),
        )
        line = _line(path, "selector")
    else:
        expected_field, tail = (
            "fewshot",
            (
                "in-context examples need each exemplar's answer, and translation examples "
                "cannot be shown with theirs"
            ),
        )
        line = _line(path, "fewshot")
    with pytest.raises(TaskSpecError) as err:
        load_task(path)
    assert err.value.message == f"{path} line {line}: field '{expected_field}': {tail}"
