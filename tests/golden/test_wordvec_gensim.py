"""Golden: bench's word-similarity and analogy numbers equal gensim 4.4's on the same vectors.

gensim's ``KeyedVectors.evaluate_word_pairs`` and ``evaluate_word_analogies`` are the reference,
run on the same files with the same case / restrict_vocab / OOV settings, with vectors that
ship in gensim's wheel (``lee_fasttext.vec``, ``test_glove.txt``) and vectors trained here with
:func:`bench.adapters.vector_files.train_word2vec` on gensim's ``lee_background.cor`` and on
jieba-segmented ChnSentiCorp reviews from ``../shared/data``. 3CosMul, which gensim does not
evaluate, is checked question by question against ``most_similar_cosmul``.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.adapters.vector_files import (
    Word2VecSettings,
    load_keyed_vectors,
    train_word2vec,
    vectors_sha256,
)
from bench.adapters.vectors import VectorModel, VectorsAdapter
from bench.catalog import builtin_tasks_root
from bench.data import load_split
from bench.families.base import get_family
from bench.metrics.base import BootstrapConfig, ScoringContext, score_task
from bench.registry import registry
from bench.spec import TaskSpec, load_task

gensim_utils = pytest.importorskip("gensim.test.utils")
datapath = gensim_utils.datapath

WORD_VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "word-vectors"
CHNSENTICORP = WORD_VECTORS.parent / "chnsenticorp-htl" / "ChnSentiCorp_htl_all.csv"
TOL = 1e-9

logging.getLogger("gensim").setLevel(logging.WARNING)


class MemoryVectors(VectorModel):
    """Vectors held in memory (trained in the test)."""

    name = "test-memory-vectors"

    def __init__(self, kv: Any) -> None:
        super().__init__(None)
        self.kv = kv

    def load_vectors(self) -> Any:
        return self.kv

    def vectors_identity(self) -> dict[str, Any]:
        return {"sha256": vectors_sha256(self.kv)}


@pytest.fixture(scope="module")
def lee_w2v() -> Any:
    from gensim.utils import simple_preprocess

    with open(datapath("lee_background.cor"), encoding="utf-8") as fh:
        sentences = [simple_preprocess(line) for line in fh]
    return train_word2vec(sentences, Word2VecSettings(dim=24, epochs=3, min_count=2, seed=1))


@pytest.fixture(scope="module")
def zh_w2v() -> Any:
    from bench.preprocess.zh import ZhSegment

    assert CHNSENTICORP.is_file(), f"expected the shared data at {CHNSENTICORP}"
    with CHNSENTICORP.open(encoding="utf-8") as fh:
        reviews = [row["review"] for row in csv.DictReader(fh) if row["review"]]
    segment = ZhSegment()
    sentences = [segment.tokenize(text) for text in reviews[:3000]]
    return train_word2vec(sentences, Word2VecSettings(dim=16, epochs=2, min_count=2, seed=3))


def _spec(name: str, **options: Any) -> TaskSpec:
    spec = load_task(builtin_tasks_root() / "standard" / f"{name}.yaml")
    return spec.model_copy(update={"options": {**spec.options, **options}})


def bench_values(
    spec: TaskSpec, data: str | Path, model: VectorModel, resamples: int = 0
) -> tuple[dict[str, Any], list[Any], list[Any]]:
    """Load ``data`` as ``spec``'s test split, predict with ``model``, score every metric."""
    family = get_family(spec.family)
    split = load_split(spec, family, "test", data_override=data)
    built = [family.build(row, spec) for row in split.dataset.to_list()]
    requests = [r for r, _ in built]
    references = [ref for _, ref in built]
    responses = list(model.predict(requests))
    metrics = [registry.get("metric", m.name)(**m.params) for m in spec.metrics]
    ctx = ScoringContext(
        spec=spec,
        requests=requests,
        references=references,
        responses=responses,
        bootstrap=BootstrapConfig(resamples=resamples),
    )
    values, skipped, _ = score_task(ctx, metrics)
    assert not skipped, skipped
    return values, requests, responses


# --------------------------------------------------------------------------- word pairs

PAIR_SETTINGS = [
    {},  # gensim's defaults: case-insensitive, restrict_vocab=300000, skip OOV
    {"case_insensitive": False, "restrict_vocab": 800},
    {"oov": "constant", "restrict_vocab": None},
]


def _check_pairs(spec: TaskSpec, data: str | Path, kv: Any, model: VectorModel) -> None:
    values, _, _ = bench_values(spec, data, model)
    o = spec.options
    restrict = o.get("restrict_vocab", 300000) or len(kv)
    pearson, spearman, oov_ratio = kv.evaluate_word_pairs(
        str(data),
        restrict_vocab=restrict,
        case_insensitive=o.get("case_insensitive", True),
        dummy4unknown=o.get("oov") == "constant",
    )
    assert abs(values["spearman"].value - spearman.statistic) <= TOL
    assert abs(values["pearson"].value - pearson.statistic) <= TOL
    assert abs(values["pair_coverage"].value - (1 - oov_ratio / 100)) <= TOL


@pytest.mark.parametrize("settings", PAIR_SETTINGS, ids=["default", "cased-800", "dummy"])
@pytest.mark.parametrize(
    "task,file", [("wordsim353", "wordsim353.tsv"), ("simlex999", "simlex999.txt")]
)
def test_word_pairs_equal_gensim_on_wheel_vectors(
    task: str, file: str, settings: dict[str, Any]
) -> None:
    model = VectorsAdapter(datapath("lee_fasttext.vec"))
    kv = load_keyed_vectors(datapath("lee_fasttext.vec"))
    _check_pairs(_spec(task, **settings), datapath(file), kv, model)


def test_word_pairs_equal_gensim_on_glove_vectors(tmp_path: Path) -> None:
    # test_glove.txt (GloVe format, 76 words) covers no WordSim/SimLex pair: score pairs of
    # its own words, some upper-cased, some unknown, a comment and a header-less layout.
    lines = ["# pairs of test_glove.txt's words"]
    words = ["the", "and", "of", "for", "that", "on", "is", "was", "said", "with", "he", "as"]
    rng = np.random.default_rng(7)
    for i, w in enumerate(words):
        for v in words[i + 1 :: 3]:
            lines.append(f"{w.upper() if i % 2 else w}\t{v}\t{rng.uniform(0, 10):.2f}")
    lines.append("the\tzyzzyva\t3.0")
    data = tmp_path / "pairs.tsv"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    kv = load_keyed_vectors(datapath("test_glove.txt"))
    model = VectorsAdapter(datapath("test_glove.txt"))
    assert model.vector_format() == "glove"
    smoke = load_task(builtin_tasks_root() / "smoke" / "wordsim-en.yaml")
    for settings in PAIR_SETTINGS[:2]:
        spec = smoke.model_copy(update={"options": {**smoke.options, **settings}})
        _check_pairs(spec, data, kv, model)


@pytest.mark.parametrize("settings", PAIR_SETTINGS, ids=["default", "cased-800", "dummy"])
def test_word_pairs_equal_gensim_on_trained_vectors(lee_w2v: Any, settings: dict[str, Any]) -> None:
    for task, file in (("wordsim353", "wordsim353.tsv"), ("simlex999", "simlex999.txt")):
        _check_pairs(_spec(task, **settings), datapath(file), lee_w2v, MemoryVectors(lee_w2v))


@pytest.mark.parametrize("settings", [{}, {"oov": "constant"}], ids=["skip", "dummy"])
def test_wordsim_297_equals_gensim_on_chinese_vectors(
    zh_w2v: Any, settings: dict[str, Any]
) -> None:
    data = WORD_VECTORS / "wordsim-297" / "wordsim-297.txt"
    values, _, _ = bench_values(_spec("wordsim-297", **settings), data, MemoryVectors(zh_w2v))
    assert values["pair_coverage"].value > 0.15  # the check is not vacuous (62 pairs)
    _check_pairs(_spec("wordsim-297", **settings), data, zh_w2v, MemoryVectors(zh_w2v))


# --------------------------------------------------------------------------- analogies


def _check_analogies(spec: TaskSpec, data: str | Path, kv: Any, model: VectorModel) -> None:
    values, _, _ = bench_values(spec, data, model)
    o = spec.options
    dummy = o.get("oov") == "wrong"
    score, sections = kv.evaluate_word_analogies(
        str(data),
        restrict_vocab=o.get("restrict_vocab", 300000) or len(kv),
        case_insensitive=o.get("case_insensitive", True),
        dummy4unknown=dummy,
    )
    total = sections[-1]
    scored = len(total["correct"]) + len(total["incorrect"])
    assert scored > 0
    assert values["analogy_3cosadd"].n == scored
    assert abs(values["analogy_3cosadd"].value - score) <= TOL
    for section in sections[:-1]:
        right, wrong = len(section["correct"]), len(section["incorrect"])
        name = f"analogy_3cosadd/{section['section']}"
        if right + wrong == 0:
            assert name not in values
            continue
        assert values[name].n == right + wrong
        assert abs(values[name].value - right / (right + wrong)) <= TOL
    questions = values["analogy_coverage"].n
    if not dummy:
        assert abs(values["analogy_coverage"].value - scored / questions) <= TOL


@pytest.mark.parametrize(
    "settings",
    [
        {},
        pytest.param({"case_insensitive": False, "restrict_vocab": 1000}, marks=pytest.mark.slow),
        pytest.param({"oov": "wrong"}, marks=pytest.mark.slow),
    ],
    ids=["default", "cased-1000", "dummy"],
)
def test_google_analogy_equals_gensim(lee_w2v: Any, settings: dict[str, Any]) -> None:
    spec = _spec("google-analogy", **settings)
    data = datapath("questions-words.txt")
    _check_analogies(spec, data, lee_w2v, MemoryVectors(lee_w2v))
    for vectors in ("lee_fasttext.vec", "test_glove.txt"):
        kv = load_keyed_vectors(datapath(vectors))
        _check_analogies(spec, data, kv, VectorsAdapter(datapath(vectors)))


@pytest.mark.parametrize(
    "task,file",
    [
        ("ca8-morphological", "ca8/morphological.txt"),
        ("ca8-semantic", "ca8/semantic.txt"),
        ("ca-translated", "ca-translated/ca_translated.txt"),
    ],
)
def test_chinese_analogies_equal_gensim(zh_w2v: Any, task: str, file: str) -> None:
    _check_analogies(_spec(task), WORD_VECTORS / file, zh_w2v, MemoryVectors(zh_w2v))


def _gensim_answer(kv: Any, ok_vocab: dict[str, int], q: Any, case: bool, cosmul: bool) -> str:
    """gensim's evaluate_word_analogies choice for one question, with ``most_similar`` or
    ``most_similar_cosmul`` (on ``kv`` whose key_to_index is ``ok_vocab``)."""
    fold = str.upper if case else str
    a, b, c = fold(q.a), fold(q.b), fold(q.c)
    original, kv.key_to_index = kv.key_to_index, ok_vocab
    try:
        if cosmul:
            sims = kv.most_similar_cosmul(positive=[b, c], negative=[a], topn=5)
        else:
            sims = kv.most_similar(positive=[b, c], negative=[a], topn=5, restrict_vocab=len(kv))
    finally:
        kv.key_to_index = original
    predicted = None
    for key, _ in sims:
        predicted = fold(key)
        if predicted in ok_vocab and predicted not in {a, b, c}:
            break
    return predicted or ""


@pytest.mark.parametrize("case,restrict", [(True, 2000), (False, None)])
def test_each_answer_equals_gensims_most_similar_and_cosmul(
    lee_w2v: Any, case: bool, restrict: int | None
) -> None:
    from gensim.models import KeyedVectors

    spec = _spec("google-analogy", case_insensitive=case, restrict_vocab=restrict)
    _, requests, responses = bench_values(
        spec, datapath("questions-words.txt"), MemoryVectors(lee_w2v)
    )
    # The restricted vocabulary as its own KeyedVectors: gensim's most_similar_cosmul ignores
    # restrict_vocab, so it is given only the first N words to search.
    n = restrict or len(lee_w2v)
    head = KeyedVectors(lee_w2v.vector_size)
    head.add_vectors(lee_w2v.index_to_key[:n], lee_w2v.vectors[:n])
    fold = str.upper if case else str
    ok_vocab = {fold(k): head.get_index(k) for k in reversed(head.index_to_key)}
    checked = 0
    for q, response in zip(requests, responses, strict=True):
        if response.cosadd is None:
            assert not all(fold(w) in ok_vocab for w in (q.a, q.b, q.c, q.d))
            continue
        checked += 1
        assert fold(response.cosadd) == _gensim_answer(head, ok_vocab, q, case, cosmul=False)
        assert fold(response.cosmul) == _gensim_answer(head, ok_vocab, q, case, cosmul=True)
    assert checked >= 50


def test_intervals_cover_the_values(lee_w2v: Any) -> None:
    model = MemoryVectors(lee_w2v)
    values, _, _ = bench_values(_spec("simlex999"), datapath("simlex999.txt"), model, 200)
    for name in ("spearman", "pearson", "pair_coverage"):
        v = values[name]
        assert v.ci_low is not None and v.ci_low <= v.value <= v.ci_high, name
    values, _, _ = bench_values(
        _spec("google-analogy"), datapath("questions-words.txt"), model, 200
    )
    v = values["analogy_3cosadd"]
    assert v.ci_low is not None and v.ci_low <= v.value <= v.ci_high
    assert np.isfinite(values["analogy_3cosmul"].value)
