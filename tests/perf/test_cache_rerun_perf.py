"""Benchmark: the smoke suite run again, as a user runs it — whole ``bench run`` processes.

Three runs of ``bench run --publish`` in one fresh ``BENCH_HOME`` and results folder, side by
side (issue 18, goal 1: a warm re-run ≥ 20× faster than cold):

* **cold**: nothing cached; every model predicts, trainable baselines are fitted;
* **warm**: the same command again: every record is up to date (same inputs, identified
  before any data is read), so nothing is loaded, predicted or scored; the leaderboard is
  published again from the kept records;
* **rescore**: ``--rescore``: every pair is loaded and scored again, every prediction read
  from the cache (what a re-run cost before records were kept).

At full scale (``BENCH_PERF_SCALE=full``) every built-in baseline runs on the whole smoke
suite (the README's main command); reduced, two cheap baselines on two of its tasks. The test
asserts that the warm run kept every record (no new run id) and the rescored run reproduced
every metric exactly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CHEAP = ["-m", "baseline:copy", "-m", "baseline:majority", "-t", "sentiment-en,translation-zh-en"]


def _records(results: Path) -> dict[str, dict[str, Any]]:
    return {
        str(p.parent.relative_to(results)): json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(results.rglob("record.json"))
    }


def test_smoke_suite_warm_rerun_vs_cold(scale: Any, tmp_path: Path, nltk_data: Path) -> None:
    models = [] if scale.full else CHEAP
    command = [
        sys.executable,
        "-m",
        "bench.cli",
        "run",
        *models,
        "--results",
        str(tmp_path / "results"),
        "--publish",
        str(tmp_path / "board"),
    ]
    env = {**os.environ, "BENCH_HOME": str(tmp_path / "home"), "NLTK_DATA": str(nltk_data)}

    def run(*extra: str) -> float:
        start = time.perf_counter()
        done = subprocess.run(
            [*command, *extra], env=env, capture_output=True, text=True, timeout=1800
        )
        seconds = time.perf_counter() - start
        assert done.returncode == 0, done.stderr[-3000:]
        return seconds

    cold_s = run()
    cold = _records(tmp_path / "results")
    warm_s = run()
    warm = _records(tmp_path / "results")
    rescore_s = run("--rescore")
    rescored = _records(tmp_path / "results")
    print(
        f"\nsmoke suite, whole `bench run --publish` processes, {len(cold)} records, "
        f"{sum(r['predictions']['total'] for r in cold.values())} predictions, scale {scale.name}"
    )
    print(
        f"  cold {cold_s:.2f} s   warm (records kept) {warm_s:.2f} s  x{cold_s / warm_s:.1f}   "
        f"--rescore (cache) {rescore_s:.2f} s  x{cold_s / rescore_s:.1f}   goal: warm >= x20"
    )
    assert cold and warm.keys() == cold.keys() == rescored.keys()
    for key, record in cold.items():
        assert warm[key]["run_id"] == record["run_id"], key  # kept, not rewritten
        assert rescored[key]["run_id"] != record["run_id"], key
        assert rescored[key]["predictions"]["cached"] == record["predictions"]["total"], key
        assert rescored[key]["metrics"] == record["metrics"], key
