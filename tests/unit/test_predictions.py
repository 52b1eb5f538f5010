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


def test_nulls_score_as_misses_and_unknown_labels_are_refused(
    run: dict[str, Any], tmp_path: Path
) -> None:
    rows = []
    for i, s in enumerate(run["samples"]):
        pred: Any = s["reference"]  # all right ...
        if i % 2 == 0:
            pred = None  # ... except half with no answer
        rows.append({"id": s["id"], "prediction": pred})
    outcome = score_file(write_jsonl(tmp_path / "p.jsonl", rows), tmp_path / "results")
    assert outcome.record.metrics["accuracy"].value == 0.5
    assert outcome.record.metrics["accuracy"].n == LIMIT
    rows[1]["prediction"] = "neutral"  # outside the label set: never a silent miss
    with pytest.raises(PredictionsError, match=r"line 2 .*'neutral' is not one of the task's"):
        score_file(write_jsonl(tmp_path / "q.jsonl", rows), tmp_path / "results2")


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


# --------------------------------------------------------------------------- re-scoring runs


def cli_score(*args: str) -> None:
    """``bench score ARGS`` in-process; a non-zero exit fails the test with its message."""
    with pytest.raises(SystemExit) as info:
        main(["score", *args])
    assert info.value.code == 0


def sections(record: Any) -> dict[str, Any]:
    """The parts of a record that scoring decides: every metric (value, interval, n,
    signature), what was skipped, the failure accounting and the scored data."""
    return {
        "metrics": {k: v.model_dump() for k, v in record.metrics.items()},
        "skipped": record.metrics_skipped,
        "failures": record.failures,
        "failed": record.predictions.failed,
        "total": record.predictions.total,
        "primary": record.primary_metric,
        "dataset": record.task.dataset_fingerprint,
        "preprocess": record.task.preprocess_hash,
    }


# One baseline per family, each on its smoke task (recommendation scores users, not rows).
FAMILY_RUNS = [
    ("sentiment-en", "baseline:tfidf-logreg", 40),
    ("translation-zh-en", "baseline:copy", 30),
    ("summarization-en", "baseline:lead-k", 20),
    ("qa-zh", "baseline:sliding-window", 30),
    ("recommendation-synthetic", "baseline:most-popular", 60),
]


@pytest.mark.parametrize(
    ("task", "model", "limit"), FAMILY_RUNS, ids=[t for t, _, _ in FAMILY_RUNS]
)
def test_score_of_a_run_folder_reproduces_its_record(
    task: str, model: str, limit: int, bench_home: Path, nltk_data: Path
) -> None:
    cfg = RunConfig(
        results=bench_home / "results", cache=None, limit=limit, bootstrap=BootstrapConfig()
    )
    original = run_pair(parse_model_spec(model), find_task(task), cfg)
    assert original.record is not None and original.record_path is not None
    folder = original.record_path.parent
    # The run folder itself, its samples.jsonl, and the samples file copied elsewhere under
    # another name all give the same numbers.
    cli_score("--task", task, "--predictions", str(folder), "--limit", str(limit))
    rescored_name = f"{original.record.model.name}-rescored"
    again = load_record(
        bench_home
        / "results"
        / parse_model_spec(f"x:y,name={rescored_name}").dir_name
        / task
        / "record.json"
    )
    assert again.model.name == rescored_name
    assert again.model.adapter == "predictions"
    assert again.model.info["rescored_run"] == original.record.run_id
    assert sections(again) == sections(original.record)
    copied = bench_home.parent / "outputs.jsonl"
    copied.write_bytes((folder / "samples.jsonl").read_bytes())
    cli_score(
        "--task", task, "--predictions", str(copied), "--limit", str(limit), "--results",
        str(bench_home / "elsewhere"),
    )  # fmt: skip
    third = load_record(bench_home / "elsewhere" / "outputs" / task / "record.json")
    assert sections(third) == sections(original.record)


class FlakySentiment:
    """A sentiment adapter that answers by text length and fails on every fifth example, as a
    model behind a flaky server would."""

    name = "flaky"

    @staticmethod
    def fails(example_id: str) -> bool:
        return int(example_id.rsplit("-", 1)[-1]) % 5 == 0

    def fingerprint(self) -> str:
        return "flaky-1"

    def supports(self, family: str) -> bool:
        return family == "sentiment"

    def predict(self, requests: Any) -> list[Any]:
        from bench.families.base import Failure
        from bench.families.sentiment import SentimentResponse

        out: list[Any] = []
        for req in requests:
            if self.fails(req.id):
                out.append(Failure(cause="connection", message=f"server dropped {req.id}"))
                continue
            out.append(SentimentResponse(label="positive" if len(req.text) % 2 else "negative"))
        return out


def test_failures_of_the_original_run_fail_again_with_their_causes(bench_home: Path) -> None:
    """Failed lines (``"failure": cause``) are not answers: the re-scored record counts the
    same failures, with the same causes, and scores them as the same misses."""
    cfg = RunConfig(results=bench_home / "results", cache=None, limit=LIMIT)
    model = parse_model_spec("flaky:v1,name=flaky")
    original = run_pair(model, find_task("sentiment-en"), cfg, adapter=FlakySentiment())
    assert original.record is not None and original.record_path is not None
    samples = [
        json.loads(x)
        for x in (original.record_path.parent / "samples.jsonl").read_text("utf-8").splitlines()
    ]
    expected_failed = sorted(s["id"] for s in samples if FlakySentiment.fails(s["id"]))
    assert expected_failed and original.record.failures.ids == expected_failed
    cli_score(
        "--task", "sentiment-en", "--predictions", str(original.record_path.parent),
        "--limit", str(LIMIT),
    )  # fmt: skip
    again = load_record(bench_home / "results" / "flaky-rescored" / "sentiment-en" / "record.json")
    assert sections(again) == sections(original.record)
    assert again.failures.by_cause == original.record.failures.by_cause
    assert again.failures.ids == expected_failed


def test_rescoring_never_overwrites_the_run_it_reads(
    bench_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = RunConfig(results=bench_home / "results", cache=None, limit=10)
    original = run_pair(parse_model_spec("baseline:copy"), find_task("translation-zh-en"), cfg)
    assert original.record_path is not None
    before = original.record_path.read_bytes()
    folder = str(original.record_path.parent)
    args = ["score", "--task", "translation-zh-en", "--predictions", folder, "--limit", "10"]
    with pytest.raises(SystemExit) as info:
        main([*args, "--name", "baseline:copy"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "would overwrite the run record beside it" in err and "fix: pass another --name" in err
    assert original.record_path.read_bytes() == before


def test_samples_of_another_run_are_refused_by_bench_score_and_compare(
    bench_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task = find_task("translation-zh-en")
    cfg = RunConfig(results=bench_home / "r", cache=None, limit=10)
    first = run_pair(parse_model_spec("baseline:copy,name=a"), task, cfg)
    second = run_pair(parse_model_spec("baseline:copy,name=b"), task, cfg)
    assert first.record_path is not None and second.record_path is not None
    folder = second.record_path.parent
    (folder / "samples.jsonl").write_bytes(
        (first.record_path.parent / "samples.jsonl").read_bytes()
    )
    args = ["--task", "translation-zh-en", "--predictions", str(folder), "--limit", "10"]
    with pytest.raises(SystemExit) as info:
        main(["score", *args])
    assert info.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert str(folder / "samples.jsonl") in err and str(folder / "record.json") in err
    assert "two different runs" in err
    with pytest.raises(SystemExit) as info:
        main(["compare", "a", "b", "--results", str(bench_home / "r")])
    assert info.value.code == 2
    assert "two different runs" in " ".join(capsys.readouterr().err.split())


def test_samples_of_another_task_are_refused(bench_home: Path) -> None:
    cfg = RunConfig(results=bench_home / "results", cache=None, limit=10)
    original = run_pair(parse_model_spec("baseline:copy"), find_task("translation-zh-en"), cfg)
    assert original.record_path is not None
    adapter = PredictionsAdapter(str(original.record_path.parent))
    with pytest.raises(PredictionsError) as info:
        score_run(adapter, "translation-en-zh", bench_home / "other", limit=10)
    assert "comes from a run of task 'translation-zh-en'" in str(info.value)
    assert "--task translation-zh-en" in str(info.value)


def score_run(adapter: PredictionsAdapter, task: str, results: Path, limit: int) -> RunOutcome:
    spec = ModelSpec(raw="p", kind="predictions", target=str(adapter.path), display_name="p")
    cfg = RunConfig(results=results, cache=None, limit=limit)
    return run_pair(spec, find_task(task), cfg, adapter=adapter)


def test_missing_ids_of_a_run_without_its_limit_say_how_many_it_scored(bench_home: Path) -> None:
    cfg = RunConfig(results=bench_home / "results", cache=None, limit=10)
    original = run_pair(parse_model_spec("baseline:copy"), find_task("translation-zh-en"), cfg)
    assert original.record_path is not None
    adapter = PredictionsAdapter(str(original.record_path.parent / "samples.jsonl"))
    with pytest.raises(PredictionsError) as info:
        score_run(adapter, "translation-zh-en", bench_home / "other", limit=20)
    message = str(info.value)
    assert "10 of 20 test examples have no prediction" in message
    assert "the run that wrote it scored 10 examples" in message


def test_default_names(tmp_path: Path) -> None:
    from bench.adapters.predictions import default_name

    assert default_name(tmp_path / "my-model.jsonl") == "my-model"
    assert parse_model_spec(f"predictions:{tmp_path / 'hyp.de'}").display_name == "hyp"
    assert parse_model_spec(f"predictions:{tmp_path / 'x.jsonl'},name=mine").display_name == "mine"
    run = tmp_path / "results" / "m" / "t"
    run.mkdir(parents=True)
    (run / "samples.jsonl").write_text('{"id": "1", "prediction": "a"}\n', encoding="utf-8")
    assert default_name(run) == "samples"  # no record beside it: the stem
    (run / "record.json").write_text('{"model": {"name": "gpt-x"}}', encoding="utf-8")
    assert default_name(run) == default_name(run / "samples.jsonl") == "gpt-x-rescored"
    assert parse_model_spec(f"predictions:{run}").display_name == "gpt-x-rescored"


# --------------------------------------------------------------------------- precise errors


def test_wrong_shape_names_the_line(run: dict[str, Any], tmp_path: Path) -> None:
    ids = _ids(run)
    rows: list[Any] = [{"id": i, "prediction": "positive"} for i in ids]
    rows[11] = {"id": ids[11], "response": {"lable": "positive"}}
    path = write_jsonl(tmp_path / "shape.jsonl", rows)
    with pytest.raises(PredictionsError) as info:
        score_file(path, tmp_path / "results")
    message = str(info.value)
    assert f"{path}: line 12 (id {ids[11]!r}): response" in message
    assert "wrong shape for the sentiment family" in message and "fix:" in message


@pytest.mark.parametrize(
    ("row", "what"),
    [
        ({"id": "a", "response": "positive"}, "'response' is a str, not a response object"),
        ({"id": "a", "failure": 3}, "'failure' is 3, not the text of a cause"),
        ({"id": "a", "failure": ""}, "'failure' is '', not the text of a cause"),
        ({"id": "a", "input": "x"}, "has neither 'prediction', 'response' nor 'failure'"),
        (["a", "positive"], "got list"),
    ],
)
def test_bad_samples_lines_are_named(tmp_path: Path, row: Any, what: str) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [{"id": "z", "prediction": "negative"}, row])
    with pytest.raises(PredictionsError) as info:
        read_predictions(path)
    assert f"{path}: line 2" in str(info.value) and what in str(info.value)
    assert "fix:" in str(info.value)


def test_duplicate_id_names_both_lines(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "dup.jsonl",
        [
            {"id": "a", "prediction": "x"},
            {"id": "b", "prediction": "y"},
            {"id": "a", "failure": "E: f"},
        ],
    )
    with pytest.raises(PredictionsError, match=r"line 3: id 'a' appears twice \(first on line 1\)"):
        read_predictions(path)


def test_extra_ids_name_their_lines(run: dict[str, Any], tmp_path: Path) -> None:
    rows = [{"id": i, "prediction": "positive"} for i in _ids(run)]
    rows.insert(5, {"id": "stray", "prediction": "negative"})
    path = write_jsonl(tmp_path / "long.jsonl", rows)
    with pytest.raises(
        PredictionsError,
        match=r"1 id is not in the task's test split \(first: 'stray' \(line 6\)\)",
    ):
        score_file(path, tmp_path / "results")


def test_line_count_mismatch_of_a_text_file_from_the_cli(
    bench_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hyp = bench_home.parent / "hyp.en"
    hyp.write_text("a\nb\nc\n", encoding="utf-8")
    with pytest.raises(SystemExit) as info:
        main(["score", "--task", "translation-zh-en", "--predictions", str(hyp), "--limit", "4"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"{hyp}: 3 lines, but the task's test split has 4 examples" in err
    assert "fix: write one output per line, in test-set order" in err


def test_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(PredictionsError, match="not a run folder"):
        PredictionsAdapter(str(tmp_path))


def test_a_single_line_without_an_id_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "one.jsonl"
    path.write_text('{"prediction": "positive"}\n', encoding="utf-8")
    with pytest.raises(PredictionsError, match=r"one\.jsonl: line 1: .*without 'id'"):
        score_file(path, tmp_path / "results")
