"""Build leaderboard tables from run records (and nothing else).

* ``long``: one row per (model, task, metric) with value, interval, n and signature;
* ``main``: models × tasks on each task's primary metric, plus the number of tasks each model
  has and the mean of the primary metrics rescaled to 0–100 (over the tasks the model has;
  a missing task is missing, never 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench.errors import RecordError
from bench.records import RunRecord, load_records

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Leaderboard", "build_leaderboard"]


@dataclass(frozen=True)
class Leaderboard:
    """The tables of one leaderboard.

    Attributes:
        records: The records it was built from, sorted by model then task.
        long: One row per (model, task, metric).
        main: Models × tasks on the primary metric, with ``mean (0-100)`` and ``tasks``.
        tasks: Task names in column order.
    """

    records: list[RunRecord]
    long: pd.DataFrame
    main: pd.DataFrame
    tasks: list[str]


def _scale(value: float, scale: float, higher_is_better: bool) -> float:
    """A primary metric on a 0–100 scale (value / its perfect score × 100).

    Metrics where lower is better (TER, ECE) have no perfect score to rescale against, so they
    stay out of the mean (NaN) rather than being averaged against scores going the other way.
    """
    if not higher_is_better:
        return float("nan")
    return value / scale * 100


def build_leaderboard(source: str | Path | Sequence[RunRecord]) -> Leaderboard:
    """Build the tables from a results folder or a list of records.

    Raises:
        RecordError: No records, or two records for the same (model, task).
    """
    import pandas as pd

    records = load_records(source) if isinstance(source, (str, Path)) else list(source)
    if not records:
        raise RecordError(f"no run records under {source}", fix="run `bench run` first")
    seen: dict[tuple[str, str], RunRecord] = {}
    for rec in records:
        key = (rec.model.name, rec.task.name)
        if key in seen:
            raise RecordError(
                f"two records for model '{key[0]}' on task '{key[1]}' (runs {seen[key].run_id} "
                f"and {rec.run_id})",
                fix="keep one record per model and task in the results folder",
            )
        seen[key] = rec
    # One column compares one test set: records of a task made on different data (another
    # --limit, another release, another task version) are not comparable.
    first: dict[str, RunRecord] = {}
    for rec in records:
        ref = first.setdefault(rec.task.name, rec)
        if (rec.task.version, rec.task.dataset_fingerprint) != (
            ref.task.version,
            ref.task.dataset_fingerprint,
        ):
            raise RecordError(
                f"task '{rec.task.name}': model '{rec.model.name}' was scored on different data "
                f"(task version {rec.task.version}, dataset {rec.task.dataset_fingerprint}, "
                f"n={rec.task.n_examples}) than model '{ref.model.name}' (task version "
                f"{ref.task.version}, dataset {ref.task.dataset_fingerprint}, "
                f"n={ref.task.n_examples})",
                fix="re-run both on the same data (same --limit and --data), "
                "or publish them separately",
            )
    rows = []
    for rec in records:
        for name, mv in rec.metrics.items():
            if not isinstance(mv.value, (int, float)):
                continue
            rows.append(
                {
                    "model": rec.model.name,
                    "task": rec.task.name,
                    "family": rec.task.family,
                    "languages": ",".join(rec.task.languages),
                    "metric": name,
                    "primary": name == rec.primary_metric,
                    "value": float(mv.value),
                    "ci_low": mv.ci_low,
                    "ci_high": mv.ci_high,
                    "n": mv.n,
                    "higher_is_better": mv.higher_is_better,
                    "scale": mv.scale,
                    "signature": mv.signature,
                    "task_version": rec.task.version,
                    "dataset_fingerprint": rec.task.dataset_fingerprint,
                    "model_fingerprint": rec.model.fingerprint,
                    "failures": rec.failures.get("count", 0),
                    "date": rec.finished_at[:10],
                }
            )
    long = (
        pd.DataFrame(rows)
        .sort_values(["task", "model", "metric"], kind="stable")
        .reset_index(drop=True)
    )
    tasks = sorted({r.task.name for r in records})
    models = sorted({r.model.name for r in records})
    primary = long[long["primary"]]
    main = primary.pivot(index="model", columns="task", values="value").reindex(
        index=models, columns=tasks
    )
    scaled = (
        primary.assign(
            scaled=[
                _scale(v, s, h)
                for v, s, h in zip(
                    primary["value"], primary["scale"], primary["higher_is_better"], strict=True
                )
            ]
        )
        .pivot(index="model", columns="task", values="scaled")
        .reindex(index=models, columns=tasks)
    )
    main["tasks"] = main[tasks].notna().sum(axis=1).astype(int)
    main["mean (0-100)"] = scaled.mean(axis=1, skipna=True)
    main = main.sort_values(["mean (0-100)", "tasks"], ascending=False, kind="stable")
    main.index.name = "model"
    return Leaderboard(records=records, long=long, main=main, tasks=tasks)
