"""Neural text classifiers for the sentiment family: word vectors + logistic regression, a
bidirectional LSTM/GRU and a small Transformer encoder, all trained on the task's train split.

* :class:`WordVecLogReg` (``baseline:wordvec-logreg``): a text is the mean (or idf-weighted
  mean) of its words' vectors, classified by scikit-learn's logistic regression with ``C``
  chosen by seeded, stratified k-fold cross-validation.
* :class:`BiLSTMBaseline` (``baseline:bilstm``): a bidirectional LSTM or GRU over word
  embeddings (pretrained from a vector file, or learned from scratch), masked max pooling.
* :class:`TransformerSmall` (``baseline:transformer-small``): torch's own
  ``nn.TransformerEncoder`` (pre-norm), learned positional embeddings, mean pooling.

The two torch models train like :class:`~bench.adapters.textcnn.TextCNNBaseline`: seeded, on
``threads`` CPU threads with deterministic kernels (:func:`~bench.adapters.torch_utils.
torch_settings`), regularised by dropout and decoupled weight decay (AdamW), with early
stopping on a stratified, seeded hold-out of the train split; the weights of the epoch with
the best hold-out macro-F1 are kept, and every epoch's losses and scores go to ``info()``.
Training batches hold texts of similar length (seeded shuffle, then length-sorted pools of 50
batches, batches in seeded random order), so little padding is computed; padding never
changes an answer (packed sequences for the RNN, a key padding mask for attention, masked
pooling for both).

Every vector file is read with :func:`~bench.adapters.vector_files.load_keyed_vectors` and
word2vec is trained with :func:`~bench.adapters.vector_files.train_word2vec`; a fingerprint
holds the vector file's content SHA-256 (never its path) or, for vectors trained here, the
word2vec settings and gensim's version. The runner adds the train split's fingerprint.

torch, gensim and scikit-learn are imported only when a model trains or predicts.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import ConfigDict, Field, model_validator

from bench.adapters.base import Adapter, Baseline, Seed
from bench.adapters.baselines import text_tokens
from bench.adapters.textcnn import (
    PAD,
    UNK,
    _build_vocabulary,
    _macro_f1,
    _mean_nll,
    _sentiment_requests,
    _stratified_holdout,
)
from bench.adapters.torch_utils import torch_settings, train_with_early_stopping
from bench.adapters.vector_files import VectorFormat, embedding_rows, vector_file_identity
from bench.errors import AdapterError
from bench.families.base import Request, Response
from bench.families.sentiment import SentimentRequest, SentimentResponse

__all__ = [
    "BiLSTMBaseline",
    "TransformerSmall",
    "WordVecLogReg",
]

# Rows of words without a pretrained vector (and every row of an embedding learned from
# scratch) start in U(-a, a), as TextCNN's do (see bench.adapters.textcnn._EMBEDDING_INIT).
_EMBEDDING_INIT = 0.05


# ---------------------------------------------------------------------------- shared helpers


def _check_examples(
    name: str, examples: Sequence[tuple[Request, Any]]
) -> tuple[list[SentimentRequest], tuple[str, ...], np.ndarray]:
    """Requests, the task's labels and the label index of each example, checked."""
    if not examples:
        raise AdapterError(f"{name}: the train split is empty")
    requests = _sentiment_requests([r for r, _ in examples])
    labels = requests[0].labels
    refs = [str(ref) for _, ref in examples]
    unknown = sorted(set(refs) - set(labels))
    if unknown:
        raise AdapterError(
            f"{name}: train labels {unknown} are not among the task's labels {labels}",
            fix="map the data's labels onto the task's labels (source.label_map)",
        )
    if len(set(refs)) < 2:
        raise AdapterError(f"{name}: the train split has fewer than two labels")
    index = {lab: i for i, lab in enumerate(labels)}
    return requests, labels, np.array([index[ref] for ref in refs], dtype=np.int64)


def _check_labels(name: str, requests: list[SentimentRequest], trained: tuple[str, ...]) -> None:
    for r in requests:
        if set(r.labels) != set(trained):
            raise AdapterError(
                f"{name}: request '{r.id}' has labels {r.labels}, but the model was trained "
                f"on {trained}",
                fix="predict on the task the model was trained on",
            )


def _responses(
    requests: list[SentimentRequest], labels: tuple[str, ...], probs: np.ndarray
) -> list[Response]:
    """One response per request: probabilities in the request's label order, the most probable
    label (ties: the one the request lists first)."""
    index = {lab: i for i, lab in enumerate(labels)}
    out: list[Response] = []
    for req, row in zip(requests, probs, strict=True):
        dist = {lab: float(row[index[lab]]) for lab in req.labels}
        best = max(req.labels, key=lambda lab: (dist[lab], -req.labels.index(lab)))
        out.append(SentimentResponse(label=best, probabilities=dist))
    return out


# ---------------------------------------------------------------------------- wordvec-logreg


class WordVecLogReg(Baseline):
    """Averaged word vectors and logistic regression, ``C`` chosen by cross-validation.

    Definition: a text with tokens ``w_1 … w_n`` (:func:`~bench.adapters.baselines.text_tokens`:
    the task's tokens when a tokenising step ran, else jieba words for Chinese and a word split
    otherwise) is the vector ``x = Σ_i a_i v(w_i) / Σ_i a_i`` over the tokens that have a vector
    ``v``, with ``a_i = 1`` (``pooling=mean``) or ``a_i = idf(w_i) = ln((1 + N) / (1 + df(w_i))) +
    1`` (``pooling=idf``; ``N`` train texts, ``df`` the number holding the word; scikit-learn's
    smoothed idf). A text with no known token is the zero vector (counted in ``info()``).
    The features are standardised and classified by L2-regularised logistic regression; ``C``
    is the value of ``c_grid`` with the best mean macro-F1 over ``cv`` seeded, stratified
    folds (ties: the smaller ``C``), the scaler refitted inside each fold, then the model is
    refitted on the whole train split.

    ``vectors=PATH`` reads a vector file; ``vectors=word2vec`` (the default) trains skip-gram
    word2vec on the train split's tokens first (no labels are used), so the baseline needs no
    file. The idf and word2vec see the whole train split, labels never.

    Citation: the averaged-embedding baseline of e.g. Iyyer et al. 2015, "Deep Unordered
    Composition Rivals Syntactic Methods for Text Classification", ACL 2015,
    https://aclanthology.org/P15-1162 (without its hidden layers); word2vec: Mikolov et al.
    2013, "Distributed Representations of Words and Phrases and their Compositionality".

    Example:
        >>> from bench.families.sentiment import SentimentRequest
        >>> def req(i, text):
        ...     return SentimentRequest(
        ...         id=str(i), language="en", text=text, labels=("negative", "positive"))
        >>> train = [(req(i, t), lab) for i, (t, lab) in enumerate(
        ...     [("great fun", "positive"), ("awful mess", "negative")] * 4)]
        >>> model = WordVecLogReg(cv=2, w2v_dim=8)
        >>> model.fit(train)
        >>> sorted(model.predict([req(9, "great")])[0].probabilities)
        ['negative', 'positive']
        >>> model.info()["c_grid"] == list(model.params.c_grid), len(model.info()["cv_fold_scores"])
        (True, 5)
    """

    name = "baseline:wordvec-logreg"
    families: ClassVar[tuple[str, ...]] = ("sentiment",)
    requires_training: ClassVar[bool] = True
    version: ClassVar[int] = 1

    class Params(Adapter.Params):
        """Hyper-parameters of the word-vector + logistic regression baseline."""

        model_config = ConfigDict(extra="forbid", frozen=True)
        seed: Seed = 0
        vectors: str = Field(
            default="word2vec", description="a vector file, or word2vec: train on the train split"
        )
        format: VectorFormat | None = Field(default=None, description="None: detect")
        pooling: Literal["mean", "idf"] = "mean"
        cv: int = Field(default=5, ge=2, le=20, description="cross-validation folds")
        c_grid: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0, 100.0)
        max_iter: int = Field(default=2000, ge=100)
        w2v_sg: Literal[0, 1] = 1
        w2v_dim: int = Field(default=100, ge=1, le=4096)
        w2v_window: int = Field(default=5, ge=1)
        w2v_epochs: int = Field(default=10, ge=1)
        w2v_min_count: int = Field(default=2, ge=1)

    params: Params

    def __init__(self, target: str | None = None, **params: Any) -> None:
        super().__init__(target, **params)
        self._model: Any = None
        self._kv: Any = None
        self._idf: dict[str, float] = {}
        self._idf_unseen = 0.0
        self._labels: tuple[str, ...] = ()
        self._info: dict[str, Any] = {}
        self._empty_predicted = 0

    def _word2vec_settings(self) -> Any:
        from bench.adapters.vector_files import Word2VecSettings

        p = self.params
        return Word2VecSettings(
            sg=p.w2v_sg,
            dim=p.w2v_dim,
            window=p.w2v_window,
            epochs=p.w2v_epochs,
            min_count=p.w2v_min_count,
            seed=p.seed,
        )

    def identity(self) -> dict[str, Any]:
        """Name, version and every parameter; the vector file's content hash in place of its
        path, or (``vectors=word2vec``) the word2vec settings and gensim's version.

        Raises:
            DataError: The vector file does not exist.
        """
        from bench.identity import library_version

        ident = super().identity()
        params = dict(ident["params"])
        p = self.params
        if p.vectors == "word2vec":
            params["vectors"] = {
                "word2vec": self._word2vec_settings().as_dict(),
                "gensim": library_version("gensim"),
            }
        else:
            params["vectors"] = vector_file_identity(p.vectors, p.format)
            for key in [k for k in params if k.startswith("w2v_")]:
                del params[key]  # unused with a vector file
        ident["params"] = params
        return ident

    def _features(self, docs: list[list[str]]) -> tuple[np.ndarray, int]:
        """One pooled vector per document (float64) and how many had no known token."""
        kv = self._kv
        x = np.zeros((len(docs), kv.vector_size), dtype=np.float64)
        empty = 0
        for i, doc in enumerate(docs):
            known = [t for t in doc if t in kv.key_to_index]
            if not known:
                empty += 1
                continue
            rows = kv[known].astype(np.float64)
            if self.params.pooling == "idf":
                weights = np.array([self._idf.get(t, self._idf_unseen) for t in known])
                x[i] = weights @ rows / weights.sum()
            else:
                x[i] = rows.mean(axis=0)
        return x, empty

    def fit(self, examples: Sequence[tuple[Request, Any]]) -> None:
        """Read or train the vectors, pool, choose ``C`` by cross-validation, refit.

        Raises:
            AdapterError: The split is empty, has fewer than two labels (or fewer than two
                examples of a label), or holds labels outside the task's.
            DataError: The vector file cannot be read, or word2vec finds no word.
        """
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import GridSearchCV, StratifiedKFold
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        from bench.adapters.vector_files import load_keyed_vectors, train_word2vec

        p = self.params
        requests, labels, y = _check_examples("wordvec-logreg", examples)
        docs = [text_tokens(r) for r in requests]
        folds = min(p.cv, int(np.bincount(y).min()))
        if folds < 2:
            raise AdapterError(
                "wordvec-logreg: a label has fewer than 2 train examples; cannot cross-validate"
            )
        if p.vectors == "word2vec":
            self._kv = train_word2vec([d for d in docs if d], self._word2vec_settings())
            source: dict[str, Any] = {"trained": "word2vec on the train split"}
            source.update(self._word2vec_settings().as_dict())
        else:
            self._kv = load_keyed_vectors(p.vectors, p.format)
            source = {"file": Path(p.vectors).name, "format": p.format or "detected"}
        df = Counter(t for d in docs for t in set(d))
        n = len(docs)
        self._idf = {t: math.log((1 + n) / (1 + c)) + 1.0 for t, c in df.items()}
        self._idf_unseen = math.log(1 + n) + 1.0  # a word never seen in train (df = 0)
        x, empty = self._features(docs)

        grid = list(p.c_grid)
        pipeline = Pipeline(
            [
                ("scale", StandardScaler()),
                ("clf", LogisticRegression(max_iter=p.max_iter, random_state=p.seed)),
            ]
        )
        search = GridSearchCV(
            pipeline,
            {"clf__C": grid},
            scoring="f1_macro",
            cv=StratifiedKFold(folds, shuffle=True, random_state=p.seed),
            refit=True,
        )
        search.fit(x, y)
        res = search.cv_results_
        fold_scores = {
            str(c): [float(res[f"split{k}_test_score"][j]) for k in range(folds)]
            for j, c in enumerate(res["param_clf__C"])
        }
        means = [float(np.mean(fold_scores[str(c)])) for c in grid]
        best = int(np.argmax(means))  # first maximum: the smaller C on ties (grid ascending)
        best_c = float(grid[best])
        if best_c != float(search.best_params_["clf__C"]):
            # GridSearchCV ranks by its own rounding; refit with the documented choice.
            pipeline.set_params(clf__C=best_c)
            self._model = pipeline.fit(x, y)
        else:
            self._model = search.best_estimator_
        self._labels = labels
        self._empty_predicted = 0
        known = sum(1 for t in df if t in self._kv.key_to_index)
        self._info = {
            "vectors": source,
            "vector_size": int(self._kv.vector_size),
            "vocabulary_size": len(self._kv),
            "train_words_with_vectors": known,
            "train_words": len(df),
            "pooling": p.pooling,
            "empty_train_texts": empty,
            "cv_folds": folds,
            "cv_scoring": "macro_f1",
            "c_grid": grid,
            "cv_fold_scores": fold_scores,
            "cv_mean_scores": {str(c): m for c, m in zip(grid, means, strict=True)},
            "best_c": best_c,
        }

    def info(self) -> dict[str, Any]:
        """The vectors, the cross-validation grid, every fold's macro-F1, the chosen ``C`` and
        how many texts had no known token (train, and predicted so far)."""
        if not self._info:
            return {}
        return {**self._info, "empty_predicted_texts": self._empty_predicted}

    def predict(self, requests: Sequence[Request]) -> list[Response]:
        """Label each request; probabilities follow the request's label order.

        Raises:
            AdapterError: Called before :meth:`fit`, or with labels the model was not trained on.
        """
        if self._model is None:
            raise AdapterError(
                "wordvec-logreg: predict() called before fit()", fix="train it with fit() first"
            )
        reqs = _sentiment_requests(requests)
        _check_labels("wordvec-logreg", reqs, self._labels)
        if not reqs:
            return []
        x, empty = self._features([text_tokens(r) for r in reqs])
        self._empty_predicted += empty
        probs = np.zeros((len(reqs), len(self._labels)), dtype=np.float64)
        probs[:, self._model.classes_] = self._model.predict_proba(x)
        probs /= probs.sum(axis=1, keepdims=True)
        return _responses(reqs, self._labels, probs)


# ---------------------------------------------------------------------------- torch models


class _TorchTextClassifier(Baseline, ABC):
    """Vocabulary, optional pretrained embeddings, the training loop with early stopping and
    batched prediction shared by :class:`BiLSTMBaseline` and :class:`TransformerSmall`.

    Subclasses give ``Params`` (derived from :class:`_TorchTextClassifier.Params`) and
    :meth:`_network`.
    """

    families: ClassVar[tuple[str, ...]] = ("sentiment",)
    requires_training: ClassVar[bool] = True

    class Params(Adapter.Params):
        """Hyper-parameters shared by the torch classifiers."""

        model_config = ConfigDict(extra="forbid", frozen=True)
        seed: Seed = 0
        units: Literal["word", "char"] = Field(
            default="word", description="word: text_tokens (jieba words for Chinese); char"
        )
        vectors: str | None = Field(default=None, description="a vector file; None: scratch")
        format: VectorFormat | None = Field(default=None, description="None: detect")
        freeze: bool = Field(default=False, description="keep the embedding fixed")
        embedding_dim: int = Field(
            default=64, ge=1, le=4096, description="the file's size when vectors are given"
        )
        dropout: float = Field(default=0.3, ge=0.0, lt=1.0)
        max_len: int = Field(default=128, ge=1, description="tokens kept per text")
        min_freq: int = Field(default=1, ge=1, description="train count for a vocabulary entry")
        max_vocab: int = Field(default=30000, ge=1, description="entries besides PAD and UNK")
        batch_size: int = Field(default=64, ge=1)
        lr: float = Field(default=2e-3, gt=0.0, description="AdamW learning rate")
        weight_decay: float = Field(default=0.01, ge=0.0, description="AdamW (decoupled)")
        max_epochs: int = Field(default=10, ge=1)
        patience: int = Field(default=3, ge=1, description="epochs without improvement")
        validation_fraction: float = Field(
            default=0.1, ge=0.0, lt=1.0, description="0 = no hold-out, train max_epochs"
        )
        # One thread: these models' kernels are small and sequential (an RNN step, a 64-wide
        # attention), and a second intra-op thread made a BiLSTM epoch over 320 texts 15 times
        # slower on a busy 2-core machine (1.1 s against 16.7 s for two epochs).
        threads: int = Field(default=1, ge=1, description="torch intra-op threads")

        @model_validator(mode="after")
        def _check_vectors(self) -> _TorchTextClassifier.Params:
            if self.vectors is None and (self.freeze or self.format is not None):
                raise ValueError("freeze and format apply to vectors=PATH only; give vectors=")
            return self

    params: Any

    def __init__(self, target: str | None = None, **params: Any) -> None:
        super().__init__(target, **params)
        self._model: Any = None
        self._vocab: dict[str, int] = {}
        self._labels: tuple[str, ...] = ()
        self.history: list[dict[str, float | int | None]] = []
        self.best_epoch: int | None = None
        self._embedding_info: dict[str, Any] = {}
        self._split_info: dict[str, int] = {}

    @property
    def short_name(self) -> str:
        return self.name.removeprefix("baseline:")

    @property
    def vocabulary_size(self) -> int:
        """Number of token ids, ``PAD`` and ``UNK`` included (2 before :meth:`fit`)."""
        return len(self._vocab) + 2

    def identity(self) -> dict[str, Any]:
        """Name, version and every parameter, the vector file by its content hash (not path).

        Raises:
            DataError: The vector file does not exist.
        """
        ident = super().identity()
        p = self.params
        if p.vectors is not None:
            vectors = vector_file_identity(p.vectors, p.format)
            ident["params"] = {**ident["params"], "vectors": vectors}
        return ident

    def _units(self, request: SentimentRequest) -> list[str]:
        if self.params.units == "char":
            return [c for c in request.text.lower() if not c.isspace()]
        return text_tokens(request)

    def _encode(self, request: SentimentRequest) -> list[int]:
        tokens = self._units(request)[: self.params.max_len]
        # An empty text is one PAD token (its embedding row is zero), so every text has a
        # position to pool over.
        return [self._vocab.get(t, UNK) for t in tokens] or [PAD]

    @abstractmethod
    def _network(self, vocab_size: int, n_labels: int, embedding_dim: int) -> Any:
        """The torch module: ``forward(ids, lengths) -> logits``, with an ``embedding``."""

    def fit(self, examples: Sequence[tuple[Request, Any]]) -> None:
        """Build the vocabulary, train with early stopping, keep the best epoch's weights.

        Args:
            examples: ``(request, reference label)`` pairs of the train split.

        Raises:
            AdapterError: The split is empty, has fewer than two labels or labels outside the
                task's, or ``embedding_dim`` contradicts the vector file's size.
            DataError: The vector file cannot be read.
        """
        import torch

        p = self.params
        name = self.short_name
        requests, labels, y = _check_examples(name, examples)
        tokens = [self._units(r) for r in requests]
        rng = np.random.default_rng(p.seed)
        val_idx = _stratified_holdout(y, len(labels), p.validation_fraction, rng)
        is_val = np.zeros(len(y), dtype=bool)
        is_val[val_idx] = True
        train_idx = np.flatnonzero(~is_val)
        self._vocab = _build_vocabulary([tokens[i] for i in train_idx], p.min_freq, p.max_vocab)

        kv = None
        dim = p.embedding_dim
        if p.vectors is not None:
            from bench.adapters.vector_files import load_keyed_vectors

            kv = load_keyed_vectors(p.vectors, p.format)
            if "embedding_dim" in p.model_fields_set and p.embedding_dim != kv.vector_size:
                raise AdapterError(
                    f"{name}: embedding_dim={p.embedding_dim}, but {p.vectors} holds "
                    f"{kv.vector_size}-dimensional vectors",
                    fix="leave embedding_dim out when vectors= is given",
                )
            dim = int(kv.vector_size)

        seqs = [self._encode(r) for r in requests]
        train_seqs = [seqs[i] for i in train_idx]
        train_y = torch.from_numpy(y[train_idx])
        val_seqs = [seqs[i] for i in val_idx]
        val_y = y[val_idx]

        with torch_settings(torch, p.threads, p.seed):
            model = self._network(len(self._vocab) + 2, len(labels), dim)
            self._embedding_info = _init_embedding(torch, model.embedding, self._vocab, kv, p)
            params = [q for q in model.parameters() if q.requires_grad]
            optimiser = torch.optim.AdamW(params, lr=p.lr, weight_decay=p.weight_decay)
            generator = torch.Generator().manual_seed(p.seed)

            def epoch_batches() -> Iterator[tuple[tuple[Any, ...], Any]]:
                for batch in _bucketed_batches(torch, train_seqs, p.batch_size, generator):
                    ids, lengths = _pad(torch, [train_seqs[i] for i in batch])
                    yield (ids, lengths), train_y[batch]

            def validate() -> tuple[float, float]:
                probs = self._probabilities(torch, model, val_seqs)
                return _macro_f1(val_y, probs.argmax(axis=1)), _mean_nll(probs, val_y)

            history, best_epoch = train_with_early_stopping(
                torch,
                model,
                optimiser,
                epoch_batches,
                len(train_seqs),
                validate if val_seqs else None,
                max_epochs=p.max_epochs,
                patience=p.patience,
                progress=self.report_fit,
            )

        self._model = model
        self._labels = labels
        self.history = history
        self.best_epoch = best_epoch
        self._split_info = {"train_examples": len(train_idx), "validation_examples": len(val_idx)}

    def info(self) -> dict[str, Any]:
        """The training curve, the epoch kept, the regularisers and the embeddings' origin."""
        if self._model is None:
            return {}
        p = self.params
        return {
            "history": self.history,
            "best_epoch": self.best_epoch,
            "early_stopping": {
                "monitor": "val_macro_f1 (ties: lower val_loss)",
                "patience": p.patience,
                "validation_fraction": p.validation_fraction,
                **self._split_info,
            },
            "regularisation": {
                "dropout": p.dropout,
                "weight_decay": p.weight_decay,
                "optimizer": "AdamW",
            },
            "vocabulary_size": self.vocabulary_size,
            "parameters": int(sum(q.numel() for q in self._model.parameters())),
            "embedding": self._embedding_info,
            **self._architecture(),
        }

    def _architecture(self) -> dict[str, Any]:
        return {}

    def predict(self, requests: Sequence[Request]) -> list[Response]:
        """Label each request with the most probable label (ties: the one listed first).

        Requests are batched by length; responses come back in input order.

        Raises:
            AdapterError: Called before :meth:`fit`, or with labels the model was not trained on.
        """
        import torch

        name = self.short_name
        if self._model is None:
            raise AdapterError(
                f"{name}: predict() called before fit()", fix="train the model with fit() first"
            )
        reqs = _sentiment_requests(requests)
        _check_labels(name, reqs, self._labels)
        if not reqs:
            return []
        seqs = [self._encode(r) for r in reqs]
        with torch_settings(torch, self.params.threads, None):
            probs = self._probabilities(torch, self._model, seqs)
        return _responses(reqs, self._labels, probs)

    def _probabilities(self, torch: Any, model: Any, seqs: list[list[int]]) -> np.ndarray:
        """Softmax probabilities (float64, rows summing to 1) in the order of ``seqs``."""
        model.eval()
        out = np.empty((len(seqs), model.n_labels), dtype=np.float64)
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
        step = max(self.params.batch_size, 256)
        with torch.inference_mode():
            for start in range(0, len(order), step):
                batch = order[start : start + step]
                ids, lengths = _pad(torch, [seqs[i] for i in batch])
                logits = model(ids, lengths).double()
                out[batch] = torch.softmax(logits, dim=1).numpy()
        out /= out.sum(axis=1, keepdims=True)
        return out


# Texts are shuffled, cut into pools of this many batches, and sorted by length within a
# pool before they are cut into batches, so a batch holds texts of similar length and little
# padding is computed (the bucketing of torchtext's BucketIterator).
_POOL_BATCHES = 50


def _bucketed_batches(
    torch: Any, seqs: list[list[int]], batch_size: int, generator: Any
) -> list[list[int]]:
    """One epoch's batches of indices into ``seqs``: seeded shuffle, length-sorted pools,
    batches in a seeded random order."""
    order = torch.randperm(len(seqs), generator=generator).tolist()
    pool = batch_size * _POOL_BATCHES
    batches: list[list[int]] = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: len(seqs[i]))
        batches += [chunk[k : k + batch_size] for k in range(0, len(chunk), batch_size)]
    permutation = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in permutation]


def _pad(torch: Any, seqs: list[list[int]]) -> tuple[Any, Any]:
    """Pad to the batch's longest text; return ids ``(batch, time)`` and lengths."""
    rows = [torch.tensor(s, dtype=torch.long) for s in seqs]
    ids = torch.nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=PAD)
    return ids, torch.tensor([len(s) for s in seqs], dtype=torch.long)


def _init_embedding(
    torch: Any, embedding: Any, vocab: dict[str, int], kv: Any, p: Any
) -> dict[str, Any]:
    """Seeded U(-a, a) rows (PAD zero), pretrained rows copied in, frozen when asked.

    Runs inside :func:`torch_settings`, so the uniform start comes from the seeded stream.
    Returns what ``info()`` records about the embedding.
    """
    with torch.no_grad():
        embedding.weight.uniform_(-_EMBEDDING_INIT, _EMBEDDING_INIT)
        known = 0
        if kv is not None:
            ids, rows = embedding_rows(kv, vocab)
            if len(ids):
                embedding.weight[torch.from_numpy(ids)] = torch.from_numpy(rows)
            known = len(ids)
        embedding.weight[PAD].zero_()
    if kv is not None and p.freeze:
        embedding.weight.requires_grad_(False)
    if kv is None:
        return {"source": "scratch", "dim": int(embedding.embedding_dim), "freeze": False}
    return {
        "source": Path(p.vectors).name,
        "dim": int(embedding.embedding_dim),
        "freeze": bool(p.freeze),
        "pretrained_rows": known,
        "random_rows": len(vocab) - known,  # words of the train vocabulary without a vector
    }


class BiLSTMBaseline(_TorchTextClassifier):
    """A bidirectional LSTM (or GRU) text classifier with masked max pooling.

    Definition: a text's tokens (words by default: :func:`~bench.adapters.baselines.text_tokens`,
    jieba words for Chinese; at most ``max_len``) are embedded — rows from ``vectors=PATH`` for
    the words it holds, seeded U(-0.05, 0.05) for the others (or all, from scratch);
    ``freeze=true`` keeps the embedding fixed — and dropped out; a ``layers``-deep bidirectional
    ``cell`` (LSTM or GRU, ``hidden`` units each way) reads them as a packed sequence, so the
    padding of a batch never enters a text's states; the outputs at the text's own positions
    are max-pooled, dropped out and mapped to one logit per label. Training minimises
    cross-entropy with AdamW (``weight_decay``), early-stopped on a stratified hold-out of the
    train split as :class:`~bench.adapters.textcnn.TextCNNBaseline` is.

    Citation: Hochreiter & Schmidhuber 1997, "Long Short-Term Memory", Neural Computation 9(8);
    Cho et al. 2014 (GRU), https://aclanthology.org/D14-1179; max pooling over BiLSTM states as
    in Conneau et al. 2017, https://aclanthology.org/D17-1070.

    Example:
        >>> from bench.families.sentiment import SentimentRequest
        >>> def req(i, text):
        ...     return SentimentRequest(
        ...         id=str(i), language="en", text=text, labels=("negative", "positive"))
        >>> train = [(req(0, "great fun"), "positive"), (req(1, "awful mess"), "negative")]
        >>> model = BiLSTMBaseline(cell="gru", max_epochs=2, validation_fraction=0.0)
        >>> model.fit(train)
        >>> [len(r.probabilities) for r in model.predict([req(9, "great plot")])]
        [2]
    """

    name = "baseline:bilstm"
    version: ClassVar[int] = 1

    class Params(_TorchTextClassifier.Params):
        """Hyper-parameters of the BiLSTM/BiGRU baseline."""

        cell: Literal["lstm", "gru"] = "lstm"
        hidden: int = Field(default=64, ge=1, le=4096, description="units per direction")
        layers: int = Field(default=1, ge=1, le=8)

    params: Params

    def _architecture(self) -> dict[str, Any]:
        p = self.params
        return {"cell": p.cell, "hidden": p.hidden, "layers": p.layers, "pooling": "masked max"}

    def _network(self, vocab_size: int, n_labels: int, embedding_dim: int) -> Any:
        import torch
        from torch import nn

        p = self.params
        rnn_class = nn.LSTM if p.cell == "lstm" else nn.GRU

        class BiRNN(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.n_labels = n_labels
                self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD)
                self.rnn = rnn_class(
                    embedding_dim,
                    p.hidden,
                    num_layers=p.layers,
                    batch_first=True,
                    bidirectional=True,
                    dropout=p.dropout if p.layers > 1 else 0.0,
                )
                self.dropout = nn.Dropout(p.dropout)
                self.out = nn.Linear(2 * p.hidden, n_labels)

            def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
                x = self.dropout(self.embedding(ids))
                packed = nn.utils.rnn.pack_padded_sequence(
                    x, lengths, batch_first=True, enforce_sorted=False
                )
                states, _ = self.rnn(packed)
                h, _ = nn.utils.rnn.pad_packed_sequence(
                    states, batch_first=True, total_length=ids.size(1)
                )
                positions = torch.arange(h.size(1), device=h.device)
                pad = positions.unsqueeze(0) >= lengths.unsqueeze(1)
                pooled = h.masked_fill(pad.unsqueeze(2), float("-inf")).amax(dim=1)
                return self.out(self.dropout(pooled))

        return BiRNN()


class TransformerSmall(_TorchTextClassifier):
    """A small Transformer encoder trained from scratch (torch's ``nn.TransformerEncoder``).

    Definition: token embeddings (``d_model`` wide; from ``vectors=PATH`` when given, whose size
    must then be ``d_model``) plus learned positional embeddings of positions ``0 … max_len-1``
    go through ``layers`` **pre-norm** encoder layers (``norm_first=True``:
    ``x + SA(LN(x))``, then ``x + FF(LN(x))``, and a final LayerNorm), each with ``heads``-head
    self-attention

        ``Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V``,  ``d_k = d_model / heads``,

    where ``Q, K, V`` are learned projections of the layer's (normalised) input and the key
    padding mask sets the scores of padding keys to −∞, and a ReLU feed-forward block of
    ``ff_dim`` units. The outputs at the text's own (non-padding) positions are averaged,
    dropped out and mapped to one logit per label. Dropout is applied inside every layer and
    to the pooled vector; training is AdamW with weight decay and early stopping as for the
    other torch baselines. The defaults (``d_model`` 64, 2 layers, 4 heads) train on CPU in
    seconds on the smoke tasks.

    Citation: Vaswani et al. 2017, "Attention Is All You Need", NeurIPS 2017,
    https://arxiv.org/abs/1706.03762; pre-norm: Xiong et al. 2020, "On Layer Normalization in
    the Transformer Architecture", ICML 2020, https://arxiv.org/abs/2002.04745.

    Example:
        >>> from bench.families.sentiment import SentimentRequest
        >>> def req(i, text):
        ...     return SentimentRequest(
        ...         id=str(i), language="en", text=text, labels=("negative", "positive"))
        >>> train = [(req(0, "great fun"), "positive"), (req(1, "awful mess"), "negative")]
        >>> model = TransformerSmall(max_epochs=2, validation_fraction=0.0)
        >>> model.fit(train)
        >>> [len(r.probabilities) for r in model.predict([req(9, "great plot")])]
        [2]
    """

    name = "baseline:transformer-small"
    version: ClassVar[int] = 1

    class Params(_TorchTextClassifier.Params):
        """Hyper-parameters of the small Transformer encoder (``embedding_dim`` is ``d_model``)."""

        heads: int = Field(default=4, ge=1, le=64)
        layers: int = Field(default=2, ge=1, le=24)
        ff_dim: int = Field(default=128, ge=1, le=16384, description="feed-forward width")
        dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
        lr: float = Field(default=1e-3, gt=0.0, description="AdamW learning rate")

    params: Params

    def _architecture(self) -> dict[str, Any]:
        p = self.params
        return {
            "d_model": self._model.embedding.embedding_dim if self._model else p.embedding_dim,
            "heads": p.heads,
            "layers": p.layers,
            "ff_dim": p.ff_dim,
            "norm": "pre-norm (norm_first=True) + final LayerNorm",
            "positions": "learned",
            "pooling": "mean over non-padding positions",
        }

    def _network(self, vocab_size: int, n_labels: int, embedding_dim: int) -> Any:
        import torch
        from torch import nn

        p = self.params
        if embedding_dim % p.heads:
            raise AdapterError(
                f"transformer-small: d_model {embedding_dim} (embedding_dim or the vector "
                f"size) is not divisible by heads={p.heads}",
                fix="choose heads that divide the embedding size",
            )

        class Encoder(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.n_labels = n_labels
                self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD)
                self.positions = nn.Embedding(p.max_len, embedding_dim)
                nn.init.normal_(self.positions.weight, std=0.02)
                layer = nn.TransformerEncoderLayer(
                    embedding_dim,
                    p.heads,
                    dim_feedforward=p.ff_dim,
                    dropout=p.dropout,
                    activation="relu",
                    batch_first=True,
                    norm_first=True,
                )
                self.encoder = nn.TransformerEncoder(
                    layer,
                    p.layers,
                    norm=nn.LayerNorm(embedding_dim),
                    enable_nested_tensor=False,
                )
                self.dropout = nn.Dropout(p.dropout)
                self.out = nn.Linear(embedding_dim, n_labels)

            def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
                positions = torch.arange(ids.size(1), device=ids.device)
                x = self.embedding(ids) + self.positions(positions).unsqueeze(0)
                pad = positions.unsqueeze(0) >= lengths.unsqueeze(1)
                h = self.encoder(x, src_key_padding_mask=pad)
                keep = (~pad).unsqueeze(2).to(h.dtype)
                pooled = (h * keep).sum(dim=1) / keep.sum(dim=1)
                return self.out(self.dropout(pooled))

        return Encoder()
