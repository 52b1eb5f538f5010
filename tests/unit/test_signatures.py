"""Signatures cover what changes a number; runs are reproducible; the determinism check works.

* Changing the jieba dictionary (another main dictionary, or a user dictionary on top) or the
  tokenizer changes both the ROUGE number's inputs and its signature.
* Two CLI runs with the same inputs write byte-identical ``metrics`` sections.
* ``bench run --check-determinism`` finds nothing on a deterministic baseline and reports the
  changed answers of an adapter whose answers depend on the batch size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import pytest

from bench.adapters.base import Adapter, parse_model_spec
from bench.catalog import find_task
from bench.families.generation import TextResponse
from bench.families.sentiment import SentimentResponse
from bench.families.summarization import SummarizationRequest
from bench.metrics.base import BootstrapConfig, ScoringContext, score_task
from bench.metrics.mt import BLEU
from bench.metrics.rouge import JiebaTokenizer, Rouge1
from bench.registry import registry
from bench.runner import DeterminismCheck, RunConfig, run_pair
from bench.spec import parse_task

_SCRIPT = Path(sys.executable).with_name("bench")
BENCH = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "bench.cli"]

_TASK = """\
name: sig-test-zh
version: 1
family: summarization
languages: [zh]
description: A Chinese ROUGE task for signature tests.
source:
  kind: builtin
  location: smoke/summarization-zh
  format: jsonl
  files: {test: test.jsonl}
  splits: {test: test}
  fields: {id: id, document: document, references: summary}
metrics: [rouge1]
primary_metric: rouge1
"""

PRED = "研究人员发现钠离子电池低温性能好"
REF = "研究人员发现，钠离子电池在低温下性能良好。"


def _ctx() -> ScoringContext:
    spec = parse_task(_TASK)
    return ScoringContext(
        spec=spec,
        requests=[SummarizationRequest(id="0", language="zh", document="d")],
        references=[(REF,)],
        responses=[TextResponse(text=PRED)],
        bootstrap=BootstrapConfig(resamples=100),
    )


def _score(metric: Rouge1) -> tuple[float, str]:
    [value] = score_task(_ctx(), [metric])[0].values()
    return float(value.value), value.signature


@pytest.mark.slow  # ~7 s: builds three jieba prefix dictionaries
def test_jieba_dictionary_changes_the_signature(tmp_path: Path) -> None:
    import jieba

    base_value, base_sig = _score(Rouge1())
    assert "|tok:jieba-" in base_sig and "-dict:" in base_sig

    # Another main dictionary: jieba's own without the words of the prediction and reference.
    stock = Path(jieba.__file__).parent / jieba.DEFAULT_DICT_NAME
    drop = {"研究人员", "钠离子", "离子", "电池", "性能", "低温", "发现", "良好"}
    small = tmp_path / "small.txt"
    with stock.open(encoding="utf-8") as src, small.open("w", encoding="utf-8") as dst:
        dst.writelines(line for line in src if line.split(" ", 1)[0] not in drop)
    tokens_small = JiebaTokenizer(dictionary=str(small)).tokenize(PRED)
    assert tokens_small != JiebaTokenizer().tokenize(PRED)
    value, sig = _score(Rouge1(jieba_dict=str(small)))
    assert sig != base_sig and value != base_value

    # A user dictionary on top of the stock one.
    user = tmp_path / "user.txt"
    user.write_text("钠离子电池 100000 n\n低温性能 100000 n\n", encoding="utf-8")
    assert "钠离子电池" in JiebaTokenizer(user_dict=str(user)).tokenize(PRED)
    _, user_sig = _score(Rouge1(jieba_user_dict=str(user)))
    assert user_sig not in (base_sig, sig) and "-user:" in user_sig

    # Same dictionary, same signature; jieba's global dictionary does not leak in.
    jieba.set_dictionary(str(small))
    try:
        assert _score(Rouge1()) == (base_value, base_sig)
    finally:
        jieba.set_dictionary(str(stock))

    with pytest.raises(Exception, match="jieba_dict"):
        _score(Rouge1(jieba_dict=str(tmp_path / "missing.txt")))


def test_tokenizer_changes_the_signature() -> None:
    _, jieba_sig = _score(Rouge1())
    _, char_sig = _score(Rouge1(tokenizer="char"))
    assert jieba_sig != char_sig and "|tok:char|" in char_sig

    hyps, refs = ["the cat sat on the mat"], [["the cat sat on a mat"]]
    sig_13a = BLEU().statistics(hyps, refs, "en").signature()
    sig_char = BLEU(tokenize="char").statistics(hyps, refs, "en").signature()
    sig_zh = BLEU().statistics(hyps, refs, "zh").signature()
    assert len({sig_13a, sig_char, sig_zh}) == 3
    assert "tok:13a" in sig_13a and "tok:char" in sig_char and "tok:zh" in sig_zh


# --------------------------------------------------------------------------- reproducibility


def _bench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    from tests.conftest import NLTK_DATA

    env = dict(os.environ, NLTK_DATA=str(NLTK_DATA), BENCH_HOME=str(cwd / "home"))
    return subprocess.run(
        [*BENCH, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300, check=False
    )


@pytest.mark.slow  # ~16 s: four CLI runs
def test_two_runs_give_byte_identical_metric_sections(tmp_path: Path) -> None:
    args = ["run", "-m", "baseline:lead-k", "-m", "baseline:tfidf-logreg", "-t"]
    tasks = "summarization-zh,sentiment-en"
    for out, extra in (("one", []), ("two", ["--check-determinism", "--determinism-sample", "5"])):
        proc = _bench(*args, tasks, "--results", out, "--no-cache", *extra, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]
    assert "determinism" in proc.stdout  # the check's table
    pairs = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("record.json"))
    assert len(pairs) == 2
    for rel in pairs:
        one = json.loads((tmp_path / "one" / rel).read_text(encoding="utf-8"))
        two = json.loads((tmp_path / "two" / rel).read_text(encoding="utf-8"))
        assert one["run_id"] != two["run_id"]
        blob = json.dumps(one["metrics"], sort_keys=True).encode()
        assert blob == json.dumps(two["metrics"], sort_keys=True).encode()
        for section in ("task", "seeds", "bootstrap"):
            assert one[section] == two[section]
        assert one["determinism"] is None
        assert two["determinism"]["ok"] is True and two["determinism"]["sample"] == 5
        assert one["seeds"]["bootstrap"] == 12345
        assert one["task"]["metric_specs"] and one["task"]["preprocess_hash"]
        for value in one["metrics"].values():
            assert "boot:1000|conf:0.95|seed:12345" in value["signature"] or (
                value["ci_low"] is None
            )
            if isinstance(value["value"], float):
                assert value["ci_low"] <= value["value"] <= value["ci_high"]


# --------------------------------------------------------------------------- determinism


class BatchDependent(Adapter):
    """A sentiment model whose answer depends on its batch (as padding effects can make it)."""

    name = "test:batch-dependent"
    families: ClassVar[tuple[str, ...]] = ("sentiment",)

    def predict(self, requests: Sequence[Any]) -> list[SentimentResponse]:
        label = "positive" if len(requests) > 1 else "negative"
        return [SentimentResponse(label=label) for _ in requests]


def test_check_determinism(tmp_path: Path) -> None:
    task = find_task("sentiment-en")
    plain = RunConfig(
        results=tmp_path / "plain", batch_size=8, bootstrap=BootstrapConfig(resamples=0)
    )
    config = replace(plain, results=tmp_path / "checked", determinism=DeterminismCheck(sample=10))

    stable = parse_model_spec("baseline:tfidf-logreg")
    outcome = run_pair(stable, task, config)
    assert outcome.record_path is not None and outcome.determinism is not None
    report = outcome.determinism
    assert report.ok and len(report.checked) == 10 and report.batch_size == 1
    record = json.loads(outcome.record_path.read_text(encoding="utf-8"))
    assert record["determinism"] == report.to_json()  # written once, with the record
    assert record["determinism"]["ok"] is True
    assert record["determinism"]["cache"] == "bypassed"

    registry.register("adapter", "test:batch-dependent", BatchDependent)
    try:
        _check_batch_dependent(task, plain, config)
    finally:
        registry._targets["adapter"].pop("test:batch-dependent", None)
        registry._loaded.pop(("adapter", "test:batch-dependent"), None)


def _check_batch_dependent(task: Any, plain: RunConfig, config: RunConfig) -> None:
    flaky = parse_model_spec("test:batch-dependent")
    unchecked = run_pair(flaky, task, plain)
    outcome = run_pair(flaky, task, replace(config, determinism=DeterminismCheck(sample=12)))
    assert outcome.record_path is not None and unchecked.record is not None
    report = outcome.determinism
    assert report is not None and not report.ok
    assert len(report.changed_predictions) == 12  # batches of 1 answer "negative"
    assert {c["after"] for c in report.changed_predictions} == {"negative"}
    assert {c["score"] for c in report.changed_scores} == {"correct"}
    record = json.loads(outcome.record_path.read_text(encoding="utf-8"))
    assert record["determinism"]["changed_predictions"] == 12
    # The numbers are the run's own, not the re-run's.
    assert record["metrics"] == json.loads(unchecked.record.model_dump_json())["metrics"]
