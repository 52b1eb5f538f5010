"""Render a :class:`~bench.leaderboard.build.Leaderboard` as Markdown, CSV, JSON, LaTeX and HTML.

Output is deterministic (sorted, fixed number formats, no timestamps; the records' dates only
when the board was built with ``dates=True``) and written atomically, so a published leaderboard
changes only when a number does: the same pairs scored again, on another day, publish the same
bytes.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import __version__
from bench.errors import BenchError
from bench.leaderboard.build import MEAN, MEAN_RANK, N_TASKS, SPREAD_FIELDS, Leaderboard, View
from bench.leaderboard.cells import (
    MISSING,
    TIE_MARK,
    fmt_ci,
    fmt_mean,
    fmt_spread,
    fmt_value,
    has_spread,
    is_missing,
    metric_order,
    primary_cells,
    ranking_note,
    signatures,
    standing,
    task_rows,
)
from bench.leaderboard.html import render_html
from bench.leaderboard.schema import (
    ROW_FIELDS,
    LeaderboardDocument,
    ModelEntry,
    Row,
    TaskEntry,
    ViewEntry,
    leaderboard_json_schema,
)
from bench.records import atomic_write_text

__all__ = [
    "FILES",
    "FORMATS",
    "RESCALING",
    "TIE_TEST",
    "document",
    "fmt_mean",
    "fmt_value",
    "is_missing",
    "md_escape",
    "parse_formats",
    "render_csv",
    "render_json",
    "render_latex",
    "render_markdown",
    "render_schema",
    "tex_escape",
    "write_leaderboard",
]

FORMATS = ("md", "csv", "json", "tex", "html")
"""Every output format, in the order they are written."""
FILES = {
    "md": ("README.md",),
    "csv": ("leaderboard.csv",),
    "json": ("leaderboard.json", "leaderboard.schema.json"),
    "tex": ("leaderboard.tex",),
    "html": ("index.html",),
}
"""The files each format writes, in the order its renderer returns their texts: the one list
:func:`write_leaderboard` writes from."""

RESCALING = (
    "the mean of a model's primary metrics over the tasks it has, each rescaled to 0-100: a "
    "metric on 0-1 (accuracy, ROUGE, nDCG) x100, one already on 0-100 (BLEU, chrF, SQuAD F1) "
    "kept, a lower-is-better one (TER, ECE) as 100 - value/scale*100, floored at 0"
)
WITHHELD_CI = (
    "n/a (n=...): no interval, though the run bootstrapped: fewer than 10 examples (the "
    "percentile bootstrap says nothing there; n = 1 gives a zero-width interval), or resamples "
    "that do not cover the value; the CSV and JSON give the reason in ci_reason"
)
SPREAD_NOTE = (
    "⟨variants min–max (sd)⟩: a prompted run's spread across its prompt variants (or, with one "
    "variant, its exemplar draws); its value is the mean over every variant, draw and sample, "
    "and its tie with the best is the two-level paired bootstrap over examples × those units, "
    "which counts the variance across variants; the CSV gives spread_axis, spread_min, "
    "spread_max, spread_std and spread_n"
)
TIE_TEST = (
    "tied with the best: not significantly worse than the best model on the primary metric by "
    "the metric's paired test (bench.stats.tied_with_best: paired bootstrap for BLEU/chrF/TER, "
    "McNemar for accuracy and exact match, paired randomisation for macro-F1 and MCC, paired "
    "permutation for other per-example means), "
    "Holm-adjusted over the task's models, alpha = 0.05; where a task's samples do not allow "
    "the test, 95% intervals that overlap the best model's"
)


def parse_formats(text: str) -> list[str]:
    """``"md,csv"`` → ``["md", "csv"]``, in :data:`FORMATS` order; unknown names are errors."""
    wanted = [f.strip().lower() for f in text.split(",") if f.strip()]
    bad = [f for f in wanted if f not in FORMATS]
    if bad or not wanted:
        raise BenchError(
            f"unknown output format(s) {', '.join(bad) or '(none given)'}",
            fix=f"use a comma-separated subset of {','.join(FORMATS)}",
        )
    return [f for f in FORMATS if f in wanted]


# --------------------------------------------------------------------------- numbers


def _clean(value: Any) -> Any:
    """NaN → None and numpy scalars → Python, for JSON."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _round(value: Any, digits: int = 10) -> float | None:
    """Derived numbers (means) rounded, so summation order never shows in a published file."""
    value = _clean(value)
    return None if value is None else round(float(value), digits)


# --------------------------------------------------------------------------- shared structure


def document(board: Leaderboard, *, title: str, command: str) -> LeaderboardDocument:
    """The leaderboard as the typed document ``leaderboard.json`` serialises."""
    rows = []
    for raw in board.long.to_dict("records"):
        item = {k: _clean(raw[k]) for k in (*ROW_FIELDS, "date")}
        item["scaled"] = _round(item["scaled"])
        rows.append(Row(**item))
    tasks = [
        TaskEntry(
            name=c.name,
            family=c.family,
            languages=list(c.languages),
            language_group=c.group,
            primary_metric=c.primary_metric,
            higher_is_better=c.higher_is_better,
            scale=c.scale,
            version=c.version,
            dataset_fingerprint=c.dataset_fingerprint,
            n_examples=c.n_examples,
            tie_method=c.tie_method,
            tie_note=c.tie_note,
        )
        for c in board.columns.values()
    ]
    views = [_view_entry(v) for v in board.views]
    return LeaderboardDocument(
        title=title,
        bench_version=__version__,
        command=command,
        rescaling=RESCALING,
        tie_test=TIE_TEST,
        tasks=tasks,
        models=views[0].models,
        views=views[1:],
        rows=rows,
    )


def _view_entry(view: View) -> ViewEntry:
    models = []
    for i, (model, row) in enumerate(view.table.iterrows(), start=1):
        shown = standing(row, len(view.tasks))
        models.append(
            ModelEntry(
                model=str(model),
                position=i,
                rank=int(shown["rank"]) if shown["ranked"] else None,
                covers=shown["covers"],
                tasks=int(row[N_TASKS]),
                tasks_total=len(view.tasks),
                complete=bool(row["complete"]),
                mean_0_100=_round(row[MEAN]),
                mean_rank=_round(row[MEAN_RANK]),
            )
        )
    kind: Any = view.kind
    return ViewEntry(kind=kind, key=view.key, tasks=list(view.tasks), models=models)


def record_notes(board: Leaderboard) -> dict[tuple[str, str], int]:
    """Footnote number of every (model, column) record, in (task, model) order."""
    return {(r.model.name, board.column_of(i)): i + 1 for i, r in enumerate(board.records)}


# --------------------------------------------------------------------------- Markdown


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~$])")


def md_escape(text: str) -> str:
    """Text safe inside a GFM table cell: markup characters backslash-escaped, ``<>&`` as
    entities (GitHub renders raw HTML), newlines as spaces.

    Example:
        >>> md_escape("a|b<script>")
        'a\\\\|b&lt;script&gt;'
    """
    text = " ".join(str(text).splitlines())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _md_code(text: str) -> str:
    """Inline code that survives any backticks inside (not for table cells)."""
    text = " ".join(str(text).splitlines())
    ticks = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align: Sequence[str]) -> str:
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def _md_cell(row: dict[str, Any] | None, *, ci: bool, note: int | None, tie: bool) -> str:
    if row is None:
        return MISSING
    text = fmt_value(row["value"], row["scale"])
    if row["best"]:
        text = f"**{text}**"
    if tie and row["tied_with_best"] and not row["best"]:
        text += TIE_MARK
    if ci and (interval := fmt_ci(row)):
        text += f" {interval}"
    if spread := fmt_spread(row):
        text += f" ⟨{spread}⟩"
    if note is not None:
        text += f"[^{note}]"
    return text


_LANG_NAMES = {
    "en": "English",
    "zh": "Chinese",
    "cross-lingual": "Cross-lingual",
    "multilingual": "Multilingual",
}


def view_label(view: View) -> str:
    """English heading of a view."""
    if view.kind == "language":
        return _LANG_NAMES.get(view.key, view.key)
    return view.key


def _md_aggregate(
    board: Leaderboard, view: View, *, ci: bool, notes: dict[tuple[str, str], int] | None
) -> str:
    cells = primary_cells(board)
    header = [
        "#",
        "model",
        *[f"{md_escape(t)} ({md_escape(board.columns[t].primary_metric)})" for t in view.tasks],
        N_TASKS,
        MEAN,
        MEAN_RANK,
    ]
    rows = []
    for model, agg in view.table.iterrows():
        model = str(model)
        shown = standing(agg, len(view.tasks))
        line = [shown["rank"], md_escape(model)]
        for task in view.tasks:
            row = cells.get((model, task))
            note = notes.get((model, task)) if notes is not None and row is not None else None
            line.append(_md_cell(row, ci=ci, note=note, tie=True))
        covers = f" ({md_escape(shown['covers'])})" if shown["covers"] else ""
        line += [shown["tasks"] + covers, shown["mean"], shown["mean_rank"]]
        rows.append(line)
    return _table(header, rows, ["---:", "---", *["---:"] * (len(header) - 2)])


def render_markdown(board: Leaderboard, *, title: str = "Leaderboard", command: str = "") -> str:
    """GitHub-flavoured Markdown: main table, family and language views, one section per task,
    and one footnote per record with its provenance."""
    notes = record_notes(board)
    n_models = len(board.main)
    lines = [f"# {md_escape(title)}", ""]
    lines.append(
        f"{n_models} models × {len(board.tasks)} tasks, from {len(board.records)} run records. "
        "Each cell is the task's primary metric with its 95% bootstrap interval in brackets; "
        f"its footnote gives the record's {'date, ' if board.dates else ''}dataset "
        "fingerprint, model fingerprint and signature."
    )
    lines += [
        "",
        f"* **bold**: the best value on the task and metric; {TIE_MARK}: {TIE_TEST}.",
        f"* {MISSING}: the model was not run on the task (never counted as 0).",
        f"* `{MEAN}`: {RESCALING}. `{MEAN_RANK}`: the mean of the model's per-task ranks "
        "(1 = best) over the tasks it has. `#`: the model's rank, by mean, then mean rank, "
        "among the models that have every task of the table; equal aggregates share a rank "
        f"(1, 1, 3), as equal values do on a task. {MISSING} in `#`: the model lacks some of the "
        "table's tasks, so it is listed, unranked, with the tasks it has.",
    ]
    if "ci_reason" in board.long and board.long["ci_reason"].notna().any():
        lines.append(f"* {WITHHELD_CI}.")
    if has_spread(board):
        lines.append(f"* {SPREAD_NOTE}.")
    lines.append("")
    intro = ranking_note(
        board.main,
        len(board.tasks),
        others="The family views below rank the models that have all of a family's tasks.",
    )
    if intro:
        lines += [intro, ""]
    lines.append(_md_aggregate(board, board.views[0], ci=True, notes=notes))
    for kind, heading in (("family", "By family"), ("language", "By language")):
        views = [v for v in board.views if v.kind == kind]
        if not views:
            continue
        lines += ["", f"## {heading}"]
        for view in views:
            lines += ["", f"### {md_escape(view_label(view))}", ""]
            if intro := ranking_note(view.table, len(view.tasks)):
                lines += [intro, ""]
            lines.append(_md_aggregate(board, view, ci=False, notes=None))
    for task in board.tasks:
        col = board.columns[task]
        lines += ["", f"## {md_escape(task)}", ""]
        lines.append(
            f"{md_escape(col.family)}, {md_escape(', '.join(col.languages))}; task version "
            f"{col.version}; dataset `{col.dataset_fingerprint}`; n = {col.n_examples}; "
            f"primary metric **{md_escape(col.primary_metric)}**"
            f" ({'higher' if col.higher_is_better else 'lower'} is better)."
        )
        lines.append("")
        metrics = metric_order(board, task)
        header = ["rank", "model", *[md_escape(m) for m in metrics], "failures"]
        rows = []
        for model, by_metric in task_rows(board, task):
            prim = by_metric[col.primary_metric]
            line = [str(int(prim["rank"])), md_escape(model)]
            for i, m in enumerate(metrics):
                note = notes[(model, task)] if i == 0 else None
                line.append(_md_cell(by_metric.get(m), ci=True, note=note, tie=i == 0))
            line.append(str(int(prim["failures"])))
            rows.append(line)
        lines.append(_table(header, rows, ["---:", "---", *["---:"] * (len(header) - 2)]))
        lines.append("")
        lines.append(_tie_sentence(board, task))
        lines.append("")
        lines.append("Signatures:")
        lines.append("")
        for metric, sig, models in signatures(board, task):
            who = (
                ""
                if len(models) == len(task_rows(board, task))
                else (" (" + ", ".join(md_escape(m) for m in models) + ")")
            )
            lines.append(f"* {md_escape(metric)}: {_md_code(sig)}{who}")
    lines += ["", "---", ""]
    lines.append(
        f"Generated by bench {__version__} from {len(board.records)} run records"
        + (f"; rebuild with `{command}`" if command else "")
        + ". Do not edit by hand."
    )
    lines.append("")
    for i, rec in enumerate(board.records):
        n = notes[(rec.model.name, board.column_of(i))]
        signature = rec.metrics[rec.primary_metric].signature
        lines.append(
            f"[^{n}]: {md_escape(rec.model.name)} on {md_escape(board.column_of(i))}: "
            + (f"run of {rec.finished_at[:10]}; " if board.dates else "")
            + f"dataset `{rec.task.dataset_fingerprint}` "
            f"(task v{rec.task.version}); model fingerprint `{rec.model.fingerprint}`; "
            f"{md_escape(rec.primary_metric)} signature {_md_code(signature)}."
        )
    lines.append("")
    return "\n".join(lines)


def _tie_sentence(board: Leaderboard, task: str) -> str:
    col = board.columns[task]
    if col.tie_method == "paired-test":
        return (
            f"{TIE_MARK}: not significantly worse than the best on {md_escape(col.primary_metric)} "
            "(paired test, Holm-adjusted, alpha = 0.05)."
        )
    if col.tie_method == "single":
        return "One model only: no tie test."
    return (
        f"{TIE_MARK}: 95% interval overlaps the best model's; {md_escape(col.tie_note)}, so no "
        "paired test."
    )


# --------------------------------------------------------------------------- CSV and JSON


def render_csv(board: Leaderboard) -> str:
    """Long format: one row per (model, task, metric), columns :data:`ROW_FIELDS`, then
    :data:`~bench.leaderboard.build.SPREAD_FIELDS` when any record has a spread across prompt
    variants or exemplar draws."""
    fields = list(ROW_FIELDS) + (["date"] if board.dates else [])
    fields += list(SPREAD_FIELDS) if has_spread(board) else []
    frame = board.long[fields].copy()
    frame["scaled"] = [_round(v) for v in frame["scaled"]]
    out: str = frame.to_csv(index=False, lineterminator="\n")
    return out


def render_json(board: Leaderboard, *, title: str = "Leaderboard", command: str = "") -> str:
    """``leaderboard.json``: a :class:`~bench.leaderboard.schema.LeaderboardDocument`."""
    doc = document(board, title=title, command=command)
    return json.dumps(doc.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n"


def render_schema() -> str:
    """``leaderboard.schema.json``."""
    return json.dumps(leaderboard_json_schema(), ensure_ascii=False, indent=2) + "\n"


# --------------------------------------------------------------------------- LaTeX


_TEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "`": r"\textasciigrave{}",
}


def tex_escape(text: str) -> str:
    """Text safe in LaTeX (every special character as its command).

    Example:
        >>> tex_escape("a_b & <c>")
        'a\\\\_b \\\\& \\\\textless{}c\\\\textgreater{}'
    """
    return "".join(_TEX.get(ch, ch) for ch in " ".join(str(text).splitlines()))


def _tex_cell(row: dict[str, Any] | None, *, tie: bool, ci: bool) -> str:
    if row is None:
        return "--"
    text = fmt_value(row["value"], row["scale"])
    if row["best"]:
        text = rf"\textbf{{{text}}}"
    if tie and row["tied_with_best"] and not row["best"]:
        text += r"\textsuperscript{\dag}"
    if ci and (interval := fmt_ci(row)):
        sep = "" if interval.startswith("[") else " "  # \scriptsize[ stays as published
        text += rf" {{\scriptsize{sep}{interval}}}"
    return text


def _tex_label(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def render_latex(board: Leaderboard, *, title: str = "Leaderboard", command: str = "") -> str:
    """booktabs tables: the main table, then one per task with every metric and its interval.

    Best values are bold, values tied with the best carry a dagger, missing cells are ``--``.
    Needs ``\\usepackage{booktabs}``; Chinese text needs XeLaTeX with ``xeCJK``.
    """
    cells = primary_cells(board)
    out = [
        f"% Generated by bench {__version__}"
        + (f"; rebuild with: {' '.join(command.splitlines())}" if command else "")
        + ". Do not edit by hand.",
        r"% Needs \usepackage{booktabs}; Chinese text needs XeLaTeX with \usepackage{xeCJK}.",
        "",
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{tex_escape(title)}: primary metric per task. Bold: best; "
        r"\textsuperscript{\dag}: not significantly worse than the best; --: not run. "
        r"Mean: primary metrics rescaled to 0--100 over the tasks a model has. "
        r"\#: rank by mean, then mean rank, among the models that have every task (ties share "
        r"a rank); --: unranked, the model lacks some of the tasks.}",
        r"\label{tab:leaderboard}",
        r"\begin{tabular}{rl" + "r" * (len(board.tasks) + 3) + "}",
        r"\toprule",
        " & ".join(
            [r"\#", "Model", *[tex_escape(t) for t in board.tasks], "Tasks", "Mean", "Mean rank"]
        )
        + r" \\",
        " & ".join(
            [
                "",
                "",
                *[tex_escape(board.columns[t].primary_metric) for t in board.tasks],
                "",
                "",
                "",
            ]
        )
        + r" \\",
        r"\midrule",
    ]
    for model, agg in board.main.iterrows():
        model = str(model)
        shown = {
            k: v.replace(MISSING, "--")
            for k, v in standing(agg, len(board.tasks)).items()
            if isinstance(v, str)
        }
        line = [shown["rank"], tex_escape(model)]
        line += [_tex_cell(cells.get((model, t)), tie=True, ci=False) for t in board.tasks]
        line += [shown["tasks"], shown["mean"], shown["mean_rank"]]
        out.append(" & ".join(line) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    for task in board.tasks:
        col = board.columns[task]
        metrics = metric_order(board, task)
        out += [
            "",
            r"\begin{table}[t]",
            r"\centering",
            rf"\caption{{{tex_escape(task)} ({tex_escape(col.family)}, "
            rf"{tex_escape(', '.join(col.languages))}; $n={col.n_examples}$): every metric with "
            r"its 95\% interval.}",
            rf"\label{{tab:leaderboard-{_tex_label(task)}}}",
            r"\begin{tabular}{l" + "r" * len(metrics) + "}",
            r"\toprule",
            " & ".join(["Model", *[tex_escape(m) for m in metrics]]) + r" \\",
            r"\midrule",
        ]
        for model, by_metric in task_rows(board, task):
            line = [tex_escape(model)]
            line += [
                _tex_cell(by_metric.get(m), tie=i == 0, ci=True) for i, m in enumerate(metrics)
            ]
            out.append(" & ".join(line) + r" \\")
        out += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------- files


def _render_format(
    board: Leaderboard, fmt: str, *, title: str, command: str, lang: str
) -> tuple[str, ...]:
    """The texts of one format, one per file in :data:`FILES` ``[fmt]``, in that order."""
    if fmt == "md":
        return (render_markdown(board, title=title, command=command),)
    if fmt == "csv":
        return (render_csv(board),)
    if fmt == "json":
        return (render_json(board, title=title, command=command), render_schema())
    if fmt == "tex":
        return (render_latex(board, title=title, command=command),)
    return (render_html(board, title=title, command=command, lang=lang),)


def write_leaderboard(
    board: Leaderboard,
    out: str | Path,
    *,
    formats: Sequence[str] = FORMATS,
    title: str = "Leaderboard",
    command: str = "",
    lang: str = "en",
) -> list[Path]:
    """Write the requested formats into ``out`` (each file atomically); return the paths.

    Args:
        board: The leaderboard.
        out: The folder to write into (created if needed).
        formats: Any of :data:`FORMATS`.
        title: Report title.
        command: The command that rebuilds the report (named in every footer).
        lang: Label language of ``index.html``: ``en`` or ``zh``.
    """
    out = Path(out)
    written: list[Path] = []

    def put(name: str, text: str) -> None:
        path = out / name
        atomic_write_text(path, text)
        written.append(path)

    for fmt in parse_formats(",".join(formats)):
        texts = _render_format(board, fmt, title=title, command=command, lang=lang)
        for name, text in zip(FILES[fmt], texts, strict=True):
            put(name, text)
    return written
