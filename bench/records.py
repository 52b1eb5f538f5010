"""Run records: one schema-versioned JSON file per (model, task) run, written atomically.

``RESULTS/<model>/<task>/record.json`` holds what was run and every number with its interval
and signature; ``samples.jsonl`` beside it holds one line per example (id, input, prediction,
reference, per-example scores). Secrets never appear in either: model params whose names look
like keys or tokens are masked before they reach a record.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
import tempfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bench.errors import RecordError, ResultsError
from bench.metrics.base import MetricValue

__all__ = [
    "RECORD_SCHEMA_VERSION",
    "ModelInfo",
    "RunRecord",
    "TaskInfo",
    "atomic_write_text",
    "load_record",
    "load_records",
    "package_versions",
    "record_json_schema",
    "write_run",
]

RECORD_SCHEMA_VERSION = 1
_PACKAGES = (
    "bench",
    "datasets",
    "numpy",
    "scikit-learn",
    "sacrebleu",
    "rouge-score",
    "jieba",
    "nltk",
    "pandas",
    "torch",
    "pydantic",
    "opencc",
    "transformers",
)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TaskInfo(_Frozen):
    """What was evaluated: the task and the exact data and preprocessing."""

    name: str
    version: int
    family: str
    languages: list[str]
    suite: str | None = None
    spec_hash: str
    dataset_fingerprint: str
    dataset_origin: str
    train_fingerprint: str | None = None
    dropped_rows: int = 0
    protocol: dict[str, Any] | None = None
    preprocess: list[dict[str, Any]] = Field(default_factory=list)
    preprocess_hash: str
    prompt_hash: str | None = None
    n_examples: int


class ModelInfo(_Frozen):
    """Who was evaluated: the model spec (secrets masked) and the adapter's fingerprint."""

    name: str
    spec: str
    adapter: str
    fingerprint: str
    params: dict[str, Any] = Field(default_factory=dict)
    info: dict[str, Any] = Field(default_factory=dict)


class RunRecord(_Frozen):
    """The record of one (model, task) run. ``schema_version`` changes with the layout."""

    schema_version: int = RECORD_SCHEMA_VERSION
    run_id: str
    started_at: str
    finished_at: str
    bench_version: str
    task: TaskInfo
    model: ModelInfo
    primary_metric: str
    metrics: dict[str, MetricValue]
    metrics_skipped: dict[str, str] = Field(default_factory=dict)
    bootstrap: dict[str, Any]
    timings: dict[str, float]
    predictions: dict[str, int]
    failures: dict[str, Any]
    environment: dict[str, Any]

    @property
    def primary(self) -> MetricValue:
        """The primary metric's value."""
        return self.metrics[self.primary_metric]


def record_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``record.json``."""
    return RunRecord.model_json_schema()


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that can change a number."""
    out = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def environment() -> dict[str, Any]:
    """Python, platform and package versions."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
    }


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file, fsync and rename (never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_run(folder: Path, record: RunRecord, samples: Iterable[dict[str, Any]]) -> Path:
    """Write ``samples.jsonl`` then ``record.json`` (atomically) into ``folder``.

    The record is written last, so a record on disk always has its samples beside it.
    """
    try:
        lines = "".join(json.dumps(s, ensure_ascii=False, sort_keys=True) + "\n" for s in samples)
        atomic_write_text(folder / "samples.jsonl", lines)
        path = folder / "record.json"
        atomic_write_text(path, record.model_dump_json(indent=2) + "\n")
    except OSError as exc:
        raise ResultsError(
            f"cannot write results to {folder}: {exc}", fix="choose a writable --results folder"
        ) from exc
    return path


def load_record(path: str | Path) -> RunRecord:
    """Read and validate one ``record.json``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RecordError(f"{path}: unreadable run record ({exc})", fix="re-run the task") from exc
    version = data.get("schema_version") if isinstance(data, dict) else None
    if version != RECORD_SCHEMA_VERSION:
        raise RecordError(
            f"{path}: record schema version {version!r}, this bench reads {RECORD_SCHEMA_VERSION}",
            fix="re-run the task with this version of bench",
        )
    try:
        return RunRecord.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise RecordError(
            f"{path}: field '{'.'.join(str(p) for p in err['loc'])}': {err['msg']}",
            fix="re-run the task",
        ) from exc


def load_records(results: str | Path) -> list[RunRecord]:
    """Every ``record.json`` under ``results`` (sorted by model, then task)."""
    root = Path(results)
    if not root.is_dir():
        raise RecordError(
            f"{root}: no such results folder", fix="pass the --results folder of a run"
        )
    records = [load_record(p) for p in sorted(root.rglob("record.json"))]
    return sorted(records, key=lambda r: (r.model.name, r.task.name))
