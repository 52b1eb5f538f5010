"""``bench score``: scoring a file of saved predictions gives the record a run would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.adapters.base import ModelSpec, parse_model_spec
from bench.adapters.predictions import PredictionsAdapter, read_predictions
from bench.catalog import find_task
from bench.cli import main
from bench.errors import PredictionsError
from bench.metrics.base import BootstrapConfig
from bench.records import load_record
from bench.runner import RunConfig, RunOutcome, run_pair

LIMIT = 40


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """TF-IDF (it gives probabilities) on sentiment-zh, with the CLI's default bootstrap."""
    tmp = tmp_path_factory.mktemp("score")
    cfg = RunConfig(results=tmp / "results", cache=None, limit=LIMIT, bootstrap=BootstrapConfig())
    outcome = run_pair(parse_model_spec("baseline:tfidf-logreg"), find_task("sentiment-zh"), cfg)
    assert outcome.record_path is not None
    lines = (outcome.record_path.parent / "samples.jsonl").read_text(encoding="utf-8")
    samples = [json.loads(x) for x in lines.splitlines()]
    return {"tmp": tmp, "outcome": outcome, "samples": samples}


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text(
        "".join(
            (r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows
        ),
        encoding="utf-8",
    )
    return path


def score_file(path: Path, results: Path, limit: int | None = LIMIT) -> RunOutcome:
    """What ``bench score`` does, called as a library."""
    spec = ModelSpec(
        raw=f"predictions:{path}", kind="predictions", target=str(path), display_name=path.stem
    )
    cfg = RunConfig(results=results, cache=None, limit=limit, bootstrap=BootstrapConfig())
    return run_pair(spec, find_task("sentiment-zh"), cfg, adapter=PredictionsAdapter(str(path)))


def metrics(outcome_or_record: Any) -> dict[str, Any]:
    record = getattr(outcome_or_record, "record", outcome_or_record)
    return {k: v.model_dump() for k, v in record.metrics.items()}


def test_cli_score_of_response_objects_reproduces_the_run(
    run: dict[str, Any], bench_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    preds = write_jsonl(
        bench_home.parent / "tfidf.jsonl",
        [{"id": s["id"], "prediction": s["response"]} for s in run["samples"]],
    )
    with pytest.raises(SystemExit) as info:
        main(
            [
                "score",
                "--task",
                "sentiment-zh",
                "--predictions",
                str(preds),
                "--limit",
                str(LIMIT),
                "--name",
                "saved-tfidf",
            ]
        )
    assert info.value.code == 0, capsys.readouterr().err
    record = load_record(bench_home / "results" / "saved-tfidf" / "sentiment-zh" / "record.json")
    assert record.model.adapter == "predictions"
    assert record.task.dataset_fingerprint == run["outcome"].record.task.dataset_fingerprint
    assert metrics(record) == metrics(run["outcome"])  # ECE included: probabilities kept
    assert "ece" in record.metrics
    samples = bench_home / "results" / "saved-tfidf" / "sentiment-zh" / "samples.jsonl"
    rescored = [json.loads(x) for x in samples.read_text(encoding="utf-8").splitlines()]
    assert [s["prediction"] for s in rescored] == [s["prediction"] for s in run["samples"]]


def test_labels_as_strings(run: dict[str, Any], tmp_path: Path) -> None:
    preds = write_jsonl(
        tmp_path / "labels.jsonl",
        [{"id": s["id"], "prediction": s["prediction"]} for s in reversed(run["samples"])],
    )
    outcome = score_file(preds, tmp_path / "results")
    expected = metrics(run["outcome"])
    got = metrics(outcome)
    del expected["ece"]  # a bare label has no probabilities
    assert got == expected
    assert "ece" in outcome.record.metrics_skipped


def test_unknown_labels_and_nulls_score_as_misses(run: dict[str, Any], tmp_path: Path) -> None:
    rows = []
    for i, s in enumerate(run["samples"]):
        pred: Any = s["reference"]  # all right ...
        if i % 4 == 0:
            pred = None  # ... except a quarter with no answer
        elif i % 4 == 1:
            pred = "neutral"  # ... and a quarter outside the label set
        rows.append({"id": s["id"], "prediction": pred})
    outcome = score_file(write_jsonl(tmp_path / "p.jsonl", rows), tmp_path / "results")
    assert outcome.record.metrics["accuracy"].value == 0.5
    assert outcome.record.metrics["accuracy"].n == LIMIT


def _ids(run: dict[str, Any]) -> list[str]:
    return [s["id"] for s in run["samples"]]


def test_missing_ids(run: dict[str, Any], tmp_path: Path) -> None:
    ids = _ids(run)
    path = write_jsonl(
        tmp_path / "short.jsonl", [{"id": i, "prediction": "positive"} for i in ids[1:]]
    )
    with pytest.raises(PredictionsError) as info:
        score_file(path, tmp_path / "results")
    message = str(info.value)
    assert str(path) in message and repr(ids[0]) in message
    assert f"1 of {LIMIT}" in message
    assert not (tmp_path / "results").exists()


def test_extra_ids(run: dict[str, Any], tmp_path: Path) -> None:
    rows = [{"id": i, "prediction": "positive"} for i in _ids(run)]
    rows.append({"id": "not-a-test-id", "prediction": "negative"})
    path = write_jsonl(tmp_path / "long.jsonl", rows)
    with pytest.raises(PredictionsError) as info:
        score_file(path, tmp_path / "results")
    assert str(path) in str(info.value) and "'not-a-test-id'" in str(info.value)


def test_extra_ids_when_limit_is_forgotten(run: dict[str, Any], tmp_path: Path) -> None:
    """Predictions for the first 40 examples scored against the whole test split."""
    path = write_jsonl(
        tmp_path / "p.jsonl", [{"id": i, "prediction": "positive"} for i in _ids(run)]
    )
    with pytest.raises(PredictionsError, match="have no prediction"):
        score_file(path, tmp_path / "results", limit=None)


@pytest.mark.parametrize(
    ("line", "what"),
    [
        ('{"id": "x", "prediction": "positive"', "invalid JSON"),
        ("not json at all", "invalid JSON"),
        ('["x", "positive"]', "expected an object"),
        ('{"id": "x"}', "expected an object"),
        ('{"prediction": "positive"}', "expected an object"),
    ],
)
def test_bad_line_is_named(run: dict[str, Any], tmp_path: Path, line: str, what: str) -> None:
    rows: list[Any] = [{"id": i, "prediction": "positive"} for i in _ids(run)]
    rows.insert(3, line)
    path = write_jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(PredictionsError) as info:
        PredictionsAdapter(str(path))
    assert f"{path}: line 4:" in str(info.value)
    assert what in str(info.value)


def test_duplicate_id_is_named(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "dup.jsonl",
        [
            {"id": "a", "prediction": "positive"},
            {"id": "b", "prediction": "positive"},
            {"id": "a", "prediction": "negative"},
        ],
    )
    with pytest.raises(PredictionsError, match=r"line 3: id 'a' appears twice"):
        read_predictions(path)


@pytest.mark.parametrize(
    "bad",
    [
        5,
        ["positive"],
        {"lable": "positive"},
        {"label": "positive", "probabilities": {"positive": 0.9, "negative": 0.3}},
        {"label": "positive", "probabilities": {"positive": 1.5, "negative": -0.5}},
    ],
    ids=["number", "list", "misspelt-key", "not-summing-to-1", "out-of-range"],
)
def test_wrong_shape_names_the_id(run: dict[str, Any], tmp_path: Path, bad: Any) -> None:
    ids = _ids(run)
    rows = [{"id": i, "prediction": "positive"} for i in ids]
    rows[7]["prediction"] = bad
    path = write_jsonl(tmp_path / "shape.jsonl", rows)
    with pytest.raises(PredictionsError) as info:
        score_file(path, tmp_path / "results")
    assert str(path) in str(info.value)
    assert repr(ids[7]) in str(info.value)
    assert "wrong shape" in str(info.value)


def test_empty_missing_and_non_utf8_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(PredictionsError, match="no predictions"):
        read_predictions(empty)
    with pytest.raises(PredictionsError, match="no such predictions file"):
        read_predictions(tmp_path / "absent.jsonl")
    gbk = tmp_path / "gbk.jsonl"
    gbk.write_bytes(json.dumps({"id": "1", "prediction": "正面"}, ensure_ascii=False).encode("gbk"))
    with pytest.raises(PredictionsError, match="not UTF-8"):
        read_predictions(gbk)


def test_cli_score_error_is_one_line(
    run: dict[str, Any], bench_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(bench_home.parent / "bad.jsonl", ['{"id": 1,'])
    with pytest.raises(SystemExit) as info:
        main(["score", "--task", "sentiment-zh", "--predictions", str(path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "line 1" in err and str(path) in err
    assert err.count("\n") == 1
    assert "Traceback" not in err
