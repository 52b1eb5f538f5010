"""Benchmark: bench's ROUGE in one process against a rouge-score loop, English and Chinese.

The goal (from the issue): bench at least 10× faster than rouge-score, single process, with
identical numbers. Both sides compute ROUGE-1, -2, -L and -Lsum, per example, for the same
pairs; the test prints the two times, their ratio and the goal side by side, and asserts only
that every per-example P, R and F is identical (timings depend on the machine).

* English, 10,000 pairs at full scale: the FRANK subset of CNN/DailyMail (every system's summary
  against the reference highlights, repeated with one word dropped per copy), Porter stemmer.
  rouge-score as it is usually called: ``RougeScorer([...4 types...], use_stemmer=True,
  split_summaries=True).score`` in a loop (NLTK sentences for ROUGE-Lsum).
* Chinese, 10,000 pairs at full scale: CSL (the abstract's first two sentences against the
  paper's title, repeated with one character dropped per copy), bench's jieba tokenizer.
  rouge-score with that tokenizer, ``score`` in a loop, and for ROUGE-Lsum the texts' sentences
  (bench's Chinese splitter) one a line, as bench had called it.

bench is :func:`bench.metrics.rouge.rouge_scores` with ``processes=1``, its per-word caches
emptied before every timed run. Each side is timed ``BENCH_PERF_RUNS`` times (default 1 at full
scale, 2 reduced), in turn, and the best time kept:

    BENCH_PERF_SCALE=full python -m pytest -n 0 tests/perf/test_rouge_speed.py -s

Reduced scale (plain pytest) runs 1,000 pairs of each; ``BENCH_PERF_PAIRS`` sets another number.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rouge_score.rouge_scorer import RougeScorer

from bench.metrics import rouge as rouge_module
from bench.metrics.rouge import JiebaTokenizer, rouge_scores
from bench.preprocess.resources import jieba_status
from bench.preprocess.sentences import sentence_splitter
from tests.perf.workloads import best_of, csl_pairs, frank_pairs

TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
GOAL = 10.0


def _bench(preds: list[str], refs: list[str], language: str) -> dict[str, Any]:
    rouge_module._stem.cache_clear()  # every timed run starts from cold per-word caches
    return rouge_scores(preds, [(r,) for r in refs], language, processes=1)


def _report(what: str, n: int, theirs: float, ours: float) -> float:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    ratio = theirs / ours
    print(f"\nROUGE-1/2/L/Lsum, {what}, {n} pairs ({cpus} CPUs, load average {load:.2f})")
    print(f"  {'rouge-score loop, 1 process':<32}{theirs:8.2f} s")
    print(f"  {'bench, 1 process':<32}{ours:8.2f} s")
    status = "met" if ratio >= GOAL else "NOT met"
    print(f"  {'speed-up':<32}{ratio:8.1f}x   (goal >= {GOAL:.0f}x: {status})")
    return ratio


def _assert_identical(ours: dict[str, Any], plain: list[dict[str, Any]]) -> None:
    for t in TYPES:
        for k, field in enumerate(("precision", "recall", "fmeasure")):
            expected = np.array([s[t][k] for s in plain], dtype=np.float64)
            assert np.array_equal(getattr(ours[t], field), expected), (t, field)


def test_english_rouge_vs_rouge_score(nltk_data: Path, scale: Any) -> None:
    n = scale.pick(10_000, 300, "BENCH_PERF_PAIRS")
    runs = scale.pick(1, 1, "BENCH_PERF_RUNS")
    preds, refs = frank_pairs(n)
    scorer = RougeScorer(TYPES, use_stemmer=True, split_summaries=True)
    out: dict[str, Any] = {}

    def plain() -> None:
        out["plain"] = [scorer.score(r, p) for p, r in zip(preds, refs, strict=True)]

    def ours() -> None:
        out["ours"] = _bench(preds, refs, "en")

    # Warm-up: imports, NLTK's Punkt parameters, rapidfuzz.
    scorer.score(refs[0], preds[0])
    rouge_scores(preds[:2], [(r,) for r in refs[:2]], "en", processes=1)
    theirs_s, ours_s = best_of(runs, plain, ours)
    _report("English, Porter stemmer", n, theirs_s, ours_s)
    _assert_identical(out["ours"], out["plain"])


def test_chinese_rouge_vs_rouge_score(scale: Any) -> None:
    status = jieba_status()
    if not status.present:
        pytest.skip(f"jieba is not usable: {status.detail}")
    n = scale.pick(10_000, 300, "BENCH_PERF_PAIRS")
    runs = scale.pick(1, 1, "BENCH_PERF_RUNS")
    preds, refs = csl_pairs(n)
    tokenizer = JiebaTokenizer()
    whole = RougeScorer(TYPES[:3], tokenizer=tokenizer)
    lsum = RougeScorer(["rougeLsum"], tokenizer=tokenizer)
    split = sentence_splitter("zh").split
    out: dict[str, Any] = {}

    def plain() -> None:
        scores = []
        for p, r in zip(preds, refs, strict=True):
            score = whole.score(r, p)
            score.update(lsum.score("\n".join(split(r)), "\n".join(split(p))))
            scores.append(score)
        out["plain"] = scores

    def ours() -> None:
        out["ours"] = _bench(preds, refs, "zh")

    tokenizer.tokenize("预热")  # loads jieba's dictionary: neither side's cost
    rouge_scores(preds[:2], [(r,) for r in refs[:2]], "zh", processes=1)
    theirs_s, ours_s = best_of(runs, plain, ours)
    _report("Chinese, jieba", n, theirs_s, ours_s)
    _assert_identical(out["ours"], out["plain"])
