"""Leaderboard columns hold only comparable numbers.

Real runs: the smoke translation task copied to a temporary folder twice, once as shipped (BLEU
with the target language's ``13a`` tokenizer) and once with ``bleu: {tokenize: char}`` and the
same task version, each scored by two baselines. The records of the two settings must never
share a column, each column must say what sets it apart, and the paired tie test must run
within each column.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.adapters.base import parse_model_spec
from bench.leaderboard import build_leaderboard
from bench.leaderboard.build import column_labels, load_runs
from bench.leaderboard.render import md_escape, render_markdown
from bench.metrics.base import BootstrapConfig
from bench.records import RunRecord
from bench.runner import RunConfig, run_pair
from bench.spec import load_task
from bench.stats import ComparisonError

REPO = Path(__file__).resolve().parents[2]
TASK = "translation-zh-en"
MODELS = ("baseline:copy", "baseline:ibm1")
GOLDEN = REPO / "tests" / "golden" / "leaderboard" / "records"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two models × two BLEU tokenizer settings of one task (same name, same version)."""
    base = tmp_path_factory.mktemp("columns")
    shipped = (REPO / "tasks" / "smoke" / f"{TASK}.yaml").read_text(encoding="utf-8")
    assert "  - bleu\n" in shipped and "version: 1\n" in shipped
    variants = {
        "old": shipped,
        "new": shipped.replace("  - bleu\n", "  - bleu: {tokenize: char}\n"),
    }
    root = base / "results"
    for key, text in variants.items():
        task_file = base / key / f"{TASK}.yaml"
        task_file.parent.mkdir()
        task_file.write_text(text, encoding="utf-8")
        task = load_task(task_file)
        config = RunConfig(
            results=root / key,
            cache=base / "cache.sqlite",
            limit=40,
            bootstrap=BootstrapConfig(resamples=200),
        )
        for model in MODELS:
            outcome = run_pair(parse_model_spec(model), task, config)
            assert outcome.status == "done", outcome.reason
    return root


def test_a_changed_bleu_tokenizer_never_shares_a_column(results: Path) -> None:
    board = build_leaderboard(results)
    old, new = f"{TASK} [bleu tok:13a]", f"{TASK} [bleu tok:char]"
    assert board.tasks == [old, new]
    assert len(board.records) == 4 and not board.warnings
    for label, tok in ((old, "tok:13a"), (new, "tok:char")):
        column = board.columns[label]
        assert column.task == TASK and column.primary_metric == "bleu"
        prim = board.long[(board.long["task"] == label) & board.long["primary"]]
        assert sorted(prim["model"]) == sorted(MODELS)
        assert all(f"|{tok}|" in sig for sig in prim["signature"])
        # Each column ranks and tests its own records: the paired test ran (no fallback).
        assert column.tie_method == "paired-test" and column.tie_note == ""
        assert sorted(prim["rank"]) == [1, 2]
    # Every record sits in the column of its own signature, and the main table has both.
    for i, rec in enumerate(board.records):
        tok = "tok:char" if "tok:char" in rec.primary.signature else "tok:13a"
        assert board.column_of(i) == (new if tok == "tok:char" else old)
        assert board.main.loc[rec.model.name, board.column_of(i)] == rec.primary.value
    markdown = render_markdown(board)
    assert f"## {md_escape(old)}" in markdown and f"## {md_escape(new)}" in markdown


def test_one_setting_alone_keeps_the_plain_task_name(results: Path) -> None:
    board = build_leaderboard(results / "old")
    assert board.tasks == [TASK]
    assert board.columns[TASK].tie_method == "paired-test"


def test_a_paired_test_error_is_not_swallowed(results: Path, tmp_path: Path) -> None:
    """Samples that do not reproduce their record stop the build; they never fall back to
    interval overlap with a console warning."""
    copy = tmp_path / "results"
    shutil.copytree(results / "old", copy)
    record_file = next(copy.rglob("record.json"))
    data = json.loads(record_file.read_text(encoding="utf-8"))
    data["metrics"]["bleu"]["value"] += 0.5
    record_file.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ComparisonError, match=r"recomputed from samples\.jsonl"):
        build_leaderboard(copy)


def test_labels_name_what_differs() -> None:
    """Preprocessing, protocol and version changes split a task too; every label names the
    identities in which the task's columns vary."""
    records = [rec for rec, _ in load_runs(GOLDEN) if rec.task.name == "sentiment-en"]
    a, b, c, d, e = records

    def changed(rec: RunRecord, **update: object) -> RunRecord:
        return rec.model_copy(update={"task": rec.task.model_copy(update=update)})

    assert column_labels([a, changed(b, preprocess_hash="2" * 16)]) == [
        "sentiment-en [preprocessing 11111111]",
        "sentiment-en [preprocessing 22222222]",
    ]
    assert column_labels([a, changed(c, version=2)]) == ["sentiment-en [v1]", "sentiment-en [v2]"]
    labels = column_labels([a, changed(d, protocol={"few_shot": 5}), e])
    assert labels[0] == labels[2] == "sentiment-en [protocol none]"
    assert labels[1].startswith("sentiment-en [protocol ") and labels[1] != labels[0]
    # Only the spec hash differs (an edit of the task file that changes nothing else).
    assert column_labels([a, changed(b, spec_hash="abcdef" * 3)]) == [
        "sentiment-en [spec 00000000]",
        "sentiment-en [spec abcdefab]",
    ]
    assert column_labels([a, e]) == ["sentiment-en", "sentiment-en"]


def test_a_jieba_upgrade_splits_the_column() -> None:
    """Same task file and steps, but the steps ran with another jieba (their recorded
    dependencies differ): the numbers are not comparable, so they get separate columns."""
    records = [rec for rec, _ in load_runs(GOLDEN) if rec.task.name == "sentiment-en"]
    a, b = records[:2]

    def segmented(rec: RunRecord, version: str) -> RunRecord:
        step = {"name": "zh_segment", "params": {}, "depends": {"jieba": version}}
        return rec.model_copy(update={"task": rec.task.model_copy(update={"preprocess": [step]})})

    same = column_labels([segmented(a, "0.42.1"), segmented(b, "0.42.1")])
    assert same == ["sentiment-en", "sentiment-en"]
    labels = column_labels([segmented(a, "0.42.1"), segmented(b, "0.43.0")])
    assert labels[0] != labels[1]
    assert all(label.startswith("sentiment-en [preprocessing dependencies ") for label in labels)
