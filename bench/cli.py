"""The ``bench`` command line: a thin layer over the library.

A :class:`~bench.errors.BenchError` becomes one line on stderr and exit code 2; anything else
is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.errors import BenchError

__all__ = ["app", "main"]

app = typer.Typer(
    name="bench",
    help=(
        "Evaluate models on English and Chinese tasks (translation, summarization, sentiment, "
        "extractive QA, recommendation) and publish leaderboards with confidence intervals "
        "and signatures."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
tasks_app = typer.Typer(help="List, show, validate and describe task files.", no_args_is_help=True)
app.add_typer(tasks_app, name="tasks")

out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 200)
T = TypeVar("T")


def _home() -> Path:
    return Path(os.environ.get("BENCH_HOME", ".bench"))


def _default_results() -> Path:
    return _home() / "results"


def _default_cache() -> Path:
    return _home() / "cache.sqlite"


def _parse_data(items: Sequence[str] | None) -> dict[str, Path]:
    from bench.errors import DataError

    data: dict[str, Path] = {}
    for item in items or []:
        name, eq, path = item.partition("=")
        if not eq or not name or not path:
            raise DataError(
                f"--data '{item}' is not NAME=PATH", fix="write e.g. --data sst2=./SST-2"
            )
        data[name.strip()] = Path(path.strip())
    return data


TasksDir = Annotated[
    list[Path] | None,
    typer.Option("--tasks-dir", help="Extra folder of task files (also: BENCH_TASKS_PATH)."),
]


# --------------------------------------------------------------------------- run


@app.command()
def run(
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            help="Model spec KIND:TARGET[,key=value...], repeatable. "
            "Default: every built-in baseline.",
        ),
    ] = None,
    tasks: Annotated[
        str,
        typer.Option(
            "--tasks", "-t", help="Task names, families, suites, globs or 'all', comma-separated."
        ),
    ] = "smoke",
    limit: Annotated[int | None, typer.Option(help="Score only the first N test examples.")] = None,
    results: Annotated[
        Path | None, typer.Option(help="Results folder (default: .bench/results).")
    ] = None,
    cache: Annotated[
        Path | None, typer.Option(help="Prediction cache file (default: .bench/cache.sqlite).")
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Do not read or write the prediction cache.")
    ] = False,
    data: Annotated[
        list[str] | None,
        typer.Option(
            "--data", help="NAME=PATH: load task NAME from a local copy of its original release."
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Requests per predict call.")] = 64,
    bootstrap: Annotated[
        int, typer.Option(min=0, help="Bootstrap resamples per interval (0: none).")
    ] = 1000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 12345,
    max_failures: Annotated[
        int | None, typer.Option(help="Fail a model/task pair when more examples than this fail.")
    ] = None,
    publish: Annotated[
        Path | None,
        typer.Option(help="Also build the leaderboard of this run's records into this folder."),
    ] = None,
    title: Annotated[
        str, typer.Option(help="Title of the published leaderboard.")
    ] = "bench leaderboard",
    tasks_dir: TasksDir = None,
) -> None:
    """Run models on tasks, write one record per (model, task), optionally publish a leaderboard.

    With no --model, every built-in baseline runs; with no --tasks, the smoke suite. Predictions
    are cached, so an interrupted run resumes where it stopped and a repeated run is instant.
    """
    from bench.adapters.base import builtin_baselines, parse_model_spec
    from bench.catalog import select_tasks
    from bench.metrics.base import BootstrapConfig
    from bench.runner import RunConfig, run_plan

    specs = [parse_model_spec(m) for m in (model or builtin_baselines())]
    selected = select_tasks(tasks, tasks_dir or [])
    config = RunConfig(
        results=results or _default_results(),
        cache=None if no_cache else (cache or _default_cache()),
        limit=limit,
        batch_size=batch_size,
        bootstrap=BootstrapConfig(resamples=bootstrap, seed=seed),
        data=_parse_data(data),
        max_failures=max_failures,
    )
    from bench.errors import ResultsError

    _check_writable(config.results, ResultsError)
    err.print(f"bench run: {len(specs)} model(s) × {len(selected)} task(s) → {config.results}")
    with _Progress() as progress:
        try:
            outcomes = run_plan(specs, selected, config, progress=progress.on_event)
        except KeyboardInterrupt:
            progress.stop()
            err.print(
                "[yellow]interrupted[/yellow]: finished predictions are saved in "
                f"{config.cache or 'no cache (--no-cache)'}; re-run the same command to resume."
            )
            raise typer.Exit(130) from None
    _summary(outcomes)
    if publish is not None:
        records = [o.record for o in outcomes if o.record is not None]
        _publish(records, publish, title)


def _check_writable(folder: Path, error: Callable[..., BenchError]) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".bench-write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise error(
            f"results folder {folder} is not writable: {exc.strerror}",
            fix="choose another --results",
        ) from exc


class _Progress:
    """Renders runner events with a rich progress bar (on stderr)."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=False,
            disable=not err.is_terminal,
        )
        self.bars: dict[tuple[str, str], Any] = {}

    def __enter__(self) -> _Progress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def stop(self) -> None:
        self.progress.stop()

    def on_event(self, event: Any) -> None:
        key = (event.model, event.task)
        label = f"{event.model} · {event.task}"
        if event.kind == "stage":
            if key not in self.bars:
                self.bars[key] = self.progress.add_task(f"{label}: {event.stage}", total=None)
            else:
                self.progress.update(self.bars[key], description=f"{label}: {event.stage}")
        elif event.kind == "predict-start":
            bar = self.bars.get(key)
            if bar is None:
                bar = self.bars[key] = self.progress.add_task(label, total=event.total)
            self.progress.update(
                bar, description=f"{label}: predict", total=event.total, completed=event.done
            )
        elif event.kind == "predict-progress":
            self.progress.update(self.bars[key], completed=event.done)
        elif event.kind == "pair-done":
            if key in self.bars:
                self.progress.update(self.bars[key], description=f"{label}: done")
        elif event.kind == "pair-skipped" and not err.is_terminal:
            pass
        if not err.is_terminal and event.kind in ("pair-start", "pair-done"):
            err.print(f"{label}: {event.kind.removeprefix('pair-')}")


def _summary(outcomes: Sequence[Any]) -> None:
    table = Table(title="results", show_lines=False)
    for col in ("model", "task", "primary metric", "value", "95% CI", "n", "failed", "cached"):
        table.add_column(
            col, justify="right" if col in ("value", "n", "failed", "cached") else "left"
        )
    skipped = []
    for o in outcomes:
        if o.status != "done" or o.record is None:
            skipped.append(o)
            continue
        r = o.record
        p = r.primary
        ci = (
            f"[{p.ci_low:.4f}, {p.ci_high:.4f}]"
            if p.ci_low is not None and p.ci_high is not None
            else "—"
        )
        table.add_row(
            r.model.name,
            r.task.name,
            r.primary_metric,
            f"{p.value:.4f}",
            ci,
            str(p.n),
            str(r.failures["count"]),
            f"{r.predictions['cached']}/{r.predictions['total']}",
        )
    out.print(table)
    if skipped:
        # One line per model and reason: "does not support the X family" repeats otherwise.
        groups: dict[tuple[str, str], list[str]] = {}
        for o in skipped:
            groups.setdefault((o.model, o.reason), []).append(o.task)
        out.print(f"skipped {len(skipped)} pair(s):")
        for (model_name, reason), names in groups.items():
            out.print(f"  {model_name}: {', '.join(names)} ({reason})", markup=False)


def _publish(records: list[Any], dest: Path, title: str) -> None:
    from bench.leaderboard import build_leaderboard, write_leaderboard

    board = build_leaderboard(records)
    command = "bench " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else ""
    paths = write_leaderboard(
        board, dest, title=title, command=command.replace(str(Path.cwd()) + os.sep, "")
    )
    for p in paths:
        err.print(f"wrote {p}")


# --------------------------------------------------------------------------- score


@app.command()
def score(
    task: Annotated[str, typer.Option("--task", help="The task the predictions belong to.")],
    predictions: Annotated[
        Path,
        typer.Option(
            "--predictions",
            help='JSONL ({"id": ..., "prediction": ...} per line) or plain text (one output per '
            "line, in test-set order).",
        ),
    ],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="Predictions format: auto (by extension: .jsonl/.json or text), jsonl, text.",
        ),
    ] = "auto",
    allow_missing: Annotated[
        bool,
        typer.Option(
            "--allow-missing",
            help="Score ids missing from the file as failures (misses), as the official SQuAD "
            "v1.1 and CMRC2018 scripts do, instead of refusing the file.",
        ),
    ] = False,
    name: Annotated[
        str | None, typer.Option(help="Display name of the model (default: the file stem).")
    ] = None,
    data: Annotated[list[str] | None, typer.Option("--data", help="NAME=PATH, as for run.")] = None,
    results: Annotated[
        Path | None, typer.Option(help="Results folder (default: .bench/results).")
    ] = None,
    limit: Annotated[
        int | None, typer.Option(help="The --limit the predictions were made with.")
    ] = None,
    bootstrap: Annotated[int, typer.Option(min=0, help="Bootstrap resamples (0: none).")] = 1000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 12345,
    tasks_dir: TasksDir = None,
) -> None:
    """Score a file of saved model outputs and write the same record a run would.

    JSONL files give one {"id", "prediction"} object per example; any other file is read as
    plain text, one output per line in test-set order (the WMT convention for hypotheses).
    """
    from bench.adapters.base import ModelSpec
    from bench.adapters.predictions import PredictionsAdapter
    from bench.catalog import find_task
    from bench.metrics.base import BootstrapConfig
    from bench.runner import RunConfig, run_pair

    spec = find_task(task, tasks_dir or [])
    adapter = PredictionsAdapter(str(predictions), format=fmt, allow_missing=allow_missing)
    display = name or predictions.stem
    model = ModelSpec(
        raw=f"predictions:{predictions}",
        kind="predictions",
        target=str(predictions),
        display_name=display,
    )
    config = RunConfig(
        results=results or _default_results(),
        cache=None,
        limit=limit,
        bootstrap=BootstrapConfig(resamples=bootstrap, seed=seed),
        data=_parse_data(data),
    )
    outcome = run_pair(model, spec, config, adapter=adapter)
    _summary([outcome])
    err.print(f"wrote {outcome.record_path}")


# --------------------------------------------------------------------------- leaderboard


@app.command()
def leaderboard(
    results: Annotated[
        Path | None, typer.Option(help="Folder of run records (default: .bench/results).")
    ] = None,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder to write the leaderboard into.")
    ] = Path("leaderboard"),
    formats: Annotated[str, typer.Option(help="Comma-separated: md,csv.")] = "md,csv",
    title: Annotated[str, typer.Option(help="Title of the report.")] = "bench leaderboard",
) -> None:
    """Build leaderboard tables (Markdown, CSV) from run records alone."""
    from bench.errors import BenchError as _BE
    from bench.leaderboard import build_leaderboard, write_leaderboard
    from bench.leaderboard.render import FORMATS

    wanted = [f.strip() for f in formats.split(",") if f.strip()]
    bad = [f for f in wanted if f not in FORMATS]
    if bad:
        raise _BE(f"unknown format(s) {bad}", fix=f"use {','.join(FORMATS)}")
    board = build_leaderboard(results or _default_results())
    command = "bench " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    for p in write_leaderboard(board, out_dir, formats=wanted, title=title, command=command):
        err.print(f"wrote {p}")


# --------------------------------------------------------------------------- tasks


@tasks_app.command("list")
def tasks_list(
    selector: Annotated[str, typer.Argument(help="Selector (default: all).")] = "all",
    tasks_dir: TasksDir = None,
) -> None:
    """Table of tasks: name, family, languages, suite, number of test examples where known."""
    from bench.catalog import select_tasks

    table = Table(show_lines=False)
    for col in ("name", "family", "languages", "suite", "source", "n test", "primary metric"):
        table.add_column(col, justify="right" if col == "n test" else "left")
    for spec in select_tasks(selector, tasks_dir or []):
        table.add_row(
            spec.name,
            spec.family,
            ",".join(spec.languages),
            spec.suite or "—",
            spec.source.kind,
            _count(spec),
            spec.primary_metric,
        )
    out.print(table)


def _count(spec: Any) -> str:
    """Number of test examples, for sources readable without a network."""
    if spec.source.kind not in ("builtin", "local"):
        return "—"
    from bench.data import load_split
    from bench.families.base import get_family

    try:
        return str(len(load_split(spec, get_family(spec.family), "test").dataset))
    except BenchError:
        return "—"


@tasks_app.command("show")
def tasks_show(
    name: Annotated[str, typer.Argument(help="Task name or task file.")],
    examples: Annotated[int, typer.Option(help="How many preprocessed examples to show.")] = 3,
    data: Annotated[list[str] | None, typer.Option("--data", help="NAME=PATH, as for run.")] = None,
    tasks_dir: TasksDir = None,
) -> None:
    """Show a task's spec and its first preprocessed test examples."""
    import json

    import yaml

    from bench.catalog import find_task
    from bench.data import load_split
    from bench.families.base import get_family
    from bench.preprocess import apply_steps, build_steps, check_resources

    spec = find_task(name, tasks_dir or [])
    out.print(f"[bold]{spec.name}[/bold]  ({spec.path})")
    dumped = spec.model_dump(mode="json", exclude_none=True)
    text = yaml.safe_dump(dumped, allow_unicode=True, sort_keys=False)
    out.print(text, markup=False, highlight=False, soft_wrap=True)
    family = get_family(spec.family)
    steps = build_steps(spec)
    check_resources(steps)
    override = _parse_data(data).get(spec.name)
    split = load_split(spec, family, "test", data_override=override, limit=examples)
    ds = apply_steps(split.dataset, steps, family)
    out.print(f"[bold]first {len(ds)} test examples[/bold] (after preprocessing; {split.origin})")
    for row in ds:
        # One JSON object per line, verbatim: no wrapping, no markup (texts may hold "[...]").
        line = json.dumps(row, ensure_ascii=False)
        out.print(line, markup=False, highlight=False, soft_wrap=True)


@tasks_app.command("validate")
def tasks_validate(
    paths: Annotated[list[Path], typer.Argument(help="Task files or folders.")],
) -> None:
    """Validate task files: schema, registry names and parameters. Exit 2 on the first error."""
    from bench.spec import load_task

    files: list[Path] = []
    for p in paths:
        files += sorted(p.rglob("*.yaml")) if p.is_dir() else [p]
    if not files:
        raise BenchError(
            f"no task files in {', '.join(map(str, paths))}", fix="pass .yaml files or folders"
        )
    problems = 0
    for f in files:
        try:
            load_task(f)
            out.print(f"ok  {f}", markup=False, highlight=False, soft_wrap=True)
        except BenchError as exc:
            problems += 1
            err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
    if problems:
        raise typer.Exit(2)


@tasks_app.command("schema")
def tasks_schema() -> None:
    """Print the JSON Schema of task files (for editor completion)."""
    import json

    from bench.spec import task_json_schema

    sys.stdout.write(json.dumps(task_json_schema(), indent=2, ensure_ascii=False) + "\n")


# --------------------------------------------------------------------------- new-task


@app.command("new-task")
def new_task(
    name: Annotated[str, typer.Argument(help="Task name (= file stem).")],
    family: Annotated[str, typer.Option(help="Task family.")],
    directory: Annotated[Path, typer.Option("--dir", help="Where to write the file.")] = Path(
        "tasks/custom"
    ),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented task template that validates; edit it, then `bench tasks validate`."""
    from bench.templates import task_template

    text = task_template(name, family)
    path = directory / f"{name}.yaml"
    if path.exists() and not force:
        raise BenchError(f"{path} exists", fix="pass --force to overwrite or choose another name")
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    out.print(f"wrote {path}; next: edit it, then `bench tasks validate {path}`")


# --------------------------------------------------------------------------- doctor


@app.command()
def doctor() -> None:
    """List the resources bench can use here: NLTK data, jieba, OpenCC, extras, devices."""
    from bench.doctor import checks

    table = Table(show_lines=False)
    for col in ("resource", "status", "detail"):
        table.add_column(col)
    for row in checks():
        table.add_row(
            escape(row.name),
            "[green]ok[/green]" if row.ok else "[red]missing[/red]",
            escape(row.detail),
        )
    out.print(table)


# --------------------------------------------------------------------------- entry point


def _run(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except BenchError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise SystemExit(2) from None


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: ``bench``."""

    def call() -> None:
        app(args=list(argv) if argv is not None else None, standalone_mode=True)

    _run(call)


if __name__ == "__main__":  # pragma: no cover
    main()
