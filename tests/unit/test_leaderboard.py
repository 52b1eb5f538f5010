"""Leaderboards built from the records of a real smoke run."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest

from bench.adapters.base import Adapter, parse_model_spec
from bench.catalog import find_task
from bench.errors import RecordError
from bench.families.sentiment import SentimentResponse
from bench.leaderboard import build_leaderboard, write_leaderboard
from bench.leaderboard.render import render_csv, render_markdown
from bench.metrics.base import BootstrapConfig
from bench.records import load_records
from bench.runner import RunConfig, run_pair, run_plan

WEIRD = "a|b<script>"


class AlwaysPositive(Adapter):
    name = "test:always-positive"
    families: ClassVar[tuple[str, ...]] = ("sentiment",)

    def predict(self, requests: Any) -> list[SentimentResponse]:
        return [SentimentResponse(label="positive") for _ in requests]


def _run(results: Path) -> None:
    cfg = RunConfig(
        results=results,
        cache=results.parent / "cache.sqlite",
        limit=40,
        bootstrap=BootstrapConfig(resamples=200, seed=3),
    )
    tasks = [find_task("sentiment-en"), find_task("sentiment-zh")]
    run_plan(
        [parse_model_spec("baseline:majority"), parse_model_spec("baseline:tfidf-logreg")],
        tasks,
        cfg,
    )
    # A model that ran on one task only, with a name that needs escaping in Markdown.
    run_pair(
        parse_model_spec(f"test:always-positive,name={WEIRD}"),
        tasks[0],
        cfg,
        adapter=AlwaysPositive(),
    )


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lb") / "results"
    _run(folder)
    return folder


def test_build_from_records(results: Path) -> None:
    board = build_leaderboard(results)
    assert board.tasks == ["sentiment-en", "sentiment-zh"]
    assert len(board.records) == 5
    main = board.main
    assert set(main.index) == {"baseline:majority", "baseline:tfidf-logreg", WEIRD}
    records = {(r.model.name, r.task.name): r for r in load_records(results)}
    for (model, task), rec in records.items():
        assert main.loc[model, task] == rec.metrics["accuracy"].value
    # The long table has every scalar metric of every record, and no tables.
    assert set(board.long["metric"]) >= {"accuracy", "macro_f1", "mcc", "ece", "f1/positive"}
    assert "confusion_matrix" not in set(board.long["metric"])
    assert board.long["primary"].sum() == 5
    # Rows are ordered by the mean.
    means = list(main["mean (0-100)"])
    assert means == sorted(means, reverse=True)


def test_missing_task_is_a_dash_and_mean_uses_own_tasks(results: Path) -> None:
    board = build_leaderboard(results)
    row = board.main.loc[WEIRD]
    assert pd.isna(row["sentiment-zh"])
    assert row["tasks"] == 1
    assert row["mean (0-100)"] == pytest.approx(row["sentiment-en"] * 100)
    full = board.main.loc["baseline:majority"]
    assert full["tasks"] == 2
    assert full["mean (0-100)"] == pytest.approx((full["sentiment-en"] + full["sentiment-zh"]) * 50)
    markdown = render_markdown(board)
    line = next(x for x in markdown.splitlines() if x.startswith("| a\\|b"))
    cells = _cells(line)
    assert cells[2] == "—"
    assert cells[3] == "1"
    assert cells[4] == f"{row['sentiment-en'] * 100:.2f}"
    assert "0.0000 [" not in cells[2]


def _cells(line: str) -> list[str]:
    """Split a Markdown table row on unescaped pipes."""
    cells, cur, i = [], "", 0
    body = line.strip()[1:-1]
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            cur += body[i : i + 2]
            i += 2
            continue
        if body[i] == "|":
            cells.append(cur.strip())
            cur = ""
        else:
            cur += body[i]
        i += 1
    cells.append(cur.strip())
    return cells


def test_markdown_escapes_model_names(results: Path) -> None:
    markdown = render_markdown(build_leaderboard(results))
    assert "<script>" not in markdown
    assert "a\\|b&lt;script&gt;" in markdown
    # Every table row has as many cells as its header.
    tables: list[list[str]] = []
    previous = ""
    for line in markdown.splitlines():
        if line.startswith("|"):
            if previous.startswith("|"):
                tables[-1].append(line)
            else:
                tables.append([line])
        previous = line
    assert len(tables) == 3  # main + one per task
    for table in tables:
        width = len(_cells(table[0]))
        assert all(len(_cells(row)) == width for row in table), table
    # The CSV keeps the name as it is (CSV quoting handles it).
    frame = pd.read_csv(io.StringIO(render_csv(build_leaderboard(results))))
    assert WEIRD in set(frame["model"])


def test_output_is_deterministic(results: Path, tmp_path: Path) -> None:
    a = write_leaderboard(build_leaderboard(results), tmp_path / "a", title="t")
    b = write_leaderboard(build_leaderboard(results), tmp_path / "b", title="t")
    assert [p.name for p in a] == ["README.md", "leaderboard.csv"]
    for pa, pb in zip(a, b, strict=True):
        assert pa.read_bytes() == pb.read_bytes()
    csv = (tmp_path / "a" / "leaderboard.csv").read_text(encoding="utf-8")
    assert csv.splitlines()[0].startswith("model,task,family,languages,metric,primary,value")
    assert len(csv.splitlines()) == 1 + len(build_leaderboard(results).long)


def test_rerun_from_cache_publishes_identical_files(results: Path, tmp_path: Path) -> None:
    """Records of a repeated (cached) run differ in run ids and times, never in the tables."""
    again = tmp_path / "results"
    shutil.copy(results.parent / "cache.sqlite", tmp_path / "cache.sqlite")
    _run(again)
    first = write_leaderboard(build_leaderboard(results), tmp_path / "a")
    second = write_leaderboard(build_leaderboard(again), tmp_path / "b")
    for pa, pb in zip(first, second, strict=True):
        assert pa.read_text(encoding="utf-8") == pb.read_text(encoding="utf-8")


def test_two_records_for_one_pair_is_a_record_error(results: Path, tmp_path: Path) -> None:
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    shutil.copytree(
        copy / "baseline-majority" / "sentiment-en", copy / "elsewhere" / "sentiment-en"
    )
    with pytest.raises(RecordError) as info:
        build_leaderboard(copy)
    assert "baseline:majority" in str(info.value) and "sentiment-en" in str(info.value)


def test_no_records_is_a_record_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(RecordError, match="no run records"):
        build_leaderboard(tmp_path / "empty")
