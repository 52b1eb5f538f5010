"""Build leaderboard tables from run records (and the samples beside them), with pandas.

* ``long``: one row per (model, task, metric) with value, interval, n, rank, best and tie flags,
  and the provenance of the number (signature, dataset fingerprint, model fingerprint; the run's
  date only with ``dates=True``: no published file carries a wall-clock fact by default);
* ``main``: models × tasks on each task's primary metric, plus the number of tasks each model
  has, the mean of its primary metrics rescaled to 0–100 and its mean rank, both over the tasks
  the model has (a missing task is missing, never 0). Only the models that have every task of
  the table are ranked (a mean over other tasks compares nothing); the others are listed after
  them, unranked, with what they cover;
* ``views``: the same aggregate table restricted to one family or one language group, ranked
  the same way (so a family view ranks every model that has all of the family's tasks).

Every rank, per task and per view, is a competition rank (``1, 1, 3``) from
:func:`bench.leaderboard.ranking.competition_ranks`.

Rescaling to 0–100 (:func:`rescale`): a metric whose perfect score (``MetricValue.scale``) is 1
is multiplied by 100, one already on 0–100 is kept; a lower-is-better metric (TER, ECE) enters
as ``100 − value / scale × 100``, floored at 0 (TER can exceed 100).

Columns (:func:`column_labels`): two records share a column only when their numbers are
comparable: the same task name, task version, test set (dataset fingerprint), task spec hash,
preprocessing hash, protocol (prompt hash and the family's recorded protocol), evaluation protocol
of a prompted run (``record.protocol.identity``: scoring mode, normalisation, extraction rule,
in-context examples with k, selector and draws, decoding settings, the set of prompt variants),
primary metric and primary-metric signature (bootstrap settings aside, which change only
intervals). Records of one
task that differ in any of these go to separate columns, each labelled with what differs
(``translation-zh-en [bleu tok:13a]`` and ``translation-zh-en [bleu tok:zh]``); a task with one
column keeps its plain name.

A prompted run with several units (variants × draws × samples) is ranked by its headline value,
the mean over units; its tie test is the two-level paired bootstrap over examples × units
(:func:`bench.metrics.units.two_level_difference`), which accounts for the variance across
prompt variants, and its cells show the spread across variants (:data:`SPREAD_FIELDS`).

Ties with the best model use :func:`bench.stats.tied_with_best` (the paired test the primary
metric declares, on the samples, Holm-adjusted, α = 0.05); when it cannot run (no
``samples.jsonl``, a metric without a paired test) the column falls back to 95% interval overlap
with the best model and says so. Any other error of the paired test (samples that do not
reproduce their record, for instance) stops the build.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.errors import RecordError
from bench.identity import short_hash
from bench.leaderboard.ranking import aggregate_key, competition_ranks
from bench.metrics.base import BootstrapConfig
from bench.records import RunRecord, load_record

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "LANGUAGE_GROUPS",
    "Leaderboard",
    "TaskColumn",
    "View",
    "aggregate",
    "build_leaderboard",
    "column_labels",
    "comparability",
    "coverage",
    "language_group",
    "load_runs",
    "protocol_summary",
    "rescale",
]

TIE_ALPHA = 0.05
TIE_RESAMPLES = 1000
TIE_SEED = 12345
LANGUAGE_GROUPS = ("en", "zh", "cross-lingual", "multilingual")
"""Language views in display order; any other monolingual task gets its language code."""

MEAN = "mean (0-100)"
MEAN_RANK = "mean rank"
N_TASKS = "tasks"
RANK = "rank"
"""Column of a view's table: the competition rank of a model that has every task of the view
(:func:`bench.leaderboard.ranking.competition_ranks` on mean, then mean rank); NaN for a model
that lacks some of them, which is listed but not ranked."""
COVERS = "covers"
"""Column of a view's table: what a model has of the view's tasks, in words (see
:func:`coverage`)."""


@dataclass(frozen=True)
class TaskColumn:
    """What the leaderboard knows about one column of the main table (a task, or one comparable
    group of its records).

    Attributes:
        name: The column's label: the task name, followed by what differs in brackets when the
            task's records fall into several comparable groups (see :func:`column_labels`).
        family: Task family.
        languages: The task's languages, as recorded.
        group: Its language view: ``en``, ``zh``, ``cross-lingual`` (a translation task whose
            languages differ), ``multilingual`` (any other task with several languages) or
            another language code.
        primary_metric: The metric of the main table.
        higher_is_better: Direction of the primary metric.
        scale: Perfect score of the primary metric on its own scale.
        version: Task version.
        dataset_fingerprint: Fingerprint of the test set every record of the task was scored on.
        n_examples: Number of test examples.
        tie_method: ``paired-test`` (:func:`bench.stats.tied_with_best`), ``ci-overlap`` or
            ``single`` (one model only).
        tie_note: Why the paired test could not run (empty when it ran).
        task: The task's name (equal to ``name`` unless the task has several columns).
    """

    name: str
    family: str
    languages: tuple[str, ...]
    group: str
    primary_metric: str
    higher_is_better: bool
    scale: float
    version: int
    dataset_fingerprint: str
    n_examples: int
    tie_method: str
    tie_note: str = ""
    task: str = ""


@dataclass(frozen=True)
class View:
    """The aggregate table restricted to some tasks (a family or a language group).

    Attributes:
        kind: ``all``, ``family`` or ``language``.
        key: The family name or language group (``all`` for the main view).
        tasks: The view's tasks, in column order.
        table: Models having at least one of the tasks × (tasks, ``tasks``,
            ``mean (0-100)``, ``mean rank``, ``complete``, ``covers``, ``rank``), sorted as
            displayed: the ranked (complete) models, then the unranked ones (see
            :func:`aggregate`).
    """

    kind: str
    key: str
    tasks: list[str]
    table: pd.DataFrame


@dataclass(frozen=True)
class Leaderboard:
    """The tables of one leaderboard.

    Attributes:
        records: The records it was built from, sorted by task then model.
        long: One row per (model, task, metric); see :data:`bench.leaderboard.schema.ROW_FIELDS`.
        main: The main view's table (models × tasks on the primary metric, with ``tasks``,
            ``mean (0-100)``, ``mean rank``, ``complete``, ``covers`` and ``rank``): the models
            that have every task ranked by mean then mean rank, then the others, unranked.
        tasks: Task names in column order.
        columns: :class:`TaskColumn` per task.
        views: Per-family, then per-language views.
        folders: Run folder per (model, column), where known.
        warnings: Why a paired tie test fell back to intervals, per task (for the console).
        record_columns: The column of each of :attr:`records`, in the same order.
        dates: Whether rows carry their run's date (``build_leaderboard(dates=True)``).
    """

    records: list[RunRecord]
    long: pd.DataFrame
    main: pd.DataFrame
    tasks: list[str]
    columns: dict[str, TaskColumn]
    views: list[View]
    folders: dict[tuple[str, str], Path] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    record_columns: list[str] = field(default_factory=list)
    dates: bool = False
    _memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def long_rows(self, task: str) -> list[dict[str, Any]]:
        """The rows of :attr:`long` of one task as fresh dicts (``to_dict("records")``).

        The conversion of the whole table is done once per leaderboard and shared by every
        renderer (it dominated rendering when each format converted each task again).
        """
        if "rows" not in self._memo:
            grouped: dict[str, list[dict[str, Any]]] = {}
            for raw in self.long.to_dict("records"):
                grouped.setdefault(str(raw["task"]), []).append(raw)
            self._memo["rows"] = grouped
        return [dict(raw) for raw in self._memo["rows"].get(task, [])]

    @property
    def models(self) -> list[str]:
        """Model names in the main table's order."""
        return [str(m) for m in self.main.index]

    def column_of(self, index: int) -> str:
        """The column of ``records[index]``."""
        if self.record_columns:
            return self.record_columns[index]
        return self.records[index].task.name

    def record(self, model: str, task: str) -> RunRecord | None:
        """The record of ``model`` in column ``task`` (a task name, or a column label), if any."""
        for i, rec in enumerate(self.records):
            if rec.model.name == model and self.column_of(i) == task:
                return rec
        return None


def rescale(value: float, scale: float, higher_is_better: bool) -> float:
    """A primary metric on the 0–100 scale of the aggregate columns.

    ``value / scale × 100`` for a higher-is-better metric (accuracy 0.71 → 71, BLEU 23.4 → 23.4);
    ``100 − value / scale × 100``, floored at 0, for a lower-is-better one (TER 38 → 62,
    TER 130 → 0).

    Example:
        >>> rescale(0.71, 1.0, True), rescale(38.0, 100.0, False), rescale(130.0, 100.0, False)
        (71.0, 62.0, 0.0)
    """
    if not scale or not math.isfinite(scale):
        return float("nan")
    pct = value / scale * 100
    return pct if higher_is_better else max(0.0, 100 - pct)


def language_group(family: str, languages: Sequence[str]) -> str:
    """The language view of a task: the family decides (a family that is not installed here
    gets :meth:`Family.language_group <bench.families.base.Family.language_group>`).

    Example:
        >>> language_group("translation", ["en", "zh"]), language_group("qa", ["zh-Hant"])
        ('cross-lingual', 'zh')
    """
    from bench.families.base import Family, family_class

    return (family_class(family) or Family).language_group(languages)


def load_runs(results: str | Path) -> list[tuple[RunRecord, Path]]:
    """Every ``record.json`` under ``results`` with its run folder, sorted by task then model."""
    root = Path(results)
    if not root.is_dir():
        raise RecordError(
            f"{root}: no such results folder", fix="pass the --results folder of a run"
        )
    runs = [(load_record(p), p.parent) for p in sorted(root.rglob("record.json"))]
    return sorted(runs, key=lambda r: (r[0].task.name, r[0].model.name))


COMPARABILITY = (
    "task version",
    "limit",
    "dataset",
    "spec",
    "preprocessing",
    "preprocessing dependencies",
    "prompt",
    "protocol",
    "evaluation protocol",
    "primary metric",
    "signature",
)
"""What two records of a task must share to be in one column (:func:`comparability`)."""


def comparability(rec: RunRecord) -> dict[str, str]:
    """The identities that make a record's primary number comparable with another's.

    ``{part: identity}`` over :data:`COMPARABILITY`: task version, dataset fingerprint, task
    spec hash, preprocessing hash, the libraries and data the steps depended on (jieba and its
    dictionaries, NLTK data, OpenCC: a jieba upgrade re-segments the text), prompt hash, the
    family's protocol (hashed), the primary metric and its signature without the bootstrap
    settings.
    """
    primary = rec.metrics[rec.primary_metric]
    try:
        signature = primary.signature_without(BootstrapConfig.recorded(rec.bootstrap))
    except ValueError:  # a record without valid bootstrap settings: the whole signature
        signature = primary.signature
    task = rec.task
    return {
        "task version": str(task.version),
        "limit": "" if task.limit is None else str(task.limit),  # a --limit run: a column apart
        "dataset": task.dataset_fingerprint,
        "spec": task.spec_hash,
        "preprocessing": task.preprocess_hash,
        "preprocessing dependencies": short_hash([s.get("depends") for s in task.preprocess]),
        "prompt": task.prompt_hash or "",
        "protocol": short_hash(task.protocol) if task.protocol else "",
        "evaluation protocol": _evaluation(rec),
        "primary metric": rec.primary_metric,
        "signature": signature,
    }


def protocol_summary(identity: Mapping[str, Any]) -> str:
    """A short readable account of a prompted run's protocol
    (:meth:`bench.protocol.Protocol.identity`), as column labels name it.

    Example:
        >>> protocol_summary({"variants": ["a", "b"], "scoring": {"mode": "loglik",
        ...     "normalization": "char"}, "fewshot": {"k": 5, "selector": "random",
        ...     "draws": 3}, "generation": {"n": 1}})
        'loglik norm:char, 5-shot random x3, 2 variants'
    """
    scoring = identity.get("scoring") or {}
    mode = str(scoring.get("mode") or "?")
    parts = [mode]
    if mode == "loglik" and scoring.get("normalization") not in (None, "none"):
        parts[0] += f" norm:{scoring['normalization']}"
    extract = scoring.get("extract") or {}
    if mode == "generate" and isinstance(extract, dict) and extract.get("rule"):
        parts[0] += f" extract:{extract['rule']}"
    fewshot = identity.get("fewshot")
    if fewshot:
        shot = f"{fewshot.get('k')}-shot {fewshot.get('selector', '')}".strip()
        if int(fewshot.get("draws") or 1) > 1:
            shot += f" x{fewshot['draws']}"
        parts.append(shot)
    else:
        parts.append("0-shot")
    generation = identity.get("generation") or {}
    if int(generation.get("n") or 1) > 1:
        parts.append(f"n={generation['n']}")
    if generation.get("temperature"):
        parts.append(f"T={generation['temperature']}")
    variants = identity.get("variants") or []
    if len(variants) > 1:
        parts.append(f"{len(variants)} variants")
    return ", ".join(parts)


def _evaluation(rec: RunRecord) -> str:
    """The column-key part of a prompted run's protocol (scoring mode, normalisation,
    extraction, in-context examples, decoding, variant set): its summary and the hash of its
    whole identity; ``""`` for a record without one (every record written before it)."""
    if rec.protocol is None:
        return ""
    identity = rec.protocol.identity
    return f"{protocol_summary(identity)} #{short_hash(identity)[:8]}"


def _difference(part: str, mine: str, others: list[str], primary: str) -> str | None:
    """How one group's identity ``part`` differs from the other groups' (``None``: it does
    not): the signature parts only some groups have, or the identity's first 8 hex digits."""
    if all(o == mine for o in others):
        return None
    if part == "signature":
        theirs = [set(o.split("|")) for o in others]
        own = [p for p in mine.split("|") if not all(p in t for t in theirs)]
        return " ".join([primary, *own])
    if part == "task version":
        return f"v{mine}"
    if part == "limit":
        return f"limit {mine}" if mine else "full"
    if part == "primary metric":
        return mine
    if part == "evaluation protocol":
        summary = mine.rsplit(" #", 1)[0] if mine else "no protocol recorded"
        clash = any(
            (o.rsplit(" #", 1)[0] if o else "no protocol recorded") == summary for o in others
        )
        return mine if clash and mine else summary
    return f"{part} {mine[:8] or 'none'}"


def _label(task: str, mine: dict[str, str], others: list[dict[str, str]]) -> str:
    """The label of one comparable group of a task's records among the ``others``."""

    def diff(part: str) -> str | None:
        return _difference(part, mine[part], [o[part] for o in others], mine["primary metric"])

    # A different primary metric has a different signature anyway; the spec hash changes with
    # any edit of the task file, so it is named only when nothing more specific differs.
    skip = {"spec", "signature"} if diff("primary metric") else {"spec"}
    if diff("limit"):
        skip.add("dataset")  # a limit cuts the test set: the dataset differs with it
    parts = [got for part in COMPARABILITY if part not in skip and (got := diff(part))]
    return f"{task} [{', '.join(parts or [diff('spec') or 'spec'])}]"


def column_labels(records: Sequence[RunRecord]) -> list[str]:
    """The column of every record: its task name, or, when the task's records are not all
    comparable (:func:`comparability`), the task name followed by what sets the record's group
    apart, e.g. ``translation-zh-en [bleu tok:zh]``.

    A differing signature names the primary metric and the signature parts only its group has;
    a differing task version, primary metric or other identity is named (hashes by their first
    8 hex digits). The spec hash, which changes with any edit of the task file, is named only
    when nothing more specific differs.

    Example:
        >>> column_labels([])
        []
    """
    keys = [comparability(rec) for rec in records]
    groups: dict[str, list[dict[str, str]]] = {}
    for rec, key in zip(records, keys, strict=True):
        bucket = groups.setdefault(rec.task.name, [])
        if key not in bucket:
            bucket.append(key)
    labels: dict[tuple[str, int], str] = {}
    for task, bucket in groups.items():
        taken: set[str] = set()
        for g, key in enumerate(bucket):
            label = task if len(bucket) == 1 else _label(task, key, bucket[:g] + bucket[g + 1 :])
            base, n = label, 2
            while label in taken:  # groups whose differences do not show (a hash prefix)
                label, n = f"{base} #{n}", n + 1
            taken.add(label)
            labels[(task, g)] = label
    return [
        labels[(rec.task.name, groups[rec.task.name].index(key))]
        for rec, key in zip(records, keys, strict=True)
    ]


def _check(records: Sequence[RunRecord], columns: Sequence[str], source: object) -> None:
    if not records:
        raise RecordError(f"no run records in {source}", fix="run `bench run` first")
    seen: dict[tuple[str, str], RunRecord] = {}
    for rec, column in zip(records, columns, strict=True):
        key = (rec.model.name, column)
        if key in seen:
            raise RecordError(
                f"two records for model '{key[0]}' on task '{rec.task.name}' (runs "
                f"{seen[key].run_id} and {rec.run_id})",
                fix="keep one record per model and task in the results folder",
            )
        seen[key] = rec


def _rows(
    records: Sequence[RunRecord], columns: Sequence[str], *, dates: bool = False
) -> list[dict[str, Any]]:
    rows = []
    for rec, column in zip(records, columns, strict=True):
        group = language_group(rec.task.family, rec.task.languages)
        for name in sorted(rec.metrics, key=lambda m: (m != rec.primary_metric, "/" in m, m)):
            mv = rec.metrics[name]
            if isinstance(mv.value, bool) or not isinstance(mv.value, (int, float)):
                continue  # tables (a confusion matrix) have no place in a leaderboard row
            primary = name == rec.primary_metric
            rows.append(
                {
                    "model": rec.model.name,
                    "task": column,
                    "family": rec.task.family,
                    "languages": ",".join(rec.task.languages),
                    "language_group": group,
                    "metric": name,
                    "primary": primary,
                    "value": float(mv.value),
                    "ci_low": mv.ci_low,
                    "ci_high": mv.ci_high,
                    "ci_reason": mv.ci_reason,
                    "n": mv.n,
                    "higher_is_better": mv.higher_is_better,
                    "scale": mv.scale,
                    "scaled": rescale(float(mv.value), mv.scale, mv.higher_is_better)
                    if primary
                    else None,
                    "signature": mv.signature,
                    "task_version": rec.task.version,
                    "dataset_fingerprint": rec.task.dataset_fingerprint,
                    "model_fingerprint": rec.model.fingerprint,
                    # A wall-clock fact: re-scoring the same pairs changes it, so a published
                    # board carries it only when asked (``bench leaderboard --dates``).
                    "date": rec.finished_at[:10] if dates else None,
                    "failures": rec.failures.count,
                    **_spread_fields(rec, name),
                }
            )
    return rows


SPREAD_FIELDS = ("spread_axis", "spread_min", "spread_max", "spread_std", "spread_n")
"""The columns of :attr:`Leaderboard.long` (and of ``leaderboard.csv`` when any record has
one) that give a value's spread across prompt variants (or, with one variant, across exemplar
draws); empty for a record without one."""


def _spread_fields(rec: RunRecord, name: str) -> dict[str, Any]:
    """The spread of value ``name`` of ``rec`` across its variants (else its draws)."""
    axes = rec.protocol.spread.get(name, {}) if rec.protocol is not None else {}
    for axis in ("variants", "draws"):
        if axis in axes:
            sp = axes[axis]
            return {
                "spread_axis": axis,
                "spread_min": sp.min,
                "spread_max": sp.max,
                "spread_std": sp.std,
                "spread_n": sp.n,
            }
    return dict.fromkeys(SPREAD_FIELDS)


def _ci_overlap(sub: pd.DataFrame, best_idx: Any, higher: bool) -> dict[Any, bool]:
    """Rows whose 95% interval overlaps the best row's interval (the best row included)."""
    best = sub.loc[best_idx]
    out = {}
    for idx, row in sub.iterrows():
        if idx == best_idx or row["value"] == best["value"]:
            out[idx] = True
            continue
        lo, hi, blo, bhi = row["ci_low"], row["ci_high"], best["ci_low"], best["ci_high"]
        if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (lo, hi, blo, bhi)):
            out[idx] = False
        else:
            out[idx] = bool(hi >= blo) if higher else bool(lo <= bhi)
    return out


def _ties(
    task: str,
    sub: pd.DataFrame,
    folders: Mapping[tuple[str, str], Path],
    warnings: list[str],
) -> tuple[dict[Any, bool], dict[Any, float | None], str, str]:
    """Tie flags and p-values of one column's primary-metric rows; the method and a note.

    Without samples, or when the primary metric declares no paired test, the column falls back
    to interval overlap (and the console is told why); any other error propagates.
    """
    metric = str(sub["metric"].iloc[0])
    higher = bool(sub["higher_is_better"].iloc[0])
    best_value = sub["value"].max() if higher else sub["value"].min()
    best_idx = sub.index[sub["value"] == best_value][0]
    if len(sub) == 1:
        return {best_idx: True}, {best_idx: None}, "single", ""
    runs = {str(r["model"]): folders.get((str(r["model"]), task)) for _, r in sub.iterrows()}
    note = ""
    if any(folder is None for folder in runs.values()):
        note = "run folders unknown (records given without their samples)"
    else:
        from bench.stats import MissingSamples, NoPairedTest, tied_with_best

        try:
            tied = tied_with_best(
                {m: p for m, p in runs.items() if p is not None},
                metric,
                alpha=TIE_ALPHA,
                resamples=TIE_RESAMPLES,
                seed=TIE_SEED,
            )
        except (MissingSamples, NoPairedTest) as exc:
            # The message names local paths; the published note must not (it would differ
            # between machines), so it names the kind of failure and the console gets the rest.
            note = "the paired test could not run on these runs' samples"
            warnings.append(f"task '{task}': {exc}; ties by 95% interval overlap instead")
        else:
            flags = {idx: str(r["model"]) in tied for idx, r in sub.iterrows()}
            flags.update({i: True for i in sub.index[sub["value"] == best_value]})
            pvals = {idx: tied.get(str(r["model"])) for idx, r in sub.iterrows()}
            return flags, pvals, "paired-test", ""
    flags = _ci_overlap(sub, best_idx, higher)
    return flags, dict.fromkeys(sub.index), "ci-overlap", note


def _in_columns(
    pairs: Sequence[tuple[RunRecord, Path | None]],
) -> tuple[list[tuple[RunRecord, Path | None]], list[str]]:
    """``pairs`` sorted by task, column and model, with the column of each."""
    pairs = sorted(pairs, key=lambda p: (p[0].task.name, p[0].model.name))
    labels = column_labels([p[0] for p in pairs])
    order = sorted(range(len(pairs)), key=lambda i: (pairs[i][0].task.name, labels[i], i))
    return [pairs[i] for i in order], [labels[i] for i in order]


def coverage(tasks: Sequence[str], families: Mapping[str, str], have: Sequence[str]) -> str:
    """What a model has of a view's ``tasks``, in words: the task names when the view is one
    family, else each family it has, with ``k/n`` where it has only some of that family's tasks.

    Example:
        >>> fam = {"mt-a": "translation", "mt-b": "translation", "qa-en": "qa"}
        >>> coverage(["mt-a", "mt-b", "qa-en"], fam, ["mt-a", "qa-en"])
        'qa, translation 1/2'
        >>> coverage(["mt-a", "mt-b"], fam, ["mt-b"])
        'mt-b'
    """
    view_families = {families[t] for t in tasks}
    if len(view_families) <= 1:
        return ", ".join(t for t in tasks if t in have)
    parts = []
    for family in sorted({families[t] for t in have}):
        total = sum(families[t] == family for t in tasks)
        got = sum(families[t] == family for t in have)
        parts.append(family if got == total else f"{family} {got}/{total}")
    return ", ".join(parts)


def aggregate(long: pd.DataFrame, tasks: Sequence[str]) -> pd.DataFrame:
    """Models × ``tasks`` on the primary metric, with the aggregate columns.

    ``tasks`` counts the view's tasks a model has; ``mean (0-100)`` and ``mean rank`` average
    over those tasks only; ``complete`` says whether the model has every task of the view.
    Only complete models are ranked (``rank``: competition ranks by mean, then mean rank): a
    mean over other tasks compares nothing. The others follow, unranked (``rank`` NaN), with
    what they have in ``covers``, grouped by the tasks they have (most first). Rows are the
    models with at least one of the tasks, in that order (ties by name).
    """
    import pandas as pd

    primary = long[long["primary"] & long["task"].isin(list(tasks))]
    models = sorted(set(primary["model"]))
    values = primary.pivot(index="model", columns="task", values="value").reindex(
        index=models, columns=list(tasks)
    )
    scaled = primary.pivot(index="model", columns="task", values="scaled").reindex(
        index=models, columns=list(tasks)
    )
    ranks = primary.pivot(index="model", columns="task", values="rank").reindex(
        index=models, columns=list(tasks)
    )
    families = {str(r["task"]): str(r["family"]) for r in primary.to_dict("records")}
    table = values.copy()
    table[N_TASKS] = values.notna().sum(axis=1).astype(int)
    table[MEAN] = scaled.astype(float).mean(axis=1, skipna=True)
    table[MEAN_RANK] = ranks.astype(float).mean(axis=1, skipna=True)
    table["complete"] = table[N_TASKS] == len(tasks)
    have = {m: [t for t in tasks if pd.notna(values.at[m, t])] for m in models}
    table[COVERS] = [coverage(tasks, families, have[m]) for m in models]

    def key(m: str) -> tuple[float, float]:
        mean, mean_rank = table.at[m, MEAN], table.at[m, MEAN_RANK]
        if pd.isna(mean) or pd.isna(mean_rank):
            return (math.inf, math.inf)
        return aggregate_key(mean, mean_rank)

    ranked = [m for m in models if table.at[m, "complete"]]
    rank_of = dict(zip(ranked, competition_ranks([key(m) for m in ranked]), strict=True))
    table[RANK] = [float(rank_of[m]) if m in rank_of else math.nan for m in models]
    unranked = [m for m in models if m not in rank_of]
    order = sorted(ranked, key=lambda m: (rank_of[m], m)) + sorted(
        unranked,
        key=lambda m: (-len(have[m]), [tasks.index(t) for t in have[m]], key(m), m),
    )
    table = table.reindex(order)
    table.index.name = "model"
    table.columns.name = None
    return table


def build_leaderboard(
    source: str | Path | Sequence[RunRecord] | Sequence[tuple[RunRecord, Path]],
    *,
    dates: bool = False,
) -> Leaderboard:
    """Build the tables from a results folder, or from records (with their run folders).

    Args:
        source: A results folder (``<model>/<task>/record.json`` + ``samples.jsonl``), a list
            of ``(record, run folder)`` pairs, or a list of records (ties then fall back to
            interval overlap, since the samples cannot be found).
        dates: Give each row the date its run finished (``record.finished_at``, UTC). Off by
            default: the same pairs scored again on another day must publish the same bytes.

    Raises:
        RecordError: No records, or two records for the same (model, column).
        ComparisonError: A paired tie test failed on samples that exist (for instance, BLEU
            recomputed from the samples does not match the record).
    """
    import pandas as pd

    pairs: list[tuple[RunRecord, Path | None]]
    if isinstance(source, (str, Path)):
        pairs = list(load_runs(source))
    else:
        pairs = [item if isinstance(item, tuple) else (item, None) for item in source]
    pairs, labels = _in_columns(pairs)
    records = [p[0] for p in pairs]
    _check(records, labels, source if isinstance(source, (str, Path)) else "the given records")
    folders = {
        (rec.model.name, label): folder
        for (rec, folder), label in zip(pairs, labels, strict=True)
        if folder is not None
    }
    long = pd.DataFrame(_rows(records, labels, dates=dates))
    long = long.sort_values(["task", "model", "metric"], kind="stable").reset_index(drop=True)
    # Rank among the models of a task on each metric, 1 = best; equal values share a rank.
    ascending = ~long["higher_is_better"].astype(bool)
    key = long["value"].where(ascending, -long["value"])
    long["rank"] = (
        key.groupby([long["task"], long["metric"]])
        .transform(lambda s: pd.Series(competition_ranks(list(s)), index=s.index))
        .astype(int)
    )
    best = key.groupby([long["task"], long["metric"]]).transform("min")
    long["best"] = key == best
    long["tied_with_best"] = pd.Series([None] * len(long), dtype=object)
    long["tie_p_value"] = pd.Series([None] * len(long), dtype=object)
    long["tie_method"] = pd.Series([None] * len(long), dtype=object)

    warnings: list[str] = []
    tasks = sorted(set(labels))
    columns: dict[str, TaskColumn] = {}
    for task in tasks:
        rec = records[labels.index(task)]
        sub = long[(long["task"] == task) & long["primary"]]
        flags, pvals, method, note = _ties(task, sub, folders, warnings)
        for idx in sub.index:
            long.at[idx, "tied_with_best"] = bool(flags[idx])
            long.at[idx, "tie_p_value"] = pvals[idx]
            long.at[idx, "tie_method"] = method
        pm = rec.metrics[rec.primary_metric]
        columns[task] = TaskColumn(
            name=task,
            family=rec.task.family,
            languages=tuple(rec.task.languages),
            group=language_group(rec.task.family, rec.task.languages),
            primary_metric=rec.primary_metric,
            higher_is_better=pm.higher_is_better,
            scale=pm.scale,
            version=rec.task.version,
            dataset_fingerprint=rec.task.dataset_fingerprint,
            n_examples=rec.task.n_examples,
            tie_method=method,
            tie_note=note,
            task=rec.task.name,
        )

    main = aggregate(long, tasks)
    views = [View("all", "all", tasks, main)]
    for family in sorted({c.family for c in columns.values()}):
        sel = [t for t in tasks if columns[t].family == family]
        views.append(View("family", family, sel, aggregate(long, sel)))
    groups = {c.group for c in columns.values()}
    ordered = [g for g in LANGUAGE_GROUPS if g in groups] + sorted(groups - set(LANGUAGE_GROUPS))
    for group in ordered:
        sel = [t for t in tasks if columns[t].group == group]
        views.append(View("language", group, sel, aggregate(long, sel)))
    return Leaderboard(
        records=records,
        long=long,
        main=main,
        tasks=tasks,
        columns=columns,
        views=views,
        folders=folders,
        warnings=warnings,
        record_columns=labels,
        dates=dates,
    )
