"""Leaderboards built from the records of a real smoke run, and from the golden fixture."""

from __future__ import annotations

import io
import json
import math
import shutil
from pathlib import Path
from typing import Any, ClassVar

import jsonschema
import pandas as pd
import pytest

from bench.adapters.base import Adapter, parse_model_spec
from bench.catalog import find_task
from bench.cli import main
from bench.errors import BenchError, RecordError
from bench.families.sentiment import SentimentResponse
from bench.leaderboard import (
    build_leaderboard,
    diff_documents,
    document,
    render_diff,
    write_leaderboard,
)
from bench.leaderboard.build import aggregate, language_group, load_runs, rescale
from bench.leaderboard.html import render_html
from bench.leaderboard.render import md_escape, render_csv, render_markdown
from bench.leaderboard.schema import ROW_FIELDS, LeaderboardDocument
from bench.metrics.base import BootstrapConfig
from bench.records import load_records
from bench.runner import RunConfig, run_pair, run_plan
from bench.stats import tied_with_best

WEIRD = "a|b<script>"
GOLDEN = Path(__file__).parents[1] / "golden" / "leaderboard" / "records"
SCRIPT = "<script>alert(1)</script>"


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


def _tables(markdown: str) -> list[list[str]]:
    tables: list[list[str]] = []
    previous = ""
    for line in markdown.splitlines():
        if line.startswith("|"):
            if previous.startswith("|"):
                tables[-1].append(line)
            else:
                tables.append([line])
        previous = line
    return tables


# --------------------------------------------------------------------------- building


def test_build_from_records(results: Path) -> None:
    board = build_leaderboard(results)
    assert board.tasks == ["sentiment-en", "sentiment-zh"]
    assert len(board.records) == 5
    main_table = board.main
    assert set(main_table.index) == {"baseline:majority", "baseline:tfidf-logreg", WEIRD}
    records = {(r.model.name, r.task.name): r for r in load_records(results)}
    for (model, task), rec in records.items():
        assert main_table.loc[model, task] == rec.metrics["accuracy"].value
        row = board.long[(board.long["model"] == model) & (board.long["task"] == task)]
        assert set(row["signature"]) == {m.signature for m in rec.metrics.values()} - {
            rec.metrics["confusion_matrix"].signature
        }
        assert set(row["date"]) == {None}  # no wall-clock fact unless asked
        dated = build_leaderboard(results, dates=True).long
        dated = dated[(dated["model"] == model) & (dated["task"] == task)]
        assert set(dated["date"]) == {rec.finished_at[:10]}
        assert set(row["dataset_fingerprint"]) == {rec.task.dataset_fingerprint}
    # The long table has every scalar metric of every record, and no tables.
    assert set(board.long["metric"]) >= {"accuracy", "macro_f1", "mcc", "ece", "f1/positive"}
    assert "confusion_matrix" not in set(board.long["metric"])
    assert board.long["primary"].sum() == 5
    # Rows are ordered by the mean.
    means = list(main_table["mean (0-100)"])
    assert means == sorted(means, reverse=True)


def test_rescale_and_language_groups() -> None:
    assert rescale(0.71, 1.0, True) == pytest.approx(71.0)
    assert rescale(23.4, 100.0, True) == pytest.approx(23.4)
    assert rescale(38.0, 100.0, False) == pytest.approx(62.0)
    assert rescale(130.0, 100.0, False) == 0.0
    assert math.isnan(rescale(1.0, 0.0, True))
    assert language_group("translation", ["en", "zh"]) == "cross-lingual"
    assert language_group("translation", ["zh", "zh-Hant"]) == "zh"
    assert language_group("qa", ["zh-Hant"]) == "zh"
    assert language_group("recommendation", ["en", "zh"]) == "multilingual"
    assert language_group("sentiment", ["de"]) == "de"


def test_missing_task_is_a_dash_and_mean_uses_own_tasks(results: Path) -> None:
    board = build_leaderboard(results)
    row = board.main.loc[WEIRD]
    assert pd.isna(row["sentiment-zh"])
    assert row["tasks"] == 1 and not row["complete"]
    assert row["mean (0-100)"] == pytest.approx(row["sentiment-en"] * 100)
    full = board.main.loc["baseline:majority"]
    assert full["tasks"] == 2 and full["complete"]
    assert full["mean (0-100)"] == pytest.approx((full["sentiment-en"] + full["sentiment-zh"]) * 50)
    markdown = render_markdown(board)
    main_rows = _tables(markdown)[0]
    cells = next(c for c in map(_cells, main_rows) if c[1].startswith("a\\|b"))
    assert cells[3] == "—"  # sentiment-zh
    assert cells[4] == "1/2 (sentiment-en)"  # what it has
    assert cells[0] == cells[5] == cells[6] == "—"  # unranked: no rank, no mean to compare
    assert "0.0000 [" not in cells[3]


def test_ranks_and_mean_rank(results: Path) -> None:
    board = build_leaderboard(results)
    prim = board.long[board.long["primary"]]
    for task in board.tasks:
        sub = prim[prim["task"] == task].sort_values("value", ascending=False)
        expected = sub["value"].rank(method="min", ascending=False).astype(int)
        assert list(sub["rank"]) == list(expected)
        assert sub["best"].tolist() == (sub["value"] == sub["value"].max()).tolist()
    for model, row in board.main.iterrows():
        ranks = prim.loc[prim["model"] == model, "rank"]
        assert row["mean rank"] == pytest.approx(ranks.mean())


def test_lower_is_better_primary_ranks_low_values_first() -> None:
    board = build_leaderboard(GOLDEN)
    ter = board.long[(board.long["task"] == "translation-en-zh") & board.long["primary"]]
    best = ter.loc[ter["value"].idxmin()]
    assert best["rank"] == 1 and best["best"]
    assert best["scaled"] == pytest.approx(100 - best["value"])


def test_views_by_family_and_language() -> None:
    board = build_leaderboard(GOLDEN)
    keys = [(v.kind, v.key) for v in board.views]
    assert keys == [
        ("all", "all"),
        ("family", "qa"),
        ("family", "sentiment"),
        ("family", "summarization"),
        ("family", "translation"),
        ("language", "en"),
        ("language", "zh"),
        ("language", "cross-lingual"),
    ]
    en = next(v for v in board.views if v.key == "en")
    assert en.tasks == ["sentiment-en", "summarization-en"]
    # The view's mean is over the view's tasks only.
    alpha = en.table.loc["alpha"]
    prim = board.long[board.long["primary"] & (board.long["model"] == "alpha")]
    scaled = prim.set_index("task")["scaled"]
    expected = (scaled["sentiment-en"] + scaled["summarization-en"]) / 2
    assert alpha["mean (0-100)"] == pytest.approx(expected)
    assert list(aggregate(board.long, en.tasks).index) == list(en.table.index)


# --------------------------------------------------------------------------- ties


def test_ties_come_from_the_paired_test() -> None:
    board = build_leaderboard(GOLDEN)
    for task in ("sentiment-en", "qa-zh", "summarization-en"):
        runs = {
            rec.model.name: folder for rec, folder in load_runs(GOLDEN) if rec.task.name == task
        }
        expected = tied_with_best(runs, board.columns[task].primary_metric)
        prim = board.long[(board.long["task"] == task) & board.long["primary"]]
        tied = dict(zip(prim["model"], prim["tied_with_best"], strict=True))
        assert tied == {m: m in expected for m in runs}
        for model, p in zip(prim["model"], prim["tie_p_value"], strict=True):
            assert p == expected.get(model)
        assert board.columns[task].tie_method == "paired-test"


def test_without_samples_ties_fall_back_to_interval_overlap_and_say_so(tmp_path: Path) -> None:
    copy = tmp_path / "records"
    shutil.copytree(GOLDEN, copy)
    for samples in copy.rglob("sentiment-en/samples.jsonl"):
        samples.unlink()
    board = build_leaderboard(copy)
    col = board.columns["sentiment-en"]
    assert col.tie_method == "ci-overlap"
    assert "paired test could not run" in col.tie_note
    assert any("sentiment-en" in w and "samples.jsonl" in w for w in board.warnings)
    prim = board.long[(board.long["task"] == "sentiment-en") & board.long["primary"]]
    best = prim.loc[prim["value"].idxmax()]
    for _, row in prim.iterrows():
        assert row["tied_with_best"] == (row["ci_high"] >= best["ci_low"])
        assert row["tie_method"] == "ci-overlap" and row["tie_p_value"] is None
    markdown = render_markdown(board)
    assert "95% interval overlaps the best model's; the paired test could not run" in markdown
    assert str(tmp_path) not in markdown  # the note names no local path


def test_records_without_folders_use_interval_overlap() -> None:
    board = build_leaderboard([rec for rec, _ in load_runs(GOLDEN)])
    assert {c.tie_method for c in board.columns.values()} == {"ci-overlap"}


# --------------------------------------------------------------------------- formats


def test_markdown_escapes_model_names(results: Path) -> None:
    markdown = render_markdown(build_leaderboard(results))
    assert "<script>" not in markdown
    assert "a\\|b&lt;script&gt;" in markdown
    tables = _tables(markdown)
    # main + 1 family view + 2 language views + one per task
    assert len(tables) == 1 + 1 + 2 + 2
    for table in tables:
        width = len(_cells(table[0]))
        assert all(len(_cells(row)) == width for row in table), table
    # The CSV keeps the name as it is (CSV quoting handles it).
    frame = pd.read_csv(io.StringIO(render_csv(build_leaderboard(results))))
    assert WEIRD in set(frame["model"])


def test_md_escape() -> None:
    assert md_escape("a|b") == "a\\|b"
    assert md_escape("<i>*x*</i> & $y$") == "&lt;i&gt;\\*x\\*&lt;/i&gt; &amp; \\$y\\$"
    assert md_escape("line\nbreak") == "line break"


def test_markdown_footnotes_give_provenance_of_every_cell() -> None:
    board = build_leaderboard(GOLDEN, dates=True)
    markdown = render_markdown(board)
    for i, rec in enumerate(board.records, start=1):
        ref = f"[^{i}]"
        note = next(x for x in markdown.splitlines() if x.startswith(ref + ":"))
        assert f"run of {rec.finished_at[:10]};" in note  # with --dates only
        assert rec.task.dataset_fingerprint in note
        assert rec.metrics[rec.primary_metric].signature in note
        assert markdown.count(ref) >= 3  # main table, task table, definition


def test_csv_and_json_long_format_with_schema(tmp_path: Path) -> None:
    board = build_leaderboard(GOLDEN)
    paths = write_leaderboard(board, tmp_path, formats=["csv", "json"], title="t", command="c")
    assert [p.name for p in paths] == [
        "leaderboard.csv",
        "leaderboard.json",
        "leaderboard.schema.json",
    ]
    frame = pd.read_csv(tmp_path / "leaderboard.csv", keep_default_na=False)
    assert tuple(frame.columns) == ROW_FIELDS
    assert len(frame) == len(board.long)
    data = json.loads((tmp_path / "leaderboard.json").read_text(encoding="utf-8"))
    schema = json.loads((tmp_path / "leaderboard.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(data, schema)
    doc = LeaderboardDocument.model_validate(data)
    assert len(doc.rows) == len(board.long)
    assert [m.model for m in doc.models] == board.models
    assert {(v.kind, v.key) for v in doc.views} == {(v.kind, v.key) for v in board.views[1:]}
    row = next(r for r in doc.rows if r.model == SCRIPT and r.primary)
    assert row.tied_with_best is False and row.date is None  # dates are opt-in
    missing = [r for r in doc.rows if r.model == SCRIPT and r.metric == "macro_f1"]
    assert missing == []  # a missing metric is absent, never a 0
    # A broken document is rejected by the schema.
    data["rows"][0]["value"] = "high"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)


def test_output_is_deterministic(results: Path, tmp_path: Path) -> None:
    a = write_leaderboard(build_leaderboard(results), tmp_path / "a", title="t")
    b = write_leaderboard(build_leaderboard(results), tmp_path / "b", title="t")
    assert [p.name for p in a] == [
        "README.md",
        "leaderboard.csv",
        "leaderboard.json",
        "leaderboard.schema.json",
        "leaderboard.tex",
        "index.html",
    ]
    for pa, pb in zip(a, b, strict=True):
        assert pa.read_bytes() == pb.read_bytes(), pa.name
    assert not list((tmp_path / "a").glob(".*.tmp"))  # atomic writes leave no temporary files


def test_rerun_from_cache_publishes_identical_files(results: Path, tmp_path: Path) -> None:
    """Records of a repeated (cached) run differ in run ids and times, never in the report."""
    again = tmp_path / "results"
    shutil.copy(results.parent / "cache.sqlite", tmp_path / "cache.sqlite")
    _run(again)
    first = write_leaderboard(build_leaderboard(results), tmp_path / "a")
    second = write_leaderboard(build_leaderboard(again), tmp_path / "b")
    for pa, pb in zip(first, second, strict=True):
        assert pa.read_bytes() == pb.read_bytes(), pa.name


def test_html_is_self_contained_and_escaped() -> None:
    board = build_leaderboard(GOLDEN)
    html = render_html(board, title="<b>title</b>", command="bench leaderboard")
    assert SCRIPT not in html and "<b>title</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;title&lt;/b&gt;" in html
    # the sample text with markup is shown as text
    assert "&lt;script&gt;alert(&#39;sample&#39;)&lt;/script&gt;" in html
    # nothing is fetched: no external resources, two data blocks and one inline script
    assert "<link" not in html and " src=" not in html and "@import" not in html
    assert html.count("<script") == 4  # three JSON blocks (views, labels, examples), one script
    assert html.count("<svg") == 1 + len(board.tasks)
    # the embedded data is JSON-escaped (no raw "<" that could close the script element)
    start = html.index('id="views-data">') + len('id="views-data">')
    block = html[start : html.index("</script>", start)]
    assert "<" not in block
    assert SCRIPT in json.loads(block)["|"]["models"]


def test_html_labels_in_chinese() -> None:
    board = build_leaderboard(GOLDEN)
    html = render_html(board, lang="zh")
    assert '<html lang="zh">' in html
    for label in ("排行榜", "平均分（0–100）", "任务类别", "跨语言", "情感分析"):
        assert label in html
    with pytest.raises(BenchError, match="--lang"):
        render_html(board, lang="fr")


# --------------------------------------------------------------------------- diff and CLI


def test_diff_reports_rank_and_score_changes(tmp_path: Path) -> None:
    old_records = tmp_path / "old"
    shutil.copytree(GOLDEN, old_records)
    shutil.rmtree(old_records / "model-1")  # beta-7b is new in the new version
    old = document(build_leaderboard(old_records), title="old", command="")
    new = document(build_leaderboard(GOLDEN), title="new", command="")
    diff = diff_documents(old, new)
    moves = {c.model: c for c in diff.models}
    assert moves["beta-7b"].old is None and moves["beta-7b"].new is not None
    # alpha has every task in both versions: ranked 1st; beta-7b lacks one: new and unranked.
    assert moves["alpha"].old.rank == 1 and moves["alpha"].new.rank == 1  # type: ignore[union-attr]
    assert moves["模型-中"].old.rank is None  # type: ignore[union-attr]
    text = render_diff(diff)
    assert "| alpha | 1 | = |" in text
    assert "| beta-7b | unranked | new |" in text
    notes = {(s.model, s.task): s.note for s in diff.scores}
    assert notes[("beta-7b", "qa-zh")] == "new"
    assert ("alpha", "qa-zh") not in notes  # unchanged values are not listed


def _bench(*argv: str) -> int:
    """Run the console entry point in-process; return its exit code."""
    try:
        main(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_cli_leaderboard_all_formats_diff_and_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "board"
    assert _bench("leaderboard", "--results", str(GOLDEN), "--out", str(out), "--title", "x") == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "README.md",
        "index.html",
        "leaderboard.csv",
        "leaderboard.json",
        "leaderboard.schema.json",
        "leaderboard.tex",
    ]
    readme = (out / "README.md").read_text(encoding="utf-8")
    results = str(GOLDEN).replace(str(Path.cwd()) + "/", "")  # paths under the cwd: relative
    assert f"rebuild with `bench leaderboard --results {results} --out {out} --title x`" in readme
    err = capsys.readouterr().err
    assert "translation-en-zh" in err and "interval overlap" in err  # the fallback is said
    # --diff against itself: nothing moved
    assert (
        _bench("leaderboard", "--results", str(GOLDEN), "--out", str(out), "--diff", str(out)) == 0
    )
    printed = capsys.readouterr().out
    assert "| alpha | 1 | = |" in printed
    assert (out / "DIFF.md").read_text(encoding="utf-8").strip() == printed.strip()
    for argv, message in (
        (["--formats", "md,pdf"], "unknown output format(s) pdf"),
        (["--lang", "fr"], "unknown --lang 'fr'"),
        (["--diff", str(tmp_path / "nowhere")], "no published leaderboard.json"),
    ):
        assert _bench("leaderboard", "--results", str(GOLDEN), "--out", str(out), *argv) == 2
        assert message in capsys.readouterr().err


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
