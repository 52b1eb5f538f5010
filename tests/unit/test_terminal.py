"""What ``bench`` shows on a terminal (issue 19, terminal items): tables that never cut a
number at 80 columns, raw ``--format csv/json`` rows, the skip summary, help text as prose with
meaningful metavars, progress only on a terminal, ``KIND:TARGET`` names and typed parameters.

Commands run as a user runs them (a child process, ``COLUMNS=80``, output piped)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path

import pytest
from rich.console import Console

from bench.adapters.base import make_adapter, parse_model_spec
from bench.cli import RESULT_COLUMNS
from bench.folders import distinct_names
from bench.terminal import Column, make_console, print_table, render_table, table_csv
from tests.conftest import NLTK_DATA
from tests.unit.test_cli import bench

COLUMNS = RESULT_COLUMNS[:6]  # model, task, primary metric, value, 95% CI, n
ROWS = [
    [
        "baseline:transformer-small",
        "recommendation-synthetic",
        "ndcg@10",
        "0.2428",
        "[0.2122, 0.2724]",
        "500",
    ],
    [
        "baseline:transformer-small",
        "translation-en-zh",
        "bleu",
        "15.8325",
        "[13.5091, 18.0671]",
        "175",
    ],
    [
        "openai:qwen2.5-7b-instruct-with-a-long-name",
        "qa-zh",
        "cmrc_f1",
        "21.6378",
        "[16.2307, 27.2447]",
        "146",
    ],
]


def _render(
    width: int, columns: tuple[Column, ...] = COLUMNS, rows: list[list[str]] = ROWS
) -> tuple[str, str]:
    buf = io.StringIO()
    console = Console(file=buf, width=width, markup=False, highlight=False, emoji=False)
    layout = print_table(console, columns, rows, title="results")
    return layout, buf.getvalue()


@pytest.mark.parametrize("width", [40, 60, 80, 100, 140, 200])
def test_no_cell_is_cut_at_any_width(width: int) -> None:
    layout, text = _render(width)
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width, text
    flat = re.sub(r"\s+", " ", text)
    for row in ROWS:
        for cell in row[1:]:  # every number and name, whole, on one line
            assert cell in text, (cell, layout, text)
    if width >= 40:
        assert ROWS[2][0] in flat or width < len(ROWS[2][0])


def test_layout_narrows_with_the_width() -> None:
    assert _render(200)[0] == "wide"
    assert _render(80)[0] == "stacked"
    wide_needs = len(_render(200)[1].splitlines()[2])  # the header rule of the wide table
    assert _render(wide_needs - 1)[0] in ("grouped", "stacked")


def test_stacked_layout_reads_as_headings_and_labelled_fields() -> None:
    _, text = _render(80)
    lines = text.splitlines()
    assert lines[0].strip() == "results"
    assert lines[1] == "baseline:transformer-small"  # the model, once, as a heading
    assert lines[2].startswith("  recommendation-synthetic  ndcg@10  0.2428  [0.2122, 0.2724]")
    assert "n 500" in text


def test_render_table_can_be_forced_to_a_layout() -> None:
    console = Console(file=io.StringIO(), width=80)
    for layout in ("wide", "grouped", "stacked"):
        assert render_table(console, COLUMNS, ROWS, layout=layout)[0] == layout


def test_csv_keeps_raw_values() -> None:
    text = table_csv((Column("a"), Column("b")), [["x,y", 0.1 + 0.2], ["z", None]])
    assert list(csv.reader(io.StringIO(text))) == [
        ["a", "b"],
        ["x,y", "0.30000000000000004"],
        ["z", ""],
    ]


def test_console_width_follows_columns_when_piped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert make_console(file=io.StringIO()).width == 80
    monkeypatch.delenv("COLUMNS")
    assert make_console(file=io.StringIO()).width == 200  # a log: one line per row


# --------------------------------------------------------------------------- bench run


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "COLUMNS": "80", **extra}


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Three models on three smoke tasks (some skipped) at 80 columns, piped."""
    home = tmp_path_factory.mktemp("home")
    env = _env(BENCH_HOME=str(home), NLTK_DATA=str(NLTK_DATA))
    args = [
        "run",
        "-m", "baseline:majority,seed=7",
        "-m", "baseline:ibm1",
        "-m", "baseline:tfidf-logreg",
        "-t", "sentiment-en,translation-en-zh,translation-zh-en",
        "--bootstrap", "200",
    ]  # fmt: skip
    table = bench(*args, env=env)
    verbose = bench(*args, "--verbose", env=env)
    as_csv = bench(*args, "--format", "csv", env=env)
    as_json = bench(*args, "--format", "json", env=env)
    return {"table": table, "verbose": verbose, "csv": as_csv, "json": as_json, "home": home}


def test_run_table_fits_80_columns_and_comes_last(smoke_run: dict) -> None:
    proc = smoke_run["table"]
    assert proc.returncode == 0, proc.stderr
    assert "…" not in proc.stdout and "…" not in proc.stderr
    assert max(len(line) for line in (proc.stdout + proc.stderr).splitlines()) <= 80
    rows = json.loads(smoke_run["json"].stdout)
    for row in rows:
        assert f"{row['value']:.4f}" in proc.stdout
        assert f"[{row['ci_low']:.4f}, {row['ci_high']:.4f}]" in proc.stdout
    # stdout is the results and nothing else: skips, warnings and files went to stderr first
    assert proc.stdout.splitlines()[0].strip() == "results"
    assert "skipped" not in proc.stdout


def test_run_summarises_skips_one_line_per_model(smoke_run: dict) -> None:
    err = smoke_run["table"].stderr
    assert "skipped 5 pair(s) (--verbose lists them):" in err
    assert "  baseline:majority: sentiment only; 2 tasks skipped" in err
    assert "  baseline:ibm1: translation only; 1 task skipped" in err
    assert "does not support" not in err
    verbose = re.sub(r"\s+", " ", smoke_run["verbose"].stderr)
    assert (
        " baseline:majority: translation-en-zh, translation-zh-en "
        "(does not support the translation family)" in verbose
    )


def test_run_prints_no_progress_when_not_a_terminal(smoke_run: dict) -> None:
    err = smoke_run["table"].stderr
    assert "·" not in err  # no "model · task: stage" lines
    assert "━" not in err


def test_run_format_csv_and_json_give_the_raw_rows(smoke_run: dict) -> None:
    rows = list(csv.DictReader(io.StringIO(smoke_run["csv"].stdout)))
    data = json.loads(smoke_run["json"].stdout)
    assert len(rows) == len(data) == 4
    for row, item in zip(rows, data, strict=True):
        record = json.loads(Path(item["record"]).read_text(encoding="utf-8"))
        primary = record["metrics"][record["primary_metric"]]
        assert item["value"] == primary["value"]  # unrounded
        assert float(row["value"]) == primary["value"]
        assert item["n"] == primary["n"] and item["model"] == record["model"]["name"]


def test_default_name_is_kind_target_and_params_are_typed(smoke_run: dict) -> None:
    data = json.loads(smoke_run["json"].stdout)
    names = {item["model"] for item in data}
    assert names == {"baseline:majority", "baseline:ibm1", "baseline:tfidf-logreg"}
    record = next(
        json.loads(Path(i["record"]).read_text(encoding="utf-8"))
        for i in data
        if i["model"] == "baseline:majority"
    )
    assert record["model"]["params"] == {"seed": 7}
    assert record["model"]["spec"] == "baseline:majority,seed=7"


def test_a_url_stays_out_of_the_name_and_secrets_out_of_the_params() -> None:
    spec = parse_model_spec("openai:qwen2.5-7b,base_url=http://127.0.0.1:8999/v1,api_key=sk-x")
    assert spec.display_name == "openai:qwen2.5-7b"
    assert "sk-x" not in spec.spec_name
    assert parse_model_spec("baseline:majority,seed=1,name=mine").display_name == "mine"


def test_specs_sharing_kind_target_in_one_plan_get_their_whole_spec_as_name() -> None:
    specs = distinct_names(
        [
            parse_model_spec("baseline:majority,seed=1"),
            parse_model_spec("baseline:majority,seed=2"),
            parse_model_spec("baseline:ibm1"),
            parse_model_spec("baseline:majority,seed=3,name=three"),
        ]
    )
    assert [s.display_name for s in specs] == [
        "baseline:majority,seed=1",
        "baseline:majority,seed=2",
        "baseline:ibm1",
        "three",
    ]


def test_typed_params_follow_the_adapters_parameter_model() -> None:
    spec = parse_model_spec("baseline:textcnn,max_epochs=5,dropout=0.25,seed=3")
    typed = spec.typed_params(make_adapter(spec))
    assert typed == {"max_epochs": 5, "dropout": 0.25, "seed": 3}
    assert all(type(v) is not str for v in typed.values())


# --------------------------------------------------------------------------- bench compare


def test_compare_fits_80_columns(smoke_run: dict) -> None:
    env = _env(BENCH_HOME=str(smoke_run["home"]))
    results = str(Path(smoke_run["home"]) / "results")
    args = ["compare", "baseline:tfidf-logreg", "baseline:majority", "--results", results]
    proc = bench(*args, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "…" not in proc.stdout
    assert max(len(line) for line in proc.stdout.splitlines()) <= 80, proc.stdout
    raw = json.loads(bench(*args, "--format", "json", env=env).stdout)
    assert set(raw) >= {"accuracy", "macro_f1"}  # one task: {metric: {...}}
    raw = {"sentiment-en": raw}
    for task, comps in raw.items():
        assert task in proc.stdout
        for metric, c in comps.items():
            assert metric in proc.stdout and f"{c['difference']:+.4f}" in proc.stdout
            assert f"{c['p_value']:.4g}" in proc.stdout
    rows = list(csv.DictReader(io.StringIO(bench(*args, "--format", "csv", env=env).stdout)))
    assert {r["task"] for r in rows} == set(raw)


# --------------------------------------------------------------------------- help


COMMANDS = [
    ["run"], ["score"], ["show"], ["leaderboard"], ["compare"], ["new-task"], ["doctor"],
    ["selftest"], ["tasks", "list"], ["tasks", "show"], ["tasks", "validate"], [],
]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "bench")
def test_help_is_prose_with_meaningful_metavars(command: list[str]) -> None:
    proc = bench(*command, "--help", env=_env())
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert max(len(line) for line in text.splitlines()) <= 80, text
    for typename in ("<bool>", "<list[", "<int", "<str>", "<path>", "<float", "TEXT RANGE"):
        assert typename not in text, (typename, text)
    assert "╭" not in text  # no boxes: click's formatter re-wraps paragraphs as prose
    # a flag takes no value: nothing between the flag and its help
    assert not re.search(r"--no-cache [A-Z<\[]", text)


def test_help_rewraps_hard_wrapped_docstrings() -> None:
    text = bench("run", "--help", env=_env()).stdout
    intro = text.split("Options:")[0]
    paragraphs = [p for p in intro.split("\n\n")[1:] if p.strip()]
    for paragraph in paragraphs:
        lines = paragraph.splitlines()
        # every line but a paragraph's last is filled to the width (none ends a source line)
        assert all(len(line) > 60 for line in lines[:-1]), paragraph
    assert "with no --tasks, the smoke suite. Predictions are cached" in re.sub(
        r"\s+", " ", intro
    ).replace("With", "with")


def test_help_metavars_say_what_to_write() -> None:
    text = re.sub(r"\s+", " ", bench("run", "--help", env=_env()).stdout)
    for option in ("-m, --model SPEC", "--data NAME=PATH", "--limit N", "--results PATH",
                   "--format [table|csv|json]", "--tasks-dir PATH"):  # fmt: skip
        assert option in text, option
    assert (
        "--api-concurrency N Ray: jobs of API models in flight at once, over all. [default: 4"
        in text
    )


# --------------------------------------------------------------------------- progress


def _shown(events: list[object]) -> str:
    """The progress display after ``events``, rendered on an 80-column terminal."""
    from bench.cli import _Progress

    buf = io.StringIO()
    console = Console(file=buf, width=80, force_terminal=True, color_system=None)
    shown = _Progress(console)
    for event in events:
        shown.on_event(event)
    console.print(shown.progress.make_tasks_table(shown.progress.tasks))
    shown.progress.stop()
    return buf.getvalue()


def test_training_shows_its_epoch_and_steps() -> None:
    from bench.stages import Event

    text = _shown(
        [
            Event("stage", "baseline:textcnn", "sentiment-en", stage="fit"),
            Event(
                "fit-progress",
                "baseline:textcnn",
                "sentiment-en",
                stage="epoch 2/5",
                done=64,
                total=160,
            ),
        ]
    )
    assert "baseline:textcnn · sentiment-en: fit epoch 2/5" in text
    assert "64/160" in text


def test_a_stage_without_steps_shows_no_count() -> None:
    from bench.stages import Event

    text = _shown(
        [
            Event("predict-start", "m", "t", done=0, total=10),
            Event("predict-progress", "m", "t", done=10, total=10),
            Event("stage", "m", "t", stage="score"),
        ]
    )
    assert "m · t: score" in text
    assert "10/10" not in text and "0/?" not in text  # the new stage does not count yet


def test_scoring_moves_a_bar_metric_by_metric(tmp_path: Path) -> None:
    """score() reports each metric as it starts and the end: a bar while a task scores."""
    from bench.catalog import select_tasks
    from bench.metrics.base import BootstrapConfig
    from bench.stages import Event, RunConfig, prepare, score

    (task,) = select_tasks("summarization-en")
    prepared = prepare(task, RunConfig(results=tmp_path, cache=None, limit=8))
    responses = [r.document.split(".")[0] for r in prepared.requests]
    events: list[Event] = []
    score(task, prepared, responses, BootstrapConfig(resamples=0), progress=events.append)
    steps = [(e.stage, e.done, e.total) for e in events if e.kind == "score-progress"]
    n = len(task.metrics)
    assert [d for _, d, _ in steps] == [*range(n), n]
    assert {t for _, _, t in steps} == {n}
    assert steps[0][0] == task.metrics[0].name


def test_training_reports_every_step_of_every_epoch() -> None:
    import torch

    from bench.adapters.torch_utils import train_with_early_stopping

    torch.manual_seed(0)
    x, y = torch.randn(10, 3), torch.tensor([0, 1] * 5)
    model = torch.nn.Linear(3, 2)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    seen: list[tuple[str, int, int]] = []

    def batches():  # type: ignore[no-untyped-def]
        for start in range(0, 10, 4):
            yield (x[start : start + 4],), y[start : start + 4]

    train_with_early_stopping(
        torch, model, optimiser, batches, 10, None, max_epochs=2, patience=1,
        progress=lambda *a: seen.append(a),
    )  # fmt: skip
    assert seen == [
        ("epoch 1/2", 0, 10), ("epoch 1/2", 4, 10), ("epoch 1/2", 8, 10), ("epoch 1/2", 10, 10),
        ("epoch 2/2", 0, 10), ("epoch 2/2", 4, 10), ("epoch 2/2", 8, 10), ("epoch 2/2", 10, 10),
    ]  # fmt: skip


def test_progress_shows_user_strings_literally() -> None:
    from bench.stages import Event

    text = _shown([Event("stage", "[/x] :x:", "[b]task", stage="predict")])
    assert "[/x] :x: · [b]task: predict" in text
