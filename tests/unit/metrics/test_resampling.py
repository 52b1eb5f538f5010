"""The cached resample counts: the seeded draw, counted exactly, kept per test-set size."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from bench.metrics import resampling
from bench.metrics.resampling import BootstrapConfig, clear_caches, resample_counts


@pytest.fixture(autouse=True)
def _no_cached_draws() -> Iterator[None]:
    clear_caches()
    yield
    clear_caches()


@pytest.fixture
def draws(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes drawn (not read from the cache), in order."""
    drawn: list[int] = []
    draw = resampling._draw_counts

    def counted(n: int, resamples: int, seed: int) -> np.ndarray:
        drawn.append(n)
        return draw(n, resamples, seed)

    monkeypatch.setattr(resampling, "_draw_counts", counted)
    return drawn


@pytest.mark.parametrize("n", [1, 37, 1000])
def test_counts_are_the_resample_indices_counted(n: int) -> None:
    boot = BootstrapConfig(resamples=120, seed=7)
    counts = resample_counts(n, boot)
    assert counts is not None
    idx = boot.resample_indices(n)
    expected = np.stack([np.bincount(row, minlength=n) for row in idx]).astype(np.float64)
    assert np.array_equal(counts, expected)
    assert not counts.flags.writeable


def test_subsets_of_other_sizes_do_not_evict_the_test_set(draws: list[int]) -> None:
    # SQuAD 2.0: all questions, then HasAns and NoAns, for every model.
    boot = BootstrapConfig()
    for _model in range(3):
        first = [resample_counts(n, boot) for n in (600, 400, 200)]
    assert draws == [600, 400, 200]
    again = [resample_counts(n, boot) for n in (600, 400, 200)]
    assert all(a is b for a, b in zip(first, again, strict=True))


def test_cached_cells_are_bounded_least_recently_used_first(
    draws: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resampling, "COUNTS_CACHE_CELLS", 1000 * 500)
    boot = BootstrapConfig()
    for n in (300, 200, 300, 150):  # 150 pushes out 200, the least recently used
        resample_counts(n, boot)
    resample_counts(300, boot)
    resample_counts(200, boot)
    assert draws == [300, 200, 150, 200]


def test_above_the_cell_limit_there_is_no_matrix(draws: list[int]) -> None:
    boot = BootstrapConfig(resamples=100)
    assert resample_counts(resampling.COUNTS_MAX_CELLS // 100 + 1, boot) is None
    assert draws == []
