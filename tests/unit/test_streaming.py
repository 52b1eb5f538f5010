"""Lazy request building, the response store, columnar per-example scores, streamed samples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pytest

from bench.families.base import get_family
from bench.families.sentiment import SentimentResponse
from bench.metrics.base import PerExample
from bench.records import SampleLine, write_run
from bench.spec import parse_task
from bench.stages import first_occurrence
from bench.streaming import ResponseStore, RowExamples, chunks

TASK = """\
name: stream-task
version: 1
family: sentiment
languages: [en]
description: Rows for the streaming tests.
labels: [negative, positive]
source: {kind: local, location: data, format: jsonl, files: {test: t.jsonl}, splits: {test: test}}
metrics: [accuracy]
primary_metric: accuracy
"""


def rows_dataset(n: int) -> Any:
    return datasets.Dataset.from_dict(
        {
            "id": [f"r{i}" for i in range(n)],
            "text": [f"text {i % 7}" for i in range(n)],
            "label": ["positive" if i % 3 else "negative" for i in range(n)],
        }
    )


def built_eagerly(n: int) -> list[Any]:
    family, task = get_family("sentiment"), parse_task(TASK)
    ds = rows_dataset(n)
    return [family.build(ds[i], task) for i in range(n)]


def test_row_examples_match_building_every_row() -> None:
    family, task = get_family("sentiment"), parse_task(TASK)
    rows = RowExamples(family, task, rows_dataset(25), chunk=4)
    eager = built_eagerly(25)
    assert len(rows.requests) == len(rows.references) == 25
    assert list(rows.requests) == [r for r, _ in eager]
    assert list(rows.references) == [ref for _, ref in eager]
    assert rows.requests[-1] == eager[24][0] and rows.references[9] == eager[9][1]
    assert rows.requests[3:10] == [r for r, _ in eager[3:10]]
    assert [pair for pair in zip(rows.requests, rows.references, strict=True)] == eager
    with pytest.raises(IndexError):
        rows.requests[25]
    assert [(lo, list(part)) for lo, part in chunks(rows.requests, 10)][2] == (
        20,
        [r for r, _ in eager[20:]],
    )


def test_response_store_interns_and_parses() -> None:
    store = ResponseStore(get_family("sentiment"), 5)
    assert list(store) == [None] * 5
    store.set(0, SentimentResponse(label="positive").model_dump(mode="json"))
    store.set(2, SentimentResponse(label="positive").model_dump(mode="json"))
    store.set(3, {"label": "negative", "probabilities": {"negative": 0.75, "positive": 0.25}})
    store.copy(4, 3)
    assert store.ids.tolist() == [0, -1, 0, 1, 1]
    assert store[0] == SentimentResponse(label="positive") and store[1] is None
    assert store[4] == SentimentResponse(
        label="negative", probabilities={"negative": 0.75, "positive": 0.25}
    )
    assert store.data(3) == {
        "label": "negative",
        "probabilities": {"negative": 0.75, "positive": 0.25},
    }
    assert store.data(1) is None and not store.has(1) and store.has(4)
    assert store[1:4] == [None, store[2], store[3]]


def test_per_example_columns_read_back_as_rows() -> None:
    rows = PerExample(3)
    rows.add("correct", [1.0, 0.0, None])
    rows.add("rank", [1, 2, 3])  # not floats: kept as they are
    rows.add("nan", [float("nan"), 0.5, 1e-300])
    assert isinstance(rows.columns["correct"], tuple) and rows.columns["rank"] == [1, 2, 3]
    assert rows[0]["correct"] == 1.0 and rows[2]["correct"] is None and rows[1]["rank"] == 2
    assert np.isnan(rows[0]["nan"]) and rows[-1]["nan"] == 1e-300
    assert rows[1:] == [{"correct": 0.0, "rank": 2, "nan": 0.5}, rows[2]]
    assert PerExample(0) == [] and len(rows) == 3
    with pytest.raises(ValueError, match="2 values for 3 examples"):
        rows.add("short", [1.0, 2.0])


def test_first_occurrence_of_equal_digests() -> None:
    digests = np.zeros((6, 32), dtype=np.uint8)
    digests[:, 0] = [5, 1, 5, 2, 1, 5]
    assert first_occurrence(digests).tolist() == [0, 1, 0, 3, 1, 0]
    assert first_occurrence(np.zeros((0, 32), dtype=np.uint8)).tolist() == []


def test_write_run_takes_a_generator(tmp_path: Path) -> None:
    from tests.unit.test_records import make_record  # type: ignore[import-not-found]

    record = make_record()
    lines = (SampleLine(id=str(i), input=f"é{i}", run_id=record.run_id) for i in range(3))
    path = write_run(tmp_path / "m" / "t", record, lines)
    text = (path.parent / "samples.jsonl").read_text(encoding="utf-8")
    assert [json.loads(x)["input"] for x in text.splitlines()] == ["é0", "é1", "é2"]
    assert "é0" in text  # UTF-8, not escapes
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]


def test_first_occurrence_compares_every_byte_of_rows_sharing_a_head() -> None:
    # 2,000 random rows, half of them sharing one 4-byte head with different tails, plus exact
    # copies: only the copies are merged, each with its first occurrence.
    rng = np.random.default_rng(3)
    digests = rng.integers(0, 256, size=(2000, 32), dtype=np.uint8)
    digests[::2, :4] = digests[0, :4]
    digests[1500:] = digests[:500]
    got = first_occurrence(digests)
    want = []
    seen: dict[bytes, int] = {}
    for i, row in enumerate(digests):
        want.append(seen.setdefault(row.tobytes(), i))
    assert got.tolist() == want
    assert got.dtype == np.int32
