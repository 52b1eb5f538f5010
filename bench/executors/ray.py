"""The Ray executor: a run plan as (model, task, shard) jobs on a Ray cluster (extra ``[ray]``).

How a plan runs:

* Each model is loaded once per replica as a Ray actor (:class:`ModelWorker`) that asks for the
  ``num_cpus`` / ``num_gpus`` of its model spec; ``replicas=N`` loads N copies. An actor is
  killed as soon as its model's jobs are done, which frees its CPUs and GPUs for the next model.
  Built-in baselines that ask for no resources are cheaper to build than a process is to start:
  their jobs run as plain Ray tasks in Ray's pooled worker processes (:func:`_run_job`), each
  process keeping the last model it served.
* For a model that is not trained (HF and API models, rule-based baselines) and a run with a
  prediction cache, each task's test requests are cut into ``shards`` contiguous ranges; a shard
  job predicts its range and commits every batch to the shared SQLite prediction cache (WAL:
  several writers wait for each other instead of failing).
* A trainable baseline (anything with ``fit``) is fitted once per (model, task): its pair is one
  job, a fresh adapter that is fitted and predicts the whole test set into the cache (the job
  scores without intervals and throws that record away).
* When a pair's jobs are done, the driver runs the ordinary :func:`bench.runner.run_pair` on it,
  which finds every prediction in the cache, scores it and writes the record: records are
  produced by the very code of a local run, on the driver's machine, so their metrics are
  byte-identical to a local run's there (for adapters whose answer to a request does not depend
  on the other requests of its batch). The record's ``predictions`` counts and ``model.info``
  are taken from the jobs; its ``timings`` are the driver's (loading and scoring).
* Without a cache (``--no-cache``) jobs cannot hand predictions over: each pair is one job that
  also scores and writes the record, on its worker.
* API models (``openai:``) use no CPU of their own (``num_cpus`` 0 unless given) and share one
  budget: at most ``api_concurrency`` of their jobs are in flight at once, over all API models.
* A worker that dies (killed, out of memory, a crashed CUDA kernel) is restarted by Ray up to
  ``max_retries`` times and its job re-run; the job resumes from the cache, so only the batch in
  flight is predicted again.

The results folder and the cache must be reachable at the same paths on every node (one machine,
or a shared filesystem); relative paths are made absolute on the driver.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.adapters.base import ModelSpec, make_adapter
from bench.errors import AdapterError, BenchError, MissingDependency
from bench.executors import API_KINDS, EXECUTOR_PARAMS, Resources, split_resources

if TYPE_CHECKING:
    from bench.families.base import Family, Prepared
    from bench.runner import Callback, RunConfig, RunOutcome
    from bench.spec import TaskSpec

__all__ = ["ModelWorker", "RayExecutor", "import_ray"]


def import_ray() -> Any:
    """Import ``ray``, or raise :class:`MissingDependency` naming the ``[ray]`` extra."""
    try:
        import ray
    except ImportError as exc:
        raise MissingDependency(
            "--executor ray needs the 'ray' package, which is not installed",
            fix="pip install 'bench[ray]'",
        ) from exc
    return ray


@dataclass(frozen=True)
class ShardStats:
    """What a job did: its range of the test set and how many predictions it found in the
    cache, computed or failed to compute, in how many ``predict`` calls."""

    start: int
    stop: int
    cached: int = 0
    computed: int = 0
    failed: int = 0
    calls: int = 0
    info: dict[str, Any] = field(default_factory=dict)
    """The adapter's ``info()`` after the job (the record's ``model.info``)."""


class ModelWorker:
    """One replica of one model, run as a Ray actor (a plain class, so it is testable in-process).

    Args:
        model: The model spec (executor parameters already removed).
        config: The run settings (absolute paths).
        trainable: Whether the adapter is fitted per task: then each pair gets a fresh adapter,
            as in a local run; otherwise the adapter is built once and serves every task.
    """

    def __init__(self, model: ModelSpec, config: RunConfig, trainable: bool) -> None:
        from bench.cache import PredictionCache

        self.model = model
        self.config = config
        self.adapter = None if trainable else make_adapter(model)
        self.cache = PredictionCache(config.cache) if config.cache else None
        self._prepared: dict[str, Prepared] = {}

    def fill(self, task: TaskSpec, shard: int, shards: int) -> ShardStats:
        """Predict shard ``shard`` of ``shards`` of the task's test requests into the cache."""
        from bench.families.base import get_family
        from bench.runner import _predict_batch

        assert self.adapter is not None and self.cache is not None  # the executor's invariant
        family = get_family(task.family)
        adapter = self.adapter
        if callable(getattr(adapter, "bind", None)):
            adapter.bind(task, family)
        prepared = self._prepare(task, family)
        requests = prepared.requests
        start, stop = len(requests) * shard // shards, len(requests) * (shard + 1) // shards
        fingerprint = adapter.fingerprint()
        hashes = {i: requests[i].content_hash() for i in range(start, stop)}
        found = self.cache.get_many(fingerprint, list(dict.fromkeys(hashes.values())))
        first_of: dict[str, int] = {}
        todo = [i for i, h in hashes.items() if h not in found and first_of.setdefault(h, i) == i]
        computed = failed = calls = 0
        for lo in range(0, len(todo), self.config.batch_size):
            batch = todo[lo : lo + self.config.batch_size]
            got, _errors = _predict_batch(adapter, [requests[i] for i in batch])
            calls += 1
            new = [
                (hashes[i], resp.model_dump(mode="json"))
                for i, resp in zip(batch, got, strict=True)
                if resp is not None
            ]
            self.cache.put_many(fingerprint, new)
            computed += len(new)
            failed += len(batch) - len(new)
        cached = sum(1 for h in hashes.values() if h in found)
        info = dict(getattr(adapter, "info", dict)())
        return ShardStats(start, stop, cached, computed, failed, calls, info)

    def run(self, task: TaskSpec, handover: bool) -> ShardStats | RunOutcome:
        """The pair's one job: fit (trainable adapters, on a fresh adapter) and predict all.

        With ``handover`` (a cache the adapter uses), the predictions are what counts: the pair
        is scored without intervals into a temporary folder, and only its prediction counts and
        the adapter's info come back (the driver writes the record). Otherwise this is the
        pair's real :func:`~bench.runner.run_pair`.
        """
        import tempfile

        from bench.metrics.base import BootstrapConfig
        from bench.runner import run_pair

        if not handover or self.cache is None:
            return run_pair(self.model, task, self.config, cache=self.cache, adapter=self.adapter)
        with tempfile.TemporaryDirectory(prefix="bench-ray-") as scratch:
            config = dataclasses.replace(
                self.config, results=Path(scratch), bootstrap=BootstrapConfig(resamples=0)
            )
            outcome = run_pair(self.model, task, config, cache=self.cache, adapter=self.adapter)
        if outcome.record is None:
            raise AdapterError(f"{self.model.display_name} on {task.name}: {outcome.reason}")
        counts = outcome.record.predictions
        return ShardStats(
            0,
            counts["total"],
            cached=counts["cached"],
            computed=counts["computed"],
            failed=counts["failed"],
            calls=outcome.adapter_calls,
            info=dict(outcome.record.model.info),
        )

    def close(self) -> None:
        """Close the cache connection."""
        if self.cache is not None:
            self.cache.close()

    def _prepare(self, task: TaskSpec, family: Family) -> Prepared:
        # The same preparation as run_pair's, kept for the last task (its shards come in a row).
        if task.name not in self._prepared:
            self._prepared.clear()
            from bench.preprocess import build_steps
            from bench.runner import _prepare_rows

            override = self.config.data.get(task.name)
            prepared = family.prepare(task, data_override=override, limit=self.config.limit)
            if prepared is None:
                prepared = _prepare_rows(
                    family,
                    task,
                    build_steps(task),
                    override,
                    self.config.limit,
                    lambda _e: None,
                    self.model.display_name,
                    want_train=False,
                )
            self._prepared[task.name] = prepared
        return self._prepared[task.name]


_LAST_WORKER: dict[str, ModelWorker] = {}


def _run_job(
    model: ModelSpec,
    config: RunConfig,
    trainable: bool,
    task: TaskSpec,
    shard: int | None,
    shards: int,
    handover: bool,
) -> Any:
    """One job of a built-in baseline, run as a plain Ray task.

    Built-in baselines are cheap to build, so an actor (a process of its own) per model costs
    more than the model: their jobs run as tasks in Ray's pooled worker processes instead, and
    each process keeps the :class:`ModelWorker` of the last model it served. Models that are
    expensive to load (HF, API clients, plugins) or that ask for resources use actors.
    """
    key = repr((model, config, trainable))
    worker = _LAST_WORKER.get(key)
    if worker is None:
        for old in _LAST_WORKER.values():
            old.close()
        _LAST_WORKER.clear()
        worker = _LAST_WORKER[key] = ModelWorker(model, config, trainable)
    if shard is None:
        return worker.run(task, handover)
    return worker.fill(task, shard, shards)


def _finish(
    spec: ModelSpec,
    task: TaskSpec,
    config: RunConfig,
    cache: Any,
    adapter: Any,
    jobs: Sequence[ShardStats],
    whole: bool,
) -> RunOutcome:
    """On the driver: score a pair whose jobs filled the cache, and write its record.

    The record's ``predictions`` counts and ``model.info`` come from the jobs: the info of the
    adapter that served the whole pair, or the driver's copy's info plus each shard's
    (``ray_shards``), since no single adapter served a sharded pair.
    """
    from bench.records import atomic_write_text
    from bench.runner import run_pair

    outcome = run_pair(spec, task, config, cache=cache, adapter=adapter)
    if outcome.record is None or outcome.record_path is None:
        return outcome
    counts = dict(outcome.record.predictions)
    counts["cached"] = sum(s.cached for s in jobs)
    # Duplicates of a request are answered by its prediction, so computed is the rest.
    counts["computed"] = counts["total"] - counts["cached"] - counts["failed"]
    info = (
        jobs[0].info
        if whole
        else {**outcome.record.model.info, "ray_shards": [s.info for s in jobs]}
    )
    model = outcome.record.model.model_copy(update={"info": info})
    record = outcome.record.model_copy(update={"predictions": counts, "model": model})
    atomic_write_text(outcome.record_path, record.model_dump_json(indent=2) + "\n")
    calls = outcome.adapter_calls + sum(s.calls for s in jobs)
    return dataclasses.replace(outcome, record=record, adapter_calls=calls)


@dataclass
class _Job:
    model: int
    task: int
    shard: int | None  # None: the pair's one job (fit and predict)
    shards: int = 1


@dataclass
class _Plan:
    spec: ModelSpec
    resources: Resources
    api: bool
    trainable: bool
    explicit: bool  # the spec asked for resources: always actors
    actors: list[Any] = field(default_factory=list)
    open_jobs: int = 0
    next_actor: int = 0

    @property
    def actor(self) -> bool:
        """Whether the model is loaded in actors (see :func:`_run_job` for the other way)."""
        return self.explicit or self.spec.kind != "baseline"


class RayExecutor:
    """Runs a plan on a Ray cluster; see the module docstring for how.

    Args:
        address: ``None`` connects to ``RAY_ADDRESS`` if set, else starts a local cluster;
            ``auto`` joins the cluster running on this machine; ``ray://host:port`` uses Ray
            Client. A Ray session already initialised in this process is used as it is.
        shards: Shards per (model, task) pair for models that are not trained (default: twice
            the model's replicas).
        api_concurrency: Jobs of API models in flight at once, over all API models.
        max_retries: How often a dead worker is restarted and its job re-run.
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        shards: int | None = None,
        api_concurrency: int = 4,
        max_retries: int = 3,
    ) -> None:
        if shards is not None and shards < 1:
            raise BenchError(f"--shards {shards}: needs at least 1", fix="pass --shards 1 or more")
        if api_concurrency < 1:
            raise BenchError(
                f"--api-concurrency {api_concurrency}: needs at least 1",
                fix="pass --api-concurrency 1 or more",
            )
        import_ray()  # fail before anything runs when the extra is missing
        self.address = address
        self.shards = shards
        self.api_concurrency = api_concurrency
        self.max_retries = max_retries
        self.peak_api_in_flight = 0
        """The most API-model jobs that were in flight at once in the last run."""

    def run(
        self,
        models: Sequence[ModelSpec],
        tasks: Sequence[TaskSpec],
        config: RunConfig,
        progress: Callback | None = None,
    ) -> list[RunOutcome]:
        """Evaluate every (model, task) pair on the cluster; outcomes come back model-major,
        in the order of a local run. A ``BenchError`` in any job stops the run (as locally)."""
        from bench.preprocess import build_steps, check_resources
        from bench.runner import preflight

        ray = import_ray()
        preflight(config)
        config = dataclasses.replace(
            config,
            results=Path(config.results).resolve(),
            cache=Path(config.cache).resolve() if config.cache else None,
            data={k: Path(v).resolve() for k, v in config.data.items()},
        )
        plans = []
        adapters = []
        for raw in models:
            spec, resources = split_resources(raw)
            explicit = any(k in raw.params for k in EXECUTOR_PARAMS)
            adapter = make_adapter(spec)  # checks the spec before anything starts
            adapters.append(adapter)
            plans.append(
                _Plan(
                    spec=spec,
                    resources=resources,
                    api=spec.kind in API_KINDS,
                    trainable=bool(
                        getattr(adapter, "trainable", callable(getattr(adapter, "fit", None)))
                    ),
                    explicit=explicit,
                )
            )
        for task in tasks:
            check_resources(build_steps(task))
        started = False
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
            started = True
        try:
            return self._run(ray, plans, adapters, list(tasks), config, progress)
        finally:
            if started:
                ray.shutdown()

    def _run(
        self,
        ray: Any,
        plans: list[_Plan],
        adapters: list[Any],
        tasks: list[TaskSpec],
        config: RunConfig,
        progress: Callback | None,
    ) -> list[RunOutcome]:
        from bench.cache import PredictionCache
        from bench.families.base import get_family
        from bench.runner import Event, run_pair

        emit = progress or (lambda _e: None)
        self.peak_api_in_flight = 0
        outcomes: dict[tuple[int, int], RunOutcome] = {}
        queue: list[_Job] = []
        for mi, (plan, adapter) in enumerate(zip(plans, adapters, strict=True)):
            for ti, task in enumerate(tasks):
                family = get_family(task.family)
                if not adapter.supports(task.family) or (
                    getattr(adapter, "requires_training", False) and not family.has_train(task)
                ):
                    # run_pair returns its "skipped" outcome before it loads anything.
                    outcomes[mi, ti] = run_pair(plan.spec, task, config, adapter=adapter)
                    emit(
                        Event(
                            "pair-skipped",
                            plan.spec.display_name,
                            task.name,
                            message=outcomes[mi, ti].reason,
                        )
                    )
                    continue
                shardable = (
                    config.cache is not None
                    and not plan.trainable
                    and getattr(adapter, "cacheable", True)
                )
                if shardable:
                    shards = self.shards or 2 * plan.resources.replicas
                    queue += [_Job(mi, ti, k, shards) for k in range(shards)]
                    plan.open_jobs += shards
                else:
                    queue.append(_Job(mi, ti, None))
                    plan.open_jobs += 1

        in_flight: dict[Any, _Job] = {}
        shard_stats: dict[tuple[int, int], list[Any]] = {}
        cache = PredictionCache(config.cache) if config.cache else None
        started: set[tuple[int, int]] = set()

        run_job = ray.remote(_run_job)

        def submit(job: _Job) -> None:
            plan = plans[job.model]
            handover = config.cache is not None and getattr(adapters[job.model], "cacheable", True)
            if not plan.actors and plan.actor:
                replicas = range(plan.resources.replicas)
                plan.actors = [self._actor(ray, plan, config) for _ in replicas]
            key = (job.model, job.task)
            if key not in started:
                started.add(key)
                name, tname = plan.spec.display_name, tasks[job.task].name
                emit(Event("pair-start", name, tname))
                # Progress of a sharded pair counts shards, not examples.
                total = job.shards if job.shard is not None else 1
                emit(Event("predict-start", name, tname, done=0, total=total))
            if not plan.actor:
                options = run_job.options(**self._resources(plan), max_retries=self.max_retries)
                ref = options.remote(
                    plan.spec,
                    config,
                    plan.trainable,
                    tasks[job.task],
                    job.shard,
                    job.shards,
                    handover,
                )
            elif job.shard is None:
                actor = plan.actors[job.task % len(plan.actors)]
                ref = actor.run.remote(tasks[job.task], handover)
            else:
                actor = plan.actors[plan.next_actor % len(plan.actors)]
                plan.next_actor += 1
                ref = actor.fill.remote(tasks[job.task], job.shard, job.shards)
            in_flight[ref] = job

        try:
            while queue or in_flight:
                api_busy = sum(1 for j in in_flight.values() if plans[j.model].api)
                for job in list(queue):
                    if plans[job.model].api:
                        if api_busy >= self.api_concurrency:
                            continue
                        api_busy += 1
                    queue.remove(job)
                    submit(job)
                self.peak_api_in_flight = max(self.peak_api_in_flight, api_busy)
                ready, _ = ray.wait(list(in_flight), num_returns=1)
                job = in_flight.pop(ready[0])
                plan, task = plans[job.model], tasks[job.task]
                result = self._get(ray, ready[0], plan.spec, task)
                key = (job.model, job.task)
                stats = shard_stats.setdefault(key, [])
                stats.append(result)
                name = plan.spec.display_name
                emit(Event("predict-progress", name, task.name, done=len(stats), total=job.shards))
                if len(stats) == job.shards:
                    del shard_stats[key]
                    if isinstance(result, ShardStats):
                        adapter = make_adapter(plan.spec) if plan.trainable else adapters[job.model]
                        whole = job.shard is None
                        result = _finish(plan.spec, task, config, cache, adapter, stats, whole)
                    outcomes[key] = result
                    kind = "pair-done" if result.status == "done" else f"pair-{result.status}"
                    message = str(result.record_path or result.reason)
                    emit(Event(kind, name, task.name, message=message))
                plan.open_jobs -= 1
                if plan.open_jobs == 0:
                    for actor in plan.actors:
                        ray.kill(actor)
                    plan.actors = []
        finally:
            for plan in plans:
                for actor in plan.actors:
                    ray.kill(actor)
            if cache is not None:
                cache.close()
        return [outcomes[mi, ti] for mi in range(len(plans)) for ti in range(len(tasks))]

    @staticmethod
    def _resources(plan: _Plan) -> dict[str, float]:
        res = plan.resources
        cpus = res.num_cpus if res.num_cpus is not None else (0.0 if plan.api else 1.0)
        return {"num_cpus": cpus, "num_gpus": res.num_gpus}

    def _actor(self, ray: Any, plan: _Plan, config: RunConfig) -> Any:
        remote = ray.remote(ModelWorker).options(
            **self._resources(plan),
            max_restarts=self.max_retries,
            max_task_retries=self.max_retries,
        )
        return remote.remote(plan.spec, config, plan.trainable)

    def _get(self, ray: Any, ref: Any, spec: ModelSpec, task: TaskSpec) -> Any:
        from ray.exceptions import RayActorError, RayTaskError

        try:
            return ray.get(ref)
        except RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, BenchError):
                raise cause from None
            raise
        except RayActorError as exc:
            if getattr(exc, "actor_init_failed", False):  # __init__ raised: not retried
                raise AdapterError(
                    f"{spec.display_name}: building the model on a Ray worker failed: "
                    f"{str(exc).strip()[-1500:]}",
                    fix="check that the model, its files and its extras are available on every "
                    "node of the cluster",
                ) from exc
            raise AdapterError(
                f"{spec.display_name} on {task.name}: the Ray worker died and was restarted "
                f"{self.max_retries} time(s) without finishing ({type(exc).__name__}); "
                "finished predictions are cached",
                fix="read the worker's log under /tmp/ray/session_latest/logs, give the model "
                "more memory (num_cpus/num_gpus in its spec) or raise --max-retries; re-run "
                "to resume from the cache",
            ) from exc
