"""The scale switch of the performance benchmarks.

``BENCH_PERF_SCALE=full`` (what ``bench selftest --perf`` sets) runs every benchmark at the sizes
the README quotes; otherwise (plain ``pytest``, CI) they run at a reduced scale, so all of
``tests/perf`` stays within about a minute and a half on two cores. Benchmarks print their
figures (run with ``-s`` to see them) and assert only that the compared computations agree,
never a time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

FULL = os.environ.get("BENCH_PERF_SCALE", "").lower() == "full"


@dataclass(frozen=True)
class Scale:
    """The benchmark scale: ``full`` or ``reduced``."""

    full: bool

    @property
    def name(self) -> str:
        """``full`` or ``reduced``, for the printed figures."""
        return "full" if self.full else "reduced (set BENCH_PERF_SCALE=full for the README sizes)"

    def pick(self, full: int, reduced: int, env: str | None = None) -> int:
        """``full`` or ``reduced`` by the scale, unless the environment variable ``env`` is set."""
        if env and os.environ.get(env):
            return int(os.environ[env])
        return full if self.full else reduced


@pytest.fixture(scope="session")
def scale() -> Scale:
    """The scale this run of the benchmarks uses."""
    return Scale(full=FULL)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every benchmark is ``slow``: ``pytest -m "not slow"`` (the fast subset) leaves them out."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.slow)
