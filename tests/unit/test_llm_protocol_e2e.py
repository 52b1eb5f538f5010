"""Issue 15's matrix end to end: every family through a tiny seeded causal model (``hf:``).

Each case runs a smoke task's three prompt variants with a ``fewshot:`` block (every selector
appears), ``draws: 3`` where the selector draws, a scoring mode (``loglik`` with a
normalisation, ``generate`` with ``strip_reasoning`` or an extraction rule) and, in two cases,
``n: 4`` sampling. The record must carry every unit, the per-variant and per-draw means and
their spread; the headline value must be the mean of the units; and a second run at another
``--batch-size`` must give the same record and samples (run ids, times and cache counts aside):
byte for byte where the model generates; where it scores choices (``loglik``), the exemplars,
prompts, answers and every discrete value are identical and the log-likelihoods (and what is
computed from them: probabilities, ECE) agree to 1e-5 (1e-4 for PMI, a difference of two) —
a padded float32 batch moves a summed log-likelihood by about 1e-6.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.adapters.base import parse_model_spec
from bench.data import BUILTIN_ROOT
from bench.metrics.base import BootstrapConfig
from bench.runner import RunConfig, RunOutcome, run_pair
from bench.spec import TaskSpec, load_task, parse_task

sys.path.insert(0, str(Path(__file__).parent / "adapters"))
from tiny_hf import causal_model

SMOKE = BUILTIN_ROOT.parent.parent / "tasks/smoke"

CASES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "sentiment-random-char",
        "sentiment-en",
        {
            "fewshot": {"k": 2, "selector": "random", "draws": 3, "seed": 7},
            "scoring": {"mode": "loglik", "normalization": "char"},
        },
    ),
    (
        "sentiment-balanced-pmi",
        "sentiment-zh",
        {
            "fewshot": {"k": 1, "selector": "balanced", "draws": 3},
            "scoring": {"mode": "loglik", "normalization": "pmi"},
        },
    ),
    (
        "sentiment-sampled",
        "sentiment-en",
        {
            "fewshot": {"k": 1, "selector": "first"},
            "scoring": {"mode": "generate", "strip_reasoning": True},
            "generation": {"max_new_tokens": 4, "temperature": 1.0, "n": 4, "seed": 3},
        },
    ),
    (
        "qa-bm25-strip",
        "qa-en",
        {
            "fewshot": {"k": 1, "selector": "bm25", "draws": 3},
            "scoring": {"mode": "generate", "strip_reasoning": True},
            "generation": {"max_new_tokens": 6},
        },
    ),
    (
        "qa-sampled",
        "qa-zh",
        {
            "fewshot": {"k": 1, "selector": "random", "draws": 2},
            "scoring": {"mode": "generate", "extract": "last"},
            "generation": {"max_new_tokens": 4, "temperature": 0.8, "n": 4},
        },
    ),
    (
        "translation-fixed",
        "translation-zh-en",
        {
            "fewshot": {
                "k": 2,
                "selector": "fixed",
                "ids": ["zh-en-train-0003", "zh-en-train-0001"],
            },
            "scoring": {"mode": "generate", "extract": {"rule": "regex", "pattern": "(.+)"}},
            "generation": {"max_new_tokens": 8, "stop": ["\n"]},
        },
    ),
    (
        "summarization-first",
        "summarization-en",
        {
            "fewshot": {"k": 1, "selector": "first", "split": "train"},
            "scoring": {"mode": "generate", "extract": "last"},
            "generation": {"max_new_tokens": 8},
        },
    ),
    (
        "recommendation-random-token",
        "recommendation-synthetic",
        {
            "fewshot": {"k": 1, "selector": "random", "draws": 2},
            "scoring": {"mode": "loglik", "normalization": "token"},
        },
    ),
]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return causal_model(tmp_path_factory.mktemp("tiny") / "tiny-llama", seed=1)


def _task(name: str, blocks: dict[str, Any]) -> TaskSpec:
    data = load_task(SMOKE / f"{name}.yaml").model_dump(mode="json", exclude_none=True)
    data.update(blocks)
    return parse_task(json.dumps(data), path=SMOKE / f"{name}.yaml")


def _run(model: Path, task: TaskSpec, tmp: Path, batch_size: int, limit: int) -> RunOutcome:
    spec = parse_model_spec(f"hf:{model},task=causal,name=tiny")
    config = RunConfig(
        results=tmp / f"results-{batch_size}",
        cache=tmp / f"cache-{batch_size}.sqlite",
        limit=limit,
        batch_size=batch_size,
        bootstrap=BootstrapConfig(resamples=100, seed=5),
        max_failures=10_000,
    )
    return run_pair(spec, task, config)


def _comparable(outcome: RunOutcome) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    assert outcome.record is not None and outcome.record_path is not None
    data = outcome.record.model_dump(mode="json")
    for key in ("run_id", "started_at", "finished_at", "timings", "predictions", "environment"):
        data.pop(key)
    data["model"]["info"].pop("batch_size", None)
    text = (outcome.record_path.parent / "samples.jsonl").read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines()]
    for line in lines:
        line.pop("run_id")
    return data, lines


@pytest.mark.slow
@pytest.mark.parametrize(("case", "name", "blocks"), CASES, ids=[c[0] for c in CASES])
def test_every_family_under_the_protocol(
    model: Path, tmp_path: Path, case: str, name: str, blocks: dict[str, Any]
) -> None:
    task = _task(name, blocks)
    # A recommendation example scores every candidate's text, a QA prompt holds passages: a
    # user, or four questions, keep those cases to seconds.
    limit = {"recommendation": 1, "qa": 4}.get(task.family, 8)
    first = _run(model, task, tmp_path, batch_size=16, limit=limit)
    assert first.status == "done", first.reason
    record = first.record
    assert record is not None and record.protocol is not None
    protocol = record.protocol
    draws = blocks["fewshot"].get("draws", 1)
    samples = blocks.get("generation", {}).get("n", 1)
    variants = [v.name for v in task.prompts or []]
    assert len(variants) >= 3
    assert len(protocol.units) == len(variants) * draws * samples
    assert list(protocol.variants) == variants
    assert len(protocol.draws) == draws
    primary = record.primary_metric
    means = [u.metrics[primary].value for u in protocol.units]
    assert record.metrics[primary].value == pytest.approx(statistics.fmean(means), abs=1e-12)
    spread = protocol.spread.get(primary, {})
    per_variant = [protocol.variants[v][primary] for v in variants]
    if len(set(per_variant)) > 1 or "variants" in spread:
        assert spread["variants"].min == pytest.approx(min(per_variant))
        assert spread["variants"].max == pytest.approx(max(per_variant))
    if draws > 1:
        assert "draws" in spread or len({d[primary] for d in protocol.draws}) == 1
    if samples > 1 and task.family in ("sentiment", "qa"):
        assert {"mean@n", "pass@1", "pass@4", "majority@n"} <= set(protocol.sampling)
        assert protocol.sampling["mean@n"].value <= protocol.sampling["pass@4"].value
    tag = record.metrics[primary].signature.rsplit("|lm:", 1)[1]
    assert tag.startswith(blocks["scoring"]["mode"])
    # Every sample line names its unit and its exemplars; exemplars are never the example.
    data, lines = _comparable(first)
    assert len(lines) == len(protocol.units) * record.task.n_examples
    assert all(line["unit"] and line["shots"] for line in lines)
    assert all(line["id"] not in line["shots"] for line in lines)
    assert all(line["response"] is None or "transcript" in line["response"] for line in lines)
    # The same seed at another batch size (3: batches of other lengths, so other padding):
    # the same record and samples.
    again = _run(model, task, tmp_path, batch_size=3, limit=limit)
    if blocks["scoring"]["mode"] == "generate":
        assert _comparable(again) == (data, lines)  # byte for byte
    else:
        # PMI subtracts two summed log-likelihoods, each moved by the padding: twice the error
        tol = 1e-4 if blocks["scoring"].get("normalization") == "pmi" else 1e-5
        _assert_close(_comparable(again), (data, lines), where="record", tol=tol)


def _assert_close(a: Any, b: Any, *, where: str, tol: float) -> None:
    """``a == b`` but for floats, which agree to ``tol`` (relative, or absolute near 0)."""
    if isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=tol, abs=tol), where
    elif isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_close(a[key], b[key], where=f"{where}.{key}", tol=tol)
    elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_close(x, y, where=f"{where}[{i}]", tol=tol)
    else:
        assert a == b, where
