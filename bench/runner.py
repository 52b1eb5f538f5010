"""Prepare → predict → score → record, for each (model, task) pair.

The runner never prints. It reports progress through a callback of :class:`Event` s, which the
CLI renders with rich; tests and other programs can pass their own.

:func:`run_pair` is a composition of the stages of :mod:`bench.stages`: load and preprocess the
test split (and the train split for trainable adapters), look every request up in the
prediction cache, train the adapter only if some prediction is missing, predict the rest in
batches (each batch committed to the cache at once), score, and write the run record
atomically. An example the adapter returns a :class:`~bench.families.base.Failure` for is
counted by its cause, scored as a miss and never cached; an exception raised by the adapter
stops the run with an :class:`~bench.errors.AdapterError` (what was cached stays cached).
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.adapters.base import Adapter, ModelSpec, as_adapter, make_adapter
from bench.cache import PredictionCache
from bench.errors import ResultsError
from bench.families.base import Prepared, get_family
from bench.preprocess import build_steps, check_resources
from bench.records import PredictionCounts, RunRecord, Timings
from bench.spec import TaskSpec
from bench.stages import (
    Callback,
    DeterminismCheck,
    Event,
    PredictionSet,
    RunConfig,
    build_record,
    check_failures,
    failure_limit,
    now,
    pair_fingerprint,
    predict,
    prepare,
    sample_lines,
    score,
    skip_reason,
    trains_on,
    write,
)

if TYPE_CHECKING:
    from bench.determinism import DeterminismReport

__all__ = [
    "MIN_FREE_MB",
    "Callback",
    "DeterminismCheck",
    "Event",
    "RunConfig",
    "RunOutcome",
    "failure_limit",
    "finish_pair",
    "preflight",
    "run_pair",
    "run_plan",
]

MIN_FREE_MB = 50
"""Free disk space (MiB) a run needs before it starts; ``BENCH_MIN_FREE_MB`` overrides it."""


@dataclass(frozen=True)
class RunOutcome:
    """What happened to one pair: ``status`` is ``done``, ``skipped`` or ``failed``.

    ``determinism`` is the ``--check-determinism`` report (also in the record)."""

    model: str
    task: str
    status: str
    record_path: Path | None = None
    record: RunRecord | None = None
    reason: str = ""
    adapter_calls: int = 0
    determinism: DeterminismReport | None = None


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
    from bench.folders import check_plan

    preflight(config)
    check_plan(Path(config.results), models, tasks)  # records that would overwrite each other
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
    fingerprint: str | None = None,
) -> RunOutcome:
    """Evaluate one model on one task and write its record.

    Args:
        model: The model spec.
        task: The task.
        config: Run settings.
        progress: Receives :class:`Event` s.
        cache: An open prediction cache (``None``: no caching).
        adapter: An already built adapter (``bench score`` passes a predictions adapter); an
            object that is not an :class:`~bench.adapters.base.Adapter` is wrapped as one.
        fingerprint: The pair's fingerprint when a driver computed it already (a cluster job);
            else :func:`~bench.stages.pair_fingerprint`.
    """
    emit = progress or (lambda _e: None)
    name, started_at, t0 = model.display_name, now(), time.perf_counter()
    adapter = make_adapter(model) if adapter is None else as_adapter(adapter)
    reason = skip_reason(adapter, task)
    if reason is not None:
        emit(Event("pair-skipped", name, task.name, message=reason))
        return RunOutcome(name, task.name, "skipped", reason=reason)
    bound = adapter.for_task(task, get_family(task.family))
    emit(Event("pair-start", name, task.name))
    emit(Event("stage", name, task.name, stage="load"))
    prepared = prepare(
        task, config, want_train=bound.trainable, progress=emit, model=name, prompted=bound.prompted
    )
    bound.check_ids([r.id for r in prepared.requests])
    load_s = time.perf_counter() - t0
    fingerprint = fingerprint or pair_fingerprint(bound, task, prepared)
    fit_s = _Fit(bound, task, prepared, emit, name)
    predictions = predict(
        bound,
        prepared.requests,
        cache,
        family=get_family(task.family),
        fingerprint=fingerprint,
        batch_size=config.batch_size,
        before_compute=fit_s if trains_on(bound, task, prepared) else None,
        progress=emit,
        pair=(name, task.name),
    )
    return finish_pair(
        model,
        task,
        config,
        bound,
        prepared,
        predictions,
        fingerprint=fingerprint,
        started_at=started_at,
        t0=t0,
        load_s=load_s,
        fit_s=fit_s.seconds,
        progress=emit,
    )


class _Fit:
    """Trains the adapter when :func:`~bench.stages.predict` first needs it; times it."""

    def __init__(
        self, adapter: Adapter, task: TaskSpec, prepared: Prepared, emit: Callback, name: str
    ) -> None:
        self.adapter, self.task, self.prepared, self.emit, self.name = (
            adapter,
            task,
            prepared,
            emit,
            name,
        )
        self.seconds = 0.0

    def __call__(self) -> None:
        assert self.prepared.load_train is not None  # trains_on() said so
        self.emit(Event("stage", self.name, self.task.name, stage="fit"))
        tick = time.perf_counter()
        self.adapter.fit(self.prepared.load_train())
        self.seconds = time.perf_counter() - tick


def finish_pair(
    model: ModelSpec,
    task: TaskSpec,
    config: RunConfig,
    adapter: Adapter,
    prepared: Prepared,
    predictions: PredictionSet,
    *,
    fingerprint: str,
    started_at: str,
    t0: float,
    load_s: float,
    fit_s: float = 0.0,
    counts: PredictionCounts | None = None,
    info: dict[str, Any] | None = None,
    adapter_calls: int = 0,
    progress: Callback | None = None,
) -> RunOutcome:
    """Score a predicted pair, check its determinism if asked, build and write its record.

    The second half of :func:`run_pair`, shared with executors that predict elsewhere: they
    pass the prediction ``counts`` and the model ``info`` their jobs gathered, and the record
    is written once, with them.
    """
    emit = progress or (lambda _e: None)
    name = model.display_name
    check_failures(model, task, predictions.failures, len(prepared.requests), config)
    emit(Event("stage", name, task.name, stage="score"))
    scores = score(task, prepared, predictions.responses, config.bootstrap, model=name)
    report = None
    if config.determinism is not None:
        from bench.determinism import check_determinism

        report = check_determinism(
            model, task, config, prepared, predictions, scores, config.determinism
        )
    record = build_record(
        model=model,
        task=task,
        adapter=adapter,
        prepared=prepared,
        fingerprint=fingerprint,
        scores=scores,
        predictions=counts or predictions.counts(),
        failures=predictions.failure_counts(),
        timings=Timings(
            load_s=round(load_s, 4),
            fit_s=round(fit_s, 4),
            predict_s=round(predictions.seconds - fit_s, 4),
            score_s=round(scores.seconds, 4),
            total_s=round(time.perf_counter() - t0, 4),
        ),
        bootstrap=config.bootstrap,
        started_at=started_at,
        info=info,
        determinism=report.to_json() if report is not None else None,
        limit=config.limit,
        # Counted where this process read the cache itself (not when executors pass counts).
        cache_dropped=predictions.cache_dropped if counts is None and config.cache else None,
    )
    family = get_family(task.family)
    samples = sample_lines(
        record, family, prepared, predictions.responses, predictions.failures, scores
    )
    path = write(config, model, record, samples)
    emit(Event("pair-done", name, task.name, message=str(path)))
    calls = adapter_calls + predictions.calls
    return RunOutcome(
        name, task.name, "done", path, record, adapter_calls=calls, determinism=report
    )
