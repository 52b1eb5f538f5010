"""Vector files through gensim's readers and seeded word2vec training (vector_files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.adapters.vector_files import (
    Word2VecSettings,
    detect_format,
    load_keyed_vectors,
    train_word2vec,
    vectors_sha256,
)
from bench.errors import DataError

gensim_utils = pytest.importorskip("gensim.test.utils")


def wheel(name: str) -> Path:
    return Path(gensim_utils.datapath(name))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("test_glove.txt", "glove"),
        ("lee_fasttext.vec", "word2vec"),
        ("lee_fasttext.bin", "fasttext"),  # written before fastText's magic number
        ("lee_fasttext_new.bin", "fasttext"),  # with the magic number
    ],
)
def test_detects_the_formats_of_gensims_files(name: str, expected: str) -> None:
    assert detect_format(wheel(name)) == expected


def test_each_format_reads_as_gensim_reads_it(tmp_path: Path) -> None:
    from gensim.models import KeyedVectors

    text = load_keyed_vectors(wheel("lee_fasttext.vec"))
    reference = KeyedVectors.load_word2vec_format(str(wheel("lee_fasttext.vec")))
    assert text.index_to_key == reference.index_to_key
    assert np.array_equal(text.vectors, reference.vectors)

    # The same vectors as word2vec binary, written by gensim, detected and read back.
    binary = tmp_path / "lee.bin"
    reference.save_word2vec_format(str(binary), binary=True)
    assert detect_format(binary) == "word2vec-binary"
    back = load_keyed_vectors(binary)
    assert back.index_to_key == reference.index_to_key
    assert np.array_equal(back.vectors, reference.vectors)

    glove = load_keyed_vectors(wheel("test_glove.txt"))
    ref_glove = KeyedVectors.load_word2vec_format(str(wheel("test_glove.txt")), no_header=True)
    assert glove.index_to_key == ref_glove.index_to_key

    fasttext = load_keyed_vectors(wheel("lee_fasttext.bin"))
    assert fasttext.vector_size == reference.vector_size
    assert set(fasttext.index_to_key) == set(reference.index_to_key)


def test_a_chinese_glove_file_reads(tmp_path: Path) -> None:
    path = tmp_path / "zh.txt"
    path.write_text("中国 0.1 0.2 0.3\n北京 0.2 0.1 0.0\n", encoding="utf-8")
    assert detect_format(path) == "glove"
    kv = load_keyed_vectors(path)
    assert kv.index_to_key == ["中国", "北京"]
    assert kv["北京"].tolist() == pytest.approx([0.2, 0.1, 0.0])


def test_bad_files_are_data_errors_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_keyed_vectors(tmp_path / "missing.vec")
    empty = tmp_path / "empty.vec"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        load_keyed_vectors(empty)
    short = tmp_path / "short.vec"
    short.write_text("2 3\ncat 0.1 0.2 0.3\ndog 0.1 0.2\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"short\.vec as word2vec"):
        load_keyed_vectors(short)
    counted = tmp_path / "counted.vec"
    counted.write_text("3 2\ncat 0.1 0.2\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"counted\.vec"):
        load_keyed_vectors(counted)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9 0.1 0.2\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin\.txt"):
        load_keyed_vectors(latin)


def lee_sentences() -> list[list[str]]:
    return [line.split() for line in wheel("lee_background.cor").read_text().splitlines()]


def test_word2vec_is_reproducible_and_seeded() -> None:
    sentences = lee_sentences()
    settings = Word2VecSettings(dim=16, epochs=1, seed=3)
    first = train_word2vec(sentences, settings)
    second = train_word2vec(sentences, settings)
    assert vectors_sha256(first) == vectors_sha256(second)
    other = train_word2vec(sentences, Word2VecSettings(dim=16, epochs=1, seed=4))
    assert other.index_to_key == first.index_to_key
    assert vectors_sha256(other) != vectors_sha256(first)
    # Most frequent first, as restrict_vocab expects.
    assert first.index_to_key[0] == "the"


def test_word2vec_refuses_an_empty_corpus() -> None:
    with pytest.raises(DataError, match="no tokens"):
        train_word2vec([[], []])
    with pytest.raises(DataError, match="min_count"):
        train_word2vec([["rare"]], Word2VecSettings(min_count=2))
