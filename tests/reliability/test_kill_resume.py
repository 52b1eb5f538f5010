"""``kill -9`` of ``bench run`` at different stages and at random moments.

After every kill the re-run completes, asks the model for nothing that was already in the cache
when the process died (the adapter logs every request it predicts, with its hash, and the test
compares that log with the cache's rows), and writes metrics and samples identical to an
uninterrupted run. No ``record.json`` is ever half-written: ``atomic_write_text`` is killed
mid-write many times and the file is always absent, the old version or the new one.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bench.records import load_record, read_samples

TASK = "sentiment-en"
TOTAL = 96
BATCH = 8
ARGS = (
    "run",
    "--model",
    "reltest:lexicon",
    "--tasks",
    TASK,
    "--limit",
    str(TOTAL),
    "--batch-size",
    str(BATCH),
    "--bootstrap",
    "200",
    "--seed",
    "7",
)
MODEL_DIR = "reltest-lexicon"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, plugin_dir: Path, helpers: Any) -> Any:
    """The same run, never interrupted."""
    bench = helpers.make_bench(tmp_path_factory.mktemp("reference"), plugin_dir)
    done = bench.run(*ARGS)
    assert done.returncode == 0, done.stderr
    record = bench.record(MODEL_DIR, TASK)
    assert record["predictions"] == {"total": TOTAL, "cached": 0, "computed": TOTAL, "failed": 0}
    return bench


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL


def _no_record_or_a_whole_one(bench: Any) -> None:
    path = bench.results / MODEL_DIR / TASK / "record.json"
    if path.exists():
        load_record(path)  # parses and validates, or raises


def _samples(bench: Any) -> list[dict[str, Any]]:
    """The run's sample lines (checked against its record), without the run's own id."""
    folder = bench.results / MODEL_DIR / TASK
    lines = read_samples(folder / "samples.jsonl", load_record(folder / "record.json"))
    return [line.model_dump(exclude={"run_id"}) for line in lines]


def _check_final(bench: Any, reference: Any) -> dict[str, Any]:
    record = bench.record(MODEL_DIR, TASK)
    expected = reference.record(MODEL_DIR, TASK)
    assert record["metrics"] == expected["metrics"]
    assert record["model"]["fingerprint"] == expected["model"]["fingerprint"]
    assert record["task"]["dataset_fingerprint"] == expected["task"]["dataset_fingerprint"]
    assert _samples(bench) == _samples(reference)
    load_record(bench.results / MODEL_DIR / TASK / "record.json")
    return record


@pytest.mark.slow
def test_kill_during_fit_prediction_and_record_then_resume(
    bench: Any, reference: Any, helpers: Any, reaper: list[Any]
) -> None:
    record_path = bench.results / MODEL_DIR / TASK / "record.json"

    # 1. During training, before any prediction.
    proc = bench.popen(*ARGS, RELTEST_FIT_DELAY="60")
    reaper.append(proc)
    helpers.wait_for(lambda: "fit" in bench.log_lines(), proc, "training started")
    _kill(proc)
    assert helpers.cached_hashes(bench.cache) == set()
    assert bench.predicted() == []
    assert not record_path.exists()

    # 2. During prediction, after some batches were committed.
    proc = bench.popen(*ARGS, RELTEST_PREDICT_DELAY="0.3")
    reaper.append(proc)
    helpers.wait_for(
        lambda: len(helpers.cached_hashes(bench.cache)) >= 2 * BATCH, proc, "two batches"
    )
    _kill(proc)
    after_predict = helpers.cached_hashes(bench.cache)
    assert 2 * BATCH <= len(after_predict) < TOTAL
    assert not record_path.exists()
    n_logged = len(bench.predicted())

    # 3. After scoring, while the record is being assembled (the runner calls info() then).
    proc = bench.popen(*ARGS, RELTEST_INFO_DELAY="60")
    reaper.append(proc)
    helpers.wait_for(lambda: "info" in bench.log_lines(), proc, "the record stage")
    _kill(proc)
    after_score = helpers.cached_hashes(bench.cache)
    assert after_predict < after_score
    assert not record_path.exists()
    resumed = bench.predicted()[n_logged:]
    # Nothing cached at the second kill was asked of the model again...
    assert resumed and not {h for _, h in resumed} & after_predict
    # ...and everything the run needed was asked exactly once across the three runs.
    every = bench.predicted()
    assert {h for _, h in every} == after_score
    n_logged = len(every)

    # 4. The final run predicts nothing and does not even train: it all comes from the cache.
    log_before = len(bench.log_lines())
    done = bench.run(*ARGS)
    assert done.returncode == 0, done.stderr
    new_lines = bench.log_lines()[log_before:]
    assert "init" in new_lines and not [x for x in new_lines if x.split()[0] in ("fit", "predict")]
    assert len(bench.predicted()) == n_logged
    record = _check_final(bench, reference)
    assert record["predictions"] == {"total": TOTAL, "cached": TOTAL, "computed": 0, "failed": 0}


@pytest.mark.slow
def test_kill_at_random_moments(
    bench: Any, reference: Any, helpers: Any, reaper: list[Any]
) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    snapshots = []  # (adapter log length, cache contents) at each kill
    for _ in range(4):
        proc = bench.popen(*ARGS, RELTEST_PREDICT_DELAY="0.3")
        reaper.append(proc)
        # bench needs about 2 s to start (load, fit); 12 batches of 0.3 s follow, then scoring.
        # The first run cannot finish within 3.5 s, so at least one kill always lands; later
        # runs are shorter (what was cached is not predicted again) and may finish first.
        time.sleep(rng.uniform(0.3, 3.5))
        if proc.poll() is not None:
            break  # it finished first: nothing left to interrupt
        _kill(proc)
        snapshots.append((len(bench.predicted()), helpers.cached_hashes(bench.cache)))
        _no_record_or_a_whole_one(bench)
    done = bench.run(*ARGS)
    assert done.returncode == 0, f"seed {seed}: {done.stderr}"
    assert snapshots, f"seed {seed}: no run was interrupted"
    every = bench.predicted()
    for n_logged, cached in snapshots:
        later = {h for _, h in every[n_logged:]}
        assert not later & cached, f"seed {seed}: a cached prediction was computed again"
    _check_final(bench, reference)


WRITER = """
import json, sys
from pathlib import Path
from bench.records import atomic_write_text

path = Path(sys.argv[1])
version = 0
while True:
    version += 1
    # ~2 MB per version, so a kill often lands inside a write.
    text = json.dumps({"version": version, "pad": [version] * 400_000})
    atomic_write_text(path, text)
    print(version, flush=True)
"""


@pytest.mark.slow
def test_atomic_write_killed_midway_leaves_old_or_new_never_partial(tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER, encoding="utf-8")
    target = tmp_path / "out" / "record.json"
    rng = random.Random(1234)
    seen_versions = set()
    for _ in range(5):
        proc = subprocess.Popen(
            [sys.executable, str(script), str(target)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(rng.uniform(0.4, 1.0))
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate()
        assert proc.returncode == -signal.SIGKILL, err
        written = [int(v) for v in out.split()]
        if target.exists():
            data = json.loads(target.read_text(encoding="utf-8"))  # never a partial file
            assert data["pad"] == [data["version"]] * 400_000
            # The file is the last version reported, or the one being renamed when killed.
            if written:
                assert data["version"] in (written[-1], written[-1] + 1)
            seen_versions.add(data["version"])
        # A killed writer may leave its temporary file, never a second record.
        others = {p.name for p in target.parent.iterdir()} - {"record.json"}
        assert all(n.startswith(".record.json.") and n.endswith(".tmp") for n in others)
    assert seen_versions, "no write ever completed"
