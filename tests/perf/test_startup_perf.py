"""Benchmark: start-up of the ``bench`` command line, whole processes.

Issue 18, goal 2: ``bench --help`` ≤ 0.3 s and ``bench tasks list`` ≤ 0.6 s on a 2-core machine
(the catalog reads task files, not data sets). Each command runs as a fresh process, the minimum
of N runs is reported (the least disturbed by other work on the machine), beside two floors
measured the same way: an empty interpreter (``python -c pass``) and one that only imports
typer, the command-line library. ``bench tasks list`` runs with a warm count cache
(``BENCH_HOME/task-counts.json``, written by a first run that is not timed), as every run after
the first is, and from compiled bytecode. Which libraries start-up imports is asserted by
``tests/unit/test_startup.py``; this file prints times and asserts only that every command
succeeded.

N is 7 at full scale, 3 reduced.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SCRIPT = Path(sys.executable).with_name("bench")
BENCH = [str(SCRIPT)] if SCRIPT.is_file() else [sys.executable, "-m", "bench.cli"]


def _best(command: list[str], env: dict[str, str], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        best = min(best, time.perf_counter() - start)
        assert done.returncode == 0, (command, done.stderr[-2000:])
    return best


def test_bench_help_and_tasks_list_start_up(scale: Any, tmp_path: Path) -> None:
    runs = scale.pick(7, 3)
    env = dict(os.environ, BENCH_HOME=str(tmp_path / "home"))
    env.pop("BENCH_TASKS_PATH", None)
    # As an installed bench starts: from compiled bytecode (the untimed first run writes it
    # where a shell's PYTHONDONTWRITEBYTECODE would have every run compile bench's modules).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([*BENCH, "tasks", "list"], env=env, capture_output=True, check=True)
    rows = [
        ("python -c pass", [sys.executable, "-c", "pass"], None),
        ("python -c 'import typer'", [sys.executable, "-c", "import typer"], None),
        ("bench --help", [*BENCH, "--help"], 0.3),
        ("bench tasks list", [*BENCH, "tasks", "list"], 0.6),
    ]
    print(f"\nstart-up, whole processes, minimum of {runs} runs, scale {scale.name}")
    for name, command, goal in rows:
        seconds = _best(command, env, runs)
        verdict = ""
        if goal is not None:
            verdict = f"  goal <= {goal:.1f} s: {'met' if seconds <= goal else 'NOT met'}"
        print(f"  {name:<26} {seconds:6.3f} s{verdict}")
