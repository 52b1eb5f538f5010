"""Train/test overlap: test examples whose input also appears in the train split.

A test example whose input (everything the model sees: :meth:`Request.content_hash`, the id
left out) is also a train example measures memory, not skill; with ``splits: {train: all,
test: all}`` a trained baseline scores 1.0. When a run loads a task's train split (a model that
trains, or takes few-shot examples from it), :func:`count_overlap` compares the two splits as
read, before preprocessing: the count goes into the record (``task.train_overlap``), any overlap
is warned about, and :func:`check_overlap` refuses the run when more than the task allows
(``allow_overlap`` in the task file: ``false``, the default, allows :data:`DEFAULT_MAX_OVERLAP`
of the test examples; ``true`` any share; a number that share). A task whose train and test
splits are the same expression is refused for every model, without reading the data.

Families that build their own requests (recommendation: one request per user, from an
interaction log split by the task's protocol) hold the test interactions out of the train log
by construction, and are not checked here.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.errors import DataError
from bench.families.base import Family
from bench.spec import TaskSpec

__all__ = ["DEFAULT_MAX_OVERLAP", "Overlap", "check_overlap", "check_splits", "count_overlap"]

DEFAULT_MAX_OVERLAP = 0.01
"""The share of test examples that may also be train examples when a task declares nothing
(natural duplicates, such as a short review that two users wrote alike)."""

_SHOWN = 5


@dataclass(frozen=True)
class Overlap:
    """How many test examples also appear in train.

    Attributes:
        count: Test examples whose input equals a train example's.
        total: Test examples.
        pairs: The first few ``(test id, train id)`` pairs.
    """

    count: int
    total: int
    pairs: tuple[tuple[str, str], ...] = ()

    @property
    def share(self) -> float:
        """``count / total``."""
        return self.count / self.total if self.total else 0.0

    def describe(self) -> str:
        """``3 of 160 test examples (1.9%) also appear in train (test 'a' = train 'b', ...)``."""
        shown = ", ".join(f"test {t!r} = train {r!r}" for t, r in self.pairs)
        more = ", ..." if self.count > len(self.pairs) else ""
        return (
            f"{self.count} of {self.total} test examples ({self.share:.1%}) also appear in the "
            f"train split ({shown}{more})"
        )


def allowed_share(task: TaskSpec) -> float:
    """The share of overlapping test examples ``task`` allows (``allow_overlap``)."""
    allow = task.allow_overlap
    if allow is True:
        return 1.0
    if allow is False:
        return DEFAULT_MAX_OVERLAP
    return float(allow)


def check_splits(task: TaskSpec) -> None:
    """Refuse a task whose train and test splits are the same expression (every test example
    is a train example), unless it allows all overlap; reads no data.

    Raises:
        DataError: Naming the task, the splits and the fix.
    """
    splits = task.source.splits
    train, test = splits.get("train"), splits.get("test")
    if train is None or train != test or allowed_share(task) >= 1.0:
        return
    raise DataError(
        f"task '{task.name}': source.splits train and test are both '{test}', so every test "
        "example is a train example",
        fix="split the data (e.g. train: all[:80%], test: all[80%:]), or declare "
        "allow_overlap: true in the task file",
    )


def count_overlap(family: Family, task: TaskSpec, test: object, train: object) -> Overlap:
    """Count the test examples of ``test`` whose input equals one of ``train``'s (both
    datasets of canonical rows, as :func:`~bench.data.load_split` returns them)."""
    from bench.streaming import RowExamples

    seen: dict[str, str] = {}
    for request in RowExamples(family, task, train).requests:
        seen.setdefault(request.content_hash(), request.id)
    count, total = 0, 0
    pairs: list[tuple[str, str]] = []
    for request in RowExamples(family, task, test).requests:
        total += 1
        match = seen.get(request.content_hash())
        if match is not None:
            count += 1
            if len(pairs) < _SHOWN:
                pairs.append((request.id, match))
    return Overlap(count, total, tuple(pairs))


def check_overlap(task: TaskSpec, overlap: Overlap) -> None:
    """Refuse a run when more test examples overlap with train than ``task`` allows.

    Raises:
        DataError: Naming the task, the count, the first overlapping ids and the fix.
    """
    allowed = allowed_share(task)
    if overlap.share <= allowed:
        return
    raise DataError(
        f"task '{task.name}': {overlap.describe()}; the task allows {allowed:.1%}",
        fix="remove the duplicates from one split, or declare allow_overlap: true (or the "
        "share allowed, e.g. allow_overlap: 0.05) in the task file",
    )
