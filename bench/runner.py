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

A prompted adapter (:attr:`~bench.adapters.base.Adapter.prompted`) runs the task's protocol
(:mod:`bench.protocol`): every unit (prompt variant × exemplar draw × sample) is bound, given
its in-context examples (:func:`bench.fewshot.attach_shots`), predicted through the cache with
its own fingerprint and scored; :func:`bench.metrics.units.aggregate` turns the units into the
record's headline ``metrics`` and its ``protocol``. ``samples.jsonl`` then holds one line per
unit and example, unit-major (a run with one unit writes exactly what a non-prompted run does).
"""

from __future__ import annotations

import dataclasses
import errno
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.adapters.base import Adapter, ModelSpec, as_adapter, make_adapter
from bench.cache import PredictionCache
from bench.errors import BenchError, ResultsError, TaskSpecError, UnscoredPair
from bench.families.base import Failure, Prepared, Request, Response, get_family
from bench.identity import combine, file_digest, short_hash
from bench.preprocess import build_steps, check_resources
from bench.protocol import Protocol, Unit, resolve
from bench.records import PredictionCounts, ProtocolResult, RunRecord, SampleLine, Timings
from bench.spec import TaskSpec
from bench.stages import (
    Callback,
    DeterminismCheck,
    Event,
    PredictionSet,
    RunConfig,
    Scores,
    build_record,
    check_failures,
    current_record,
    exemplar_pool,
    failure_counts,
    failure_limit,
    inputs_key,
    now,
    pair_fingerprint,
    predict,
    prepare,
    sample_lines,
    score,
    skip_reason,
    task_metrics,
    trains_on,
    unit_fingerprint,
    write,
)
from bench.streaming import ResponseStore

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
    "rescore_units",
    "run_pair",
    "run_plan",
]

MIN_FREE_MB = 50
"""Free disk space (MiB) a run needs before it starts; ``BENCH_MIN_FREE_MB`` overrides it."""


@dataclass(frozen=True)
class RunOutcome:
    """What happened to one pair: ``status`` is ``done`` (scored, record written),
    ``up-to-date`` (its record on disk was made from the same inputs,
    :func:`~bench.stages.current_record`: kept, with ``record`` and ``record_path`` set,
    nothing read or scored), ``skipped`` or ``failed``.

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
    would hit every model on that task, and records already written stay on disk. A pair whose
    own answers cannot be scored (:class:`~bench.errors.UnscoredPair`) is skipped instead.

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
    protocol = None
    if reason is None and adapter.prompted:
        try:
            protocol = resolve(task, num_fewshot=config.num_fewshot, variants=config.variants)
        except TaskSpecError as exc:
            # --num-fewshot on a task without exemplars, or --variant names none of the task's
            # variants: this pair cannot run as asked; the others of the plan still can.
            reason = exc.message
        else:
            reason = adapter.protocol_support(protocol.bind(task, protocol.units()[0]))
    if reason is not None:
        emit(Event("pair-skipped", name, task.name, message=reason))
        return RunOutcome(name, task.name, "skipped", reason=reason)
    key = inputs_key(adapter, task, config, protocol.identity() if protocol is not None else None)
    kept = current_record(config, model, task, key)
    if kept is not None:  # nothing that makes the record changed: keep it, read no data
        emit(Event("pair-up-to-date", name, task.name, message=str(kept[0])))
        return RunOutcome(name, task.name, "up-to-date", kept[0], kept[1])
    if protocol is not None:
        return _run_units(model, task, config, adapter, protocol, cache, emit, started_at, t0, key)
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
        inputs_key=key,
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

        def report(what: str, done: int, total: int) -> None:
            self.emit(
                Event("fit-progress", self.name, self.task.name, stage=what, done=done, total=total)
            )

        self.adapter.fit_progress = report
        try:
            self.adapter.fit(self.prepared.load_train())
        finally:
            self.adapter.fit_progress = None
        self.seconds = time.perf_counter() - tick


def _timings(load_s: float, fit_s: float, predict_s: float, score_s: float, t0: float) -> Timings:
    """The record's timings; ``predict_s`` counts the fit (it runs inside predict)."""
    return Timings(
        load_s=round(load_s, 4),
        fit_s=round(fit_s, 4),
        predict_s=round(predict_s - fit_s, 4),
        score_s=round(score_s, 4),
        total_s=round(time.perf_counter() - t0, 4),
    )


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
    inputs_key: str | None = None,
) -> RunOutcome:
    """Score a predicted pair, check its determinism if asked, build and write its record
    (with ``inputs_key``, :func:`~bench.stages.inputs_key`, when the caller computed it).

    A pair whose answers leave the task's primary metric without a value
    (:class:`~bench.errors.UnscoredPair`: word vectors that cover none of the task's words) is
    returned as skipped with the reason; its predictions stay cached and the run goes on.

    The second half of :func:`run_pair`, shared with executors that predict elsewhere: they
    pass the prediction ``counts`` and the model ``info`` their jobs gathered, and the record
    is written once, with them.
    """
    emit = progress or (lambda _e: None)
    name = model.display_name
    check_failures(model, task, predictions.failures, len(prepared.requests), config)
    emit(Event("stage", name, task.name, stage="score"))
    try:
        scores = score(
            task,
            prepared,
            predictions.responses,
            config.bootstrap,
            model=name,
            cache=config.cache,
            progress=emit,
        )
    except UnscoredPair as exc:
        # This model's answers cannot be scored on this task; other pairs still can.
        reason = f"not scored: {exc.message}"
        emit(Event("pair-skipped", name, task.name, message=reason))
        return RunOutcome(name, task.name, "skipped", reason=reason)
    report = None
    if config.determinism is not None:
        from bench.determinism import check_determinism

        report = check_determinism(
            model, task, config, prepared, predictions, scores, config.determinism
        )
    protocol_result = None
    if adapter.prompted:  # a prompted pair of one unit predicted elsewhere (a Ray cluster)
        scores, protocol_result = _one_unit_protocol(task, config, prepared, predictions, scores)
    record = build_record(
        model=model,
        task=task,
        adapter=adapter,
        prepared=prepared,
        fingerprint=fingerprint,
        scores=scores,
        predictions=counts or predictions.counts(),
        failures=predictions.failure_counts(),
        timings=_timings(load_s, fit_s, predictions.seconds, scores.seconds, t0),
        bootstrap=config.bootstrap,
        started_at=started_at,
        info=info,
        determinism=report.to_json() if report is not None else None,
        limit=config.limit,
        # Counted where this process read the cache itself (not when executors pass counts).
        cache_dropped=predictions.cache_dropped if counts is None and config.cache else None,
        protocol=protocol_result,
        inputs_key=inputs_key,
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


def _sum_counts(scored: Sequence[Scores]) -> dict[str, dict[str, int]]:
    """The units' segment-cache counts, added up per metric."""
    total: dict[str, dict[str, int]] = {}
    for s in scored:
        for metric, counts in s.segment_counts.items():
            into = total.setdefault(metric, {})
            for k, v in counts.items():
                into[k] = into.get(k, 0) + v
    return total


def _one_unit_protocol(
    task: TaskSpec,
    config: RunConfig,
    prepared: Prepared,
    predictions: PredictionSet,
    scores: Scores,
) -> tuple[Scores, ProtocolResult]:
    """A one-unit prompted pair's record parts, as the units path writes them: the protocol
    tag on every headline signature and a :class:`~bench.records.ProtocolResult` of one unit,
    so its leaderboard column is the one a local run of the pair lands in."""
    from bench.metrics.units import UnitScores, aggregate

    protocol = resolve(task, num_fewshot=config.num_fewshot, variants=config.variants)
    unit = UnitScores(
        unit=protocol.units()[0],
        values=scores.values,
        per_example=scores.per_example,
        segments=scores.segments,
        responses=list(predictions.responses),
        failures=len(predictions.failures),
    )
    _, result = aggregate(
        task,
        task_metrics(task),
        prepared.requests,
        prepared.references,
        [unit],
        config.bootstrap,
        identity=protocol.identity(),
        fewshot_hash=None,
    )
    tag = protocol.tag()
    values = {
        k: v.model_copy(update={"signature": f"{v.signature}|{tag}"})
        for k, v in scores.values.items()
    }
    return dataclasses.replace(scores, values=values), result


# --------------------------------------------------------------------------- prompted runs


@dataclass
class _UnitRun:
    """One unit of a prompted pair, predicted: its bound spec, adapter, requests (with their
    shots), cache fingerprint and predictions."""

    unit: Unit
    bound: TaskSpec
    adapter: Adapter
    prepared: Prepared
    fingerprint: str
    predictions: PredictionSet


def _unit_requests(
    task: TaskSpec, protocol: Protocol, prepared: Prepared, config: RunConfig
) -> Iterator[tuple[Unit, TaskSpec, Prepared]]:
    """Each unit with its bound spec and its prepared data (the test requests with the
    unit's draw of in-context examples attached), in :meth:`Protocol.units` order; the
    exemplar pool is read once."""
    from bench.fewshot import attach_shots

    family = get_family(task.family)
    pool = (
        exemplar_pool(task, config, prepared, protocol.fewshot.split)
        if protocol.fewshot is not None
        else None
    )
    for unit in protocol.units():
        bound = protocol.bind(task, unit)
        if protocol.fewshot is None or pool is None:
            yield unit, bound, prepared
            continue
        requests = attach_shots(
            family, bound, protocol.fewshot, unit.draw, list(prepared.requests), pool
        )
        yield unit, bound, replace(prepared, requests=requests)


def _run_units(
    model: ModelSpec,
    task: TaskSpec,
    config: RunConfig,
    adapter: Adapter,
    protocol: Protocol,
    cache: PredictionCache | None,
    emit: Callback,
    started_at: str,
    t0: float,
    key: str | None = None,
) -> RunOutcome:
    """:func:`run_pair` for a prompted adapter: every unit of ``protocol`` predicted through
    the cache with its own fingerprint, scored, and aggregated into one record (``key``: the
    pair's :func:`~bench.stages.inputs_key`)."""
    name = model.display_name
    units = protocol.units()
    if len(units) > 1 and config.determinism is not None:
        raise BenchError(
            f"--check-determinism does not check runs with several units: task {task.name} "
            f"gives {model.display_name} {len(units)} (prompt variants × exemplar draws × "
            "samples)",
            fix="run --check-determinism on a task with one prompt, one draw and n: 1 (or "
            "drop the flag)",
        )
    family = get_family(task.family)
    emit(Event("pair-start", name, task.name))
    emit(Event("stage", name, task.name, stage="load"))
    prepared = prepare(
        task, config, want_train=adapter.trainable, progress=emit, model=name, prompted=True
    )
    adapter.check_ids([r.id for r in prepared.requests])
    load_s = time.perf_counter() - t0
    runs: list[_UnitRun] = []
    fit_s = 0.0
    for unit, bound, prepared_u in _unit_requests(task, protocol, prepared, config):
        a = adapter.for_task(bound, family)
        fingerprint = unit_fingerprint(a, bound, prepared_u)
        fit = _Fit(a, bound, prepared_u, emit, name)
        if len(units) > 1:
            emit(Event("stage", name, task.name, stage=f"unit {unit.key}"))
        predictions = predict(
            a,
            prepared_u.requests,
            cache,
            family=family,
            fingerprint=fingerprint,
            batch_size=config.batch_size,
            before_compute=fit if trains_on(a, bound, prepared_u) else None,
            progress=emit,
            pair=(name, task.name),
        )
        fit_s += fit.seconds
        runs.append(_UnitRun(unit, bound, a, prepared_u, fingerprint, predictions))
    return _finish_units(
        model,
        task,
        config,
        protocol,
        prepared,
        runs,
        started_at,
        t0,
        load_s,
        fit_s,
        emit,
        inputs_key=key,
    )


def _finish_units(
    model: ModelSpec,
    task: TaskSpec,
    config: RunConfig,
    protocol: Protocol,
    prepared: Prepared,
    runs: list[_UnitRun],
    started_at: str,
    t0: float,
    load_s: float,
    fit_s: float,
    emit: Callback,
    *,
    info: dict[str, Any] | None = None,
    inputs_key: str | None = None,
) -> RunOutcome:
    """Score every unit, aggregate (:func:`bench.metrics.units.aggregate`), build and write
    the record and the samples (unit-major; ``unit`` on each line when there are several)."""
    from bench.fewshot import fewshot_hash
    from bench.metrics.units import UnitScores, aggregate

    name = model.display_name
    family = get_family(task.family)
    several = len(runs) > 1
    failures: dict[str, str] = {}
    for r in runs:
        for key, label in r.predictions.failures.items():
            failures[f"{r.unit.key}:{key}" if several else key] = label
    n = len(prepared.requests)
    check_failures(model, task, failures, n * len(runs), config, units=len(runs))
    emit(Event("stage", name, task.name, stage="score"))
    scored: list[Scores] = []
    for r in runs:
        scored.append(
            score(
                r.bound,
                r.prepared,
                r.predictions.responses,
                config.bootstrap,
                model=name,
                cache=config.cache,
                progress=emit,
            )
        )
    report = None
    if config.determinism is not None:  # one unit (several are refused before predicting)
        from bench.determinism import check_determinism

        r = runs[0]
        report = check_determinism(
            model, r.bound, config, r.prepared, r.predictions, scored[0], config.determinism
        )
    units = [
        UnitScores(
            unit=r.unit,
            values=s.values,
            per_example=s.per_example,
            segments=s.segments,
            responses=list(r.predictions.responses),
            failures=len(r.predictions.failures),
        )
        for r, s in zip(runs, scored, strict=True)
    ]
    headline, result = aggregate(
        task,
        task_metrics(task),
        prepared.requests,
        prepared.references,
        units,
        config.bootstrap,
        identity=protocol.identity(),
        fewshot_hash=fewshot_hash([q for r in runs for q in r.prepared.requests]),
    )
    if not several:
        headline = scored[0].values  # one unit: its own values and intervals, as ever
    # The protocol is part of every headline value's signature: two numbers computed with
    # another scoring mode, normalisation, extraction or exemplars never read as one.
    tag = protocol.tag()
    if result.fewshot_hash is not None:  # the exemplars themselves, not only how they were drawn
        tag += f"|shots-sha:{result.fewshot_hash}"
    headline = {
        k: v.model_copy(update={"signature": f"{v.signature}|{tag}"}) for k, v in headline.items()
    }
    skipped: dict[str, str] = {}
    for s in scored:
        skipped.update({k: v for k, v in s.skipped.items() if k not in headline})
    score_s = sum(s.seconds for s in scored)
    predict_s = sum(r.predictions.seconds for r in runs)
    counts = [r.predictions.counts() for r in runs]
    record = build_record(
        model=model,
        task=task,
        adapter=runs[0].adapter,
        prepared=prepared,
        # The units' cache identities, the protocol and the exemplars shown: two runs that
        # differ in any of them never share a fingerprint.
        fingerprint=combine(
            *(r.fingerprint for r in runs), short_hash(protocol.identity()), result.fewshot_hash
        ),
        scores=Scores(headline, skipped, [], {}, score_s, _sum_counts(scored)),
        predictions=PredictionCounts(
            total=sum(c.total for c in counts),
            cached=sum(c.cached for c in counts),
            computed=sum(c.computed for c in counts),
            failed=sum(c.failed for c in counts),
        ),
        failures=failure_counts(failures),
        timings=_timings(load_s, fit_s, predict_s, score_s, t0),
        bootstrap=config.bootstrap,
        started_at=started_at,
        info=info,
        determinism=report.to_json() if report is not None else None,
        limit=config.limit,
        cache_dropped=sum(r.predictions.cache_dropped for r in runs) if config.cache else None,
        protocol=result,
        inputs_key=inputs_key,
    )

    def samples() -> Iterator[SampleLine]:
        for r, s in zip(runs, scored, strict=True):
            yield from sample_lines(
                record,
                family,
                r.prepared,
                r.predictions.responses,
                r.predictions.failures,
                s,
                unit=r.unit.key if several else None,
            )

    path = write(config, model, record, samples())
    emit(Event("pair-done", name, task.name, message=str(path)))
    calls = sum(r.predictions.calls for r in runs)
    return RunOutcome(
        name, task.name, "done", path, record, adapter_calls=calls, determinism=report
    )


class _Recorded(Adapter):
    """The responses of one unit of a recorded prompted run (``bench score RUN_DIR``)."""

    name = "predictions"
    cacheable = False

    def __init__(self, path: Path, record: RunRecord) -> None:
        super().__init__(str(path))
        self.path, self.record = path, record
        self._hash = file_digest(path, length=16)

    def supports(self, family: str) -> bool:
        """Any family: the file decides."""
        return True

    def fingerprint(self, task: TaskSpec | None = None) -> str:
        """The SHA-256 (16 hex) of the samples file's bytes."""
        return self._hash

    def info(self) -> dict[str, Any]:
        """The file read and the run it re-scores (as the predictions adapter records)."""
        return {
            "file": self.path.name,
            "format": "jsonl",
            "rescored_run": self.record.run_id,
            "rescored_model": self.record.model.name,
        }

    def predict(self, requests: Sequence[Request]) -> list[Response | Failure]:
        """Never called: a recorded run's responses are read, not predicted."""
        raise NotImplementedError("recorded responses are read by rescore_units")


def rescore_units(
    model: ModelSpec, task: TaskSpec, config: RunConfig, samples_path: Path, record: RunRecord
) -> RunOutcome:
    """Re-score a recorded prompted run (``bench score RUN_DIR`` on a record with a
    ``protocol``) from the exact responses of every unit, and write its record.

    The protocol is resolved again as the run resolved it (its ``--num-fewshot``), the
    exemplars drawn again (the shots of each line are checked against them), and each unit
    scored and aggregated as :func:`run_pair` does, so the metrics equal the run's.

    Raises:
        PredictionsError: The samples do not cover every unit and example of the task, or
            their exemplars are not the ones the protocol draws.
    """
    from bench.errors import PredictionsError
    from bench.records import read_samples

    assert record.protocol is not None
    name, started_at, t0 = model.display_name, now(), time.perf_counter()
    emit: Callback = lambda _e: None  # noqa: E731
    identity = record.protocol.identity
    protocol = resolve(
        task, num_fewshot=identity.get("num_fewshot"), variants=identity.get("variants")
    )
    prepared = prepare(task, config, model=name, prompted=True)
    load_s = time.perf_counter() - t0
    lines = read_samples(samples_path, record)
    several = len(protocol.units()) > 1
    by_unit: dict[str | None, dict[str, SampleLine]] = {}
    for sample in lines:
        by_unit.setdefault(sample.unit, {})[sample.id] = sample
    family = get_family(task.family)
    adapter = _Recorded(samples_path, record)
    runs = []
    for unit, bound, prepared_u in _unit_requests(task, protocol, prepared, config):
        got = by_unit.get(unit.key if several else None, {})
        store = ResponseStore(family, len(prepared_u.requests))
        failed: dict[str, str] = {}
        for i, req in enumerate(prepared_u.requests):
            line = got.get(req.id)
            shots = [s.id for s in req.shots] if req.shots else None
            if line is None or line.shots != shots:
                why = "has no line" if line is None else f"shows exemplars {line.shots}"
                raise PredictionsError(
                    f"{samples_path}: unit {unit.key}, example {req.id!r} {why}; the task's "
                    f"protocol gives exemplars {shots}",
                    fix="re-score with the task (and --limit, --data) the run used",
                )
            if line.response is not None:
                store.set(i, family.parse_response(line.response).model_dump(mode="json"))
            else:
                failed[req.id] = line.failure or "missing: no response"
        n = len(prepared_u.requests)
        predictions = PredictionSet(store, failed, computed=n - len(failed), calls=1)
        runs.append(_UnitRun(unit, bound, adapter, prepared_u, adapter.fingerprint(), predictions))
    return _finish_units(
        model, task, config, protocol, prepared, runs, started_at, t0, load_s, 0.0, emit
    )
