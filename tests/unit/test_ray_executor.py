"""The Ray executor against the local one, on a real local Ray cluster (``ray.init(num_cpus=2)``).

The cluster is started once for the module. Its workers import a small test adapter from a
module written to a temporary folder (on ``PYTHONPATH``) and registered in every worker by Ray's
``worker_process_setup_hook``: the way a user ships an adapter that is not an installed plugin.
That adapter kills its own worker process (``os._exit``) on its second ``predict`` call of the
run, which is how the retry-and-resume test gets a worker that dies mid-job.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.adapters.base import make_adapter, parse_model_spec
from bench.cache import PredictionCache
from bench.catalog import find_task, select_tasks
from bench.errors import AdapterError, BenchError, DataError, MissingDependency, ModelSpecError
from bench.executors import Resources, get_executor, split_resources
from bench.executors.local import LocalExecutor
from bench.executors.ray import ModelWorker, RayExecutor, ShardStats, finish
from bench.families.base import get_family
from bench.metrics.base import BootstrapConfig
from bench.records import PredictionCounts
from bench.registry import registry
from bench.runner import RunConfig, run_pair
from bench.spec import ScoringSpec
from bench.stages import pair_fingerprint, prepare

ray = pytest.importorskip("ray")

CRASHY_MODULE = '''
"""A length-parity sentiment rule that logs every prediction and kills its worker once."""

import os
from pathlib import Path

from bench.adapters.base import Adapter
from bench.families.sentiment import SentimentResponse


class CrashyRule(Adapter):
    """Predicts the first label for texts of even length, else the second.

    With BENCH_CRASHY_DIR set, each predicted id is appended to predicted.log with the pid, and
    the second predict call of a run exits the process unless crashed.marker exists.
    """

    name = "crashy"
    families = ("sentiment",)

    class Params(Adapter.Params):
        """fail_on_workers: raise in __init__ where BENCH_CRASHY_DIR is set (the workers)."""

        fail_on_workers: bool = False

    def __init__(self, target=None, **params):
        super().__init__(target, **params)
        self.calls = 0
        if self.params.fail_on_workers and os.environ.get("BENCH_CRASHY_DIR"):
            raise RuntimeError("the model files are not on this worker")

    def predict(self, requests):
        self.calls += 1
        folder = os.environ.get("BENCH_CRASHY_DIR")
        if folder and self.calls == 2:
            marker = Path(folder) / "crashed.marker"
            if not marker.exists():
                marker.write_text(str(os.getpid()))
                os._exit(1)
        out = [
            SentimentResponse(label=r.labels[len(r.text) % 2]) for r in requests
        ]
        if folder:
            with open(Path(folder) / "predicted.log", "a") as fh:
                fh.writelines(f"{os.getpid()} {r.id}\\n" for r in requests)
        return out


def register():
    """Ray's worker_process_setup_hook: make the adapter known in every worker."""
    from bench.registry import registry

    registry.register("adapter", "crashy", "bench_crashy_adapter:CrashyRule")
'''

MODELS = [
    "baseline:copy",  # translation
    "baseline:lead-k,replicas=2",  # summarization: two actors write one cache at once
    "baseline:majority",  # sentiment: trainable, fitted once per pair
    "baseline:first-sentence",  # qa
    "baseline:most-popular",  # recommendation: trainable
    "baseline:word2vec,dim=16,epochs=1",  # word similarity and analogy: vectors trained once
]


@pytest.fixture(scope="module")
def crashy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("crashy")
    (folder / "logs").mkdir()
    (folder / "bench_crashy_adapter.py").write_text(CRASHY_MODULE, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def ray_cluster(crashy_dir: Path) -> Any:
    """A local two-CPU Ray cluster whose workers see NLTK data and the crashy adapter."""
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "NLTK_DATA", "RAY_AUTH_MODE")}
    nltk = Path(__file__).resolve().parents[2].parent / "shared" / "nltk_data"
    # Workers inherit the environment of the process that starts the cluster.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(crashy_dir), saved["PYTHONPATH"]) if p
    )
    os.environ["NLTK_DATA"] = str(nltk)
    os.environ["RAY_AUTH_MODE"] = "disabled"
    sys.path.insert(0, str(crashy_dir))
    registry.register("adapter", "crashy", "bench_crashy_adapter:CrashyRule")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={
            "worker_process_setup_hook": "bench_crashy_adapter.register",
            # Only the workers crash: the driver's own environment has no BENCH_CRASHY_DIR.
            "env_vars": {"BENCH_CRASHY_DIR": str(crashy_dir / "logs")},
        },
    )
    try:
        yield ray
    finally:
        ray.shutdown()
        sys.path.remove(str(crashy_dir))
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _config(root: Path, **kw: Any) -> RunConfig:
    return RunConfig(
        results=root / "results",
        cache=root / "cache.sqlite",
        bootstrap=BootstrapConfig(resamples=200, seed=7),
        **kw,
    )


def _files(results: Path) -> dict[str, tuple[str, bytes]]:
    """``{model/task: (metrics JSON, samples.jsonl bytes)}`` of every record under ``results``,
    each sample line carrying its record's run id (replaced by ``RUN`` here: ids differ)."""
    out = {}
    for path in sorted(results.rglob("record.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        key = str(path.parent.relative_to(results))
        metrics = json.dumps(record["metrics"], sort_keys=True, ensure_ascii=False)
        samples = (path.parent / "samples.jsonl").read_bytes()
        assert samples.count(record["run_id"].encode()) == samples.count(b"\n")
        out[key] = (metrics, samples.replace(record["run_id"].encode(), b"RUN"))
    return out


def _pair(spec: Any, task: Any, config: RunConfig) -> tuple[Any, Any, str]:
    """What the driver computes once per pair: the adapter, the prepared task and the pair's
    fingerprint (handed to every job)."""
    adapter = make_adapter(spec)
    prepared = prepare(task, config, want_train=adapter.trainable)
    bound = adapter.for_task(task, get_family(task.family))
    return adapter, prepared, pair_fingerprint(bound, task, prepared)


# ------------------------------------------------------------------ without a cluster


def test_split_resources_removes_executor_params_from_spec_and_name() -> None:
    spec, res = split_resources(parse_model_spec("baseline:lead-k,k=2,num_gpus=0.5,replicas=3"))
    assert spec.params == {"k": "2"}
    assert spec.display_name == "baseline:lead-k"  # KIND:TARGET: params are not the name
    assert spec.spec_name == "baseline:lead-k,k=2"
    assert res == Resources(num_cpus=None, num_gpus=0.5, replicas=3)
    named, _ = split_resources(parse_model_spec("baseline:copy,num_cpus=2,name=mine"))
    assert (named.display_name, named.params) == ("mine", {})
    plain = parse_model_spec("baseline:copy")
    assert split_resources(plain) == (plain, Resources())


@pytest.mark.parametrize("bad", ["replicas=0", "replicas=1.5", "num_gpus=-1", "num_cpus=lots"])
def test_split_resources_rejects_bad_values(bad: str) -> None:
    with pytest.raises(ModelSpecError, match=bad.split("=")[0]):
        split_resources(parse_model_spec(f"baseline:copy,{bad}"))


def test_get_executor_errors() -> None:
    assert isinstance(get_executor("local"), LocalExecutor)
    with pytest.raises(BenchError, match="needs --executor ray"):
        get_executor("local", address="auto")
    with pytest.raises(BenchError, match="unknown executor 'dask'"):
        get_executor("dask")


def test_missing_ray_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError
    with pytest.raises(MissingDependency, match=r"bench\[ray\]"):
        get_executor("ray")


def test_local_executor_ignores_executor_params(tmp_path: Path) -> None:
    task = find_task("translation-zh-en")
    spec = parse_model_spec("baseline:copy,num_gpus=1,replicas=2")
    (outcome,) = LocalExecutor().run([spec], [task], _config(tmp_path, limit=10))
    assert outcome.status == "done" and outcome.model == "baseline:copy"


def test_model_worker_shards_then_driver_finish_equal_a_local_run(tmp_path: Path) -> None:
    """The jobs' logic in-process: three shards fill the cache, the driver scores from it."""
    task = find_task("summarization-en")
    spec = parse_model_spec("baseline:lead-k")
    local = run_pair(spec, task, _config(tmp_path / "local"), cache=None)
    config = _config(tmp_path / "sharded", batch_size=8)
    adapter, prepared, fp = _pair(spec, task, config)
    worker = ModelWorker(spec, config, trainable=False)
    stats = [worker.fill(task, k, 3, fp) for k in range(3)]
    assert [(s.start, s.stop) for s in stats] == [(0, 24), (24, 49), (49, 74)]
    assert sum(s.computed for s in stats) == 74 and all(s.cached == 0 for s in stats)
    assert sum(s.calls for s in stats) == 3 + 4 + 4  # ceil(24/8), ceil(25/8), ceil(25/8)
    again = worker.fill(task, 1, 3, fp)  # a retried shard finds its predictions in the cache
    assert (again.cached, again.computed, again.calls) == (25, 0, 0)
    assert config.cache is not None
    with PredictionCache(config.cache) as cache:
        outcome = finish(spec, task, config, cache, adapter, prepared, fp, stats, whole=False)
        assert cache.count() == len(set(_requests_hashes(task)))
    assert outcome.record is not None and local.record is not None and outcome.record_path
    assert outcome.record.predictions == PredictionCounts(total=74, cached=0, computed=74, failed=0)
    assert json.loads(outcome.record_path.read_text())["predictions"]["computed"] == 74
    assert outcome.record.metrics == local.record.metrics
    assert outcome.adapter_calls == 11
    assert outcome.record.model.info["ray_shards"] == [s.info for s in stats]
    assert stats[0].info["splitter"] == local.record.model.info["splitter"]


def test_a_trainable_pair_is_fitted_once_and_scored_by_the_driver(tmp_path: Path) -> None:
    task = find_task("sentiment-zh")
    spec = parse_model_spec("baseline:tfidf-logreg")
    local = run_pair(spec, task, _config(tmp_path / "local"))
    config = _config(tmp_path / "ray")
    adapter, prepared, fp = _pair(spec, task, config)
    assert fp == local.record.model.fingerprint  # the driver's fingerprint is the local one
    job = ModelWorker(spec, config, trainable=True).run(task, True, fp)
    assert isinstance(job, ShardStats) and job.computed == 160
    assert not (tmp_path / "ray" / "results").exists()  # the job writes no record
    assert config.cache is not None
    with PredictionCache(config.cache) as cache:
        outcome = finish(spec, task, config, cache, adapter, prepared, fp, [job], whole=True)
    assert adapter.best_c is None  # the driver never fitted: every prediction was cached
    assert outcome.record is not None and local.record is not None
    assert outcome.record.metrics == local.record.metrics
    assert outcome.record.model.info == local.record.model.info  # the fitted adapter's C
    assert outcome.record.predictions == local.record.predictions


def test_an_uncached_pair_is_run_whole_with_the_drivers_fingerprint(tmp_path: Path) -> None:
    task = find_task("translation-zh-en")
    spec = parse_model_spec("baseline:copy")
    config = RunConfig(results=tmp_path / "results", cache=None, limit=10)
    _, _, fp = _pair(spec, task, config)
    outcome = ModelWorker(spec, config, trainable=False).run(task, False, fp)
    local = run_pair(spec, task, RunConfig(results=tmp_path / "local", cache=None, limit=10))
    assert not isinstance(outcome, ShardStats) and outcome.record is not None
    assert local.record is not None
    assert outcome.record.model.fingerprint == fp == local.record.model.fingerprint
    assert outcome.record.metrics == local.record.metrics


def _requests_hashes(task: Any) -> list[str]:
    prepared = prepare(task, RunConfig(results=Path("unused")))
    return [r.content_hash() for r in prepared.requests]


def test_placement_comes_from_declared_resources() -> None:
    from bench.executors.ray import _Plan

    light = _Plan.of(parse_model_spec("baseline:copy"))
    assert not light.actor and (light.num_cpus, light.num_gpus) == (1.0, 0.0)
    asked = _Plan.of(parse_model_spec("baseline:copy,num_cpus=2,num_gpus=0.5"))
    assert asked.actor and (asked.num_cpus, asked.num_gpus) == (2.0, 0.5)
    api = _Plan.of(parse_model_spec("openai:m,base_url=http://localhost:1/v1"))
    assert api.api and api.actor and api.num_cpus == 0.0


# ------------------------------------------------------------------ on a local cluster


@pytest.mark.slow
def test_ray_records_match_local_records_on_the_smoke_suite(
    ray_cluster: Any, tmp_path: Path, nltk_data: Path
) -> None:
    """Every family of the smoke suite (one task each, both languages among them): same
    metrics and samples, byte for byte. The other language of each family runs the same code."""
    specs = [parse_model_spec(m) for m in MODELS]
    one_each = {
        "analogy-zh",
        "qa-en",
        "recommendation-synthetic",
        "sentiment-zh",
        "summarization-en",
        "translation-en-zh",
        "wordsim-en",
    }
    tasks = [t for t in select_tasks("smoke", []) if t.name in one_each]
    assert len({t.family for t in select_tasks("smoke", [])}) == len(tasks) == 7
    local = LocalExecutor().run(specs, tasks, _config(tmp_path / "local"))
    events: list[Any] = []
    remote = get_executor("ray", shards=3).run(
        specs, tasks, _config(tmp_path / "ray"), progress=events.append
    )
    assert [(o.model, o.task, o.status) for o in remote] == [
        (o.model, o.task, o.status) for o in local
    ]
    done = [o for o in remote if o.status == "done"]
    assert {t.family for t in tasks} == {
        next(t.family for t in tasks if t.name == o.task) for o in done
    }
    ours, theirs = _files(tmp_path / "local" / "results"), _files(tmp_path / "ray" / "results")
    assert sorted(ours) == sorted(theirs) and len(ours) == len(done) == 7
    for key in ours:
        assert theirs[key][0] == ours[key][0], key
        assert theirs[key][1] == ours[key][1], key
    for o in done:  # a fresh cache: every prediction was computed in this run
        assert o.record is not None
        assert o.record.predictions.computed == o.record.predictions.total, o.task
    # Sharded pairs report progress per shard; trainable pairs are one job each.
    shards = [e for e in events if e.kind == "predict-progress" and e.model == "baseline:lead-k"]
    assert {e.done for e in shards} >= {1, 2, 3}
    assert [e.kind for e in events].count("pair-done") == 7


@pytest.mark.slow
def test_a_dead_worker_is_restarted_and_resumes_from_the_cache(
    ray_cluster: Any, tmp_path: Path, crashy_dir: Path
) -> None:
    logs = crashy_dir / "logs"
    task = find_task("sentiment-en")
    spec = parse_model_spec("crashy:rule")
    config = _config(tmp_path / "ray", batch_size=16)
    (outcome,) = get_executor("ray", shards=1, max_retries=2).run([spec], [task], config)
    assert outcome.status == "done"
    crashed_pid = (logs / "crashed.marker").read_text()
    lines = [line.split() for line in (logs / "predicted.log").read_text().splitlines()]
    ids = [i for _, i in lines]
    unique = len(set(_requests_hashes(task)))
    assert len(ids) == len(set(ids)) == unique  # nothing predicted twice: the retry resumed
    pids = [p for p, _ in lines]
    assert pids[:16] == [crashed_pid] * 16  # the first batch, committed before the crash
    assert set(pids[16:]) and crashed_pid not in pids[16:]  # the rest: a restarted worker
    # Same metrics as a local run of the same rule (which never crashes: no BENCH_CRASHY_DIR).
    local = run_pair(spec, task, _config(tmp_path / "local"))
    assert outcome.record is not None and local.record is not None
    assert outcome.record.metrics == local.record.metrics


@pytest.mark.slow
def test_a_bench_error_in_a_worker_reaches_the_driver_as_itself(
    ray_cluster: Any, tmp_path: Path
) -> None:
    task = find_task("translation-zh-en")
    config = _config(tmp_path, data={"translation-zh-en": tmp_path / "missing"})
    with pytest.raises(DataError, match="missing"):
        get_executor("ray").run([parse_model_spec("baseline:copy")], [task], config)


@pytest.mark.slow
def test_a_model_that_cannot_be_built_on_a_worker_stops_the_run(
    ray_cluster: Any, tmp_path: Path
) -> None:
    spec = parse_model_spec("crashy:rule,fail_on_workers=true")
    with pytest.raises(AdapterError, match="the model files are not on this worker"):
        get_executor("ray").run([spec], [find_task("sentiment-en")], _config(tmp_path))


def _openai_server() -> Any:
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "fixtures" / "openai_server.py"
    spec = importlib.util.spec_from_file_location("bench_test_openai_server", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module.OpenAIServer()


@pytest.mark.slow
def test_api_models_share_one_concurrency_budget(ray_cluster: Any, tmp_path: Path) -> None:
    """Two API models against a real local server: at most --api-concurrency jobs at once."""
    # A chat endpoint cannot score sentiment's default mode (loglik): the task generates.
    task = (
        find_task("sentiment-en")
        .bind_variant("default")
        .model_copy(update={"scoring": ScoringSpec(mode="generate")})
    )
    with _openai_server() as server:
        common = f"base_url={server.base_url},api_key_env=BENCH_TEST_NO_SUCH_KEY,backoff=0"
        specs = [
            parse_model_spec(f"openai:test-model,{common},max_tokens={m},name=api-{m}")
            for m in (64, 128)
        ]
        local = LocalExecutor().run(specs, [task], _config(tmp_path / "local", limit=40))
        for budget, expected_peak in ((1, 1), (3, 3)):
            executor = get_executor("ray", shards=2, api_concurrency=budget)
            assert isinstance(executor, RayExecutor)
            remote = executor.run(specs, [task], _config(tmp_path / f"ray{budget}", limit=40))
            # 2 models x 2 shards: the budget, not the cluster's two CPUs, bounds the jobs.
            assert executor.peak_api_in_flight == expected_peak
            for ours, theirs in zip(local, remote, strict=True):
                assert ours.record is not None and theirs.record is not None
                assert theirs.record.metrics == ours.record.metrics
                assert theirs.record.predictions.computed == 40


@pytest.mark.slow
def test_cli_run_with_the_ray_executor(ray_cluster: Any, bench_home: Path) -> None:
    from typer.testing import CliRunner

    from bench.cli import app

    args = ["run", "-m", "baseline:copy,num_cpus=1", "-t", "translation-zh-en", "--limit", "20"]
    result = CliRunner().invoke(app, [*args, "--executor", "ray", "--shards", "2"])
    assert result.exit_code == 0, result.output
    record = bench_home / "results" / "baseline-copy" / "translation-zh-en" / "record.json"
    assert json.loads(record.read_text())["predictions"]["total"] == 20
    bad = CliRunner().invoke(app, [*args, "--address", "auto"])
    assert bad.exit_code != 0
