"""BERTScore, cross-checked against ``bert_score.score`` called directly on the same model.

The model is a tiny seeded BERT built in the test (:func:`tests.fixtures.tiny_models.tiny_bert`),
so nothing is downloaded. Texts are real: the smoke translation tasks (English and Chinese
targets, prepared by bench's own pipeline) and the two human Chinese translations of WMT21
en-zh (``../shared/data/wmt21-newstest2021``) as two references. Hypotheses are references with
words (English) or characters (Chinese) dropped, so every score is between the extremes.
"""

from __future__ import annotations

import hashlib
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import bert_score
import numpy as np
import pytest
from pydantic import ValidationError

from bench.cache import PredictionCache
from bench.catalog import find_task
from bench.errors import BenchError, DataError, MissingDependency
from bench.families.generation import TextResponse
from bench.metrics import bertscore as bertscore_module
from bench.metrics.base import BootstrapConfig, ScoringContext
from bench.metrics.bertscore import BERTScore, default_model
from bench.metrics.model_based import folder_sha256
from bench.registry import registry
from bench.stages import RunConfig, prepare
from tests.fixtures.tiny_models import tiny_bert

BS_VERSION = metadata.version("bert-score")
TF_VERSION = metadata.version("transformers")
N = 24
TOL = 1e-6


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("models") / "tiny-bert")


def drop(text: str, lang: str, copy: int = 1) -> str:
    """Drop every 4th word (English) or every 5th character (Chinese), shifted by ``copy``."""
    if lang == "zh":
        return "".join(c for i, c in enumerate(text) if (i + copy) % 5 != 4)
    return " ".join(w for i, w in enumerate(text.split()) if (i + copy) % 4 != 3)


_PREPARED: dict[str, Any] = {}


def smoke(task: str) -> tuple[Any, list[Any], list[tuple[str, ...]]]:
    if task not in _PREPARED:
        spec = find_task(task, [])
        prepared = prepare(spec, RunConfig(results=Path("unused")))
        _PREPARED[task] = (spec, list(prepared.requests[:N]), list(prepared.references[:N]))
    return _PREPARED[task]


def make_ctx(
    task: str,
    hyps: list[str | None] | None = None,
    refs: list[tuple[str, ...]] | None = None,
    *,
    cache: PredictionCache | None = None,
    bootstrap: BootstrapConfig | None = None,
) -> ScoringContext:
    spec, requests, references = smoke(task)
    refs = references if refs is None else refs
    lang = spec.languages[1]
    if hyps is None:
        hyps = [drop(r[0], lang, i) for i, r in enumerate(refs)]
    return ScoringContext(
        spec=spec,
        requests=requests[: len(refs)],
        references=refs,
        responses=[None if h is None else TextResponse(text=h) for h in hyps],
        bootstrap=bootstrap or BootstrapConfig(resamples=0),
        segment_cache=cache,
    )


def hyps_of(ctx: ScoringContext) -> list[str]:
    return ["" if r is None else r.text for r in ctx.responses]  # type: ignore[union-attr]


def reference(ctx: ScoringContext, model: Path, **kw: Any) -> dict[str, np.ndarray]:
    """bert_score.score on the context's hypotheses and references."""
    refs = [list(r) for r in ctx.references]
    multi = any(len(r) > 1 for r in refs)
    p, r, f = bert_score.score(
        hyps_of(ctx),
        refs if multi else [r[0] for r in refs],
        model_type=str(model),
        nthreads=0,
        **kw,
    )
    return {"f1": f.numpy(), "precision": p.numpy(), "recall": r.numpy()}


def check_equal(metric: BERTScore, ctx: ScoringContext, expected: dict[str, np.ndarray]) -> None:
    values = {v.name: v for v in metric.score(ctx)}
    columns = metric.per_example(ctx)
    for out, name in [("f1", "bertscore"), ("precision", "bertscore/precision")]:
        got = np.array(columns[name], dtype=float)
        np.testing.assert_allclose(got, expected[out].astype(float), rtol=0, atol=TOL)
        assert abs(values[name].value - float(expected[out].mean())) < TOL
    got = np.array(columns["bertscore/recall"], dtype=float)
    np.testing.assert_allclose(got, expected["recall"].astype(float), rtol=0, atol=TOL)
    assert abs(values["bertscore/recall"].value - float(expected["recall"].mean())) < TOL
    assert values["bertscore"].n == ctx.n


def write_baseline(path: Path, layers: int = 3) -> Path:
    rows = ["LAYER,P,R,F"] + [
        f"{i},{0.61 + 0.01 * i:.8f},{0.63 + 0.01 * i:.8f},{0.62 + 0.01 * i:.8f}"
        for i in range(layers)
    ]
    path.write_text("\n".join(rows) + "\n")
    return path


# --------------------------------------------------------------------------- equality


@pytest.mark.parametrize("task", ["translation-zh-en", "translation-en-zh"])
def test_equals_bert_score(tiny: Path, task: str) -> None:
    """English and Chinese targets: per-segment P, R, F1 and the means, to 1e-6."""
    ctx = make_ctx(task)
    check_equal(BERTScore(model=str(tiny), num_layers=2), ctx, reference(ctx, tiny, num_layers=2))


@pytest.mark.parametrize("task", ["translation-zh-en", "translation-en-zh"])
def test_equals_bert_score_with_idf(tiny: Path, task: str) -> None:
    """idf over the test set's references is bert_score.score(..., idf=True)'s."""
    ctx = make_ctx(task)
    expected = reference(ctx, tiny, num_layers=1, idf=True)
    plain = reference(ctx, tiny, num_layers=1)
    assert np.abs(expected["f1"] - plain["f1"]).max() > 1e-3  # idf changes the scores
    check_equal(BERTScore(model=str(tiny), num_layers=1, idf=True), ctx, expected)


@pytest.mark.parametrize(
    ("task", "lang"), [("translation-zh-en", "en"), ("translation-en-zh", "zh")]
)
def test_equals_bert_score_rescaled(tiny: Path, tmp_path: Path, task: str, lang: str) -> None:
    baseline = write_baseline(tmp_path / "baseline.tsv")
    ctx = make_ctx(task)
    expected = reference(
        ctx, tiny, num_layers=2, lang=lang, rescale_with_baseline=True, baseline_path=str(baseline)
    )
    metric = BERTScore(
        model=str(tiny), num_layers=2, rescale_with_baseline=True, baseline_path=str(baseline)
    )
    check_equal(metric, ctx, expected)
    # (s - b) / (1 - b) with layer 2's row: F baseline 0.64
    raw = reference(ctx, tiny, num_layers=2)["f1"]
    np.testing.assert_allclose(expected["f1"], (raw - 0.64) / (1 - 0.64), atol=1e-6)


def test_multi_reference_is_bert_scores_rule(tiny: Path, shared_data: Path) -> None:
    """Two human translations as references: bert-score's maximum per candidate, taken for P,
    R and F1 separately (bench matches it, with and without idf)."""
    folder = shared_data / "wmt21-newstest2021" / "references"
    a = (folder / "newstest2021.en-zh.ref.A.zh").read_text(encoding="utf-8").splitlines()[:N]
    b = (folder / "newstest2021.en-zh.ref.B.zh").read_text(encoding="utf-8").splitlines()[:N]
    refs = [(x, y) if i % 2 else (y, x) for i, (x, y) in enumerate(zip(a, b, strict=True))]
    hyps: list[str | None] = [drop(x, "zh", i) for i, x in enumerate(a)]
    ctx = make_ctx("translation-en-zh", hyps, refs)
    expected = reference(ctx, tiny, num_layers=2)
    check_equal(BERTScore(model=str(tiny), num_layers=2), ctx, expected)
    # the rule: each of P, R, F1 is the max over the references (elementwise)
    singles = [reference(make_ctx("translation-en-zh", hyps, [(r[k],) for r in refs]), tiny,
                         num_layers=2) for k in (0, 1)]  # fmt: skip
    for out in ("f1", "precision", "recall"):
        np.testing.assert_allclose(
            expected[out], np.maximum(singles[0][out], singles[1][out]), atol=1e-6
        )
    check_equal(
        BERTScore(model=str(tiny), num_layers=2, idf=True),
        make_ctx("translation-en-zh", hyps, refs),
        reference(ctx, tiny, num_layers=2, idf=True),
    )


@pytest.mark.slow
def test_equals_bert_score_on_summaries(tiny: Path) -> None:
    """Longer texts (the smoke summarization set's references, both languages), idf on."""
    for task in ("summarization-en", "summarization-zh"):
        spec, requests, references = smoke(task)
        lang = spec.languages[0]
        hyps = [TextResponse(text=drop(r[0], lang, i)) for i, r in enumerate(references)]
        ctx = ScoringContext(spec, requests, references, hyps, BootstrapConfig(resamples=0))
        check_equal(
            BERTScore(model=str(tiny), num_layers=2, idf=True, batch_size=7),
            ctx,
            reference(ctx, tiny, num_layers=2, idf=True),
        )


def test_failed_example_scores_zero(tiny: Path, tmp_path: Path) -> None:
    """A failed example is the empty hypothesis: bert-score's 0 (its empty-sentence branch
    needs the tokenizer method transformers 5 dropped, which bench supplies), rescaled like
    any score; the other segments are unchanged."""
    base = make_ctx("translation-zh-en")
    hyps: list[str | None] = list(hyps_of(base))
    hyps[3] = None
    ctx = make_ctx("translation-zh-en", hyps)
    rows = BERTScore(model=str(tiny), num_layers=2).per_example(ctx)
    assert [rows[k][3] for k in rows] == [0.0, 0.0, 0.0]
    others = reference(
        make_ctx("translation-zh-en", hyps[:3], list(base.references[:3])), tiny, num_layers=2
    )
    np.testing.assert_allclose(rows["bertscore"][:3], others["f1"], atol=TOL)
    baseline = write_baseline(tmp_path / "b.tsv")
    rescaled = BERTScore(
        model=str(tiny), num_layers=2, rescale_with_baseline=True, baseline_path=str(baseline)
    ).per_example(make_ctx("translation-zh-en", hyps))
    assert rescaled["bertscore"][3] == pytest.approx((0 - 0.64) / (1 - 0.64), abs=1e-6)
    assert rescaled["bertscore/recall"][3] == pytest.approx((0 - 0.65) / (1 - 0.65), abs=1e-6)


def test_roberta_tokenizer_keeps_bert_scores_prefix_space(tmp_path: Path) -> None:
    """bert-score asks RoBERTa/GPT-2 tokenizers for a prefix space through ``encode``, which
    transformers 5 ignores; bench's adjusted tokenizer gives what bert-score meant (the
    sentence tokenized as ``" " + sentence``)."""
    from tokenizers import pre_tokenizers
    from transformers import AutoTokenizer, RobertaTokenizer

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4}
    for ch in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab.setdefault(ch, len(vocab))
    merges = [("Ġ", "t"), ("Ġt", "h"), ("h", "e")]
    for x, y in merges:
        vocab.setdefault(x + y, len(vocab))
    RobertaTokenizer(vocab=vocab, merges=merges).save_pretrained(tmp_path)
    plain = AutoTokenizer.from_pretrained(tmp_path, use_fast=False)
    fitted = bertscore_module._fit_tokenizer(plain, tmp_path)
    sentence = "the cat"
    wanted = plain.encode(" " + sentence)
    assert bert_score.utils.sent_encode(fitted, sentence) == wanted
    assert bert_score.utils.sent_encode(fitted, "") == [0, 2]
    # no model_max_length saved: bert-score's truncation length must still fit the tokenizer
    assert plain.model_max_length > 2**63 and fitted.model_max_length < 2**31
    if int(TF_VERSION.split(".")[0]) >= 5:  # the breakages bench works around
        with pytest.raises(OverflowError):
            bert_score.utils.sent_encode(plain, sentence)
        plain.model_max_length = 512
        assert bert_score.utils.sent_encode(plain, sentence) != wanted


# --------------------------------------------------------------------------- signature, identity


def test_signature(tiny: Path, tmp_path: Path) -> None:
    ctx = make_ctx("translation-zh-en", bootstrap=BootstrapConfig(resamples=200))
    sha = folder_sha256(tiny)[:12]
    values = {v.name: v for v in BERTScore(model=str(tiny), num_layers=2).score(ctx)}
    tail = f"prec:fp32|bert-score:{BS_VERSION}|transformers:{TF_VERSION}"
    boot = ctx.bootstrap.tag()
    assert values["bertscore"].signature == (
        f"bertscore|f1|model:local:tiny-bert@sha256:{sha}|L:2|idf:no|rescale:no|{tail}|{boot}|v:1"
    )
    assert values["bertscore/precision"].signature.startswith("bertscore|precision|model:")
    assert values["bertscore/recall"].signature.startswith("bertscore|recall|model:")
    assert values["bertscore"].ci_low is not None and values["bertscore"].ci_high is not None
    baseline = write_baseline(tmp_path / "b.tsv")
    file_sha = hashlib.sha256(baseline.read_bytes()).hexdigest()[:12]
    metric = BERTScore(
        model=str(tiny), num_layers=1, idf=True, rescale_with_baseline=True,
        baseline_path=str(baseline),
    )  # fmt: skip
    (sig,) = metric.signature_parts(make_ctx("translation-zh-en"))[4:5]
    assert metric.signature_parts(make_ctx("translation-zh-en"))[:5] == [
        f"model:local:tiny-bert@sha256:{sha}", "L:1", "idf:yes", "rescale:yes",
        f"baseline:sha256:{file_sha}",
    ]  # fmt: skip
    assert sig == f"baseline:sha256:{file_sha}"


def test_fingerprint_covers_what_changes_a_score(tiny: Path, tmp_path: Path) -> None:
    ctx = make_ctx("translation-zh-en")
    other = make_ctx("translation-zh-en", refs=[(r[0] + " Indeed.",) for r in ctx.references])
    base = BERTScore(model=str(tiny), num_layers=2)
    fp = base.fingerprint(ctx)
    # batch size and device change no score; another corpus without idf changes nothing
    assert (
        BERTScore(model=str(tiny), num_layers=2, batch_size=3, device="cpu").fingerprint(ctx) == fp
    )
    assert base.fingerprint(other) == fp
    assert BERTScore(model=str(tiny), num_layers=1).fingerprint(ctx) != fp
    with_idf = BERTScore(model=str(tiny), num_layers=2, idf=True)
    assert with_idf.fingerprint(ctx) != fp
    assert with_idf.fingerprint(other) != with_idf.fingerprint(ctx)  # idf: corpus hashed
    reordered = make_ctx("translation-zh-en", refs=list(reversed(ctx.references)))
    assert with_idf.fingerprint(reordered) == with_idf.fingerprint(ctx)  # same documents
    reseeded = tiny_bert(tmp_path / "tiny-bert", seed=1)
    assert BERTScore(model=str(reseeded), num_layers=2).fingerprint(ctx) != fp
    b1, b2 = write_baseline(tmp_path / "b1.tsv"), write_baseline(tmp_path / "b2.tsv", 4)
    r1 = BERTScore(model=str(tiny), num_layers=2, rescale_with_baseline=True, baseline_path=str(b1))
    r2 = BERTScore(model=str(tiny), num_layers=2, rescale_with_baseline=True, baseline_path=str(b2))
    assert len({fp, r1.fingerprint(ctx), r2.fingerprint(ctx)}) == 3


def test_hub_model_from_the_local_cache_and_shipped_baseline(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hub id found in the Hugging Face cache is named by id and commit; rescaling then uses
    bert-score's shipped baseline for that model and the target language."""
    import huggingface_hub.constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--roberta-large"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for f in tiny.iterdir():
        (snapshot / f.name).write_bytes(f.read_bytes())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    ctx = make_ctx("translation-zh-en")
    metric = BERTScore(num_layers=2, rescale_with_baseline=True)  # default for English
    shipped = Path(bert_score.__file__).parent / "rescale_baseline" / "en" / "roberta-large.tsv"
    sha = hashlib.sha256(shipped.read_bytes()).hexdigest()[:12]
    assert metric.signature_parts(ctx)[:5] == [
        f"model:roberta-large@{commit[:12]}", "L:2", "idf:no", "rescale:yes",
        f"baseline:sha256:{sha}",
    ]  # fmt: skip
    expected = reference(
        ctx, snapshot, num_layers=2, lang="en", rescale_with_baseline=True,
        baseline_path=str(shipped),
    )  # fmt: skip
    check_equal(metric, ctx, expected)
    # no num_layers: bert-score's tuned layer for roberta-large (17), which the tiny model lacks
    assert BERTScore().signature_parts(ctx)[1] == "L:17"
    with pytest.raises(BenchError, match="layer 17") as err:
        BERTScore().score(ctx)
    assert "num_layers" in str(err.value)


# --------------------------------------------------------------------------- defaults, errors


def test_default_model_per_language() -> None:
    assert default_model("en") == "roberta-large"
    assert default_model("en-US") == "roberta-large"
    assert default_model("zh") == "bert-base-chinese"
    assert default_model("zh-Hant") == "bert-base-chinese"
    assert default_model("de") == "bert-base-multilingual-cased"
    for lang in ("en", "zh", "fr", "tr"):
        assert default_model(lang) == bert_score.utils.lang2model[lang]


@pytest.mark.parametrize(
    ("task", "lang", "model"),
    [
        ("translation-zh-en", None, "roberta-large"),
        ("translation-en-zh", None, "bert-base-chinese"),
        ("translation-en-zh", "de", "bert-base-multilingual-cased"),
    ],
)
def test_missing_default_model_names_the_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, task: str, lang: str | None, model: str
) -> None:
    """The default follows the target language (or ``lang``); absent from the (empty) local
    cache, it is a MissingDependency naming the download, before anything is computed."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(MissingDependency) as err:
        BERTScore(lang=lang).score(make_ctx(task))
    assert f"hf download {model}" in str(err.value)
    assert "bench[neural]" in str(err.value)


def test_missing_model_folder(tmp_path: Path) -> None:
    with pytest.raises(MissingDependency, match="neither a local folder"):
        BERTScore(model=str(tmp_path / "no-such-model"), num_layers=2).score(
            make_ctx("translation-zh-en")
        )


def test_missing_package(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "bert_score", None)  # import bert_score → ImportError
    with pytest.raises(MissingDependency) as err:
        BERTScore(model=str(tiny), num_layers=2).score(make_ctx("translation-zh-en"))
    assert err.value.fix == "pip install 'bench[neural]'"


def test_local_folder_needs_num_layers(tiny: Path) -> None:
    with pytest.raises(BenchError, match="no default layer for local folder") as err:
        BERTScore(model=str(tiny)).score(make_ctx("translation-zh-en"))
    assert "num_layers" in (err.value.fix or "")


def test_layer_beyond_the_model(tiny: Path) -> None:
    with pytest.raises(BenchError, match="layer 5"):
        BERTScore(model=str(tiny), num_layers=5).score(make_ctx("translation-zh-en"))


def test_baseline_errors(tiny: Path, tmp_path: Path) -> None:
    ctx = make_ctx("translation-zh-en")
    with pytest.raises(ValidationError, match="rescale_with_baseline"):
        BERTScore(model=str(tiny), num_layers=2, baseline_path="b.tsv")
    with pytest.raises(BenchError, match="only for hub models") as err:
        BERTScore(model=str(tiny), num_layers=2, rescale_with_baseline=True).score(ctx)
    assert "baseline_path" in (err.value.fix or "")
    with pytest.raises(DataError, match="does not exist"):
        BERTScore(
            model=str(tiny), num_layers=2, rescale_with_baseline=True,
            baseline_path=str(tmp_path / "none.tsv"),
        ).score(ctx)  # fmt: skip
    short = write_baseline(tmp_path / "short.tsv", layers=2)  # rows for layers 0 and 1 only
    with pytest.raises(DataError, match="layer 2"):
        BERTScore(
            model=str(tiny), num_layers=2, rescale_with_baseline=True, baseline_path=str(short)
        ).score(ctx)


def test_registry_and_paired_test() -> None:
    assert registry.get("metric", "bertscore") is BERTScore
    metric = BERTScore()
    for name in ("bertscore", "bertscore/precision", "bertscore/recall"):
        assert metric.paired(name) is not None
    assert metric.paired("bleu") is None


# --------------------------------------------------------------------------- segment cache


def test_second_scoring_computes_no_segment(tiny: Path, tmp_path: Path) -> None:
    metric = BERTScore(model=str(tiny), num_layers=2, idf=True)
    with PredictionCache(tmp_path / "cache.sqlite") as cache:
        first = make_ctx("translation-en-zh", cache=cache)
        values = {v.name: v.value for v in metric.score(first)}
        assert first.segment_counts["bertscore"] == {
            "segments": N, "hits": 0, "computed": N, "failed": 0
        }  # fmt: skip
        again = make_ctx("translation-en-zh", cache=cache)
        assert {v.name: v.value for v in metric.score(again)} == values
        assert again.segment_counts["bertscore"] == {
            "segments": N, "hits": N, "computed": 0, "failed": 0
        }  # fmt: skip
        # another reference corpus: idf differs, so no cached segment is reused
        _, _, refs = smoke("translation-en-zh")
        fewer = make_ctx("translation-en-zh", refs=refs[: N // 2], cache=cache)
        metric.score(fewer)
        assert fewer.segment_counts["bertscore"]["computed"] == N // 2
        assert fewer.segment_counts["bertscore"]["hits"] == 0
