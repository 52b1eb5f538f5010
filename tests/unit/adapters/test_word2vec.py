"""``baseline:word2vec``: corpus choice by language, reproducibility (in and across processes),
the fingerprint's inputs, saving, and gensim's own evaluations on the trained vectors."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gensim.test.utils import datapath

from bench.adapters import word2vec
from bench.adapters.base import make_adapter
from bench.adapters.vector_files import detect_format, load_keyed_vectors, vectors_sha256
from bench.adapters.word2vec import BUILTIN_CORPORA, Word2VecBaseline, corpus_sentences
from bench.catalog import find_task
from bench.errors import AdapterError, DataError, ModelSpecError

ROOT = Path(__file__).resolve().parents[3]
LEE = datapath("lee_background.cor")
FAST = {"dim": 16, "epochs": 1}


@pytest.fixture(autouse=True)
def fresh_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test trains for itself: no vectors memoised by an earlier test."""
    monkeypatch.setattr(word2vec, "_TRAINED", {})
    monkeypatch.setattr(word2vec, "_SAVED", {})


def trained_hash(**params: object) -> str:
    word2vec._TRAINED.clear()
    return vectors_sha256(Word2VecBaseline(corpus=LEE, **FAST, **params).keyed_vectors())


def test_same_seed_same_vectors_other_seed_other_vectors() -> None:
    first, again, other = trained_hash(seed=7), trained_hash(seed=7), trained_hash(seed=8)
    assert first == again
    assert other != first


def test_same_vectors_in_processes_with_different_string_hashing() -> None:
    code = (
        "from bench.adapters.word2vec import Word2VecBaseline;"
        "from bench.adapters.vector_files import vectors_sha256;"
        f"m = Word2VecBaseline(corpus={LEE!r}, dim=16, epochs=1, seed=7);"
        "print(vectors_sha256(m.keyed_vectors()))"
    )
    runs = []
    for hashseed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hashseed, "PYTHONPATH": str(ROOT)}
        runs.append(
            subprocess.Popen(
                [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True
            )
        )
    hashes = []
    for run in runs:
        out, _ = run.communicate(timeout=120)
        assert run.returncode == 0
        hashes.append(out.strip().splitlines()[-1])
    assert hashes[0] == hashes[1] == trained_hash(seed=7)


def test_corpus_follows_the_tasks_language() -> None:
    model = Word2VecBaseline(**FAST)
    en = find_task("sentiment-en")
    zh = find_task("sentiment-zh")
    assert model.corpus_path() == BUILTIN_CORPORA["en"]  # before any task: English
    chinese = model.for_task(zh, None)  # type: ignore[arg-type]
    assert chinese is not model and model.language == "en"
    assert chinese.corpus_path() == BUILTIN_CORPORA["zh"]
    assert model.for_task(en, None) is model  # type: ignore[arg-type]
    kv = chinese.keyed_vectors()
    # jieba's words, not characters: the corpus says 北京是中国的首都
    assert {"北京", "首都", "中国"} <= set(kv.index_to_key)
    assert model.fingerprint(zh) == chinese.fingerprint() != model.fingerprint(en)
    assert model.fingerprint(en) == model.fingerprint()
    info = chinese.info()
    raw = BUILTIN_CORPORA["zh"].read_bytes()
    assert info["corpus"]["sha256"] == hashlib.sha256(raw).hexdigest()
    assert info["corpus"]["source"] == "builtin:zh"
    assert info["corpus"]["sentences"] == len(raw.decode().splitlines())
    assert info["vocabulary_size"] == len(kv)
    assert info["settings"]["dim"] == 16 and info["settings"]["seed"] == 0
    assert info["training_seconds"] > 0 and info["tokenisation"] == "jieba-lower"


def test_a_corpus_file_is_segmented_by_the_tasks_language(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("我来到北京清华大学。\n他来到了网易杭研大厦。\n" * 5, encoding="utf-8")
    model = Word2VecBaseline(corpus=str(corpus), **FAST)
    zh_words = set(model.for_task(find_task("sentiment-zh"), None).keyed_vectors().index_to_key)  # type: ignore[arg-type]
    assert {"我", "来到", "北京", "清华大学"} <= zh_words
    # an English task reads the same file with the regex rule: runs of characters
    assert set(model.keyed_vectors().index_to_key) == {"我来到北京清华大学", "他来到了网易杭研大厦"}
    assert corpus_sentences(["It's a well-known fact -- OK?"], "en") == [
        ["it's", "a", "well-known", "fact", "ok"]
    ]


def test_fingerprint_covers_corpus_content_settings_and_gensim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    shutil.copy(LEE, a)
    shutil.copy(LEE, b)
    base = Word2VecBaseline(corpus=str(a)).fingerprint()
    assert Word2VecBaseline(corpus=str(b)).fingerprint() == base  # content, not path
    assert Word2VecBaseline(corpus=str(a), save=str(tmp_path / "v.txt")).fingerprint() == base
    changed = [
        Word2VecBaseline(corpus=str(a), **{key: value}).fingerprint()  # type: ignore[arg-type]
        for key, value in [
            ("sg", 0),
            ("dim", 50),
            ("window", 3),
            ("epochs", 6),
            ("min_count", 2),
            ("negative", 0),
            ("seed", 1),
        ]
    ]
    assert base not in changed and len(set(changed)) == len(changed)
    b.write_text(b.read_text(encoding="utf-8") + "one more sentence\n", encoding="utf-8")
    assert Word2VecBaseline(corpus=str(b)).fingerprint() != base
    # gensim's version, as its installed metadata gives it (gensim itself is not imported).
    import bench.adapters.word2vec as module

    real = module.library_version
    monkeypatch.setattr(module, "library_version", lambda d: "0.0.1" if d == "gensim" else real(d))
    assert Word2VecBaseline(corpus=str(a)).fingerprint() != base


def test_save_writes_word2vec_text_that_reads_back_bit_for_bit(tmp_path: Path) -> None:
    spec = f"baseline:word2vec,dim=16,epochs=1,corpus={LEE},save={tmp_path}/w2v-{{language}}.txt"
    model = make_adapter(spec)
    assert isinstance(model, Word2VecBaseline)
    kv = model.keyed_vectors()
    path = tmp_path / "w2v-en.txt"
    assert detect_format(path) == "word2vec"
    assert path.read_text(encoding="utf-8").splitlines()[0] == f"{len(kv)} 16"
    back = load_keyed_vectors(path)
    assert back.index_to_key == kv.index_to_key
    # float32 written as the shortest decimal that reads back to the same float32
    assert back.vectors.dtype == np.float32 and np.array_equal(back.vectors, kv.vectors)
    assert vectors_sha256(back) == vectors_sha256(kv)
    assert model.info()["saved_to"] == str(path)


def test_one_save_path_never_takes_two_vector_sets(tmp_path: Path) -> None:
    target = str(tmp_path / "v.txt")
    Word2VecBaseline(corpus=LEE, save=target, **FAST).keyed_vectors()
    with pytest.raises(AdapterError, match=r"\{language\}"):
        Word2VecBaseline(corpus=LEE, save=target, seed=1, **FAST).keyed_vectors()


def test_gensim_evaluates_the_trained_vectors() -> None:
    kv = Word2VecBaseline(corpus=LEE, dim=32, epochs=3).keyed_vectors()
    pearson, spearman, oov = kv.evaluate_word_pairs(datapath("wordsim353.tsv"))
    assert 0 < oov < 100 and np.isfinite([pearson.statistic, spearman.statistic]).all()
    accuracy, sections = kv.evaluate_word_analogies(datapath("questions-words.txt"))
    total = next(s for s in sections if s["section"] == "Total accuracy")
    assert len(total["correct"]) + len(total["incorrect"]) > 0 and 0 <= accuracy <= 1


def test_builtin_english_corpus_trains_and_covers_common_words() -> None:
    kv = Word2VecBaseline(**FAST).keyed_vectors()
    assert {"king", "queen", "man", "woman", "paris", "france", "better"} <= set(kv.index_to_key)


def test_the_builtin_corpora_are_what_their_script_generates(tmp_path: Path) -> None:
    script = BUILTIN_CORPORA["en"].parent / "make_corpus.py"
    subprocess.run([sys.executable, str(script), str(tmp_path)], check=True, timeout=60)
    for language, path in BUILTIN_CORPORA.items():
        assert (tmp_path / f"{language}.txt").read_bytes() == path.read_bytes(), language


def test_errors_name_the_file_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        Word2VecBaseline(corpus=str(tmp_path / "missing.txt")).keyed_vectors()
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("fine line\ncaf\xe9 au lait\n".encode("latin-1"))
    with pytest.raises(DataError, match="line 2, is not UTF-8"):
        Word2VecBaseline(corpus=str(latin1)).keyed_vectors()
    with pytest.raises(DataError, match="min_count"):
        Word2VecBaseline(corpus=LEE, min_count=10**6).keyed_vectors()
    with pytest.raises(ModelSpecError, match="no built-in corpus for language 'fr'"):
        Word2VecBaseline()._for_language("fr").corpus_path()
    with pytest.raises(ModelSpecError, match="unknown parameter"):
        make_adapter("baseline:word2vec,dimension=5")


def test_docstring_examples_run() -> None:
    import doctest

    result = doctest.testmod(word2vec, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 3 and result.failed == 0
