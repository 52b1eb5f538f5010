"""Word vectors as a model: the ``word-similarity`` and ``word-analogy`` families.

:class:`VectorModel` answers both families from one set of gensim ``KeyedVectors``; a subclass
says where the vectors come from (:meth:`VectorModel.load_vectors`) and what identifies them
(:meth:`VectorModel.vectors_identity`). :class:`VectorsAdapter` is ``vectors:PATH[,format=]``:
a word2vec text or binary file, a GloVe file or a fastText ``.vec`` / ``.bin`` model, read by
:func:`bench.adapters.vector_files.load_keyed_vectors`; its fingerprint is the file's content
hash, never its path.

The answers are gensim 4.4's, computed for a whole batch at once:

* Similarity: ``KeyedVectors.similarity`` of the two words, i.e. the float32 dot product of
  the two unit vectors (``matutils.unitvec``: each vector times ``1 / ‖v‖`` computed in float64,
  then float32), for all pairs in one batched product.
* The searched vocabulary (``restrict_vocab``, ``case_insensitive``): the first N words of the
  file; upper-cased when case-insensitive, where the first of a word's case variants stands
  for it (gensim's ``ok_vocab``). A word outside it is out of vocabulary (answer ``None``).
* 3CosAdd (``evaluate_word_analogies``): the unit mean of ``b + c − a`` (unit vectors), its
  cosine with each of the first N words (``vectors @ mean / norms``, float32), the top
  ``5 + 3`` words, the question words' rows dropped, the first 5 kept; the answer is the first
  of them whose (folded) word is none of a, b, c, else the fifth.
* 3CosMul (``most_similar_cosmul``, Levy & Goldberg 2014, eq. 4 with cosines shifted to
  [0, 1]): ``cos'(x, b) · cos'(x, c) / (cos'(x, a) + 1e-6)`` over the same N words, chosen as
  above. (gensim's ``most_similar_cosmul`` accepts ``restrict_vocab`` but ignores it; bench
  applies it, so both objectives search the same words.)

All cosines of a batch of questions come from one matrix product
``vectors[:N] @ [means; a; b; c]ᵀ``; batches are sized so that product stays under
:data:`BATCH_CELLS` floats.

References:
    Tomas Mikolov, Kai Chen, Greg Corrado and Jeffrey Dean. 2013. Efficient Estimation of Word
    Representations in Vector Space. ICLR Workshop.
    Omer Levy and Yoav Goldberg. 2014. Linguistic Regularities in Sparse and Explicit Word
    Representations. CoNLL.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from bench.adapters.base import Adapter, Resources
from bench.adapters.vector_files import (
    VectorFormat,
    detect_format,
    load_keyed_vectors,
    vector_file_identity,
)
from bench.errors import DataError
from bench.families.base import Failure, Request, Response
from bench.families.wordvec import (
    WordAnalogyRequest,
    WordAnalogyResponse,
    WordSimilarityRequest,
    WordSimilarityResponse,
    fold,
)
from bench.identity import short_hash

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

    from bench.spec import TaskSpec

__all__ = ["BATCH_CELLS", "VectorModel", "VectorsAdapter", "Vocabulary", "solve_analogies"]

BATCH_CELLS = 1 << 24
"""The most float32 cosines (vocabulary rows × question columns) one analogy batch computes at
once (64 MiB)."""

TOPN = 5
"""How many candidates gensim's evaluation looks at (``most_similar(..., topn=5)``)."""

COSMUL_EPSILON = 0.000001
"""gensim's (and Levy & Goldberg's) guard against a zero denominator in 3CosMul."""


@dataclass(frozen=True)
class Vocabulary:
    """The searched vocabulary of one ``(restrict_vocab, case_insensitive)`` setting.

    Attributes:
        size: How many leading rows of the vectors are searched (``N``).
        index: ``{folded word: row}``, the first case variant's row (gensim's ``ok_vocab``).
        folded_row: For each searched row, the row its folded word stands for (``index`` of
            the row's folded word), so "is this candidate one of the question words" is a
            comparison of rows.
    """

    size: int
    index: dict[str, int]
    folded_row: np.ndarray

    @classmethod
    def build(
        cls, keys: Sequence[str], restrict_vocab: int | None, case_insensitive: bool
    ) -> Vocabulary:
        """gensim's ``ok_vocab`` of the first ``restrict_vocab`` of ``keys``."""
        size = len(keys) if restrict_vocab is None else min(restrict_vocab, len(keys))
        head = [str(k) for k in keys[:size]]
        index: dict[str, int] = {}
        for row in range(size - 1, -1, -1):  # reversed: the first variant wins
            index[fold(head[row], case_insensitive)] = row
        folded_row = np.fromiter(
            (index[fold(w, case_insensitive)] for w in head), dtype=np.int64, count=size
        )
        return cls(size=size, index=index, folded_row=folded_row)

    def rows(self, words: Sequence[str], case_insensitive: bool) -> np.ndarray:
        """The row of each word (``-1``: outside the vocabulary)."""
        return np.fromiter(
            (self.index.get(fold(w, case_insensitive), -1) for w in words),
            dtype=np.int64,
            count=len(words),
        )


def _unit_rows(vectors: np.ndarray, norms: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``vectors[rows] / norms[rows]`` in float32 (gensim's ``get_vector(norm=True)``)."""
    out: np.ndarray = vectors[rows] / norms[rows][:, None]
    return out


def _unitvec(matrix: np.ndarray) -> np.ndarray:
    """Each row times ``1 / ‖row‖`` (float64), cast to float32: gensim's ``matutils.unitvec``
    on float32 (and float64) rows; a zero row stays zero."""
    m64 = matrix.astype(np.float64)
    lengths = np.linalg.norm(m64, axis=1)
    scale = np.divide(1.0, lengths, out=np.ones_like(lengths), where=lengths > 0)
    out: np.ndarray = (m64 * scale[:, None]).astype(np.float32)
    return out


def _top_candidates(scores: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` best columns of each row of ``scores`` (questions × vocabulary), best first,
    as ``matutils.argsort(..., reverse=True)`` orders them; shape (questions, min(k, N))."""
    n = scores.shape[1]
    negated = -scores
    if k >= n:
        return np.argsort(negated, axis=1)[:, :k]
    part = np.argpartition(negated, k, axis=1)[:, :k]
    order = np.argsort(np.take_along_axis(negated, part, axis=1), axis=1)
    out: np.ndarray = np.take_along_axis(part, order, axis=1)
    return out


def _choose(top: np.ndarray, questions: np.ndarray, vocab: Vocabulary) -> np.ndarray:
    """gensim's choice among the ranked candidates ``top`` (q × k) of questions whose rows are
    ``questions`` (q × 3: a, b, c): drop the question words' own rows, keep the first
    :data:`TOPN`, answer with the first whose folded word is none of a, b, c (else the last
    kept). ``-1``: no candidate at all."""
    own = (top[:, :, None] == questions[:, None, :]).any(axis=2)
    kept = ~own & (np.cumsum(~own, axis=1) <= TOPN)
    folded = vocab.folded_row[top]
    clash = (folded[:, :, None] == questions[:, None, :]).any(axis=2)
    good = kept & ~clash
    has_good = good.any(axis=1)
    first_good = np.argmax(good, axis=1)
    # The last kept candidate: the highest position where ``kept`` holds.
    last_kept = top.shape[1] - 1 - np.argmax(kept[:, ::-1], axis=1)
    position = np.where(has_good, first_good, last_kept)
    answer = np.take_along_axis(top, position[:, None], axis=1)[:, 0]
    answer = np.where(kept.any(axis=1), answer, -1)
    out: np.ndarray = answer
    return out


NEAR_TIE = 4e-6
"""Gap between two ranked candidates' scores (relative to the larger score, or absolute below
1) within which float32 rounding (errors of about 1e-7 for unit-vector dot products) may
order them: such questions are re-scored as gensim scores them (see :func:`solve_analogies`)."""


def _near_ties(scores: np.ndarray, top: np.ndarray) -> np.ndarray:
    """Questions (rows of ``scores``) whose ranked best candidates ``top`` (the ``k + 1``
    best) hold two within :data:`NEAR_TIE` of each other: there the order (or which word is
    ``k``-th) can depend on how the products were rounded."""
    values = np.take_along_axis(scores, top, axis=1).astype(np.float64)
    gaps = np.abs(np.diff(values, axis=1))
    scale = np.maximum(np.abs(values[:, 1:]), np.abs(values[:, :-1]))
    out: np.ndarray = np.asarray((gaps <= NEAR_TIE * np.maximum(scale, 1.0)).any(axis=1))
    return out


def _gensim_scores(
    head: np.ndarray, head_norms: np.ndarray, mean: np.ndarray, units: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """One question's 3CosAdd and 3CosMul scores computed as gensim computes them: one
    matrix-vector product per vector (``most_similar``: ``dot(vectors, mean) / norms``;
    ``most_similar_cosmul``: ``(1 + dot(vectors, u) / norms) / 2`` per word)."""
    ua, ub, uc = units
    add = np.dot(head, mean) / head_norms
    pa, pb, pc = ((1 + np.dot(head, u) / head_norms) / 2 for u in (ua, ub, uc))
    mul = np.prod([pb, pc], axis=0) / (np.prod([pa], axis=0) + COSMUL_EPSILON)
    return add, mul


def solve_analogies(
    vectors: np.ndarray,
    norms: np.ndarray,
    vocab: Vocabulary,
    questions: np.ndarray,
    *,
    batch_cells: int = BATCH_CELLS,
) -> tuple[np.ndarray, np.ndarray]:
    """The 3CosAdd and 3CosMul answers (rows; ``-1``: no candidate) of in-vocabulary questions.

    Every cosine of a batch comes from one matrix product. A matrix product rounds its sums
    in another order than gensim's matrix-vector products, which can swap two candidates
    whose scores differ in the last float32 bit; a question whose best candidates lie within
    :data:`NEAR_TIE` of each other is therefore re-scored as gensim does (its own
    matrix-vector products), so every answer is gensim's. Such near ties are rare with trained
    vectors (a few per thousand questions with badly under-trained ones).

    Args:
        vectors: The float32 vectors (all rows; only the first ``vocab.size`` are searched).
        norms: Their float32 lengths (gensim's ``norms``).
        vocab: The searched vocabulary.
        questions: ``(q, 3)`` rows of a, b, c.
        batch_cells: Bound on ``vocab.size × 4 × batch`` cosines computed at once.

    Returns:
        ``(cosadd, cosmul)``, one row per question.

    Example:
        >>> import numpy as np
        >>> v = np.eye(4, dtype=np.float32); v[3] = [0, 1, 1, 0]  # d = b + c - a, roughly
        >>> vocab = Vocabulary.build(["a", "b", "c", "d"], None, False)
        >>> solve_analogies(v, np.linalg.norm(v, axis=1), vocab, np.array([[0, 1, 2]]))
        (array([3]), array([3]))
    """
    q = questions.shape[0]
    add = np.full(q, -1, dtype=np.int64)
    mul = np.full(q, -1, dtype=np.int64)
    if q == 0 or vocab.size == 0:
        return add, mul
    head = vectors[: vocab.size]
    head_norms = norms[: vocab.size]
    k = TOPN + 3
    step = max(1, batch_cells // (4 * vocab.size))
    for start in range(0, q, step):
        rows = questions[start : start + step]
        m = rows.shape[0]
        ua = _unit_rows(vectors, norms, rows[:, 0])
        ub = _unit_rows(vectors, norms, rows[:, 1])
        uc = _unit_rows(vectors, norms, rows[:, 2])
        # get_mean_vector(pre_normalize, post_normalize): float32 (b + c) - a, divided by the
        # total weight in float64, then unitvec and float32.
        mean = _unitvec(((ub + uc) - ua).astype(np.float64) / 3.0)
        # The one matrix product of the batch: every searched word against the means and
        # the three question words.
        cos = np.concatenate([mean, ua, ub, uc]) @ head.T  # (4m, N)
        cos /= head_norms[None, :]
        add_scores = cos[:m]
        shifted = (1 + cos[m:]) / 2
        sa, sb, sc = shifted[:m], shifted[m : 2 * m], shifted[2 * m :]
        mul_scores = (sb * sc) / (sa + COSMUL_EPSILON)
        # The k + 1 best: the first k are ranked, the (k + 1)-th tells whether the k-th is
        # a near tie.
        ranked_add = _top_candidates(add_scores, k + 1)
        ranked_mul = _top_candidates(mul_scores, k + 1)
        ties = _near_ties(add_scores, ranked_add) | _near_ties(mul_scores, ranked_mul)
        top_add, top_mul = ranked_add[:, :k].copy(), ranked_mul[:, :k].copy()
        for j in np.flatnonzero(ties):
            exact_add, exact_mul = _gensim_scores(head, head_norms, mean[j], (ua[j], ub[j], uc[j]))
            top_add[j] = _top_candidates(exact_add[None, :], k)[0]
            top_mul[j] = _top_candidates(exact_mul[None, :], k)[0]
        add[start : start + m] = _choose(top_add, rows, vocab)
        mul[start : start + m] = _choose(top_mul, rows, vocab)
    return add, mul


class VectorModel(Adapter):
    """Base of every adapter that answers the word families from one set of vectors.

    Subclasses implement :meth:`load_vectors` and :meth:`vectors_identity`; this class gives
    the cached :meth:`keyed_vectors`, a :meth:`fingerprint` over :meth:`identity` and
    :meth:`vectors_identity`, :meth:`info` and the vectorised :meth:`predict` (see the module
    docstring for the exact semantics).
    """

    families: ClassVar[tuple[str, ...]] = ("word-similarity", "word-analogy")

    @abstractmethod
    def load_vectors(self) -> KeyedVectors:
        """The vectors, in their file's (frequency) order.

        Raises:
            BenchError: They cannot be read or built (naming the file and the fix).
        """

    @abstractmethod
    def vectors_identity(self) -> dict[str, Any]:
        """What identifies the vectors (a file's sha256; a corpus hash, the training settings
        and gensim's version): part of the fingerprint."""

    def keyed_vectors(self) -> KeyedVectors:
        """:meth:`load_vectors`, once per adapter."""
        kv = getattr(self, "_kv", None)
        if kv is None:
            kv = self.load_vectors()
            kv.fill_norms()
            self._kv = kv
        return kv

    def vocabulary(self, restrict_vocab: int | None, case_insensitive: bool) -> Vocabulary:
        """The searched vocabulary of one setting over the vectors :meth:`keyed_vectors`
        serves now (built once per setting and vectors: the cache lives on the vectors
        object, so a subclass that serves other vectors for some requests never gets the
        vocabulary of the others)."""
        kv = self.keyed_vectors()
        cache: dict[tuple[int | None, bool], Vocabulary] | None = getattr(
            kv, "_bench_vocabularies", None
        )
        if cache is None:
            cache = {}
            kv._bench_vocabularies = cache
        key = (restrict_vocab, case_insensitive)
        if key not in cache:
            cache[key] = Vocabulary.build(kv.index_to_key, restrict_vocab, case_insensitive)
        return cache[key]

    def identity(self) -> dict[str, Any]:
        """The adapter's name, code version, parameters and :meth:`vectors_identity` (not the
        target: a path says nothing about what is in the file)."""
        return {
            "adapter": self.name,
            "version": self.version,
            "params": self.params.model_dump(mode="json"),
            "vectors": self.vectors_identity(),
        }

    def fingerprint(self, task: TaskSpec | None = None) -> str:
        """Short SHA-256 of :meth:`identity`."""
        return short_hash(self.identity())

    def resources(self) -> Resources:
        """One CPU (the vectors are read once per process)."""
        return Resources(num_cpus=1.0)

    def info(self) -> dict[str, Any]:
        """Vocabulary size, dimension and what the vectors are."""
        kv = self.keyed_vectors()
        return {
            "vocabulary": len(kv),
            "dim": int(kv.vector_size),
            "source": self.vectors_identity(),
        }

    def predict(self, requests: Sequence[Request]) -> Sequence[Response | Failure]:
        """Similarities of every pair and answers to every question, batch by batch."""
        out: list[Response | Failure | None] = [None] * len(requests)
        groups: dict[tuple[str, int | None, bool], list[int]] = {}
        for i, request in enumerate(requests):
            if isinstance(request, WordSimilarityRequest):
                kind = "similarity"
            elif isinstance(request, WordAnalogyRequest):
                kind = "analogy"
            else:
                out[i] = Failure(
                    cause="unsupported", message=f"{type(request).__name__} is not a word task"
                )
                continue
            key = (kind, request.restrict_vocab, request.case_insensitive)
            groups.setdefault(key, []).append(i)
        for (kind, restrict_vocab, case_insensitive), index in groups.items():
            vocab = self.vocabulary(restrict_vocab, case_insensitive)
            chosen = [requests[i] for i in index]
            answers: list[Response]
            if kind == "similarity":
                answers = self._similarities(chosen, vocab, case_insensitive)  # type: ignore[arg-type]
            else:
                answers = self._analogies(chosen, vocab, case_insensitive)  # type: ignore[arg-type]
            for i, answer in zip(index, answers, strict=True):
                out[i] = answer
        return [r for r in out if r is not None]

    def _similarities(
        self, requests: Sequence[WordSimilarityRequest], vocab: Vocabulary, case: bool
    ) -> list[Response]:
        kv = self.keyed_vectors()
        r1 = vocab.rows([r.word1 for r in requests], case)
        r2 = vocab.rows([r.word2 for r in requests], case)
        known = (r1 >= 0) & (r2 >= 0)
        sims = np.zeros(len(requests), dtype=np.float32)
        if known.any():
            rows = np.unique(np.concatenate([r1[known], r2[known]]))
            unit = _unitvec(kv.vectors[rows])
            where = {int(r): j for j, r in enumerate(rows)}
            u1 = unit[[where[int(r)] for r in r1[known]]]
            u2 = unit[[where[int(r)] for r in r2[known]]]
            # A stack of 1×d @ d×1 products: numpy computes each as BLAS sdot, as gensim's
            # ``dot(unitvec(v1), unitvec(v2))`` does, so the float32 values are gensim's.
            sims[known] = np.matmul(u1[:, None, :], u2[:, :, None])[:, 0, 0]
        return [
            WordSimilarityResponse(similarity=float(s) if k else None)
            for s, k in zip(sims.tolist(), known.tolist(), strict=True)
        ]

    def _analogies(
        self, requests: Sequence[WordAnalogyRequest], vocab: Vocabulary, case: bool
    ) -> list[Response]:
        kv = self.keyed_vectors()
        rows = np.stack(
            [vocab.rows([getattr(r, k) for r in requests], case) for k in ("a", "b", "c", "d")],
            axis=1,
        )
        known: np.ndarray = np.asarray((rows >= 0).all(axis=1))
        add = np.full(len(requests), -1, dtype=np.int64)
        mul = np.full(len(requests), -1, dtype=np.int64)
        if known.any():
            kv.fill_norms()  # vectors a subclass built in memory may not have them yet
            add[known], mul[known] = solve_analogies(
                kv.vectors, kv.norms, vocab, rows[known][:, :3]
            )
        keys = kv.index_to_key

        def word(row: int) -> str:
            return "" if row < 0 else str(keys[row])

        return [
            WordAnalogyResponse(cosadd=word(a), cosmul=word(m))
            if k
            else WordAnalogyResponse(cosadd=None, cosmul=None)
            for a, m, k in zip(add.tolist(), mul.tolist(), list(known.tolist()), strict=True)
        ]


_ROW_FIX = (
    "every row is a word and exactly DIM numbers, separated by spaces: re-export the file, or "
    "remove the row (and lower the COUNT of a 'COUNT DIM' header)"
)


def _first_bad_row(path: Path, fmt: str) -> str | None:
    """Where a word2vec/GloVe text file breaks: the first row whose count of numbers differs
    from the header's DIM (GloVe: the first row's), or whose numbers are not numbers, as
    ``"FILE: line N: ..."``; ``None`` when every row looks right."""
    dim: int | None = None
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line_no, line in enumerate(fh, start=1):
            parts = line.rstrip("\n").split(" ")
            while parts and parts[-1] == "":
                parts.pop()
            if line_no == 1 and fmt == "word2vec":
                if len(parts) == 2 and all(p.isdigit() for p in parts):
                    dim = int(parts[1])
                    continue
                return f"{path}: line 1: expected a 'COUNT DIM' header, got {line.strip()[:60]!r}"
            if not parts:
                return f"{path}: line {line_no}: an empty row"
            values = parts[1:]
            if dim is None:
                dim = len(values)
            if len(values) != dim:
                return (
                    f"{path}: line {line_no}: word {parts[0]!r} has {len(values)} numbers, "
                    f"expected {dim}"
                )
            for value in values:
                try:
                    float(value)
                except ValueError:
                    return f"{path}: line {line_no}: {value[:30]!r} is not a number"
    return None


class VectorsAdapter(VectorModel):
    """``vectors:PATH[,format=word2vec|word2vec-binary|glove|fasttext]``: a vector file.

    The format is detected from the file's first bytes unless given. The fingerprint is the
    file's content hash and format, so a moved file keeps its cached answers and an edited one
    does not.

    Example:
        >>> from gensim.test.utils import datapath
        >>> from bench.adapters.base import make_adapter
        >>> model = make_adapter("vectors:" + datapath("lee_fasttext.vec"))
        >>> model.info()["dim"]
        10
    """

    name = "vectors"

    class Params(Adapter.Params):
        """``format``: the file's format (``None``: detected)."""

        format: VectorFormat | None = None

    params: Params

    def __init__(self, target: str | None = None, **params: Any) -> None:
        super().__init__(target, **params)
        if not target:
            raise DataError(
                "vectors: needs a file (vectors:PATH)",
                fix="write e.g. vectors:/data/glove.6B.100d.txt",
            )
        self.path = Path(target).expanduser()

    def identity(self) -> dict[str, Any]:
        """As :meth:`VectorModel.identity`; the format counts once, resolved (a declared
        format equal to the detected one is the same model)."""
        ident = super().identity()
        ident["params"] = {k: v for k, v in ident["params"].items() if k != "format"}
        return ident

    def vector_format(self) -> VectorFormat:
        """The declared format, else the detected one."""
        return self.params.format or detect_format(self.path)

    def vectors_identity(self) -> dict[str, Any]:
        """``{sha256, format}`` of the file (memoised per adapter)."""
        ident = getattr(self, "_identity", None)
        if ident is None:
            ident = vector_file_identity(self.path, self.vector_format())
            self._identity: dict[str, Any] = ident
        return ident

    def load_vectors(self) -> KeyedVectors:
        """The file through :func:`~bench.adapters.vector_files.load_keyed_vectors`.

        Raises:
            DataError: The file cannot be read; for a text file with a row of the wrong
                length (gensim does not say which), the message names that line.
        """
        fmt = self.vector_format()
        try:
            return load_keyed_vectors(self.path, fmt)
        except DataError as exc:
            bad = _first_bad_row(self.path, fmt) if fmt in ("word2vec", "glove") else None
            if bad is None:
                raise
            raise DataError(bad, fix=_ROW_FIX) from exc

    def info(self) -> dict[str, Any]:
        """As :meth:`VectorModel.info`, with the file's name."""
        return {**super().info(), "file": self.path.name}
