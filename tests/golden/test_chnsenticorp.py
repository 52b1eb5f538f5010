"""ChnSentiCorp-htl: the TF-IDF baseline reaches its agreed accuracy on the real data, end to end.

The task (``tasks/standard/chnsenticorp.yaml``) declares a seeded 80/20 split of the original
CSV; ``--data chnsenticorp=../shared/data/chnsenticorp-htl`` loads the local copy of that
release. The record's accuracy and macro-F1 are recomputed with scikit-learn from the saved
``samples.jsonl``.

The other trainable baselines' figures on the same split are held by their own tests, through
the same task and ``--data`` path (``tests/unit/adapters/test_neural.py``:
``test_chnsenticorp_accuracy``) or on the same 80/20 cut of the release
(``tests/unit/adapters/test_textcnn.py``: ``test_full_chnsenticorp_split``);
TextCNN is not trained a second time here (it was the suite's slowest test, 4 to 9 minutes).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sklearn.metrics import accuracy_score, f1_score

from bench.adapters.base import parse_model_spec
from bench.catalog import find_task
from bench.metrics.base import BootstrapConfig
from bench.runner import RunConfig, run_pair

pytestmark = pytest.mark.slow

LABELS = ["negative", "positive"]


@pytest.mark.parametrize(
    ("model", "floor"),
    [("baseline:tfidf-logreg", 0.85)],
)
def test_chnsenticorp_accuracy(shared_data: Path, tmp_path: Path, model: str, floor: float) -> None:
    task = find_task("chnsenticorp")
    config = RunConfig(
        results=tmp_path / "results",
        cache=None,
        bootstrap=BootstrapConfig(resamples=1000),
        data={"chnsenticorp": shared_data / "chnsenticorp-htl"},
    )
    start = time.perf_counter()
    outcome = run_pair(parse_model_spec(model), task, config)
    elapsed = time.perf_counter() - start
    record = outcome.record
    assert outcome.status == "done" and record is not None and outcome.record_path is not None

    # 7,765 non-empty reviews, 20% of them scored (the last fifth of the seeded shuffle).
    assert record.task.dropped_rows == 1
    assert record.task.n_examples == 1553
    assert record.failures.count == 0

    samples = [
        json.loads(line)
        for line in (outcome.record_path.parent / "samples.jsonl")
        .read_text(encoding="utf-8")
        .splitlines()
    ]
    gold = [s["reference"] for s in samples]
    pred = [s["prediction"] if s["prediction"] in LABELS else "(none)" for s in samples]
    accuracy = accuracy_score(gold, pred)
    macro_f1 = f1_score(gold, pred, labels=LABELS, average="macro", zero_division=0)
    assert record.metrics["accuracy"].value == accuracy
    assert record.metrics["macro_f1"].value == macro_f1
    print(
        f"\n{model} on chnsenticorp: accuracy {accuracy:.4f} "
        f"[{record.metrics['accuracy'].ci_low:.4f}, {record.metrics['accuracy'].ci_high:.4f}], "
        f"macro-F1 {macro_f1:.4f}, {elapsed:.1f} s (fit {record.timings.fit_s:.1f} s)"
    )
    assert accuracy >= floor
