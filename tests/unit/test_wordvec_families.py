"""The word-similarity and word-analogy families and their data readers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.catalog import builtin_tasks_root
from bench.data import load_split
from bench.errors import DataError, TaskSpecError
from bench.families.base import get_family
from bench.families.wordvec import (
    WordAnalogyFamily,
    WordAnalogyRequest,
    WordSimilarityFamily,
    WordSimilarityRequest,
)
from bench.spec import TaskSpec, load_task


def _smoke(name: str, **source: Any) -> TaskSpec:
    spec = load_task(builtin_tasks_root() / "smoke" / f"{name}.yaml")
    if source:
        spec = spec.model_copy(update={"source": spec.source.model_copy(update=source)})
    return spec


def _rows(spec: TaskSpec, data: Path) -> tuple[list[dict[str, Any]], int]:
    split = load_split(spec, get_family(spec.family), "test", data_override=data)
    return split.dataset.to_list(), split.dropped


def test_word_pairs_reader_skips_comments_and_keeps_words_as_written(tmp_path: Path) -> None:
    data = tmp_path / "pairs.tsv"
    data.write_text("# comment\n\ncat\tKitten\t8.5\nold \tnew\t1e0\n", encoding="utf-8")
    rows, dropped = _rows(_smoke("wordsim-en"), data)
    assert [(r["id"], r["word1"], r["word2"], r["score"]) for r in rows] == [
        ("3", "cat", "Kitten", 8.5),
        ("4", "old ", "new", 1.0),  # gensim splits on the tab and strips nothing
    ]
    assert dropped == 0


def test_whitespace_delimiter_and_drop_empty_count_skipped_lines(tmp_path: Path) -> None:
    data = tmp_path / "pairs.txt"
    data.write_text("word1 word2 score\ncat   dog 5\ncar bus\nsun moon 4.5\n", encoding="utf-8")
    spec = _smoke("wordsim-en", delimiter="whitespace", drop_empty=["score"])
    rows, dropped = _rows(spec, data)
    assert [(r["word1"], r["word2"], r["score"]) for r in rows] == [
        ("cat", "dog", 5.0),
        ("sun", "moon", 4.5),
    ]
    assert dropped == 2  # the header and the two-field line, as gensim skips them


@pytest.mark.parametrize(
    "content,needles",
    [
        ("cat\tdog\t5\ncar\tbus\tlots\n", ["line 2", "'lots', not a number"]),
        ("cat\tdog\t5\ncar bus 3\n", ["line 2", "expected 3 fields", "got 1"]),
        ("cat\tdog\tnan\n", ["line 1", "not a finite number"]),
    ],
    ids=["bad-score", "wrong-delimiter", "nan"],
)
def test_bad_pair_lines_are_refused_naming_file_and_line(
    tmp_path: Path, content: str, needles: list[str]
) -> None:
    data = tmp_path / "pairs.tsv"
    data.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as info:
        _rows(_smoke("wordsim-en"), data)
    message = str(info.value)
    assert str(data) in message and all(n in message for n in needles), message


def test_analogy_reader_sections_crlf_and_bad_lines(tmp_path: Path) -> None:
    data = tmp_path / "q.txt"
    data.write_bytes(
        b": capital\r\nAthens Greece Oslo Norway\r\n\r\n: family\r\nboy girl man woman\r\n"
    )
    rows, _ = _rows(_smoke("analogy-en"), data)
    assert [(r["a"], r["d"], r["category"]) for r in rows] == [
        ("Athens", "Norway", "capital"),
        ("boy", "woman", "family"),
    ]
    data.write_text(": s\na b c\n", encoding="utf-8")
    with pytest.raises(
        DataError, match=r"line 2 \(id '2'\): expected four words 'a b c d', got 'a b c'"
    ):
        _rows(_smoke("analogy-en"), data)
    data.write_text("a b c d\n: s\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"q\.txt: line 1: .* before any ': category' line"):
        _rows(_smoke("analogy-en"), data)


def test_options_ride_in_the_request_and_change_its_hash() -> None:
    spec = _smoke("wordsim-en")
    family = WordSimilarityFamily()
    row = {"id": "1", "word1": "cat", "word2": "dog", "score": 5.0}
    request, reference = family.build(row, spec)
    assert isinstance(request, WordSimilarityRequest) and reference == 5.0
    assert request.case_insensitive and request.restrict_vocab == 300000
    cased = spec.model_copy(update={"options": {"case_insensitive": False, "restrict_vocab": 10}})
    other, _ = family.build(row, cased)
    assert other.content_hash() != request.content_hash()
    q, d = WordAnalogyFamily().build(
        {"id": "1", "a": "a", "b": "b", "c": "c", "d": "d", "category": "x"}, _smoke("analogy-en")
    )
    assert isinstance(q, WordAnalogyRequest) and d == "d"


def test_bad_options_and_a_missing_coverage_metric_are_task_errors() -> None:
    spec = _smoke("wordsim-en")
    bad = spec.model_copy(update={"options": {"oov": "wrong"}})  # an analogy policy
    with pytest.raises(TaskSpecError):
        WordSimilarityFamily.options(bad)
    with pytest.raises(TaskSpecError, match="restrict_vocb"):
        WordSimilarityFamily.options(spec.model_copy(update={"options": {"restrict_vocb": 5}}))
    no_coverage = spec.model_copy(update={"metrics": spec.metrics[:2]})
    with pytest.raises(TaskSpecError, match="pair_coverage"):
        WordSimilarityFamily.check_spec(no_coverage)


def test_prompts_never_show_the_expected_word() -> None:
    family = WordAnalogyFamily()
    spec = _smoke("analogy-en")
    request, _ = family.build(
        {"id": "1", "a": "man", "b": "king", "c": "woman", "d": "queen", "category": "x"}, spec
    )
    prompt = family.render_prompt(request, spec)
    assert "king" in prompt and "queen" not in prompt
    assert family.parse_answer("Queen.", request, spec).cosadd == "Queen"  # type: ignore[attr-defined]
    sim = WordSimilarityFamily()
    assert sim.parse_answer("I'd say 12", request, None).similarity is None  # type: ignore[attr-defined]
    assert sim.parse_answer("3", request, None).similarity == 0.3  # type: ignore[attr-defined]
