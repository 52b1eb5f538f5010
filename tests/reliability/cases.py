"""The table rows of the reliability tests, and the one check every error row gets.

A :class:`Case` is a bad input: ``run(tmp)`` must raise exactly ``error`` (a
:class:`~bench.errors.BenchError` subclass, not a subclass of it), and the message must contain
every part of ``says`` plus bench's ``"; fix: "`` (task-file and model-spec errors, which quote
the offending line instead, may leave the fix out). An :class:`Outcome` is a fault that is not an
error: ``run(tmp)`` returns what the record says, compared with ``expect``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench.errors import BenchError


@dataclass(frozen=True)
class Case:
    """One bad input and the exact error it must raise."""

    id: str
    run: Callable[[Path], Any]
    error: type[BenchError]
    says: tuple[str, ...]  # substrings of the message


@dataclass(frozen=True)
class Outcome:
    """One fault that is counted, not refused: ``run(tmp)`` returns what ``expect`` holds."""

    id: str
    run: Callable[[Path], Any]
    expect: Any = None


def ids(rows: Sequence[Case | Outcome]) -> list[str]:
    """The pytest ids of a table (and a check that they are unique)."""
    names = [r.id for r in rows]
    assert len(set(names)) == len(names), "two rows of one table share an id"
    return names


def raises_exactly(
    case: Case, tmp: Path, *, fix_optional: tuple[type[BenchError], ...] = ()
) -> str:
    """Run ``case`` in ``tmp``; assert its error's class and message; the message."""
    with pytest.raises(BenchError) as info:
        case.run(tmp)
    assert type(info.value) is case.error, f"{type(info.value).__name__}: {info.value}"
    message = str(info.value)
    for part in case.says:
        assert part in message, f"{part!r} not in: {message}"
    assert "; fix: " in message or case.error in fix_optional, message
    return message
