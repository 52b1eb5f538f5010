"""Several ``bench run`` processes share one cache file and one results folder at once.

Three processes start together on a fresh cache: two run the same model on the same task, one a
different model. With ``--batch-size 1`` each commits 96 transactions, so the writers contend
for SQLite's lock the whole time (and all three race to create the file and switch it to WAL).
All must finish, the cache must pass SQLite's integrity check with exactly one row per
(model, request), and the records must equal a run made alone.
"""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.adapters.base import parse_model_spec
from bench.catalog import find_task
from bench.metrics.base import BootstrapConfig
from bench.records import load_record
from bench.runner import RunConfig, run_pair

TASK = "sentiment-en"
LIMIT = 96
COMMON = ("--tasks", TASK, "--limit", str(LIMIT), "--batch-size", "1", "--bootstrap", "100")


def _alone(plugin_dir: Path, tmp: Path) -> dict[str, Any]:
    """Records of both models made in this process, one after the other, on their own cache."""
    spec = importlib.util.spec_from_file_location(
        "reltest_adapters_alone", plugin_dir / "reltest_adapters.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cfg = RunConfig(
        results=tmp / "results",
        cache=None,
        limit=LIMIT,
        bootstrap=BootstrapConfig(resamples=100, seed=12345),
    )
    task = find_task(TASK)
    lexicon = run_pair(parse_model_spec("reltest:lexicon"), task, cfg, adapter=module.Lexicon())
    majority = run_pair(parse_model_spec("baseline:majority"), task, cfg)
    assert lexicon.record is not None and majority.record is not None
    return {
        "reltest-lexicon": lexicon.record.model_dump(mode="json"),
        "baseline-majority": majority.record.model_dump(mode="json"),
    }


@pytest.mark.slow
def test_three_runs_share_one_cache_and_results_folder(
    bench: Any, plugin_dir: Path, tmp_path: Path, reaper: list[Any]
) -> None:
    procs = [
        bench.popen("run", "--model", "reltest:lexicon", *COMMON, RELTEST_PREDICT_DELAY="0.005"),
        bench.popen("run", "--model", "reltest:lexicon", *COMMON, RELTEST_PREDICT_DELAY="0.005"),
        bench.popen("run", "--model", "baseline:majority", *COMMON),
    ]
    reaper.extend(procs)
    outputs = [p.communicate(timeout=180) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "locked" not in err and "Traceback" not in err

    # The cache: intact, one row per (model fingerprint, request), nothing lost or doubled.
    conn = sqlite3.connect(bench.cache)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        rows = dict(
            conn.execute("SELECT adapter, COUNT(*) FROM predictions GROUP BY adapter").fetchall()
        )
        for _adapter, response in conn.execute("SELECT adapter, response FROM predictions"):
            json.loads(response)  # every stored response is whole JSON
    finally:
        conn.close()
    unique = {h for _, h in bench.predicted()}
    assert len(rows) == 2 and sorted(rows.values()) == [len(unique), len(unique)]

    # Each record is whole, valid and equal (but for run id, times, cache use) to a lone run.
    alone = _alone(plugin_dir, tmp_path / "alone")
    for model_dir, expected in alone.items():
        folder = bench.results / model_dir / TASK
        record = load_record(folder / "record.json").model_dump(mode="json")
        samples = (folder / "samples.jsonl").read_text(encoding="utf-8").splitlines()
        assert len(samples) == LIMIT and all(json.loads(line) for line in samples)
        assert record["metrics"] == expected["metrics"]
        assert record["model"]["fingerprint"] == expected["model"]["fingerprint"]
        assert record["predictions"]["total"] == LIMIT
        assert record["predictions"]["failed"] == 0
    assert not list(bench.results.rglob("*.tmp")), "a temporary file was left behind"
    assert not list(bench.results.rglob(".bench-write-probe*"))


def test_writers_on_one_cache_file_do_not_lock_each_other_out(tmp_path: Path) -> None:
    """Four processes each commit 200 single-row transactions to one fresh cache file."""
    code = (
        "import sys\n"
        "from bench.cache import PredictionCache\n"
        "c = PredictionCache(sys.argv[1])\n"
        "for i in range(200):\n"
        "    c.put_many(sys.argv[2], [(f'h{i}', {'v': i, 'w': sys.argv[2]})])\n"
        "    assert c.get_many(sys.argv[2], [f'h{i}']) == {f'h{i}': {'v': i, 'w': sys.argv[2]}}\n"
        "c.close()\n"
    )
    path = tmp_path / "shared.sqlite"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(path), f"fp{n}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    for p in procs:
        _out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        counts = dict(
            conn.execute("SELECT adapter, COUNT(*) FROM predictions GROUP BY adapter").fetchall()
        )
    finally:
        conn.close()
    assert counts == {f"fp{n}": 200 for n in range(4)}
