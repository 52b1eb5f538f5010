"""The SQLite prediction cache: roundtrip, large lookups, first-write-wins, several writers."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import ClassVar

import pytest

from bench.cache import PredictionCache, response_schema
from bench.errors import ResultsError
from bench.families.base import Response
from bench.families.sentiment import SentimentResponse

RESPONSE = {"label": "正面", "probabilities": {"负面": 0.25, "正面": 0.75}, "raw": None}


def test_roundtrip_keeps_json_exactly(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "dir" / "cache.sqlite"  # folders are created
    with PredictionCache(path) as cache:
        cache.put_many("fp1", [("h1", RESPONSE), ("h2", {"label": None})])
        assert cache.get_many("fp1", ["h1", "h2", "h3"]) == {"h1": RESPONSE, "h2": {"label": None}}
        assert cache.count() == 2
        assert cache.count("fp1") == 2
    # Persistent: a new connection sees the same entries.
    with PredictionCache(path) as again:
        assert again.get_many("fp1", ["h1"]) == {"h1": RESPONSE}


def test_entries_are_keyed_by_adapter_fingerprint(tmp_path: Path) -> None:
    with PredictionCache(tmp_path / "c.sqlite") as cache:
        cache.put_many("model-a", [("h", {"label": "positive"})])
        cache.put_many("model-b", [("h", {"label": "negative"})])
        assert cache.get_many("model-a", ["h"]) == {"h": {"label": "positive"}}
        assert cache.get_many("model-b", ["h"]) == {"h": {"label": "negative"}}
        assert cache.get_many("model-c", ["h"]) == {}
        assert cache.count("model-a") == 1
        assert cache.count() == 2


def test_get_many_over_more_than_500_hashes(tmp_path: Path) -> None:
    """SQLite limits the number of bound parameters; lookups are chunked."""
    hashes = [f"{i:064x}" for i in range(2345)]
    with PredictionCache(tmp_path / "c.sqlite") as cache:
        cache.put_many("fp", [(h, {"i": i}) for i, h in enumerate(hashes) if i % 3])
        wanted = [*hashes, "absent"]
        found = cache.get_many("fp", wanted)
        assert len(found) == sum(1 for i in range(2345) if i % 3)
        assert all(found[h] == {"i": i} for i, h in enumerate(hashes) if i % 3)
        assert not any(hashes[i] in found for i in range(0, 2345, 3))
        assert cache.get_many("fp", []) == {}


def test_insert_or_ignore_keeps_the_first_answer(tmp_path: Path) -> None:
    with PredictionCache(tmp_path / "c.sqlite") as cache:
        cache.put_many("fp", [("h", {"label": "first"})])
        cache.put_many("fp", [("h", {"label": "second"}), ("g", {"label": "new"})])
        assert cache.get_many("fp", ["h", "g"]) == {"h": {"label": "first"}, "g": {"label": "new"}}
        assert cache.count() == 2
        cache.put_many("fp", [])  # nothing to write is fine
        assert cache.count() == 2


def test_wal_mode_is_on(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with PredictionCache(path) as cache:
        cache.put_many("fp", [("h", {"label": "x"})])
        mode = cache._conn.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
    # WAL mode is persistent: a plain connection sees it too.
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


_WRITER = textwrap.dedent(
    """
    import os, sys, time
    from bench.cache import PredictionCache

    path, who, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    while not os.path.exists(go):  # start together, so the writers really contend
        time.sleep(0.001)
    cache = PredictionCache(path)
    for start in range(0, n, 10):
        # Every batch is its own transaction; both writers also write the shared hashes.
        batch = [(f"{who}-{i}", {"who": who, "i": i}) for i in range(start, start + 10)]
        batch += [(f"shared-{i}", {"who": who}) for i in range(start, start + 10)]
        cache.put_many("fp", batch)
    cache.close()
    print("ok", who)
    """
)


@pytest.mark.parametrize("fresh", [True, False], ids=["fresh-file", "existing-file"])
def test_two_processes_write_one_cache_concurrently(tmp_path: Path, fresh: bool) -> None:
    path = tmp_path / "shared.sqlite"
    if not fresh:
        PredictionCache(path).close()
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(path), who, "400", str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in ("a", "b")
    ]
    time.sleep(0.5)  # both interpreters are up and waiting
    go.touch()
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert out.startswith("ok")
    with PredictionCache(path) as cache:
        assert cache.count("fp") == 400 + 400 + 400
        got = cache.get_many("fp", [f"a-{i}" for i in range(400)] + [f"b-{i}" for i in range(400)])
        assert len(got) == 800
        shared = cache.get_many("fp", [f"shared-{i}" for i in range(400)])
        assert len(shared) == 400
        assert {v["who"] for v in shared.values()} <= {"a", "b"}


def test_unwritable_path_is_a_results_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    with pytest.raises(ResultsError) as info:
        PredictionCache(blocker / "cache.sqlite")
    assert str(blocker / "cache.sqlite") in str(info.value)
    assert info.value.fix


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_folder_is_a_results_error(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(ResultsError, match="prediction cache"):
            PredictionCache(folder / "cache.sqlite")
    finally:
        folder.chmod(stat.S_IRWXU)


# --------------------------------------------------------------------------- response schema


def _answer_models() -> tuple[type[Response], type[Response], type[Response]]:
    """One family response model in three releases: as shipped, with a field added, and with
    a field renamed (each class is named ``Answer``, as a real model keeps its name)."""

    class Answer(Response):
        family: ClassVar[str] = "demo"
        label: str

    v1 = Answer

    class Answer(Response):  # type: ignore[no-redef]
        family: ClassVar[str] = "demo"
        label: str
        confidence: float

    v2 = Answer

    class Answer(Response):  # type: ignore[no-redef]
        family: ClassVar[str] = "demo"
        answer: str

    return v1, v2, Answer


def test_schema_identity_follows_the_response_model() -> None:
    v1, v2, v3 = _answer_models()
    ids = {response_schema(v1), response_schema(v2), response_schema(v3)}
    assert len(ids) == 3 and all(len(i) == 16 for i in ids)
    assert response_schema(SentimentResponse) == response_schema(SentimentResponse)
    assert response_schema(None) == ""


def test_a_changed_response_model_misses_instead_of_raising(tmp_path: Path) -> None:
    v1, v2, v3 = _answer_models()
    path = tmp_path / "cache.sqlite"
    with PredictionCache(path) as cache:
        cache.put_many("fp", [("h", {"label": "yes"})], response_type=v1)
        assert cache.get_many("fp", ["h"], response_type=v1) == {"h": {"label": "yes"}}
    with PredictionCache(path) as cache:  # a later release: the model gained a field
        assert cache.get_many("fp", ["h"], response_type=v2) == {}  # a miss, not an error
        cache.put_many("fp", [("h", {"label": "yes", "confidence": 0.5})], response_type=v2)
        assert cache.get_many("fp", ["h"], response_type=v2) == {
            "h": {"label": "yes", "confidence": 0.5}
        }
        assert cache.count() == 1  # replaced, not added
        assert cache.get_many("fp", ["h"], response_type=v1) == {}
        assert cache.get_many("fp", ["h"], response_type=v3) == {}  # a renamed field
    with sqlite3.connect(path) as conn:
        (stored,) = conn.execute("SELECT schema FROM predictions").fetchone()
    assert stored == response_schema(v2)


def test_a_row_that_does_not_validate_is_a_miss_and_replaced(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    with PredictionCache(path) as cache:
        cache.put_many("fp", [("h", {"label": "positive"})], response_type=SentimentResponse)
    with sqlite3.connect(path) as conn:  # the same schema, a broken answer (edited by hand)
        conn.execute("UPDATE predictions SET response = ?", ['{"labl": "positive"}'])
    with PredictionCache(path) as cache:
        assert cache.get_many("fp", ["h"], response_type=SentimentResponse) == {}
        cache.put_many("fp", [("h", {"label": "negative"})], response_type=SentimentResponse)
        got = cache.get_many("fp", ["h"], response_type=SentimentResponse)
        assert SentimentResponse.model_validate(got["h"]).label == "negative"


def test_a_cache_file_from_before_schemas_opens_and_its_rows_miss(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE predictions (adapter TEXT NOT NULL, request TEXT NOT NULL, "
            "response TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (adapter, request)) "
            "WITHOUT ROWID;"
        )
        conn.execute(
            "INSERT INTO predictions VALUES (?, ?, ?, ?)", ["fp", "h", '{"label": "old"}', 1.0]
        )
    with PredictionCache(path) as cache:
        assert cache.get_many("fp", ["h"], response_type=SentimentResponse) == {}
        assert cache.get_many("fp", ["h"]) == {"h": {"label": "old"}}  # untyped readers
        cache.put_many("fp", [("h", {"label": "new"})], response_type=SentimentResponse)
        assert cache.get_many("fp", ["h"], response_type=SentimentResponse) == {
            "h": {"label": "new"}
        }
    with PredictionCache(path) as again:  # the column is added once
        assert again.count() == 1
