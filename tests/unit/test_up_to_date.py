"""A pair whose record is up to date is kept, not scored again (issue 18, goal 1).

Up to date means the record was written with the pair's :func:`bench.stages.inputs_key`:
bench's version, the task as run, its data files' contents, preprocessing, adapter, protocol,
bootstrap, limit and package versions, all known before any data is read. Each test changes
one of them on real local files and checks that the pair is scored again, and that nothing
else makes it so.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest

import bench.runner
import bench.stages
from bench.adapters.base import parse_model_spec
from bench.cli import main
from bench.data import BUILTIN_ROOT
from bench.data.overrides import source_identity
from bench.metrics.base import BootstrapConfig
from bench.runner import RunConfig, RunOutcome, run_plan
from bench.spec import TaskSpec, load_task, parse_task

TASK = """\
name: local-sent
version: 1
family: sentiment
languages: [en]
description: A local copy of part of the smoke data.
labels: [negative, positive]
source:
  kind: local
  location: data
  format: jsonl
  files: {train: train.jsonl, test: test.jsonl}
  splits: {train: train, test: test}
metrics: [accuracy, macro_f1]
primary_metric: accuracy
"""

SMOKE = BUILTIN_ROOT / "smoke" / "sentiment-en"


def _task(root: Path, *, test_rows: int = 40, text: str = TASK) -> TaskSpec:
    (root / "data").mkdir(parents=True, exist_ok=True)
    train = (SMOKE / "train.jsonl").read_text(encoding="utf-8")
    test = (SMOKE / "test.jsonl").read_text(encoding="utf-8").splitlines(True)[:test_rows]
    (root / "data" / "train.jsonl").write_text(train, encoding="utf-8")
    (root / "data" / "test.jsonl").write_text("".join(test), encoding="utf-8")
    (root / "local-sent.yaml").write_text(text, encoding="utf-8")
    return load_task(root / "local-sent.yaml")


def _config(tmp: Path, **kw: Any) -> RunConfig:
    kw.setdefault("bootstrap", BootstrapConfig(resamples=100, seed=1))
    return RunConfig(results=tmp / "results", cache=tmp / "cache.sqlite", **kw)


def _run(task: TaskSpec, cfg: RunConfig, model: str = "baseline:majority") -> RunOutcome:
    [outcome] = run_plan([parse_model_spec(model)], [task], cfg)
    return outcome


@pytest.fixture()
def no_loading(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every call of the load stage (an up-to-date pair must make none)."""
    calls: list[str] = []
    real = bench.stages.prepare

    def prepare(task: TaskSpec, *args: Any, **kwargs: Any) -> Any:
        calls.append(task.name)
        return real(task, *args, **kwargs)

    monkeypatch.setattr(bench.runner, "prepare", prepare)
    return calls


def test_an_up_to_date_record_is_kept_without_loading_anything(
    tmp_path: Path, no_loading: list[str]
) -> None:
    task, cfg = _task(tmp_path / "task"), _config(tmp_path)
    first = _run(task, cfg)
    assert first.status == "done" and first.record is not None
    assert first.record.inputs_key is not None
    assert no_loading == ["local-sent"]
    path = first.record_path
    assert path is not None
    before = (path.read_bytes(), (path.parent / "samples.jsonl").read_bytes())

    again = _run(task, cfg)
    assert again.status == "up-to-date"
    assert again.record is not None and again.record.run_id == first.record.run_id
    assert again.record_path == path
    assert no_loading == ["local-sent"]  # no second load
    assert (path.read_bytes(), (path.parent / "samples.jsonl").read_bytes()) == before

    forced = _run(task, dataclasses.replace(cfg, rescore=True))
    assert forced.status == "done" and forced.record is not None
    assert forced.record.run_id != first.record.run_id
    assert forced.record.inputs_key == first.record.inputs_key
    assert forced.record.metrics == first.record.metrics  # the same numbers, scored again
    assert no_loading == ["local-sent", "local-sent"]


def test_a_changed_data_file_is_scored_again(tmp_path: Path) -> None:
    task, cfg = _task(tmp_path / "task"), _config(tmp_path)
    first = _run(task, cfg)
    test_file = tmp_path / "task" / "data" / "test.jsonl"
    rows = test_file.read_text(encoding="utf-8").splitlines(True)
    # Same size and modification time, one label flipped: only the content tells.
    st = os.stat(test_file)
    row = json.loads(rows[0])
    flipped = "positive" if row["label"] == "negative" else "negative"
    rows[0] = rows[0].replace(f'"{row["label"]}"', f'"{flipped}"')
    test_file.write_text("".join(rows), encoding="utf-8")
    os.utime(test_file, ns=(st.st_atime_ns, st.st_mtime_ns))
    again = _run(task, cfg)
    assert again.status == "done"
    assert again.record is not None and first.record is not None
    assert again.record.inputs_key != first.record.inputs_key
    assert again.record.task.dataset_fingerprint != first.record.task.dataset_fingerprint


def test_a_new_file_in_the_source_folder_is_scored_again(tmp_path: Path) -> None:
    task, cfg = _task(tmp_path / "task"), _config(tmp_path)
    _run(task, cfg)
    (tmp_path / "task" / "data" / "README.txt").write_text("notes\n", encoding="utf-8")
    assert _run(task, cfg).status == "done"
    assert _run(task, cfg).status == "up-to-date"


@pytest.mark.parametrize(
    "change",
    ["bootstrap", "seed", "model-params", "task-metrics", "max-failures"],
)
def test_each_input_of_the_record_is_part_of_its_key(tmp_path: Path, change: str) -> None:
    task, cfg = _task(tmp_path / "task"), _config(tmp_path)
    model = (
        "baseline:tfidf-logreg,folds=2,name=tl" if change == "model-params" else "baseline:majority"
    )
    assert _run(task, cfg, model).status == "done"
    assert _run(task, cfg, model).status == "up-to-date"
    if change == "bootstrap":
        cfg = dataclasses.replace(cfg, bootstrap=BootstrapConfig(resamples=200, seed=1))
    elif change == "seed":
        cfg = dataclasses.replace(cfg, bootstrap=BootstrapConfig(resamples=100, seed=2))
    elif change == "model-params":
        model = "baseline:tfidf-logreg,folds=3,name=tl"
    elif change == "task-metrics":
        text = TASK.replace("metrics: [accuracy, macro_f1]", "metrics: [accuracy]")
        task = _task(tmp_path / "task", text=text)
    elif change == "max-failures":
        cfg = dataclasses.replace(cfg, max_failures=3)
    changed = _run(task, cfg, model)
    assert changed.status == "done", change
    assert _run(task, cfg, model).status == "up-to-date", change


def test_a_damaged_or_mismatched_record_is_scored_again(tmp_path: Path) -> None:
    task, cfg = _task(tmp_path / "task"), _config(tmp_path)
    first = _run(task, cfg)
    assert first.record_path is not None
    samples = first.record_path.parent / "samples.jsonl"
    # Samples of another run beside the record (a write cut off between the two files).
    lines = samples.read_text(encoding="utf-8").splitlines(True)
    other = json.loads(lines[0])
    other["run_id"] = "0" * 32
    samples.write_text(json.dumps(other) + "\n" + "".join(lines[1:]), encoding="utf-8")
    assert _run(task, cfg).status == "done"
    assert _run(task, cfg).status == "up-to-date"
    first.record_path.write_text("{not json", encoding="utf-8")
    assert _run(task, cfg).status == "done"
    samples.unlink()
    assert _run(task, cfg).status == "done"


def test_a_limited_run_and_a_full_run_keep_their_own_records(tmp_path: Path) -> None:
    task = _task(tmp_path / "task")
    full, limited = _config(tmp_path), _config(tmp_path, limit=10)
    assert _run(task, full).status == "done"
    assert _run(task, limited).status == "done"
    assert _run(task, full).status == "up-to-date"
    kept = _run(task, limited)
    assert kept.status == "up-to-date" and kept.record is not None
    assert kept.record.task.limit == 10


def test_determinism_check_always_runs(tmp_path: Path) -> None:
    from bench.runner import DeterminismCheck

    task, cfg = _task(tmp_path / "task"), _config(tmp_path)
    _run(task, cfg)
    checked = _run(task, dataclasses.replace(cfg, determinism=DeterminismCheck(8)))
    assert checked.status == "done" and checked.determinism is not None


def test_source_identity_by_kind(tmp_path: Path) -> None:
    task = _task(tmp_path / "task")
    ident = source_identity(task)
    assert ident is not None and ident == source_identity(_task(tmp_path / "task"))

    def hub(revision: str | None) -> TaskSpec:
        rev = f"\n  revision: {revision}" if revision else ""
        text = TASK.replace(
            "  kind: local\n  location: data\n  format: jsonl\n"
            "  files: {train: train.jsonl, test: test.jsonl}\n",
            f"  kind: hub\n  location: stanfordnlp/sst2{rev}\n",
        )
        return parse_task(text)

    # An unpinned (or branch-pinned) hub dataset can change under the same name.
    assert source_identity(hub(None)) is None
    assert source_identity(hub("main")) is None
    commit = "a" * 40
    assert source_identity(hub(commit)) is not None
    assert source_identity(hub(commit)) != source_identity(hub("b" * 40))


def test_an_unpinned_hub_task_is_always_scored(tmp_path: Path) -> None:
    task = _task(tmp_path / "task")
    cfg = _config(tmp_path)
    adapter = bench.runner.make_adapter(parse_model_spec("baseline:majority"))
    assert bench.stages.inputs_key(adapter, task, cfg) is not None
    hub = parse_task(
        TASK.replace(
            "  kind: local\n  location: data\n  format: jsonl\n"
            "  files: {train: train.jsonl, test: test.jsonl}\n",
            "  kind: hub\n  location: stanfordnlp/sst2\n",
        )
    )
    assert bench.stages.inputs_key(adapter, hub, cfg) is None
    assert (
        bench.stages.current_record(cfg, parse_model_spec("baseline:majority"), hub, None) is None
    )


def test_bench_run_reports_kept_pairs_and_rescore_scores_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    _task(tmp_path / "tasks")
    argv = [
        "run",
        "-m",
        "baseline:majority",
        "-t",
        "local-sent",
        "--tasks-dir",
        str(tmp_path / "tasks"),
        "--results",
        "res",
        "--bootstrap",
        "100",
    ]

    def bench_run(*extra: str) -> str:
        with pytest.raises(SystemExit) as info:
            main([*argv, *extra])
        assert info.value.code in (0, None)
        captured = capsys.readouterr()
        return captured.out + captured.err

    assert "up to date" not in bench_run()
    kept = bench_run()
    assert "1 pair(s) up to date" in kept and "--rescore" in kept
    assert "up to date" not in bench_run("--rescore")


def test_an_up_to_date_leaderboard_is_not_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``bench run --publish`` keeps a published folder that holds exactly what the build
    would write (same records, title and command); a file edited by hand, or a record scored
    again, rebuilds it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    _task(tmp_path / "tasks")
    argv = ["run", "-m", "baseline:majority", "-t", "local-sent", "--tasks-dir", "tasks"]
    argv += ["--results", "res", "--bootstrap", "100", "--publish", "board"]

    def bench_run(*extra: str) -> str:
        with pytest.raises(SystemExit) as info:
            main([*argv, *extra])
        assert info.value.code in (0, None)
        return capsys.readouterr().err

    assert "wrote board/README.md" in bench_run()
    readme = tmp_path / "board" / "README.md"
    first = readme.read_bytes()
    kept = bench_run()
    assert "board: up to date" in kept and "wrote" not in kept
    assert readme.read_bytes() == first
    readme.write_text("edited by hand\n", encoding="utf-8")
    assert "wrote board/README.md" in bench_run()
    assert readme.read_bytes() == first  # rebuilt as it was
    (tmp_path / "board" / "index.html").unlink()
    assert "wrote board/index.html" in bench_run()
    # Scored again: a new run id in the record, so a new report (its dates, its footnotes).
    assert "wrote board/README.md" in bench_run("--rescore")
    # Another title is another report.
    assert "wrote board/README.md" in bench_run("--title", "another")
