"""The prediction cache: SQLite in WAL mode, keyed by adapter fingerprint + request hash.

Every batch of predictions is committed as soon as it is computed, so an interrupted run loses
at most the batch in flight and a re-run recomputes nothing that finished. Several processes may
share one cache file: WAL lets readers and one writer work at once, and writers wait (busy
timeout) and retry instead of failing with "database is locked". A full disk, a read-only
file or a damaged cache raises :class:`~bench.errors.ResultsError` naming the file, never a raw
``sqlite3`` error.

With ``synchronous=NORMAL`` in WAL mode a committed batch survives the process being killed
(``kill -9``); only a power loss can take back the last commits.

Every stored response carries the schema identity of the family response model it was written
with (:func:`response_schema`: a short hash of the model's JSON Schema). A reader that names its
response model gets only the rows written with the same schema that also validate against it;
any other row is a miss, computed again and replaced, so a response model that gained, lost or
renamed a field never meets an old answer as a raw pydantic error.

A damaged row (written with the reader's schema, but not JSON, nested too deeply to parse, or
not of the response model's shape) is dropped the same way: it is a miss, predicted again and
replaced, and :meth:`PredictionCache.get_many` reports it so the run record counts it
(``cache_dropped``); it never raises.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from bench.errors import ResultsError
from bench.identity import short_hash

__all__ = ["PredictionCache", "response_schema"]

_DAMAGED = object()  # what _usable returns for a damaged row (None is a valid JSON value)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    adapter TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    created REAL NOT NULL,
    schema TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (adapter, request)
) WITHOUT ROWID;
"""
# A cache file written before responses carried their schema: its rows get schema '' and so
# miss for every reader that names a response model.
_ADD_SCHEMA = "ALTER TABLE predictions ADD COLUMN schema TEXT NOT NULL DEFAULT ''"
# A new answer replaces a row only when that row was written with another schema (or found
# invalid by this process); otherwise the first answer stays (first write wins).
_UPSERT = (
    "INSERT INTO predictions (adapter, request, response, created, schema) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (adapter, request) DO UPDATE SET "
    "response = excluded.response, created = excluded.created, schema = excluded.schema "
    "WHERE predictions.schema != excluded.schema"
)
_REPLACE = (
    "INSERT OR REPLACE INTO predictions (adapter, request, response, created, schema) "
    "VALUES (?, ?, ?, ?, ?)"
)


@functools.cache
def response_schema(response_type: type[BaseModel] | None) -> str:
    """The schema identity of a response model: a short hash of its JSON Schema (field names,
    types, defaults, required fields and the model's name). ``""`` for ``None`` (untyped).

    Example:
        >>> from bench.families.sentiment import SentimentResponse
        >>> len(response_schema(SentimentResponse))
        16
    """
    if response_type is None:
        return ""
    try:
        schema: Any = response_type.model_json_schema()
    except Exception:  # a field type without a JSON Schema: fall back to the annotations
        schema = {n: repr(f.annotation) for n, f in response_type.model_fields.items()}
    return short_hash({"model": response_type.__qualname__, "schema": schema})


class PredictionCache:
    """A persistent map ``(adapter fingerprint, request hash) -> response JSON``, each response
    stored with the schema identity of its response model.

    Args:
        path: The SQLite file (created with its folder if missing).
        timeout: Seconds a writer waits for a lock before retrying.

    Example:
        >>> import tempfile, pathlib
        >>> cache = PredictionCache(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite")
        >>> cache.put_many("fp", [("h1", {"label": "positive"})])
        >>> cache.get_many("fp", ["h1", "h2"])
        {'h1': {'label': 'positive'}}
    """

    def __init__(self, path: str | Path, *, timeout: float = 60.0) -> None:
        self.path = Path(path)
        self._stale: set[tuple[str, str]] = set()  # rows get_many found invalid
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            self._conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
            # Two processes opening a fresh file at once both try to switch it to WAL; the
            # loser can see "database is locked" even with a busy timeout, so retry.
            self._retry(lambda: self._conn.execute("PRAGMA journal_mode=WAL"))
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._retry(lambda: self._conn.executescript(_SCHEMA))
            self._retry(self._add_schema_column)
        except sqlite3.Error as exc:
            raise self._error("open", exc) from exc
        except OSError as exc:
            raise ResultsError(
                f"cannot open the prediction cache {self.path}: {exc.strerror or exc}",
                fix="choose a writable --cache path",
            ) from exc

    def _add_schema_column(self) -> None:
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(predictions)")}
        if "schema" not in columns:
            try:
                self._conn.execute(_ADD_SCHEMA)
            except sqlite3.OperationalError as exc:
                if "duplicate column" not in str(exc):  # another process added it first
                    raise

    def get_many(
        self,
        adapter: str,
        hashes: Sequence[str],
        *,
        response_type: type[BaseModel] | None = None,
        damaged: set[str] | None = None,
    ) -> dict[str, Any]:
        """The cached responses among ``hashes`` (absent ones are left out).

        Args:
            adapter: The adapter fingerprint.
            hashes: Request content hashes.
            response_type: The family's response model. Only rows written with its schema
                (:func:`response_schema`) and that validate against it are returned; any other
                row is a miss, and the next :meth:`put_many` for it replaces it. ``None``:
                rows written without a model, only checked to be JSON.
            damaged: Receives the request hashes of damaged rows dropped: rows of the
                reader's schema that are not JSON, or not of the response model's shape
                (rows of another schema are merely stale, and not added).
        """
        schema = response_schema(response_type)
        found: dict[str, Any] = {}
        chunk = 500
        for i in range(0, len(hashes), chunk):
            part = list(hashes[i : i + chunk])
            marks = ",".join("?" * len(part))
            try:
                rows = self._retry(
                    lambda part=part, marks=marks: self._conn.execute(
                        "SELECT request, response, schema FROM predictions "
                        f"WHERE adapter = ? AND request IN ({marks})",
                        [adapter, *part],
                    ).fetchall()
                )
            except sqlite3.Error as exc:
                raise self._error("read", exc) from exc
            for request, response, stored in rows:
                if stored != schema:
                    self._stale.add((adapter, request))
                    continue
                data = self._usable(response, response_type)
                if data is _DAMAGED:
                    self._stale.add((adapter, request))
                    if damaged is not None:
                        damaged.add(request)
                else:
                    found[request] = data
        return found

    @staticmethod
    def _usable(response: Any, response_type: type[BaseModel] | None) -> Any:
        """The row's response, or :data:`_DAMAGED` when it is not JSON (a blob of another
        encoding, text cut short, nesting too deep to parse) or not of the model's shape."""
        if not isinstance(response, str | bytes):
            return _DAMAGED
        try:
            data = json.loads(response)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            return _DAMAGED
        if response_type is not None:
            try:
                response_type.model_validate(data)
            except (ValidationError, RecursionError):
                return _DAMAGED
        return data

    def put_many(
        self,
        adapter: str,
        items: Iterable[tuple[str, Any]],
        *,
        response_type: type[BaseModel] | None = None,
    ) -> None:
        """Store responses in one transaction, with ``response_type``'s schema identity.

        An existing entry written with the same schema is kept (first write wins); one written
        with another schema, or found invalid by :meth:`get_many`, is replaced.
        """
        now = time.time()
        schema = response_schema(response_type)
        fresh: list[tuple[str, str, str, float, str]] = []
        replace: list[tuple[str, str, str, float, str]] = []
        for h, r in items:
            row = (adapter, h, json.dumps(r, ensure_ascii=False, sort_keys=True), now, schema)
            (replace if (adapter, h) in self._stale else fresh).append(row)
        if not fresh and not replace:
            return

        def write() -> None:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(_UPSERT, fresh)
                self._conn.executemany(_REPLACE, replace)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

        try:
            self._retry(write)
        except sqlite3.Error as exc:
            raise self._error("write to", exc) from exc
        self._stale.difference_update((row[0], row[1]) for row in replace)

    def count(self, adapter: str | None = None) -> int:
        """Number of cached responses (of one adapter, or in all)."""
        if adapter is None:
            row = self._conn.execute("SELECT COUNT(*) FROM predictions").fetchone()
        else:
            row = self._conn.execute(
                "SELECT COUNT(*) FROM predictions WHERE adapter = ?", [adapter]
            ).fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> PredictionCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _error(self, action: str, exc: sqlite3.Error) -> ResultsError:
        """A clear error for a cache that cannot be used (disk full, read-only, corrupt)."""
        text = str(exc)
        if "full" in text:
            why, fix = "the disk is full", "free disk space, then re-run to resume"
        elif "readonly" in text or "read-only" in text:
            why, fix = "it is read-only", "choose a writable --cache path"
        elif "malformed" in text or "not a database" in text:
            why, fix = "it is damaged", "delete it (only cached predictions are lost)"
        else:
            why, fix = text, "check the --cache path and the disk"
        return ResultsError(
            f"cannot {action} the prediction cache {self.path}: {why} ({text})", fix=fix
        )

    @staticmethod
    def _retry(fn: Any, attempts: int = 12) -> Any:
        delay = 0.05
        for attempt in range(attempts):
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if ("locked" not in str(exc) and "busy" not in str(exc)) or attempt == attempts - 1:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
        return None
