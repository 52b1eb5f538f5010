"""Hypothesis properties of intervals and paired tests.

* Every interval contains its point estimate (record intervals and paired differences).
* Intervals narrow as n grows (the same data, replicated).
* Two identical systems get p = 1 from every paired test.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.metrics.base import BootstrapConfig, percentile_ci
from bench.metrics.mt import corpus_stats
from bench.stats import (
    approximate_randomization,
    mcnemar,
    paired_bootstrap,
    paired_permutation,
)

scores = st.lists(st.floats(0, 1, allow_nan=False), min_size=2, max_size=60)
bits = st.lists(st.booleans(), min_size=1, max_size=80)
WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran"]
sentences = st.lists(st.sampled_from(WORDS), min_size=1, max_size=8).map(" ".join)


def _boot_mean(values: np.ndarray) -> object:
    return lambda idx: values[idx].mean(axis=1)


@settings(max_examples=40, deadline=None)
@given(scores, st.integers(0, 2**31 - 1))
def test_interval_contains_the_mean(values: list[float], seed: int) -> None:
    x = np.array(values)
    boot = BootstrapConfig(resamples=300, seed=seed)
    low, high = percentile_ci(x[boot.resample_indices(x.size)].mean(axis=1), boot.confidence)
    assert low - 1e-12 <= x.mean() <= high + 1e-12


@settings(max_examples=40, deadline=None)
@given(scores, scores, st.integers(0, 2**31 - 1))
def test_paired_interval_contains_the_difference(a: list[float], b: list[float], seed: int) -> None:
    n = min(len(a), len(b))
    xa, xb = np.array(a[:n]), np.array(b[:n])
    p, low, high = paired_bootstrap(
        _boot_mean(xa), _boot_mean(xb), xa.mean(), xb.mean(), n, resamples=300, seed=seed
    )
    assert low - 1e-12 <= xa.mean() - xb.mean() <= high + 1e-12
    assert 0 < p <= 1


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=5, max_size=30))
def test_interval_narrows_as_n_grows(values: list[float]) -> None:
    x = np.array(values)
    if np.ptp(x) == 0:
        return  # a constant sample has a zero-width interval at every n
    boot = BootstrapConfig(resamples=400, seed=7)
    widths = []
    for copies in (1, 16):
        big = np.tile(x, copies)
        low, high = percentile_ci(big[boot.resample_indices(big.size)].mean(axis=1), 0.95)
        widths.append(high - low)
    assert widths[1] < widths[0]


@settings(max_examples=40, deadline=None)
@given(scores, bits)
def test_identical_systems_get_p_one(values: list[float], outcomes: list[bool]) -> None:
    x = np.array(values)
    assert paired_permutation(x, x.copy(), resamples=200)[0] == 1.0
    y = np.array(outcomes)
    assert mcnemar(y, y.copy())[0] == 1.0
    p, low, high = paired_bootstrap(
        _boot_mean(x), _boot_mean(x), x.mean(), x.mean(), x.size, resamples=200, identical=True
    )
    assert (p, low, high) == (1.0, 0.0, 0.0)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(sentences, sentences), min_size=2, max_size=12))
def test_identical_corpus_systems_get_p_one(pairs: list[tuple[str, str]]) -> None:
    hyps = [h for h, _ in pairs]
    refs = [(r,) for _, r in pairs]
    for metric in ("bleu", "chrf", "ter"):
        a = corpus_stats(metric, hyps, refs, language="en")
        b = corpus_stats(metric, list(hyps), refs, language="en")
        assert approximate_randomization(a.matrix, b.matrix, a.vector_score, 1, 1) == 1.0


@settings(max_examples=30, deadline=None)
@given(scores, st.floats(0.05, 1.0))
def test_a_shifted_system_is_not_tied(values: list[float], shift: float) -> None:
    x = np.tile(np.array(values), 10)
    p, _ = paired_permutation(x + shift, x, resamples=500)
    assert p <= 2 / 501  # every difference has the same sign: only the identity sign vector
