"""Benchmark: ROUGE on 10,000 English pairs, plain rouge-score against bench serial and parallel.

Not a timed assertion (timings depend on the machine); it asserts only that the three runs give
identical numbers, and prints the figures side by side. 10,000 pairs at full
scale (``BENCH_PERF_SCALE=full``, as ``bench selftest --perf`` runs it), 500 under plain
pytest (``BENCH_PERF_PAIRS`` sets another number):

    BENCH_PERF_SCALE=full python -m pytest tests/perf/test_rouge_parallel.py -s

The pairs are the FRANK subset of CNN/DailyMail (``../shared/data/cnn-dailymail``): six systems'
summaries against the reference highlights, repeated with one word dropped per copy until there
are 10,000 (``BENCH_PERF_PAIRS`` changes the count). "Plain rouge-score" is how it is usually
called: ``RougeScorer([...four types...], use_stemmer=True, split_summaries=True).score`` in one
Python loop. bench scores the same four types through its metrics (one shared pass, NLTK Punkt
sentences for ROUGE-Lsum, a 1,000-resample bootstrap per type), in one process and in two.

bench scores ROUGE itself, about ten times as fast as rouge-score in one process (see
``test_rouge_speed.py``), so at this size a second process does not pay for itself: each worker
is a fresh interpreter that imports bench and NLTK and fills its own caches, which costs
seconds. ``processes=None`` therefore starts workers only from 50,000 examples on.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from rouge_score.rouge_scorer import RougeScorer

from bench.families.generation import TextResponse
from bench.families.summarization import SummarizationRequest
from bench.metrics.base import BootstrapConfig, ScoringContext, score_task
from bench.metrics.rouge import Rouge1, Rouge2, RougeL, RougeLsum
from bench.spec import parse_task
from tests.perf.workloads import frank_pairs

TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]

_TASK = """\
name: rouge-perf
version: 1
family: summarization
languages: [en]
description: Carries the language and metric list for the ROUGE benchmark.
source:
  kind: builtin
  location: smoke/summarization-en
  format: jsonl
  files: {test: test.jsonl}
  splits: {test: test}
  fields: {id: id, document: document, references: summary}
metrics: [rouge1, rouge2, rougeL, rougeLsum]
primary_metric: rouge1
"""


def bench_run(preds: list[str], refs: list[str], processes: int) -> tuple[float, list[dict]]:
    ctx = ScoringContext(
        spec=parse_task(_TASK),
        requests=[
            SummarizationRequest(id=str(i), language="en", document="d") for i in range(len(preds))
        ],
        references=[(r,) for r in refs],
        responses=[TextResponse(text=p) for p in preds],
        bootstrap=BootstrapConfig(),
    )
    metrics = [m(processes=processes) for m in (Rouge1, Rouge2, RougeL, RougeLsum)]
    start = time.perf_counter()
    _, _, per_example = score_task(ctx, metrics)
    return time.perf_counter() - start, per_example


def test_rouge_10k_pairs_plain_serial_parallel(nltk_data: Path, scale: Any) -> None:
    n = scale.pick(10_000, 200, "BENCH_PERF_PAIRS")
    preds, refs = frank_pairs(n)

    scorer = RougeScorer(TYPES, use_stemmer=True, split_summaries=True)
    start = time.perf_counter()
    plain = [scorer.score(ref, pred) for pred, ref in zip(preds, refs, strict=True)]
    plain_s = time.perf_counter() - start

    serial_s, serial = bench_run(preds, refs, processes=1)
    parallel_s, parallel = bench_run(preds, refs, processes=2)

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nROUGE-1/2/L/Lsum on {n} English pairs ({cpus} CPUs, load average {load:.2f})")
    print(f"  {'plain rouge-score, 1 process':<34}{plain_s:8.2f} s")
    print(f"  {'bench, 1 process':<34}{serial_s:8.2f} s   x{plain_s / serial_s:.2f} vs plain")
    print(f"  {'bench, 2 processes':<34}{parallel_s:8.2f} s   x{plain_s / parallel_s:.2f} vs plain")
    print(f"  {'speed-up, bench 2 vs 1 process':<34}{serial_s / parallel_s:8.2f}")

    assert serial == parallel
    for t in TYPES:
        expected = np.array([s[t].fmeasure for s in plain])
        assert np.array_equal(np.array([row[t] for row in serial]), expected), t
