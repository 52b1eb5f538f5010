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
from typing import Annotated, Any, Literal, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from bench.errors import BenchError, TaskNotFound
from bench.terminal import Column, make_console, print_table, table_csv, write_rows

__all__ = ["app", "main"]


def _metavar(param: Any) -> str | None:
    """A meaningful metavar for an option given none: ``N`` for an integer, ``X`` for a number,
    ``PATH``, ``TEXT``, ``[a|b|c]`` for a choice; ``None`` for a flag (it takes no value)."""
    import typing

    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return None
    desc = param.type_descriptor
    if desc.is_choice:
        return "[" + "|".join(str(c) for c in desc.choices or ()) + "]"
    if desc.is_path:
        return "PATH"
    kind = desc.annotation
    if desc.is_list:
        kind = (typing.get_args(kind) or (str,))[0]
    if kind is bool:
        return None
    if isinstance(kind, type) and issubclass(kind, Path):
        return "PATH"
    return {int: "N", float: "X"}.get(kind, "TEXT")


class _BenchGroup(typer.core.TyperGroup):
    """Every command's options get a meaningful metavar (:func:`_metavar`) unless they name
    their own (``NAME=PATH``, ``SPEC``): typer's are type names like ``<list[str]>``."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        for param in getattr(command, "params", ()):
            if isinstance(param, typer.core.TyperOption) and param.metavar is None:
                param.metavar = _metavar(param)
            elif isinstance(param, typer.core.TyperArgument) and param.metavar is None:
                param.metavar = param.name.upper() + ("..." if param.nargs != 1 else "")
                param.__class__ = _Argument
        return command


class _Argument(typer.core.TyperArgument):
    """An argument shown as click shows it: ``RUN_DIR`` (``[SELECTOR]`` when optional), with
    no type name beside it in the help (typer's ``{RUN_DIR}`` and ``<path>``)."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def _usage_display_name(self) -> str:
        return str(self.metavar) if self.required else f"[{self.metavar}]"


app = typer.Typer(
    name="bench",
    cls=_BenchGroup,
    help=(
        "Evaluate models on English and Chinese tasks (translation, summarization, sentiment, "
        "extractive QA, recommendation, word similarity and analogy) and publish leaderboards "
        "with confidence intervals and signatures."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # click's help formatter: each paragraph of a docstring is re-wrapped to the terminal as
    # prose (rich's keeps the source's line breaks), defaults sit at the end of their help.
    rich_markup_mode=None,
    context_settings={"max_content_width": 100},
)
tasks_app = typer.Typer(
    help="List, show, validate and describe task files.",
    cls=_BenchGroup,
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(tasks_app, name="tasks")
records_app = typer.Typer(
    help="Run records (record.json): their JSON Schema.",
    cls=_BenchGroup,
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(records_app, name="records")

# Every string bench prints may quote the user (model names, paths, data, error messages), so
# neither console reads rich markup or emoji codes: "[/x]", "[ours]" and ":x:" print as
# written. Styles are given as Text objects, never as markup inside a string.
out = make_console()
err = make_console(stderr=True)


def version_lines() -> list[str]:
    """What ``bench --version`` prints: bench's version, Python's, and the installed versions
    of the libraries whose versions records name because they can change a number (the same
    list as a record's ``versions``)."""
    import platform

    from bench import __version__
    from bench.records import package_versions

    lines = [f"bench {__version__}", f"Python {platform.python_version()}"]
    libraries = {k: v for k, v in package_versions().items() if k != "bench"}
    if libraries:
        lines.append("libraries that can change a score:")
        width = max(len(name) for name in libraries)
        lines += [f"  {name:<{width}}  {v}" for name, v in sorted(libraries.items())]
    return lines


def _print_version(value: bool) -> None:
    if value:
        for line in version_lines():
            out.print(line, soft_wrap=True)
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print bench's version and the versions of the libraries that decide scores.",
    ),
) -> None:
    """Options before any command (``--version``); the help text is the app's."""


def _count_cell(n: int) -> Text:
    """A count: green when 0, red otherwise."""
    return Text(str(n), style="green" if n == 0 else "red")


T = TypeVar("T")


def _home() -> Path:
    return Path(os.environ.get("BENCH_HOME", ".bench"))


def _default_results() -> Path:
    return _home() / "results"


def _default_cache() -> Path:
    return _home() / "cache.sqlite"


def _parse_data(
    items: Sequence[str] | None, selected: Sequence[Any] = (), tasks_dir: Sequence[Path] = ()
) -> dict[str, Path]:
    """``--data NAME=PATH`` options as ``{NAME: PATH}``, each NAME one of the ``selected`` tasks.

    Raises:
        DataError: An option is not NAME=PATH, a NAME is given twice, or a NAME is not one of
            the selected tasks (with a did-you-mean): an override that matches no task would be
            ignored and the task's own data scored in its place.
    """
    from bench.errors import DataError

    data: dict[str, Path] = {}
    for item in items or []:
        name, eq, path = item.partition("=")
        name = name.strip()
        if not eq or not name or not path.strip():
            raise DataError(
                f"--data '{item}' is not NAME=PATH", fix="write e.g. --data sst2=./SST-2"
            )
        if name in data:
            raise DataError(
                f"--data {name}=... is given twice ({data[name]} and {path.strip()})",
                fix=f"keep one --data {name}=PATH",
            )
        data[name] = Path(path.strip())
    if data:
        from bench.catalog import discover
        from bench.data.overrides import check_overrides

        known: list[str] = []
        if any(name not in {s.name for s in selected} for name in data):
            try:
                known = list(discover(tasks_dir, check_names=False))
            except BenchError:
                known = []  # a broken task file elsewhere must not hide this error
        check_overrides(data, selected, known)
    return data


SEED_MAX = 2**32 - 1
"""The largest seed an option takes (every random generator bench seeds accepts 0..2**32-1)."""


def _seed_option(what: str) -> Any:
    """A ``--seed`` option: an integer in ``0..SEED_MAX``, refused (exit 2, named) otherwise."""
    return typer.Option(min=0, max=SEED_MAX, help=f"{what} (0 to {SEED_MAX}).")


TasksDir = Annotated[
    list[Path] | None,
    typer.Option("--tasks-dir", help="Extra folder of task files (also: BENCH_TASKS_PATH)."),
]
Bootstrap = Annotated[
    int,
    typer.Option(min=0, help="Bootstrap resamples per interval (0: none; else at least 100)."),
]
BootstrapSeed = Annotated[int, _seed_option("Bootstrap seed")]
OutputFormat = Annotated[
    Literal["table", "csv", "json"],
    typer.Option(
        "--format",
        help="How the results are printed on stdout: a table that fits the terminal (never "
        "cutting a number), or the raw rows as CSV or JSON for scripts.",
    ),
]
ExtraMetrics = Annotated[
    list[str] | None,
    typer.Option(
        "--metrics",
        metavar="+NAME[:KEY=VALUE,...]",
        help="Also score this metric (repeatable): one of a task's optional metrics "
        "(bertscore, comet, cometkiwi, judge; `bench tasks show TASK` lists them) or any "
        "metric of the task's family, with parameters after a colon "
        "(+bertscore:model=PATH,num_layers=4). Tasks the metric does not apply to are "
        "scored as usual.",
    ),
]


def _parse_metrics(values: list[str] | None) -> list[Any]:
    """``--metrics +NAME[:K=V,...]`` options as :class:`~bench.spec.MetricSpec` s (values read
    as YAML scalars: numbers, booleans)."""
    import yaml

    from bench.registry import registry
    from bench.spec import MetricSpec

    out = []
    for raw in values or []:
        text = raw.strip()
        if not text.startswith("+"):
            raise BenchError(
                f"--metrics {raw}: write +NAME to add a metric to the tasks' own",
                fix=f"--metrics +{text}",
            )
        name, _, rest = text[1:].partition(":")
        name = name.strip()
        registry.get("metric", name)  # unknown names: a clear error with did-you-mean
        params: dict[str, Any] = {}
        for item in filter(None, (p.strip() for p in rest.split(","))):
            key, eq, value = item.partition("=")
            if not eq or not key.strip():
                raise BenchError(
                    f"--metrics {raw}: '{item}' is not KEY=VALUE",
                    fix=f"--metrics +{name}:key=value,...",
                )
            try:
                params[key.strip()] = yaml.safe_load(value) if value.strip() else ""
            except yaml.YAMLError:
                params[key.strip()] = value
        out.append(MetricSpec(name=name, params=params))
    return out


def _with_metrics(selected: list[Any], extra: list[Any]) -> list[Any]:
    """The tasks with ``extra`` metrics added where each applies (a task that declares it
    optional, or whose family the metric scores); an extra metric no task takes is an error."""
    if not extra:
        return selected
    from bench.registry import registry

    out = []
    used: set[str] = set()
    for spec in selected:
        fits = []
        for m in extra:
            families = getattr(registry.get("metric", m.name), "families", ())
            declared = any(o.name == m.name for o in spec.optional_metrics)
            if declared or not families or spec.family in families:
                fits.append(m)
                used.add(m.name)
        out.append(spec.with_metrics(fits) if fits else spec)
    unused = [m.name for m in extra if m.name not in used]
    if unused:
        raise BenchError(
            f"--metrics: {', '.join('+' + u for u in unused)} applies to none of the selected "
            "tasks",
            fix="choose tasks of the metric's family (bench tasks show TASK lists its optional "
            "metrics)",
        )
    return out


# --------------------------------------------------------------------------- run


@app.command()
def run(
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            metavar="SPEC",
            help="Model spec KIND:TARGET[,key=value...], repeatable: baseline:NAME, "
            "hf:PATH_OR_ID, openai:MODEL, vectors:PATH, finetune:PATH_OR_ID, "
            "predictions:FILE (the README lists every baseline and parameter). "
            "Default: every built-in baseline.",
        ),
    ] = None,
    tasks: Annotated[
        list[str] | None,
        typer.Option(
            "--tasks",
            "-t",
            metavar="TASKS",
            help="Task names, families, suites, globs or 'all', comma-separated and/or "
            "repeatable. Default: the smoke suite.",
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Score only the first N test examples.")
    ] = None,
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
            "--data",
            metavar="NAME=PATH",
            help="Load task NAME from PATH, a local copy of its original release (repeatable).",
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Requests per predict call.")] = 64,
    bootstrap: Bootstrap = 1000,
    seed: BootstrapSeed = 12345,
    max_failures: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Stop with an error (exit 2) when more examples than this fail in a "
            "model/task pair; finished predictions stay cached. Default: 0 for built-in "
            "baselines, no limit for other models (their failures are counted in the record), "
            "except that a pair in which every example failed (e.g. an unreachable server) is "
            "always an error and writes no record, unless --max-failures is at least its "
            "number of examples.",
        ),
    ] = None,
    publish: Annotated[
        Path | None,
        typer.Option(help="Also build the leaderboard of this run's records into this folder."),
    ] = None,
    title: Annotated[
        str, typer.Option(help="Title of the published leaderboard.")
    ] = "bench leaderboard",
    executor: Annotated[
        str,
        typer.Option(
            metavar="NAME",
            help="local: every pair in this process (default). ray: (model, task, shard) jobs "
            "on a Ray cluster (the ray extra); model specs may ask for num_gpus=, num_cpus=, "
            "replicas=.",
        ),
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(
            metavar="ADDRESS",
            help="Ray cluster for --executor ray: auto (the one on this machine) or "
            "ray://HOST:PORT. Default: RAY_ADDRESS, else a local cluster started for the run.",
        ),
    ] = None,
    shards: Annotated[
        int | None,
        typer.Option(
            min=1, help="Ray: shards per model/task pair (default: twice the model's replicas)."
        ),
    ] = None,
    api_concurrency: Annotated[
        int, typer.Option(min=1, help="Ray: jobs of API models in flight at once, over all.")
    ] = 4,
    max_retries: Annotated[
        int, typer.Option(min=0, help="Ray: restarts of a dead worker before the run fails.")
    ] = 3,
    check_determinism: Annotated[
        bool,
        typer.Option(
            "--check-determinism",
            help="After each pair, re-run a seeded random subset of its examples with another "
            "batch size (1, or 2 after batches of 1), bypassing the cache, and report every "
            "prediction or per-example score that changed (kept in record.json under "
            "'determinism'). Exit code 1 when something changed.",
        ),
    ] = False,
    determinism_sample: Annotated[
        int, typer.Option(min=1, help="Examples re-run per pair by --check-determinism.")
    ] = 32,
    num_fewshot: Annotated[
        int | None,
        typer.Option(
            "--num-fewshot",
            min=0,
            help="In-context examples per prompt for language-model adapters (hf causal, "
            "openai, prompted plugins): overrides the k of each task's fewshot: block (a task "
            "without one takes the first K of its train split); 0: zero-shot. Recorded in "
            "record.json under protocol.identity.num_fewshot.",
        ),
    ] = None,
    variant: Annotated[
        list[str] | None,
        typer.Option(
            "--variant",
            metavar="NAME",
            help="Score language-model adapters on this prompt variant only (repeatable; "
            "a task's variants are its prompts: names, `default` for a task with one prompt). "
            "The variants scored are recorded under protocol.identity.variants.",
        ),
    ] = None,
    rescore: Annotated[
        bool,
        typer.Option(
            "--rescore",
            help="Score every pair again, even one whose record is up to date (made by this "
            "bench version from the same task, data files, preprocessing, model, protocol, "
            "bootstrap and packages); by default such a record is kept and nothing is loaded.",
        ),
    ] = False,
    metrics: ExtraMetrics = None,
    tasks_dir: TasksDir = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="List every skipped pair with its reason (by default: one line per model).",
        ),
    ] = False,
    output_format: OutputFormat = "table",
) -> None:
    """Run models on tasks, write one record per (model, task), optionally publish a leaderboard.

    With no --model, every built-in baseline runs; with no --tasks, the smoke suite. Predictions
    are cached, so an interrupted run resumes where it stopped; a pair whose record is up to
    date (the same inputs, identified before any data is read) is kept, not scored again.
    With --executor ray the same plan runs on a Ray cluster, with the same cache and records.
    """
    from bench.adapters.base import builtin_baselines, parse_model_spec
    from bench.catalog import select_tasks
    from bench.executors import get_executor
    from bench.metrics.base import BootstrapConfig
    from bench.runner import DeterminismCheck, RunConfig, preflight

    if executor == "ray":
        runner = get_executor(
            "ray",
            address=address,
            shards=shards,
            api_concurrency=api_concurrency,
            max_retries=max_retries,
        )
    else:
        runner = get_executor(executor, address=address)
    from bench.folders import check_plan, distinct_names

    specs = distinct_names([parse_model_spec(m) for m in (model or builtin_baselines())])
    selected = select_tasks(",".join(tasks) if tasks else "smoke", tasks_dir or [])
    selected = _with_metrics(selected, _parse_metrics(metrics))
    from bench.stages import check_metrics

    check_metrics(selected)
    config = RunConfig(
        results=results or _default_results(),
        cache=None if no_cache else (cache or _default_cache()),
        limit=limit,
        batch_size=batch_size,
        bootstrap=BootstrapConfig(resamples=bootstrap, seed=seed),
        data=_parse_data(data, selected, tasks_dir or []),
        max_failures=max_failures,
        determinism=DeterminismCheck(sample=determinism_sample, seed=seed)
        if check_determinism
        else None,
        num_fewshot=num_fewshot,
        variants=tuple(variant) if variant else None,
        rescore=rescore,
    )
    preflight(config)  # read-only or full disk: say so before any model is loaded or called
    check_plan(config.results, specs, selected)  # records that would overwrite each other
    err.print(f"bench run: {len(specs)} model(s) × {len(selected)} task(s) → {config.results}")
    with _Progress() as progress:
        try:
            outcomes = runner.run(specs, selected, config, progress=progress.on_event)
        except KeyboardInterrupt:
            progress.stop()
            # Every finished batch is already committed to the cache; only the batch in flight
            # is lost. Say so, with the exact command that resumes.
            resume = shlex.join(["bench", *sys.argv[1:]])
            if config.cache is None:
                err.print("interrupted: nothing was cached (--no-cache); re-run with:")
            else:
                err.print(
                    f"interrupted: finished predictions are saved in {config.cache}; resume with:",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
            err.print(f"  {resume}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(130) from None
    # What was skipped, warnings and the published files first (stderr), the results last
    # (stdout), so that the table is what the terminal shows when the run ends.
    _skip_summary(outcomes, verbose)
    _record_warnings(outcomes)
    unstable = (
        _determinism_table(outcomes, determinism_sample, out if output_format == "table" else err)
        if check_determinism
        else 0
    )
    if publish is not None:
        runs = [
            (o.record, o.record_path.parent)
            for o in outcomes
            if o.record is not None and o.record_path is not None
        ]
        _publish(runs, publish, title, stamps=_home() / "published.json")
    _summary(outcomes, output_format)
    if unstable:
        raise typer.Exit(1)


def _record_warnings(outcomes: Sequence[Any]) -> None:
    """Warn about what the records of finished pairs count: test examples that also appear in
    the train split, damaged cache rows that were dropped and predicted again."""
    for o in outcomes:
        if o.record is None:
            continue
        lines = []
        overlap = o.record.task.train_overlap
        if overlap:
            lines.append(
                f"{overlap} of {o.record.task.n_examples} test examples also appear in the "
                "train split (task.train_overlap in the record)"
            )
        if o.record.cache_dropped:
            lines.append(
                f"{o.record.cache_dropped} damaged prediction-cache row(s) were dropped and "
                "predicted again (cache_dropped in the record)"
            )
        for line in lines:
            err.print(
                f"warning: {o.model} on {o.task}: {line}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )


DETERMINISM_COLUMNS = (
    Column("model"),
    Column("task"),
    Column("checked", numeric=True),
    Column("batch", numeric=True),
    Column("changed predictions", numeric=True),
    Column("changed scores", numeric=True),
)
"""The columns of ``bench run --check-determinism``'s table."""


def _determinism_table(outcomes: Sequence[Any], sample: int, out: Console = out) -> int:
    """Show the determinism reports of the finished pairs on ``out``; return how many
    changed."""
    import json

    unstable = 0
    changes = []
    rows: list[list[str | Text]] = []
    for o in sorted(outcomes, key=lambda o: (o.model, o.task)):
        report = o.determinism
        if o.status != "done" or report is None:
            continue
        unstable += not report.ok
        rows.append(
            [
                report.model,
                report.task,
                str(len(report.checked)),
                f"{report.original_batch_size}→{report.batch_size}",
                _count_cell(len(report.changed_predictions)),
                _count_cell(len(report.changed_scores)),
            ]
        )
        changes += [(report, c) for c in report.changed_predictions[:5]]
    title = f"determinism (re-run of {sample} examples, another batch size, no cache)"
    print_table(out, DETERMINISM_COLUMNS, rows, title=title)
    for report, change in changes:
        # Each changed field with both values (a label, or a probability beyond the tolerance).
        for part in change.get("fields") or [change]:
            where = f"{part['field']}: " if part.get("field") else ""
            out.print(
                f"  {report.model} · {report.task} · {change['id']}: {where}"
                f"{json.dumps(part['before'], ensure_ascii=False)[:80]} → "
                f"{json.dumps(part['after'], ensure_ascii=False)[:80]}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    for o in outcomes:
        report = o.determinism
        if o.status == "done" and report is not None and report.within_tolerance:
            out.print(
                f"  {report.model} · {report.task}: {report.within_tolerance} example(s) differ "
                f"only within the float tolerance (largest difference "
                f"{report.max_float_difference:.2g}; abs {report.tolerance.abs:g}, rel "
                f"{report.tolerance.rel:g})",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    if unstable:
        err.print(f"determinism check: {unstable} pair(s) changed; see 'determinism' in records")
    return unstable


class _Progress:
    """Renders runner events as one line per pair on stderr, only when stderr is a terminal
    (logs of piped or CI runs get no progress lines): the stage (``fit epoch 2/5``,
    ``predict``, ``score rougeL``), a bar and ``done/total`` while a stage counts its steps
    (training examples, predictions, metrics or a model-based metric's segments), the time
    spent on the pair."""

    def __init__(self, console: Console | None = None) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        console = console or err

        self.progress = Progress(
            TextColumn("{task.description}", markup=False),  # descriptions quote names
            BarColumn(),
            _StepsColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
            disable=not console.is_terminal,
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
            else:  # a new stage: its steps (if any) come with its own progress events
                bar = self.bars[key]
                task = next(t for t in self.progress.tasks if t.id == bar)
                task.total, task.completed = None, 0  # update() cannot unset a total
                self.progress.update(bar, description=f"{label}: {event.stage}")
        elif event.kind == "predict-start":
            bar = self.bars.get(key)
            if bar is None:
                bar = self.bars[key] = self.progress.add_task(label, total=event.total)
            self.progress.update(
                bar, description=f"{label}: predict", total=event.total, completed=event.done
            )
        elif event.kind == "predict-progress":
            self.progress.update(self.bars[key], completed=event.done)
        elif event.kind == "fit-progress":
            bar = self.bars.get(key)
            if bar is None:
                bar = self.bars[key] = self.progress.add_task(label, total=event.total)
            self.progress.update(
                bar,
                description=f"{label}: fit {event.stage}",
                total=event.total,
                completed=event.done,
            )
        elif event.kind == "score-progress":
            bar = self.bars.get(key)
            if bar is None:
                bar = self.bars[key] = self.progress.add_task(label, total=event.total)
            self.progress.update(
                bar,
                description=f"{label}: score {event.stage}",
                total=event.total,
                completed=event.done,
            )
        elif event.kind == "pair-done":
            if key in self.bars:
                self.progress.update(self.bars[key], description=f"{label}: done")
        elif event.kind == "pair-up-to-date":
            self.bars[key] = self.progress.add_task(f"{label}: up to date", total=1, completed=1)


def _steps_text(completed: float, total: float | None) -> str:
    """``done/total`` of a counted stage; nothing for a stage without steps (loading, a
    baseline's fit), where rich would print ``0/?``."""
    return "" if total is None else f"{int(completed)}/{int(total)}"


class _StepsColumn:
    """A progress column: :func:`_steps_text` of the bar's task (a rich ``ProgressColumn``,
    built on first use so that importing the CLI does not import rich.progress)."""

    def __new__(cls) -> Any:
        from rich.progress import ProgressColumn

        class StepsColumn(ProgressColumn):
            def render(self, task: Any) -> Text:
                return Text(_steps_text(task.completed, task.total), style="progress.download")

        return StepsColumn()


RESULT_COLUMNS = (
    Column("model"),
    Column("task"),
    Column("primary metric", stack_label=""),
    Column("value", numeric=True, stack_label=""),
    Column("95% CI", numeric=True, stack_label=""),
    Column("n", numeric=True),
    Column("failed", numeric=True),
    Column("cached", numeric=True),
)
"""The columns of ``bench run``'s results table."""

RAW_RESULT_COLUMNS = tuple(
    Column(name)
    for name in (
        "model",
        "task",
        "family",
        "primary_metric",
        "value",
        "ci_low",
        "ci_high",
        "n",
        "failed",
        "cached",
        "total",
        "record",
    )
)
"""The columns of ``bench run --format csv|json``: one row per scored pair, numbers unformatted."""


def _done(outcomes: Sequence[Any]) -> list[Any]:
    """The outcomes with a record (scored now or kept up to date), by model then task."""
    kept = [o for o in outcomes if o.status in ("done", "up-to-date") and o.record is not None]
    return sorted(kept, key=lambda o: (o.record.model.name, o.record.task.name))


def _summary(outcomes: Sequence[Any], fmt: str = "table") -> None:
    """The results of the run on stdout: the table (last thing ``bench run`` prints), or the
    raw rows as CSV or JSON."""
    done = _done(outcomes)
    if fmt in ("csv", "json"):
        raw = []
        for o in done:
            r, p = o.record, o.record.primary
            raw.append(
                [
                    r.model.name,
                    r.task.name,
                    r.task.family,
                    r.primary_metric,
                    p.value,
                    p.ci_low,
                    p.ci_high,
                    p.n,
                    r.failures.count,
                    r.predictions.cached,
                    r.predictions.total,
                    str(o.record_path) if o.record_path is not None else None,
                ]
            )
        write_rows(fmt, RAW_RESULT_COLUMNS, raw)
        return
    rows = []
    for o in done:
        r, p = o.record, o.record.primary
        rows.append(
            [
                r.model.name,
                r.task.name,
                r.primary_metric,
                f"{p.value:.4f}",
                p.ci_text(),
                str(p.n),
                str(r.failures.count),
                f"{r.predictions.cached}/{r.predictions.total}",
            ]
        )
    if rows:
        print_table(out, RESULT_COLUMNS, rows, title="results")
    else:
        out.print("results: no pair was scored", soft_wrap=True)


def _skip_summary(outcomes: Sequence[Any], verbose: bool) -> None:
    """What was not scored, on stderr: one line per model (the families it ran, how many tasks
    it skipped and why), or with ``verbose`` every skipped task with its reason."""
    kept = sum(o.status == "up-to-date" for o in outcomes)
    if kept:
        err.print(
            f"{kept} pair(s) up to date: records kept, nothing loaded or scored "
            "(--rescore scores them again)"
        )
    skipped = [o for o in outcomes if o.status not in ("done", "up-to-date") or o.record is None]
    if not skipped:
        return
    ran: dict[str, set[str]] = {}
    for o in outcomes:
        if o.record is not None and o.status in ("done", "up-to-date"):
            ran.setdefault(o.model, set()).add(o.record.task.family)
    by_model: dict[str, list[Any]] = {}
    for o in skipped:
        by_model.setdefault(o.model, []).append(o)
    err.print(f"skipped {len(skipped)} pair(s)" + (":" if verbose else " (--verbose lists them):"))
    for model_name, items in by_model.items():
        if verbose:
            groups: dict[str, list[str]] = {}
            for o in items:
                groups.setdefault(o.reason, []).append(o.task)
            for reason, names in groups.items():
                err.print(f"  {model_name}: {', '.join(names)} ({reason})")
            continue
        families_ran = sorted(ran.get(model_name, ()))
        what = f"{', '.join(families_ran)} only" if families_ran else "nothing scored"
        unsupported = [o for o in items if o.reason.startswith("does not support the ")]
        if unsupported:
            n = len(unsupported)
            err.print(f"  {model_name}: {what}; {n} task{'s' * (n != 1)} skipped")
        # Any other reason (a pair that failed, data the model cannot score) is rare and is
        # the user's to act on: each gets its own line.
        for o in items:
            if o not in unsupported:
                err.print(f"  {model_name}: {o.task} ({o.reason})")


_ARGV: list[str] = []
"""The arguments of the current ``main(argv)`` call (``sys.argv[1:]`` from the console)."""


def _command_line() -> str:
    """The command being run, for report footers (paths under the current folder relative)."""
    args = _ARGV or sys.argv[1:]
    return shlex.join(["bench", *args]).replace(str(Path.cwd()) + os.sep, "")


def _publish(
    runs: Sequence[Any],
    dest: Path,
    title: str,
    *,
    formats: str = "",
    lang: str = "en",
    stamps: Path | None = None,
    dates: bool = False,
) -> Any:
    """Build the leaderboard of ``runs`` (records, or (record, run folder) pairs) into ``dest``;
    shared by ``bench run --publish`` and ``bench leaderboard``. Returns the leaderboard, or
    ``None`` when ``stamps`` (a :class:`~bench.leaderboard.stamps.PublishStamps` file) says
    ``dest`` already holds exactly what this build would write (nothing is rebuilt)."""
    from bench.leaderboard import FORMATS, build_leaderboard, write_leaderboard
    from bench.leaderboard.render import parse_formats
    from bench.leaderboard.stamps import PublishStamps, publish_stamp

    wanted = parse_formats(formats) if formats else list(FORMATS)
    command = _command_line()
    known = PublishStamps(stamps) if stamps is not None else None
    stamp = publish_stamp(
        runs, title=title, formats=wanted, lang=lang, command=command, dates=dates
    )
    kept = known.current(dest, stamp) if known is not None else None
    if kept is not None:
        for warning in kept:
            err.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
        err.print(
            f"{dest}: up to date (the same records, title and command as when it was written)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return None
    board = build_leaderboard(runs, dates=dates)
    for warning in board.warnings:
        err.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    paths = write_leaderboard(board, dest, formats=wanted, title=title, command=command, lang=lang)
    for p in paths:
        err.print(f"wrote {p}", markup=False, highlight=False, soft_wrap=True)
    if known is not None:
        known.remember(dest, stamp, paths, board.warnings)
    return board


# --------------------------------------------------------------------------- score


@app.command()
def score(
    task: Annotated[
        str, typer.Option("--task", metavar="TASK", help="The task the predictions belong to.")
    ],
    predictions: Annotated[
        Path,
        typer.Option(
            "--predictions",
            help='JSONL ({"id": ..., "prediction": ...} per line), SQuAD-style JSON ({id: '
            "answer}), plain text (one output per line, in test-set order), or a run's "
            "samples.jsonl or run folder RESULTS/MODEL/TASK (re-scored from its exact "
            "responses).",
        ),
    ],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            metavar="[auto|jsonl|text]",
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
        str | None,
        typer.Option(
            metavar="NAME",
            help="Display name of the model (default: the file stem; for a run's samples, the "
            "run's model name + '-rescored').",
        ),
    ] = None,
    data: Annotated[
        list[str] | None, typer.Option("--data", metavar="NAME=PATH", help="As for run.")
    ] = None,
    results: Annotated[
        Path | None, typer.Option(help="Results folder (default: .bench/results).")
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="The --limit the predictions were made with.")
    ] = None,
    bootstrap: Bootstrap = 1000,
    seed: BootstrapSeed = 12345,
    max_failures: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Stop with an error (exit 2) when more examples than this are failures (lines "
            "with 'failure', or ids missing under --allow-missing). Default: no limit, except "
            "that a file in which every example failed is an error unless this is at least "
            "the number of examples.",
        ),
    ] = None,
    metrics: ExtraMetrics = None,
    cache: Annotated[
        Path | None,
        typer.Option(
            help="Cache file where model-based metrics keep each segment's scores (default: "
            ".bench/cache.sqlite)."
        ),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Do not read or write the segment cache.")
    ] = False,
    tasks_dir: TasksDir = None,
) -> None:
    """Score a file of saved model outputs and write the same record a run would.

    JSONL files give one {"id", "prediction"} object per example; any other file is read as
    plain text, one output per line in test-set order (the WMT convention for hypotheses). A
    run's samples.jsonl (or its folder) reproduces the run's metrics exactly: pass the task and
    the --limit and --bootstrap/--seed the run used.
    """
    from bench.adapters.base import ModelSpec
    from bench.adapters.prediction_paths import resolve_predictions_path
    from bench.adapters.predictions import (
        PredictionsAdapter,
        check_not_overwriting,
        default_name,
    )
    from bench.catalog import find_task
    from bench.metrics.base import BootstrapConfig
    from bench.records import load_record
    from bench.runner import RunConfig, run_pair

    spec = _with_metrics([find_task(task, tasks_dir or [])], _parse_metrics(metrics))[0]
    from bench.stages import check_metrics

    check_metrics([spec])
    samples_file, record_file = resolve_predictions_path(predictions)
    recorded = load_record(record_file) if record_file is not None else None
    # A prompted run (a record with a protocol) is re-scored unit by unit, from its own lines.
    prompted = recorded is not None and recorded.protocol is not None
    adapter = (
        None
        if prompted
        else PredictionsAdapter(str(predictions), format=fmt, allow_missing=allow_missing)
    )
    display = name or default_name(predictions)
    model = ModelSpec(
        raw=f"predictions:{predictions}",
        kind="predictions",
        target=str(predictions),
        display_name=display,
    )
    config = RunConfig(
        results=results or _default_results(),
        cache=None if no_cache else (cache or _default_cache()),
        limit=limit,
        bootstrap=BootstrapConfig(resamples=bootstrap, seed=seed),
        data=_parse_data(data, [spec], tasks_dir or []),
        max_failures=max_failures,
    )
    from bench.folders import run_folder

    # Another model's folder is refused; so is the folder the samples are read from (the
    # task's folder, or the one beside it a limited run would write into).
    target = run_folder(config.results, display, spec.name, limit)
    for folder in {config.results / model.dir_name / spec.name, target}:
        check_not_overwriting(predictions, folder)
    if adapter is None:
        from bench.runner import rescore_units

        assert recorded is not None
        outcome = rescore_units(model, spec, config, samples_file, recorded)
    else:
        outcome = run_pair(model, spec, config, adapter=adapter)
    _summary([outcome])
    err.print(f"wrote {outcome.record_path}")


# --------------------------------------------------------------------------- show


@app.command()
def show(
    run_dir: Annotated[Path, typer.Argument(help="A run folder RESULTS/MODEL/TASK.")],
    example: Annotated[str, typer.Option("--id", metavar="ID", help="The example's id.")],
    unit: Annotated[
        str | None,
        typer.Option(
            metavar="UNIT", help="Only this unit (variant/dN/sN) of a run with several units."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the raw samples.jsonl line(s).")
    ] = False,
) -> None:
    """Print one example of a run: the rendered prompt (or message list), the raw completion,
    the parsed answer, the reference and the scores, for every unit unless --unit."""
    from bench.show import show as render

    text = render(run_dir, example, unit, raw=as_json)
    sys.stdout.write(text + "\n")


# --------------------------------------------------------------------------- leaderboard


@app.command()
def leaderboard(
    results: Annotated[
        Path | None, typer.Option(help="Folder of run records (default: .bench/results).")
    ] = None,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder to write the leaderboard into.")
    ] = Path("leaderboard"),
    formats: Annotated[
        str,
        typer.Option(
            metavar="LIST",
            help="Comma-separated outputs: md (README.md), csv (leaderboard.csv), json "
            "(leaderboard.json + leaderboard.schema.json), tex (leaderboard.tex), html "
            "(index.html).",
        ),
    ] = "md,csv,json,tex,html",
    title: Annotated[str, typer.Option(help="Title of the report.")] = "bench leaderboard",
    lang: Annotated[
        str,
        typer.Option(metavar="[en|zh]", help="Labels of index.html: en (English) or zh (Chinese)."),
    ] = "en",
    diff: Annotated[
        Path | None,
        typer.Option(
            "--diff",
            help="A previously published leaderboard folder (its leaderboard.json): print "
            "rank and score changes and write them to DIFF.md.",
        ),
    ] = None,
    dates: Annotated[
        bool,
        typer.Option(
            "--dates",
            help="Show the date each run finished (from its record) in the tables, CSV and "
            "JSON. Off by default, so that scoring the same pairs again publishes the same bytes.",
        ),
    ] = False,
) -> None:
    """Build the leaderboard (tables, JSON, LaTeX, HTML report) from run records alone.

    Every file is deterministic (rebuilding from the same records, or from the same pairs
    scored again, gives the same bytes: no dates unless --dates) and written atomically. Ties
    with the best model come from paired tests on samples.jsonl.
    """
    from bench.leaderboard import diff_documents, document, load_document, render_diff
    from bench.leaderboard.diff import DIFF_FILE
    from bench.leaderboard.html import LANGS
    from bench.records import atomic_write_text

    if lang not in LANGS:
        raise BenchError(f"unknown --lang '{lang}'", fix=f"use one of {', '.join(LANGS)}")
    old = load_document(diff) if diff is not None else None  # read before --out overwrites it
    board = _publish(
        _load_runs(results or _default_results()),
        out_dir,
        title,
        formats=formats,
        lang=lang,
        dates=dates,
    )
    if old is not None:
        text = render_diff(diff_documents(old, document(board, title=title, command="")))
        atomic_write_text(out_dir / DIFF_FILE, text)
        out.print(text, markup=False, highlight=False, soft_wrap=True)
        err.print(f"wrote {out_dir / DIFF_FILE}", markup=False, highlight=False, soft_wrap=True)


def _load_runs(results: Path) -> Any:
    from bench.leaderboard.build import load_runs

    return load_runs(results)


# --------------------------------------------------------------------------- compare


@app.command()
def compare(
    model_a: Annotated[str, typer.Argument(help="Model A (display name or results folder name).")],
    model_b: Annotated[str, typer.Argument(help="Model B.")],
    results: Annotated[
        Path | None, typer.Option(help="Folder of run records (default: .bench/results).")
    ] = None,
    task: Annotated[
        list[str] | None,
        typer.Option(
            "--task",
            metavar="TASK",
            help="Task to compare, repeatable (default: every task both models ran).",
        ),
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            metavar="METRIC",
            help="Metric to compare, repeatable (default: every metric with a test).",
        ),
    ] = None,
    resamples: Annotated[
        int,
        typer.Option(
            min=100,
            help="Bootstrap resamples or permutations per test (sacrebleu's --paired-bs-n).",
        ),
    ] = 1000,
    ar_trials: Annotated[
        int,
        typer.Option(
            min=100,
            help="Approximate-randomisation trials for --corpus-test ar (sacrebleu's "
            "--paired-ar-nrounds; its default, so p-values are sacrebleu's).",
        ),
    ] = 10000,  # bench.metrics.paired.AR_TRIALS, not imported here: it would slow --help
    seed: Annotated[int, _seed_option("Seed of every random draw")] = 12345,
    corpus_test: Annotated[
        str,
        typer.Option(
            metavar="[bs|ar]",
            help="Test for BLEU, chrF and TER: bs (sacrebleu's paired bootstrap) or ar "
            "(approximate randomisation).",
        ),
    ] = "bs",
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print JSON: {metric: {difference, ci_low, ci_high, p_value, p_holm, method}} "
            "for one task, {task: {metric: {...}}} for several (the same as --format json).",
        ),
    ] = False,
    output_format: OutputFormat = "table",
) -> None:
    """Paired significance tests of model A against model B, example by example.

    BLEU/chrF/TER: sacrebleu's paired bootstrap (or --corpus-test ar); accuracy and exact
    match: McNemar; ROUGE, F1, per-user ranking metrics: paired permutation; macro-F1, MCC and
    per-class scores: paired randomisation. The difference is A − B with its 95% paired bootstrap
    interval. p-values are adjusted with Holm–Bonferroni over all the tests printed.
    """
    import json

    from bench.stats import compare_results

    if corpus_test not in ("bs", "ar"):
        raise BenchError(f"--corpus-test '{corpus_test}' is not bs or ar", fix="use bs or ar")
    root = results or _default_results()
    found = compare_results(
        root,
        model_a,
        model_b,
        tasks=task,
        metrics=metric,
        resamples=resamples,
        seed=seed,
        corpus_test="ar" if corpus_test == "ar" else "bs",
        ar_trials=ar_trials,
    )
    tests = sum(len(v) for v in found.values())
    if as_json or output_format == "json":
        payload: dict[str, Any] = {
            t: {m: c.to_json() for m, c in comps.items()} for t, comps in found.items()
        }
        if len(found) == 1:
            payload = next(iter(payload.values()))
        sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        return
    if output_format == "csv":
        raw = [
            [t, m, c.value_a, c.value_b, c.difference]
            + [c.to_json().get(k) for k in ("ci_low", "ci_high", "p_value", "p_holm")]
            + [c.method, c.detail or None]
            for t, comps in found.items()
            for m, c in comps.items()
        ]
        sys.stdout.write(table_csv(COMPARE_RAW_COLUMNS, raw))
        return
    rows: list[list[str | Text]] = []
    for t, comps in found.items():
        for m, c in comps.items():
            significant = c.p_holm is not None and c.p_holm < 0.05
            rows.append(
                [
                    t,
                    m,
                    f"{c.value_a:.4f}",
                    f"{c.value_b:.4f}",
                    f"{c.difference:+.4f}",
                    c.ci_text(),
                    f"{c.p_value:.4g}",
                    Text(f"{c.p_holm:.4g}", style="bold" if significant else ""),
                    f"{c.method} ({c.detail})" if c.detail else c.method,
                ]
            )
    print_table(
        out,
        COMPARE_COLUMNS,
        rows,
        title=f"{model_a} (A) vs {model_b} (B): paired tests",
        caption=f"p (Holm): Holm–Bonferroni over the {tests} test(s) above; difference = A − B "
        f"with its 95% paired bootstrap interval ({resamples} resamples, seed {seed})",
    )


COMPARE_COLUMNS = (
    Column("task"),
    Column("metric"),
    Column("A", numeric=True),
    Column("B", numeric=True),
    Column("A − B", numeric=True),
    Column("95% CI", numeric=True, stack_label=""),
    Column("p", numeric=True),
    Column("p (Holm)", numeric=True),
    Column("method"),
)
"""The columns of ``bench compare``'s table (grouped by task when narrow)."""

COMPARE_RAW_COLUMNS = tuple(
    Column(name)
    for name in (
        "task",
        "metric",
        "a",
        "b",
        "difference",
        "ci_low",
        "ci_high",
        "p_value",
        "p_holm",
        "method",
        "detail",
    )
)
"""The columns of ``bench compare --format csv``: one row per test, numbers unformatted."""


# --------------------------------------------------------------------------- records


@records_app.command("schema")
def records_schema() -> None:
    """Print the JSON Schema of run records (record.json), draft 2020-12."""
    import json

    from bench.records import record_json_schema

    sys.stdout.write(json.dumps(record_json_schema(), indent=2, ensure_ascii=False) + "\n")


# --------------------------------------------------------------------------- tasks


TASK_COLUMNS = (
    Column("suite"),
    Column("name"),
    Column("family", stack_label=""),
    Column("languages", stack_label=""),
    Column("source"),
    Column("n scored", numeric=True, stack_label="n"),
    Column("primary metric", stack_label=""),
    Column("licence"),
    Column("origin"),
)
"""The columns of ``bench tasks list``."""

TASK_RAW_COLUMNS = tuple(
    Column(name)
    for name in (
        "suite",
        "name",
        "family",
        "languages",
        "source",
        "n scored",
        "test size",
        "primary metric",
        "licence",
        "tags",
        "origin",
    )
)
"""The fields of ``bench tasks list --format csv|json``: ``n scored`` as counted from local
data (``null`` where it is not local), ``test size`` as the task file declares it."""


@tasks_app.command("list", short_help="Table of tasks: sizes, metrics, licences, origins.")
def tasks_list(
    selector: Annotated[str, typer.Argument(help="Selector (default: all).")] = "all",
    tasks_dir: TasksDir = None,
    tag: Annotated[
        list[str] | None,
        typer.Option(
            "--tag", metavar="TAG", help="Only tasks with this tag (repeat: all of them)."
        ),
    ] = None,
    fmt: OutputFormat = "table",
) -> None:
    """Table of tasks by suite: name, family, languages, source, what a run scores (test
    examples; users for recommendation: counted where the data is local, else the size the
    task file declares, marked *), the primary metric, the data's licence (its name; the
    whole statement with --format json and in `bench tasks show`), and origin
    (builtin, --tasks-dir, BENCH_TASKS_PATH, or the plugin package that ships it). A task file
    at the top of a --tasks-dir or BENCH_TASKS_PATH folder is in the suite named after the
    folder. SELECTOR is as for `bench run -t` (standard-zh, family:qa, lang:zh, tag:wmt).

    Counting loads a task's data once; the counts are then kept in BENCH_HOME/task-counts.json,
    keyed by the task file and the size and time of each data file, so listing again reads
    task files only."""
    from bench.catalog import TestCounts, select_tasks, task_origin

    counts = TestCounts(_home() / "task-counts.json")
    specs = sorted(select_tasks(selector, tasks_dir or []), key=lambda t: (t.suite or "", t.name))
    specs = [t for t in specs if all(x in t.tags for x in tag or [])]
    if not specs:
        raise TaskNotFound(
            f"no task of '{selector}' has the tag(s) {', '.join(tag or [])}",
            fix="see the tags with `bench tasks list --format json`",
        )
    from bench.taskdocs import short_licence

    found = [(spec, counts.get(spec, _count), task_origin(spec, tasks_dir or [])) for spec in specs]
    counts.save()
    if fmt != "table":
        raw = [
            (
                spec.suite,
                spec.name,
                spec.family,
                ",".join(spec.languages),
                spec.source.kind,
                None if counted == "—" else counted,
                spec.test_size,
                spec.primary_metric,
                spec.license,
                ",".join(spec.tags),
                origin,
            )
            for spec, counted, origin in found
        ]
        write_rows(fmt, TASK_RAW_COLUMNS, raw)
        return
    rows = [
        (
            spec.suite or "—",
            spec.name,
            spec.family,
            ",".join(spec.languages),
            spec.source.kind,
            _scored(spec, counted),
            spec.primary_metric,
            short_licence(spec.license),
            origin,
        )
        for spec, counted, origin in found
    ]
    print_table(out, TASK_COLUMNS, rows)


def _data_terms(spec: Any) -> str:
    """Where a task's data comes from and under which licence, for ``bench tasks show``: bench
    ships no data but its own built-in sets, so using a remote one means accepting its terms."""
    source = spec.source
    licence = spec.license or "not stated in the task file: check the source before use"
    if source.kind == "builtin":
        return f"data: built into bench (licence: {licence})"
    where = {
        "hub": f"the Hugging Face Hub dataset {source.location}"
        + (f" ({source.name})" if source.name else ""),
        "url": f"{source.location}",
        "sacrebleu": f"sacrebleu's downloader ({source.testset} {source.langpair})",
        "local": f"files you provide at {source.location}",
    }.get(source.kind, source.kind)
    fetched = "is read from" if source.kind == "local" else "is downloaded from"
    return (
        f"data: licence {licence}. bench ships none of it: it {fetched} {where} when a run "
        f"needs it, or from a local copy with --data {spec.name}=PATH; using it means "
        "accepting its licence and terms."
    )


def _scored(spec: Any, counted: str) -> str:
    """The ``n scored`` cell: the count where the data is local, else the declared size
    (``test_size``, marked ``*``), else ``—``."""
    if counted != "—" or spec.test_size is None:
        return counted
    from bench.registry import registry

    unit = f" {registry.get('family', spec.family).scored_unit}".rstrip()
    return f"{spec.test_size:,}{unit}*"


def _count(spec: Any) -> str:
    """What a run of the task scores, for sources readable without a network: test examples,
    or, for a family that builds its requests itself (recommendation: one per user with a
    training history and a held-out item), the requests it builds."""
    if spec.source.kind not in ("builtin", "local"):
        return "—"
    from bench.data import load_split
    from bench.families.base import get_family

    family = get_family(spec.family)
    try:
        prepared = family.prepare(spec, data_override=None, limit=None)
        if prepared is not None:
            unit = " users" if "users_evaluated" in prepared.info else ""
            return f"{len(prepared.requests)}{unit}"
        return str(len(load_split(spec, family, "test").dataset))
    except BenchError:
        return "—"


@tasks_app.command("catalog", short_help="Regenerate docs/tasks.md and the README's task table.")
def tasks_catalog(
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 naming each file that is not current."),
    ] = False,
    page: Annotated[Path, typer.Option(metavar="PATH", help="The catalog page.")] = Path(
        "docs/tasks.md"
    ),
    readme: Annotated[
        Path,
        typer.Option(metavar="PATH", help="The README whose generated task table is updated."),
    ] = Path("README.md"),
) -> None:
    """Regenerate the task catalog from the task files of bench's own tasks/ folder: the
    page (every task with its description, source, size, licence, citation and tags) and the
    README's task table (between its marker lines). Run it from the repository root after
    adding or changing a task; CI runs it with --check."""
    from bench.catalog import builtin_tasks_root, discover
    from bench.taskdocs import write_catalog

    root = builtin_tasks_root().resolve()
    tasks = [
        t
        for t in discover().values()
        if t.path is not None and t.path.resolve().is_relative_to(root)
    ]
    done = write_catalog(tasks, page, readme, check=check)
    if check and done.changed:
        names = ", ".join(str(p) for p in done.changed)
        err.print(f"not current: {names}; run `bench tasks catalog` and commit the result")
        raise typer.Exit(1)
    what = "current" if not done.changed else f"rewrote {', '.join(map(str, done.changed))}"
    out.print(f"task catalog ({len(tasks)} tasks): {what}", soft_wrap=True)


PIN_COLUMNS = (
    Column("task"),
    Column("repository", stack_label=""),
    Column("was", stack_label="was"),
    Column("commit", stack_label=""),
)
"""The columns of ``bench tasks pin``."""


@tasks_app.command("pin", short_help="Pin Hub tasks to the commit their data is at now.")
def tasks_pin(
    selector: Annotated[str, typer.Argument(help="Tasks to pin (as for run -t).")],
    write: Annotated[
        bool,
        typer.Option("--write", help="Write each commit into its task file (default: show)."),
    ] = False,
    tasks_dir: TasksDir = None,
    fmt: OutputFormat = "table",
) -> None:
    """Pin Hub tasks to the commit their data is at now: ask the Hub which commit each task's
    revision (or the main branch) points at and, with --write, write it into the task file as
    source.revision (comments kept). A pinned task scores the same data on every machine and
    day; its spec hash changes, so earlier records are not taken for it. Tasks of other
    sources are skipped: sacrebleu and url data are pinned by their checksums. Needs the Hub
    (HF_ENDPOINT for a mirror)."""
    from bench.catalog import select_tasks
    from bench.pin import COMMIT, PinResult, pin_text, resolve_revision

    specs = select_tasks(selector, tasks_dir or [])
    hub = [t for t in specs if t.source.kind == "hub"]
    if not hub:
        raise BenchError(
            f"no task of '{selector}' loads from the Hub", fix="pin tasks whose source is hub"
        )
    results = []
    for spec in hub:
        before = str(spec.source.revision) if spec.source.revision else None
        commit = before if before and COMMIT.fullmatch(before) else None
        commit = commit or resolve_revision(str(spec.source.location), before)
        results.append(PinResult(spec.name, str(spec.source.location), before, commit))
        if write and before != commit and spec.path is not None:
            text = spec.path.read_text(encoding="utf-8")
            pinned = pin_text(text, commit, path=str(spec.path))
            tmp = spec.path.with_name(f".{spec.path.name}.tmp")
            tmp.write_text(pinned, encoding="utf-8")
            tmp.replace(spec.path)
    skipped = len(specs) - len(hub)
    if skipped:
        err.print(f"{skipped} task(s) not on the Hub skipped (pinned by their checksums)")
    rows = [(r.task, r.repo, r.before or "main", r.commit) for r in results]
    if fmt != "table":
        write_rows(fmt, PIN_COLUMNS, rows)
    else:
        print_table(out, PIN_COLUMNS, rows)
    changed = sum(r.before != r.commit for r in results)
    if changed and not write:
        err.print(f"{changed} task(s) not pinned yet: pass --write to write the commits")
    elif changed:
        err.print(f"pinned {changed} task file(s); commit them with the records they produce")


@tasks_app.command("show", short_help="A task's spec and its first preprocessed examples.")
def tasks_show(
    name: Annotated[str, typer.Argument(help="Task name or task file.")],
    examples: Annotated[
        int, typer.Option(min=1, help="How many preprocessed examples to show.")
    ] = 3,
    data: Annotated[
        list[str] | None, typer.Option("--data", metavar="NAME=PATH", help="As for run.")
    ] = None,
    tasks_dir: TasksDir = None,
) -> None:
    """Show a task's spec (with its optional metrics, scored with --metrics +NAME) and its
    first preprocessed test examples."""
    import json

    import yaml

    from bench.catalog import find_task
    from bench.data import load_split
    from bench.families.base import get_family
    from bench.preprocess import apply_steps, build_steps, check_resources

    spec = find_task(name, tasks_dir or [])
    out.print(Text.assemble((spec.name, "bold"), f"  ({spec.path})"))
    out.print(_data_terms(spec), soft_wrap=False)
    dumped = spec.model_dump(mode="json", exclude_none=True)
    if spec.optional_metrics:  # not part of the spec's identity, but the user's to choose
        optional = [m.model_dump(mode="json") for m in spec.optional_metrics]
        items = list(dumped.items())
        at = next((i + 1 for i, (k, _) in enumerate(items) if k == "metrics"), len(items))
        dumped = dict([*items[:at], ("optional_metrics", optional), *items[at:]])
    # PyYAML folds a long string past ``width`` at the next space, with the key's indentation
    # in front: a margin keeps the lines within the terminal.
    text = yaml.safe_dump(
        dumped, allow_unicode=True, sort_keys=False, width=max(40, out.width - 12)
    )
    out.print(text, markup=False, highlight=False, soft_wrap=True)
    family = get_family(spec.family)
    steps = build_steps(spec)
    check_resources(steps)
    override = _parse_data(data, [spec], tasks_dir or []).get(spec.name)
    split = load_split(spec, family, "test", data_override=override, limit=examples)
    ds = apply_steps(split.dataset, steps, family)
    out.print(
        Text.assemble(
            (f"first {len(ds)} test examples", "bold"),
            f" (after preprocessing; {split.origin})",
        )
    )
    for row in ds:
        # One JSON object per line, verbatim: no wrapping, no markup (texts may hold "[...]").
        line = json.dumps(row, ensure_ascii=False)
        out.print(line, markup=False, highlight=False, soft_wrap=True)


@tasks_app.command(
    "validate", short_help="Check task files: schema, names, parameters, local data."
)
def tasks_validate(
    paths: Annotated[list[Path], typer.Argument(help="Task files or folders.")],
    data: Annotated[
        list[str] | None,
        typer.Option(
            "--data", metavar="NAME=PATH", help="Also check task NAME against this local copy."
        ),
    ] = None,
    no_data: Annotated[
        bool,
        typer.Option("--no-data", help="Check the files only, not the data they name."),
    ] = False,
) -> None:
    """Validate task files: schema, registry names and parameters, the family's options and the
    prompt template (fields, sandbox); then, where the data is on this machine (builtin and
    local sources, or --data), every split the task names: columns named in fields (with a
    did-you-mean), labels, ids and rows, as a run reads them. Exit 2 if anything fails."""
    from bench.spec import load_task

    files: list[Path] = []
    for p in paths:
        files += sorted(p.rglob("*.yaml")) if p.is_dir() else [p]
    if not files:
        raise BenchError(
            f"no task files in {', '.join(map(str, paths))}", fix="pass .yaml files or folders"
        )
    specs: dict[Path, Any] = {}
    problems = 0
    for f in files:
        try:
            specs[f] = load_task(f)
        except BenchError as exc:
            problems += 1
            err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
    overrides = _parse_data(data, list(specs.values()))
    for f, spec in specs.items():
        try:
            checked = "" if no_data else _validate_data(spec, overrides.get(spec.name))
            out.print(f"ok  {f}{checked}", markup=False, highlight=False, soft_wrap=True)
        except BenchError as exc:
            problems += 1
            err.print(f"error: {f}: {exc}", markup=False, highlight=False, soft_wrap=True)
    if problems:
        raise typer.Exit(2)


def _validate_data(spec: Any, override: Path | None) -> str:
    """Read every split of ``spec`` as a run would, where the data is local; what was read."""
    if override is None and spec.source.kind not in ("builtin", "local"):
        return f" (data not checked: a {spec.source.kind} source; pass --data to check a copy)"
    import glob

    from bench.data import load_split
    from bench.data.files import base_dir
    from bench.families.base import get_family

    if override is None:
        root = base_dir(spec, spec.source)
        for names in (spec.source.files or {}).values():
            for name in [names] if isinstance(names, str) else names:
                if not glob.glob(str(root / name), recursive=True):
                    return f" (data not checked: no {root / name}; pass --data to check a copy)"

    family = get_family(spec.family)
    prepared = family.prepare(spec, data_override=override, limit=None)
    if prepared is not None:
        unit = "users" if "users_evaluated" in prepared.info else "requests"
        return f" (data: {len(prepared.requests)} {unit} from {prepared.origin})"
    counts = []
    for role in spec.source.splits:
        split = load_split(spec, family, role, data_override=override)
        counts.append(f"{role} {len(split.dataset)}")
    return f" (data: {', '.join(counts)})"


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
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang",
            metavar="LIST",
            help="The task's languages, comma-separated: one (en, zh), or source,target for "
            "translation (zh,en). Default: the family template's.",
        ),
    ] = None,
    data_format: Annotated[
        Literal["csv", "tsv", "jsonl", "json", "text-files"] | None,
        typer.Option(
            "--format",
            help="The data files' format; the file names follow it (text-files: a folder per "
            "split, one .txt file per example under a folder per label). Default: the "
            "template's, or that of --from.",
        ),
    ] = None,
    labels: Annotated[
        str | None,
        typer.Option(
            metavar="LIST",
            help="Sentiment labels, comma-separated, in their fixed order (negative,positive). "
            "Default: the values of --from's label column, else the template's.",
        ),
    ] = None,
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--from",
            metavar="FILE",
            help="A data file (csv, tsv, jsonl or json): the task reads it as its test split "
            "(and a train file beside it whose name has train for test), its format is the "
            "file's and fields: maps each family field to the column that holds it.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented task template that validates; edit it, then `bench tasks validate`.

    NAME is a task name (lowercase letters, digits, '.', '_', '-'): the file is --dir/NAME.yaml,
    never anywhere else. --lang, --format, --labels and --from fill in the template; what they
    cannot fill (a field no column matches) is listed after the file is written.
    """
    from bench.registry import registry
    from bench.spec import parse_task
    from bench.templates import customise_template, read_columns, task_template

    text = task_template(name, family)  # refuses a name that is not a task name
    path = directory / f"{name}.yaml"
    if not path.resolve().is_relative_to(directory.resolve()):  # defence in depth
        raise BenchError(f"{path} is outside --dir {directory}", fix="choose another name")
    if path.exists() and not force:
        raise BenchError(f"{path} exists", fix="pass --force to overwrite or choose another name")
    columns = read_columns(from_file, data_format) if from_file is not None else None

    def split_list(value: str | None) -> list[str] | None:
        if value is None:
            return None
        return [v.strip() for v in value.split(",") if v.strip()]

    done = customise_template(
        text,
        registry.get("family", family),
        languages=split_list(lang),
        fmt=data_format,
        labels=split_list(labels),
        columns=columns,
        task_dir=directory,
    )
    parse_task(done.text, path=path)  # what is written must validate as written
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(done.text, encoding="utf-8")
    for note in done.notes:
        err.print(f"note: {note}", soft_wrap=True)
    out.print(
        f"wrote {path}; next: edit it, check it with `bench tasks validate {path}`, then run "
        f"it with `bench run -t {name} --tasks-dir {directory} -m MODEL` (a folder of task "
        "files outside the built-in catalog is named with --tasks-dir, or BENCH_TASKS_PATH)",
        soft_wrap=True,
    )


# --------------------------------------------------------------------------- doctor


DOCTOR_COLUMNS = (
    Column("resource"),
    Column("status", stack_label=""),
    Column("detail", stack_label=""),
)
"""The columns of ``bench doctor``'s table."""


@app.command()
def doctor(fmt: OutputFormat = "table") -> None:
    """List what bench can use here and what is missing, with the command that fixes each:
    where NLTK looks for data (NLTK_DATA) and which NLTK packages it finds (and what falls back
    without them, such as ROUGE-Lsum's rule-based sentence splitter), jieba, OpenCC, the
    optional extras, the models of the model-based metrics, and torch's device."""
    from bench.doctor import checks

    found = checks()
    if fmt != "table":
        raw = [(c.name, "ok" if c.ok else "missing", c.detail) for c in found]
        write_rows(fmt, DOCTOR_COLUMNS, raw)
        return
    rows = [
        (
            c.name,
            Text("ok", style="green") if c.ok else Text("missing", style="red"),
            c.detail,
        )
        for c in found
    ]
    print_table(out, DOCTOR_COLUMNS, rows)


# --------------------------------------------------------------------------- selftest


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def selftest(
    ctx: typer.Context,
    perf: Annotated[
        bool,
        typer.Option(
            "--perf",
            help="Run the performance benchmarks (tests/perf) at full scale, printing their "
            "figures, instead of the test suite.",
        ),
    ] = False,
    tests: Annotated[
        Path | None,
        typer.Option(help="The repository's tests folder (default: the one beside the package)."),
    ] = None,
) -> None:
    """Run bench's own test suite with pytest (needs a source checkout and the dev extra).

    Further arguments go to pytest, e.g. `bench selftest --perf -k rouge`.
    """
    from bench.selftest import run_selftest

    raise typer.Exit(run_selftest(perf, tests, ctx.args))


# --------------------------------------------------------------------------- entry point


def _run(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except BenchError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise SystemExit(2) from None


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: ``bench``."""

    _ARGV[:] = list(argv) if argv is not None else sys.argv[1:]

    def call() -> None:
        app(args=list(argv) if argv is not None else None, standalone_mode=True)

    _run(call)


if __name__ == "__main__":  # pragma: no cover
    main()
