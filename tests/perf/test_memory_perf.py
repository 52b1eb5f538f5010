"""Benchmark: peak memory of a run at N against 10 × N test examples.

A child process (a fresh interpreter, so nothing else is counted) runs
:func:`bench.runner.run_pair` for ``baseline:majority`` on a local sentiment task of N examples
(a cheap model: what is measured is bench's own loading, preprocessing, request building,
scoring and record writing), without the prediction cache and without intervals, and reports two
peaks:

* peak resident set size (``resource.getrusage(...).ru_maxrss``): everything the process had in
  RAM, including the pages of the memory-mapped Arrow files ``datasets`` writes (the loaded,
  canonical and preprocessed splits), which the kernel can drop and re-read at will;
* peak anonymous memory (``RssAnon`` of ``/proc/self/status``, sampled every 2 ms by a thread;
  Linux only): the process's own heap — Python objects, numpy arrays, Arrow buffers.

N is 100,000 and 1,000,000 at full scale, 5,000 and 50,000 reduced.

It also prints the harness overhead per example (issue 18, goal 3): the difference of the two
runs' times outside the metric stage, over the difference of their sizes.

The figures are reported as they are, never asserted. Requests and references are built from the
Arrow dataset chunk by chunk and responses kept as interned JSON (:mod:`bench.streaming`), so the
heap grows only by a few numpy columns per example (content hashes, response indices, scores);
the mapped Arrow pages still grow with the data, which is why the two peaks are shown apart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.perf.workloads import MEMORY_SAMPLER

TASK = """\
name: memory-perf
version: 1
family: sentiment
languages: [en]
description: Synthetic reviews for the memory benchmark.
labels: [negative, positive]
source:
  kind: local
  location: {folder}
  format: jsonl
  files: {{train: train.jsonl, test: test.jsonl}}
  splits: {{train: train, test: test}}
metrics: [accuracy, macro_f1]
primary_metric: accuracy
"""

CHILD = (
    MEMORY_SAMPLER
    + """
import time
from pathlib import Path
from bench.adapters.base import parse_model_spec
from bench.metrics.base import BootstrapConfig
from bench.runner import RunConfig, run_pair
from bench.spec import load_task

folder = Path(sys.argv[1])
config = RunConfig(results=folder / "results", cache=None, bootstrap=BootstrapConfig(resamples=0))
start = time.perf_counter()
task = load_task(folder / "memory-perf.yaml")
out = run_pair(parse_model_spec("baseline:majority"), task, config)
seconds = time.perf_counter() - start
record = out.record
print(json.dumps({**peaks_mib(), "seconds": seconds, "score_s": record.timings.score_s,
                  "n": record.task.n_examples, "accuracy": record.metrics["accuracy"].value}))
"""
)

WORDS = ["good", "bad", "fine", "awful", "great", "poor", "lovely", "dull", "superb", "broken"]


def _measure(folder: Path, n: int) -> dict[str, Any]:
    folder.mkdir()
    with (folder / "test.jsonl").open("w", encoding="utf-8") as fh:
        for i in range(n):
            text = " ".join(WORDS[(i * k) % len(WORDS)] for k in range(1, 13)) + f" #{i}"
            label = "negative" if i % 10 < 3 else "positive"  # 70 % positive at any n
            fh.write(json.dumps({"id": str(i), "text": text, "label": label}) + "\n")
    with (folder / "train.jsonl").open("w", encoding="utf-8") as fh:
        for i in range(30):
            label = "positive" if i % 3 else "negative"
            fh.write(json.dumps({"id": f"t{i}", "text": WORDS[i % 10], "label": label}) + "\n")
    (folder / "memory-perf.yaml").write_text(TASK.format(folder=folder), encoding="utf-8")
    env = dict(os.environ, HF_DATASETS_CACHE=str(folder / "hf-cache"))
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_peak_memory_small_vs_ten_times_larger(scale: Any, tmp_path: Path) -> None:
    small_n = scale.pick(100_000, 2_000, "BENCH_PERF_MEMORY_N")
    small = _measure(tmp_path / "small", small_n)
    large = _measure(tmp_path / "large", 10 * small_n)
    print(f"\npeak RSS of a run (baseline:majority, sentiment, no cache), scale {scale.name}")
    for m in (small, large):
        print(
            f"  {m['n']:>9} examples: {m['peak_mib']:8.0f} MiB peak RSS, "
            f"{m['anon_mib']:8.0f} MiB peak anonymous, {m['seconds']:6.1f} s"
        )
    ratio = large["peak_mib"] / small["peak_mib"]
    print(f"  peak RSS ratio 10x examples / 1x: x{ratio:.2f} (flat would be x1.00)")
    if small["anon_mib"] > 0:
        anon = large["anon_mib"] / small["anon_mib"]
        print(f"  peak anonymous memory ratio 10x examples / 1x: x{anon:.2f}")
    # Harness overhead: what each further example costs beyond the metric stage, from the
    # difference of the two runs (fixed costs such as imports and the model's fit cancel).
    extra = (large["seconds"] - large["score_s"]) - (small["seconds"] - small["score_s"])
    per_example_us = 1e6 * extra / (large["n"] - small["n"])
    print(
        f"  harness overhead (null model, beyond the metric stage): {per_example_us:.1f} µs per "
        f"example, from {small_n} to {10 * small_n} examples (goal <= 5 µs)"
    )
    assert (small["n"], large["n"]) == (small_n, 10 * small_n)
    assert small["accuracy"] == large["accuracy"] == 0.7  # the majority label's share
