"""The runner, end to end with real baselines and small test adapters.

Real baselines run on the built-in smoke tasks (with ``limit`` to stay fast). Test adapters are
ordinary :class:`~bench.adapters.base.Adapter` subclasses: a lexicon rule that is deterministic
(so a resumed run can be compared with an uninterrupted one), optionally slow, and one that
raises on some examples.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sklearn.metrics import accuracy_score, f1_score

from bench import records
from bench.adapters.base import Adapter, parse_model_spec
from bench.cache import PredictionCache
from bench.catalog import find_task
from bench.data import BUILTIN_ROOT
from bench.errors import AdapterError
from bench.families.base import Failure
from bench.families.sentiment import SentimentResponse
from bench.metrics.base import BootstrapConfig
from bench.runner import Event, RunConfig, RunOutcome, run_pair, run_plan
from bench.spec import TaskSpec, load_task, parse_task

MISS = "__miss__"

# A deterministic lexicon adapter, written to a file so a child process can import it too.
LEXICON_MODULE = '''
"""A lexicon rule for sentiment (English and Chinese), slow when SLOW_ADAPTER_DELAY is set."""

import os
import time
from typing import ClassVar

from bench.adapters.base import Adapter
from bench.families.sentiment import SentimentResponse

POSITIVE = ("好", "棒", "满意", "喜欢", "推荐", "不错", "great", "love", "good", "excellent",
            "friendly", "perfect", "recommend", "best", "fast", "helpful")


class Lexicon(Adapter):
    """``positive`` when the text has a positive cue word, else ``negative``."""

    name = "test:lexicon"
    families: ClassVar[tuple[str, ...]] = ("sentiment",)

    def __init__(self, target=None, **params):
        super().__init__(target, **params)
        self.seen = []  # ids of the requests this instance was asked to predict

    def predict(self, requests):
        # The delay is not a parameter: it must not change the fingerprint (the cache key).
        time.sleep(float(os.environ.get("SLOW_ADAPTER_DELAY", "0")))
        out = []
        for r in requests:
            self.seen.append(r.id)
            text = r.text.lower()
            label = "positive" if any(w in text for w in POSITIVE) else "negative"
            out.append(SentimentResponse(label=label))
        return out
'''


@pytest.fixture(scope="module")
def lexicon_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lexicon")
    (folder / "lexicon_adapter.py").write_text(LEXICON_MODULE, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def lexicon_cls(lexicon_dir: Path) -> type[Adapter]:
    spec = importlib.util.spec_from_file_location(
        "lexicon_adapter", lexicon_dir / "lexicon_adapter.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cls: type[Adapter] = module.Lexicon
    return cls


def config(tmp: Path, **kw: Any) -> RunConfig:
    kw.setdefault("bootstrap", BootstrapConfig(resamples=200, seed=1))
    return RunConfig(results=tmp / "results", cache=tmp / "cache.sqlite", **kw)


def read_samples(outcome: RunOutcome) -> list[dict[str, Any]]:
    """The run's sample lines (checked against its record), without the run's own id."""
    assert outcome.record_path is not None
    path = outcome.record_path.parent / "samples.jsonl"
    record = records.load_record(outcome.record_path)  # the run on disk (a re-run replaces it)
    lines = records.read_samples(path, record)
    assert {line.run_id for line in lines} == {record.run_id}
    return [line.model_dump(exclude={"run_id"}) for line in lines]


def sklearn_scores(samples: list[dict[str, Any]], labels: list[str]) -> tuple[float, float]:
    gold = [s["reference"] for s in samples]
    pred = [s["prediction"] if s["prediction"] in labels else MISS for s in samples]
    return (
        float(accuracy_score(gold, pred)),
        float(f1_score(gold, pred, labels=labels, average="macro", zero_division=0)),
    )


def metric_table(outcome: RunOutcome) -> dict[str, Any]:
    assert outcome.record is not None
    return {k: v.model_dump() for k, v in outcome.record.metrics.items()}


# --------------------------------------------------------------------------- real baselines


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Majority and TF-IDF baselines on both smoke tasks, run twice on one cache (the second
    time with ``rescore``)."""
    tmp = tmp_path_factory.mktemp("smoke")
    models = [parse_model_spec("baseline:majority"), parse_model_spec("baseline:tfidf-logreg")]
    tasks = [find_task("sentiment-en"), find_task("sentiment-zh")]
    events: list[Event] = []
    cfg = config(tmp, limit=48, batch_size=16)
    first = run_plan(models, tasks, cfg, progress=events.append)
    records_first = {
        (o.model, o.task): (o.record_path.read_bytes() if o.record_path else b"") for o in first
    }
    # --rescore: the records are up to date; scored again, every prediction is the cache's.
    second = run_plan(models, tasks, dataclasses.replace(cfg, rescore=True))
    return {
        "tmp": tmp,
        "first": first,
        "second": second,
        "events": events,
        "records_first": records_first,
    }


def test_records_and_samples_are_written(smoke_runs: dict[str, Any]) -> None:
    first = smoke_runs["first"]
    assert [(o.model, o.task, o.status) for o in first] == [
        ("baseline:majority", "sentiment-en", "done"),
        ("baseline:majority", "sentiment-zh", "done"),
        ("baseline:tfidf-logreg", "sentiment-en", "done"),
        ("baseline:tfidf-logreg", "sentiment-zh", "done"),
    ]
    results = smoke_runs["tmp"] / "results"
    for o in first:
        assert o.record_path is not None and o.record is not None
        assert o.record_path.parent.parent.parent == results
        assert (o.record_path.parent / "samples.jsonl").is_file()
        rec = o.record
        assert rec.task.n_examples == 48
        assert rec.predictions.model_dump() == {
            "total": 48,
            "cached": 0,
            "computed": 48,
            "failed": 0,
        }
        assert rec.failures.count == 0
        assert rec.task.train_fingerprint is not None
        assert rec.task.dataset_origin.startswith("builtin:")
        assert rec.primary_metric == "accuracy"
        assert {"accuracy", "macro_f1", "mcc", "ece", "confusion_matrix"} <= set(rec.metrics)
        assert o.adapter_calls == 3  # 48 examples in batches of 16
        samples = read_samples(o)
        assert len(samples) == 48
        assert {"id", "input", "prediction", "reference", "scores", "failure"} <= set(samples[0])
        assert len({s["id"] for s in samples}) == 48
    tfidf_en = first[2].record
    assert str(tfidf_en.model.info["best_c"]) in tfidf_en.model.info["cv_macro_f1"]


def test_record_scores_equal_sklearn_on_samples(smoke_runs: dict[str, Any]) -> None:
    for o in smoke_runs["first"]:
        samples = read_samples(o)
        acc, f1 = sklearn_scores(samples, ["negative", "positive"])
        assert o.record.metrics["accuracy"].value == acc
        assert o.record.metrics["macro_f1"].value == f1
        assert [s["scores"]["correct"] for s in samples] == [
            float(s["prediction"] == s["reference"]) for s in samples
        ]
    # TF-IDF learns something on the smoke data; the majority baseline predicts one label.
    by_pair = {(o.model, o.task): o for o in smoke_runs["first"]}
    majority = read_samples(by_pair[("baseline:majority", "sentiment-en")])
    assert len({s["prediction"] for s in majority}) == 1


def test_second_run_makes_no_adapter_calls_and_same_metrics(smoke_runs: dict[str, Any]) -> None:
    for a, b in zip(smoke_runs["first"], smoke_runs["second"], strict=True):
        assert b.status == "done"
        assert b.adapter_calls == 0
        assert b.record.predictions.model_dump() == {
            "total": 48,
            "cached": 48,
            "computed": 0,
            "failed": 0,
        }
        assert b.record.model.fingerprint == a.record.model.fingerprint
        assert metric_table(a) == metric_table(b)
        assert read_samples(a) == read_samples(b)
        assert b.record.run_id != a.record.run_id
        assert b.record.timings.fit_s == 0.0  # nothing to predict: no training either


def test_progress_events(smoke_runs: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    events = smoke_runs["events"]
    pair = [e for e in events if (e.model, e.task) == ("baseline:majority", "sentiment-zh")]
    kinds = [e.kind for e in pair]
    assert kinds[0] == "pair-start" and kinds[-1] == "pair-done"
    assert "predict-start" in kinds
    stages = [e.stage for e in pair if e.kind == "stage"]
    assert stages == ["load", "preprocess", "fit", "score"]
    progress = [e for e in pair if e.kind == "predict-progress"]
    assert [e.done for e in progress] == [16, 32, 48]
    assert all(e.total == 48 for e in progress)


def test_runner_never_prints(
    tmp_path: Path, lexicon_cls: type[Adapter], capsys: pytest.CaptureFixture[str]
) -> None:
    task = find_task("sentiment-zh")
    run_pair(
        parse_model_spec("test:lexicon"), task, config(tmp_path, limit=10), adapter=lexicon_cls()
    )
    assert capsys.readouterr().out == ""


# --------------------------------------------------------------------------- interrupted run

CHILD = """
import sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from lexicon_adapter import Lexicon
from bench.adapters.base import parse_model_spec
from bench.cache import PredictionCache
from bench.catalog import find_task
from bench.data import BUILTIN_ROOT
from bench.metrics.base import BootstrapConfig
from bench.runner import RunConfig, run_pair

tmp = Path(sys.argv[2])
cfg = RunConfig(results=tmp / "results", cache=tmp / "cache.sqlite", limit=96, batch_size=8,
                bootstrap=BootstrapConfig(resamples=200, seed=1))
cache = PredictionCache(cfg.cache)
run_pair(parse_model_spec("test:lexicon"), find_task("sentiment-zh"), cfg, cache=cache,
         adapter=Lexicon())
print("finished")
"""


def _cache_count(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return 0  # the table is not there yet


def test_killed_run_resumes_without_repeating_predictions(
    tmp_path: Path, lexicon_dir: Path, lexicon_cls: type[Adapter]
) -> None:
    total, batch = 96, 8
    env = {**os.environ, "SLOW_ADAPTER_DELAY": "0.25"}
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, str(script), str(lexicon_dir), str(tmp_path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    cache_path = tmp_path / "cache.sqlite"
    try:
        deadline = time.monotonic() + 120
        while _cache_count(cache_path) < 2 * batch:
            assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "the child never cached a prediction"
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    cached = _cache_count(cache_path)
    assert 0 < cached < total
    assert cached % batch == 0  # whole batches only: a batch is committed at once
    assert not (tmp_path / "results").exists() or not list(
        (tmp_path / "results").rglob("record.json")
    )

    # Resume in this process with the same cache: only the rest is computed.
    task = find_task("sentiment-zh")
    spec = parse_model_spec("test:lexicon")
    cfg = RunConfig(
        results=tmp_path / "results",
        cache=cache_path,
        limit=total,
        batch_size=batch,
        bootstrap=BootstrapConfig(resamples=200, seed=1),
    )
    adapter = lexicon_cls()
    with PredictionCache(cache_path) as cache:
        resumed = run_pair(spec, task, cfg, cache=cache, adapter=adapter)
        assert cache.count() == total
    assert resumed.record.predictions.model_dump() == {
        "total": total,
        "cached": cached,
        "computed": total - cached,
        "failed": 0,
    }
    assert resumed.adapter_calls == math.ceil((total - cached) / batch)
    assert len(adapter.seen) == total - cached
    assert len(set(adapter.seen)) == len(adapter.seen)

    # An uninterrupted run from scratch gives the same numbers.
    fresh_cfg = RunConfig(
        results=tmp_path / "fresh",
        cache=tmp_path / "fresh.sqlite",
        limit=total,
        batch_size=batch,
        bootstrap=BootstrapConfig(resamples=200, seed=1),
    )
    with PredictionCache(fresh_cfg.cache) as cache:
        fresh = run_pair(spec, task, fresh_cfg, cache=cache, adapter=lexicon_cls())
    assert fresh.record.predictions.cached == 0
    assert metric_table(resumed) == metric_table(fresh)
    assert read_samples(resumed) == read_samples(fresh)


# --------------------------------------------------------------------------- failures


class Flaky(Adapter):
    """Fails on texts of some lengths with two different causes; otherwise a lexicon rule."""

    name = "test:flaky"
    families: ClassVar[tuple[str, ...]] = ("sentiment",)

    def __init__(self, target: str | None = None, **params: Any) -> None:
        super().__init__(target, **params)
        self.calls = 0

    @staticmethod
    def cause(text: str) -> str | None:
        if len(text) % 5 == 0:
            return "unparsable: cannot parse the answer"
        if len(text) % 7 == 0:
            return "timeout: the server did not answer"
        return None

    def predict(self, requests: Any) -> list[SentimentResponse | Failure]:
        self.calls += 1
        out: list[SentimentResponse | Failure] = []
        for r in requests:
            cause = self.cause(r.text)
            if cause:
                kind, _, message = cause.partition(": ")
                out.append(Failure(cause=kind, message=message))
                continue
            out.append(
                SentimentResponse(
                    label="positive"
                    if "good" in r.text.lower() or "great" in r.text.lower()
                    else "negative"
                )
            )
        return out


def test_failing_examples_are_counted_scored_as_misses_and_never_cached(
    tmp_path: Path,
) -> None:
    task = find_task("sentiment-en")
    spec = parse_model_spec("test:flaky")
    cfg = config(tmp_path, limit=80, batch_size=10)
    adapter = Flaky()
    with PredictionCache(cfg.cache) as cache:
        outcome = run_pair(spec, task, cfg, cache=cache, adapter=adapter)
        rec = outcome.record
        samples = read_samples(outcome)
        expected = {s["id"]: Flaky.cause(s["input"]) for s in samples}
        failed = {i: c for i, c in expected.items() if c}
        causes: dict[str, int] = {}
        for c in failed.values():
            causes[c] = causes.get(c, 0) + 1
        assert len(causes) == 2 and all(n > 0 for n in causes.values())
        assert rec.failures.count == len(failed)
        assert rec.failures.by_cause == causes
        assert rec.failures.ids == sorted(failed)
        assert rec.predictions.model_dump() == {
            "total": 80,
            "cached": 0,
            "computed": 80 - len(failed),
            "failed": len(failed),
        }
        for s in samples:
            if s["id"] in failed:
                assert s["prediction"] is None and s["response"] is None
                assert s["failure"] == failed[s["id"]]
                assert s["scores"]["correct"] == 0.0
            else:
                assert s["failure"] is None and s["prediction"] in ("negative", "positive")
        # Misses count against the model: accuracy over all 80, not over the answered ones.
        acc, f1 = sklearn_scores(samples, ["negative", "positive"])
        assert rec.metrics["accuracy"].value == acc
        assert rec.metrics["macro_f1"].value == f1
        assert rec.metrics["accuracy"].n == 80
        answered = [s for s in samples if s["id"] not in failed]
        right = sum(s["prediction"] == s["reference"] for s in answered)
        assert acc == right / 80 < right / len(answered)
        # Never cached: only successes are in the cache, and a re-run retries the failures.
        assert cache.count(rec.model.fingerprint) == 80 - len(failed)
        again = run_pair(spec, task, cfg, cache=cache, adapter=Flaky())
    assert again.record.predictions.cached == 80 - len(failed)
    assert again.record.failures.count == len(failed)
    assert again.adapter_calls > 0
    assert metric_table(again) == metric_table(outcome)


def test_max_failures_exceeded_is_an_adapter_error(tmp_path: Path) -> None:
    task = find_task("sentiment-en")
    spec = parse_model_spec("test:flaky")
    ok = run_pair(spec, task, config(tmp_path, limit=80, batch_size=10), adapter=Flaky())
    n_failed = ok.record.failures.count
    assert n_failed > 2
    # Exactly at the limit is fine; one more is not.
    cfg = config(tmp_path / "b", limit=80, batch_size=10, max_failures=n_failed)
    assert run_pair(spec, task, cfg, adapter=Flaky()).status == "done"
    cfg = config(tmp_path / "c", limit=80, batch_size=10, max_failures=n_failed - 1)
    with PredictionCache(cfg.cache) as cache:
        with pytest.raises(AdapterError) as info:
            run_pair(spec, task, cfg, cache=cache, adapter=Flaky())
        assert cache.count() == 80 - n_failed  # what succeeded is kept for the re-run
    message = str(info.value)
    assert f"{n_failed} of 80" in message
    assert "unparsable" in message and "test:flaky" in message
    assert not (tmp_path / "c" / "results").exists()


class Buggy(Adapter):
    """Answers its first two batches, then raises a plain exception (a bug)."""

    name = "test:buggy"
    families: ClassVar[tuple[str, ...]] = ("sentiment",)

    def __init__(self, target: str | None = None, **params: Any) -> None:
        super().__init__(target, **params)
        self.calls = 0

    def predict(self, requests: Any) -> list[SentimentResponse]:
        self.calls += 1
        if self.calls == 3:
            raise KeyError("labels")
        return [SentimentResponse(label="positive") for _ in requests]


def test_an_exception_in_an_adapter_stops_the_run_and_keeps_earlier_batches(
    tmp_path: Path,
) -> None:
    task = find_task("sentiment-en")
    spec = parse_model_spec("test:buggy")
    cfg = config(tmp_path, limit=40, batch_size=10)
    adapter = Buggy()
    with PredictionCache(cfg.cache) as cache:
        with pytest.raises(AdapterError) as info:
            run_pair(spec, task, cfg, cache=cache, adapter=adapter)
        assert adapter.calls == 3  # no retry one by one after the exception
        assert cache.count() == 20  # the two batches answered before it stay cached
    message = str(info.value)
    assert "test:buggy" in message and "KeyError" in message and "'labels'" in message
    assert "Traceback" not in message
    assert not (tmp_path / "results").exists()
    # A re-run resumes after the cached batches.
    resumed = Buggy()
    resumed.calls = 10  # past the bug
    with PredictionCache(cfg.cache) as cache:
        outcome = run_pair(spec, task, cfg, cache=cache, adapter=resumed)
    assert outcome.record is not None and outcome.record.predictions.cached == 20
    assert resumed.calls == 12


# --------------------------------------------------------------------------- skipping


class TranslationOnly(Adapter):
    name = "test:translator"
    families: ClassVar[tuple[str, ...]] = ("translation",)

    def predict(self, requests: Any) -> list[Any]:
        raise AssertionError("never called")


def test_unsupported_family_is_skipped_with_a_reason(tmp_path: Path) -> None:
    task = find_task("sentiment-en")
    events: list[Event] = []
    outcome = run_pair(
        parse_model_spec("test:translator"),
        task,
        config(tmp_path),
        adapter=TranslationOnly(),
        progress=events.append,
    )
    assert outcome.status == "skipped"
    assert outcome.reason == "does not support the sentiment family"
    assert outcome.model == "test:translator"
    assert outcome.record is None and outcome.record_path is None
    assert [e.kind for e in events] == ["pair-skipped"]
    assert not (tmp_path / "results").exists()


def test_trainable_adapter_on_a_task_without_train_split_is_skipped(tmp_path: Path) -> None:
    text = (Path(find_task("sentiment-en").path or "")).read_text(encoding="utf-8")
    text = text.replace(
        "files: {train: train.jsonl, test: test.jsonl}", "files: {test: test.jsonl}"
    )
    text = text.replace("splits: {train: train, test: test}", "splits: {test: test}")
    task = parse_task(text)
    assert "train" not in task.source.splits
    outcomes = run_plan([parse_model_spec("baseline:majority")], [task], config(tmp_path))
    assert outcomes[0].status == "skipped"
    assert "train split" in outcomes[0].reason


# --------------------------------------------------------------------------- fingerprints

LOCAL_TASK = """\
name: local-sent
version: 1
family: sentiment
languages: [en]
description: A local copy of part of the smoke data.
labels: [negative, positive]
source:
  kind: local
  location: data
  format: jsonl
  files: {train: train.jsonl, test: test.jsonl}
  splits: {train: train, test: test}
metrics: [accuracy, macro_f1]
primary_metric: accuracy
"""


def _local_task(root: Path, train_rows: list[str], test_rows: list[str]) -> TaskSpec:
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "data" / "train.jsonl").write_text("".join(train_rows), encoding="utf-8")
    (root / "data" / "test.jsonl").write_text("".join(test_rows), encoding="utf-8")
    (root / "local-sent.yaml").write_text(LOCAL_TASK, encoding="utf-8")
    return load_task(root / "local-sent.yaml")


def test_trainable_fingerprint_covers_the_train_split(tmp_path: Path) -> None:
    smoke = BUILTIN_ROOT / "smoke"
    train = (smoke / "sentiment-en" / "train.jsonl").read_text(encoding="utf-8").splitlines(True)
    test = (smoke / "sentiment-en" / "test.jsonl").read_text(encoding="utf-8").splitlines(True)
    spec = parse_model_spec("baseline:majority")
    cfg = config(tmp_path, limit=30)
    root = tmp_path / "task"

    def run(train_rows: list[str]) -> RunOutcome:
        task = _local_task(root, train_rows, test)
        with PredictionCache(cfg.cache) as cache:
            return run_pair(spec, task, dataclasses.replace(cfg, rescore=True), cache=cache)

    first = run(train)
    same = run(train)
    assert same.record.model.fingerprint == first.record.model.fingerprint
    assert same.record.predictions.cached == 30 and same.adapter_calls == 0

    # Drop most positive training rows: the majority label changes, and so must the key.
    negatives = [r for r in train if json.loads(r)["label"] == "negative"]
    positives = [r for r in train if json.loads(r)["label"] == "positive"]
    changed = run(negatives + positives[:10])
    assert changed.record.task.train_fingerprint != first.record.task.train_fingerprint
    assert changed.record.model.fingerprint != first.record.model.fingerprint
    assert changed.record.predictions.cached == 0
    assert changed.adapter_calls > 0
    assert {s["prediction"] for s in read_samples(changed)} == {"negative"}

    # Even one training row less is a different model.
    one_less = run(train[:-1])
    assert one_less.record.model.fingerprint not in {
        first.record.model.fingerprint,
        changed.record.model.fingerprint,
    }
    assert one_less.record.predictions.cached == 0
    # The adapter's own fingerprint alone does not change; the runner combines them.
    from bench.adapters.base import make_adapter

    assert make_adapter(spec).fingerprint() == make_adapter(spec).fingerprint()
    assert make_adapter(spec).fingerprint() != first.record.model.fingerprint


# --------------------------------------------------------------------------- fingerprints


FINGERPRINT_CODE = """
import json, sys
from bench.adapters.base import builtin_baselines, make_adapter
from bench.catalog import find_task
out = {}
for name in builtin_baselines():
    for task in sys.argv[1:]:
        out[f"{name}|{task}"] = make_adapter(name).fingerprint(find_task(task))
print(json.dumps(out))
"""


@pytest.mark.slow  # ~10 s: fresh interpreters
def test_fingerprints_are_pure(tmp_path: Path) -> None:
    """Before and after for_task and predict, and in a fresh process: the same fingerprint."""
    from bench.adapters.base import builtin_baselines, make_adapter
    from bench.families.base import get_family

    tasks = ["sentiment-en", "translation-zh-en", "qa-zh"]
    here: dict[str, str] = {}
    for name in builtin_baselines():
        for tname in tasks:
            task = find_task(tname)
            adapter = make_adapter(name)
            before = adapter.fingerprint(task)
            if not adapter.supports(task.family):
                here[f"{name}|{tname}"] = before
                continue
            bound = adapter.for_task(task, get_family(task.family))
            assert bound.fingerprint(task) == before == adapter.fingerprint(task), name
            if not bound.trainable:
                run_pair(
                    parse_model_spec(name), task, config(tmp_path / name, limit=4), adapter=bound
                )
                assert bound.fingerprint(task) == adapter.fingerprint(task) == before, name
            here[f"{name}|{tname}"] = before
    out = subprocess.run(
        [sys.executable, "-c", FINGERPRINT_CODE, *tasks],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
    )
    assert json.loads(out.stdout) == here


class Miscounting(Adapter):
    """Returns one answer too few, or a plain string instead of a response."""

    name = "test:miscounting"
    families: ClassVar[tuple[str, ...]] = ("sentiment",)

    class Params(Adapter.Params):
        mode: str = "short"

    def predict(self, requests: Any) -> list[Any]:
        if self.params.mode == "short":
            return [SentimentResponse(label="positive") for _ in requests[1:]]
        return ["positive" for _ in requests]


@pytest.mark.parametrize(
    ("mode", "says"), [("short", "returned 9 responses for 10"), ("str", "str")]
)
def test_an_adapter_must_answer_each_request_with_a_response_or_failure(
    tmp_path: Path, mode: str, says: str
) -> None:
    spec = parse_model_spec("test:miscounting")
    cfg = config(tmp_path, limit=10, batch_size=10)
    with pytest.raises(AdapterError, match=says):
        run_pair(spec, find_task("sentiment-en"), cfg, adapter=Miscounting(mode=mode))
