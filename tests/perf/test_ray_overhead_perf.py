"""Benchmark: the smoke suite on the Ray executor against the local executor.

Both executors run the same plan into separate results folders and caches; the Ray run uses a
local two-CPU cluster (``ray.init(num_cpus=2)``), started before the clock (its start-up time is
printed apart). At full scale every built-in baseline runs; reduced, only baseline:copy. The
ratio (ray / local) is the executor's overhead on small jobs: actor start-up per model, shipping
tasks, the shared cache; on two cores Ray can also win back time by running two models at once.
Asserts that both executors wrote records with identical metrics.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from bench.adapters.base import builtin_baselines, parse_model_spec
from bench.catalog import select_tasks
from bench.executors import get_executor
from bench.metrics.base import BootstrapConfig
from bench.runner import RunConfig

ray = pytest.importorskip("ray")


def test_smoke_suite_ray_vs_local(
    scale: Any, tmp_path: Path, nltk_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = builtin_baselines() if scale.full else ["baseline:copy"]
    models = [parse_model_spec(m) for m in names]
    tasks = select_tasks("smoke", [])

    def config(name: str) -> RunConfig:
        return RunConfig(
            results=tmp_path / name / "results",
            cache=tmp_path / name / "cache.sqlite",
            bootstrap=BootstrapConfig(resamples=1000),
        )

    start = time.perf_counter()
    local = get_executor("local").run(models, tasks, config("local"))
    local_s = time.perf_counter() - start

    monkeypatch.setenv("NLTK_DATA", str(nltk_data))  # the workers inherit it
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    start = time.perf_counter()
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    init_s = time.perf_counter() - start
    try:
        start = time.perf_counter()
        remote = get_executor("ray").run(models, tasks, config("ray"))
        ray_s = time.perf_counter() - start
    finally:
        if started:
            ray.shutdown()

    done = sum(o.status == "done" for o in local)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"\nsmoke suite, {len(models)} models x {len(tasks)} tasks = {done} records "
        f"({cpus} CPUs), scale {scale.name}"
    )
    print(
        f"  local {local_s:.2f} s   ray {ray_s:.2f} s (+ {init_s:.1f} s cluster start)   "
        f"ray / local x{ray_s / local_s:.2f}"
    )
    assert [(o.model, o.task, o.status) for o in remote] == [
        (o.model, o.task, o.status) for o in local
    ]
    for ours, theirs in zip(local, remote, strict=True):
        if ours.record_path is not None and theirs.record_path is not None:
            a = json.loads(ours.record_path.read_text(encoding="utf-8"))["metrics"]
            b = json.loads(theirs.record_path.read_text(encoding="utf-8"))["metrics"]
            assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True), (
                ours.model,
                ours.task,
            )
