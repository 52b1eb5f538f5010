"""Numbers do not depend on how many threads BLAS uses.

Bootstrap intervals are matrix products of resample counts and per-example scores; a
multi-threaded BLAS splits those sums differently with its thread count. A Ray worker runs with
one thread, a laptop with all its cores: the same run must write the same metrics on both.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import NLTK_DATA

_SCRIPT = Path(sys.executable).with_name("bench")
BENCH = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "bench.cli"]


def _metrics(tmp: Path, threads: str | None) -> bytes:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env["NLTK_DATA"] = str(NLTK_DATA)
    env["BENCH_HOME"] = str(tmp / "home")
    if threads is not None:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = threads
    results = tmp / "results"
    args = ["run", "-m", "baseline:item-knn", "-m", "baseline:majority"]
    args += ["-t", "recommendation-synthetic", "-t", "sentiment-en", "--results", str(results)]
    done = subprocess.run(
        [*BENCH, *args, "--no-cache"], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    parts = []
    for path in sorted(results.glob("*/*/record.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        parts.append(json.dumps(record["metrics"], sort_keys=True))
    assert len(parts) == 2
    return "\n".join(parts).encode()


@pytest.mark.slow
def test_metrics_are_the_same_with_one_or_many_blas_threads(tmp_path: Path) -> None:
    one = _metrics(tmp_path / "one", "1")
    many = _metrics(tmp_path / "many", str(max(2, os.cpu_count() or 2)))
    assert one == many
