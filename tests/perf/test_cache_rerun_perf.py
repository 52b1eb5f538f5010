"""Benchmark: a warm-cache re-run of the smoke suite against the cold run that filled the cache.

The smoke suite runs twice with the same prediction cache: cold (every model predicts, trainable
baselines are fitted) and warm (every prediction comes from the cache, so nothing is fitted or
predicted; loading, scoring with 1,000-resample intervals and writing records remain). At full
scale every built-in baseline runs; reduced, five cheap ones (one or two per family). Asserts
that the warm run found every prediction cached and reproduced every metric exactly.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.adapters.base import builtin_baselines, parse_model_spec
from bench.catalog import select_tasks
from bench.runner import RunConfig, run_plan

CHEAP = [
    "baseline:copy",
    "baseline:lead-k",
    "baseline:majority",
    "baseline:first-sentence",
    "baseline:most-popular",
]


def test_smoke_suite_warm_cache_vs_cold(scale: Any, tmp_path: Path, nltk_data: Path) -> None:
    models = [parse_model_spec(m) for m in (builtin_baselines() if scale.full else CHEAP)]
    tasks = select_tasks("smoke", [])
    config = RunConfig(results=tmp_path / "results", cache=tmp_path / "cache.sqlite")

    start = time.perf_counter()
    cold = run_plan(models, tasks, config)
    cold_s = time.perf_counter() - start
    start = time.perf_counter()
    warm = run_plan(models, tasks, config)
    warm_s = time.perf_counter() - start

    done = [(c, w) for c, w in zip(cold, warm, strict=True) if c.record and w.record]
    examples = sum(c.record.predictions.total for c, _ in done if c.record)
    print(
        f"\nsmoke suite, {len(models)} models x {len(tasks)} tasks = {len(done)} records, "
        f"{examples} predictions, scale {scale.name}"
    )
    print(f"  cold {cold_s:.2f} s   warm cache {warm_s:.2f} s   x{cold_s / warm_s:.1f} faster")
    assert done and len(done) == sum(o.status == "done" for o in cold)
    for c, w in done:
        assert c.record is not None and w.record is not None
        assert w.record.predictions.cached == w.record.predictions.total, c.task
        assert w.record.metrics == c.record.metrics, (c.model, c.task)
