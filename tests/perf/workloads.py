"""Workloads shared by the metric benchmarks: smoke-task examples repeated to a size, and
hypotheses made by dropping a word."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.catalog import find_task
from bench.stages import RunConfig, prepare


def smoke_examples(task_name: str, n: int) -> tuple[Any, list[Any], list[Any]]:
    """The smoke task's spec and its prepared requests and references, repeated to ``n``."""
    spec = find_task(task_name)
    prepared = prepare(spec, RunConfig(results=Path("unused")))
    m = len(prepared.requests)
    return (
        spec,
        [prepared.requests[i % m] for i in range(n)],
        [prepared.references[i % m] for i in range(n)],
    )


def perturb(text: str, copy: int) -> str:
    """Copy 0 unchanged; each further copy drops a different word."""
    words = text.split()
    if copy and len(words) > 1:
        del words[(copy * 7) % len(words)]
    return " ".join(words)


def best_of(runs: int, *fns: Callable[[], Any]) -> list[float]:
    """The best of ``runs`` timings of each of ``fns``, timed in turn (f1, f2, f3, f1, ...):
    load from other processes (another test worker) then falls on every variant alike,
    instead of on whichever happened to run while it lasted."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for k, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - start)
    return [min(t) for t in times]
