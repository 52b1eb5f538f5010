"""Write the fixed run records of the leaderboard golden tests (``records/``).

Run ``python tests/golden/leaderboard/make_records.py`` to regenerate them. Everything is
seeded and dated, so the output never changes unless this file does. The records are small
but real: every value is the mean of the per-example scores in ``samples.jsonl`` (so the tie
test recomputes them), intervals are seeded percentile bootstraps of those scores, and the
translation task ships no samples (its ties fall back to interval overlap). Model names test
escaping in Markdown, LaTeX and HTML; one model lacks tasks.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from bench.metrics.base import MetricValue
from bench.records import ModelInfo, RunRecord, TaskInfo, atomic_write_text, write_run

HERE = Path(__file__).parent
RECORDS = HERE / "records"
SCRIPT = "<script>alert(1)</script>"
TEX = "tex & md: 50%_$x$|`y`#~{}"
MODELS = ("alpha", "beta-7b", "模型-中", SCRIPT, TEX)
BOOT = "boot:200|conf:0.95|seed:7"

# task → (family, languages, primary, {model: skill}, n, samples?)
TASKS: dict[str, tuple[str, list[str], str, dict[str, float], int, bool]] = {
    "sentiment-en": (
        "sentiment",
        ["en"],
        "accuracy",
        {"alpha": 0.82, "beta-7b": 0.79, "模型-中": 0.61, SCRIPT: 0.5, TEX: 0.7},
        120,
        True,
    ),
    "qa-zh": ("qa", ["zh"], "cmrc_f1", {"alpha": 0.55, "beta-7b": 0.62, "模型-中": 0.6}, 80, True),
    "summarization-en": ("summarization", ["en"], "rougeL", {"alpha": 0.3, TEX: 0.31}, 60, True),
    "translation-en-zh": (
        "translation",
        ["en", "zh"],
        "ter",
        {"alpha": 0.35, "beta-7b": 0.4, "模型-中": 0.7},
        90,
        False,
    ),
}


def _interval(scores: np.ndarray, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, scores.size, size=(200, scores.size))
    means = scores[idx].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    return float(low), float(high)


def _value(
    name: str, scores: np.ndarray, seed: int, *, scale: float = 1.0, higher: bool = True
) -> MetricValue:
    low, high = _interval(scores, seed)
    return MetricValue(
        name=name,
        value=float(scores.mean()),
        n=int(scores.size),
        ci_low=low,
        ci_high=high,
        signature=f"{name}|golden|{BOOT}|v:1",
        higher_is_better=higher,
        scale=scale,
    )


def _record(task: str, model: str, i: int, metrics: dict[str, MetricValue]) -> RunRecord:
    family, languages, primary, _, n, _ = TASKS[task]
    return RunRecord(
        run_id=f"golden-{task}-{i}",
        started_at="2025-01-15T09:00:00+00:00",
        finished_at=f"2025-01-{15 + i:02d}T09:30:00+00:00",
        bench_version="0.1.0",
        task=TaskInfo(
            name=task,
            version=1,
            family=family,
            languages=languages,
            suite="golden",
            spec_hash="0" * 16,
            dataset_fingerprint=f"ds-{task}",
            dataset_origin="golden fixture",
            preprocess_hash="1" * 16,
            n_examples=n,
        ),
        model=ModelInfo(
            name=model, spec=f"fixture:{i},name={model}", adapter="fixture", fingerprint=f"fp{i}"
        ),
        primary_metric=primary,
        metrics=metrics,
        bootstrap={"resamples": 200, "confidence": 0.95, "seed": 7},
        timings={"total_s": 0.0},
        predictions={"total": n, "cached": 0, "computed": n, "failed": 0},
        failures={"count": i % 2, "by_cause": {}, "ids": []},
        environment={"python": "3.11", "platform": "golden", "packages": {}},
    )


def _write(task: str, model: str, i: int, seed: int) -> None:
    family, _, primary, skills, n, has_samples = TASKS[task]
    rng = np.random.default_rng(seed)
    skill = skills[model]
    samples: list[dict[str, Any]] = []
    if family == "sentiment":
        correct = (rng.random(n) < skill).astype(float)
        scores = {"correct": correct}
        metrics = {"accuracy": _value("accuracy", correct, seed)}
        if model != SCRIPT:  # a metric one model lacks: shown as missing, never 0
            f1 = np.clip(correct * 0.9 + rng.random(n) * 0.1, 0, 1)
            metrics["macro_f1"] = _value("macro_f1", f1, seed + 1)
    elif family == "qa":
        em = (rng.random(n) < skill * 0.6).astype(float) * 100
        f1 = np.clip(np.maximum(em, rng.random(n) * skill * 160), 0, 100)
        scores = {"cmrc_f1": f1, "cmrc_em": em}
        metrics = {
            "cmrc_f1": _value("cmrc_f1", f1, seed, scale=100),
            "cmrc_em": _value("cmrc_em", em, seed + 1, scale=100),
        }
    elif family == "summarization":
        r = np.clip(rng.normal(skill, 0.12, n), 0, 1)
        scores = {"rougeL": r}
        metrics = {"rougeL": _value("rougeL", r, seed)}
    else:
        ter = np.clip(rng.normal(skill * 100, 20, n), 0, 150)
        bleu = np.clip(rng.normal((1 - skill) * 40, 8, n), 0, 100)
        scores = {"ter": ter, "bleu": bleu}
        metrics = {
            "ter": _value("ter", ter, seed, scale=100, higher=False),
            "bleu": _value("bleu", bleu, seed + 1, scale=100),
        }
    metrics = {primary: metrics[primary], **metrics}
    for j in range(n):
        text = f"example {j} of {task}"
        if j == 0:
            text = "<b>bold</b> & <script>alert('sample')</script> | *not markdown*"
        samples.append(
            {
                "id": f"{task}-{j:04d}",
                "input": text,
                "prediction": f"prediction {j} by {model}",
                "reference": [f"reference {j}"],
                "failure": None,
                "scores": {k: float(v[j]) for k, v in scores.items()},
            }
        )
    record = _record(task, model, i, metrics)
    folder = RECORDS / f"model-{i}" / task
    if has_samples:
        write_run(folder, record, samples)
    else:
        atomic_write_text(folder / "record.json", record.model_dump_json(indent=2) + "\n")


def main() -> None:
    """Rewrite ``records/`` from scratch."""
    shutil.rmtree(RECORDS, ignore_errors=True)
    for t, task in enumerate(TASKS):
        for i, model in enumerate(MODELS):
            if model in TASKS[task][3]:
                _write(task, model, i, seed=1000 * t + i)


if __name__ == "__main__":
    main()
