"""``baseline:word2vec``: word vectors trained with gensim on a corpus, as a model.

A model spec::

    baseline:word2vec
    baseline:word2vec,sg=0,dim=50,epochs=10,seed=3
    baseline:word2vec,corpus=my-corpus.txt,save=vectors/{language}.txt

trains gensim's ``Word2Vec`` (Mikolov et al. 2013, "Distributed Representations of Words and
Phrases and their Compositionality") through :func:`bench.adapters.vector_files.train_word2vec`
(seeded, one worker thread, so the same corpus and settings give the same vectors bit for bit
in any process on one kind of CPU; gensim's float32 updates go through OpenBLAS, which picks
its kernels per CPU, so an Intel and an AMD machine differ in the last bits, and after training
by ~1e-4 in a similarity score) and answers the word-similarity and word-analogy families through
:class:`~bench.adapters.vectors.VectorModel`.

The corpus is ``corpus=PATH`` (plain UTF-8 text, one sentence per line) or, without it, the
built-in smoke corpus of the task's language (``bench/builtin/smoke/corpus/{en,zh}.txt``,
written for bench). How a line becomes words depends on the task's language (given to
:meth:`Word2VecBaseline.for_task`; English before any task is bound):

* Chinese (``zh``, ``zh-Hans``, ``zh-Hant``, ...): jieba's words (bench's own segmenter,
  :func:`bench.preprocess.segmenter.jieba_words`: stock dictionary, HMM on), lower-cased;
* any other language: the lower-cased line's runs of letters and digits, with an inner
  apostrophe or hyphen kept (``don't``, ``well-known``): :data:`TOKEN_PATTERN`.

Either way a token with no letter or digit (punctuation) is dropped.

The fingerprint covers every training setting, the corpus file's content (SHA-256, not its
path), the language and its tokenisation rule (with jieba's version and dictionary for
Chinese) and gensim's version; ``save=`` is an output, not an input, and is left out of it.
``save=PATH`` writes the trained vectors in word2vec text format (gensim's
``save_word2vec_format``: a ``COUNT DIM`` header, then each word and its float32 values written
as the shortest decimal that reads back to the same float32), which ``vectors:PATH`` and
:func:`~bench.adapters.vector_files.load_keyed_vectors` read back bit for bit; a
``{language}`` in the path is replaced by the task's language, so one spec can save the vectors
of several languages.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from bench.adapters.base import Adapter, Resources, Seed
from bench.adapters.vector_files import Word2VecSettings, train_word2vec, vectors_sha256
from bench.adapters.vectors import VectorModel
from bench.errors import AdapterError, DataError, ModelSpecError
from bench.identity import library_version, short_hash

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

    from bench.families.base import Family
    from bench.spec import TaskSpec

__all__ = ["BUILTIN_CORPORA", "TOKEN_PATTERN", "Word2VecBaseline", "corpus_sentences"]

BUILTIN_CORPORA: dict[str, Path] = {
    lang: Path(__file__).resolve().parent.parent / "builtin" / "smoke" / "corpus" / f"{lang}.txt"
    for lang in ("en", "zh")
}
"""The built-in smoke corpus of each language (plain text, one sentence per line)."""

TOKEN_PATTERN = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
"""The words of a lower-cased line in a language other than Chinese: runs of letters and
digits, joined across one inner apostrophe or hyphen."""

# Bumped when the tokenisation rules change (they decide the vectors).
_TOKENISATION_VERSION = 1
# Trained vectors by their identity, so tasks of one language in one process train once.
_TRAINED: dict[str, tuple[KeyedVectors, dict[str, Any]]] = {}
_TRAINED_LIMIT = 8
# Corpus hashes by (resolved path, size, mtime), so a fingerprint does not re-read a big corpus.
_CORPUS_HASHES: dict[tuple[str, int, int], str] = {}
# What each save= path was given in this process (two vector sets must not share one file).
_SAVED: dict[str, str] = {}


def _is_chinese(language: str) -> bool:
    return language.lower().split("-")[0] == "zh"


def corpus_sentences(lines: list[str], language: str) -> list[list[str]]:
    """The tokenised sentences of a corpus's lines, as :mod:`bench.adapters.word2vec` says.

    Args:
        lines: One sentence per line.
        language: The task's language (``zh``-something: jieba words; else
            :data:`TOKEN_PATTERN`).

    Returns:
        One list of lower-cased words per line that has any (empty lines are dropped).

    Example:
        >>> corpus_sentences(["The cat's well-known, isn't it?", ""], "en")
        [['the', "cat's", 'well-known', "isn't", 'it']]
        >>> corpus_sentences(["我来到北京清华大学。"], "zh")
        [['我', '来到', '北京', '清华大学']]
    """
    out: list[list[str]] = []
    if _is_chinese(language):
        from bench.preprocess.segmenter import jieba_words

        for line in lines:
            words = [w.lower() for w in jieba_words(line) if any(c.isalnum() for c in w)]
            if words:
                out.append(words)
        return out
    for line in lines:
        words = TOKEN_PATTERN.findall(line.lower())
        if words:
            out.append(words)
    return out


def _tokenisation_identity(language: str) -> dict[str, Any]:
    if _is_chinese(language):
        from bench.preprocess.segmenter import jieba_identity

        return {"rule": "jieba-lower", "version": _TOKENISATION_VERSION, **jieba_identity()}
    return {
        "rule": "regex-lower",
        "version": _TOKENISATION_VERSION,
        "pattern": TOKEN_PATTERN.pattern,
    }


class Word2VecBaseline(VectorModel):
    """Word vectors trained by gensim's word2vec on a corpus; see the module docstring.

    Example:
        >>> from gensim.test.utils import datapath
        >>> model = Word2VecBaseline(corpus=datapath("lee_background.cor"), dim=8, epochs=1)
        >>> model.keyed_vectors().vector_size
        8
    """

    name = "baseline:word2vec"
    version: ClassVar[int] = 1

    class Params(Adapter.Params):
        """Training settings (gensim's ``Word2Vec`` arguments by bench's names), the corpus and
        where to save the vectors.

        Attributes:
            sg: 1 for skip-gram, 0 for CBOW.
            dim: Vector size.
            window: Context window (words each side).
            epochs: Passes over the corpus.
            min_count: Fewest occurrences of a word kept in the vocabulary.
            negative: Negative samples per positive one (0: hierarchical softmax).
            seed: Seed of the initial vectors and of gensim's sampling.
            corpus: A UTF-8 text file, one sentence per line (default: the built-in smoke
                corpus of the task's language).
            save: Write the vectors here in word2vec text format (``{language}`` is replaced
                by the task's language).
        """

        sg: Literal[0, 1] = 1
        dim: int = Field(default=100, ge=1)
        window: int = Field(default=5, ge=1)
        epochs: int = Field(default=5, ge=1)
        min_count: int = Field(default=1, ge=1)
        negative: int = Field(default=5, ge=0)
        seed: Seed = 0
        corpus: str | None = None
        save: str | None = None

    params: Params

    def __init__(self, target: str | None = None, **params: Any) -> None:
        super().__init__(target, **params)
        self.language = "en"
        self._facts: dict[str, Any] = {}

    # ------------------------------------------------------------------ binding

    def _for_language(self, language: str) -> Word2VecBaseline:
        if language == self.language:
            return self
        bound = type(self)(self.target, **self.params.model_dump(exclude_unset=True))
        bound.language = language
        return bound

    def for_task(self, task: TaskSpec, family: Family) -> Word2VecBaseline:
        """The model for ``task``'s language (a new object when it differs; ``self`` is left
        as it was)."""
        return self._for_language(task.language)

    def fingerprint(self, task: TaskSpec | None = None) -> str:
        """:meth:`identity` and :meth:`vectors_identity` of the model bound to ``task``'s
        language (see the module docstring for what they cover)."""
        bound = self._for_language(task.language) if task is not None else self
        return super(Word2VecBaseline, bound).fingerprint(task)

    def resources(self) -> Resources:
        """One CPU (gensim trains on one worker thread), light."""
        return Resources(num_cpus=1.0, light=True)

    # ------------------------------------------------------------------ identity

    def settings(self) -> Word2VecSettings:
        """The training settings of :func:`~bench.adapters.vector_files.train_word2vec`."""
        p = self.params
        return Word2VecSettings(
            sg=p.sg,
            dim=p.dim,
            window=p.window,
            epochs=p.epochs,
            min_count=p.min_count,
            negative=p.negative,
            seed=p.seed,
        )

    def identity(self) -> dict[str, Any]:
        """:meth:`VectorModel.identity` with the parameters that decide the vectors: not
        ``corpus`` (its content is in :meth:`vectors_identity`) and not ``save`` (an output)."""
        ident = super().identity()
        ident["params"] = self.params.model_dump(mode="json", exclude={"corpus", "save"})
        return ident

    def corpus_path(self) -> Path:
        """The corpus file: ``corpus=``, else the built-in corpus of the bound language.

        Raises:
            ModelSpecError: No ``corpus=`` and no built-in corpus for the language.
        """
        if self.params.corpus is not None:
            return Path(self.params.corpus).expanduser()
        key = "zh" if _is_chinese(self.language) else self.language.lower().split("-")[0]
        if key not in BUILTIN_CORPORA:
            raise ModelSpecError(
                f"baseline:word2vec: no built-in corpus for language '{self.language}' "
                f"(built in: {', '.join(BUILTIN_CORPORA)})",
                fix="pass corpus=PATH (a UTF-8 text file, one sentence per line)",
            )
        return BUILTIN_CORPORA[key]

    def _corpus_bytes(self) -> bytes:
        path = self.corpus_path()
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise DataError(
                f"baseline:word2vec: corpus file {path} does not exist",
                fix="give corpus=PATH of a UTF-8 text file, one sentence per line",
            ) from None
        except OSError as exc:
            raise DataError(
                f"baseline:word2vec: corpus file {path} cannot be read: {exc.strerror or exc}",
                fix="make the file readable",
            ) from None

    def _corpus_sha256(self) -> str:
        path = self.corpus_path()
        try:
            stat = path.stat()
        except OSError:
            stat = None
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns) if stat else None
        if key is None or key not in _CORPUS_HASHES:
            digest = hashlib.sha256(self._corpus_bytes()).hexdigest()
            if key is None:
                return digest
            _CORPUS_HASHES[key] = digest
        return _CORPUS_HASHES[key]

    def vectors_identity(self) -> dict[str, Any]:
        """The corpus's content hash, the language and its tokenisation, every training
        setting and gensim's version (read from its metadata: importing gensim costs a
        second)."""
        return {
            "corpus_sha256": self._corpus_sha256(),
            "language": self.language,
            "tokenisation": _tokenisation_identity(self.language),
            "settings": self.settings().as_dict(),
            "gensim": library_version("gensim"),
        }

    # ------------------------------------------------------------------ training

    def load_vectors(self) -> KeyedVectors:
        """Train (once per process for equal identities) and, with ``save=``, write the
        vectors.

        Raises:
            DataError: The corpus is missing, not UTF-8, or has no word ``min_count`` times.
        """
        key = short_hash(self.vectors_identity())
        if key not in _TRAINED:
            raw = self._corpus_bytes()
            path = self.corpus_path()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                line = raw[: exc.start].count(b"\n") + 1
                raise DataError(
                    f"baseline:word2vec: corpus file {path}, line {line}, is not UTF-8",
                    fix="save the corpus as UTF-8 text",
                ) from None
            sentences = corpus_sentences(text.splitlines(), self.language)
            started = time.perf_counter()
            try:
                kv = train_word2vec(sentences, self.settings())
            except DataError as exc:
                raise DataError(f"corpus {path}: {exc.message}", fix=exc.fix) from exc
            facts = {
                "corpus": {
                    "source": str(path) if self.params.corpus else f"builtin:{path.stem}",
                    "sha256": hashlib.sha256(raw).hexdigest(),
                    "sentences": len(sentences),
                    "tokens": sum(len(s) for s in sentences),
                },
                "language": self.language,
                "tokenisation": _tokenisation_identity(self.language)["rule"],
                "settings": self.settings().as_dict(),
                "training_seconds": round(time.perf_counter() - started, 3),
                "vocabulary_size": len(kv),
                "vectors_sha256": vectors_sha256(kv),
            }
            while len(_TRAINED) >= _TRAINED_LIMIT:
                del _TRAINED[next(iter(_TRAINED))]
            _TRAINED[key] = (kv, facts)
        kv, facts = _TRAINED[key]
        self._facts = facts
        save = self.save_path()
        if save is not None:
            self._save(save, kv, facts["vectors_sha256"])
        return kv

    def save_path(self) -> Path | None:
        """Where ``save=`` writes the vectors of the bound language (``None``: nowhere)."""
        if self.params.save is None:
            return None
        return Path(self.params.save.replace("{language}", self.language)).expanduser()

    def _save(self, path: Path, kv: KeyedVectors, digest: str) -> None:
        resolved = str(path.resolve())
        if _SAVED.get(resolved, digest) != digest:
            raise AdapterError(
                f"baseline:word2vec: save={self.params.save} would overwrite vectors saved "
                "earlier in this run with another language's (or corpus') vectors",
                fix="put {language} in the save path, e.g. save=vectors-{language}.txt",
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            kv.save_word2vec_format(str(tmp), binary=False, write_header=True)
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise AdapterError(
                f"baseline:word2vec: cannot write {path}: {exc.strerror or exc}",
                fix="give save= a writable path",
            ) from None
        _SAVED[resolved] = digest

    def info(self) -> dict[str, Any]:
        """The base facts (vocabulary size, dimension) and the corpus (source, SHA-256,
        sentences, tokens), language, tokenisation, settings, training time, the vectors'
        SHA-256 and where they were saved."""
        out = dict(super().info())
        self.keyed_vectors()
        facts = copy.deepcopy(self._facts)
        save = self.save_path()
        facts["saved_to"] = str(save) if save is not None else None
        facts["gensim"] = self.vectors_identity()["gensim"]
        return {**out, **facts}
