"""The Ray executor: a run plan as (model, task, shard) jobs on a Ray cluster (extra ``[ray]``).

How a plan runs:

* Placement comes from what the adapter declares (:meth:`bench.adapters.base.Adapter.resources`),
  overridden by the ``num_cpus`` / ``num_gpus`` / ``replicas`` of its model spec. Each model is
  loaded once per replica as a Ray actor (:class:`ModelWorker`); ``replicas=N`` loads N copies.
  An actor is killed as soon as its model's jobs are done, which frees its CPUs and GPUs for the
  next model. Adapters that declare themselves ``light`` (the built-in baselines) are cheaper
  to build than a process is to start: unless the spec asks for resources, their jobs run as
  plain Ray tasks in Ray's pooled worker processes (:func:`run_job`), each process keeping the
  last model it served.
* For a model that is not trained (HF and API models, rule-based baselines) and a run with a
  prediction cache, each task's test requests are cut into ``shards`` contiguous ranges; a shard
  job predicts its range and commits every batch to the shared SQLite prediction cache (WAL:
  several writers wait for each other instead of failing).
* A trainable adapter is fitted once per (model, task): its pair is one job, a fresh adapter
  that is fitted and predicts the whole test set into the cache.
* The pair's fingerprint is computed once, on the driver (:func:`bench.stages.pair_fingerprint`),
  and handed to its jobs.
* When a pair's jobs are done, the driver composes the stages of a local run
  (:func:`bench.stages.predict`, which finds every prediction in the cache, then
  :func:`bench.runner.finish_pair`, which scores and writes the record): records are produced
  by the very code of a local run, on the driver's machine, so their metrics are byte-identical
  to a local run's there (for adapters whose answer to a request does not depend on the other
  requests of its batch). The record's ``predictions`` counts and ``model.info`` are taken from
  the jobs and written with the record; its ``timings`` are the driver's.
* Without a cache (``--no-cache``) jobs cannot hand predictions over: each pair is one job that
  also scores and writes the record, on its worker.
* Adapters that declare themselves ``remote`` (API models such as ``openai:``, which use no CPU
  of their own) share one budget: at most ``api_concurrency`` of their jobs are in flight at
  once, over all of them.
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

from bench.adapters.base import Adapter, ModelSpec, make_adapter
from bench.errors import AdapterError, BenchError, MissingDependency
from bench.executors import EXECUTOR_PARAMS, split_resources
from bench.families.base import get_family
from bench.records import PredictionCounts
from bench.stages import (
    pair_fingerprint,
    predict,
    prepare,
    skip_reason,
    trains_on,
)

if TYPE_CHECKING:
    from bench.cache import PredictionCache
    from bench.families.base import Prepared
    from bench.runner import Callback, RunConfig, RunOutcome
    from bench.spec import TaskSpec

__all__ = ["ModelWorker", "RayExecutor", "ShardStats", "finish", "import_ray", "run_job"]


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

    def fill(self, task: TaskSpec, shard: int, shards: int, fingerprint: str) -> ShardStats:
        """Predict shard ``shard`` of ``shards`` of the task's test requests into the cache,
        under the pair's ``fingerprint`` (computed on the driver)."""
        if self.adapter is None or self.cache is None:
            raise AdapterError(
                f"{self.model.display_name} on {task.name}: a shard job needs a built adapter "
                "and a cache (the executor sends trainable or uncached pairs as one job)"
            )
        family = get_family(task.family)
        adapter = self.adapter.for_task(task, family)
        prepared = self._prepare(task, want_train=False, prompted=adapter.prompted)
        n = len(prepared.requests)
        start, stop = n * shard // shards, n * (shard + 1) // shards
        got = predict(
            adapter,
            prepared.requests,
            self.cache,
            family=family,
            fingerprint=fingerprint,
            batch_size=self.config.batch_size,
            span=(start, stop),
        )
        info = adapter.info()
        return ShardStats(start, stop, got.cached, got.computed, len(got.failures), got.calls, info)

    def run(self, task: TaskSpec, handover: bool, fingerprint: str) -> ShardStats | RunOutcome:
        """The pair's one job.

        With ``handover`` (a cache the adapter uses), the predictions are what counts: a fresh
        adapter is fitted (when it trains) and predicts the whole test set into the cache under
        ``fingerprint``, and only the counts and the adapter's info come back (the driver scores
        and writes the record). Otherwise this is the pair's :func:`~bench.runner.run_pair`.
        """
        from bench.runner import run_pair

        if not handover or self.cache is None:
            return run_pair(
                self.model,
                task,
                self.config,
                cache=self.cache,
                adapter=self.adapter,
                fingerprint=fingerprint,
            )
        family = get_family(task.family)
        adapter = (self.adapter or make_adapter(self.model)).for_task(task, family)
        prepared = self._prepare(task, want_train=adapter.trainable, prompted=adapter.prompted)

        def fit() -> None:
            assert prepared.load_train is not None  # trains_on() said so
            adapter.fit(prepared.load_train())

        got = predict(
            adapter,
            prepared.requests,
            self.cache,
            family=family,
            fingerprint=fingerprint,
            batch_size=self.config.batch_size,
            before_compute=fit if trains_on(adapter, task, prepared) else None,
        )
        n = len(prepared.requests)
        return ShardStats(
            0, n, got.cached, got.computed, len(got.failures), got.calls, adapter.info()
        )

    def close(self) -> None:
        """Close the cache connection."""
        if self.cache is not None:
            self.cache.close()

    def _prepare(self, task: TaskSpec, *, want_train: bool, prompted: bool) -> Prepared:
        # The run's own preparation, kept for the last task (its shards come in a row);
        # a prompted adapter's requests are the model view of the preprocessing.
        key = f"{task.name}|{want_train}|{prompted}"
        if key not in self._prepared:
            self._prepared.clear()
            self._prepared[key] = prepare(
                task, self.config, want_train=want_train, prompted=prompted
            )
        return self._prepared[key]


_LAST_WORKER: dict[str, ModelWorker] = {}


def _refuse_units(adapter: Adapter, task: TaskSpec, config: RunConfig, model: str) -> str | None:
    """For a prompted adapter: the reason it skips ``task`` (its protocol support), ``None``
    when it runs as one unit.

    Raises:
        BenchError: The task's protocol has several units or in-context examples, which only
            ``--executor local`` runs.
    """
    from bench.protocol import resolve

    protocol = resolve(task, num_fewshot=config.num_fewshot, variants=config.variants)
    units = protocol.units()
    reason = adapter.protocol_support(protocol.bind(task, units[0]))
    if reason is None and (len(units) > 1 or protocol.fewshot is not None):
        raise BenchError(
            f"--executor ray does not run prompt variants, in-context examples or samples: "
            f"task {task.name} gives {model} {len(units)} unit(s)"
            f"{' with in-context examples' if protocol.fewshot is not None else ''}",
            fix="run this task with --executor local (or pass --num-fewshot 0 on a task with "
            "one prompt and n: 1)",
        )
    return reason


def run_job(
    model: ModelSpec,
    config: RunConfig,
    trainable: bool,
    task: TaskSpec,
    shard: int | None,
    shards: int,
    handover: bool,
    fingerprint: str,
) -> Any:
    """One job of a light adapter (a built-in baseline), run as a plain Ray task.

    Light adapters are cheap to build, so an actor (a process of its own) per model costs
    more than the model: their jobs run as tasks in Ray's pooled worker processes instead, and
    each process keeps the :class:`ModelWorker` of the last model it served. Adapters that are
    expensive to load (HF, API clients, plugins) or whose spec asks for resources use actors.
    """
    key = repr((model, config, trainable))
    worker = _LAST_WORKER.get(key)
    if worker is None:
        for old in _LAST_WORKER.values():
            old.close()
        _LAST_WORKER.clear()
        worker = _LAST_WORKER[key] = ModelWorker(model, config, trainable)
    if shard is None:
        return worker.run(task, handover, fingerprint)
    return worker.fill(task, shard, shards, fingerprint)


def finish(
    spec: ModelSpec,
    task: TaskSpec,
    config: RunConfig,
    cache: PredictionCache | None,
    adapter: Adapter,
    prepared: Prepared,
    fingerprint: str,
    jobs: Sequence[ShardStats],
    *,
    whole: bool,
    started_at: str | None = None,
    load_s: float = 0.0,
    progress: Callback | None = None,
) -> RunOutcome:
    """On the driver: score a pair whose jobs filled the cache, and write its record.

    The stages of a local run: :func:`~bench.stages.predict` (every prediction comes from the
    cache; failures, never cached, are asked again), then :func:`~bench.runner.finish_pair`
    with the record's ``predictions`` counts and ``model.info`` taken from the jobs: the info
    of the adapter that served the whole pair, or the driver's copy's info plus each shard's
    (``ray_shards``), since no single adapter served a sharded pair.

    Args:
        spec: The model spec.
        task: The task.
        config: The run settings.
        cache: The prediction cache the jobs filled.
        adapter: A fresh adapter for the driver (configured here with ``for_task``).
        prepared: The task's prepared data (the driver's).
        fingerprint: The pair's fingerprint, as handed to the jobs.
        jobs: What each job did.
        whole: The pair was one job (not shards).
        started_at: When the pair's first job was submitted.
        load_s: Seconds the driver spent preparing the task.
        progress: Receives the pair's ``stage`` and ``pair-done`` events.
    """
    import time

    from bench.runner import finish_pair
    from bench.stages import now

    t0 = time.perf_counter()
    family = get_family(task.family)
    bound = adapter.for_task(task, family)

    def fit() -> None:
        assert prepared.load_train is not None  # trains_on() said so
        bound.fit(prepared.load_train())

    got = predict(
        bound,
        prepared.requests,
        cache,
        family=family,
        fingerprint=fingerprint,
        batch_size=config.batch_size,
        before_compute=fit if trains_on(bound, task, prepared) else None,
    )
    n = len(prepared.requests)
    cached = sum(s.cached for s in jobs)
    counts = PredictionCounts(
        total=n,
        cached=cached,
        # Duplicates of a request are answered by its prediction, so computed is the rest.
        computed=n - cached - len(got.failures),
        failed=len(got.failures),
    )
    info = jobs[0].info if whole else {**bound.info(), "ray_shards": [s.info for s in jobs]}
    return finish_pair(
        spec,
        task,
        config,
        bound,
        prepared,
        got,
        fingerprint=fingerprint,
        started_at=started_at or now(),
        t0=t0 - load_s,
        load_s=load_s,
        counts=counts,
        info=info,
        adapter_calls=sum(s.calls for s in jobs),
        progress=progress,
    )


@dataclass
class _Job:
    model: int
    task: int
    shard: int | None  # None: the pair's one job (fit and predict)
    shards: int = 1


@dataclass
class _Plan:
    spec: ModelSpec
    adapter: Adapter
    num_cpus: float
    num_gpus: float
    replicas: int
    api: bool  # the adapter declares itself remote: one shared concurrency budget
    actor: bool  # loaded in actors (else pooled tasks: see run_job)
    actors: list[Any] = field(default_factory=list)
    open_jobs: int = 0
    next_actor: int = 0

    @property
    def trainable(self) -> bool:
        return self.adapter.trainable

    @classmethod
    def of(cls, raw: ModelSpec) -> _Plan:
        """The placement of a model: declared by its adapter, overridden by its spec."""
        spec, asked = split_resources(raw)
        adapter = make_adapter(spec)  # checks the spec before anything starts
        declared = adapter.resources()
        explicit = any(k in raw.params for k in EXECUTOR_PARAMS)
        return cls(
            spec=spec,
            adapter=adapter,
            num_cpus=declared.num_cpus if asked.num_cpus is None else asked.num_cpus,
            num_gpus=declared.num_gpus if asked.num_gpus is None else asked.num_gpus,
            replicas=asked.replicas,
            api=declared.remote,
            actor=explicit or not declared.light,
        )


@dataclass
class _Pair:
    """A (model, task) pair the driver tracks: its fingerprint, handed to every job."""

    fingerprint: str
    started_at: str
    results: list[Any] = field(default_factory=list)


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
        plans = [_Plan.of(raw) for raw in models]
        for task in tasks:
            check_resources(build_steps(task))
        started = False
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
            started = True
        try:
            return self._run(ray, plans, list(tasks), config, progress)
        finally:
            if started:
                ray.shutdown()

    def _run(
        self,
        ray: Any,
        plans: list[_Plan],
        tasks: list[TaskSpec],
        config: RunConfig,
        progress: Callback | None,
    ) -> list[RunOutcome]:
        from bench.cache import PredictionCache
        from bench.runner import Event

        emit = progress or (lambda _e: None)
        self.peak_api_in_flight = 0
        outcomes: dict[tuple[int, int], RunOutcome] = {}
        queue = self._plan_jobs(plans, tasks, config, outcomes, emit)
        in_flight: dict[Any, _Job] = {}
        cache = PredictionCache(config.cache) if config.cache else None
        try:
            while queue or in_flight:
                api_busy = sum(1 for j in in_flight.values() if plans[j.model].api)
                for job in list(queue):
                    if plans[job.model].api:
                        if api_busy >= self.api_concurrency:
                            continue
                        api_busy += 1
                    queue.remove(job)
                    in_flight[self._submit(ray, job, plans, tasks, config, emit)] = job
                self.peak_api_in_flight = max(self.peak_api_in_flight, api_busy)
                ready, _ = ray.wait(list(in_flight), num_returns=1)
                job = in_flight.pop(ready[0])
                plan, task = plans[job.model], tasks[job.task]
                pair = self._pairs[job.model, job.task]
                pair.results.append(self._get(ray, ready[0], plan.spec, task))
                name = plan.spec.display_name
                done = len(pair.results)
                emit(Event("predict-progress", name, task.name, done=done, total=job.shards))
                if done == job.shards:
                    outcome = self._complete(job, plan, task, pair, config, cache)
                    outcomes[job.model, job.task] = outcome
                    kind = "pair-done" if outcome.status == "done" else f"pair-{outcome.status}"
                    message = str(outcome.record_path or outcome.reason)
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

    def _plan_jobs(
        self,
        plans: list[_Plan],
        tasks: list[TaskSpec],
        config: RunConfig,
        outcomes: dict[tuple[int, int], RunOutcome],
        emit: Callback,
    ) -> list[_Job]:
        """The jobs of every pair that runs; skipped pairs go straight into ``outcomes``.

        Each task is prepared once on the driver (it scores there) and each pair's
        fingerprint computed once, here, for its jobs.
        """
        import time

        from bench.runner import Event, RunOutcome
        from bench.stages import now

        self._prepared: dict[tuple[int, bool], tuple[Prepared, float]] = {}
        self._pairs: dict[tuple[int, int], _Pair] = {}
        want_train = any(p.trainable for p in plans)
        queue: list[_Job] = []
        for mi, plan in enumerate(plans):
            for ti, task in enumerate(tasks):
                name = plan.spec.display_name
                reason = skip_reason(plan.adapter, task)
                if reason is None and plan.adapter.prompted:
                    reason = _refuse_units(plan.adapter, task, config, name)
                if reason is not None:
                    outcomes[mi, ti] = RunOutcome(name, task.name, "skipped", reason=reason)
                    emit(Event("pair-skipped", name, task.name, message=reason))
                    continue
                view = (ti, plan.adapter.prompted)  # prompted adapters read the model view
                if view not in self._prepared:
                    tick = time.perf_counter()
                    prepared = prepare(
                        task, config, want_train=want_train, prompted=plan.adapter.prompted
                    )
                    self._prepared[view] = (prepared, time.perf_counter() - tick)
                bound = plan.adapter.for_task(task, get_family(task.family))
                fingerprint = pair_fingerprint(bound, task, self._prepared[view][0])
                self._pairs[mi, ti] = _Pair(fingerprint, now())
                if config.cache is not None and not plan.trainable and plan.adapter.cacheable:
                    shards = self.shards or 2 * plan.replicas
                    queue += [_Job(mi, ti, k, shards) for k in range(shards)]
                    plan.open_jobs += shards
                else:
                    queue.append(_Job(mi, ti, None))
                    plan.open_jobs += 1
        return queue

    def _submit(
        self,
        ray: Any,
        job: _Job,
        plans: list[_Plan],
        tasks: list[TaskSpec],
        config: RunConfig,
        emit: Callback,
    ) -> Any:
        """Start one job (loading the model's actors first); returns its object ref."""
        from bench.runner import Event

        plan, task = plans[job.model], tasks[job.task]
        pair = self._pairs[job.model, job.task]
        handover = config.cache is not None and plan.adapter.cacheable
        if not plan.actors and plan.actor:
            plan.actors = [self._actor(ray, plan, config) for _ in range(plan.replicas)]
        if not pair.results and job.shard in (None, 0):
            name = plan.spec.display_name
            emit(Event("pair-start", name, task.name))
            # Progress of a sharded pair counts shards, not examples.
            emit(Event("predict-start", name, task.name, done=0, total=job.shards))
        fp = pair.fingerprint
        if not plan.actor:
            options = ray.remote(run_job).options(
                **self._resources(plan), max_retries=self.max_retries
            )
            args = (plan.spec, config, plan.trainable, task, job.shard, job.shards, handover, fp)
            return options.remote(*args)
        if job.shard is None:
            return plan.actors[job.task % len(plan.actors)].run.remote(task, handover, fp)
        actor = plan.actors[plan.next_actor % len(plan.actors)]
        plan.next_actor += 1
        return actor.fill.remote(task, job.shard, job.shards, fp)

    def _complete(
        self,
        job: _Job,
        plan: _Plan,
        task: TaskSpec,
        pair: _Pair,
        config: RunConfig,
        cache: PredictionCache | None,
    ) -> RunOutcome:
        """The outcome of a pair whose jobs are all done: the job's own (a whole pair run on
        its worker), or the record the driver writes from the predictions the jobs cached."""
        result = pair.results[-1]
        if not isinstance(result, ShardStats):
            return result
        prepared, load_s = self._prepared[job.task, plan.adapter.prompted]
        adapter = make_adapter(plan.spec) if plan.trainable else plan.adapter
        return finish(
            plan.spec,
            task,
            config,
            cache,
            adapter,
            prepared,
            pair.fingerprint,
            pair.results,
            whole=job.shard is None,
            started_at=pair.started_at,
            load_s=load_s,
        )

    @staticmethod
    def _resources(plan: _Plan) -> dict[str, float]:
        return {"num_cpus": plan.num_cpus, "num_gpus": plan.num_gpus}

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
