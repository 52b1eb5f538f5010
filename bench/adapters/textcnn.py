"""TextCNN: a convolutional sentence classifier trained on the task's train split.

The model of Kim (2014): token embeddings, parallel 1-D convolutions of several widths with
ReLU, max-over-time pooling, dropout and a linear layer over the task's labels. Embeddings are
learned from scratch by default (Kim's "CNN-rand"), so the baseline needs no download; with
``vectors=PATH`` they start from a word-vector file (Kim's "CNN-non-static", or "CNN-static"
with ``freeze=true``). Chinese is read character by character and other languages word by word
(:func:`~bench.adapters.baselines.text_tokens`), unless ``units`` says otherwise; with
``vectors=PATH``, ``units=auto`` reads words in every language (the file holds words).

Torch is imported only when the adapter trains or predicts, so importing this module stays
cheap.

Reference:
    Yoon Kim. 2014. "Convolutional Neural Networks for Sentence Classification". In
    Proceedings of EMNLP 2014, pages 1746-1751. https://aclanthology.org/D14-1181
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import ConfigDict, Field, field_validator, model_validator

from bench.adapters.base import Adapter, Baseline, Seed
from bench.adapters.baselines import text_tokens
from bench.adapters.torch_utils import torch_settings, train_with_early_stopping
from bench.adapters.vector_files import VectorFormat
from bench.errors import AdapterError
from bench.families.base import Request, Response
from bench.families.sentiment import SentimentRequest, SentimentResponse

__all__ = ["TextCNNBaseline"]

PAD = 0
UNK = 1
# Embeddings start in U(-a, a) with a small a (Kim's CNN-rand starts uniform too). torch's
# N(0, 1) start overfits small train splits at once: trained on 600 SST-2 sentences it scored
# 0.61 mean accuracy over six shuffles against 0.68 with this start; ChnSentiCorp was unchanged.
_EMBEDDING_INIT = 0.05


class TextCNNBaseline(Baseline):
    """A Kim-2014 convolutional text classifier (CNN-rand), trained on CPU with early stopping.

    Definition: each text becomes a sequence of at most ``max_len`` token ids (characters for
    Chinese, words otherwise; unknown tokens map to ``UNK``). Every token is embedded; for every
    width ``k`` in ``kernel_sizes``, ``filters`` convolutions over ``k`` consecutive embeddings
    are passed through a ReLU and max-pooled over the text's positions; the pooled features
    are concatenated, dropped out while training, and mapped to one logit per label. The
    probabilities are the softmax of the logits. Training minimises cross-entropy with Adam;
    a stratified, seeded ``validation_fraction`` of the train split is held out, and the
    weights of the epoch with the best validation macro-F1 (ties: lower validation loss) are
    kept, stopping after ``patience`` epochs without improvement.

    With ``vectors=PATH`` the embedding rows of the train vocabulary's words that the file
    holds are the file's vectors (looked up as they are, then lower-cased), the other rows
    start seeded in U(-0.05, 0.05), the embedding size is the file's, and ``freeze=true`` keeps
    the whole embedding fixed. The fingerprint holds the file's content SHA-256, not its path.

    Texts are padded per batch, and positions whose window reaches into the padding are masked
    before pooling, so a text's answer does not depend on the other texts in its batch.

    Citation: Yoon Kim. 2014. "Convolutional Neural Networks for Sentence Classification".
    EMNLP 2014. https://aclanthology.org/D14-1181

    Attributes:
        history: One dict per trained epoch: ``epoch``, ``train_loss``, ``val_macro_f1`` and
            ``val_loss`` (both ``None`` when nothing was held out). Also in :meth:`info`.
        best_epoch: The epoch whose weights were kept (the last one when nothing was held out).
        vocabulary_size: Number of token ids, ``PAD`` and ``UNK`` included.

    Example:
        >>> from bench.families.sentiment import SentimentRequest
        >>> def req(i, text):
        ...     return SentimentRequest(
        ...         id=str(i), language="en", text=text, labels=("negative", "positive"))
        >>> train = [(req(0, "great fun"), "positive"), (req(1, "awful mess"), "negative"),
        ...          (req(2, "great cast"), "positive"), (req(3, "awful plot"), "negative")]
        >>> model = TextCNNBaseline(max_epochs=2, validation_fraction=0.0)
        >>> model.fit(train)
        >>> [len(r.probabilities) for r in model.predict([req(9, "great plot")])]
        [2]
    """

    name = "baseline:textcnn"
    families: ClassVar[tuple[str, ...]] = ("sentiment",)
    requires_training: ClassVar[bool] = True
    version: ClassVar[int] = 1

    class Params(Adapter.Params):
        """Hyper-parameters of the TextCNN baseline.

        ``kernel_sizes`` also accepts a string such as ``"2;3;4"`` or ``"2 3 4"`` (a model spec
        on the command line separates its parameters with commas).
        """

        model_config = ConfigDict(extra="forbid", frozen=True)
        seed: Seed = 0
        units: Literal["auto", "char", "word"] = Field(
            default="auto",
            description="auto: characters for Chinese, words otherwise (words with vectors=)",
        )
        vectors: str | None = Field(default=None, description="a vector file; None: scratch")
        format: VectorFormat | None = Field(default=None, description="None: detect")
        freeze: bool = Field(default=False, description="keep the embedding fixed")
        embedding_dim: int = Field(
            default=64, ge=1, le=4096, description="the file's size when vectors are given"
        )
        filters: int = Field(default=64, ge=1, le=4096, description="filters per kernel size")
        kernel_sizes: tuple[int, ...] = (2, 3, 4)
        dropout: float = Field(default=0.5, ge=0.0, lt=1.0)
        max_len: int = Field(default=256, ge=1, description="tokens kept per text")
        min_freq: int = Field(default=1, ge=1, description="train count for a vocabulary entry")
        max_vocab: int = Field(default=30000, ge=1, description="entries besides PAD and UNK")
        batch_size: int = Field(default=64, ge=1)
        lr: float = Field(default=2e-3, gt=0.0, description="Adam learning rate")
        weight_decay: float = Field(default=0.0, ge=0.0)
        max_epochs: int = Field(default=15, ge=1)
        patience: int = Field(default=3, ge=1, description="epochs without improvement")
        validation_fraction: float = Field(
            default=0.1, ge=0.0, lt=1.0, description="0 = no hold-out, train max_epochs"
        )
        threads: int = Field(default=2, ge=1, description="torch intra-op threads")

        @field_validator("kernel_sizes", mode="before")
        @classmethod
        def _split_kernel_sizes(cls, value: Any) -> Any:
            if isinstance(value, str):
                return tuple(part for part in value.replace(";", " ").split() if part)
            return value

        @field_validator("kernel_sizes")
        @classmethod
        def _check_kernel_sizes(cls, value: tuple[int, ...]) -> tuple[int, ...]:
            if not value or any(k < 1 for k in value):
                raise ValueError(f"give one or more kernel sizes >= 1, got {value}")
            return value

        @model_validator(mode="after")
        def _check_max_len(self) -> TextCNNBaseline.Params:
            if self.vectors is None and (self.freeze or self.format is not None):
                raise ValueError("freeze and format apply to vectors=PATH only; give vectors=")
            if self.max_len < max(self.kernel_sizes):
                raise ValueError(
                    f"max_len ({self.max_len}) is shorter than the widest kernel "
                    f"({max(self.kernel_sizes)})"
                )
            return self

    params: Params  # the validated values (narrowed from the base class's type)

    def __init__(self, target: str | None = None, **params: Any) -> None:
        super().__init__(target, **params)
        self._model: Any = None
        self._vocab: dict[str, int] = {}
        self._labels: tuple[str, ...] = ()
        self.history: list[dict[str, float | int | None]] = []
        self.best_epoch: int | None = None
        self._embedding_info: dict[str, Any] = {}

    def identity(self) -> dict[str, Any]:
        """Name, version and parameters; a vector file by its content SHA-256 (not its path).

        Without ``vectors`` the identity is what it was before vectors existed, so cached
        answers of from-scratch models stay valid.

        Raises:
            DataError: The vector file does not exist.
        """
        ident = super().identity()
        params = dict(ident["params"])
        if self.params.vectors is None:
            for key in ("vectors", "format", "freeze"):
                params.pop(key, None)
        else:
            from bench.adapters.vector_files import vector_file_identity

            params["vectors"] = vector_file_identity(self.params.vectors, self.params.format)
        ident["params"] = params
        return ident

    def info(self) -> dict[str, Any]:
        """The training curve, the epoch kept, the regularisers and the embeddings' origin."""
        if self._model is None:
            return {}
        p = self.params
        return {
            "history": self.history,
            "best_epoch": self.best_epoch,
            "regularisation": {
                "dropout": p.dropout,
                "weight_decay": p.weight_decay,
                "optimizer": "Adam",
            },
            "vocabulary_size": self.vocabulary_size,
            "embedding": self._embedding_info,
        }

    @property
    def vocabulary_size(self) -> int:
        """Number of token ids, ``PAD`` and ``UNK`` included (2 before :meth:`fit`)."""
        return len(self._vocab) + 2

    def fit(self, examples: Sequence[tuple[Request, Any]]) -> None:
        """Build the vocabulary and train, keeping the best epoch's weights.

        Args:
            examples: ``(request, reference label)`` pairs of the train split.

        Raises:
            AdapterError: The split is empty, has fewer than two labels, holds a label outside
                the task's labels, or holds a request that is not a sentiment request.
        """
        import torch

        if not examples:
            raise AdapterError("textcnn: the train split is empty")
        requests = _sentiment_requests([r for r, _ in examples])
        labels = requests[0].labels
        index = {lab: i for i, lab in enumerate(labels)}
        refs = [str(ref) for _, ref in examples]
        unknown = sorted(set(refs) - set(labels))
        if unknown:
            raise AdapterError(
                f"textcnn: train labels {unknown} are not among the task's labels {labels}",
                fix="map the data's labels onto the task's labels (source.label_map)",
            )
        if len(set(refs)) < 2:
            raise AdapterError("textcnn: the train split has fewer than two labels")
        p = self.params
        kv = None
        dim = p.embedding_dim
        if p.vectors is not None:
            from bench.adapters.vector_files import load_keyed_vectors

            kv = load_keyed_vectors(p.vectors, p.format)
            if "embedding_dim" in p.model_fields_set and p.embedding_dim != kv.vector_size:
                raise AdapterError(
                    f"textcnn: embedding_dim={p.embedding_dim}, but {p.vectors} holds "
                    f"{kv.vector_size}-dimensional vectors",
                    fix="leave embedding_dim out when vectors= is given",
                )
            dim = int(kv.vector_size)
        y = np.array([index[ref] for ref in refs], dtype=np.int64)
        tokens = [self._units(r) for r in requests]

        rng = np.random.default_rng(p.seed)
        val_idx = _stratified_holdout(y, len(labels), p.validation_fraction, rng)
        is_val = np.zeros(len(y), dtype=bool)
        is_val[val_idx] = True
        train_idx = np.flatnonzero(~is_val)

        vocab = _build_vocabulary([tokens[i] for i in train_idx], p.min_freq, p.max_vocab)
        seqs = [_encode(t, vocab, p.max_len) for t in tokens]
        train_seqs = [seqs[i] for i in train_idx]
        train_y = torch.from_numpy(y[train_idx])
        val_seqs = [seqs[i] for i in val_idx]
        val_y = y[val_idx]

        with torch_settings(torch, p.threads, p.seed):
            model = _build_model(len(vocab) + 2, len(labels), p, dim)
            embedding_info = {"source": "scratch", "dim": dim, "freeze": False}
            if kv is not None:
                from bench.adapters.vector_files import embedding_rows

                ids, rows = embedding_rows(kv, vocab)
                with torch.no_grad():
                    if len(ids):
                        model.embedding.weight[torch.from_numpy(ids)] = torch.from_numpy(rows)
                if p.freeze:
                    model.embedding.weight.requires_grad_(False)
                embedding_info = {
                    "source": Path(str(p.vectors)).name,
                    "dim": dim,
                    "freeze": p.freeze,
                    "pretrained_rows": len(ids),
                    "random_rows": len(vocab) - len(ids),
                }
            trainable = [q for q in model.parameters() if q.requires_grad]
            optimiser = torch.optim.Adam(trainable, lr=p.lr, weight_decay=p.weight_decay)
            generator = torch.Generator().manual_seed(p.seed)

            def epoch_batches() -> Iterator[tuple[tuple[Any, ...], Any]]:
                order = torch.randperm(len(train_seqs), generator=generator).tolist()
                for start in range(0, len(order), p.batch_size):
                    batch = order[start : start + p.batch_size]
                    ids, lengths = _pad(torch, [train_seqs[i] for i in batch], self._min_len)
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
        self._vocab = vocab
        self._labels = labels
        self.history = history
        self.best_epoch = best_epoch
        self._embedding_info = embedding_info

    def predict(self, requests: Sequence[Request]) -> list[Response]:
        """Label each request with the most probable label (ties: the one listed first).

        Requests are batched in order of length; responses come back in input order, with a
        probability for each of the request's labels.

        Raises:
            AdapterError: Called before :meth:`fit`, or a request's labels are not the labels
                the model was trained on.
        """
        import torch

        if self._model is None:
            raise AdapterError(
                "textcnn: predict() called before fit()", fix="train the model with fit() first"
            )
        reqs = _sentiment_requests(requests)
        trained = set(self._labels)
        for r in reqs:
            if set(r.labels) != trained:
                raise AdapterError(
                    f"textcnn: request '{r.id}' has labels {r.labels}, but the model was trained "
                    f"on {self._labels}",
                    fix="predict on the task the model was trained on",
                )
        if not reqs:
            return []
        index = {lab: i for i, lab in enumerate(self._labels)}
        seqs = [_encode(self._units(r), self._vocab, self.params.max_len) for r in reqs]
        with torch_settings(torch, self.params.threads, None):
            probs = self._probabilities(torch, self._model, seqs)
        out: list[Response] = []
        for req, row in zip(reqs, probs, strict=True):
            dist = {lab: float(row[index[lab]]) for lab in req.labels}
            best = max(req.labels, key=lambda lab: (dist[lab], -req.labels.index(lab)))
            out.append(SentimentResponse(label=best, probabilities=dist))
        return out

    @property
    def _min_len(self) -> int:
        return max(self.params.kernel_sizes)

    def _units(self, request: SentimentRequest) -> list[str]:
        units = self.params.units
        if units == "auto":
            zh = request.language.lower().startswith("zh")
            units = "char" if zh and self.params.vectors is None else "word"
        if units == "char":
            return [c for c in request.text.lower() if not c.isspace()]
        return text_tokens(request)

    def _probabilities(self, torch: Any, model: Any, seqs: list[list[int]]) -> np.ndarray:
        """Softmax probabilities (float64, rows summing to 1) in the order of ``seqs``."""
        model.eval()
        out = np.empty((len(seqs), len(model.out.bias)), dtype=np.float64)
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
        step = max(self.params.batch_size, 256)
        with torch.inference_mode():
            for start in range(0, len(order), step):
                batch = order[start : start + step]
                ids, lengths = _pad(torch, [seqs[i] for i in batch], self._min_len)
                logits = model(ids, lengths).double()
                out[batch] = torch.softmax(logits, dim=1).numpy()
        out /= out.sum(axis=1, keepdims=True)
        return out


def _sentiment_requests(requests: Sequence[Request]) -> list[SentimentRequest]:
    out = []
    for r in requests:
        if not isinstance(r, SentimentRequest):
            raise AdapterError(f"textcnn: expected sentiment requests, got {type(r).__name__}")
        out.append(r)
    return out


def _stratified_holdout(
    y: np.ndarray, n_labels: int, fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """Indices of a seeded hold-out with ``fraction`` of each label (at least one left to train)."""
    picked: list[np.ndarray] = []
    for label in range(n_labels):
        members = np.flatnonzero(y == label)
        k = min(round(fraction * len(members)), len(members) - 1)
        if k > 0:
            picked.append(rng.permutation(members)[:k])
    if not picked:
        return np.array([], dtype=np.int64)
    return np.sort(np.concatenate(picked))


def _build_vocabulary(texts: list[list[str]], min_freq: int, max_vocab: int) -> dict[str, int]:
    """Token to id, most frequent first (ties by token), ids from 2 (0 is PAD, 1 is UNK)."""
    counts = Counter(t for text in texts for t in text)
    kept = sorted((t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t))
    return {t: i + 2 for i, t in enumerate(kept[:max_vocab])}


def _encode(tokens: list[str], vocab: dict[str, int], max_len: int) -> list[int]:
    return [vocab.get(t, UNK) for t in tokens[:max_len]]


def _pad(torch: Any, seqs: list[list[int]], min_len: int) -> tuple[Any, Any]:
    """Pad to the batch's longest text (at least ``min_len``); return ids and lengths.

    A text shorter than ``min_len`` (the widest kernel) counts as ``min_len`` long, padding
    included, so every text has at least one window for every kernel.
    """
    lengths = [max(len(s), min_len) for s in seqs]
    rows = [torch.tensor(s, dtype=torch.long) for s in seqs]
    ids = torch.nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=PAD)
    if ids.shape[1] < max(lengths):
        ids = torch.nn.functional.pad(ids, (0, max(lengths) - ids.shape[1]), value=PAD)
    return ids, torch.tensor(lengths, dtype=torch.long)


def _mean_nll(probs: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-likelihood of the true labels (probabilities floored at 1e-12)."""
    return float(-np.mean(np.log(np.maximum(probs[np.arange(len(y)), y], 1e-12))))


def _macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Unweighted mean F1 over the labels present in ``y_true`` or ``y_pred`` (scikit-learn)."""
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, average="macro", zero_division=0))


def _build_model(vocab_size: int, n_labels: int, p: TextCNNBaseline.Params, dim: int) -> Any:
    """The Kim-2014 network, built with torch imported only now."""
    import torch
    from torch import nn

    class TextCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, dim, padding_idx=PAD)
            with torch.no_grad():
                self.embedding.weight.uniform_(-_EMBEDDING_INIT, _EMBEDDING_INIT)
                self.embedding.weight[PAD].zero_()
            self.convs = nn.ModuleList(nn.Conv1d(dim, p.filters, k) for k in p.kernel_sizes)
            self.dropout = nn.Dropout(p.dropout)
            self.out = nn.Linear(p.filters * len(p.kernel_sizes), n_labels)

        def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
            x = self.embedding(ids).transpose(1, 2)  # (batch, embedding, time)
            pooled = []
            for conv, k in zip(self.convs, p.kernel_sizes, strict=True):
                h = torch.relu(conv(x))  # (batch, filters, time - k + 1)
                # Windows reaching into the padding are zeroed: after the ReLU every real
                # window is >= 0, so zeros never win the max over a text's own windows.
                positions = torch.arange(h.size(2), device=h.device)
                valid = positions.unsqueeze(0) < (lengths - k + 1).unsqueeze(1)
                pooled.append(h.masked_fill(~valid.unsqueeze(1), 0.0).amax(dim=2))
            return self.out(self.dropout(torch.cat(pooled, dim=1)))

    return TextCNN()
