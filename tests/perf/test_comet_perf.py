"""Benchmark: COMET segments per second on this machine's CPU (bench's own estimator).

Two models score the same translation segments (the golden English→Chinese and
Chinese→English triples, each copy made distinct, so neither deduplication nor the segment
cache hides work): the tiny golden checkpoint (``tests/golden/comet/comet-tiny``) and a
randomly initialised checkpoint of XLM-R-base size (12 layers, hidden 768, estimator
3072/1024 as in wmt22-comet-da), built here from a config, so nothing is downloaded. Random
weights cost the same as trained ones; the real wmt22-comet-da (XLM-R large: 24 layers,
hidden 1024) costs about three times the base figure. N segments: 256 at full scale, 16
reduced (``BENCH_PERF_COMET`` overrides). It prints segments/s and asserts only that every
segment got a finite score.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

import torch
import yaml

from bench.families.generation import TextResponse
from bench.families.translation import TranslationRequest
from bench.metrics.base import BootstrapConfig, ScoringContext
from bench.metrics.comet import COMET, _build_module
from bench.spec import parse_task
from tests.perf.conftest import Scale

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "comet"

_TASK = """\
name: comet-perf
version: 1
family: translation
languages: [en, zh]
description: Carries a language pair for the COMET benchmark.
source:
  kind: sacrebleu
  testset: wmt21
  langpair: en-zh
  splits: {test: test}
metrics: [bleu]
primary_metric: bleu
"""


def _ctx(n: int) -> ScoringContext:
    data = json.loads((GOLDEN / "golden.json").read_text(encoding="utf-8"))
    rows = [r for pair in ("en-zh", "zh-en") for r in data["triples"][pair]]
    rows = [rows[i % len(rows)] for i in range(n)]
    requests = [
        TranslationRequest(
            id=str(i), language="zh", source=r["src"], source_language="en", target_language="zh"
        )
        for i, r in enumerate(rows)
    ]
    return ScoringContext(
        spec=parse_task(_TASK),
        requests=requests,
        references=[(r["ref"],) for r in rows],
        responses=[TextResponse(text=f"{r['mt']} {i}") for i, r in enumerate(rows)],
        bootstrap=BootstrapConfig(resamples=0),
    )


def _base_checkpoint(root: Path) -> tuple[Path, Path]:
    """A wmt22-comet-da-shaped checkpoint on an XLM-R-base-sized encoder (random weights)."""
    encoder = root / "xlmr-base-shaped"
    shutil.copytree(GOLDEN / "tiny-xlmr", encoder)
    config = json.loads((encoder / "config.json").read_text())
    config.update(
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=514,
    )
    (encoder / "config.json").write_text(json.dumps(config))
    hparams = {
        "class_identifier": "regression_metric",
        "encoder_model": "XLM-RoBERTa",
        "pretrained_model": str(encoder),
        "layer": "mix",
        "layer_transformation": "sparsemax",
        "layer_norm": False,
        "pool": "avg",
        "hidden_sizes": [3072, 1024],
        "activations": "Tanh",
        "final_activation": None,
        "dropout": 0.1,
    }
    from transformers import XLMRobertaConfig

    torch.manual_seed(0)
    module = _build_module(hparams, XLMRobertaConfig(**config), "regression")
    folder = root / "comet-base-shaped"
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "hparams.yaml").write_text(yaml.safe_dump(hparams))
    torch.save(
        {"state_dict": module.state_dict(), "hyper_parameters": hparams},
        folder / "checkpoints" / "model.ckpt",
    )
    return folder, encoder


def _rate(metric: COMET, n: int) -> float:
    metric.per_example(_ctx(2))  # load the model and warm up
    ctx = _ctx(n)
    start = time.perf_counter()
    scores = metric.per_example(ctx)["comet"]
    elapsed = time.perf_counter() - start
    assert len(scores) == n and all(s is not None and math.isfinite(s) for s in scores)
    return n / elapsed


def test_comet_segments_per_second(scale: Scale, tmp_path: Path) -> None:
    n = scale.pick(256, 8, "BENCH_PERF_COMET")
    threads = torch.get_num_threads()
    tiny = _rate(
        COMET(model=str(GOLDEN / "comet-tiny"), encoder=str(GOLDEN / "tiny-xlmr"), device="cpu"),
        n,
    )
    folder, encoder = _base_checkpoint(tmp_path)
    base = _rate(COMET(model=str(folder), encoder=str(encoder), device="cpu"), n)
    print(
        f"\nCOMET on CPU ({threads} torch threads), {n} segments, scale {scale.name}:\n"
        f"  tiny golden checkpoint (3 layers, hidden 32): {tiny:8.1f} segments/s\n"
        f"  XLM-R-base-sized checkpoint (12 layers, 768): {base:8.1f} segments/s"
    )
