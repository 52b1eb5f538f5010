"""Benchmark: the ``hf:`` adapter against a plain hand-written batched loop, per example.

Not a timed assertion on absolute numbers (timings depend on the machine); it prints the
figures side by side and fails only on a gross regression (the adapter more than 3x slower than
the loop; the target is at most 1.1x). Plain ``pytest`` runs it at a reduced scale (fewer
examples; every figure is still the best of three timings); the README's figures come from the
full scale:

    BENCH_PERF_SCALE=full python -m pytest tests/perf/test_hf_perf.py -s

Two workloads, each on a tiny-but-not-trivial model built from a config with seeded random
weights (the hub is unreachable) and the same inputs and batch size for both sides:

* classifier: a 2-layer, 256-wide BERT over the sentiment-en smoke test texts;
* seq2seq: a 2+2-layer, 128-wide NLLB-style model translating 64 translation-zh-en test
  sources greedily, 16 new tokens at most.

The loop is how the model would be called by hand: tokenize each batch with padding, forward
(or ``generate``), argmax (or decode). It runs twice: over the inputs in their order (what a
hand-written loop usually does) and over the inputs sorted by length (what the adapter does,
so that ratio isolates the adapter's own overhead). The adapter is called once on every
request, as the runner calls it. The models are loaded, and everything has run once, before
timing; each figure is the best of three runs.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from bench.adapters.hf import HFAdapter  # noqa: E402
from bench.catalog import find_task  # noqa: E402
from bench.data import load_split  # noqa: E402
from bench.families.base import get_family  # noqa: E402
from tests.perf.workloads import best_of  # noqa: E402

_TINY = Path(__file__).resolve().parents[1] / "unit" / "adapters" / "tiny_hf.py"
_spec = importlib.util.spec_from_file_location("tiny_hf", _TINY)
assert _spec is not None and _spec.loader is not None
tiny_hf = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("tiny_hf", tiny_hf)
_spec.loader.exec_module(tiny_hf)

BATCH = 32
NEW_TOKENS = 16


def _requests(task: str, splits: tuple[str, ...]) -> tuple[Any, list[Any]]:
    spec = find_task(task)
    family = get_family(spec.family)
    out = []
    for split in splits:
        ds = load_split(spec, family, split, data_override=None).dataset
        out.extend(family.build(row, spec)[0] for row in ds)
    return spec, out


def _report(name: str, n: int, params: int, plain: float, by_length: float, hf: float) -> float:
    print(
        f"\n{name}: {n} examples, batch {BATCH}, {params / 1e6:.2f}M parameters, "
        f"{torch.get_num_threads()} threads\n"
        f"  hand-written loop, input order {1e3 * plain / n:8.3f} ms/example\n"
        f"  hand-written loop, by length   {1e3 * by_length / n:8.3f} ms/example\n"
        f"  hf: adapter                    {1e3 * hf / n:8.3f} ms/example\n"
        f"  ratio hf / loop (input order)  {hf / plain:8.3f}\n"
        f"  ratio hf / loop (by length)    {hf / by_length:8.3f}"
    )
    return hf / by_length


def _by_length(tok: Any, texts: list[str]) -> list[str]:
    lengths = [len(ids) for ids in tok(texts)["input_ids"]]
    return [texts[i] for i in sorted(range(len(texts)), key=lambda i: -lengths[i])]


def test_classifier_adapter_vs_plain_loop(tmp_path: Path, scale: Any) -> None:
    path = tiny_hf.classifier_model(tmp_path / "cls", hidden=256, layers=2)
    spec, requests = _requests("sentiment-en", ("test",))
    requests = requests[: scale.pick(160, 16)]
    reps = 5  # best of five: one timing of a few milliseconds is noise
    texts = [r.text for r in requests]
    adapter = HFAdapter(str(path), task="classifier", device="cpu", batch_size=BATCH)
    adapter = adapter.for_task(spec, get_family("sentiment"))
    adapter.predict(requests[:BATCH])  # loads the model
    tok, model = adapter._tokenizer, adapter._model

    def loop(texts: list[str] = texts) -> list[int]:
        out: list[int] = []
        with torch.inference_mode():
            for i in range(0, len(texts), BATCH):
                enc = tok(texts[i : i + BATCH], padding=True, truncation=True, return_tensors="pt")
                out.extend(model(**enc).logits.argmax(-1).tolist())
        return out

    labels = {0: "negative", 1: "positive"}
    assert [labels[i] for i in loop()] == [r.label for r in adapter.predict(requests)]
    ordered = _by_length(tok, texts)
    plain_s, sorted_s, hf_s = best_of(
        reps, loop, lambda: loop(ordered), lambda: adapter.predict(requests)
    )
    params = sum(p.numel() for p in model.parameters())
    ratio = _report("classifier (sentiment-en)", len(texts), params, plain_s, sorted_s, hf_s)
    assert ratio < 3


def test_seq2seq_adapter_vs_plain_generate_loop(tmp_path: Path, scale: Any) -> None:
    path = tiny_hf.seq2seq_model(tmp_path / "s2s", hidden=128, layers=2)
    spec, requests = _requests("translation-zh-en", ("test",))
    requests = requests[: scale.pick(64, 8)]
    reps = 5  # best of five: one timing of a few milliseconds is noise
    adapter = HFAdapter(
        str(path), task="seq2seq", device="cpu", batch_size=BATCH, max_new_tokens=NEW_TOKENS
    )
    adapter = adapter.for_task(spec, get_family("translation"))
    adapter.predict(requests[:BATCH])  # loads the model, sets the source language
    tok, model = adapter._tokenizer, adapter._model
    forced = tok.convert_tokens_to_ids("eng_Latn")
    sources = [r.source for r in requests]

    def loop(sources: list[str] = sources) -> list[str]:
        out: list[str] = []
        with torch.inference_mode():
            for i in range(0, len(sources), BATCH):
                enc = tok(sources[i : i + BATCH], padding=True, return_tensors="pt")
                gen = model.generate(
                    **enc,
                    max_new_tokens=NEW_TOKENS,
                    do_sample=False,
                    forced_bos_token_id=forced,
                )
                out.extend(t.strip() for t in tok.batch_decode(gen, skip_special_tokens=True))
        return out

    loop()
    ordered = _by_length(tok, sources)
    plain_s, sorted_s, hf_s = best_of(
        reps, loop, lambda: loop(ordered), lambda: adapter.predict(requests)
    )
    params = sum(p.numel() for p in model.parameters())
    ratio = _report("seq2seq (translation-zh-en)", len(sources), params, plain_s, sorted_s, hf_s)
    assert ratio < 3
