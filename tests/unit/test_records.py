"""Run records: atomic writes, schema-version checks, loading errors, JSON Schema export."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bench.errors import RecordError, ResultsError
from bench.metrics.base import MetricValue
from bench.records import (
    RECORD_SCHEMA_VERSION,
    ModelInfo,
    RunRecord,
    SampleLine,
    SamplesMismatch,
    TaskInfo,
    atomic_write_text,
    load_record,
    load_records,
    read_samples,
    record_json_schema,
    write_run,
)


def make_record(model: str = "baseline:majority", task: str = "sentiment-en") -> RunRecord:
    return RunRecord(
        run_id="0" * 32,
        started_at="2025-01-01T00:00:00+00:00",
        finished_at="2025-01-01T00:00:01+00:00",
        bench_version="0.1.0",
        task=TaskInfo(
            name=task,
            version=1,
            family="sentiment",
            languages=["en"],
            spec_hash="a" * 16,
            dataset_fingerprint="b" * 16,
            dataset_origin="builtin:smoke/sentiment-en/test.jsonl",
            preprocess_hash="c" * 16,
            n_examples=3,
        ),
        model=ModelInfo(name=model, spec=model, adapter=model, fingerprint="d" * 16),
        primary_metric="accuracy",
        metrics={
            "accuracy": MetricValue(
                name="accuracy", value=2 / 3, n=3, ci_low=0.0, ci_high=1.0, signature="accuracy|x"
            )
        },
        bootstrap={"resamples": 10, "confidence": 0.95, "seed": 1},
        timings={"total_s": 0.1},
        predictions={"total": 3, "cached": 0, "computed": 3, "failed": 0},
        failures={"count": 0, "by_cause": {}, "ids": []},
        environment={"python": "3.11"},
    )


# --------------------------------------------------------------------------- atomic writes


def test_atomic_write_replaces_content(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "file.txt"
    atomic_write_text(path, "first\n")
    atomic_write_text(path, "second — 第二\n")
    assert path.read_text(encoding="utf-8") == "second — 第二\n"
    assert [p.name for p in path.parent.iterdir()] == ["file.txt"]  # no temporary files left


class _Boom(Exception):
    pass


def test_failure_during_write_keeps_the_old_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "record.json"
    atomic_write_text(path, "old content\n")

    real_fsync = os.fsync
    calls: list[int] = []

    def failing_fsync(fd: int) -> None:
        # The new text has been written to the temporary file when fsync runs; fail there,
        # as a full disk or a kill would, after part of the data reached the disk.
        calls.append(fd)
        raise _Boom("disk full")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(_Boom):
        atomic_write_text(path, "new content that must never be seen half-written\n" * 1000)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert calls, "the write never reached fsync"
    assert path.read_text() == "old content\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["record.json"]


def test_failure_while_writing_text_keeps_the_old_content(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    atomic_write_text(path, "old\n")
    # A lone surrogate cannot be encoded as UTF-8: the write fails part of the way through.
    bad = "x" * 100_000 + "\ud800" + "y"
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text(path, bad)
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["samples.jsonl"]


def test_a_killed_writer_never_leaves_a_partial_file(tmp_path: Path) -> None:
    """A process killed in the middle of writing leaves the old file (or none) intact."""
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "big.txt"
    atomic_write_text(path, "old\n")
    code = (
        "import sys, os\n"
        "from pathlib import Path\n"
        "from bench.records import atomic_write_text\n"
        "while True:\n"
        "    atomic_write_text(Path(sys.argv[1]), 'new line\\n' * 300_000)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)])
    try:
        deadline = time.monotonic() + 60
        while path.read_text() == "old\n" and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert path.read_text() == "new line\n" * 300_000


def test_write_run_writes_samples_then_record(tmp_path: Path) -> None:
    record = make_record()
    samples = [SampleLine(id="1", input="好", prediction="positive", run_id=record.run_id)]
    path = write_run(tmp_path / "m" / "t", record, samples)
    assert path == tmp_path / "m" / "t" / "record.json"
    assert load_record(path) == record
    lines = (tmp_path / "m" / "t" / "samples.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["run_id"] for x in lines] == [record.run_id]
    assert read_samples(path.parent / "samples.jsonl", record) == samples
    assert "好" in lines[0]  # UTF-8, not \\u escapes


def test_write_run_refuses_a_sample_of_another_run(tmp_path: Path) -> None:
    record = make_record()
    with pytest.raises(ValueError, match="run_id"):
        write_run(tmp_path, record, [SampleLine(id="1", run_id="other")])
    assert not (tmp_path / "record.json").exists()


def test_samples_of_another_run_are_refused(tmp_path: Path) -> None:
    ours, theirs = make_record(), make_record().model_copy(update={"run_id": "f" * 32})
    folder = tmp_path / "m" / "t"
    write_run(folder, theirs, [SampleLine(id="1", run_id=theirs.run_id)])
    (folder / "record.json").write_text(ours.model_dump_json(), encoding="utf-8")
    with pytest.raises(SamplesMismatch) as info:
        read_samples(folder / "samples.jsonl", load_record(folder / "record.json"))
    message = str(info.value)
    assert str(folder / "samples.jsonl") in message and str(folder / "record.json") in message
    assert ours.run_id in message and theirs.run_id in message
    assert "re-run the task" in message
    # A version-2 record also refuses samples without any run_id (written before v2).
    (folder / "samples.jsonl").write_text('{"id": "1"}\n', encoding="utf-8")
    with pytest.raises(SamplesMismatch):
        read_samples(folder / "samples.jsonl", ours)
    # ...which a version-1 record accepts: its samples never carried one.
    old = ours.model_copy(update={"schema_version": 1})
    assert [s.id for s in read_samples(folder / "samples.jsonl", old)] == ["1"]


def test_a_sample_line_is_closed() -> None:
    with pytest.raises(ValidationError):
        SampleLine.model_validate({"id": "1", "predictoin": "x"})


def test_write_run_into_unwritable_place_is_a_results_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ResultsError, match=str(blocker)):
        write_run(blocker / "m" / "t", make_record(), [])


# --------------------------------------------------------------------------- loading


def _write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("version", [0, RECORD_SCHEMA_VERSION + 1, None, "1"])
def test_unknown_schema_version_is_rejected(tmp_path: Path, version: Any) -> None:
    data = json.loads(make_record().model_dump_json())
    if version is None:
        del data["schema_version"]
    else:
        data["schema_version"] = version
    path = _write(tmp_path / "record.json", data)
    with pytest.raises(RecordError) as info:
        load_record(path)
    assert str(path) in str(info.value)
    assert "schema version" in str(info.value)


@pytest.mark.parametrize("text", ["{not json", "", "[1, 2", '{"schema_version": 1,}'])
def test_broken_json_names_the_file(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path / "x" / "record.json", text)
    with pytest.raises(RecordError) as info:
        load_record(path)
    assert str(path) in str(info.value)


def test_json_that_is_not_an_object_is_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path / "record.json", "[1, 2, 3]")
    with pytest.raises(RecordError, match=str(path)):
        load_record(path)


def test_missing_field_is_named(tmp_path: Path) -> None:
    data = json.loads(make_record().model_dump_json())
    del data["task"]["dataset_fingerprint"]
    path = _write(tmp_path / "record.json", data)
    with pytest.raises(RecordError) as info:
        load_record(path)
    assert str(path) in str(info.value)
    assert "task.dataset_fingerprint" in str(info.value)


def test_unknown_field_is_rejected(tmp_path: Path) -> None:
    data = json.loads(make_record().model_dump_json())
    data["surprise"] = 1
    path = _write(tmp_path / "record.json", data)
    with pytest.raises(RecordError, match="surprise"):
        load_record(path)


def test_missing_file_is_a_record_error(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="nope"):
        load_record(tmp_path / "nope" / "record.json")


def test_load_records_sorts_by_model_then_task(tmp_path: Path) -> None:
    for model, task in [("zeta", "a"), ("alpha", "b"), ("alpha", "a")]:
        write_run(tmp_path / model / task, make_record(model, task), [])
    records = load_records(tmp_path)
    assert [(r.model.name, r.task.name) for r in records] == [
        ("alpha", "a"),
        ("alpha", "b"),
        ("zeta", "a"),
    ]
    with pytest.raises(RecordError, match="no such results folder"):
        load_records(tmp_path / "missing")


def test_records_are_frozen() -> None:
    record = make_record()
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        record.run_id = "other"  # type: ignore[misc]


# --------------------------------------------------------------------------- JSON Schema


def test_json_schema_describes_a_record() -> None:
    schema = record_json_schema()
    json.dumps(schema)  # serialisable
    assert schema["type"] == "object"
    props = schema["properties"]
    for key in (
        "schema_version",
        "run_id",
        "task",
        "model",
        "metrics",
        "primary_metric",
        "timings",
        "failures",
        "predictions",
        "environment",
        "bench_version",
    ):
        assert key in props, key
    assert schema.get("additionalProperties") is False
    assert props["schema_version"]["default"] == RECORD_SCHEMA_VERSION
    required = set(schema["required"])
    assert {"run_id", "task", "model", "metrics", "primary_metric"} <= required
    defs = schema["$defs"]
    assert {"TaskInfo", "ModelInfo", "MetricValue"} <= set(defs)
    assert "dataset_fingerprint" in defs["TaskInfo"]["required"]
    assert "signature" in defs["MetricValue"]["required"]


def test_schema_covers_every_field_of_a_written_record(tmp_path: Path) -> None:
    path = write_run(tmp_path / "m" / "t", make_record(), [])
    data = json.loads(path.read_text())
    schema = record_json_schema()
    assert set(data) == set(schema["properties"])
    assert set(data["task"]) == set(schema["$defs"]["TaskInfo"]["properties"])
    assert set(data["model"]) == set(schema["$defs"]["ModelInfo"]["properties"])
    metric = data["metrics"]["accuracy"]
    assert set(metric) == set(schema["$defs"]["MetricValue"]["properties"])
