"""The stages of a run: prepare → predict → score → record → write.

Every caller — :func:`bench.runner.run_pair`, the Ray executor, ``--check-determinism`` and
``bench score`` — composes these same functions; none reaches into another module's private
names, and none rewrites a record after :func:`write` has written it (what a record needs, such
as prediction counts gathered by other processes, is passed to :func:`build_record`).

* :func:`prepare` — data, preprocessing, requests and references (and a lazy train loader);
* :func:`predict` — cache lookup, dedupe, batches committed to the cache as they finish,
  progress; each example ends up with a response or a :class:`~bench.families.base.Failure`.
  An exception raised by an adapter is a bug: the run stops with one :class:`AdapterError`;
* :func:`score` — per-example statistics, corpus values and intervals;
* :func:`build_record` and :func:`sample_lines` — the typed record and its samples, sharing
  one ``run_id``;
* :func:`write` — both files, atomically, samples first.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench import __version__
from bench.adapters.base import Adapter, ModelSpec
from bench.cache import PredictionCache
from bench.data import BUILTIN_ROOT, load_split
from bench.errors import AdapterError, BenchError, TooManyFailures, UnscoredPair
from bench.families.base import Failure, Family, Prepared, Request, Response, get_family
from bench.identity import combine, short_hash
from bench.metrics.base import BootstrapConfig, Metric, MetricValue, ScoringContext, score_task
from bench.preprocess import (
    apply_steps,
    build_steps,
    check_resources,
    model_view,
    steps_identity,
)
from bench.records import (
    FailureCounts,
    FailureKind,
    ModelInfo,
    PredictionCounts,
    ProtocolResult,
    RunRecord,
    SampleLine,
    TaskInfo,
    Timings,
    environment,
    run_seeds,
    write_run,
)
from bench.redaction import Redactor
from bench.spec import TaskSpec
from bench.streaming import ResponseStore, RowExamples, chunks

if TYPE_CHECKING:
    from bench.determinism import Tolerance

__all__ = [
    "FAILURE_EXAMPLES",
    "FAILURE_GROUPS",
    "Callback",
    "DeterminismCheck",
    "Event",
    "PredictionSet",
    "RunConfig",
    "Scores",
    "build_record",
    "check_failures",
    "check_metrics",
    "current_record",
    "exemplar_pool",
    "failure_counts",
    "failure_kind",
    "failure_limit",
    "first_occurrence",
    "inputs_key",
    "now",
    "pair_fingerprint",
    "predict",
    "prepare",
    "sample_lines",
    "score",
    "skip_reason",
    "task_metrics",
    "unit_fingerprint",
    "write",
]


@dataclass(frozen=True)
class Event:
    """A progress report: ``kind`` is one of ``pair-start``, ``stage``, ``fit-progress`` (an
    adapter training: ``stage`` is the phase, such as ``epoch 2/3``, ``done``/``total`` its
    steps; see :meth:`~bench.adapters.base.Adapter.report_fit`), ``predict-start``,
    ``predict-progress``, ``score-progress`` (a model-based metric scoring: ``stage`` is the
    metric, ``done``/``total`` segments), ``pair-done``, ``pair-up-to-date`` (the record on
    disk is kept: ``message`` is its path), ``pair-skipped``, ``pair-failed``."""

    kind: str
    model: str
    task: str
    stage: str = ""
    done: int = 0
    total: int = 0
    message: str = ""


Callback = Callable[[Event], None]


def _quiet(_event: Event) -> None:
    return None


@dataclass(frozen=True)
class DeterminismCheck:
    """``--check-determinism``: re-run ``sample`` seeded examples with another batch size and
    no cache before the record is written (see :mod:`bench.determinism`; ``tolerance``, a
    :class:`bench.determinism.Tolerance`, overrides its float tolerance)."""

    sample: int = 32
    seed: int = 0
    tolerance: Tolerance | None = None


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
        determinism: Check each pair's determinism before its record is written.
        num_fewshot: ``--num-fewshot K``: overrides the ``k`` of every task's ``fewshot:``
            block for prompted adapters (``None``: the task's own ``k``).
        variants: ``--variant NAME``: the prompt variants prompted adapters are scored on
            (``None``: every variant of each task).
        rescore: ``--rescore``: score every pair, even one whose record is up to date
            (:func:`current_record`); by default such a pair is kept as it is.
    """

    results: Path
    cache: Path | None = None
    limit: int | None = None
    batch_size: int = 64
    bootstrap: BootstrapConfig = field(default_factory=BootstrapConfig)
    data: Mapping[str, Path] = field(default_factory=dict)
    max_failures: int | None = None
    determinism: DeterminismCheck | None = None
    num_fewshot: int | None = None
    variants: tuple[str, ...] | None = None
    rescore: bool = False


def now() -> str:
    """The current UTC time, as records write it."""
    return datetime.now(UTC).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- prepare


def skip_reason(adapter: Adapter, task: TaskSpec) -> str | None:
    """Why ``adapter`` cannot run on ``task`` at all (``None``: it can)."""
    if not adapter.supports(task.family):
        return f"does not support the {task.family} family"
    if adapter.requires_training and not get_family(task.family).has_train(task):
        return f"needs a train split and task {task.name} has none"
    return None


def prepare(
    task: TaskSpec,
    config: RunConfig,
    *,
    want_train: bool = False,
    progress: Callback | None = None,
    model: str = "",
    prompted: bool = False,
) -> Prepared:
    """Load, check and preprocess the task's data into requests and references.

    Args:
        task: The task.
        config: Its ``limit`` and ``data`` override apply.
        want_train: Also prepare a lazy loader of the train examples (trainable adapters).
        prompted: The requests are for a prompted (language-model) adapter: only the steps
            in the model view run (:func:`~bench.preprocess.model_view`), so it reads the
            original text unless the task puts a step in the model view.
        progress: Receives ``stage`` events (``preprocess``).
        model: The model's display name, for the events.

    Raises:
        BenchError: Bad data, a missing resource.
    """
    from bench.overlap import check_overlap, check_splits, count_overlap

    emit = progress or _quiet
    family = get_family(task.family)
    steps = build_steps(task)
    check_resources(steps)  # before any model call
    if prompted:
        steps = model_view(steps)
    check_splits(task)  # train and test the same split: refused for every model
    override = config.data.get(task.name)
    prepared = family.prepare(task, data_override=override, limit=config.limit)
    if prepared is not None:
        return prepared
    test = load_split(task, family, "test", data_override=override, limit=config.limit)
    emit(Event("stage", model, task.name, stage="preprocess"))
    rows = RowExamples(
        family, task, apply_steps(test.dataset, steps, family, desc=f"{task.name}: ")
    )
    prepared = Prepared(
        requests=rows.requests,
        references=rows.references,
        fingerprint=test.fingerprint,
        origin=test.origin,
        dropped=test.dropped,
        info=family.data_notes(rows.requests, rows.references),
    )
    if want_train and "train" in task.source.splits:
        train = load_split(task, family, "train", data_override=override)
        overlap = count_overlap(family, task, test.dataset, train.dataset)
        check_overlap(task, overlap)  # more than the task allows: refused before any fit
        prepared.train_overlap = overlap.count

        def load_train() -> list[tuple[Request, Any]]:
            ds = apply_steps(train.dataset, steps, family, desc=f"{task.name} train: ")
            return list(RowExamples(family, task, ds).pairs())

        prepared.train_fingerprint = train.fingerprint
        prepared.load_train = load_train
    return prepared


def trains_on(adapter: Adapter, task: TaskSpec, prepared: Prepared) -> bool:
    """Whether ``adapter`` is fitted on ``prepared``'s train examples before it predicts."""
    has_train = get_family(task.family).has_train(task)
    return adapter.trainable and has_train and prepared.load_train is not None


def pair_fingerprint(adapter: Adapter, task: TaskSpec, prepared: Prepared) -> str:
    """The identity of the pair's predictions in the cache: the adapter's (pure) fingerprint
    for ``task``, and for a trained adapter what it is trained on."""
    fingerprint = adapter.fingerprint(task)
    if trains_on(adapter, task, prepared):
        # The steps' identity includes the libraries and data they depend on (a jieba
        # upgrade retrains), not only their names and params.
        steps = steps_identity(build_steps(task))
        fingerprint = combine(fingerprint, "train", prepared.train_fingerprint, steps)
    return fingerprint


def inputs_key(
    adapter: Adapter, task: TaskSpec, config: RunConfig, protocol_identity: Any = None
) -> str | None:
    """The identity of everything a pair's record is made from, computed before any data is
    read: bench's version; the task as it runs (every field of the spec, added metrics
    included); its data's :func:`~bench.data.overrides.source_identity` (``--data`` copies
    included); the preprocessing steps' identity (their libraries and resources); the
    adapter's fingerprint for the task; a prompted pair's protocol identity (shots, variants,
    scoring, generation); the bootstrap settings; ``--limit`` and ``--max-failures``; Python
    and the versions of the packages that can change a number.

    Two runs with the same key compute the same record (timings and run id aside), so
    :func:`current_record` may keep the one on disk. ``None`` when the data cannot be
    identified before it is read (an unpinned hub dataset): such a pair is always scored.
    """
    from bench.data.overrides import source_identity
    from bench.records import package_versions

    data = source_identity(task, config.data.get(task.name))
    if data is None:
        return None
    return combine(
        "inputs",
        __version__,
        short_hash(task.model_dump(mode="json")),
        data,
        steps_identity(build_steps(task)),
        adapter.fingerprint(task),
        short_hash(protocol_identity),
        short_hash(config.bootstrap.model_dump(mode="json")),
        short_hash([config.limit, config.max_failures]),
        short_hash([sys.version, package_versions()]),
    )


def current_record(
    config: RunConfig, model: ModelSpec, task: TaskSpec, key: str | None
) -> tuple[Path, RunRecord] | None:
    """The record already on disk for this pair when it is up to date: written with the same
    :func:`inputs_key` ``key``, beside its ``samples.jsonl`` of the same run, and with no
    failed example (failures are never cached: a new run retries them). ``None`` when there
    is none, when it is stale, damaged or of an older bench, when ``key`` is ``None``, and
    always under ``--rescore`` or ``--check-determinism`` (both ask for a new run)."""
    from bench.folders import run_folder
    from bench.records import load_record

    if key is None or config.rescore or config.determinism is not None:
        return None
    try:
        folder = run_folder(Path(config.results), model.display_name, task.name, config.limit)
        path = folder / "record.json"
        if not path.is_file():
            return None
        record = load_record(path)
        if record.inputs_key != key or record.model.name != model.display_name:
            return None
        if record.failures.count:
            return None  # failed examples are never cached: a new run retries them
        with open(folder / "samples.jsonl", encoding="utf-8") as fh:
            first = fh.readline()
        if first and json.loads(first).get("run_id") != record.run_id:
            return None  # samples of another run: a write was cut off between the two files
    except (BenchError, OSError, ValueError, AttributeError):
        return None  # the run goes on and says what is wrong, or writes over it
    return path, record


def exemplar_pool(
    task: TaskSpec, config: RunConfig, prepared: Prepared, split: str
) -> list[tuple[Request, Any]]:
    """The in-context example pool of ``task``: its ``split`` role, preprocessed like a prompted
    adapter's test requests (the model view of the steps), as ``(request, reference)`` pairs
    (read once per pair, shared by every unit).

    A family that prepares its own data (recommendation) gives its train examples through
    ``prepared.load_train``.

    Raises:
        TaskSpecError: The family prepares its own data and ``split`` is not ``train``.
        BenchError: Bad data in the split.
    """
    from bench.errors import TaskSpecError

    family = get_family(task.family)
    if split == "train" and prepared.load_train is not None:
        return list(prepared.load_train())
    override = config.data.get(task.name)
    if type(family).prepare is not Family.prepare:  # the family builds its own requests
        raise TaskSpecError(
            f"task {task.name}: the {task.family} family draws in-context examples only from "
            f"its train split, not '{split}'",
            fix="set fewshot.split: train",
        )
    loaded = load_split(task, family, split, data_override=override)
    # Exemplars are shown to a prompted model beside the test example: the same model view.
    steps = model_view(build_steps(task))
    ds = apply_steps(loaded.dataset, steps, family, desc=f"{task.name} {split}: ")
    return list(RowExamples(family, task, ds).pairs())


def unit_fingerprint(adapter: Adapter, bound: TaskSpec, prepared: Prepared) -> str:
    """The cache identity of one unit's predictions: :func:`pair_fingerprint` of the adapter
    configured for ``bound`` (:meth:`bench.protocol.Protocol.bind`), combined with what
    makes the unit: the bound prompt's hash, the scoring block and the generation settings
    (its per-sample seed included). Exemplars are in each request's content hash already."""
    return combine(
        pair_fingerprint(adapter, bound, prepared),
        "unit",
        bound.prompt_hash(),
        short_hash(bound.scoring.model_dump(mode="json") if bound.scoring else None),
        short_hash(bound.generation.model_dump(mode="json") if bound.generation else None),
    )


# --------------------------------------------------------------------------- predict


@dataclass
class PredictionSet:
    """Every example's response (or failure) after :func:`predict`.

    Attributes:
        responses: One response per example (``None`` where it failed or, for a ``span``,
            where it was not asked for).
        failures: ``{id: Failure.label}`` of the failed examples (the first failure per id).
        cached: Examples answered from the cache.
        computed: Examples answered by the adapter (duplicates of a request included).
        calls: ``predict`` calls made.
        seconds: Time spent, training included.
        cache_dropped: Damaged cache rows dropped and predicted again.
    """

    responses: ResponseStore
    failures: dict[str, str] = field(default_factory=dict)
    cached: int = 0
    computed: int = 0
    calls: int = 0
    seconds: float = 0.0
    cache_dropped: int = 0

    def counts(self) -> PredictionCounts:
        """The record's ``predictions`` section."""
        return PredictionCounts(
            total=len(self.responses),
            cached=self.cached,
            computed=self.computed,
            failed=len(self.failures),
        )

    def failure_counts(self) -> FailureCounts:
        """The record's ``failures`` section (see :func:`failure_counts`)."""
        return failure_counts(self.failures)


FAILURE_EXAMPLES = 10
"""Example ids a record keeps per kind of failure."""
FAILURE_GROUPS = 20
"""Distinct labels (and kinds) a record's failure counts keep; the rest are counted together."""


def failure_kind(label: str) -> str:
    """The kind of a failure label: its text before the first ``": "`` (the cause of a
    ``cause: message`` label), else the whole label.

    Example:
        >>> failure_kind("missing: no prediction in p.jsonl")
        'missing'
    """
    return label.partition(": ")[0] or label


def failure_counts(failures: Mapping[str, str]) -> FailureCounts:
    """The record's ``failures`` section for ``{id: Failure.label}``: bounded in size however
    many examples failed and however many distinct messages they carry.

    ``by_kind`` gives each kind's count and its first :data:`FAILURE_EXAMPLES` ids;
    ``by_cause`` keeps the :data:`FAILURE_GROUPS` most common labels and counts the others of
    each kind under ``"<kind>: (other messages)"``, so its values still add up to ``count``.

    Example:
        >>> counts = failure_counts({f"q{i}": f"missing: id q{i}" for i in range(30)})
        >>> counts.by_kind["missing"].count, len(counts.by_kind["missing"].ids)
        (30, 10)
        >>> counts.by_cause["missing: (other messages)"]
        10
    """
    labels = Counter(failures.values())
    kept = dict(sorted(labels.items(), key=lambda kv: (-kv[1], kv[0]))[:FAILURE_GROUPS])
    by_cause = Counter(kept)
    for label, n in labels.items():
        if label not in kept:
            by_cause[f"{failure_kind(label)}: (other messages)"] += n
    members: dict[str, list[str]] = {}
    for key, label in failures.items():
        members.setdefault(failure_kind(label), []).append(key)
    ranked = sorted(members.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    groups = dict(ranked[:FAILURE_GROUPS])
    rest = [key for _, ids in ranked[FAILURE_GROUPS:] for key in ids]
    if rest:
        groups["(other kinds)"] = rest
    return FailureCounts(
        count=len(failures),
        by_cause=dict(sorted(by_cause.items())),
        by_kind={
            kind: FailureKind(count=len(ids), ids=sorted(ids)[:FAILURE_EXAMPLES])
            for kind, ids in sorted(groups.items())
        },
        ids=sorted(failures)[:100],
    )


def first_occurrence(digests: np.ndarray) -> np.ndarray:
    """For each row of ``digests`` (n × 32 bytes), the index of the first equal row.

    Rows are grouped by their first 4 bytes (one sort of n integers); only groups of more than
    one row are compared on all their bytes, so the answer is exact. (At a million distinct
    rows about a hundred pairs share a 4-byte head; grouping on fewer bytes keeps the sort's
    temporary arrays small, which is the peak memory of a large run.) The result is int32
    below 2**31 rows.
    """
    n = digests.shape[0]
    first = np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)
    if n < 2:
        return first
    head = np.ascontiguousarray(digests[:, :4]).view(np.uint32).ravel()
    order = np.argsort(head, kind="stable")  # equal heads keep their order of appearance
    head = head[order]  # sorted; the unsorted copy is freed
    same = head[1:] == head[:-1]
    del head
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


def _call(
    adapter: Adapter, batch: list[Request], family: Family, redactor: Redactor | None = None
) -> list[Response | Failure]:
    """One ``predict`` call, checked: one :class:`Response` of the family or one
    :class:`Failure` per request, with the adapter's secrets masked (``redactor``). An
    exception from the adapter stops the run."""
    redactor = redactor or Redactor()
    try:
        got = list(adapter.predict(batch))
    except BenchError:
        raise
    except Exception as exc:  # a bug in the adapter: stop, naming it (never a silent 0)
        raise AdapterError(
            f"adapter {adapter.name} raised {type(exc).__name__}: "
            f"{redactor.text(str(exc)[:300])} (on a "
            f"batch of {len(batch)} {family.name} requests, first id {batch[0].id!r}); the "
            "predictions of earlier batches are cached",
            fix="an adapter returns a Failure for an example it cannot answer and raises only "
            "on a bug: fix the adapter (or its input), then re-run to resume",
        ) from exc
    if len(got) != len(batch):
        raise AdapterError(
            f"adapter {adapter.name} returned {len(got)} responses for {len(batch)} requests",
            fix="an adapter returns exactly one response (or Failure) per request",
        )
    for item in got:
        if not isinstance(item, Failure | family.response_type):
            raise AdapterError(
                f"adapter {adapter.name} returned a {type(item).__name__} for a {family.name} "
                f"request, not a {family.response_type.__name__} or a Failure",
                fix="return the family's response type (or a Failure) for every request",
            )
    if redactor:
        got = [_masked(item, family, redactor) for item in got]
    for k, (req, item) in enumerate(zip(batch, got, strict=True)):
        problem = None if isinstance(item, Failure) else family.check_response(item, req)
        if problem is not None:
            # An answer the metrics cannot score (a label outside the task's set) is counted,
            # never scored as if it were one.
            got[k] = Failure(cause="invalid", message=problem[:300])
    return got


def _masked(item: Response | Failure, family: Family, redactor: Redactor) -> Response | Failure:
    """``item`` with every secret masked (the same object when it holds none)."""
    if isinstance(item, Failure):
        cause, message = redactor.text(item.cause), redactor.text(item.message)
        if (cause, message) == (item.cause, item.message):
            return item
        return Failure(cause=cause, message=message)
    data = item.model_dump(mode="json")
    clean = redactor.value(data)
    return item if clean == data else family.response_type.model_validate(clean)


def predict(
    adapter: Adapter,
    requests: Sequence[Request],
    cache: PredictionCache | None,
    *,
    family: Family,
    fingerprint: str,
    batch_size: int = 64,
    before_compute: Callable[[], None] | None = None,
    progress: Callback | None = None,
    pair: tuple[str, str] = ("", ""),
    span: tuple[int, int] | None = None,
) -> PredictionSet:
    """Answer every request: from the cache where it can, else from the adapter.

    Equal requests are answered once (unless the adapter is not :attr:`~Adapter.cacheable`:
    it answers by id), in batches of ``batch_size``, ordered across the whole set by the
    adapter's :meth:`~Adapter.sort_key` when it has one (answers still come back in input
    order); each batch is committed to the cache as
    soon as it is answered, so an interrupted or failed run resumes after its last batch.
    Failures are counted, never cached.

    Args:
        adapter: The adapter, already configured for the task (:meth:`Adapter.for_task`).
        requests: The task's requests.
        cache: The prediction cache (``None``, or an adapter that is not cacheable: no cache).
        family: The task's family (reads cached responses back).
        fingerprint: The pair's identity in the cache (:func:`pair_fingerprint`).
        batch_size: Requests per ``predict`` call.
        before_compute: Called once before the first ``predict`` call (training).
        progress: Receives ``predict-start`` and ``predict-progress`` events.
        pair: ``(model, task)`` display names, for the events.
        span: Predict only examples ``[start, stop)`` (a shard of a cluster run).

    Raises:
        AdapterError: The adapter raised (a bug), or returned the wrong number or type of
            answers.
    """
    emit = progress or _quiet
    tick = time.perf_counter()
    n = len(requests)
    lo, hi = span if span is not None else (0, n)
    use_cache = cache if adapter.cacheable else None
    # The adapter's secrets (an API key a server may echo) are masked in every answer before
    # it is cached, scored or written: no file a run writes holds them.
    redactor = Redactor(adapter.secrets())
    out = PredictionSet(ResponseStore(family, n))
    # Requests are read chunk by chunk; what is kept per example is its content hash (32
    # bytes) and, in the response store, the index of its response among distinct responses.
    digests = np.zeros((hi - lo, 32), dtype=np.uint8)
    todo = np.zeros(hi - lo, dtype=bool)
    damaged: set[str] = set()  # damaged cache rows, dropped: predicted again and replaced
    for start, part in chunks(range(lo, hi)):
        hexes = [requests[i].content_hash() for i in part]
        if not hexes:
            continue
        raw = b"".join(bytes.fromhex(h) for h in hexes)
        digests[start : start + len(hexes)] = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 32)
        found = (
            use_cache.get_many(
                fingerprint, hexes, response_type=family.response_type, damaged=damaged
            )
            if use_cache is not None
            else {}
        )
        for k, h in enumerate(hexes, start=start):
            if h in found:
                # The cache returns only rows that validate against the family's response
                # model, as that model dumped them: no second parse.
                out.responses.set(lo + k, found[h])
            else:
                todo[k] = True
    out.cached = int((~todo).sum())
    out.cache_dropped = len(damaged)
    first_of = first_occurrence(digests) if adapter.cacheable else np.arange(hi - lo)
    unique = np.flatnonzero(todo & (first_of == np.arange(hi - lo, dtype=first_of.dtype)))
    emit(Event("predict-start", *pair, done=out.cached, total=hi - lo))
    failed_at: dict[int, str] = {}
    if len(unique) and before_compute is not None:
        before_compute()
    done = out.cached
    unique = _by_sort_key(adapter, requests, unique, lo)
    for start in range(0, len(unique), batch_size):
        batch = (unique[start : start + batch_size] + lo).tolist()
        got = _call(adapter, [requests[i] for i in batch], family, redactor)
        out.calls += 1
        new = []
        for i, item in zip(batch, got, strict=True):
            if isinstance(item, Failure):
                failed_at[i] = item.label
            else:
                data = item.model_dump(mode="json")
                out.responses.set(i, data)
                new.append((digests[i - lo].tobytes().hex(), data))
        if use_cache is not None and new:
            use_cache.put_many(fingerprint, new, response_type=family.response_type)
        done += len(batch)
        emit(Event("predict-progress", *pair, done=min(done, hi - lo), total=hi - lo))
    for k in np.flatnonzero(todo & (first_of != np.arange(hi - lo, dtype=first_of.dtype))).tolist():
        i, j = lo + k, lo + int(first_of[k])
        if out.responses.has(j):
            out.responses.copy(i, j)
        else:
            failed_at[i] = failed_at[j]
    for i in sorted(failed_at):
        out.failures.setdefault(requests[i].id, failed_at[i])
    out.computed = int(todo.sum()) - len(failed_at)
    out.seconds = time.perf_counter() - tick
    return out


def _by_sort_key(
    adapter: Adapter, requests: Sequence[Request], unique: np.ndarray, lo: int
) -> np.ndarray:
    """``unique`` (offsets from ``lo``) ordered by the adapter's :meth:`~Adapter.sort_key`
    across the whole set (stable: equal keys keep input order), so ``--batch-size`` chunks do
    not cut an adapter's length-sorted batching; unchanged when any key is ``None``."""
    if len(unique) < 2:
        return unique
    keys = []
    for k in unique.tolist():
        key = adapter.sort_key(requests[lo + k])
        if key is None:
            return unique
        keys.append(key)
    return unique[np.argsort(np.asarray(keys, dtype=np.int64), kind="stable")]


def failure_limit(model: ModelSpec, config: RunConfig) -> int | None:
    """How many failed examples a pair tolerates: ``config.max_failures`` when set, else 0 for
    built-in baselines (``baseline:*``) and no limit (``None``) for every other model."""
    if config.max_failures is not None:
        return config.max_failures
    return 0 if model.kind == "baseline" else None


def check_failures(
    model: ModelSpec,
    task: TaskSpec,
    failures: Mapping[str, str],
    n: int,
    config: RunConfig,
    *,
    units: int = 1,
) -> None:
    """Stop the pair when every example failed, or more than :func:`failure_limit` allows.

    A pair in which every example failed (an unreachable server, an adapter that cannot
    answer this task) has no score: its record would read 0 with a zero-width interval. It is
    an error whatever the causes, for every kind of adapter, unless ``--max-failures`` is set
    to ``n`` or more (the explicit way to record such a pair). Nothing computed is lost: no
    example succeeded, and the record of an earlier run of the pair is left as it was.

    ``n`` counts answers: with several units (prompt variants × draws × samples of a
    prompted run) every example is answered once per unit, and ``n`` is examples × ``units``.

    Raises:
        TooManyFailures: Naming the counts and the most common causes.
    """
    limit = failure_limit(model, config)
    examples = n // units if units > 1 else n
    across = f" in all {units} units ({n} answers)" if units > 1 else ""
    answers = "answers" if units > 1 else "examples"
    everything = n > 0 and len(failures) >= n
    if not everything and (limit is None or len(failures) <= limit):
        return
    if everything and config.max_failures is not None and len(failures) <= config.max_failures:
        return
    causes = Counter(failures.values()).most_common(3)
    most_common = "; ".join(f"{c} ×{k}" for c, k in causes)
    if everything and (limit is None or limit > 0):
        raise TooManyFailures(
            f"{model.display_name} on {task.name}: all {examples} examples failed{across} "
            "(causes: "
            f"{most_common}{'; ...' if len(set(failures.values())) > 3 else ''}); there is no "
            "score to record, so no record was written",
            fix="fix the cause (is the server reachable, the model answering this task?) and "
            f"re-run; to record such a pair anyway pass --max-failures {n}",
        )
    raise TooManyFailures(
        f"{model.display_name} on {task.name}: {len(failures)} of {n} {answers} failed "
        f"(most common: {most_common}); predictions that "
        f"succeeded are cached (--max-failures is {limit})",
        fix="fix the model or raise --max-failures, then re-run",
    )


# --------------------------------------------------------------------------- score


@dataclass
class Scores:
    """What :func:`score` computed.

    Attributes:
        values: Corpus values (with intervals) by metric name.
        skipped: Metrics that could not be computed, with the reason.
        per_example: One ``{score: value}`` dict per example.
        segments: Per-segment sufficient statistics of corpus metrics, by metric name.
        seconds: Time spent.
        segment_counts: Model-based metrics' segment-cache counts, by metric name
            (``{segments, hits, computed, failed}``).
    """

    values: dict[str, MetricValue]
    skipped: dict[str, str]
    per_example: Sequence[dict[str, Any]]
    segments: dict[str, list[Any]]
    seconds: float = 0.0
    segment_counts: dict[str, dict[str, int]] = field(default_factory=dict)


def task_metrics(task: TaskSpec) -> list[Metric]:
    """The metric objects of ``task``, in ``task.metrics`` order."""
    from bench.registry import registry

    return [registry.get("metric", m.name)(**m.params) for m in task.metrics]


def check_metrics(tasks: Sequence[TaskSpec]) -> None:
    """Check, before any model is called, that every metric of ``tasks`` can run here: its
    parameters are valid and (model-based metrics, :meth:`ModelMetric.check`) its package and
    model are present, so a missing metric model never surfaces after an hour of predictions.

    Raises:
        BenchError: A metric's parameters are invalid (the task, metric and parameter are
            named), or :class:`~bench.errors.MissingDependency` for a missing package or model.
    """
    from pydantic import ValidationError

    from bench.metrics.model_based import ModelMetric
    from bench.registry import registry

    for task in tasks:
        for spec in task.metrics:
            cls = registry.get("metric", spec.name)
            try:
                metric = cls(**spec.params)
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or 'params'}: {e['msg']}"
                    for e in exc.errors()
                )
                raise BenchError(
                    f"task {task.name}: metric '{spec.name}': {problems}",
                    fix=f"set the metric's parameters (--metrics +{spec.name}:key=value,... or "
                    "the task file)",
                ) from None
            if isinstance(metric, ModelMetric):
                metric.check(task)


def score(
    task: TaskSpec,
    prepared: Prepared,
    responses: Sequence[Response | None],
    bootstrap: BootstrapConfig,
    *,
    model: str = "",
    cache: Path | None = None,
    progress: Callback | None = None,
) -> Scores:
    """Score ``responses`` (``None``: a failed example, scored as a miss) against the
    prepared references with every metric of the task.

    ``cache`` is the prediction cache file, where model-based metrics read and write each
    segment's scores; ``progress`` receives ``score-progress`` events while they score.

    Raises:
        UnscoredPair: The task's primary metric could not be computed from these answers.
    """
    tick = time.perf_counter()
    metrics = task_metrics(task)
    emit = progress or _quiet

    def report(metric: str, done: int, total: int) -> None:
        emit(Event("score-progress", model, task.name, stage=metric, done=done, total=total))

    from bench.metrics.model_based import ModelMetric

    segment_cache = (
        PredictionCache(cache)
        if cache is not None and any(isinstance(m, ModelMetric) for m in metrics)
        else None
    )
    ctx = ScoringContext(
        task,
        prepared.requests,
        prepared.references,
        responses,
        bootstrap,
        segment_cache=segment_cache,
        progress=report,
    )
    try:
        values, skipped, per_example = score_task(ctx, metrics)
    finally:
        if segment_cache is not None:
            segment_cache.close()
    if task.primary_metric not in values:
        raise UnscoredPair(
            f"task {task.name}: primary metric '{task.primary_metric}' could not be computed "
            f"for {model}: {skipped.get(task.primary_metric, 'unknown reason')}",
            fix="choose a primary metric every adapter can be scored on",
        )
    segments = {}
    for spec, metric in zip(task.metrics, metrics, strict=True):
        rows = metric.segment_statistics(ctx)
        if rows is not None:
            segments[spec.name] = rows
    return Scores(
        values, skipped, per_example, segments, time.perf_counter() - tick, ctx.segment_counts
    )


# --------------------------------------------------------------------------- record


def _public_spec(model: ModelSpec) -> str:
    parts = [
        f"{model.kind}:{model.target}",
        *(f"{k}={v}" for k, v in model.public_params().items()),
    ]
    return ",".join(parts)


def _portable_origin(origin: str) -> str:
    # Paths inside the package are shown relative to it, so records do not depend on where
    # bench is installed.
    return origin.replace(str(BUILTIN_ROOT) + "/", "builtin:")


def build_record(
    *,
    model: ModelSpec,
    task: TaskSpec,
    adapter: Adapter,
    prepared: Prepared,
    fingerprint: str,
    scores: Scores,
    predictions: PredictionCounts,
    failures: FailureCounts,
    timings: Timings,
    bootstrap: BootstrapConfig,
    started_at: str,
    info: Mapping[str, Any] | None = None,
    determinism: Mapping[str, Any] | None = None,
    limit: int | None = None,
    cache_dropped: int | None = None,
    protocol: ProtocolResult | None = None,
    inputs_key: str | None = None,
) -> RunRecord:
    """The typed record of one pair (a fresh ``run_id``).

    Args:
        model: The model spec (secrets are masked in the record).
        task: The task.
        adapter: The adapter that answered (its name; its :meth:`~Adapter.info` unless
            ``info`` is given).
        prepared: The prepared data (fingerprints, origin, protocol notes).
        fingerprint: The pair's fingerprint (:func:`pair_fingerprint`).
        scores: What :func:`score` computed.
        predictions: Where the predictions came from (a cluster run adds up its jobs' counts).
        failures: The failed examples by cause.
        timings: Seconds per stage.
        bootstrap: The interval settings.
        started_at: When the pair started (:func:`now`).
        info: The record's ``model.info`` when it is not the adapter's own (a sharded run).
        determinism: The ``--check-determinism`` report.
        limit: The run's ``--limit``, recorded when it may have cut the test split (as many
            examples as the limit); with fewer, the whole split was scored: a full record.
        cache_dropped: Damaged cache rows the prediction dropped (``None``: not counted).
        protocol: A prompted run's per-unit results (:func:`bench.metrics.units.aggregate`).
        inputs_key: The pair's :func:`inputs_key` (``None``: not known before the data was
            read; the record is then never reused).
    """
    trained = trains_on(adapter, task, prepared)
    n = len(prepared.requests)
    return RunRecord(
        run_id=uuid.uuid4().hex,
        started_at=started_at,
        finished_at=now(),
        bench_version=__version__,
        task=TaskInfo(
            name=task.name,
            version=task.version,
            family=task.family,
            languages=list(task.languages),
            suite=task.suite,
            spec_hash=task.spec_hash(),
            dataset_fingerprint=prepared.fingerprint,
            dataset_origin=_portable_origin(prepared.origin),
            train_fingerprint=prepared.train_fingerprint if trained else None,
            train_overlap=prepared.train_overlap,
            dropped_rows=prepared.dropped,
            limit=limit if limit is not None and n >= limit else None,
            protocol=prepared.info or None,
            preprocess=[s.identity() for s in build_steps(task)],
            preprocess_hash=task.preprocess_hash(),
            prompt_hash=task.prompt_hash(),
            n_examples=n,
            labels=list(get_family(task.family).labels(task)) or None,
            metric_specs=[m.model_dump(mode="json") for m in task.metrics],
        ),
        model=ModelInfo(
            name=model.display_name,
            spec=_public_spec(model),
            adapter=adapter.name,
            fingerprint=fingerprint,
            params=model.typed_params(adapter),
            info=Redactor(adapter.secrets()).value(dict(adapter.info() if info is None else info)),
        ),
        primary_metric=task.primary_metric,
        metrics=scores.values,
        metrics_skipped=scores.skipped,
        bootstrap=bootstrap.model_dump(),
        timings=timings,
        predictions=predictions,
        failures=failures,
        environment=environment(),
        seeds=run_seeds(bootstrap.seed, task, model.public_params()),
        determinism=dict(determinism) if determinism is not None else None,
        cache_dropped=cache_dropped,
        protocol=protocol,
        segment_cache=segment_cache_counts(scores.segment_counts),
        inputs_key=inputs_key,
    )


def segment_cache_counts(counts: Mapping[str, Mapping[str, int]]) -> dict[str, Any] | None:
    """The record's ``segment_cache`` from :attr:`Scores.segment_counts` (``None`` when no
    model-based metric ran)."""
    from bench.records import SegmentCounts

    return {name: SegmentCounts(**c) for name, c in counts.items()} or None


def sample_lines(
    record: RunRecord,
    family: Family,
    prepared: Prepared,
    responses: ResponseStore,
    failures: Mapping[str, str],
    scores: Scores,
    *,
    unit: str | None = None,
) -> Iterator[SampleLine]:
    """The lines of ``samples.jsonl``, one example at a time, each with the record's
    ``run_id``; ``shots`` (the ids of a request's in-context examples) where it has any, and
    ``unit`` (:attr:`bench.protocol.Unit.key`) on the lines of a run with several units."""
    segments = scores.segments
    for i, (req, ref, resp) in enumerate(
        zip(prepared.requests, prepared.references, responses, strict=True)
    ):
        yield SampleLine(
            unit=unit,
            shots=[s.id for s in req.shots] if req.shots else None,
            id=req.id,
            input=family.sample_input(req),
            prediction=family.sample_prediction(resp),
            response=responses.data(i),
            reference=ref,
            failure=failures.get(req.id),
            scores=scores.per_example[i],
            segment_stats={m: rows[i] for m, rows in segments.items()} if segments else None,
            run_id=record.run_id,
        )


def write(
    config: RunConfig, model: ModelSpec, record: RunRecord, samples: Iterator[SampleLine]
) -> Path:
    """Write ``RESULTS/<model>/<task>/samples.jsonl`` and ``record.json`` (atomically, the
    record last); returns the record's path.

    The folder is :func:`bench.folders.run_folder`'s: a limited run beside a full run's record
    (``<task>@limit-N``), never over it; a folder that holds another model's record is refused.

    Raises:
        ResultsError: The folder cannot be written, or holds another model's record.
    """
    from bench.folders import run_folder

    folder = run_folder(
        Path(config.results), model.display_name, record.task.name, record.task.limit
    )
    return write_run(folder, record, samples)
