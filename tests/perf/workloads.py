"""Workloads shared by the metric benchmarks: smoke-task examples repeated to a size,
hypotheses made by dropping a word, and real summaries (CNN/DailyMail FRANK, CSL) repeated
with small edits for the ROUGE benchmarks."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.catalog import find_task
from bench.stages import RunConfig, prepare

MEMORY_SAMPLER = """
import json, resource, sys, threading

def anon_kib():
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0

peak_anon = [anon_kib()]
stop = threading.Event()

def sample():
    while not stop.wait(0.002):
        peak_anon[0] = max(peak_anon[0], anon_kib())

sampler = threading.Thread(target=sample, daemon=True)
sampler.start()

def peaks_mib():
    stop.set()
    sampler.join()
    peak_anon[0] = max(peak_anon[0], anon_kib())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"peak_mib": rss / 1024, "anon_mib": peak_anon[0] / 1024}
"""
"""The start of a child process's script that measures its own memory: a thread samples
``RssAnon`` (``/proc/self/status``, Linux) every 2 ms; ``peaks_mib()`` stops it and returns the
peak resident set (``ru_maxrss``) and the peak anonymous memory, in MiB."""


def smoke_examples(task_name: str, n: int) -> tuple[Any, list[Any], list[Any]]:
    """The smoke task's spec and its prepared requests and references, repeated to ``n``."""
    spec = find_task(task_name)
    prepared = prepare(spec, RunConfig(results=Path("unused")))
    m = len(prepared.requests)
    return (
        spec,
        [prepared.requests[i % m] for i in range(n)],
        [prepared.references[i % m] for i in range(n)],
    )


def perturb(text: str, copy: int) -> str:
    """Copy 0 unchanged; each further copy drops a different word."""
    words = text.split()
    if copy and len(words) > 1:
        del words[(copy * 7) % len(words)]
    return " ".join(words)


def best_of(runs: int, *fns: Callable[[], Any]) -> list[float]:
    """The best of ``runs`` timings of each of ``fns``, timed in turn (f1, f2, f3, f1, ...):
    load from other processes (another test worker) then falls on every variant alike,
    instead of on whichever happened to run while it lasted."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for k, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - start)
    return [min(t) for t in times]


DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
FRANK = DATA / "cnn-dailymail" / "frank-test-subset" / "cnndm_test_frank_subset.jsonl"
CSL = DATA / "csl-title-summarization" / "ts"
FRANK_SYSTEMS = ("bart", "bart_cased", "bert_sum", "bus", "pgn", "s2s")


def _repeat(base: list[tuple[str, str]], n: int, drop: Callable[[str, int], str]):
    """``base`` repeated until there are ``n`` pairs, copy ``k`` of each prediction passed
    through ``drop(prediction, k)`` (copy 0 unchanged)."""
    preds, refs = [], []
    copy = 0
    while len(preds) < n:
        for pred, ref in base:
            preds.append(drop(pred, copy) if copy else pred)
            refs.append(ref)
            if len(preds) == n:
                break
        copy += 1
    return preds, refs


def _drop_word(text: str, copy: int) -> str:
    words = text.split()
    del words[(copy * 7) % len(words)]
    return " ".join(words)


def _drop_char(text: str, copy: int) -> str:
    if len(text) < 2:
        return text
    k = (copy * 7) % len(text)
    return text[:k] + text[k + 1 :]


def frank_pairs(n: int) -> tuple[list[str], list[str]]:
    """English (prediction, reference) pairs: the FRANK subset of CNN/DailyMail, every system's
    summary against the reference highlights, repeated with one word dropped per further copy
    (a different word each copy) until there are ``n``."""
    rows = [json.loads(line) for line in FRANK.read_text(encoding="utf-8").splitlines()]
    base = [(r[s], r["bart_reference"]) for r in rows for s in FRANK_SYSTEMS if r.get(s)]
    return _repeat(base, n, _drop_word)


def csl_pairs(n: int) -> tuple[list[str], list[str]]:
    """Chinese (prediction, reference) pairs: CSL dev and test (2,000 abstracts and titles),
    the abstract's first two sentences (bench's Chinese sentence splitter: a lead-2 summary)
    against the title, repeated with one character dropped per further copy until ``n``."""
    from bench.preprocess.sentences import sentence_splitter

    split = sentence_splitter("zh").split
    base = []
    for name in ("dev.tsv", "test.tsv"):
        with (CSL / name).open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
        base += [("".join(split(abstract)[:2]), title) for _, abstract, title in rows]
    return _repeat(base, n, _drop_char)
