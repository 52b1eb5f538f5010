"""The ``BenchError`` tree.

Every error names the thing at fault (task, file, row, field, registry name) and says how to fix
it. The CLI prints a ``BenchError`` as one line and exits with code 2; any other exception is a
bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "AdapterError",
    "BenchError",
    "DataError",
    "MissingDependency",
    "MissingResource",
    "ModelSpecError",
    "PredictionsError",
    "RecordError",
    "ResultsError",
    "TaskNotFound",
    "TaskSpecError",
    "TooManyFailures",
    "UnknownName",
    "UnscoredPair",
    "did_you_mean",
]


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""`` when none is close."""
    close = difflib.get_close_matches(name, sorted(set(choices)), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class BenchError(Exception):
    """Base of every error that is the user's input, not a bug in bench.

    Args:
        message: What is wrong, naming the file, row, field or name at fault.
        fix: How to fix it; appended to the message as ``"; fix: ..."``.
    """

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        self.message = message
        self.fix = fix
        super().__init__(message + (f"; fix: {fix}" if fix else ""))


class TaskSpecError(BenchError):
    """A task file is not valid YAML or does not match the task schema."""


class TaskNotFound(BenchError):
    """A task selector matched no task."""


class UnknownName(BenchError):
    """A registry name (family, step, metric, adapter) is not registered."""


class DataError(BenchError):
    """A data file or data row is missing, unreadable or wrong."""


class MissingResource(BenchError):
    """A data resource (an NLTK package, a dictionary) is not installed."""


class MissingDependency(BenchError):
    """An optional dependency is not installed; the message names the extra to install."""


class ModelSpecError(BenchError):
    """A ``--model`` spec is malformed or names an unknown adapter."""


class AdapterError(BenchError):
    """An adapter cannot serve a task (for instance, a label it cannot map)."""


class TooManyFailures(AdapterError):
    """More examples failed than ``--max-failures`` allows; the predictions that succeeded are
    cached, so a re-run retries only the failures."""


class UnscoredPair(AdapterError):
    """A model's answers leave a task's primary metric without a value (word vectors in
    another language cover none of the task's words): the pair is reported as skipped with
    the reason, its predictions stay cached, and the other pairs of the run go on."""


class PredictionsError(BenchError):
    """A file of saved predictions does not match its task."""


class RecordError(BenchError):
    """A run record is unreadable or of an unknown schema version."""


class ResultsError(BenchError):
    """The results folder or the prediction cache cannot be written (read-only, disk full)."""
