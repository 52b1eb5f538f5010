"""Benchmark: ``hf:`` causal generation with stop strings against a bare ``model.generate`` loop.

Not a timed assertion (timings depend on the machine): it prints the figures side by side and
checks only that every side gives the same answers. Plain ``pytest`` runs it at a reduced
scale; the full scale is

    BENCH_PERF_SCALE=full python -m pytest tests/perf/test_hf_generation_perf.py -s

The workload: a 2-layer, 128-wide GPT-2-shaped model with seeded random weights (the hub is
unreachable) answering qa-en test prompts greedily, 16 new tokens at most, in batches of 16,
with the QA family's stop string (``\\n``) and a second one (``.``). Three sides, on the same
token ids and the same batches (the adapter's: longest first):

* bare loop: ``model.generate`` with no stopping criteria, the text cut at the first stop
  afterwards (the least a hand-written loop does);
* bare loop with ``stop_strings=`` (transformers' own stop-string criterion);
* the adapter, called once on every request as the runner calls it (transformers' stop-string
  matcher on the generated tokens, then parsing into the family's response).

The model is loaded and everything has run once before timing; each figure is the best of
three runs, the sides timed in turn.
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
if "tiny_hf" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("tiny_hf", _TINY)
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["tiny_hf"] = _module
    _spec.loader.exec_module(_module)
tiny_hf = sys.modules["tiny_hf"]

BATCH = 16
NEW_TOKENS = 16
STOPS = ("\n", ".")


def _cut(text: str) -> str:
    for stop in STOPS:
        text = text.split(stop)[0]
    return text


def test_causal_generation_with_stop_strings_vs_bare_generate(tmp_path: Path, scale: Any) -> None:
    path = tiny_hf.causal_model(tmp_path / "gpt2", arch="gpt2", hidden=128, layers=2)
    spec = find_task("qa-en")
    family = get_family("qa")
    ds = load_split(spec, family, "test", data_override=None).dataset
    requests = [family.build(row, spec)[0] for row in ds][: scale.pick(128, 8)]
    stop = "|".join(s.replace("\n", "\\n") for s in STOPS)
    adapter = HFAdapter(
        str(path), task="causal", device="cpu", batch_size=BATCH, max_new_tokens=NEW_TOKENS,
        stop=stop,
    ).for_task(spec, family)  # fmt: skip
    adapter.predict(requests[:2])  # loads the model
    tok, model = adapter._tokenizer, adapter._model
    ids = tok([adapter.prompt_text(r) for r in requests])["input_ids"]
    order = sorted(range(len(ids)), key=lambda i: (-len(ids[i]), i))
    batches = [order[i : i + BATCH] for i in range(0, len(order), BATCH)]

    def loop(stop_strings: bool) -> list[str]:
        out: list[str] = [""] * len(ids)
        extra = {"stop_strings": list(STOPS), "tokenizer": tok} if stop_strings else {}
        with torch.inference_mode():
            for batch in batches:
                enc = tok.pad({"input_ids": [ids[i] for i in batch]}, return_tensors="pt")
                gen = model.generate(
                    **enc, max_new_tokens=NEW_TOKENS, do_sample=False,
                    pad_token_id=tok.pad_token_id, **extra,
                )  # fmt: skip
                start = enc["input_ids"].shape[1]
                texts = tok.batch_decode(gen[:, start:], skip_special_tokens=True)
                for i, text in zip(batch, texts, strict=True):
                    out[i] = _cut(text)
        return out

    def hf() -> list[str]:
        return [str(r.transcript.completion) for r in adapter.predict(requests)]  # type: ignore[union-attr]

    bare = loop(False)
    assert hf() == bare == loop(True)
    plain_s, stops_s, hf_s = best_of(3, lambda: loop(False), lambda: loop(True), hf)
    n = len(requests)
    params = sum(p.numel() for p in model.parameters())
    print(
        f"\ncausal generation (qa-en, stops {list(STOPS)}): {n} examples, batch {BATCH}, "
        f"{NEW_TOKENS} new tokens, {params / 1e6:.2f}M parameters, "
        f"{torch.get_num_threads()} threads, scale {scale.name}\n"
        f"  bare generate loop              {1e3 * plain_s / n:8.3f} ms/example\n"
        f"  bare loop with stop_strings=    {1e3 * stops_s / n:8.3f} ms/example\n"
        f"  hf: adapter                     {1e3 * hf_s / n:8.3f} ms/example\n"
        f"  ratio hf / bare loop            {hf_s / plain_s:8.3f}\n"
        f"  ratio hf / loop with stops      {hf_s / stops_s:8.3f}"
    )
