"""Small samples of each standard task's data in its source's real format.

A sample is data, not code: rows with the real column names and types of the task's Hub
repository (written as that repository's parquet files, with its ``configs:`` card), files of
the original release (read with ``--data NAME=DIR``), or files in sacrebleu's own cache
layout. ``tests/conformance/test_standard_samples.py`` writes each sample, loads it through the
task's real loader and runs the sample's baseline on it end to end.

Each family's samples live in one module of this package (``translation.py``, ...), as a
``SAMPLES`` dict from task name to sample; :data:`ALL` gathers them.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class HubSample:
    """The task's Hub dataset repository, in the layout the Hub serves.

    Attributes:
        splits: Hub split name -> rows, with the repository's column names and value types
            (a ClassLabel column as its integers, a SQuAD ``answers`` column as the dict of
            lists).
        model: The baseline run on the sample (a model spec, e.g. ``baseline:majority``).
        n_test: How many test examples (or recommendation users) the run must score.
        schema: Column -> Arrow type (``"int64"``, ``"list<string>"``, ...) where the rows
            alone would not give the repository's type.
    """

    splits: dict[str, list[dict[str, Any]]]
    model: str
    n_test: int
    schema: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FilesSample:
    """Files of the original release (``source.original``, or the task's own files for a
    ``url``/``local`` source), as relative path -> content; loaded with ``--data NAME=DIR``."""

    files: dict[str, str | bytes]
    model: str
    n_test: int


@dataclass(frozen=True)
class SacrebleuSample:
    """Files in sacrebleu's cache (``$SACREBLEU``), as relative path -> content, e.g.
    ``wmt22/raw/wmttest2022.zh-en.src.zh``; the archives they come from are marked as
    downloaded, as after a real download."""

    files: dict[str, str]
    model: str
    n_test: int


Sample = HubSample | FilesSample | SacrebleuSample


def _gather() -> dict[str, Sample]:
    found: dict[str, Sample] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for name, sample in getattr(module, "SAMPLES", {}).items():
            assert name not in found, f"two samples for {name}"
            found[name] = sample
    return found


ALL: dict[str, Sample] = _gather()
"""Every task's sample, by task name."""
