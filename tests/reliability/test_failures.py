"""An adapter that raises on some examples, through ``bench run``.

The run finishes; each failing example is counted per cause in the record, is a miss in every
score (never a prediction), and is never cached. ``--max-failures`` turns too many failures into
exit code 2 with a message naming the counts and causes, keeping the successes cached; for
built-in baselines the default limit is 0.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sklearn.metrics import accuracy_score

from bench.adapters.base import Adapter, parse_model_spec
from bench.cache import PredictionCache
from bench.catalog import find_task
from bench.errors import AdapterError, TooManyFailures
from bench.families.base import Failure
from bench.families.sentiment import SentimentResponse
from bench.metrics.base import BootstrapConfig
from bench.runner import RunConfig, failure_limit, run_pair

TASK = "sentiment-en"
ARGS = ("run", "--model", "reltest:flaky", "--tasks", TASK, "--limit", "80", "--bootstrap", "0")


def _samples(bench: Any) -> list[dict[str, Any]]:
    path = bench.results / "reltest-flaky" / TASK / "samples.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.slow
def test_failures_are_counted_missed_and_limited_by_max_failures(bench: Any, helpers: Any) -> None:
    done = bench.run(*ARGS)
    assert done.returncode == 0, done.stderr
    record = bench.record("reltest-flaky", TASK)
    samples = _samples(bench)
    expected = {s["id"]: helpers.flaky_cause(s["input"]) for s in samples}
    failed = {i: c for i, c in expected.items() if c}
    by_cause = Counter(failed.values())
    assert set(by_cause) == {"unparsable", "timeout"}  # the data exercise both causes

    assert record["failures"]["count"] == len(failed)
    assert record["failures"]["by_cause"] == {
        "timeout: the server did not answer": by_cause["timeout"],
        "unparsable: cannot parse the answer": by_cause["unparsable"],
    }
    assert record["failures"]["ids"] == sorted(failed)
    assert record["predictions"] == {
        "total": 80,
        "cached": 0,
        "computed": 80 - len(failed),
        "failed": len(failed),
    }
    for s in samples:
        assert (s["failure"] is not None) == (s["id"] in failed)
        if s["id"] in failed:
            assert s["prediction"] is None and s["response"] is None
            assert s["failure"].startswith(failed[s["id"]])
    # A failure is a miss: accuracy over all 80 examples, failures counted wrong.
    gold = [s["reference"] for s in samples]
    pred = [s["prediction"] or "<failed>" for s in samples]
    assert record["metrics"]["accuracy"]["value"] == accuracy_score(gold, pred)
    assert record["metrics"]["accuracy"]["n"] == 80
    # Never cached: only the successes are.
    succeeded = {h for i, h in bench.predicted()}
    assert not {i for i, _ in bench.predicted()} & set(failed)
    assert helpers.cached_hashes(bench.cache) == succeeded

    # Over the limit: exit 2, a message with counts and causes; the successes stay cached.
    bench.cache.unlink()
    over = bench.run(*ARGS, "--max-failures", str(len(failed) - 1))
    assert over.returncode == 2
    message = over.stderr.strip().splitlines()[-1]
    assert message.startswith("error: reltest:flaky on sentiment-en:")
    assert f"{len(failed)} of 80 examples failed" in message
    assert "unparsable" in message and "--max-failures" in message
    assert len(helpers.cached_hashes(bench.cache)) == 80 - len(failed)


class FlakyBaseline(Adapter):
    """Fails on every third example; stands in for a built-in baseline that gave up."""

    name = "baseline:flaky"
    families: ClassVar[tuple[str, ...]] = ("sentiment",)

    def predict(self, requests: Any) -> list[SentimentResponse | Failure]:
        return [
            Failure(cause="invalid", message="bug")
            if int(r.id.rsplit("-", 1)[-1]) % 3 == 0
            else SentimentResponse(label="positive")
            for r in requests
        ]


def test_baselines_tolerate_no_failure_by_default(tmp_path: Path) -> None:
    task = find_task(TASK)
    cfg = RunConfig(
        results=tmp_path / "results",
        cache=tmp_path / "cache.sqlite",
        limit=12,
        batch_size=4,
        bootstrap=BootstrapConfig(resamples=0),
    )
    baseline = parse_model_spec("baseline:flaky")
    assert failure_limit(baseline, cfg) == 0
    assert failure_limit(parse_model_spec("openai:gpt,base_url=http://x/v1"), cfg) is None
    assert failure_limit(baseline, RunConfig(results=tmp_path, max_failures=3)) == 3
    with PredictionCache(tmp_path / "cache.sqlite") as cache:
        with pytest.raises(TooManyFailures) as info:
            run_pair(baseline, task, cfg, adapter=FlakyBaseline(), cache=cache)
        assert isinstance(info.value, AdapterError)
        assert "4 of 12 examples failed" in str(info.value)
        assert "invalid: bug ×4" in str(info.value)
        assert "(--max-failures is 0)" in str(info.value)
        assert cache.count() == 8  # the successes are kept for the re-run
    assert not (tmp_path / "results").exists() or not list(tmp_path.rglob("record.json"))
    # With an explicit limit the same run finishes and records the failures.
    outcome = run_pair(
        baseline, task, RunConfig(**{**cfg.__dict__, "max_failures": 4}), adapter=FlakyBaseline()
    )
    assert outcome.record is not None and outcome.record.failures.count == 4
