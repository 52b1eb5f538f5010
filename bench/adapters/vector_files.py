"""Word-vector files and word2vec training, through gensim.

One place reads vector files and trains word2vec, so the ``vectors:`` model, ``baseline:word2vec``
and every classifier that takes ``vectors=PATH`` read the same formats the same way:

* :func:`load_keyed_vectors` reads word2vec text (a ``COUNT DIM`` header line; fastText's
  ``.vec`` files are this format), word2vec binary, GloVe text (no header) and fastText ``.bin``
  models with gensim's own readers (``KeyedVectors.load_word2vec_format``,
  ``gensim.models.fasttext.load_facebook_vectors``), never with a hand-written parser;
* :func:`detect_format` names the format of a file when the spec does not;
* :func:`train_word2vec` trains gensim's ``Word2Vec`` on tokenised sentences, seeded and on one
  worker thread, so the same corpus and settings give the same vectors bit for bit;
* :func:`vectors_sha256` hashes a set of vectors (words in order, then the float32 matrix), the
  identity of vectors trained in memory; :func:`vector_file_identity` is a file's (its content
  SHA-256 and format, never its path);
* :func:`embedding_rows` picks the rows of a classifier's vocabulary that a vector set holds.

gensim is imported only when a file is read or vectors are trained.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from bench.errors import DataError

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

__all__ = [
    "FORMATS",
    "VectorFormat",
    "Word2VecSettings",
    "detect_format",
    "embedding_rows",
    "load_keyed_vectors",
    "train_word2vec",
    "vector_file_identity",
    "vectors_sha256",
]

VectorFormat = Literal["word2vec", "word2vec-binary", "glove", "fasttext"]
FORMATS: tuple[VectorFormat, ...] = ("word2vec", "word2vec-binary", "glove", "fasttext")
"""The vector file formats: word2vec text (header ``COUNT DIM``; fastText ``.vec``), word2vec
binary, GloVe text (no header) and fastText's binary model (``.bin``, with subword n-grams)."""

# A fastText .bin model starts with this int32 (little endian): FASTTEXT_FILEFORMAT_MAGIC_INT32.
_FASTTEXT_MAGIC = (793712314).to_bytes(4, "little")


def _require_file(path: Path) -> None:
    """Raise :class:`DataError` unless ``path`` is an existing file."""
    if not path.is_file():
        raise DataError(
            f"vector file {path} does not exist",
            fix="give the path of a word2vec, GloVe or fastText file (vectors:PATH, or "
            "vectors=PATH for a classifier)",
        )


def detect_format(path: Path) -> VectorFormat:
    """The format of the vector file ``path``, from its first bytes.

    A file that starts with fastText's magic number (or, without a ``COUNT DIM`` header, holds
    NUL bytes: fastText's older models) is ``fasttext``; a file whose first line is
    two integers (``COUNT DIM``) is ``word2vec`` when the rest is text and ``word2vec-binary``
    otherwise; any other text file is ``glove`` (a word and its numbers on every line).

    Raises:
        DataError: The file is missing, empty, or neither binary nor UTF-8 text.
    """
    _require_file(path)
    with path.open("rb") as fh:
        head = fh.read(4096)
    if not head:
        raise DataError(f"vector file {path} is empty", fix="check the file")
    first, _, rest = head.partition(b"\n")
    parts = first.split()
    is_header = len(parts) == 2 and all(p.isdigit() for p in parts)
    if head[:4] == _FASTTEXT_MAGIC or (not is_header and b"\0" in head):
        # Models written before fastText added its magic number start with int32 fields.
        return "fasttext"
    if is_header:
        try:
            rest.decode("utf-8")
        except UnicodeDecodeError as exc:
            # A cut multi-byte character at the end of the 4 KiB read is still text.
            if exc.start < len(rest) - 4:
                return "word2vec-binary"
        return "word2vec"
    try:
        first.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(
            f"vector file {path}: the first line is neither a 'COUNT DIM' header nor UTF-8 text",
            fix="pass format=word2vec|word2vec-binary|glove|fasttext",
        ) from None
    return "glove"


def load_keyed_vectors(path: str | Path, format: VectorFormat | None = None) -> KeyedVectors:
    """Read the vector file ``path`` with gensim.

    Args:
        path: A word2vec text or binary file, a GloVe text file or a fastText ``.bin`` model.
        format: One of :data:`FORMATS`; ``None`` detects it (:func:`detect_format`).

    Returns:
        gensim ``KeyedVectors`` with the file's words in the file's order (most frequent first
        in every standard release, which is what ``restrict_vocab`` relies on).

    Raises:
        DataError: The file is missing or cannot be read as ``format`` (the message names the
            file and gensim's reason).

    Example:
        >>> from gensim.test.utils import datapath
        >>> kv = load_keyed_vectors(datapath("test_glove.txt"))
        >>> kv.vector_size, len(kv) > 0
        (50, True)
    """
    path = Path(path)
    fmt = format or detect_format(path)
    _require_file(path)
    from gensim.models import KeyedVectors

    try:
        if fmt == "fasttext":
            from gensim.models.fasttext import load_facebook_vectors

            kv = load_facebook_vectors(str(path))
        else:
            kv = KeyedVectors.load_word2vec_format(
                str(path),
                binary=fmt == "word2vec-binary",
                no_header=fmt == "glove",
                unicode_errors="strict",
            )
    except (ValueError, EOFError, UnicodeDecodeError, IndexError, OSError, AssertionError) as exc:
        # gensim's readers say what is wrong (a row with the wrong number of values, a
        # truncated binary) but not always which file.
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(
            f"cannot read {path} as {fmt} vectors: {message}",
            fix="check the file, or pass the right format= (word2vec, word2vec-binary, glove, "
            "fasttext)",
        ) from exc
    if len(kv) == 0:
        raise DataError(f"vector file {path} holds no vectors", fix="check the file")
    return kv


def vectors_sha256(kv: KeyedVectors) -> str:
    """SHA-256 of a set of vectors: every word in order (UTF-8, NUL-separated), then the
    vectors as little-endian float32. Equal hashes mean equal vectors, bit for bit."""
    digest = hashlib.sha256()
    for word in kv.index_to_key:
        digest.update(str(word).encode("utf-8") + b"\0")
    digest.update(np.ascontiguousarray(kv.vectors, dtype="<f4").tobytes())
    return digest.hexdigest()


class Word2VecSettings:
    """Settings of :func:`train_word2vec` (gensim's ``Word2Vec`` arguments, by bench's names).

    Attributes:
        sg: 1 for skip-gram, 0 for CBOW.
        dim: Vector size.
        window: Context window (words each side).
        epochs: Passes over the corpus.
        min_count: Fewest occurrences of a word kept in the vocabulary.
        negative: Negative samples per positive one (0: hierarchical softmax instead).
        sample: Down-sampling threshold of frequent words.
        seed: Seed of the initial vectors and of gensim's sampling.
    """

    __slots__ = ("dim", "epochs", "min_count", "negative", "sample", "seed", "sg", "window")

    def __init__(
        self,
        *,
        sg: int = 1,
        dim: int = 100,
        window: int = 5,
        epochs: int = 5,
        min_count: int = 1,
        negative: int = 5,
        sample: float = 1e-3,
        seed: int = 0,
    ) -> None:
        self.sg, self.dim, self.window, self.epochs = sg, dim, window, epochs
        self.min_count, self.negative, self.sample, self.seed = min_count, negative, sample, seed

    def as_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (for fingerprints and records)."""
        return {name: getattr(self, name) for name in sorted(self.__slots__)}


def train_word2vec(
    sentences: Iterable[Sequence[str]], settings: Word2VecSettings | None = None
) -> KeyedVectors:
    """Train word2vec on ``sentences`` (lists of tokens) and return its vectors.

    Training is reproducible: one worker thread, gensim's seeded initialisation and sampling,
    and Python's string hashing kept out of it (gensim seeds from ``seed`` alone since 4.0). The
    same sentences and settings give identical vectors (:func:`vectors_sha256`) in any process.

    Raises:
        DataError: The corpus is empty, or no word occurs ``min_count`` times.

    Example:
        >>> kv = train_word2vec([["a", "b", "c"]] * 20, Word2VecSettings(dim=8, epochs=2))
        >>> kv.vector_size, sorted(kv.index_to_key)
        (8, ['a', 'b', 'c'])
    """
    from gensim.models import Word2Vec

    s = settings or Word2VecSettings()
    corpus = [list(map(str, sentence)) for sentence in sentences if sentence]
    if not corpus:
        raise DataError("word2vec: the corpus has no tokens", fix="give a non-empty corpus")
    model = Word2Vec(
        vector_size=s.dim,
        window=s.window,
        min_count=s.min_count,
        sg=s.sg,
        negative=s.negative,
        hs=0 if s.negative > 0 else 1,
        sample=s.sample,
        seed=s.seed,
        workers=1,
    )
    model.build_vocab(corpus)
    if len(model.wv) == 0:
        raise DataError(
            f"word2vec: no word occurs {s.min_count} times in the corpus",
            fix="lower min_count or give a larger corpus",
        )
    model.train(corpus, total_examples=len(corpus), epochs=s.epochs)
    return model.wv


def vector_file_identity(path: str | Path, format: VectorFormat | None) -> dict[str, Any]:
    """What identifies a vector file in a fingerprint: its content SHA-256 and format.

    The path is left out, so a copy of the file elsewhere shares cached answers and an edited
    file at the same path does not.

    Raises:
        DataError: The file does not exist.
    """
    from bench.identity import file_digest

    file = Path(path)
    _require_file(file)
    return {"sha256": file_digest(file), "format": format}


def embedding_rows(kv: KeyedVectors, vocab: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """The ids of ``vocab``'s tokens that ``kv`` holds, and their vectors (float32).

    A token is looked up as it is, then lower-cased (vocabulary tokens are lower-cased by
    :func:`~bench.adapters.baselines.text_tokens`; most English vector files are too).

    Example:
        >>> from gensim.models import KeyedVectors
        >>> kv = KeyedVectors(2)
        >>> kv.add_vectors(["good", "bad"], np.array([[1, 0], [0, 1]], dtype=np.float32))
        >>> ids, rows = embedding_rows(kv, {"good": 2, "meh": 3, "bad": 4})
        >>> ids.tolist(), rows.tolist()
        ([2, 4], [[1.0, 0.0], [0.0, 1.0]])
    """
    ids: list[int] = []
    rows: list[np.ndarray] = []
    for token, i in sorted(vocab.items(), key=lambda item: item[1]):
        key = token if token in kv.key_to_index else token.lower()
        if key in kv.key_to_index:
            ids.append(i)
            rows.append(kv[key])
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros((0, kv.vector_size), dtype=np.float32)
    return np.asarray(ids, dtype=np.int64), np.stack(rows).astype(np.float32)
