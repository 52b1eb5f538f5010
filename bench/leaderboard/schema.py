"""The published ``leaderboard.json`` (and ``leaderboard.csv``) as typed, closed models.

``leaderboard.json`` is a :class:`LeaderboardDocument`: metadata, one :class:`TaskEntry` per
task, the aggregate table of every view, and ``rows`` — the long format, one :class:`Row` per
(model, task, metric). ``leaderboard.csv`` holds exactly the rows, with the columns of
:data:`ROW_FIELDS` in that order. ``leaderboard.schema.json``, written beside them, is
:func:`leaderboard_json_schema`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "LEADERBOARD_SCHEMA_VERSION",
    "ROW_FIELDS",
    "LeaderboardDocument",
    "ModelEntry",
    "Row",
    "TaskEntry",
    "ViewEntry",
    "leaderboard_json_schema",
]

LEADERBOARD_SCHEMA_VERSION = 1


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Row(_Closed):
    """One (model, task, metric) value with its interval, standing and provenance."""

    model: str = Field(description="Model display name (the spec's name=).")
    task: str = Field(description="Task name.")
    family: str = Field(description="Task family.")
    languages: str = Field(description="The task's languages, comma-separated (en,zh).")
    language_group: str = Field(
        description="Language view: en, zh, cross-lingual (translation between two languages), "
        "multilingual, or another language code."
    )
    metric: str = Field(description="Metric value name (accuracy, f1/positive, ndcg@10).")
    primary: bool = Field(description="Whether this is the task's primary metric.")
    value: float = Field(description="The value on the metric's own scale.")
    ci_low: float | None = Field(description="Lower end of the 95% bootstrap interval.")
    ci_high: float | None = Field(description="Upper end of the 95% bootstrap interval.")
    ci_reason: str | None = Field(
        default=None,
        description="Why the run reports no interval although it bootstrapped (fewer than 10 "
        "examples, or resamples that do not cover the value); tables show 'n/a (n=...)'.",
    )
    n: int = Field(description="Number of examples the value is computed over.")
    higher_is_better: bool = Field(description="Direction of the metric.")
    scale: float = Field(description="The perfect score on the metric's own scale (1 or 100).")
    scaled: float | None = Field(
        description="Primary metrics only: the value on 0-100 as averaged in the aggregate "
        "columns (value/scale*100; 100 - value/scale*100 floored at 0 when lower is better)."
    )
    rank: int = Field(
        description="Rank among the task's models on this metric (1 = best; "
        "equal values share the lower rank)."
    )
    best: bool = Field(description="Whether the value is the best on this task and metric.")
    tied_with_best: bool | None = Field(
        description="Primary metrics only: not significantly worse than the best model "
        "(the best included); null for other metrics."
    )
    tie_p_value: float | None = Field(
        description="Holm-adjusted p-value of the paired test against the best model, for "
        "tied models when the paired test ran."
    )
    tie_method: str | None = Field(
        description="paired-test, ci-overlap (95% intervals overlap the best's) or single "
        "(one model); null for non-primary metrics."
    )
    signature: str = Field(description="How the value was computed (metric signature).")
    task_version: int = Field(description="Task version.")
    dataset_fingerprint: str = Field(description="Fingerprint of the test set.")
    model_fingerprint: str = Field(description="Adapter fingerprint of the model.")
    date: str | None = Field(
        default=None,
        description="Date (UTC) the run finished, YYYY-MM-DD, when the board was built with "
        "dates (bench leaderboard --dates); null by default, so that scoring the same pairs "
        "again publishes the same bytes.",
    )
    failures: int = Field(description="Examples on which the model failed (scored as misses).")


ROW_FIELDS: tuple[str, ...] = tuple(f for f in Row.model_fields if f != "date")
"""The columns of ``leaderboard.csv``, in order (then ``date`` for a board built with dates)."""


class ModelEntry(_Closed):
    """A model's line in a view's aggregate table."""

    model: str
    position: int = Field(description="1-based position in the view's order.")
    rank: int | None = Field(
        default=None,
        description="Competition rank (1, 1, 3) by mean_0_100, then mean_rank, among the "
        "view's models that have every task of the view; null: the model lacks some of them "
        "and is listed after the ranked ones, unranked.",
    )
    covers: str = Field(
        default="",
        description="Unranked models: the view's tasks the model has, in words (its "
        "families, or task names in a one-family view); empty for a ranked model.",
    )
    tasks: int = Field(description="Number of the view's tasks the model has.")
    tasks_total: int = Field(description="Number of tasks in the view.")
    complete: bool = Field(description="The model has every task of the view.")
    mean_0_100: float | None = Field(
        description="Mean of the primary metrics rescaled to 0-100, over the tasks the model has "
        "(comparable only between models that have the same tasks; tables show it for ranked "
        "models only)."
    )
    mean_rank: float | None = Field(description="Mean per-task rank over the tasks it has.")


class ViewEntry(_Closed):
    """The aggregate table of a family or a language group."""

    kind: Literal["all", "family", "language"]
    key: str
    tasks: list[str]
    models: list[ModelEntry]


class TaskEntry(_Closed):
    """One task (column) of the leaderboard."""

    name: str
    family: str
    languages: list[str]
    language_group: str
    primary_metric: str
    higher_is_better: bool
    scale: float
    version: int
    dataset_fingerprint: str
    n_examples: int
    tie_method: str = Field(description="paired-test, ci-overlap or single.")
    tie_note: str = Field(description="Why the paired test could not run (empty if it ran).")


class LeaderboardDocument(_Closed):
    """The whole of ``leaderboard.json``."""

    schema_version: int = LEADERBOARD_SCHEMA_VERSION
    title: str
    bench_version: str
    command: str = Field(description="The command that rebuilds the report.")
    rescaling: str = Field(description="How primary metrics are put on 0-100.")
    tie_test: str = Field(description="How ties with the best are decided.")
    tasks: list[TaskEntry]
    models: list[ModelEntry] = Field(description="The main table's aggregate, in display order.")
    views: list[ViewEntry] = Field(description="Per-family, then per-language aggregates.")
    rows: list[Row] = Field(description="Long format: one row per (model, task, metric).")


def leaderboard_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``leaderboard.json``."""
    schema = LeaderboardDocument.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
