"""Neural sentiment classifiers: word vectors + logistic regression, BiLSTM/BiGRU, a small
Transformer, and TextCNN with pretrained vectors — on real data, reproducibly."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.adapters.base import make_adapter
from bench.adapters.baselines import text_tokens
from bench.adapters.neural import BiLSTMBaseline, TransformerSmall, WordVecLogReg
from bench.adapters.textcnn import TextCNNBaseline
from bench.adapters.vector_files import load_keyed_vectors
from bench.errors import AdapterError, DataError, ModelSpecError
from bench.families.sentiment import SentimentRequest, SentimentResponse

ROOT = Path(__file__).resolve().parents[3]
SMOKE = ROOT / "bench" / "builtin" / "smoke"
DATA = ROOT.parent / "shared" / "data"
CHNSENTICORP = DATA / "chnsenticorp-htl" / "ChnSentiCorp_htl_all.csv"
LABELS = ("negative", "positive")

Example = tuple[SentimentRequest, str]

# Small and single-threaded, so the unit tests stay fast on a busy 2-core machine.
FAST: dict[str, Any] = {"threads": 1, "max_epochs": 2, "embedding_dim": 16, "max_len": 48}


def _smoke(task: str, split: str) -> list[Example]:
    language = task.rsplit("-", 1)[1]
    rows = [
        json.loads(line)
        for line in (SMOKE / task / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    return [
        (SentimentRequest(id=r["id"], language=language, text=r["text"], labels=LABELS), r["label"])
        for r in rows
    ]


@pytest.fixture(scope="module")
def en_train() -> list[Example]:
    return _smoke("sentiment-en", "train")


@pytest.fixture(scope="module")
def en_test() -> list[SentimentRequest]:
    return [r for r, _ in _smoke("sentiment-en", "test")]


@pytest.fixture(scope="module")
def w2v_file() -> Path:
    """gensim's word2vec text file of news words (1,750 words, 10 dimensions)."""
    from gensim.test.utils import datapath

    return Path(datapath("word2vec_pre_kv_c"))


@pytest.fixture(scope="module")
def chnsenticorp() -> list[Example]:
    if not CHNSENTICORP.is_file():
        pytest.skip(f"ChnSentiCorp-htl not found at {CHNSENTICORP} (see shared/data/SOURCES.md)")
    import pandas as pd

    frame = pd.read_csv(CHNSENTICORP).dropna(subset=["review", "label"])
    examples = [
        (SentimentRequest(id=str(i), language="zh", text=str(t), labels=LABELS), LABELS[int(y)])
        for i, (y, t) in enumerate(zip(frame["label"], frame["review"], strict=True))
    ]
    order = np.random.default_rng(13).permutation(len(examples))
    return [examples[i] for i in order]


def _probs(model: Any, requests: list[SentimentRequest]) -> list[dict[str, float]]:
    out = []
    for resp in model.predict(requests):
        assert isinstance(resp, SentimentResponse) and resp.probabilities is not None
        assert sum(resp.probabilities.values()) == pytest.approx(1.0, abs=1e-9)
        assert resp.label == max(resp.probabilities, key=lambda k: resp.probabilities[k])
        out.append(resp.probabilities)
    return out


def _accuracy(model: Any, test: list[Example]) -> float:
    responses = model.predict([r for r, _ in test])
    return float(np.mean([resp.label == g for resp, (_, g) in zip(responses, test, strict=True)]))


# ---------------------------------------------------------------------------- wordvec-logreg


def test_wordvec_features_are_the_mean_or_idf_mean_of_known_vectors(
    en_train: list[Example], w2v_file: Path
) -> None:
    kv = load_keyed_vectors(w2v_file)
    text = "the price of the hotel said nothing qwertyuiop"
    request = SentimentRequest(id="x", language="en", text=text, labels=LABELS)
    tokens = text_tokens(request)
    known = [t for t in tokens if t in kv.key_to_index]
    assert 0 < len(known) < len(tokens)  # the made-up word is skipped

    mean = WordVecLogReg(vectors=str(w2v_file), cv=2)
    mean.fit(en_train)
    np.testing.assert_allclose(
        mean._features([tokens])[0][0], kv[known].astype(np.float64).mean(axis=0), atol=1e-12
    )

    idf = WordVecLogReg(vectors=str(w2v_file), cv=2, pooling="idf")
    idf.fit(en_train)
    docs = [text_tokens(r) for r, _ in en_train]
    df = Counter(t for d in docs for t in set(d))
    n = len(docs)
    weights = np.array([math.log((1 + n) / (1 + df[t])) + 1 for t in known])
    expected = weights @ kv[known].astype(np.float64) / weights.sum()
    np.testing.assert_allclose(idf._features([tokens])[0][0], expected, atol=1e-12)
    assert not np.allclose(expected, mean._features([tokens])[0][0])


def test_wordvec_cross_validation_is_recorded_and_picks_the_best_mean(
    en_train: list[Example], en_test: list[SentimentRequest], w2v_file: Path
) -> None:
    model = WordVecLogReg(vectors=str(w2v_file), cv=3, c_grid=(0.01, 1.0, 100.0))
    model.fit(en_train)
    info = model.info()
    assert info["c_grid"] == [0.01, 1.0, 100.0] and info["cv_folds"] == 3
    folds = info["cv_fold_scores"]
    assert set(folds) == {"0.01", "1.0", "100.0"} and all(len(v) == 3 for v in folds.values())
    means = {c: float(np.mean(v)) for c, v in folds.items()}
    assert info["cv_mean_scores"] == pytest.approx(means)
    assert info["best_c"] == float(max(means, key=lambda c: means[c]))
    assert info["best_c"] == model._model.named_steps["clf"].C
    # Unknown-only and empty texts answer from the zero vector, and are counted.
    assert info["empty_predicted_texts"] == 0
    odd = [
        SentimentRequest(id=str(i), language="en", text=t, labels=LABELS)
        for i, t in enumerate(["", "qwertyuiop zxcvbnm"])
    ]
    _probs(model, odd + en_test[:5])
    assert model.info()["empty_predicted_texts"] == 2


def test_wordvec_default_trains_word2vec_reproducibly(
    en_train: list[Example], en_test: list[SentimentRequest]
) -> None:
    runs = []
    for _ in range(2):
        model = WordVecLogReg(cv=2, w2v_dim=16, w2v_epochs=3)
        model.fit(en_train)
        runs.append(_probs(model, en_test))
        assert model.info()["vectors"]["trained"] == "word2vec on the train split"
    assert runs[0] == runs[1]
    other = WordVecLogReg(cv=2, w2v_dim=16, w2v_epochs=3, seed=1)
    other.fit(en_train)
    assert _probs(other, en_test) != runs[0]


@pytest.mark.slow
def test_wordvec_learns_chinese_hotel_reviews(chnsenticorp: list[Example]) -> None:
    train, test = chnsenticorp[:1500], chnsenticorp[1500:2000]
    model = WordVecLogReg(cv=3, w2v_dim=50)
    model.fit(train)
    majority = max(np.mean([g == lab for _, g in test]) for lab in LABELS)
    accuracy = _accuracy(model, test)
    assert accuracy >= 0.75 and accuracy > majority + 0.05, accuracy


def test_wordvec_fingerprint_hashes_the_file_content_not_its_path(
    tmp_path: Path, w2v_file: Path
) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    shutil.copy(w2v_file, a)
    shutil.copy(w2v_file, b)
    assert (
        WordVecLogReg(vectors=str(a)).fingerprint() == WordVecLogReg(vectors=str(b)).fingerprint()
    )
    lines = b.read_text(encoding="utf-8").splitlines()
    word, *values = lines[1].split()
    lines[1] = " ".join([word, str(float(values[0]) + 1.0), *values[1:]])
    b.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert (
        WordVecLogReg(vectors=str(a)).fingerprint() != WordVecLogReg(vectors=str(b)).fingerprint()
    )
    base = WordVecLogReg().fingerprint()
    for changed in ({"seed": 1}, {"w2v_dim": 50}, {"pooling": "idf"}, {"cv": 3}, {"w2v_sg": 0}):
        assert WordVecLogReg(**changed).fingerprint() != base, changed
    with pytest.raises(DataError, match="does not exist"):
        WordVecLogReg(vectors=str(tmp_path / "missing.txt")).fingerprint()


# ---------------------------------------------------------------------------- bilstm


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_bilstm_batch_independent_and_reproducible(
    cell: str, en_train: list[Example], en_test: list[SentimentRequest]
) -> None:
    runs = []
    for _ in range(2):
        model = BiLSTMBaseline(cell=cell, hidden=16, **FAST)
        model.fit(en_train)
        runs.append((_probs(model, en_test), model.history))
    assert runs[0] == runs[1]
    batched = runs[0][0]
    # Each text alone (no batch-mates, no padding) gets the answer it got in the batch.
    for request, probs in list(zip(en_test, batched, strict=True))[:8]:
        assert _probs(model, [request])[0] == pytest.approx(probs, abs=1e-6)
    info = model.info()
    assert info["cell"] == cell and info["regularisation"]["optimizer"] == "AdamW"
    assert info["best_epoch"] in [h["epoch"] for h in info["history"]]
    other = BiLSTMBaseline(cell=cell, hidden=16, **{**FAST, "seed": 3})
    other.fit(en_train)
    assert _probs(other, en_test) != batched


def test_bilstm_early_stopping_keeps_the_best_epoch(en_train: list[Example]) -> None:
    model = BiLSTMBaseline(hidden=16, **{**FAST, "max_epochs": 8, "patience": 1})
    model.fit(en_train)
    history = model.history
    assert [h["epoch"] for h in history] == list(range(1, len(history) + 1))
    assert len(history) in (model.best_epoch, (model.best_epoch or 0) + 1)
    keys = [(h["val_macro_f1"], -(h["val_loss"] or 0.0)) for h in history]
    assert keys[(model.best_epoch or 0) - 1] == max(keys)
    assert model.info()["early_stopping"]["validation_examples"] == 32  # 10% of 320, stratified


def test_bilstm_pretrained_embeddings_frozen_or_tuned(
    en_train: list[Example], w2v_file: Path
) -> None:
    kv = load_keyed_vectors(w2v_file)
    for freeze in (True, False):
        model = BiLSTMBaseline(
            vectors=str(w2v_file), freeze=freeze, hidden=8, threads=1, max_epochs=2
        )
        model.fit(en_train)
        weight = model._model.embedding.weight.detach().numpy()
        assert weight.shape[1] == kv.vector_size
        words = [w for w in model._vocab if w in kv.key_to_index]
        assert len(words) > 100
        rows = np.stack([weight[model._vocab[w]] for w in words])
        same = np.allclose(rows, kv[words], atol=0)
        assert same is freeze
        emb = model.info()["embedding"]
        assert emb["pretrained_rows"] == len(words) and emb["freeze"] is freeze
        assert emb["random_rows"] == len(model._vocab) - len(words)
        # Rows of words the file lacks start seeded and small (frozen: they stay so).
        oov = [i for w, i in model._vocab.items() if w not in kv.key_to_index]
        if freeze:
            assert np.abs(weight[oov]).max() <= 0.05
    with pytest.raises(AdapterError, match="embedding_dim"):
        BiLSTMBaseline(vectors=str(w2v_file), embedding_dim=16, threads=1).fit(en_train)


# ---------------------------------------------------------------------------- transformer


def test_transformer_self_attention_is_the_scaled_dot_product_formula(
    en_train: list[Example],
) -> None:
    import torch

    model = TransformerSmall(**{**FAST, "embedding_dim": 8, "heads": 2, "max_epochs": 1})
    model.fit(en_train)
    layer = model._model.encoder.layers[0]
    assert layer.norm_first  # pre-norm, as the docstring says
    attention = layer.self_attn
    d, h = 8, 2
    d_k = d // h
    x = torch.randn(1, 5, d, generator=torch.Generator().manual_seed(0))
    pad = torch.tensor([[False, False, False, True, True]])  # two padding keys

    with torch.no_grad():
        out, _ = attention(x, x, x, key_padding_mask=pad, need_weights=False)
    w = attention.in_proj_weight.detach().double()
    b = attention.in_proj_bias.detach().double()
    xd = x[0].double()
    q, k, v = (xd @ w[i * d : (i + 1) * d].T + b[i * d : (i + 1) * d] for i in range(3))
    heads = []
    for j in range(h):
        cols = slice(j * d_k, (j + 1) * d_k)
        scores = q[:, cols] @ k[:, cols].T / math.sqrt(d_k)
        scores[:, pad[0]] = -math.inf
        heads.append(torch.softmax(scores, dim=1) @ v[:, cols])
    by_hand = torch.cat(heads, dim=1) @ attention.out_proj.weight.detach().double().T
    by_hand = by_hand + attention.out_proj.bias.detach().double()
    assert torch.allclose(out[0].double(), by_hand, atol=1e-6)

    # The whole pre-norm layer: x + SA(LN1(x)), then + FF(LN2(.)), dropout off.
    layer.eval()
    with torch.no_grad():
        y = layer(x, src_key_padding_mask=pad)
        n1 = layer.norm1(x)
        sa, _ = attention(n1, n1, n1, key_padding_mask=pad, need_weights=False)
        z = x + sa
        ff = layer.linear2(torch.relu(layer.linear1(layer.norm2(z))))
    assert torch.allclose(y, z + ff, atol=1e-6)


def test_transformer_padding_and_batch_mates_do_not_change_answers(
    en_train: list[Example], en_test: list[SentimentRequest]
) -> None:
    runs = []
    for _ in range(2):
        model = TransformerSmall(**FAST)
        model.fit(en_train)
        runs.append(_probs(model, en_test))
    assert runs[0] == runs[1]
    for request, probs in list(zip(en_test, runs[0], strict=True))[:8]:
        assert _probs(model, [request])[0] == pytest.approx(probs, abs=1e-6)
    info = model.info()
    assert info["norm"].startswith("pre-norm") and info["heads"] == 4 and info["layers"] == 2


def test_transformer_heads_must_divide_the_vector_size(
    en_train: list[Example], w2v_file: Path
) -> None:
    with pytest.raises(AdapterError, match="divisible"):
        TransformerSmall(vectors=str(w2v_file), heads=4, threads=1).fit(en_train)
    model = TransformerSmall(vectors=str(w2v_file), heads=2, threads=1, max_epochs=1)
    model.fit(en_train)
    assert model.info()["d_model"] == 10


# ---------------------------------------------------------------------------- textcnn vectors


def test_textcnn_starts_from_the_vector_file(
    en_train: list[Example], en_test: list[SentimentRequest], w2v_file: Path, tmp_path: Path
) -> None:
    kv = load_keyed_vectors(w2v_file)
    model = TextCNNBaseline(vectors=str(w2v_file), freeze=True, filters=8, max_epochs=1, threads=1)
    model.fit(en_train)
    weight = model._model.embedding.weight.detach().numpy()
    words = [w for w in model._vocab if w in kv.key_to_index]
    np.testing.assert_array_equal(np.stack([weight[model._vocab[w]] for w in words]), kv[words])
    assert model.info()["embedding"]["pretrained_rows"] == len(words)
    _probs(model, en_test[:5])
    # Chinese with vectors reads words, not characters (the file holds words).
    zh = [
        (SentimentRequest(id=str(i), language="zh", text=t, labels=LABELS), y)
        for i, (t, y) in enumerate([("房间很大", "positive"), ("服务很差", "negative")])
    ]
    cnn = TextCNNBaseline(
        vectors=str(w2v_file), filters=4, max_epochs=1, validation_fraction=0.0, threads=1
    )
    cnn.fit(zh)
    assert set(cnn._vocab) == {t for r, _ in zh for t in text_tokens(r)}
    # Fingerprint: content, not path; the from-scratch identity has no vector keys.
    copy = tmp_path / "copy.txt"
    shutil.copy(w2v_file, copy)
    assert (
        TextCNNBaseline(vectors=str(copy)).fingerprint()
        == TextCNNBaseline(vectors=str(w2v_file)).fingerprint()
    )
    assert TextCNNBaseline(vectors=str(copy)).fingerprint() != TextCNNBaseline().fingerprint()
    assert "vectors" not in TextCNNBaseline().identity()["params"]
    assert (
        TextCNNBaseline(vectors=str(copy), freeze=True).fingerprint()
        != TextCNNBaseline(vectors=str(copy)).fingerprint()
    )


# ---------------------------------------------------------------------------- specs


def test_specs_parse_and_fingerprints_cover_hyper_parameters(w2v_file: Path) -> None:
    model = make_adapter(f"baseline:bilstm,cell=gru,vectors={w2v_file},freeze=true,hidden=32")
    assert isinstance(model, BiLSTMBaseline)
    assert (model.params.cell, model.params.freeze, model.params.hidden) == ("gru", True, 32)
    assert isinstance(make_adapter("baseline:transformer-small,layers=1"), TransformerSmall)
    assert isinstance(make_adapter("baseline:wordvec-logreg,pooling=idf"), WordVecLogReg)
    for cls, changes in (
        (BiLSTMBaseline, ({"seed": 1}, {"cell": "gru"}, {"dropout": 0.1}, {"weight_decay": 0.0})),
        (TransformerSmall, ({"seed": 1}, {"heads": 2}, {"layers": 1}, {"lr": 1e-4})),
    ):
        base = cls().fingerprint()
        assert cls().fingerprint() == base
        for change in changes:
            assert cls(**change).fingerprint() != base, (cls, change)
    for bad, match in (
        ({"freeze": True}, "vectors"),
        ({"cell": "rnn"}, "cell"),
        ({"dropout": 1.0}, "dropout"),
        ({"epochs": 3}, "unknown parameter"),
    ):
        with pytest.raises(ModelSpecError, match=match):
            BiLSTMBaseline(**bad)
    with pytest.raises(ModelSpecError, match="vectors"):
        TextCNNBaseline(freeze=True)


@pytest.mark.parametrize("cls", [WordVecLogReg, BiLSTMBaseline, TransformerSmall])
def test_contract_errors(cls: type, en_train: list[Example]) -> None:
    request = en_train[0][0]
    with pytest.raises(AdapterError, match="before fit"):
        cls().predict([request])
    with pytest.raises(AdapterError, match="empty"):
        cls().fit([])
    with pytest.raises(AdapterError, match="two labels"):
        cls().fit([(request, "positive")] * 4)
    with pytest.raises(AdapterError, match="not among"):
        cls().fit([(request, "positive"), (request, "meh")])


def test_import_does_not_import_torch_sklearn_or_gensim() -> None:
    code = (
        "import sys, bench.adapters.neural; "
        "print(any(m in sys.modules for m in ('torch', 'sklearn', 'gensim')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------------- end to end


def _run(model: str, task_name: str, tmp_path: Path, data: dict[str, Path] | None = None) -> Any:
    from bench.adapters.base import parse_model_spec
    from bench.catalog import find_task
    from bench.metrics.base import BootstrapConfig
    from bench.runner import RunConfig, run_pair

    config = RunConfig(
        results=tmp_path / "results",
        cache=None,
        bootstrap=BootstrapConfig(resamples=1000),
        data=data or {},
    )
    start = time.perf_counter()
    outcome = run_pair(parse_model_spec(model), find_task(task_name), config)
    assert outcome.status == "done" and outcome.record is not None
    return outcome.record, time.perf_counter() - start


def test_wordvec_logreg_runs_on_the_chinese_smoke_task(tmp_path: Path) -> None:
    record, _ = _run("baseline:wordvec-logreg", "sentiment-zh", tmp_path)
    assert record.failures.count == 0 and record.task.n_examples == 160
    assert record.metrics["accuracy"].value > 0.55
    assert record.model.info["best_c"] in record.model.info["c_grid"]


@pytest.mark.slow
@pytest.mark.parametrize("task", ["sentiment-en", "sentiment-zh"])
@pytest.mark.parametrize(
    "model", ["baseline:wordvec-logreg", "baseline:bilstm", "baseline:transformer-small"]
)
def test_smoke_tasks_end_to_end(model: str, task: str, tmp_path: Path) -> None:
    record, seconds = _run(model, task, tmp_path)
    assert record.failures.count == 0 and record.task.n_examples == 160
    assert record.model.info
    print(f"\n{model} on {task}: accuracy {record.metrics['accuracy'].value:.4f}, {seconds:.1f} s")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model", "floor"),
    [
        # Measured (seed 0): 0.8841, 0.8783 and 0.8712 (tfidf-logreg 0.9034, textcnn 0.8686).
        # The networks stop one epoch after their best (patience=1): both peak at epoch 2 on
        # the hold-out, so the default patience of 3 trains two more epochs it does not keep —
        # the same model and accuracy (measured both ways), in two thirds of the time.
        ("baseline:wordvec-logreg", 0.84),
        ("baseline:bilstm,patience=1", 0.84),
        ("baseline:transformer-small,patience=1", 0.84),
    ],
)
def test_chnsenticorp_accuracy(model: str, floor: float, tmp_path: Path) -> None:
    if not CHNSENTICORP.is_file():
        pytest.skip(f"ChnSentiCorp-htl not found at {CHNSENTICORP}")
    record, seconds = _run(
        model, "chnsenticorp", tmp_path, data={"chnsenticorp": CHNSENTICORP.parent}
    )
    accuracy = record.metrics["accuracy"]
    assert record.task.n_examples == 1553 and record.failures.count == 0
    print(
        f"\n{model} on chnsenticorp: accuracy {accuracy.value:.4f} "
        f"[{accuracy.ci_low:.4f}, {accuracy.ci_high:.4f}], {seconds:.1f} s "
        f"(fit {record.timings.fit_s:.1f} s)"
    )
    assert accuracy.value >= floor
