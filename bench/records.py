"""Run records: one schema-versioned JSON file per (model, task) run, written atomically.

``RESULTS/<model>/<task>/record.json`` holds what was run and every number with its interval
and signature; ``samples.jsonl`` beside it holds one line per example (id, input, prediction,
reference, per-example scores). Secrets never appear in either: model params whose names look
like keys or tokens are masked before they reach a record.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import platform
import sys
import tempfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from bench.errors import BenchError, RecordError, ResultsError
from bench.metrics.base import MetricValue

__all__ = [
    "READABLE_SCHEMA_VERSIONS",
    "RECORD_SCHEMA_VERSION",
    "FailureCounts",
    "FailureKind",
    "ModelInfo",
    "PredictionCounts",
    "ProtocolResult",
    "RunRecord",
    "SampleLine",
    "SamplesMismatch",
    "SegmentCounts",
    "Spread",
    "TaskInfo",
    "Timings",
    "UnitMetrics",
    "atomic_write_lines",
    "atomic_write_text",
    "check_values",
    "json_line",
    "jsonl_lines",
    "load_record",
    "load_records",
    "package_versions",
    "read_samples",
    "record_json_schema",
    "run_seeds",
    "samples_by_unit",
    "write_run",
]

RECORD_SCHEMA_VERSION = 5
"""Version 2: every ``samples.jsonl`` line carries its record's ``run_id``. Version 3 adds
``failures.by_kind``, ``task.limit``, ``task.train_overlap``, ``cache_dropped``, each metric's
``ci_reason`` and the determinism check's tolerance fields (all optional: older records read
with their defaults). Version 4 adds ``protocol`` (a prompted run's units, per-variant and
per-draw metrics and spread; ``None`` otherwise) and, in ``samples.jsonl``, ``unit`` (a run with
several units has one line per unit and example, unit-major) and ``shots`` (exemplar ids); a
response may hold a ``transcript``. Versions 1 to 3 read with ``protocol`` ``None``. Version 5
adds ``segment_cache`` (model-based metrics' segment-cache counts; ``None`` before)."""
READABLE_SCHEMA_VERSIONS = (1, 2, 3, 4, 5)
"""Versions :func:`load_record` reads. Version-1 records have the same fields as version 2;
their samples carry no ``run_id``, so they cannot be checked against their record."""
SAMPLES_FILE = "samples.jsonl"
# Characters str.splitlines() (and JavaScript, and some editors) treat as line breaks that JSON
# keeps raw inside strings; json.dumps already escapes the ones below U+0020 (FF, VT, FS, GS, RS).
_RAW_BREAKS = str.maketrans({"\u0085": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})
_PACKAGES = (
    "bench",
    "scipy",
    "ranx",
    "tokenizers",
    "sentencepiece",
    "mecab-python3",
    "datasets",
    "numpy",
    "scikit-learn",
    "sacrebleu",
    "rouge-score",
    "rapidfuzz",
    "jieba",
    "nltk",
    "pandas",
    "torch",
    "pydantic",
    "opencc",
    "transformers",
)


def json_line(obj: Any) -> str:
    r"""``obj`` as one JSONL line (no newline): keys sorted, UTF-8 kept, and every character that
    some reader takes for a line break escaped (U+0085, U+2028, U+2029; JSON escapes the control
    characters itself), so the line is one line for every reader.

    Example:
        >>> json_line({"b": "x\u2028y", "a": 1})
        '{"a": 1, "b": "x\\u2028y"}'
    """
    return json.dumps(obj, ensure_ascii=False, sort_keys=True).translate(_RAW_BREAKS)


def jsonl_lines(text: str) -> list[tuple[int, str]]:
    r"""The non-blank lines of a JSONL text with their (1-based) line numbers, split on ``"\n"``
    only.

    Every JSONL reader of bench splits with this: :meth:`str.splitlines` also splits on
    U+2028, U+2029, U+0085, form feed, vertical tab and FS/GS/RS, which JSON keeps raw (or a
    user's file holds) inside strings. A line ending ``\r\n`` keeps its ``\r``, which JSON
    reads as whitespace; a line of nothing but JSON whitespace is blank.

    Example:
        >>> [n for n, _ in jsonl_lines('{"t": "a\u2028b"}\r\n\n{"t": 2}')]
        [1, 3]
    """
    return [
        (number, line)
        for number, line in enumerate(text.split("\n"), start=1)
        if line.strip(" \t\r")
    ]


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
    train_overlap: int | None = Field(
        default=None,
        description="Test examples whose input also appears in the train split (None: not "
        "counted: the run did not read the train split, or the family holds test data out "
        "of train by construction).",
    )
    dropped_rows: int = 0
    limit: int | None = Field(
        default=None,
        description="The --limit that cut the test split (None: the whole split was scored).",
    )
    protocol: dict[str, Any] | None = None
    preprocess: list[dict[str, Any]] = Field(default_factory=list)
    preprocess_hash: str
    prompt_hash: str | None = None
    n_examples: int
    labels: list[str] | None = Field(
        default=None,
        description="The task's label set in order (classification tasks), as its metrics used it.",
    )
    metric_specs: list[dict[str, Any]] = Field(
        default_factory=list,
        description="The task's metrics with their parameters, as the task file sets them.",
    )


class ModelInfo(_Frozen):
    """Who was evaluated: the model spec (secrets masked) and the adapter's fingerprint.

    ``name`` is the display name (``name=``, else ``KIND:TARGET``); ``params`` are the spec's
    parameters with the types the adapter's parameter model gives them (``max_epochs: 5``,
    not ``'5'``; a secret is ``'***'``)."""

    name: str
    spec: str
    adapter: str
    fingerprint: str
    params: dict[str, Any] = Field(default_factory=dict)
    info: dict[str, Any] = Field(default_factory=dict)


class PredictionCounts(_Frozen):
    """Where the predictions of a run came from.

    Attributes:
        total: Test examples.
        cached: Answered from the prediction cache.
        computed: Answered by the adapter in this run (duplicates of a request included).
        failed: Examples the adapter returned a :class:`~bench.families.base.Failure` for.
    """

    total: int
    cached: int
    computed: int
    failed: int


class FailureKind(_Frozen):
    """The failed examples of one kind (the cause part of their labels).

    Attributes:
        count: Examples of the kind.
        ids: The first few of them (at most 10), sorted.
    """

    count: int
    ids: list[str] = Field(default_factory=list)


class FailureCounts(_Frozen):
    """The examples a run failed on, by cause; bounded in size however many failed.

    Attributes:
        count: Failed examples.
        by_cause: ``{Failure.label: examples}``, sorted by label: the 20 most common labels,
            the others of each kind counted under ``"<kind>: (other messages)"`` (the values
            always add up to ``count``).
        by_kind: ``{kind: FailureKind}``, the kind being a label's text before its first
            ``": "`` (the 20 most common kinds; the rest under ``"(other kinds)"``). Absent
            from records written before it existed.
        ids: The first 100 failed ids, sorted.
    """

    count: int = 0
    by_cause: dict[str, int] = Field(default_factory=dict)
    by_kind: dict[str, FailureKind] = Field(default_factory=dict)
    ids: list[str] = Field(default_factory=list)


class Timings(_Frozen):
    """Seconds spent per stage (``None``: not measured, in records written before v2)."""

    load_s: float | None = None
    fit_s: float | None = None
    predict_s: float | None = None
    score_s: float | None = None
    total_s: float | None = None


class UnitMetrics(_Frozen):
    """The metrics of one unit of a prompted run (one prompt variant × draw × sample).

    Attributes:
        unit: ``{"variant": ..., "draw": ..., "sample": ...}``.
        metrics: The unit's own values (each with its interval over examples).
        failures: Failed examples in this unit.
    """

    unit: dict[str, Any]
    metrics: dict[str, MetricValue]
    failures: int = 0


class Spread(_Frozen):
    """How much a metric moves across prompt variants, exemplar draws or samples.

    Attributes:
        min: The lowest value (of the per-variant, per-draw or per-sample means).
        max: The highest value.
        std: Their standard deviation (``ddof=1``; 0 for one value).
        n: How many values.
    """

    min: float
    max: float
    std: float
    n: int


class ProtocolResult(_Frozen):
    """The per-unit results of a prompted run (see :mod:`bench.protocol`).

    The record's ``metrics`` are the headline values: the mean over every unit, with intervals
    from a two-level bootstrap (examples × units). This holds what they are the mean of.

    Attributes:
        identity: :meth:`bench.protocol.Protocol.identity` (variants, fewshot, scoring,
            generation, the ``--num-fewshot`` override).
        fewshot_hash: SHA-256 (16 hex) of every exemplar id of every unit, in order (``None``
            without in-context examples).
        units: Every unit's own metrics, in :meth:`~bench.protocol.Protocol.units` order.
        variants: ``{variant: {value: mean over its draws and samples}}``.
        draws: ``[{value: mean over variants and samples}]``, one per draw.
        spread: ``{value: {"variants" | "draws" | "samples": Spread}}`` (only axes with more
            than one entry).
        sampling: With ``generation.n > 1``: ``mean@n``, ``pass@k`` and ``majority@n`` values
            where the family defines correctness.
    """

    identity: dict[str, Any]
    fewshot_hash: str | None = None
    units: list[UnitMetrics]
    variants: dict[str, dict[str, float]] = Field(default_factory=dict)
    draws: list[dict[str, float]] = Field(default_factory=list)
    spread: dict[str, dict[str, Spread]] = Field(default_factory=dict)
    sampling: dict[str, MetricValue] = Field(default_factory=dict)


class SegmentCounts(_Frozen):
    """Where a model-based metric's segment scores came from.

    Attributes:
        segments: Segments scored (one per example, or per example and unit).
        hits: Distinct segments read from the segment cache (keyed by source, hypothesis,
            references and the metric's fingerprint).
        computed: Distinct segments the metric model scored in this run.
        failed: Segments the metric model could not score (an unparsable judgement), left out
            of the means.
    """

    segments: int = 0
    hits: int = 0
    computed: int = 0
    failed: int = 0


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
    timings: Timings
    predictions: PredictionCounts
    failures: FailureCounts
    environment: dict[str, Any]
    seeds: dict[str, int] = Field(
        default_factory=dict,
        description="Every seed that can change a number: bootstrap, data sampling, model.",
    )
    determinism: dict[str, Any] | None = Field(
        default=None,
        description="The result of `bench run --check-determinism` (None when not checked).",
    )
    cache_dropped: int | None = Field(
        default=None,
        description="Damaged prediction-cache rows (not JSON, or not of the family's response "
        "shape) dropped and predicted again (None: not counted: no cache, a record written "
        "before bench counted them, or a cluster run, whose shards read the cache).",
    )
    segment_cache: dict[str, SegmentCounts] | None = Field(
        default=None,
        description="Model-based metrics (BERTScore, COMET, judges): per metric, how many "
        "segments were read from the segment cache and how many were computed (None: the "
        "task has no model-based metric, or the record is older).",
    )
    protocol: ProtocolResult | None = Field(
        default=None,
        description="A prompted (language-model) run's per-variant, per-draw and per-sample "
        "metrics and their spread (None: one unit, nothing to aggregate).",
    )
    inputs_key: str | None = Field(
        default=None,
        description="The identity of everything that made this record, known before any data "
        "is read (bench.stages.inputs_key: bench's version, the task as run, its data files' "
        "contents or pinned revision, preprocessing, adapter, protocol, bootstrap, limit, "
        "package versions). `bench run` keeps a record whose key is the pair's key now "
        "instead of scoring it again (--rescore forces scoring). None: the data could not be "
        "identified before reading it (an unpinned hub dataset), or an older record.",
    )

    @property
    def primary(self) -> MetricValue:
        """The primary metric's value."""
        return self.metrics[self.primary_metric]


class SampleLine(_Frozen):
    """One line of ``samples.jsonl``: one example of a run.

    Attributes:
        id: The example's id.
        input: What the model read, for display (the family's ``sample_input``).
        prediction: The parsed answer, for display (``None`` for a failure).
        response: The exact response object (``None`` for a failure).
        reference: The reference the metrics compared against.
        failure: The :attr:`~bench.families.base.Failure.label` of a failed example.
        scores: Per-example scores by metric name (``None`` where a metric has none).
        segment_stats: Per-segment sufficient statistics of corpus metrics, by metric name.
        run_id: The ``run_id`` of the record beside it (absent only in version-1 samples).
        unit: The unit of a prompted run with several (``variant/dN/sN``, see
            :attr:`bench.protocol.Unit.key`); ``None`` for a run with one unit.
        shots: The ids of the in-context examples shown before this example.
    """

    id: str
    input: Any = None
    prediction: Any = None
    response: dict[str, Any] | None = None
    reference: Any = None
    failure: str | None = None
    scores: dict[str, Any] = Field(default_factory=dict)
    segment_stats: dict[str, Any] | None = None
    run_id: str | None = None
    unit: str | None = None
    shots: list[str] | None = None

    def to_json(self) -> str:
        """The line as written (keys sorted, UTF-8 kept; ``segment_stats``, ``unit`` and
        ``shots`` only when set)."""
        data = self.model_dump(mode="json", exclude_none=False)
        for key in ("segment_stats", "unit", "shots"):
            if data[key] is None:
                del data[key]
        return json_line(data)

    def row(self) -> dict[str, Any]:
        """The line as a plain dict (what readers that index by key use)."""
        return self.model_dump(mode="json")


class SamplesMismatch(RecordError):
    """A ``samples.jsonl`` that does not belong to the ``record.json`` beside it."""


def read_samples(
    path: str | Path, record: RunRecord, *, text: str | None = None
) -> list[SampleLine]:
    """Read and validate a ``samples.jsonl`` against its record.

    Args:
        path: The samples file (named in errors).
        record: The record beside it: every line must carry its ``run_id`` (for records of
            schema version 2 and later).
        text: The file's text when the caller has read it already.

    Raises:
        OSError: The file cannot be read (callers name it in their own terms).
        RecordError: A line is not JSON or not a sample line (file and line named).
        SamplesMismatch: A line's ``run_id`` is not the record's: the folder holds files of two
            different runs.
    """
    path = Path(path)
    if text is None:
        text = path.read_text(encoding="utf-8")
    numbered = jsonl_lines(text)
    try:
        # One parse of the whole file as an array: much faster than line by line.
        out = _SAMPLES.validate_json("[" + ",".join(line for _, line in numbered) + "]")
    except ValidationError:
        out = []
        for number, line in numbered:
            try:
                out.append(SampleLine.model_validate_json(line))
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"])
                raise RecordError(
                    f"{path}: line {number} is not a sample line "
                    f"({where + ': ' if where else ''}{err['msg']})",
                    fix="re-run the task",
                ) from exc
    for (number, _), sample in zip(numbered, out, strict=True):
        theirs = sample.run_id
        if theirs != record.run_id and (theirs is not None or record.schema_version > 1):
            raise SamplesMismatch(
                f"{path}: line {number} belongs to run {theirs or '(none)'}, but the record "
                f"beside it ({path.parent / 'record.json'}) is run {record.run_id}",
                fix="re-run the task: the folder holds files of two different runs (or copy the "
                "record and samples of one run together)",
            )
    return out


_SAMPLES = TypeAdapter(list[SampleLine])


def samples_by_unit(lines: Iterable[SampleLine]) -> dict[str | None, list[SampleLine]]:
    """The lines of one run grouped by :attr:`SampleLine.unit`, each group in file order
    (``{None: lines}`` for a run with one unit). A run with several units writes them
    unit-major, in :meth:`bench.protocol.Protocol.units` order, which the groups keep.

    Example:
        >>> a = SampleLine(id="1", unit="p/d0/s0"); b = SampleLine(id="1", unit="q/d0/s0")
        >>> list(samples_by_unit([a, b]))
        ['p/d0/s0', 'q/d0/s0']
    """
    out: dict[str | None, list[SampleLine]] = {}
    for line in lines:
        out.setdefault(line.unit, []).append(line)
    return out


def record_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``record.json`` (``bench records schema``).

    Example:
        >>> schema = record_json_schema()
        >>> schema["properties"]["schema_version"]["default"] == RECORD_SCHEMA_VERSION
        True
    """
    schema = RunRecord.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"bench run record (schema version {RECORD_SCHEMA_VERSION})"
    return schema


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that can change a number (read once per process:
    each lookup parses a package's metadata file)."""
    return dict(_package_versions())


@functools.cache
def _package_versions() -> tuple[tuple[str, str], ...]:
    out = []
    for name in _PACKAGES:
        try:
            out.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            continue
    return tuple(out)


def _option_seed(task: Any) -> int | None:
    """The ``seed`` the task file sets under ``options:``, read through its family's
    validated options (``None`` when the file sets none)."""
    from bench.families.base import get_family

    if not getattr(task, "options", None):
        return None
    opts = get_family(task.family).options(task)
    seed = getattr(opts, "seed", None)
    return seed if "seed" in opts.model_fields_set and isinstance(seed, int) else None


def run_seeds(
    bootstrap_seed: int, task: Any = None, model_params: dict[str, Any] | None = None
) -> dict[str, int]:
    """Every seed that can change a run's numbers, by where it comes from.

    Args:
        bootstrap_seed: The seed of the confidence intervals.
        task: The :class:`~bench.spec.TaskSpec` (its source ``shuffle_seed`` and its family
            options' ``seed``, e.g. a recommendation task's negative sampling).
        model_params: The model spec's parameters (every ``*seed*`` parameter that is an int).

    Example:
        >>> run_seeds(12345, None, {"seed": "7", "lr": "0.1"})
        {'bootstrap': 12345, 'model.seed': 7}
    """
    seeds = {"bootstrap": int(bootstrap_seed)}
    if task is not None:
        shuffle = getattr(getattr(task, "source", None), "shuffle_seed", None)
        if shuffle is not None:
            seeds["data.shuffle_seed"] = int(shuffle)
        option = _option_seed(task)
        if option is not None:
            seeds["task.options.seed"] = option
    for key, value in sorted((model_params or {}).items()):
        if "seed" in key.lower():
            try:
                seeds[f"model.{key}"] = int(value)
            except (TypeError, ValueError):
                continue
    return seeds


def environment() -> dict[str, Any]:
    """Python, platform and package versions."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
    }


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file, fsync and rename (never half-written)."""
    atomic_write_lines(path, [text])


def atomic_write_lines(path: Path, parts: Iterable[str]) -> None:
    """Write the concatenation of ``parts`` to ``path`` as :func:`atomic_write_text` does, one
    part at a time (the whole text is never held in memory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates the file 0600; a published file gets what open() would give (0644
        # under the usual umask 022).
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            for part in parts:
                fh.write(part)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _umask() -> int:
    """The process umask, read without changing it where ``/proc`` allows (thread-safe)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a folder; the rename itself is still atomic
    finally:
        os.close(fd)


def write_run(folder: Path, record: RunRecord, samples: Iterable[SampleLine]) -> Path:
    """Write ``samples.jsonl`` then ``record.json`` (atomically) into ``folder``.

    The record is written last, so a record on disk always has its samples beside it. The
    samples are written as they come (``samples`` may be a generator), line by line; each
    must carry the record's ``run_id``.

    Raises:
        ResultsError: The folder cannot be written.
        ValueError: A sample line carries another run's id (a bug of the caller).
    """

    def lines() -> Iterable[str]:
        for line in samples:
            if line.run_id != record.run_id:
                raise ValueError(
                    f"sample {line.id!r} has run_id {line.run_id}, not {record.run_id}"
                )
            yield line.to_json() + "\n"

    try:
        atomic_write_lines(folder / SAMPLES_FILE, lines())
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
    if version not in READABLE_SCHEMA_VERSIONS:
        raise RecordError(
            f"{path}: record schema version {version!r}, this bench reads "
            f"{', '.join(map(str, READABLE_SCHEMA_VERSIONS))}",
            fix="re-run the task with this version of bench",
        )
    try:
        record = RunRecord.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise RecordError(
            f"{path}: field '{'.'.join(str(p) for p in err['loc'])}': {err['msg']}",
            fix="re-run the task",
        ) from exc
    check_values(record, path)
    return record


def _value_ranges(record: RunRecord) -> dict[str, tuple[float, float]]:
    """The declared range (in units of its scale) of every value of ``record`` whose metric can
    be rebuilt here (:attr:`bench.metrics.base.Metric.range`)."""
    from bench.registry import registry

    specs = list(record.task.metric_specs) or [{"name": name} for name in record.metrics]
    metrics = []
    for spec in specs:
        name = str(spec.get("name"))
        if ("metric", name) not in registry:
            continue  # a plugin metric not installed here: only finiteness is checked
        try:
            metrics.append(registry.get("metric", name)(**dict(spec.get("params") or {})))
        except (BenchError, ValidationError):
            continue
    ranges = {}
    for value in record.metrics:
        for metric in metrics:
            declared = metric.value_range(value)
            if declared is not None:
                ranges[value] = declared
                break
    return ranges


def _fmt_bound(bound: float) -> str:
    return f"{bound:g}"


def check_values(record: RunRecord, path: str | Path) -> None:
    """Refuse a record whose numbers cannot be true: a value or interval end that is NaN or
    infinite, a value outside its metric's declared range (``Metric.range`` times the value's
    ``scale``: accuracy 5.0, BLEU 130), an interval with only one end, reversed, or not
    containing its own value.

    Tables (a confusion matrix) and values written as ``null`` are not numbers and are not
    checked; a value whose metric is not installed here is checked for everything but its range.

    Args:
        record: The validated record.
        path: Its file, for the message.

    Raises:
        RecordError: Naming the file, the metric and the value, with the fix.
    """
    import math

    from bench.metrics.base import covers

    ranges: dict[str, tuple[float, float]] | None = None
    fix = (
        "re-run the task to rewrite the record (the file was edited or written by a broken "
        "plugin); or move the folder out of the results"
    )
    for name, mv in record.metrics.items():
        if isinstance(mv.value, bool) or not isinstance(mv.value, int | float):
            continue
        value = float(mv.value)
        where = f"{path}: metric '{name}'"
        if not math.isfinite(value):
            raise RecordError(f"{where}: value {value!r} is not a finite number", fix=fix)
        ends = [e for e in (mv.ci_low, mv.ci_high) if e is not None]
        for end in ends:
            if not math.isfinite(end):
                raise RecordError(
                    f"{where}: interval [{mv.ci_low!r}, {mv.ci_high!r}] is not finite", fix=fix
                )
        if ranges is None:
            ranges = _value_ranges(record)
        if name in ranges:
            low, high = (b * mv.scale for b in ranges[name])
            for what, number in (("value", value), *(("interval end", e) for e in ends)):
                if not covers(low, high, number):
                    raise RecordError(
                        f"{where}: {what} {number!r} is outside the metric's range "
                        f"[{_fmt_bound(low)}, {_fmt_bound(high)}] (scale {mv.scale:g})",
                        fix=fix,
                    )
        if len(ends) == 1:
            raise RecordError(
                f"{where}: interval [{mv.ci_low!r}, {mv.ci_high!r}] has only one end", fix=fix
            )
        if len(ends) == 2 and not covers(ends[0], ends[1], value):
            raise RecordError(
                f"{where}: value {value!r} is outside its own interval "
                f"[{mv.ci_low!r}, {mv.ci_high!r}]",
                fix=fix,
            )


def load_records(results: str | Path) -> list[RunRecord]:
    """Every ``record.json`` under ``results`` (sorted by model, then task)."""
    root = Path(results)
    if not root.is_dir():
        raise RecordError(
            f"{root}: no such results folder", fix="pass the --results folder of a run"
        )
    records = [load_record(p) for p in sorted(root.rglob("record.json"))]
    return sorted(records, key=lambda r: (r.model.name, r.task.name))
