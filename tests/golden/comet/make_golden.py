"""Make the COMET golden data: tiny COMET checkpoints scored by ``unbabel-comet`` itself.

bench scores COMET checkpoints with its own estimator code (``bench/metrics/comet.py``),
because ``unbabel-comet`` pins ``numpy<2``, ``transformers<5``, ``huggingface-hub<1.0`` and
``torchmetrics<0.11`` and installing it would downgrade bench's stack. This script is the
cross-check: it runs **only in a throwaway environment** with ``unbabel-comet`` installed
(never bench's), builds

* ``tiny-xlmr/``: an XLM-R-shaped encoder folder (config + a Unigram tokenizer trained here
  on WMT21 English and Chinese text; no weights: COMET takes the encoder's weights from its
  own checkpoint, as with the real ``xlm-roberta-large``);
* ``comet-tiny/``: a ``RegressionMetric`` (the class of ``Unbabel/wmt22-comet-da``: layer
  mix with sparsemax, no layer norm, average pooling, Tanh feed-forward);
* ``comet-tiny-ln/``: a ``RegressionMetric`` with softmax, layer norm and a sigmoid final
  activation (the other settings COMET checkpoints use);
* ``kiwi-tiny/``: a ``UnifiedMetric`` with ``input_segments: [mt, src]`` (the class of
  ``Unbabel/wmt22-cometkiwi-da``: one ``<s> mt </s></s> src </s>`` sequence, layer mix with
  sparsemax, CLS pooling);

each a real COMET checkpoint folder (``hparams.yaml`` + ``checkpoints/model.ckpt``, saved by
PyTorch Lightning), from seeded random weights; then scores the English and Chinese triples
below with ``comet.load_from_checkpoint(...).predict(...)`` on the CPU and writes
``golden.json`` (per-segment scores, system scores, the versions used).

Run it (from the repository root; needs PyPI, not the Hugging Face hub)::

    python3 -m venv /tmp/cometenv
    /tmp/cometenv/bin/pip install torch==2.13.0 unbabel-comet "setuptools<81"
    /tmp/cometenv/bin/python tests/golden/comet/make_golden.py

(unbabel-comet 2.2.7 when this was made; torchmetrics 0.10 still imports ``pkg_resources``,
hence the old setuptools.) It rewrites everything in ``tests/golden/comet/`` except itself;
the random weights are seeded, so a rerun with the same versions reproduces the numbers.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[2].parent / "shared" / "data" / "wmt21-newstest2021"
ENCODER = "tiny-xlmr"  # the checkpoints' pretrained_model: a folder beside them


def _lines(name: str) -> list[str]:
    kind = "sources" if ".src." in name else "references"
    return (DATA / kind / name).read_text(encoding="utf-8").splitlines()


def drop(text: str, every: int) -> str:
    """``text`` with every ``every``-th word (or character, for Chinese) dropped."""
    units = text.split() if " " in text else list(text)
    kept = [u for i, u in enumerate(units) if i % every != every - 1]
    return (" " if " " in text else "").join(kept)


def triples() -> dict[str, list[dict[str, str]]]:
    """The scored segments: English→Chinese and Chinese→English, from WMT21 news.

    Hypotheses are a second human translation, a reference with parts dropped, an empty
    output (a failed example) and a long one (truncated by the encoder's 38 positions).
    """
    en, zh_a, zh_b = (
        _lines("newstest2021.en-zh.src.en"),
        _lines("newstest2021.en-zh.ref.A.zh"),
        _lines("newstest2021.en-zh.ref.B.zh"),
    )
    zh, en_a = _lines("newstest2021.zh-en.src.zh"), _lines("newstest2021.zh-en.ref.A.en")
    en_zh = [{"src": en[i], "mt": zh_b[i], "ref": zh_a[i]} for i in (3, 7, 12)]
    en_zh += [{"src": en[i], "mt": drop(zh_a[i], 3), "ref": zh_a[i]} for i in (20, 31)]
    en_zh += [{"src": en[40], "mt": "", "ref": zh_a[40]}]
    en_zh += [{"src": " ".join(en[50:53]), "mt": "".join(zh_b[50:53]), "ref": zh_a[50]}]
    zh_en = [{"src": zh[i], "mt": drop(en_a[i], 4), "ref": en_a[i]} for i in (5, 9, 14, 22)]
    zh_en += [{"src": zh[30], "mt": en_a[30], "ref": en_a[30]}]
    zh_en += [{"src": zh[33], "mt": "The the the.", "ref": en_a[33]}]
    zh_en += [{"src": "".join(zh[60:64]), "mt": " ".join(en_a[60:64]), "ref": en_a[60]}]
    return {"en-zh": en_zh, "zh-en": zh_en}


def build_encoder(folder: Path) -> None:
    """The tiny XLM-R-shaped encoder folder: config.json and a trained Unigram tokenizer."""
    from tokenizers import processors
    from tokenizers.implementations import SentencePieceUnigramTokenizer
    from transformers import XLMRobertaConfig, XLMRobertaTokenizerFast

    text = (
        _lines("newstest2021.en-zh.src.en")[:600]
        + _lines("newstest2021.zh-en.ref.A.en")[:600]
        + _lines("newstest2021.en-zh.ref.A.zh")[:200]
        + _lines("newstest2021.zh-en.src.zh")[:200]
    )
    sp = SentencePieceUnigramTokenizer()
    sp.train_from_iterator(
        text,
        vocab_size=2200,
        show_progress=False,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
        unk_token="<unk>",
    )
    sp.add_special_tokens(["<mask>"])
    sp.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)],
    )
    folder.mkdir(parents=True)
    raw = folder / "raw-tokenizer.json"
    sp.save(str(raw))
    tok = XLMRobertaTokenizerFast(tokenizer_file=str(raw), model_max_length=36)
    raw.unlink()
    tok.save_pretrained(str(folder))
    assert (tok.cls_token_id, tok.pad_token_id, tok.sep_token_id) == (0, 1, 2)
    config = XLMRobertaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=40,
        type_vocab_size=1,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )
    config.save_pretrained(str(folder))


def save_checkpoint(model, folder: Path) -> None:  # type: ignore[no-untyped-def]
    """``model`` as a COMET checkpoint folder: hparams.yaml + checkpoints/model.ckpt."""
    import pytorch_lightning as ptl
    import yaml

    (folder / "checkpoints").mkdir(parents=True)
    trainer = ptl.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False)
    trainer.strategy.connect(model)
    trainer.save_checkpoint(str(folder / "checkpoints" / "model.ckpt"), weights_only=True)
    hparams = {k: v for k, v in dict(model.hparams).items()}
    (folder / "hparams.yaml").write_text(yaml.safe_dump(hparams, sort_keys=True))


def randomise(model, seed: int) -> None:  # type: ignore[no-untyped-def]
    """Spread the weights so segment scores differ clearly (a random init scores everything
    alike): larger embeddings, sharper attention, random layer-mix weights and gamma."""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        emb = model.encoder.model.embeddings.word_embeddings.weight
        emb.copy_(torch.randn(emb.shape, generator=g) * 0.5)
        for p in model.layerwise_attention.scalar_parameters:
            p.copy_(torch.randn(1, generator=g))
        model.layerwise_attention.gamma.fill_(1.5)
        for layer in model.encoder.model.encoder.layer:  # sharper attention: CLS varies
            layer.attention.self.query.weight.mul_(8.0)
            layer.attention.self.key.weight.mul_(8.0)
        for m in model.estimator.ff:
            if isinstance(m, torch.nn.Linear):
                m.weight.mul_(3.0)


def main() -> None:
    import torch
    from comet import load_from_checkpoint
    from comet.models import RegressionMetric, UnifiedMetric

    os.chdir(HERE)  # the checkpoints name their encoder by the relative folder "tiny-xlmr"
    for name in (ENCODER, "comet-tiny", "comet-tiny-ln", "kiwi-tiny"):
        shutil.rmtree(HERE / name, ignore_errors=True)
    build_encoder(HERE / ENCODER)
    common = {
        "pretrained_model": ENCODER,
        "load_pretrained_weights": False,
        "local_files_only": True,
        "hidden_sizes": [48, 16],
        "activations": "Tanh",
        "dropout": 0.1,
    }
    torch.manual_seed(16)
    models = {
        "comet-tiny": RegressionMetric(
            layer="mix",
            layer_transformation="sparsemax",
            layer_norm=False,
            pool="avg",
            final_activation=None,
            **common,
        ),
        "comet-tiny-ln": RegressionMetric(
            layer="mix",
            layer_transformation="softmax",
            layer_norm=True,
            pool="avg",
            final_activation="Sigmoid",
            **common,
        ),
        "kiwi-tiny": UnifiedMetric(
            sent_layer="mix",
            layer_transformation="sparsemax",
            layer_norm=False,
            input_segments=["mt", "src"],
            final_activation=None,
            **common,
        ),
    }
    for seed, (name, model) in enumerate(models.items(), start=1):
        randomise(model, seed)
        save_checkpoint(model, HERE / name)

    data = triples()
    golden: dict[str, object] = {
        "made_by": "tests/golden/comet/make_golden.py",
        "versions": {
            p: metadata.version(p)
            for p in (
                "unbabel-comet",
                "torch",
                "transformers",
                "tokenizers",
                "pytorch-lightning",
                "entmax",
                "numpy",
            )
        },
        "python": sys.version.split()[0],
        "predict": {"batch_size": 4, "gpus": 0, "length_batching": True},
        "triples": data,
        "scores": {},
    }
    for name in models:
        model = load_from_checkpoint(
            str(HERE / name / "checkpoints" / "model.ckpt"), local_files_only=True
        )
        per_pair = {}
        for pair, rows in data.items():
            samples = (
                rows if name != "kiwi-tiny" else [{"src": r["src"], "mt": r["mt"]} for r in rows]
            )
            out = model.predict(samples, batch_size=4, gpus=0, progress_bar=False)
            per_pair[pair] = {
                "segments": [float(s) for s in out.scores],
                "system": float(out.system_score),
            }
        golden["scores"][name] = per_pair  # type: ignore[index]
    (HERE / "golden.json").write_text(
        json.dumps(golden, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    print(json.dumps(golden["scores"], indent=1))


if __name__ == "__main__":
    main()
