"""Faults in what a run reads back, table-driven: damaged cache rows, train/test overlap, and
``--check-determinism``'s tolerance.

* A damaged prediction-cache row (not JSON, cut short, bytes that are not UTF-8, nesting too deep
  to parse, the wrong shape or field types) never raises: the row is dropped, predicted again
  and replaced, the record counts it (``cache_dropped``), and the metrics equal a clean run's.
* Train/test overlap (test examples whose input is also a train example) is counted into the
  record (``task.train_overlap``) whenever a run reads the train split; more than the task
  allows (``allow_overlap``: 1% by default) is refused naming the ids; a task whose train and
  test splits are the same expression is refused for every model.
* ``--check-determinism`` compares labels and texts exactly and floats within a declared
  tolerance, and names each changed field with both values: bench's own textcnn passes.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command

from bench.adapters.base import parse_model_spec
from bench.catalog import find_task
from bench.cli import app
from bench.determinism import FLOAT_TOLERANCE, Tolerance, differences
from bench.errors import DataError, TaskSpecError
from bench.metrics.base import BootstrapConfig
from bench.runner import RunConfig, run_plan
from bench.spec import load_task
from bench.stages import prepare
from tests.reliability.cases import Case, Outcome, raises_exactly

# --------------------------------------------------------------------------- item 15: cache

LIMIT = 24


def run_majority(tmp: Path) -> dict[str, Any]:
    """The majority baseline on the first examples of sentiment-en, with a cache: the record
    (scored each time: an up-to-date record would be kept without reading the cache)."""
    config = RunConfig(
        results=tmp / "results",
        cache=tmp / "cache.sqlite",
        limit=LIMIT,
        bootstrap=BootstrapConfig(resamples=0),
        rescore=True,
    )
    (outcome,) = run_plan(
        [parse_model_spec("baseline:majority")], [find_task("sentiment-en")], config
    )
    assert outcome.record_path is not None
    data: dict[str, Any] = json.loads(outcome.record_path.read_text(encoding="utf-8"))
    return data


def damaged(*values: str | bytes) -> Callable[[Path], Any]:
    """A warm cache whose first rows are replaced by ``values``, then two more runs."""

    def run(tmp: Path) -> Any:
        clean = run_majority(tmp)
        conn = sqlite3.connect(tmp / "cache.sqlite")
        try:
            rows = [r[0] for r in conn.execute("SELECT request FROM predictions ORDER BY request")]
            for value, request in zip(values, rows, strict=False):
                conn.execute(
                    "UPDATE predictions SET response = ? WHERE request = ?", (value, request)
                )
            conn.commit()
        finally:
            conn.close()
        hit = run_majority(tmp)
        again = run_majority(tmp)
        return {
            "dropped": hit["cache_dropped"],
            "cached": hit["predictions"]["cached"],
            "same metrics": hit["metrics"] == clean["metrics"],
            "repaired": (again["cache_dropped"], again["predictions"]["cached"]),
        }

    return run


def dropped(k: int) -> dict[str, Any]:
    return {"dropped": k, "cached": LIMIT - k, "same metrics": True, "repaired": (0, LIMIT)}


GOOD = '{"label": "negative", "probabilities": {"negative": 0.5, "positive": 0.5}, "raw": null}'

# --------------------------------------------------------------------------- item 6: overlap

TASK = """\
name: {name}
version: 1
family: sentiment
languages: [en]
description: Train/test overlap.
labels: [negative, positive]
source:
  kind: local
  location: data
  format: jsonl
  files: {{train: train.jsonl, test: test.jsonl}}
  splits: {splits}
metrics: [accuracy]
primary_metric: accuracy
{extra}"""


def rows(prefix: str, n: int) -> list[dict[str, Any]]:
    words = ("good", "bad")
    return [
        {
            "id": f"{prefix}{k}",
            "text": f"{prefix} review {k} is {words[k % 2]}",
            "label": ("positive", "negative")[k % 2],
        }
        for k in range(n)
    ]


def overlap_task(
    tmp: Path,
    *,
    copies: int = 0,
    splits: str = "{train: train, test: test}",
    extra: str = "",
    relabel: bool = False,
) -> Any:
    """A task of 40 train and 50 test rows, ``copies`` test texts copied from train."""
    (tmp / "data").mkdir(exist_ok=True)
    train, test = rows("train", 40), rows("test", 50)
    for k in range(copies):
        test[k]["text"] = train[k]["text"]
        if relabel:  # the same input, another label: still the same test example
            test[k]["label"] = "negative" if train[k]["label"] == "positive" else "positive"
    for name, part in (("train", train), ("test", test)):
        (tmp / "data" / f"{name}.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in part), encoding="utf-8"
        )
    path = tmp / "ov.yaml"
    path.write_text(TASK.format(name="ov", splits=splits, extra=extra), encoding="utf-8")
    return load_task(path)


def overlap_run(name: str = "baseline:tfidf-logreg", **kw: Any) -> Callable[[Path], Any]:
    """Run model ``name`` (``predictions``: a file of outputs) on an overlap task; what the
    record says."""

    def run(tmp: Path) -> Any:
        model = name
        task = overlap_task(tmp, **kw)
        if model == "predictions":  # a model that does not train: a file of outputs
            test = (
                tmp
                / "data"
                / ("train.jsonl" if "test: train" in kw.get("splits", "") else "test.jsonl")
            )
            ids = [json.loads(line)["id"] for line in test.read_text().split("\n") if line]
            (tmp / "p.jsonl").write_text(
                "".join(json.dumps({"id": i, "prediction": "positive"}) + "\n" for i in ids)
            )
            model = f"predictions:{tmp / 'p.jsonl'}"
        config = RunConfig(results=tmp / "r", bootstrap=BootstrapConfig(resamples=0))
        (outcome,) = run_plan([parse_model_spec(model)], [task], config)
        assert outcome.record is not None
        return {"overlap": outcome.record.task.train_overlap, "n": outcome.record.task.n_examples}

    return run


def overlap_prepare(**kw: Any) -> Callable[[Path], Any]:
    """Prepare an overlap task for a model that trains (no model is called)."""

    def run(tmp: Path) -> Any:
        task = overlap_task(tmp, **kw)
        return prepare(task, RunConfig(results=tmp / "r"), want_train=True).train_overlap

    return run


def recommendation(tmp: Path) -> Any:
    """A recommendation task: test interactions are held out of train by its protocol."""
    config = RunConfig(results=tmp / "r", limit=20, bootstrap=BootstrapConfig(resamples=0))
    task = find_task("recommendation-synthetic")
    (outcome,) = run_plan([parse_model_spec("baseline:most-popular")], [task], config)
    assert outcome.record is not None
    return outcome.record.task.train_overlap


# --------------------------------------------------------------------------- item 11: tolerance


def diff(before: Any, after: Any, tolerance: Tolerance = FLOAT_TOLERANCE) -> Callable[..., Any]:
    moved: list[float] = []
    return lambda _tmp: (differences(before, after, tolerance, moved), len(moved))


P = {"label": "positive", "probabilities": {"negative": 0.25, "positive": 0.75}, "raw": None}


def probs(neg: float, pos: float, label: str = "positive") -> dict[str, Any]:
    return {**P, "label": label, "probabilities": {"negative": neg, "positive": pos}}


# --------------------------------------------------------------------------- the tables


OUTCOMES = [
    # ---- damaged cache rows
    Outcome("cache-not-json", damaged("not json at all"), dropped(1)),
    Outcome("cache-cut-short", damaged(GOOD[:30]), dropped(1)),
    Outcome("cache-not-utf8-blob", damaged(b"\xff\xfe\x00garbage"), dropped(1)),
    Outcome("cache-json-list", damaged("[1, 2]"), dropped(1)),
    Outcome("cache-json-null", damaged("null"), dropped(1)),
    Outcome("cache-json-string", damaged('"negative"'), dropped(1)),
    Outcome("cache-empty-object", damaged("{}"), dropped(1)),
    Outcome("cache-label-wrong-type", damaged('{"label": 5}'), dropped(1)),
    Outcome(
        "cache-probabilities-wrong-type",
        damaged('{"label": "negative", "probabilities": {"negative": "high"}}'),
        dropped(1),
    ),
    Outcome("cache-extra-field", damaged(GOOD[:-1] + ', "extra": 1}'), dropped(1)),
    Outcome("cache-nested-too-deep", damaged("[" * 100_000 + "]" * 100_000), dropped(1)),
    Outcome(
        "cache-several-kinds",
        damaged("x", "[1]", '{"label": 5}', b"\x80", "[" * 50_000),
        dropped(5),
    ),
    # ---- train/test overlap
    Outcome("overlap-none", overlap_prepare(), 0),
    Outcome("overlap-none-recorded", overlap_run(), {"overlap": 0, "n": 50}),
    Outcome(
        "overlap-allowed-share",
        overlap_run(copies=2, extra="allow_overlap: 0.05\n"),
        {"overlap": 2, "n": 50},
    ),
    Outcome(
        "overlap-allowed-all",
        overlap_run(splits="{train: train, test: train}", extra="allow_overlap: true\n"),
        {"overlap": 40, "n": 40},
    ),
    Outcome(
        "overlap-relabelled-copy-counted",
        overlap_prepare(copies=3, relabel=True, extra="allow_overlap: true\n"),
        3,
    ),
    Outcome(
        "overlap-not-counted-without-train",
        overlap_run("predictions", copies=10),
        {"overlap": None, "n": 50},
    ),
    Outcome("overlap-recommendation-not-applicable", recommendation, None),
    # ---- determinism tolerance
    Outcome("tolerance-jitter-is-no-change", diff(P, probs(0.25 + 4e-8, 0.75 - 4e-8)), ([], 2)),
    Outcome(
        "tolerance-real-change-named",
        diff(P, probs(0.6, 0.4, "negative")),
        (
            [
                {"field": "label", "before": "positive", "after": "negative"},
                {"field": "probabilities.negative", "before": 0.25, "after": 0.6},
                {"field": "probabilities.positive", "before": 0.75, "after": 0.4},
            ],
            0,
        ),
    ),
    Outcome(
        "tolerance-text-exact",
        diff({"text": "a b"}, {"text": "a  b"}),
        ([{"field": "text", "before": "a b", "after": "a  b"}], 0),
    ),
    Outcome(
        "tolerance-ranking-exact",
        diff({"items": ["1", "2", "3"]}, {"items": ["1", "3", "2"]}),
        (
            [
                {"field": "items[1]", "before": "2", "after": "3"},
                {"field": "items[2]", "before": "3", "after": "2"},
            ],
            0,
        ),
    ),
    Outcome(
        "tolerance-missing-key",
        diff(P, {"label": "positive", "raw": None}),
        ([{"field": "probabilities", "before": P["probabilities"], "after": None}], 0),
    ),
    Outcome(
        "tolerance-declared-tighter",
        diff(P, probs(0.25 + 4e-8, 0.75), Tolerance(abs=1e-9, rel=0.0)),
        ([{"field": "probabilities.negative", "before": 0.25, "after": 0.25 + 4e-8}], 0),
    ),
    Outcome("tolerance-int-vs-float-score", diff({"correct": 1}, {"correct": 1.0}), ([], 0)),
    Outcome("tolerance-nan-equals-nan", diff({"p": math.nan}, {"p": math.nan}), ([], 0)),
]

CASES = [
    Case(
        "overlap-above-default",
        overlap_prepare(copies=2),
        DataError,
        (
            "task 'ov'",
            "2 of 50 test examples (4.0%) also appear in the train split",
            "test 'test0' = train 'train0'",
            "allows 1.0%",
            "allow_overlap",
        ),
    ),
    Case(
        "overlap-above-declared-share",
        overlap_prepare(copies=5, extra="allow_overlap: 0.05\n"),
        DataError,
        ("5 of 50 test examples (10.0%)", "allows 5.0%"),
    ),
    Case(
        "overlap-same-split-expression",
        overlap_prepare(splits="{train: all, test: all}"),
        DataError,
        ("task 'ov'", "train and test are both 'all'", "every test example is a train example"),
    ),
    Case(
        "overlap-same-split-refused-for-untrained-models",
        overlap_run("predictions", splits="{train: train, test: train}"),
        DataError,
        ("train and test are both 'train'", "allow_overlap: true"),
    ),
    Case(
        "overlap-share-out-of-range",
        lambda tmp: overlap_task(tmp, extra="allow_overlap: 1.5\n"),
        TaskSpecError,
        ("ov.yaml", "allow_overlap"),
    ),
]


def test_there_are_enough_cases() -> None:
    assert len(OUTCOMES) + len(CASES) >= 30
    assert len({c.id for c in [*OUTCOMES, *CASES]}) == len(OUTCOMES) + len(CASES)


@pytest.mark.parametrize("case", OUTCOMES, ids=[c.id for c in OUTCOMES])
def test_outcome(case: Outcome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert case.run(tmp_path) == case.expect


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_refused(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    raises_exactly(case, tmp_path, fix_optional=(TaskSpecError,))


def test_overlap_is_warned_about_by_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    overlap_task(tmp_path, copies=2, extra="allow_overlap: 0.05\n")
    args = ["run", "-m", "baseline:tfidf-logreg", "-t", "ov", "--tasks-dir", str(tmp_path)]
    args += ["--bootstrap", "0", "--no-cache", "--results", str(tmp_path / "r")]
    assert get_command(app).main(args, standalone_mode=False) in (None, 0)
    assert "2 of 50 test examples also appear in the train split" in capsys.readouterr().err


def test_textcnn_passes_its_own_determinism_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Probabilities jitter by ~1e-8 between batch sizes; labels do not change: no change is
    reported, and the record says how far floats moved within the declared tolerance."""
    monkeypatch.chdir(tmp_path)
    args = ["run", "-m", "baseline:textcnn", "-t", "sentiment-en", "--check-determinism"]
    args += ["--bootstrap", "0", "--no-cache", "--results", str(tmp_path / "r")]
    assert get_command(app).main(args, standalone_mode=False) in (None, 0)
    record = json.loads(
        (tmp_path / "r" / "baseline-textcnn" / "sentiment-en" / "record.json").read_text()
    )
    check = record["determinism"]
    assert check["ok"] is True and check["changed_predictions"] == 0
    assert check["tolerance"] == {"abs": 1e-6, "rel": 1e-6}
    assert 0 <= check["max_float_difference"] <= 1e-6
    assert "changed" not in capsys.readouterr().err


def test_dropped_cache_rows_are_warned_about_by_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["run", "-m", "baseline:majority", "-t", "sentiment-en", "--limit", str(LIMIT)]
    args += ["--bootstrap", "0", "--cache", str(tmp_path / "c.sqlite")]
    args += ["--results", str(tmp_path / "r")]
    assert get_command(app).main(args, standalone_mode=False) in (None, 0)
    conn = sqlite3.connect(tmp_path / "c.sqlite")
    try:
        conn.execute(
            "UPDATE predictions SET response = '[' WHERE request = "
            "(SELECT MAX(request) FROM predictions)"
        )
        conn.commit()
    finally:
        conn.close()
    capsys.readouterr()
    # --rescore: the record is up to date, and only a pair scored again reads the cache.
    assert get_command(app).main([*args, "--rescore"], standalone_mode=False) in (None, 0)
    err = capsys.readouterr().err
    assert "1 damaged prediction-cache row(s) were dropped and predicted again" in err
    assert "Traceback" not in err
