"""Lazy, compact views of a task's examples, so a run's memory does not grow with its test set.

A row-based task (sentiment, translation, summarization, QA) keeps its preprocessed test split as
the Arrow dataset ``datasets`` wrote (memory-mapped, not Python objects). :class:`RowExamples`
builds its requests and references from that dataset chunk by chunk, on demand: iterating or
indexing :attr:`RowExamples.requests` or :attr:`RowExamples.references` builds only the chunk it
needs (the last chunk built is kept, so two views read in step build each chunk once).

:class:`ResponseStore` holds a run's responses as interned JSON strings, one index per example,
and gives them back as :class:`~bench.families.base.Response` objects on access.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, overload

from bench.families.base import Family, Request, Response
from bench.spec import TaskSpec

__all__ = ["CHUNK", "ResponseStore", "RowExamples", "chunks"]

CHUNK = 1024
"""Rows built at a time."""


class RowExamples:
    """The ``(request, reference)`` of every row of a preprocessed dataset, built on demand."""

    def __init__(self, family: Family, task: TaskSpec, ds: Any, chunk: int = CHUNK) -> None:
        self.family = family
        self.task = task
        self.ds = ds
        self.chunk = chunk
        self._n = len(ds)
        self._cached: tuple[int, list[tuple[Request, Any]]] | None = None
        self.requests: Sequence[Request] = _Part(self, 0)
        self.references: Sequence[Any] = _Part(self, 1)

    def __len__(self) -> int:
        """The number of rows."""
        return self._n

    def n_chunks(self) -> int:
        """How many chunks the rows make."""
        return (self._n + self.chunk - 1) // self.chunk

    def built(self, k: int) -> list[tuple[Request, Any]]:
        """The pairs of chunk ``k`` (rows ``k * chunk`` to ``(k + 1) * chunk``)."""
        if self._cached is not None and self._cached[0] == k:
            return self._cached[1]
        batch = self.ds[k * self.chunk : (k + 1) * self.chunk]
        keys = list(batch)
        rows = len(batch[keys[0]]) if keys else 0
        pairs = [self.family.build({c: batch[c][j] for c in keys}, self.task) for j in range(rows)]
        self._cached = (k, pairs)
        return pairs

    def pairs(self) -> Iterator[tuple[Request, Any]]:
        """Every ``(request, reference)`` in row order, one chunk built at a time."""
        for k in range(self.n_chunks()):
            yield from self.built(k)


class _Part(Sequence[Any]):
    """One side (requests: 0, references: 1) of a :class:`RowExamples`."""

    def __init__(self, rows: RowExamples, part: int) -> None:
        self._rows = rows
        self._part = part

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, i: int) -> Any: ...

    @overload
    def __getitem__(self, i: slice) -> list[Any]: ...

    def __getitem__(self, i: int | slice) -> Any:
        n = len(self._rows)
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(n))]
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        size = self._rows.chunk
        return self._rows.built(i // size)[i % size][self._part]

    def __iter__(self) -> Iterator[Any]:
        for k in range(self._rows.n_chunks()):
            for pair in self._rows.built(k):
                yield pair[self._part]


def chunks(seq: Sequence[Any], size: int = CHUNK) -> Iterator[tuple[int, Sequence[Any]]]:
    """``(start, seq[start:start + size])`` for consecutive chunks of ``seq``."""
    for start in range(0, len(seq), size):
        yield start, seq[start : start + size]


class ResponseStore(Sequence[Response | None]):
    """One response (or ``None``: missing, failed) per example, kept as interned JSON.

    Each example holds an index into a list of distinct JSON strings (the responses'
    ``model_dump(mode="json")``), so equal responses are stored once. Reading an example parses
    its JSON back with the family's ``parse_response``, as a warm cache does.
    """

    _PARSED_MAX = 65536

    def __init__(self, family: Family, n: int) -> None:
        import numpy as np  # here, not at import: validating a task file imports no numpy

        self.family = family
        self.ids = np.full(n, -1, dtype=np.int32)
        self._index: dict[str, int] = {}
        self._blobs: list[str] = []
        self._parsed: dict[int, Response] = {}

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def set(self, i: int, data: Mapping[str, Any]) -> None:
        """Store example ``i``'s response from its JSON form."""
        blob = json.dumps(data, ensure_ascii=False, sort_keys=True)
        k = self._index.get(blob)
        if k is None:
            k = self._index[blob] = len(self._blobs)
            self._blobs.append(blob)
        self.ids[i] = k

    def copy(self, i: int, j: int) -> None:
        """Give example ``i`` the response of example ``j``."""
        self.ids[i] = self.ids[j]

    def has(self, i: int) -> bool:
        """Whether example ``i`` has a response."""
        return bool(self.ids[i] >= 0)

    def data(self, i: int) -> Any:
        """Example ``i``'s response in JSON form (``None`` when it has none)."""
        k = int(self.ids[i])
        return None if k < 0 else json.loads(self._blobs[k])

    @overload
    def __getitem__(self, i: int) -> Response | None: ...

    @overload
    def __getitem__(self, i: slice) -> list[Response | None]: ...

    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        k = int(self.ids[i])
        return None if k < 0 else self._parse(k)

    def __iter__(self) -> Iterator[Response | None]:
        for start in range(0, len(self), CHUNK):
            for k in self.ids[start : start + CHUNK].tolist():
                yield None if k < 0 else self._parse(k)

    def _parse(self, k: int) -> Response:
        got = self._parsed.get(k)
        if got is None:
            if len(self._parsed) >= self._PARSED_MAX:
                self._parsed.clear()
            got = self._parsed[k] = self.family.parse_response(json.loads(self._blobs[k]))
        return got
