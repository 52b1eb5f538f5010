"""Benchmark: bench against lm-evaluation-harness on one local MT task, whole CLI processes.

The task: the first 1,000 segments of WMT21 newstest2021 zh→en (``shared/data``, see
SOURCES.md), one reference each, scored with corpus BLEU and its interval. Each tool runs it
as a user does, a fresh process with a trivial model and nothing cached:

* **bench**: ``bench run -m baseline:copy -t TASK.yaml`` (the copy baseline echoes the
  source; BLEU with a 1,000-resample bootstrap interval);
* **lm-eval**: ``lm_eval --model dummy --tasks TASK --include_path DIR``, a custom task
  (``dataset_path: json`` + ``dataset_kwargs: data_files``, ``output_type: generate_until``,
  metric ``bleu``, whose stderr lm-eval bootstraps); the ``dummy`` model answers every
  request with a fixed string.

The goal (issue 18): bench's wall time at most 1/20 of lm-eval's (ratio ≤ 0.05). Skipped when
lm-eval is not installed (README: how to install it). Prints both times and the ratio and
asserts only that both runs finished and reported a BLEU, never a time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DATA

pytest.importorskip("lm_eval")  # before any work: the benchmark needs lm-eval installed

WMT21 = DATA / "wmt21-newstest2021"
N = 1000
GOAL = 1 / 20


def _examples(n: int) -> list[dict[str, str]]:
    sources = (WMT21 / "sources" / "newstest2021.zh-en.src.zh").read_text("utf-8").splitlines()
    refs = (WMT21 / "references" / "newstest2021.zh-en.ref.A.en").read_text("utf-8").splitlines()
    assert len(sources) == len(refs) >= n
    return [{"id": f"s{i}", "source": sources[i], "reference": refs[i]} for i in range(n)]


def _bench_task(folder: Path, data: Path) -> Path:
    task = folder / "wmt21-zh-en-1k.yaml"
    task.write_text(
        f"""name: wmt21-zh-en-1k
version: 1
family: translation
languages: [zh, en]
description: The first {N} segments of WMT21 newstest2021 zh-en (reference A).
source:
  kind: local
  location: {data.parent}
  format: jsonl
  files: {{test: {data.name}}}
  splits: {{test: test}}
  fields: {{id: id, source: source, references: reference}}
metrics: [bleu]
primary_metric: bleu
""",
        encoding="utf-8",
    )
    return task


def _lm_eval_task(folder: Path, data: Path) -> str:
    name = "bench_wmt21_zh_en_1k"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(
        f"""task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{{{{source}}}}"
doc_to_target: "{{{{reference}}}}"
generation_kwargs:
  until: ["\\n"]
metric_list:
  - metric: bleu
    aggregation: bleu
    higher_is_better: true
""",
        encoding="utf-8",
    )
    return name


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    seconds = time.perf_counter() - start
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])
    return seconds, done.stdout


def _lm_eval_results(out: Path) -> dict[str, Any]:
    files = sorted(out.rglob("results*.json"))
    assert files, f"lm-eval wrote no results under {out}"
    results: dict[str, Any] = json.loads(files[-1].read_text("utf-8"))["results"]
    return results


def test_bench_vs_lm_eval_on_a_local_mt_task(tmp_path: Path) -> None:
    data = tmp_path / "data" / "test.jsonl"
    data.parent.mkdir()
    data.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _examples(N)), "utf-8"
    )
    env = {
        **os.environ,
        "BENCH_HOME": str(tmp_path / "home"),
        "HF_HOME": str(tmp_path / "hf"),  # lm-eval's data set cache starts empty too
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
    }

    task = _bench_task(tmp_path, data)
    results = tmp_path / "results"
    bench_s, _ = _timed(
        [sys.executable, "-m", "bench.cli", "run", "-m", "baseline:copy", "-t", str(task),
         "--results", str(results), "--no-cache"],
        env,
    )  # fmt: skip
    (record_path,) = results.rglob("record.json")
    bleu = json.loads(record_path.read_text("utf-8"))["metrics"]["bleu"]
    assert bleu["n"] == N and bleu["ci_low"] is not None

    name = _lm_eval_task(tmp_path / "lm_eval_tasks", data)
    lm_eval = shutil.which("lm_eval") or shutil.which("lm-eval")
    command = [lm_eval] if lm_eval else [sys.executable, "-m", "lm_eval"]
    out = tmp_path / "lm_eval_out"
    lm_eval_s, _ = _timed(
        [*command, "--model", "dummy", "--tasks", name, "--include_path",
         str(tmp_path / "lm_eval_tasks"), "--output_path", str(out)],
        env,
    )  # fmt: skip
    scores = _lm_eval_results(out)[name]
    assert any(key.startswith("bleu") for key in scores), scores

    ratio = bench_s / lm_eval_s
    print(
        f"\nWMT21 zh-en, {N} examples, BLEU with its interval, whole CLI processes, nothing "
        "cached (trivial models: bench baseline:copy, lm-eval dummy)"
    )
    print(f"  bench   {bench_s:7.2f} s   BLEU {bleu['value']:.4f} [{bleu['ci_low']:.4f}, "
          f"{bleu['ci_high']:.4f}]")  # fmt: skip
    print(f"  lm-eval {lm_eval_s:7.2f} s   {scores}")
    print(f"  bench / lm-eval = {ratio:.3f}   goal ≤ 1/20 ({GOAL:.2f})")
