"""Benchmark: what the 95% bootstrap intervals add to the metric stage, per family.

For each family the smoke task's real requests and references are repeated up to N examples
(10,000 at full scale, ``BENCH_PERF_SCALE=full``; 2,000 reduced; ``BENCH_PERF_EXAMPLES``
overrides), each copy with its own deterministic perturbation of the prediction, and the task's
metrics score the same predictions on fresh contexts: without intervals
(``BootstrapConfig(resamples=0)``), with the default 1,000 seeded resamples drawn afresh (one
model scored alone), and again with the draw cached (a second model on the same test set). The
runs are interleaved, repeated (3 times, ``BENCH_PERF_REPS``), and the medians printed side by
side with their ratios (the target is ≤ 1.10); the test asserts only that the point values are
identical with and without intervals, that a cached draw gives the same intervals as a fresh
one, and that every interval contains its value.

    BENCH_PERF_SCALE=full python -m pytest tests/perf/test_bootstrap_perf.py -s
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

import pytest

from bench.families.generation import TextResponse
from bench.families.recommendation import RankingResponse
from bench.families.sentiment import SentimentResponse
from bench.metrics.base import BootstrapConfig, Metric, ScoringContext, score_task
from bench.metrics.resampling import clear_caches
from bench.registry import registry
from tests.perf.workloads import perturb, smoke_examples

REPS = int(os.environ.get("BENCH_PERF_REPS", "3"))
"""Interleaved repetitions per family (``BENCH_PERF_REPS``); the figures are medians."""


def _metrics(spec: Any) -> list[Metric]:
    return [registry.get("metric", m.name)(**m.params) for m in spec.metrics]


def _fresh_draw() -> None:
    """Forget the cached resamples, so the next run with intervals pays the draw."""
    clear_caches()


def _measure(family: str, spec: Any, requests: list, references: list, responses: list) -> None:
    few = ScoringContext(spec, requests[:20], references[:20], responses[:20])
    score_task(few, _metrics(spec))  # imports and first-call set-up are not the stage's cost
    times: dict[str, list[float]] = {"without": [], "first": [], "cached": []}
    values = {}
    boot = BootstrapConfig()
    # Interleaved (without, first model, cached, without, ...) so that a change in machine load
    # hits all three; medians over the repetitions. "first model" starts from no cached draw
    # (what one `bench run` pays); "cached" is another model on the same test set in the same
    # process, which reuses the draw.
    for _ in range(REPS):
        for label, config in (("without", BootstrapConfig(resamples=0)), ("first", boot)):
            if label == "first":
                _fresh_draw()
            for run in (label, "cached") if label == "first" else (label,):
                ctx = ScoringContext(spec, requests, references, responses, config)
                start = time.perf_counter()
                values[run] = score_task(ctx, _metrics(spec))[0]
                times[run].append(time.perf_counter() - start)
    plain, cold, warm = (statistics.median(times[k]) for k in ("without", "first", "cached"))
    n = len(requests)
    print(
        f"\n{family}, n={n} examples × {boot.resamples} resamples "
        f"(counts matrix {n * boot.resamples * 8 / 2**20:.0f} MiB), median of {REPS}: "
        f"without CIs {plain:.3f} s | with CIs, first model {cold:.3f} s (ratio "
        f"{cold / plain:.3f}) | with CIs, resamples cached {warm:.3f} s (ratio "
        f"{warm / plain:.3f}); target ≤ 1.10"
    )
    for name, value in values["first"].items():
        assert value.value == values["without"][name].value, name
        assert (value.ci_low, value.ci_high) == (
            values["cached"][name].ci_low,
            values["cached"][name].ci_high,
        ), name
        if value.ci_low is not None and isinstance(value.value, float):
            assert value.ci_low <= value.value <= value.ci_high, name


def _n(scale: Any) -> int:
    return int(scale.pick(10_000, 2_000, "BENCH_PERF_EXAMPLES"))


@pytest.mark.slow
def test_translation(scale: Any) -> None:
    spec, requests, references = smoke_examples("translation-zh-en", _n(scale))
    m = len({r.id for r in requests})
    responses = [TextResponse(text=perturb(r[0], 1 + i // m)) for i, r in enumerate(references)]
    _measure("translation (BLEU, chrF, TER)", spec, requests, references, responses)


@pytest.mark.slow
def test_summarization(scale: Any, nltk_data: Any) -> None:
    spec, requests, references = smoke_examples("summarization-en", _n(scale))
    m = len({r.id for r in requests})
    responses = [TextResponse(text=perturb(r[0], 1 + i // m)) for i, r in enumerate(references)]
    _measure("summarization (ROUGE-1/2/L/Lsum)", spec, requests, references, responses)


def test_sentiment(scale: Any) -> None:
    spec, requests, references = smoke_examples("sentiment-en", _n(scale))
    labels = list(spec.labels or [])
    responses = [
        SentimentResponse(label=ref if i % 3 else labels[(labels.index(ref) + 1) % len(labels)])
        for i, ref in enumerate(references)
    ]
    _measure(
        "sentiment (accuracy, macro-F1, per-class, MCC)", spec, requests, references, responses
    )


def test_qa(scale: Any, nltk_data: Any) -> None:
    spec, requests, references = smoke_examples("qa-en", _n(scale))
    responses = [
        TextResponse(text=refs[0] if i % 4 else perturb(f"the {refs[0]} here", 1))
        for i, refs in enumerate(references)
    ]
    _measure("qa (SQuAD EM, F1)", spec, requests, references, responses)


def test_recommendation(scale: Any) -> None:
    spec, requests, references = smoke_examples("recommendation-synthetic", _n(scale))
    responses = [
        RankingResponse(ranked=tuple(req.candidates[(i % 7) :] + req.candidates[: (i % 7)]))
        for i, req in enumerate(requests)
    ]
    _measure(
        "recommendation (HR, NDCG, MRR, MAP, coverage, ...)", spec, requests, references, responses
    )
