"""The seeded resampling axes of a multi-unit run: examples × variants × draws × samples.

Shared by :mod:`bench.metrics.units` (headline intervals, paired runs) and
:mod:`bench.metrics.sampling` (``pass@k``, ``majority@n``), so both draw the same resamples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from bench.metrics.paired import count_blocks
from bench.metrics.resampling import BootstrapConfig, resample_counts
from bench.protocol import Unit

__all__ = ["AxisDraws", "example_counts", "example_products", "unit_draws"]

T = TypeVar("T")

_AXIS_SALT = 15
"""Mixed into each axis's seed so the unit draws never reuse the examples' stream."""


# --------------------------------------------------------------------------- the draws


@dataclass(frozen=True)
class AxisDraws:
    """The unit-axis part of the two-level bootstrap's resamples.

    Attributes:
        variants: The variants' names, in first-seen unit order.
        draws: The exemplar draws, in first-seen order.
        samples: The sample indices, in first-seen order.
        indices: ``(variants, draws, samples)`` resampled positions, each ``(B, size)``.
    """

    variants: tuple[str, ...]
    draws: tuple[int, ...]
    samples: tuple[int, ...]
    indices: tuple[np.ndarray, np.ndarray, np.ndarray]

    def counts(self, axis: int) -> np.ndarray:
        """``(B, size)``: how often each entry of ``axis`` (0, 1, 2) is in each resample."""
        idx = self.indices[axis]
        b, size = idx.shape
        flat = (idx + (np.arange(b, dtype=np.int64) * size)[:, None]).ravel()
        return np.bincount(flat, minlength=b * size).reshape(b, size).astype(np.float64)

    def weights(self, units: Sequence[Unit]) -> np.ndarray:
        """``(B, len(units))`` weights of ``units`` in each resample (each row sums to 1 over a
        full grid): the product of the unit's variant, draw and sample counts over the grid
        size."""
        cv, cd, cs = self.counts(0), self.counts(1), self.counts(2)
        vi = [self.variants.index(u.variant) for u in units]
        di = [self.draws.index(u.draw) for u in units]
        si = [self.samples.index(u.sample) for u in units]
        size = len(self.variants) * len(self.draws) * len(self.samples)
        out: np.ndarray = cv[:, vi] * cd[:, di] * cs[:, si] / size
        return out


def _firsts(values: Sequence[T]) -> tuple[T, ...]:
    return tuple(dict.fromkeys(values))


def unit_draws(units: Sequence[Unit], bootstrap: BootstrapConfig) -> AxisDraws:
    """The seeded resamples of the variants, draws and samples of ``units``.

    Axis ``a`` (0 variants, 1 draws, 2 samples) is drawn by
    ``numpy.random.default_rng([seed, 15, a]).integers(0, size, (resamples, size))``, so the
    draws depend only on the bootstrap settings and the axis sizes.
    """
    variants = _firsts([u.variant for u in units])
    draws = _firsts([u.draw for u in units])
    samples = _firsts([u.sample for u in units])
    indices = []
    for axis, size in enumerate((len(variants), len(draws), len(samples))):
        rng = np.random.default_rng([bootstrap.seed, _AXIS_SALT, axis])
        indices.append(rng.integers(0, size, size=(bootstrap.resamples, size)))
    return AxisDraws(variants, draws, samples, (indices[0], indices[1], indices[2]))


def example_counts(n: int, bootstrap: BootstrapConfig) -> np.ndarray:
    """``(B, n)``: how often each example is in each of the record's seeded resamples."""
    counts = resample_counts(n, bootstrap)
    if counts is not None:
        return counts
    return np.concatenate(list(count_blocks(bootstrap.resample_indices(n))))


def example_products(matrix: np.ndarray, bootstrap: BootstrapConfig) -> np.ndarray:
    """``counts @ matrix``: the column sums ``(B, m)`` of ``(n, m)`` ``matrix`` over each of
    the record's seeded example resamples (the cached counts, or the indices block by block)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    n = int(matrix.shape[0])
    counts = resample_counts(n, bootstrap)
    if counts is not None:
        out: np.ndarray = counts @ matrix
        return out
    return np.concatenate([block @ matrix for block in count_blocks(bootstrap.resample_indices(n))])
