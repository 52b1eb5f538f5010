"""Shared test fixtures.

Real data lives in ``../shared/data`` and NLTK data in ``../shared/nltk_data`` beside the
repository (CI lays a copy of shared/ there). Nothing here downloads anything.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATA = SHARED / "data"
NLTK_DATA = SHARED / "nltk_data"

SLOW_TESTS = Path(__file__).with_name("slow_tests.txt")
"""Tests marked ``slow`` by measurement rather than by a decorator: each took 2 s or more in the
fast subset on 2 cores (``pytest -m "not slow" --durations=0``). ``pytest -m "not slow"`` leaves
them out; the full suite (CI) runs them."""

# Never reach for the network: the hub and NLTK's downloader are unreachable here.
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; fails loudly if it is missing (CI always has it)."""
    assert DATA.is_dir(), f"expected the shared test data at {DATA}"
    return DATA


@pytest.fixture()
def nltk_data(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point NLTK at ``../shared/nltk_data`` for one test."""
    import nltk

    assert NLTK_DATA.is_dir(), f"expected the shared NLTK data at {NLTK_DATA}"
    monkeypatch.setenv("NLTK_DATA", str(NLTK_DATA))
    monkeypatch.setattr(nltk.data, "path", [str(NLTK_DATA)])
    return NLTK_DATA


@pytest.fixture()
def bench_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh BENCH_HOME (results and cache) and working directory for one test."""
    home = tmp_path / "home"
    monkeypatch.setenv("BENCH_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    return home


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests listed in ``tests/slow_tests.txt`` as ``slow`` (the fast subset,
    ``pytest -m "not slow"``, leaves them out)."""
    listed = {
        line.strip()
        for line in SLOW_TESTS.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for item in items:
        if item.nodeid in listed:
            item.add_marker(pytest.mark.slow)
