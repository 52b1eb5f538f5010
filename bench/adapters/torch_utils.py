"""Torch helpers shared by the trainable baselines (imported only by code that uses torch)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["torch_settings"]


@contextmanager
def torch_settings(torch: Any, threads: int, seed: int | None) -> Iterator[None]:
    """Set threads, deterministic kernels and (when given) a seed; restore all three after.

    The global RNG is forked, so seeding here leaves the caller's random stream untouched.
    """
    threads_before = torch.get_num_threads()
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    warn_only_before = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            yield
    finally:
        torch.use_deterministic_algorithms(deterministic_before, warn_only=warn_only_before)
        torch.set_num_threads(threads_before)
