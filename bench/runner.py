"""Plan → predict → score → record, for each (model, task) pair.

The runner never prints. It reports progress through a callback of :class:`Event` s, which the
CLI renders with rich; tests and other programs can pass their own.

For each pair: load and preprocess the test split (and the train split for trainable adapters),
build requests, look every request up in the prediction cache, train the adapter only if some
prediction is missing, predict the rest in batches (each batch committed to the cache at once),
score, and write the run record atomically. An example on which the adapter raises is counted
as a failure with its cause, scored as a miss, and never cached.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench import __version__
from bench.adapters.base import ModelSpec, make_adapter
from bench.cache import PredictionCache
from bench.data import load_split
from bench.errors import AdapterError, BenchError, ResultsError, TooManyFailures
from bench.families.base import Family, Prepared, Request, Response, get_family
from bench.metrics.base import BootstrapConfig, Metric, ScoringContext, score_task
from bench.preprocess import apply_steps, build_steps, check_resources
from bench.records import ModelInfo, RunRecord, TaskInfo, environment, run_seeds, write_run
from bench.spec import TaskSpec
from bench.stats import SEGMENT_STATS
from bench.streaming import ResponseStore, RowExamples, chunks

__all__ = [
    "MIN_FREE_MB",
    "Event",
    "RunConfig",
    "RunOutcome",
    "failure_limit",
    "preflight",
    "run_pair",
    "run_plan",
]

MIN_FREE_MB = 50
"""Free disk space (MiB) a run needs before it starts; ``BENCH_MIN_FREE_MB`` overrides it."""


@dataclass(frozen=True)
class Event:
    """A progress report: ``kind`` is one of ``pair-start``, ``stage``, ``predict-start``,
    ``predict-progress``, ``pair-done``, ``pair-skipped``, ``pair-failed``."""

    kind: str
    model: str
    task: str
    stage: str = ""
    done: int = 0
    total: int = 0
    message: str = ""


Callback = Callable[[Event], None]


@dataclass(frozen=True)
class RunConfig:
    """Settings of a run.

    Attributes:
        results: Folder that receives ``<model>/<task>/record.json``.
        cache: The SQLite prediction cache file (``None`` disables caching).
        limit: Score only the first N test examples.
        batch_size: Requests per ``predict`` call (and per cache commit).
        bootstrap: Confidence-interval settings.
        data: ``{task: path}`` local copies of original releases (``--data``).
        max_failures: Fail the pair when more examples than this fail. ``None`` applies the
            default rule of :func:`failure_limit`: 0 for built-in baselines (a failure is a
            bug), no limit for other models (API errors are counted, not fatal).
    """

    results: Path
    cache: Path | None = None
    limit: int | None = None
    batch_size: int = 64
    bootstrap: BootstrapConfig = field(default_factory=BootstrapConfig)
    data: Mapping[str, Path] = field(default_factory=dict)
    max_failures: int | None = None


@dataclass(frozen=True)
class RunOutcome:
    """What happened to one pair: ``status`` is ``done``, ``skipped`` or ``failed``."""

    model: str
    task: str
    status: str
    record_path: Path | None = None
    record: RunRecord | None = None
    reason: str = ""
    adapter_calls: int = 0


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _combine(*parts: str | None) -> str:
    return hashlib.sha256("|".join(p or "" for p in parts).encode()).hexdigest()[:16]


def run_plan(
    models: Sequence[ModelSpec],
    tasks: Sequence[TaskSpec],
    config: RunConfig,
    progress: Callback | None = None,
) -> list[RunOutcome]:
    """Run every (model, task) pair in order; skipped pairs are returned, not raised.

    A ``BenchError`` in one pair (bad data, a missing resource) stops the run: the same error
    would hit every model on that task, and records already written stay on disk.

    Every model spec (adapter name and parameters) and every task's preprocessing resources
    (NLTK data) are checked first, and so are the results folder and the cache (writable, with
    free space: :func:`preflight`), so such mistakes stop the run before any model is called.
    """
    preflight(config)
    for model in models:
        make_adapter(model)
    for task in tasks:
        check_resources(build_steps(task))
    cache = PredictionCache(config.cache) if config.cache else None
    outcomes = []
    try:
        for model in models:
            for task in tasks:
                outcomes.append(run_pair(model, task, config, progress=progress, cache=cache))
    finally:
        if cache is not None:
            cache.close()
    return outcomes


def failure_limit(model: ModelSpec, config: RunConfig) -> int | None:
    """How many failed examples a pair tolerates: ``config.max_failures`` when set, else 0 for
    built-in baselines (``baseline:*``) and no limit (``None``) for every other model."""
    if config.max_failures is not None:
        return config.max_failures
    return 0 if model.kind == "baseline" else None


def preflight(config: RunConfig) -> None:
    """Check, before any model is called, that results and cache can be written.

    Each folder (the results folder, the cache's folder) is created if missing, must accept a
    probe file (written, fsynced and removed) and must have ``BENCH_MIN_FREE_MB`` (default
    :data:`MIN_FREE_MB`) MiB free.

    Raises:
        ResultsError: A folder is read-only, not a folder, or on a (nearly) full disk.
    """
    folders = [("results folder", Path(config.results), "--results")]
    if config.cache is not None:
        folders.append(("cache folder", Path(config.cache).parent, "--cache"))
    try:
        need_mb = float(os.environ.get("BENCH_MIN_FREE_MB", MIN_FREE_MB))
    except ValueError as exc:
        raise ResultsError(
            f"BENCH_MIN_FREE_MB={os.environ['BENCH_MIN_FREE_MB']!r} is not a number",
            fix="set it to a number of MiB, e.g. 50",
        ) from exc
    for what, folder, option in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # A unique probe name: several runs may share one folder.
            fd, probe = tempfile.mkstemp(prefix=".bench-write-probe.", dir=folder)
            try:
                os.write(fd, b"ok")
                os.fsync(fd)
            finally:
                os.close(fd)
                os.unlink(probe)
            free = shutil.disk_usage(folder).free
        except OSError as exc:
            why = (
                "the disk is full"
                if exc.errno in (errno.ENOSPC, errno.EDQUOT)
                else f"it is not writable ({exc.strerror or exc})"
            )
            raise ResultsError(
                f"{what} {folder}: {why}", fix=f"choose another {option} or free disk space"
            ) from exc
        if free < need_mb * 2**20:
            raise ResultsError(
                f"{what} {folder}: only {free / 2**20:.1f} MiB free, a run needs "
                f"{need_mb:g} MiB (BENCH_MIN_FREE_MB)",
                fix=f"free disk space or choose another {option}",
            )


def run_pair(
    model: ModelSpec,
    task: TaskSpec,
    config: RunConfig,
    *,
    progress: Callback | None = None,
    cache: PredictionCache | None = None,
    adapter: Any = None,
) -> RunOutcome:
    """Evaluate one model on one task and write its record.

    Args:
        model: The model spec.
        task: The task.
        config: Run settings.
        progress: Receives :class:`Event` s.
        cache: An open prediction cache (``None``: no caching).
        adapter: An already built adapter (``bench score`` passes a predictions adapter).
    """
    emit = progress or (lambda _e: None)
    name, tname = model.display_name, task.name
    started_at, t0 = _now(), time.perf_counter()
    timings: dict[str, float] = {}
    family = get_family(task.family)
    adapter = adapter if adapter is not None else make_adapter(model)
    if not adapter.supports(task.family):
        reason = f"does not support the {task.family} family"
        emit(Event("pair-skipped", name, tname, message=reason))
        return RunOutcome(name, tname, "skipped", reason=reason)
    trainable = bool(getattr(adapter, "trainable", False))
    has_train = family.has_train(task)
    if getattr(adapter, "requires_training", False) and not has_train:
        reason = f"needs a train split and task {tname} has none"
        emit(Event("pair-skipped", name, tname, message=reason))
        return RunOutcome(name, tname, "skipped", reason=reason)

    if callable(getattr(adapter, "bind", None)):
        adapter.bind(task, family)
    emit(Event("pair-start", name, tname))
    steps = build_steps(task)
    check_resources(steps)  # before any model call

    emit(Event("stage", name, tname, stage="load"))
    tick = time.perf_counter()
    data_override = config.data.get(tname)
    prepared = family.prepare(task, data_override=data_override, limit=config.limit)
    if prepared is None:
        prepared = _prepare_rows(
            family, task, steps, data_override, config.limit, emit, name, want_train=trainable
        )
    requests, references = prepared.requests, prepared.references
    if callable(getattr(adapter, "check_ids", None)):
        adapter.check_ids([r.id for r in requests])
    timings["load_s"] = time.perf_counter() - tick

    fingerprint = adapter.fingerprint()
    train_fp = None
    train_examples: list[tuple[Request, Any]] | None = None
    load_train = prepared.load_train if trainable and has_train else None
    if load_train is not None:
        train_fp = prepared.train_fingerprint
        fingerprint = _combine(fingerprint, "train", train_fp, task.preprocess_hash())

    n = len(requests)
    # Predictions: cache first, then the adapter for what is missing. Requests are read chunk
    # by chunk; what is kept per example is its content hash (32 bytes) and the index of its
    # response in a store of distinct responses.
    cacheable = cache is not None and getattr(adapter, "cacheable", True)
    responses = ResponseStore(family, n)
    digests = np.zeros((n, 32), dtype=np.uint8)
    for lo, part in chunks(requests):
        hexes = [r.content_hash() for r in part]
        if hexes:
            digests[lo : lo + len(hexes)] = np.frombuffer(
                b"".join(bytes.fromhex(h) for h in hexes), dtype=np.uint8
            ).reshape(-1, 32)
        found = cache.get_many(fingerprint, hexes) if cacheable and cache else {}
        for j, h in enumerate(hexes):
            if h in found:
                responses.set(lo + j, family.parse_response(found[h]).model_dump(mode="json"))
    todo_mask = responses.ids < 0
    n_todo = int(todo_mask.sum())
    fail_at: dict[int, str] = {}
    calls = 0
    timings["fit_s"] = 0.0
    if n_todo and load_train is not None:
        emit(Event("stage", name, tname, stage="fit"))
        tick = time.perf_counter()
        train_examples = load_train()
        adapter.fit(train_examples)
        timings["fit_s"] = time.perf_counter() - tick

    tick = time.perf_counter()
    emit(Event("predict-start", name, tname, done=n - n_todo, total=n))
    # Unique requests only: duplicates in a test set share one prediction — except for
    # adapters that answer by id (a predictions file), where each id has its own answer.
    dedupe = getattr(adapter, "cacheable", True)
    first_of = _first_occurrence(digests) if dedupe else np.arange(n)
    unique = np.flatnonzero(todo_mask & (first_of == np.arange(n)))
    done = n - n_todo
    for start in range(0, len(unique), config.batch_size):
        batch = unique[start : start + config.batch_size].tolist()
        got, errs = _predict_batch(adapter, [requests[i] for i in batch])
        calls += 1
        new = []
        for k, (i, resp) in enumerate(zip(batch, got, strict=True)):
            if resp is None:
                fail_at[i] = errs[k]
            else:
                data = resp.model_dump(mode="json")
                responses.set(i, data)
                new.append((digests[i].tobytes().hex(), data))
        if cacheable and cache is not None:
            cache.put_many(fingerprint, new)
        done += len(batch)
        emit(Event("predict-progress", name, tname, done=min(done, n), total=n))
    for i in np.flatnonzero(todo_mask & (first_of != np.arange(n))).tolist():
        j = int(first_of[i])
        if responses.has(j):
            responses.copy(i, j)
        else:
            fail_at[i] = fail_at.get(j, "failed")
    failures: dict[str, str] = {}
    if fail_at:
        for i in sorted(fail_at):
            failures.setdefault(requests[i].id, fail_at[i])
    del digests, first_of, todo_mask
    timings["predict_s"] = time.perf_counter() - tick
    max_failures = failure_limit(model, config)
    if max_failures is not None and len(failures) > max_failures:
        causes = Counter(failures.values()).most_common(3)
        raise TooManyFailures(
            f"{name} on {tname}: {len(failures)} of {n} examples failed "
            f"(most common: {'; '.join(f'{c} ×{n}' for c, n in causes)}); predictions that "
            f"succeeded are cached (--max-failures is {max_failures})",
            fix="fix the model or raise --max-failures, then re-run",
        )

    emit(Event("stage", name, tname, stage="score"))
    tick = time.perf_counter()
    metrics = _metrics(task)
    ctx = ScoringContext(task, requests, references, responses, config.bootstrap)
    values, skipped, per_example = score_task(ctx, metrics)
    timings["score_s"] = time.perf_counter() - tick
    if task.primary_metric not in values:
        raise BenchError(
            f"task {tname}: primary metric '{task.primary_metric}' could not be computed for "
            f"{name}: {skipped.get(task.primary_metric, 'unknown reason')}",
            fix="choose a primary metric every adapter can be scored on",
        )
    timings["total_s"] = time.perf_counter() - t0

    record = RunRecord(
        run_id=uuid.uuid4().hex,
        started_at=started_at,
        finished_at=_now(),
        bench_version=__version__,
        task=TaskInfo(
            name=tname,
            version=task.version,
            family=task.family,
            languages=list(task.languages),
            suite=task.suite,
            spec_hash=task.spec_hash(),
            dataset_fingerprint=prepared.fingerprint,
            dataset_origin=_portable_origin(prepared.origin),
            train_fingerprint=train_fp,
            dropped_rows=prepared.dropped,
            protocol=prepared.info or None,
            preprocess=[s.identity() for s in steps],
            preprocess_hash=task.preprocess_hash(),
            prompt_hash=task.prompt_hash(),
            n_examples=n,
            labels=list(task.labels) if task.labels else None,
            metric_specs=[m.model_dump(mode="json") for m in task.metrics],
        ),
        model=ModelInfo(
            name=name,
            spec=_public_spec(model),
            adapter=adapter.name,
            fingerprint=fingerprint,
            params=model.public_params(),
            info=dict(getattr(adapter, "info", lambda: {})()),
        ),
        primary_metric=task.primary_metric,
        metrics=values,
        metrics_skipped=skipped,
        bootstrap=config.bootstrap.model_dump(),
        timings={k: round(v, 4) for k, v in timings.items()},
        predictions={
            "total": n,
            "cached": n - n_todo,
            "computed": n_todo - len(failures),
            "failed": len(failures),
        },
        failures={
            "count": len(failures),
            "by_cause": dict(sorted(Counter(failures.values()).items())),
            "ids": sorted(failures)[:100],
        },
        environment=environment(),
        seeds=run_seeds(config.bootstrap.seed, task, model.public_params()),
    )
    segments = _segment_statistics(task, metrics, ctx)
    samples = _samples(family, requests, references, responses, failures, per_example, segments)
    path = write_run(Path(config.results) / model.dir_name / tname, record, samples)
    emit(Event("pair-done", name, tname, message=str(path)))
    return RunOutcome(name, tname, "done", record_path=path, record=record, adapter_calls=calls)


def _samples(
    family: Family,
    requests: Sequence[Request],
    references: Sequence[Any],
    responses: ResponseStore,
    failures: Mapping[str, str],
    per_example: Sequence[dict[str, Any]],
    segments: Mapping[str, Sequence[Any]],
) -> Iterator[dict[str, Any]]:
    """The lines of ``samples.jsonl``, one example at a time."""
    for i, (req, ref, resp) in enumerate(zip(requests, references, responses, strict=True)):
        yield {
            "id": req.id,
            "input": family.sample_input(req),
            "prediction": family.sample_prediction(resp),
            "response": responses.data(i),
            "reference": ref,
            "failure": failures.get(req.id),
            "scores": per_example[i],
            **({SEGMENT_STATS: {m: rows[i] for m, rows in segments.items()}} if segments else {}),
        }


def _first_occurrence(digests: np.ndarray) -> np.ndarray:
    """For each row of ``digests`` (n × 32 bytes), the index of the first equal row.

    Rows are grouped by their first 8 bytes (one sort of n integers); only groups of more than
    one row are compared on all their bytes, so the answer is exact.
    """
    n = digests.shape[0]
    first = np.arange(n)
    if n < 2:
        return first
    head = np.ascontiguousarray(digests[:, :8]).view(np.uint64).ravel()
    order = np.argsort(head, kind="stable")  # equal heads keep their order of appearance
    sorted_head = head[order]
    same = sorted_head[1:] == sorted_head[:-1]
    del head, sorted_head
    if not same.any():
        return first
    starts = np.flatnonzero(~same) + 1  # where a new head starts, in sorted order
    bounds = np.concatenate(([0], starts, [n]))
    sizes = np.diff(bounds)
    for g in np.flatnonzero(sizes > 1).tolist():
        seen: dict[bytes, int] = {}
        for i in order[bounds[g] : bounds[g + 1]].tolist():
            first[i] = seen.setdefault(digests[i].tobytes(), i)
    return first


def _prepare_rows(
    family: Family,
    task: TaskSpec,
    steps: list[Any],
    data_override: Path | None,
    limit: int | None,
    emit: Callback,
    name: str,
    *,
    want_train: bool,
) -> Prepared:
    """The default preparation: one request per (preprocessed) row of the test split."""
    test = load_split(task, family, "test", data_override=data_override, limit=limit)
    emit(Event("stage", name, task.name, stage="preprocess"))
    test_ds = apply_steps(test.dataset, steps, family, desc=f"{task.name}: ")
    rows = RowExamples(family, task, test_ds)
    requests, references = rows.requests, rows.references
    prepared = Prepared(
        requests=requests,
        references=references,
        fingerprint=test.fingerprint,
        origin=test.origin,
        dropped=test.dropped,
        info=family.data_notes(requests, references),
    )
    if want_train and "train" in task.source.splits:
        train = load_split(task, family, "train", data_override=data_override)
        train_ds = train.dataset

        def load_train() -> list[tuple[Request, Any]]:
            ds = apply_steps(train_ds, steps, family, desc=f"{task.name} train: ")
            reqs, refs = _build(family, task, ds)
            return list(zip(reqs, refs, strict=True))

        prepared.train_fingerprint = train.fingerprint
        prepared.load_train = load_train
    return prepared


def _public_spec(model: ModelSpec) -> str:
    parts = [
        f"{model.kind}:{model.target}",
        *(f"{k}={v}" for k, v in model.public_params().items()),
    ]
    return ",".join(parts)


def _portable_origin(origin: str) -> str:
    # Paths inside the package are shown relative to it, so records do not depend on where
    # bench is installed.
    from bench.data import BUILTIN_ROOT

    return origin.replace(str(BUILTIN_ROOT) + "/", "builtin:")


def _build(family: Family, task: TaskSpec, ds: Any) -> tuple[list[Request], list[Any]]:
    requests, references = [], []
    for batch in ds.iter(batch_size=1024):
        keys = list(batch)
        for j in range(len(batch[keys[0]])):
            req, ref = family.build({k: batch[k][j] for k in keys}, task)
            requests.append(req)
            references.append(ref)
    return requests, references


def _segment_statistics(
    task: TaskSpec, metrics: Sequence[Metric], ctx: ScoringContext
) -> dict[str, list[list[Any]]]:
    """Per-segment sufficient statistics of the corpus metrics (BLEU, chrF, TER), by the metric's
    name in the task file, for ``samples.jsonl`` (see :data:`bench.stats.SEGMENT_STATS`)."""
    out = {}
    for spec, metric in zip(task.metrics, metrics, strict=True):
        get = getattr(metric, "segment_statistics", None)
        rows = get(ctx) if callable(get) else None
        if rows is not None:
            out[spec.name] = rows
    return out


def _metrics(task: TaskSpec) -> list[Metric]:
    from bench.registry import registry

    return [registry.get("metric", m.name)(**m.params) for m in task.metrics]


def _predict_batch(adapter: Any, batch: list[Request]) -> tuple[list[Response | None], list[str]]:
    """Predict a batch; on an exception, retry one by one so only failing examples fail.

    A ``BenchError`` (the adapter cannot serve the task at all) stops the run instead.
    """
    try:
        got: list[Response] | None = list(adapter.predict(batch))
    except BenchError:
        raise
    except Exception:  # an adapter's bug or a transient error: isolate it per example below
        got = None
    if got is not None:
        if len(got) != len(batch):
            raise AdapterError(
                f"{adapter.name} returned {len(got)} responses for {len(batch)} requests",
                fix="an adapter returns exactly one response per request",
            )
        return list(got), [""] * len(batch)
    out: list[Response | None] = []
    errs: list[str] = []
    for req in batch:
        try:
            (resp,) = adapter.predict([req])
            out.append(resp)
            errs.append("")
        except BenchError:
            raise
        except Exception as exc:  # counted per cause, never scored as a prediction
            out.append(None)
            errs.append(f"{type(exc).__name__}: {str(exc)[:200]}")
    return out, errs
