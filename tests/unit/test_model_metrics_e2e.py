"""Model-based metrics end to end, through the ``bench`` command as a user runs it.

A tiny seeded BERT-shaped encoder built in the test (:func:`tiny_models.tiny_bert`) stands in
for roberta-large: ``bench run --metrics +bertscore:model=DIR,num_layers=2`` on the smoke
translation task, then ``bench score`` of the run twice (the second computes no segment: the
record's ``segment_cache`` says so), ``bench compare`` (a paired test for each BERTScore
value) and ``bench leaderboard`` (the values in the per-task table).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

_SCRIPT = Path(sys.executable).with_name("bench")
BENCH = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "bench.cli"]
TASK = "translation-zh-en"


def _tiny_models() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "fixtures" / "tiny_models.py"
    spec = importlib.util.spec_from_file_location("bench_test_tiny_models", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*BENCH, *args], capture_output=True, text=True, env=dict(os.environ), timeout=600
    )
    return proc


def _ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    return proc


@pytest.fixture()
def cli(bench_home: Path, nltk_data: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("BENCH_TASKS_PATH", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return bench_home


def _score(predictions: Path, name: str, *options: str) -> None:
    """``bench score`` of ``predictions`` on the task as model ``name`` (200 resamples)."""
    _ok(
        bench(
            "score", "--task", TASK, "--predictions", str(predictions), "--name", name,
            "--bootstrap", "200", *options,
        )
    )  # fmt: skip


def _record(home: Path, model: str, task: str = TASK) -> dict:
    return json.loads((home / "results" / model / task / "record.json").read_text())


@pytest.mark.slow
def test_bertscore_run_rescore_compare_and_leaderboard(cli: Path, tmp_path: Path) -> None:
    model_dir = _tiny_models().tiny_bert(tmp_path / "tiny-bert", seed=0)
    extra = f"+bertscore:model={model_dir},num_layers=2"
    _ok(bench("run", "-m", "baseline:copy", "-t", TASK, "--metrics", extra, "--bootstrap", "200"))
    copy = _record(cli, "baseline-copy")
    names = set(copy["metrics"])
    assert {"bertscore", "bertscore/precision", "bertscore/recall", "bleu"} <= names
    sig = copy["metrics"]["bertscore"]["signature"]
    assert "model:local:tiny-bert@sha256:" in sig and "L:2" in sig and "bert-score:" in sig
    n = copy["task"]["n_examples"]
    assert copy["segment_cache"]["bertscore"]["computed"] == n
    assert copy["segment_cache"]["bertscore"]["segments"] == n
    # The spec hash (and so the leaderboard column) is the task's own.
    _ok(bench("run", "-m", "baseline:copy", "-t", TASK, "--results", str(tmp_path / "r2")))
    plain_rec = json.loads((tmp_path / "r2" / "baseline-copy" / TASK / "record.json").read_text())
    assert plain_rec["task"]["spec_hash"] == copy["task"]["spec_hash"]
    assert plain_rec["metrics"]["bleu"]["value"] == copy["metrics"]["bleu"]["value"]
    assert plain_rec.get("segment_cache") is None

    # bench score of the run folder, twice: the second computes no segment.
    run_dir = cli / "results" / "baseline-copy" / TASK
    for k in (1, 2):
        _score(run_dir, f"rescored-{k}", "--metrics", extra)
    first, second = _record(cli, "rescored-1"), _record(cli, "rescored-2")
    assert first["segment_cache"]["bertscore"]["hits"] == n  # the run's segments, cached
    assert second["segment_cache"]["bertscore"] == {
        "segments": n,
        "hits": n,
        "computed": 0,
        "failed": 0,
    }
    assert second["metrics"]["bertscore"]["value"] == copy["metrics"]["bertscore"]["value"]

    # A second model, then a paired test for each BERTScore value.
    _ok(bench("run", "-m", "baseline:majority", "-t", "sentiment-en"))  # other tasks untouched
    _score(_predictions(tmp_path, "oracle", "reference"), "oracle", "--metrics", extra)
    proc = _ok(
        bench("compare", "oracle", "baseline-copy", "--task", TASK, "--json", "--resamples", "200")
    )
    tests = json.loads(proc.stdout)
    for value in ("bertscore", "bertscore/precision", "bertscore/recall"):
        assert value in tests, tests.keys()
        assert tests[value]["method"].startswith("paired-permutation"), tests[value]
        assert tests[value]["difference"] > 0
    board = tmp_path / "board"
    _ok(bench("leaderboard", "--out", str(board)))
    table = (board / "README.md").read_text()
    assert "bertscore" in table


def test_metrics_option_errors_are_one_line(cli: Path) -> None:
    for args, needle in (
        (["--metrics", "bertscore"], "+bertscore"),
        (["--metrics", "+bertscroe"], "bertscore"),
        (["--metrics", "+bertscore:model"], "KEY=VALUE"),
        (["-t", "sentiment-en", "--metrics", "+bertscore"], "applies to none"),
    ):
        proc = bench("run", "-m", "baseline:copy", *args)
        assert proc.returncode == 2, (args, proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr
        assert needle in proc.stderr, (needle, proc.stderr[-2000:])


def test_missing_metric_model_is_a_clear_error(cli: Path, tmp_path: Path) -> None:
    proc = bench(
        "run",
        "-m",
        "baseline:copy",
        "-t",
        TASK,
        "--metrics",
        "+bertscore:model=no-such-org/no-such-bert,num_layers=2",
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert "hf download no-such-org/no-such-bert" in proc.stderr


def _predictions(tmp_path: Path, name: str, pick: str, limit: int | None = None) -> Path:
    """A predictions file of the first ``limit`` examples (all without): each example's first
    reference (``pick="reference"``: a perfect system) or its source."""
    from bench.catalog import find_task
    from bench.stages import RunConfig, prepare

    task = find_task(TASK, []).bind_variant("default")
    prep = prepare(task, RunConfig(results=tmp_path / "unused", limit=limit))
    out = tmp_path / f"{name}.jsonl"
    out.write_text(
        "".join(
            json.dumps(
                {"id": r.id, "prediction": ref[0] if pick == "reference" else r.source},
                ensure_ascii=False,
            )
            + "\n"
            for r, ref in zip(prep.requests, prep.references, strict=True)
        )
    )
    return out


@pytest.mark.slow
def test_comet_cometkiwi_and_a_judge_get_paired_tests(cli: Path, tmp_path: Path) -> None:
    from tests.fixtures.openai_server import OpenAIServer

    golden = Path(__file__).resolve().parents[1] / "golden" / "comet"
    limit = 12
    with OpenAIServer() as server:
        server.faults.script = {"Score:": ["90", "60", "75"]}
        metrics = [
            f"+comet:model={golden / 'comet-tiny'},encoder={golden / 'tiny-xlmr'}",
            f"+cometkiwi:model={golden / 'kiwi-tiny'},encoder={golden / 'tiny-xlmr'}",
            f"+judge:model=openai:judge,model.base_url={server.base_url},template=gemba-da",
        ]
        options = [arg for m in metrics for arg in ("--metrics", m)]
        for name, pick in (("oracle", "reference"), ("copy", "source")):
            file = _predictions(tmp_path, name, pick, limit)
            _score(file, name, "--limit", str(limit), *options)
        asked = server.faults.script_calls["Score:"]
        assert asked == 2 * limit  # one judgement per segment and system
        record = _record(cli, "oracle")
        for metric in ("comet", "cometkiwi", "judge"):
            assert record["segment_cache"][metric]["computed"] == limit
            assert record["metrics"][metric]["n"] == limit
        assert "tpl:gemba-da@" in record["metrics"]["judge"]["signature"]
        # Scored again: every segment from the cache, no judge request.
        file = tmp_path / "oracle.jsonl"
        _score(file, "oracle-2", "--limit", str(limit), *options)
        assert server.faults.script_calls["Score:"] == asked
        again = _record(cli, "oracle-2")
        for metric in ("comet", "cometkiwi", "judge"):
            assert again["segment_cache"][metric]["hits"] == limit
            assert again["segment_cache"][metric]["computed"] == 0
            assert again["metrics"][metric]["value"] == record["metrics"][metric]["value"]
    proc = _ok(bench("compare", "oracle", "copy", "--task", TASK, "--json", "--resamples", "200"))
    tests = json.loads(proc.stdout)
    for value in ("comet", "cometkiwi", "judge"):
        assert tests[value]["method"].startswith("paired-permutation"), tests[value]
