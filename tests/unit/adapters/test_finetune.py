"""finetune: a tiny seeded BERT built in the test is fine-tuned, predicts, is reproducible and
re-runs from the cache without training."""

from __future__ import annotations

import builtins
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.adapters.base import make_adapter, parse_model_spec
from bench.adapters.finetune import DEVICE_ENV, FineTuneAdapter
from bench.cache import PredictionCache
from bench.catalog import find_task
from bench.data import BUILTIN_ROOT
from bench.errors import AdapterError, BenchError, MissingDependency, ModelSpecError
from bench.families.base import get_family
from bench.families.qa import QARequest
from bench.families.sentiment import SentimentRequest, SentimentResponse
from bench.runner import Event, RunConfig, run_pair
from bench.spec import load_task
from bench.stages import pair_fingerprint, prepare
from bench.stats import BootstrapConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures"))
from tiny_models import tiny_bert

LABELS = ("negative", "positive")
SMOKE = BUILTIN_ROOT / "smoke" / "sentiment-en"
# Fast settings that still learn on the smoke split (a random tiny BERT sits at ln 2 for a
# while before its loss drops).
FAST = {"epochs": 3, "lr": 3e-3, "batch_size": 8, "max_length": 48, "threads": 1}

Example = tuple[SentimentRequest, str]


def _rows(split: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (SMOKE / f"{split}.jsonl").read_text().splitlines()]


def _examples(split: str) -> list[Example]:
    return [
        (SentimentRequest(id=r["id"], language="en", text=r["text"], labels=LABELS), r["label"])
        for r in _rows(split)
    ]


@pytest.fixture(scope="module")
def bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("models") / "tiny-bert", seed=0)


@pytest.fixture(scope="module")
def trained(bert: Path) -> FineTuneAdapter:
    model = FineTuneAdapter(str(bert), **FAST)
    model.fit(_examples("train"))
    return model


# ---------------------------------------------------------------------------- training


def test_training_lowers_the_loss_and_predicts_the_test_split(trained: FineTuneAdapter) -> None:
    history = trained.history
    assert [h["epoch"] for h in history] == [1, 2, 3]
    first, last = history[0]["train_loss"], history[-1]["train_loss"]
    assert last < first - 0.05, history
    assert all(h["val_score"] is not None and 0 <= h["val_score"] <= 1 for h in history)
    assert history[-1]["lr"] == pytest.approx(0.0)  # linear decay to 0 at the last step
    assert history[0]["lr"] < FAST["lr"]  # past its peak after the warm-up
    requests = [r for r, _ in _examples("test")]
    responses = trained.predict(requests)
    assert len(responses) == len(requests) == 160
    assert all(isinstance(r, SentimentResponse) for r in responses)
    for resp in responses:
        assert isinstance(resp, SentimentResponse) and resp.probabilities is not None
        assert set(resp.probabilities) == set(LABELS)
        assert sum(resp.probabilities.values()) == pytest.approx(1.0, abs=1e-9)
        assert resp.label == max(LABELS, key=lambda lab: resp.probabilities[lab])  # type: ignore[index]
    gold = [g for _, g in _examples("test")]
    accuracy = sum(r.label == g for r, g in zip(responses, gold, strict=True)) / len(gold)
    assert accuracy > 0.55, accuracy  # it learned something (random: 0.5)
    info = trained.info()
    assert info["trained"] and info["device"] == "cpu" and info["chosen_lr"] == FAST["lr"]
    assert info["history"] == history and info["best_epoch"] in (1, 2, 3)
    assert info["train_examples"] + info["held_out_examples"] == 320
    assert info["held_out_examples"] == 32  # 10 % of each label
    assert info["steps"] == 3 * 36 and info["cv"] is None
    assert info["model_class"] == "BertForSequenceClassification"
    assert len(info["base"]["sha256"]) == 64


def test_same_seed_same_answers_other_seed_other_answers(bert: Path) -> None:
    requests = [r for r, _ in _examples("test")][:40]
    train = _examples("train")[::6]  # 54 examples, both labels
    one = {**FAST, "epochs": 1, "max_length": 32}
    models = [FineTuneAdapter(str(bert), **one), FineTuneAdapter(str(bert), **one)]
    models.append(FineTuneAdapter(str(bert), **{**one, "seed": 1}))
    for m in models:
        m.fit(train)
    probs = [[r.probabilities for r in m.predict(requests)] for m in models]  # type: ignore[attr-defined]
    assert models[0].history == models[1].history
    assert probs[0] == probs[1]
    assert probs[2] != probs[0]
    assert models[2].history != models[0].history


def test_cross_validation_picks_a_rate_and_records_every_fold(bert: Path) -> None:
    model = FineTuneAdapter(
        str(bert), epochs=1, batch_size=8, max_length=32, cv=2, lr_grid="1e-4;3e-3", threads=1
    )
    model.fit(_examples("train")[::4])  # 80 examples, 40 per label
    info = model.info()
    cv = info["cv"]
    assert cv["folds"] == 2 and cv["metric"] == "macro_f1"
    assert set(cv["fold_scores"]) == {"0.0001", "0.003"}
    assert all(len(s) == 2 and all(0 <= x <= 1 for x in s) for s in cv["fold_scores"].values())
    means = cv["mean_scores"]
    best = max((0.0001, 0.003), key=lambda lr: (means[f"{lr:g}"], -lr))
    assert info["chosen_lr"] == best == model.chosen_lr
    train = _examples("train")
    few = [e for e in train if e[1] == "negative"][:3] + [e for e in train if e[1] == "positive"][
        :1
    ]
    with pytest.raises(AdapterError, match="rarest has 1"):
        FineTuneAdapter(str(bert), cv=3).fit(few)


def test_fit_progress_reports_epochs_and_steps(bert: Path) -> None:
    model = FineTuneAdapter(str(bert), epochs=2, batch_size=16, max_length=32, threads=1)
    seen: list[tuple[str, int, int]] = []
    model.fit_progress = lambda what, done, total: seen.append((what, done, total))
    model.fit(_examples("train")[:64])  # 58 to train: 4 steps per epoch
    assert seen == [(f"epoch {e}/2", s, 4) for e in (1, 2) for s in (1, 2, 3, 4)]


# ---------------------------------------------------------------------------- identity


def test_fingerprint_covers_weights_every_parameter_and_labels(bert: Path, tmp_path: Path) -> None:
    task = find_task("sentiment-en")
    base = FineTuneAdapter(str(bert)).fingerprint(task)
    assert FineTuneAdapter(str(bert)).fingerprint(task) == base  # pure
    changed = {
        "epochs": 4, "lr": 3e-5, "weight_decay": 0.0, "warmup": 0.0, "batch_size": 8,
        "max_length": 128, "seed": 1, "cv": 3, "lr_grid": "1e-5", "validation_fraction": 0.2,
        "patience": 1, "max_grad_norm": 2.0, "threads": 1,
    }  # fmt: skip
    prints = {FineTuneAdapter(str(bert), **{k: v}).fingerprint(task) for k, v in changed.items()}
    assert len(prints) == len(changed) and base not in prints
    # The device changes no answer's identity (the fingerprint is pure of the machine).
    assert FineTuneAdapter(str(bert), device="cpu").fingerprint(task) == base
    # Other weights, same path name: another fingerprint; a copy of the same bytes: the same.
    other = tiny_bert(tmp_path / "tiny-bert", seed=1)
    assert FineTuneAdapter(str(other)).fingerprint(task) != base
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in bert.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    assert FineTuneAdapter(str(copy)).fingerprint(task) == base
    assert FineTuneAdapter(str(bert)).fingerprint(find_task("sentiment-zh")) == base  # labels
    assert FineTuneAdapter(str(bert)).fingerprint(None) != base


def test_the_cache_key_covers_the_train_split(bert: Path, tmp_path: Path) -> None:
    root = tmp_path / "task"
    (root / "data").mkdir(parents=True)
    task_yaml = (
        "name: local-sent\nversion: 1\nfamily: sentiment\nlanguages: [en]\n"
        "description: A local copy of part of the smoke data.\nlabels: [negative, positive]\n"
        "source:\n  kind: local\n  location: data\n  format: jsonl\n"
        "  files: {train: train.jsonl, test: test.jsonl}\n  splits: {train: train, test: test}\n"
        "metrics: [accuracy]\nprimary_metric: accuracy\n"
    )
    (root / "local-sent.yaml").write_text(task_yaml)
    train = (SMOKE / "train.jsonl").read_text().splitlines(True)
    (root / "data" / "test.jsonl").write_text((SMOKE / "test.jsonl").read_text())
    cfg = RunConfig(results=tmp_path / "results")
    adapter = FineTuneAdapter(str(bert))

    def key(rows: list[str]) -> str:
        (root / "data" / "train.jsonl").write_text("".join(rows))
        task = load_task(root / "local-sent.yaml")
        bound = adapter.for_task(task, get_family(task.family))
        return pair_fingerprint(bound, task, prepare(task, cfg, want_train=True))

    full = key(train)
    assert key(train) == full
    assert key(train[:-1]) != full
    edited = [train[0].replace('"negative"', '"positive"'), *train[1:]]
    assert edited[0] != train[0] and key(edited) != full


# ---------------------------------------------------------------------------- the runner


def test_a_second_run_is_served_from_the_cache_without_training(bert: Path, tmp_path: Path) -> None:
    spec = parse_model_spec(
        f"finetune:{bert},epochs=1,lr=3e-3,batch_size=16,max_length=32,threads=1,name=ft-tiny"
    )
    task = find_task("sentiment-en")
    cfg = RunConfig(
        results=tmp_path / "results",
        cache=tmp_path / "cache.sqlite",
        limit=40,
        bootstrap=BootstrapConfig(resamples=200, seed=1),
    )
    events: list[Event] = []
    with PredictionCache(cfg.cache) as cache:
        first = run_pair(spec, task, cfg, progress=events.append, cache=cache)
    assert first.status == "done" and first.record is not None
    assert first.record.predictions.computed == 40 and first.record.timings.fit_s > 0
    info = first.record.model.info
    assert info["trained"] and len(info["history"]) == 1 and info["history"][0]["train_loss"] > 0
    fits = [e for e in events if e.kind == "fit-progress"]
    assert fits and fits[-1].stage == "epoch 1/1" and fits[-1].done == fits[-1].total == 18
    assert [e.done for e in fits] == list(range(1, 19))

    # The record is up to date (kept as it is); scored again, every prediction is the cache's.
    assert run_pair(spec, task, cfg).status == "up-to-date"
    with PredictionCache(cfg.cache) as cache:
        second = run_pair(spec, task, dataclasses.replace(cfg, rescore=True), cache=cache)
    assert second.record is not None
    assert second.adapter_calls == 0 and second.record.predictions.cached == 40
    assert second.record.timings.fit_s == 0.0  # nothing to predict: no training either
    assert second.record.model.info["trained"] is False
    assert second.record.model.fingerprint == first.record.model.fingerprint
    assert second.record.metrics["accuracy"].value == first.record.metrics["accuracy"].value


# ---------------------------------------------------------------------------- QA


def test_extractive_qa_trains_on_spans_and_answers_from_the_context(bert: Path) -> None:
    rows = [
        json.loads(line)
        for line in (BUILTIN_ROOT / "smoke" / "qa-en" / "train.jsonl").read_text().splitlines()
    ]
    examples = [
        (
            QARequest(id=r["id"], language="en", question=r["question"], context=r["context"]),
            tuple(r["answers"]),
        )
        for r in rows
    ]
    model = FineTuneAdapter(
        str(bert),
        task="qa",
        epochs=2,
        lr=3e-3,
        batch_size=8,
        max_length=96,
        doc_stride=32,
        threads=1,
    )
    assert model.supports("qa") and not model.supports("sentiment")
    model.fit(examples)
    history = model.history
    assert len(history) == 2 and history[-1]["train_loss"] < history[0]["train_loss"]
    answers = model.predict([r for r, _ in examples[:6]])
    for (req, _), resp in zip(examples[:6], answers, strict=True):
        text = getattr(resp, "text", None)
        assert isinstance(text, str) and text in req.context
    assert model.info()["model_class"] == "BertForQuestionAnswering"
    assert model.info()["steps"] > 2 * len(examples) // 8  # windows, not examples


# ---------------------------------------------------------------------------- errors


def test_errors_name_the_fix(bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelSpecError, match="neither a local folder nor a hub model") as info:
        make_adapter(f"finetune:{tmp_path / 'missing'}")
    assert info.value.fix is not None and "hf download" in info.value.fix
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(BenchError, match="Hugging Face cache"):
        make_adapter("finetune:someone/not-cached-bert")
    with pytest.raises(ModelSpecError, match="cv=1"):
        make_adapter(f"finetune:{bert},cv=1")
    with pytest.raises(ModelSpecError, match="unknown parameter"):
        make_adapter(f"finetune:{bert},epoch=2")
    with pytest.raises(AdapterError, match="before fit"):
        FineTuneAdapter(str(bert)).predict([r for r, _ in _examples("test")[:1]])
    with pytest.raises(AdapterError, match="fewer than two labels"):
        FineTuneAdapter(str(bert)).fit([(r, "negative") for r, _ in _examples("test")[:4]])

    real_import = builtins.__import__

    def no_transformers(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "transformers" or name.startswith("transformers."):
            raise ImportError("No module named 'transformers'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_transformers)
    with pytest.raises(MissingDependency) as missing:
        make_adapter(f"finetune:{bert}")
    assert missing.value.fix is not None and "bench[hf]" in missing.value.fix


def test_device_follows_the_spec_then_the_environment(
    bert: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    import torch

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert FineTuneAdapter(str(bert)).info()["device"] == expected
    monkeypatch.setenv(DEVICE_ENV, "cuda:1")
    assert FineTuneAdapter(str(bert)).info()["device"] == "cuda:1"
    assert FineTuneAdapter(str(bert)).resources().num_gpus == 1.0
    assert FineTuneAdapter(str(bert), device="cpu").info()["device"] == "cpu"
    assert FineTuneAdapter(str(bert), device="cpu").resources().num_gpus == 0.0


def test_bench_run_shows_epochs_and_steps_on_the_pair_bar() -> None:
    from bench.cli import _Progress

    shown = _Progress()
    shown.on_event(Event("stage", "ft", "sentiment-en", stage="fit"))
    shown.on_event(Event("fit-progress", "ft", "sentiment-en", stage="epoch 2/3", done=5, total=18))
    (bar,) = shown.progress.tasks
    assert bar.description == "ft · sentiment-en: fit epoch 2/3"
    assert (bar.completed, bar.total) == (5, 18)
    shown.stop()


def test_qa_windows_default_to_a_third_of_max_length(bert: Path) -> None:
    assert FineTuneAdapter(str(bert), task="qa").params.stride == 256 // 3
    assert FineTuneAdapter(str(bert), task="qa", max_length=384).params.stride == 128
    with pytest.raises(ModelSpecError, match="doc_stride=200"):
        FineTuneAdapter(str(bert), task="qa", max_length=384, doc_stride=200)


def test_docstring_examples_run() -> None:
    import doctest

    import bench.adapters.finetune as module

    result = doctest.testmod(module)
    assert result.attempted >= 2 and result.failed == 0


def test_a_hub_id_in_the_local_cache_is_its_snapshot_and_commit(
    bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "hub"
    repo = cache / "models--someone--tiny-bert"
    commits = ["a" * 40, "b" * 40]
    for commit in commits:
        snapshot = repo / "snapshots" / commit
        snapshot.mkdir(parents=True)
        for f in bert.iterdir():
            (snapshot / f.name).write_bytes(f.read_bytes())
    (repo / "refs").mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.delitem(sys.modules, "huggingface_hub.constants", raising=False)
    prints = []
    for commit in commits:
        (repo / "refs" / "main").write_text(commit)
        adapter = make_adapter("finetune:someone/tiny-bert")
        assert isinstance(adapter, FineTuneAdapter)
        assert adapter.base.identity == {"hub": "someone/tiny-bert", "commit": commit}
        assert adapter.base.path == repo / "snapshots" / commit
        prints.append(adapter.fingerprint(None))
    assert prints[0] != prints[1]  # another commit, another model
