"""COMET and CometKiwi, cross-checked against unbabel-comet's own numbers.

``tests/golden/comet/`` holds tiny COMET checkpoints made with unbabel-comet's classes and
the scores unbabel-comet 2.2.7 gave them (``make_golden.py``, run in a throwaway
environment: unbabel-comet cannot be installed beside bench's numpy 2 / transformers 5).
bench's estimator must reproduce them to 1e-5, per segment and per system, on English and
Chinese; the other tests pin the signature, the errors, reference-free scoring and the
segment cache.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from bench.cache import PredictionCache
from bench.errors import BenchError, MissingDependency
from bench.families.generation import TextResponse
from bench.families.translation import TranslationRequest
from bench.metrics import comet as comet_module
from bench.metrics.base import BootstrapConfig, ScoringContext
from bench.metrics.comet import COMET, CometKiwi, sparsemax
from bench.registry import registry
from bench.spec import TaskSpec, parse_task

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "comet"
ENCODER = str(GOLDEN / "tiny-xlmr")
DATA: dict[str, Any] = json.loads((GOLDEN / "golden.json").read_text(encoding="utf-8"))
PAIRS = {"en-zh": ("en", "zh"), "zh-en": ("zh", "en")}

_TASK = """\
name: comet-test
version: 1
family: translation
languages: [{src}, {tgt}]
description: Carries a language pair for the COMET tests.
source:
  kind: sacrebleu
  testset: wmt21
  langpair: {src}-{tgt}
  splits: {{test: test}}
metrics: [bleu]
primary_metric: bleu
"""


def make_spec(src: str, tgt: str) -> TaskSpec:
    return parse_task(_TASK.format(src=src, tgt=tgt))


def make_ctx(
    rows: list[dict[str, Any]],
    pair: str = "en-zh",
    *,
    refs: list[tuple[str, ...]] | None = None,
    cache: PredictionCache | None = None,
) -> ScoringContext:
    src, tgt = PAIRS[pair]
    requests = [
        TranslationRequest(
            id=str(i), language=tgt, source=r["src"], source_language=src, target_language=tgt
        )
        for i, r in enumerate(rows)
    ]
    return ScoringContext(
        spec=make_spec(src, tgt),
        requests=requests,
        references=refs if refs is not None else [(r["ref"],) for r in rows],
        responses=[None if r["mt"] == "" else TextResponse(text=r["mt"]) for r in rows],
        bootstrap=BootstrapConfig(resamples=0),
        segment_cache=cache,
    )


def metric_for(name: str, **kw: Any) -> COMET | CometKiwi:
    cls = CometKiwi if name.startswith("kiwi") else COMET
    return cls(model=str(GOLDEN / name), encoder=kw.pop("encoder", ENCODER), **kw)


# --------------------------------------------------------------------------- golden equality


@pytest.mark.parametrize("pair", ["en-zh", "zh-en"])
@pytest.mark.parametrize("name", ["comet-tiny", "comet-tiny-ln", "kiwi-tiny"])
def test_equals_unbabel_comet_golden(name: str, pair: str) -> None:
    rows = DATA["triples"][pair]
    gold = DATA["scores"][name][pair]
    metric = metric_for(name, batch_size=3)
    ctx = make_ctx(rows, pair)
    (value,) = metric.score(ctx)
    column = metric.per_example(ctx)[metric.name]
    assert len(column) == len(gold["segments"])
    for got, want in zip(column, gold["segments"], strict=True):
        assert got == pytest.approx(want, abs=1e-5)
    assert value.value == pytest.approx(gold["system"], abs=1e-5)
    assert value.n == len(rows)
    # the golden scores differ clearly, so equality to 1e-5 is not a constant's
    assert max(gold["segments"]) - min(gold["segments"]) > 5e-3


def test_golden_was_made_by_unbabel_comet() -> None:
    assert DATA["versions"]["unbabel-comet"] == "2.2.7"
    assert set(DATA["scores"]) == {"comet-tiny", "comet-tiny-ln", "kiwi-tiny"}
    # the long segments exceed the tiny encoder's 36 tokens: truncation is exercised
    model = comet_module.load_comet(
        GOLDEN / "kiwi-tiny", Path(ENCODER), device="cpu", metric="cometkiwi"
    )
    long = DATA["triples"]["zh-en"][-1]
    assert len(model._encode([long["src"]])[0]) == model.max_positions - 2


def test_batch_size_changes_no_score() -> None:
    rows = DATA["triples"]["en-zh"]
    one = metric_for("comet-tiny", batch_size=1).per_example(make_ctx(rows))["comet"]
    many = metric_for("comet-tiny", batch_size=16).per_example(make_ctx(rows))["comet"]
    assert one == pytest.approx(many, abs=1e-6)


def test_default_encoder_is_the_checkpoints_pretrained_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the tiny checkpoints name their encoder "tiny-xlmr", a folder relative to the cwd
    monkeypatch.chdir(GOLDEN)
    rows = DATA["triples"]["zh-en"]
    metric = COMET(model=str(GOLDEN / "comet-tiny"))
    (value,) = metric.score(make_ctx(rows, "zh-en"))
    assert value.value == pytest.approx(DATA["scores"]["comet-tiny"]["zh-en"]["system"], abs=1e-5)
    assert "encoder:local:tiny-xlmr@sha256:" in value.signature


def test_several_references_take_the_mean() -> None:
    rows = DATA["triples"]["en-zh"][:4]
    other = [r["mt"][::-1] or "空" for r in rows]
    metric = metric_for("comet-tiny")
    first = metric.per_example(make_ctx(rows))["comet"]
    second = metric.per_example(make_ctx(rows, refs=[(o,) for o in other]))["comet"]
    both = metric.per_example(
        make_ctx(rows, refs=[(r["ref"], o) for r, o in zip(rows, other, strict=True)])
    )
    for a, b, m in zip(first, second, both["comet"], strict=True):
        assert a is not None and b is not None
        assert m == pytest.approx((a + b) / 2, abs=1e-6)
    assert first != second


def test_sparsemax_matches_its_definition() -> None:
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        z = torch.randn(7, generator=g) * 2
        p = sparsemax(z)
        assert float(p.sum()) == pytest.approx(1.0, abs=1e-6)
        assert bool((p >= 0).all())
        # the projection onto the simplex: p = max(z - tau, 0) for one threshold tau
        support = p > 0
        tau = float((z[support] - p[support]).mean())
        assert torch.allclose(p, torch.clamp(z - tau, min=0), atol=1e-6)
    assert sparsemax(torch.zeros(4)).tolist() == [0.25] * 4


# --------------------------------------------------------------------------- reference-free


def test_cometkiwi_needs_no_references() -> None:
    rows = DATA["triples"]["en-zh"]
    metric = metric_for("kiwi-tiny")
    assert CometKiwi.needs_references is False and COMET.needs_references is True
    ctx = make_ctx(rows, refs=[() for _ in rows])
    (value,) = metric.score(ctx)
    assert value.value == pytest.approx(DATA["scores"]["kiwi-tiny"]["en-zh"]["system"], abs=1e-5)
    with pytest.raises(BenchError, match="needs a reference"):
        metric_for("comet-tiny").score(make_ctx(rows, refs=[() for _ in rows]))


# --------------------------------------------------------------------------- signature, cache


def test_signature_names_checkpoint_encoder_class_and_impl() -> None:
    import transformers

    rows = DATA["triples"]["en-zh"][:2]
    (value,) = metric_for("comet-tiny").score(make_ctx(rows))
    parts = value.signature.split("|")
    assert parts[:2] == ["comet", "score"]
    assert parts[2].startswith("model:local:comet-tiny@sha256:")
    assert parts[3].startswith("encoder:local:tiny-xlmr@sha256:")
    assert "class:regression" in parts and "refs:mean" in parts
    assert f"impl:bench-{comet_module.ESTIMATOR_VERSION}" in parts
    assert f"transformers:{transformers.__version__}" in parts
    assert parts[-1] == "v:1"
    (kiwi,) = metric_for("kiwi-tiny").score(make_ctx(rows))
    assert kiwi.name == "cometkiwi"
    assert "class:unified" in kiwi.signature and "refs:" not in kiwi.signature
    ctx = make_ctx(rows)
    assert metric_for("comet-tiny").fingerprint(ctx) != metric_for("comet-tiny-ln").fingerprint(ctx)
    assert metric_for("comet-tiny", batch_size=1).fingerprint(ctx) == metric_for(
        "comet-tiny", batch_size=8
    ).fingerprint(ctx)


def test_registry_names() -> None:
    assert registry.get("metric", "comet") is COMET
    assert registry.get("metric", "cometkiwi") is CometKiwi


def test_second_scoring_hits_the_segment_cache(tmp_path: Path) -> None:
    rows = DATA["triples"]["zh-en"]
    cache = PredictionCache(tmp_path / "cache.sqlite")
    first = make_ctx(rows, "zh-en", cache=cache)
    (v1,) = metric_for("comet-tiny").score(first)
    assert first.segment_counts["comet"] == {
        "segments": len(rows),
        "hits": 0,
        "computed": len(rows),
        "failed": 0,
    }
    second = make_ctx(rows, "zh-en", cache=cache)
    (v2,) = metric_for("comet-tiny", batch_size=2).score(second)
    assert second.segment_counts["comet"]["hits"] == len(rows)
    assert second.segment_counts["comet"]["computed"] == 0
    assert v2.value == v1.value


# --------------------------------------------------------------------------- errors


def test_missing_checkpoint_names_the_download() -> None:
    with pytest.raises(MissingDependency, match="hf download Unbabel/wmt22-comet-da"):
        COMET().score(make_ctx(DATA["triples"]["en-zh"][:1]))
    with pytest.raises(MissingDependency, match="gated"):
        CometKiwi().score(make_ctx(DATA["triples"]["en-zh"][:1]))


def test_missing_encoder_names_the_download(tmp_path: Path) -> None:
    folder = tmp_path / "comet-real-encoder"
    shutil.copytree(GOLDEN / "comet-tiny", folder)
    hparams = folder / "hparams.yaml"
    hparams.write_text(
        hparams.read_text().replace(
            "pretrained_model: tiny-xlmr", "pretrained_model: xlm-roberta-large"
        )
    )
    with pytest.raises(MissingDependency, match="hf download FacebookAI/xlm-roberta-large"):
        COMET(model=str(folder)).score(make_ctx(DATA["triples"]["en-zh"][:1]))


def test_not_a_checkpoint_folder(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="not a COMET checkpoint folder"):
        COMET(model=str(tmp_path), encoder=ENCODER).score(make_ctx(DATA["triples"]["en-zh"][:1]))


def test_wrong_class_names_the_other_metric() -> None:
    rows = DATA["triples"]["en-zh"][:1]
    with pytest.raises(BenchError, match="'cometkiwi' metric"):
        COMET(model=str(GOLDEN / "kiwi-tiny"), encoder=ENCODER).score(make_ctx(rows))
    with pytest.raises(BenchError, match="'comet' metric"):
        CometKiwi(model=str(GOLDEN / "comet-tiny"), encoder=ENCODER).score(make_ctx(rows))


def _edited_checkpoint(tmp_path: Path, edit: Any) -> Path:
    folder = tmp_path / "edited"
    shutil.copytree(GOLDEN / "comet-tiny", folder)
    ckpt = folder / "checkpoints" / "model.ckpt"
    raw = torch.load(ckpt, map_location="cpu", weights_only=True)
    edit(raw["state_dict"])
    torch.save(raw, ckpt)
    return folder


def test_wrong_state_dict_names_the_keys(tmp_path: Path) -> None:
    def edit(state: dict[str, Any]) -> None:
        state["estimator.ff.9.weight"] = torch.zeros(1)
        del state["estimator.ff.3.bias"]

    folder = _edited_checkpoint(tmp_path, edit)
    rows = DATA["triples"]["en-zh"][:1]
    with pytest.raises(BenchError, match=r"missing keys \['estimator.ff.3.bias'\]") as err:
        COMET(model=str(folder), encoder=ENCODER).score(make_ctx(rows))
    assert "unexpected keys ['estimator.ff.9.weight']" in str(err.value)


def test_wrong_shape_is_an_error(tmp_path: Path) -> None:
    def edit(state: dict[str, Any]) -> None:
        state["estimator.ff.0.weight"] = torch.zeros(3, 3)

    folder = _edited_checkpoint(tmp_path, edit)
    with pytest.raises(BenchError, match="do not fit"):
        COMET(model=str(folder), encoder=ENCODER).score(make_ctx(DATA["triples"]["en-zh"][:1]))


def test_stored_position_ids_are_ignored(tmp_path: Path) -> None:
    # checkpoints saved by older transformers keep position_ids; they change no score
    def edit(state: dict[str, Any]) -> None:
        state["encoder.model.embeddings.position_ids"] = torch.arange(40)[None]

    folder = _edited_checkpoint(tmp_path, edit)
    rows = DATA["triples"]["en-zh"]
    (value,) = COMET(model=str(folder), encoder=ENCODER).score(make_ctx(rows))
    assert value.value == pytest.approx(DATA["scores"]["comet-tiny"]["en-zh"]["system"], abs=1e-5)


def test_unsafe_pickle_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "unsafe"
    shutil.copytree(GOLDEN / "comet-tiny", folder)
    ckpt = folder / "checkpoints" / "model.ckpt"
    raw = torch.load(ckpt, map_location="cpu", weights_only=True)
    raw["hyper_parameters"]["obj"] = Path("x")  # not a tensor or plain container
    torch.save(raw, ckpt)
    with pytest.raises(BenchError, match="weights_only=True"):
        COMET(model=str(folder), encoder=ENCODER).score(make_ctx(DATA["triples"]["en-zh"][:1]))
