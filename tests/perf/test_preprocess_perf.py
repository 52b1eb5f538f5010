"""Benchmark: jieba segmentation of Chinese sentences through bench's preprocessing, cold against
datasets-cached.

N unique Chinese sentences (100,000 at full scale, 5,000 reduced; ``BENCH_PERF_SENTENCES``
overrides) are built from the smoke suite's Chinese reviews, written as a local JSONL task whose
only step is ``zh_segment``, and loaded with :func:`bench.data.load_split`. The step runs twice
through :func:`bench.preprocess.apply_steps`: cold (jieba segments every sentence; its dictionary
is loaded beforehand, so that is not counted) and again on a freshly loaded split, where
``datasets`` finds the step's output by fingerprint in its cache. Asserts the two outputs are
equal and that jieba segmented every sentence in the first run and none in the second.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from bench.data import BUILTIN_ROOT, load_split
from bench.families.base import get_family
from bench.preprocess import apply_steps, build_steps
from bench.spec import parse_task

TASK = """\
name: zh-segment-perf
version: 1
family: sentiment
languages: [zh]
description: Chinese reviews for the segmentation benchmark.
labels: [negative, positive]
source:
  kind: local
  location: {folder}
  format: jsonl
  files: {{test: test.jsonl}}
  splits: {{test: test}}
preprocess:
  - zh_segment
metrics: [accuracy]
primary_metric: accuracy
"""


def test_jieba_segmentation_cold_vs_datasets_cached(
    scale: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datasets
    import jieba

    n = scale.pick(100_000, 1_000, "BENCH_PERF_SENTENCES")
    smoke = BUILTIN_ROOT / "smoke" / "sentiment-zh"
    rows = [
        json.loads(line)
        for name in ("train.jsonl", "test.jsonl")
        for line in (smoke / name).read_text(encoding="utf-8").splitlines()
    ]
    with (tmp_path / "test.jsonl").open("w", encoding="utf-8") as fh:
        for i in range(n):
            a, b = rows[i % len(rows)], rows[(i * 7 + 3) % len(rows)]
            text = f"{a['text']}第{i}位顾客说：{b['text']}"
            fh.write(json.dumps({"id": str(i), "text": text, "label": a["label"]}) + "\n")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    spec = parse_task(TASK.format(folder=tmp_path))
    family = get_family("sentiment")
    steps = build_steps(spec)
    steps[0].apply({"text": ["预热一下分词器。"]}, ["text"])  # load jieba's dictionary first

    calls = 0
    real_cut = jieba.Tokenizer.cut

    def counting_cut(self: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return real_cut(self, *args, **kwargs)

    monkeypatch.setattr(jieba.Tokenizer, "cut", counting_cut)

    def once() -> tuple[float, float, Any]:
        start = time.perf_counter()
        split = load_split(spec, family, "test")
        loaded = time.perf_counter()
        ds = apply_steps(split.dataset, steps, family)
        return loaded - start, time.perf_counter() - loaded, ds

    load_cold, cold_s, cold = once()
    cold_calls, calls = calls, 0
    load_warm, warm_s, warm = once()

    print(
        f"\njieba segmentation (zh_segment) of {n} Chinese sentences "
        f"(mean {sum(len(t) for t in cold['text']) / n:.0f} characters), scale {scale.name}"
    )
    print(f"  cold: {cold_s:.2f} s   datasets-cached: {warm_s:.3f} s   x{cold_s / warm_s:.0f}")
    print(f"  loading the JSONL split: {load_cold:.2f} s first, {load_warm:.2f} s cached")
    assert cold_calls >= n and calls == 0  # jieba ran on every sentence once, then never
    assert warm.column_names == cold.column_names
    assert warm[:] == cold[:]
