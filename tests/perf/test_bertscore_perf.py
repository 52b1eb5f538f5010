"""Benchmark: BERTScore segments per second on this machine's CPU, bench against bert_score.

Two randomly initialised BERT-shaped encoders are built in the test (nothing is downloaded):
the tiny test model (:func:`tests.fixtures.tiny_models.tiny_bert`, hidden size 32, 2 layers)
and one of BERT-base's size (hidden 768, 12 layers, 12 heads, intermediate 3072; scored at
layer 9, bert-score's layer for bert-base models, so 9 layers run). Both score the smoke
translation task's English references against perturbed copies of them: 64 segments at the
reduced scale, 512 at full (``BENCH_PERF_SEGMENTS`` overrides).

Each is timed end to end (model loading included, as a ``bench score`` call pays it) with
bench's metric (:class:`bench.metrics.bertscore.BERTScore` on a scoring context, no cache)
and with ``bert_score.score`` on the same inputs; the figures printed are segments/s of each
and their ratio. Only the agreement of the numbers is asserted, never a time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.families.generation import TextResponse
from bench.metrics.base import BootstrapConfig, ScoringContext
from bench.metrics.bertscore import BERTScore
from tests.fixtures.tiny_models import tiny_bert, tiny_bert_vocab
from tests.perf.workloads import best_of, perturb, smoke_examples

BASE_SHAPE = {
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "max_position_embeddings": 512,
}


def _base_sized(folder: Path) -> Path:
    """A BERT-base-sized encoder with random (seeded) weights and the tiny model's tokenizer."""
    import torch
    from transformers import BertConfig, BertModel

    tiny_bert(folder)  # the tokenizer files (the tiny weights are overwritten below)
    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=len(tiny_bert_vocab()), **BASE_SHAPE)).eval()
    model.save_pretrained(folder)
    return folder


def _workload(n: int) -> tuple[Any, list[Any], list[Any], list[str]]:
    spec, requests, references = smoke_examples("translation-zh-en", n)
    m = len({r.id for r in requests})
    hyps = [perturb(refs[0], 1 + i // m) for i, refs in enumerate(references)]
    return spec, requests, references, hyps


def _compare(name: str, folder: Path, layers: int, n: int, runs: int) -> None:
    import bert_score

    spec, requests, references, hyps = _workload(n)
    responses = [TextResponse(text=h) for h in hyps]
    refs = [r[0] for r in references]
    metric = BERTScore(model=str(folder), num_layers=layers, batch_size=64)
    out: dict[str, Any] = {}

    def ours() -> None:
        ctx = ScoringContext(spec, requests, references, responses, BootstrapConfig(resamples=0))
        out["bench"] = np.array(metric.per_example(ctx)["bertscore"], dtype=float)

    def theirs() -> None:
        _, _, f = bert_score.score(
            hyps, refs, model_type=str(folder), num_layers=layers, batch_size=64, nthreads=0
        )
        out["bert_score"] = f.numpy().astype(float)

    ours_s, theirs_s = best_of(runs, ours, theirs)
    np.testing.assert_allclose(out["bench"], out["bert_score"], rtol=0, atol=1e-5)
    print(
        f"\nBERTScore, {name}, {n} segments (model loading included): "
        f"bench {n / ours_s:.1f} segments/s ({ours_s:.2f} s), "
        f"bert_score.score {n / theirs_s:.1f} segments/s ({theirs_s:.2f} s), "
        f"bench / bert_score time x{ours_s / theirs_s:.2f}"
    )


def test_bertscore_tiny_model(scale: Any, tmp_path: Path) -> None:
    n = scale.pick(2048, 64, "BENCH_PERF_SEGMENTS")
    _compare("tiny BERT (hidden 32, 2 layers)", tiny_bert(tmp_path / "tiny-bert"), 2, n, 3)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_bertscore_base_sized_model(scale: Any, tmp_path: Path) -> None:
    n = scale.pick(512, 16, "BENCH_PERF_SEGMENTS")
    folder = _base_sized(tmp_path / "base-sized-bert")
    _compare("BERT-base-sized random encoder (768 hidden, layer 9 of 12)", folder, 9, n, 1)
