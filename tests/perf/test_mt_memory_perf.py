"""Benchmark: peak memory of corpus BLEU + chrF, ``bench score`` against sacrebleu, same lines.

The WMT21 zh-en test set (``../shared/data/wmt21-newstest2021``: 1,948 Chinese sources, one
English reference) is repeated to N segments, each copy's hypotheses being the reference with a
word dropped at a different place (:func:`workloads.perturb`), so that no two copies are alike.
Two child processes (fresh interpreters, nothing else counted) score the same lines:

* ``bench score`` (the CLI, a plain-text hypothesis file) on a local translation task of the N
  segments with metrics ``[bleu, chrf]``, no bootstrap: loading, preprocessing, scoring, the
  sentence scores and the record with its ``samples.jsonl``;
* ``sacrebleu.corpus_bleu`` then ``sacrebleu.corpus_chrf`` on the hypothesis and reference lines
  read from the same files.

Each child reports its peak resident set (``ru_maxrss``) and its peak anonymous memory
(``RssAnon``, sampled every 2 ms). The scores must be identical. Goal (issue 18, goal 6): bench
≤ 25% of sacrebleu's peak. sacrebleu extracts the statistics of the whole corpus at once and first
tokenises every reference into its n-gram counts; bench extracts them chunk by chunk
(:data:`bench.streaming.CHUNK` segments), so only one chunk's references are tokenised at a time.

N is 100,000 at full scale, 10,000 reduced (``BENCH_PERF_MT_N`` overrides).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.perf.workloads import MEMORY_SAMPLER, perturb

WMT = "wmt21-newstest2021"

TASK = """\
name: mt-memory
version: 1
family: translation
languages: [zh, en]
description: WMT21 zh-en repeated, for the corpus memory benchmark.
source:
  kind: local
  location: {folder}
  format: jsonl
  files: {{test: test.jsonl}}
  splits: {{test: test}}
  fields: {{id: id, source: source, references: reference}}
metrics: [bleu, chrf]
primary_metric: bleu
"""

SAMPLER = (
    MEMORY_SAMPLER
    + """
def report(**values):
    print(json.dumps({**values, **peaks_mib()}))
"""
)

BENCH_CHILD = (
    SAMPLER
    + """
import os, sys
from typer.main import get_command
from bench.cli import app
folder = sys.argv[1]
try:
    get_command(app).main(
        ["score", "--task", os.path.join(folder, "mt-memory.yaml"),
         "--predictions", os.path.join(folder, "hyps.txt"), "--bootstrap", "0",
         "--results", os.path.join(folder, "results")],
        standalone_mode=False,
    )
finally:
    import glob
    (path,) = glob.glob(os.path.join(folder, "results", "*", "mt-memory", "record.json"))
    metrics = json.load(open(path, encoding="utf-8"))["metrics"]
    report(bleu=metrics["bleu"]["value"], chrf=metrics["chrf"]["value"])
"""
)

SACRE_CHILD = (
    SAMPLER
    + """
import sacrebleu
folder = sys.argv[1]
hyps = open(folder + "/hyps.txt", encoding="utf-8").read().split("\\n")[:-1]
refs = open(folder + "/refs.txt", encoding="utf-8").read().split("\\n")[:-1]
bleu = sacrebleu.corpus_bleu(hyps, [refs]).score
chrf = sacrebleu.corpus_chrf(hyps, [refs]).score
report(bleu=bleu, chrf=chrf)
"""
)


def _write(folder: Path, shared_data: Path, n: int) -> None:
    src = (shared_data / WMT / "sources" / "newstest2021.zh-en.src.zh").read_text("utf-8")
    ref = (shared_data / WMT / "references" / "newstest2021.zh-en.ref.A.en").read_text("utf-8")
    sources, references = src.splitlines(), ref.splitlines()
    assert len(sources) == len(references)
    folder.mkdir(parents=True, exist_ok=True)
    with (
        (folder / "test.jsonl").open("w", encoding="utf-8") as test,
        (folder / "hyps.txt").open("w", encoding="utf-8") as hyps,
        (folder / "refs.txt").open("w", encoding="utf-8") as refs,
    ):
        for i in range(n):
            copy, k = divmod(i, len(sources))
            line = {"id": str(i), "source": sources[k], "reference": references[k]}
            test.write(json.dumps(line, ensure_ascii=False) + "\n")
            hyps.write(perturb(references[k], copy) + "\n")
            refs.write(references[k] + "\n")
    (folder / "mt-memory.yaml").write_text(TASK.format(folder=folder), encoding="utf-8")


def _child(code: str, folder: Path) -> dict[str, Any]:
    env = dict(os.environ, HF_DATASETS_CACHE=str(folder / "hf-cache"), BENCH_HOME=str(folder))
    done = subprocess.run(
        [sys.executable, "-c", code, str(folder)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=folder,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_corpus_bleu_chrf_memory_against_sacrebleu(
    scale: Any, shared_data: Path, tmp_path: Path
) -> None:
    n = scale.pick(100_000, 10_000, "BENCH_PERF_MT_N")
    _write(tmp_path, shared_data, n)
    sacre = _child(SACRE_CHILD, tmp_path)
    bench = _child(BENCH_CHILD, tmp_path)
    print(f"\ncorpus BLEU + chrF of {n} segments (WMT21 zh-en repeated), scale {scale.name}")
    for name, m in (("sacrebleu corpus_bleu + corpus_chrf", sacre), ("bench score", bench)):
        print(f"  {name:<36} {m['peak_mib']:8.0f} MiB peak RSS {m['anon_mib']:8.0f} MiB anonymous")
    print(
        f"  bench / sacrebleu: peak RSS {bench['peak_mib'] / sacre['peak_mib']:.0%}, anonymous "
        f"{bench['anon_mib'] / max(sacre['anon_mib'], 1e-9):.0%} (goal <= 25%)"
    )
    assert bench["bleu"] == sacre["bleu"]
    assert bench["chrf"] == sacre["chrf"]
