"""The prediction cache: SQLite in WAL mode, keyed by adapter fingerprint + request hash.

Every batch of predictions is committed as soon as it is computed, so an interrupted run loses
at most the batch in flight and a re-run recomputes nothing that finished. Several processes may
share one cache file: WAL lets readers and one writer work at once, and writers wait (busy
timeout) and retry instead of failing with "database is locked". A full disk, a read-only
file or a damaged cache raises :class:`~bench.errors.ResultsError` naming the file, never a raw
``sqlite3`` error.

With ``synchronous=NORMAL`` in WAL mode a committed batch survives the process being killed
(``kill -9``); only a power loss can take back the last commits.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bench.errors import ResultsError

__all__ = ["PredictionCache"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    adapter TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (adapter, request)
) WITHOUT ROWID;
"""


class PredictionCache:
    """A persistent map ``(adapter fingerprint, request hash) -> response JSON``.

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
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            self._conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
            # Two processes opening a fresh file at once both try to switch it to WAL; the
            # loser can see "database is locked" even with a busy timeout, so retry.
            self._retry(lambda: self._conn.execute("PRAGMA journal_mode=WAL"))
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._retry(lambda: self._conn.executescript(_SCHEMA))
        except sqlite3.Error as exc:
            raise self._error("open", exc) from exc
        except OSError as exc:
            raise ResultsError(
                f"cannot open the prediction cache {self.path}: {exc.strerror or exc}",
                fix="choose a writable --cache path",
            ) from exc

    def get_many(self, adapter: str, hashes: Sequence[str]) -> dict[str, Any]:
        """The cached responses among ``hashes`` (absent ones are left out)."""
        found: dict[str, Any] = {}
        chunk = 500
        for i in range(0, len(hashes), chunk):
            part = list(hashes[i : i + chunk])
            marks = ",".join("?" * len(part))
            try:
                rows = self._retry(
                    lambda part=part, marks=marks: self._conn.execute(
                        "SELECT request, response FROM predictions "
                        f"WHERE adapter = ? AND request IN ({marks})",
                        [adapter, *part],
                    ).fetchall()
                )
            except sqlite3.Error as exc:
                raise self._error("read", exc) from exc
            for request, response in rows:
                found[request] = json.loads(response)
        return found

    def put_many(self, adapter: str, items: Iterable[tuple[str, Any]]) -> None:
        """Store responses in one transaction (an existing entry is kept)."""
        now = time.time()
        rows = [
            (adapter, h, json.dumps(r, ensure_ascii=False, sort_keys=True), now) for h, r in items
        ]
        if not rows:
            return

        def write() -> None:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT OR IGNORE INTO predictions VALUES (?, ?, ?, ?)", rows
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

        try:
            self._retry(write)
        except sqlite3.Error as exc:
            raise self._error("write to", exc) from exc

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
