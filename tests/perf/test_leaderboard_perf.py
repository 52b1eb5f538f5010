"""Benchmark: the leaderboard of 50 models × 30 tasks (the issue's target: under 5 seconds).

Synthetic but complete records, written in the test: every (model, task) has a ``record.json``
and a ``samples.jsonl`` of ``BENCH_PERF_EXAMPLES`` (default 200) per-example scores, so the tie
test runs its paired tests (49 per task, 1,000 resamples each). Prints the time to build the
tables (records read, ranks, ties, views) and to write every format, and the file sizes:

    python -m pytest tests/perf/test_leaderboard_perf.py -s

Only a loose bound is asserted (timings depend on the machine).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from bench.leaderboard import build_leaderboard, write_leaderboard
from bench.metrics.base import MetricValue
from bench.records import ModelInfo, RunRecord, TaskInfo, write_run

pytestmark = pytest.mark.slow

MODELS = 50
TASKS = 30
EXAMPLES = int(os.environ.get("BENCH_PERF_EXAMPLES", "200"))
# family → (primary metric, scale, languages by task index)
FAMILIES = {
    "sentiment": ("accuracy", 1.0),
    "summarization": ("rougeL", 1.0),
    "qa": ("squad_f1", 100.0),
    "translation": ("sentence_chrf", 100.0),
    "recommendation": ("ndcg@10", 1.0),
}


def _write(results: Path) -> None:
    rng = np.random.default_rng(2024)
    families = list(FAMILIES)
    for t in range(TASKS):
        family = families[t % len(families)]
        metric, scale = FAMILIES[family]
        if family == "translation":
            languages = ["en", "zh"] if t % 2 else ["zh", "en"]
        else:
            languages = ["en"] if t % 2 else ["zh"]
        task = f"task-{t:02d}-{family}"
        for m in range(MODELS):
            skill = 0.3 + 0.5 * m / MODELS
            if metric == "accuracy":
                scores = (rng.random(EXAMPLES) < skill).astype(float)
            else:
                scores = np.clip(rng.normal(skill, 0.2, EXAMPLES), 0, 1) * scale
            column = "correct" if metric == "accuracy" else metric
            idx = rng.integers(0, EXAMPLES, (200, EXAMPLES))
            low, high = np.quantile(scores[idx].mean(axis=1), [0.025, 0.975])
            value = MetricValue(
                name=metric,
                value=float(scores.mean()),
                n=EXAMPLES,
                ci_low=float(low),
                ci_high=float(high),
                signature=f"{metric}|perf|boot:200|conf:0.95|seed:1|v:1",
                scale=scale,
            )
            extra = MetricValue(
                name="other", value=float(scores.mean() / 2), n=EXAMPLES, signature="other|v:1"
            )
            record = RunRecord(
                run_id=f"{m}-{t}",
                started_at="2025-02-01T00:00:00+00:00",
                finished_at="2025-02-01T00:00:00+00:00",
                bench_version="0.1.0",
                task=TaskInfo(
                    name=task,
                    version=1,
                    family=family,
                    languages=languages,
                    spec_hash="s",
                    dataset_fingerprint=f"ds{t}",
                    dataset_origin="perf",
                    preprocess_hash="p",
                    n_examples=EXAMPLES,
                ),
                model=ModelInfo(
                    name=f"model-{m:02d}", spec=f"perf:{m}", adapter="perf", fingerprint=f"f{m}"
                ),
                primary_metric=metric,
                metrics={metric: value, "other": extra},
                bootstrap={"resamples": 200, "confidence": 0.95, "seed": 1},
                timings={},
                predictions={"total": EXAMPLES, "cached": 0, "computed": EXAMPLES, "failed": 0},
                failures={"count": 0, "by_cause": {}, "ids": []},
                environment={},
            )
            samples = (
                {
                    "id": f"{t}-{i}",
                    "input": f"input {i}",
                    "prediction": f"output {i}",
                    "reference": f"reference {i}",
                    "failure": None,
                    "scores": {column: float(scores[i])},
                }
                for i in range(EXAMPLES)
            )
            write_run(results / f"model-{m:02d}" / task, record, samples)


def test_leaderboard_50_models_30_tasks(tmp_path: Path) -> None:
    results = tmp_path / "results"
    t0 = time.perf_counter()
    _write(results)
    t1 = time.perf_counter()
    board = build_leaderboard(results)
    t2 = time.perf_counter()
    paths = write_leaderboard(board, tmp_path / "out", title="perf", command="bench leaderboard")
    t3 = time.perf_counter()
    assert len(board.records) == MODELS * TASKS
    assert board.main.shape[0] == MODELS
    assert {c.tie_method for c in board.columns.values()} == {"paired-test"}
    sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.2f} MB" for p in paths)
    print(
        f"\nleaderboard {MODELS} models × {TASKS} tasks ({EXAMPLES} examples each): "
        f"build {t2 - t1:.2f} s (records, ranks, {TASKS} tie tests, views) + write all formats "
        f"{t3 - t2:.2f} s = {t3 - t1:.2f} s (target < 5 s); records written in {t1 - t0:.2f} s"
        f"\nfiles: {sizes}"
    )
    assert t3 - t1 < 60  # loose: a shared CI machine may be several times slower
