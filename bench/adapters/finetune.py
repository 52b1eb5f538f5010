"""``finetune:`` — fine-tune a pretrained transformers encoder on the task's train split.

::

    finetune:bert-base-uncased
    finetune:./tiny-bert,epochs=2,lr=5e-4,batch_size=8,seed=1
    finetune:hfl/chinese-roberta-wwm-ext,cv=3
    finetune:./bert,task=qa,max_length=384,doc_stride=128

``PATH_OR_ID`` is a folder written by ``save_pretrained`` or a hub id **already in the Hugging
Face cache** (its snapshot is loaded from disk; bench never downloads weights while it trains,
as for metric models: :func:`bench.metrics.model_based.hub_cache_snapshot`).

The recipe is the one of Devlin et al. (2019), section 4 and appendix A.3: the pretrained
encoder with a task head (``AutoModelForSequenceClassification`` with the task's labels as
``num_labels`` / ``id2label``, or ``AutoModelForQuestionAnswering``'s SQuAD-style start and end
logits), trained end to end with AdamW (Loshchilov & Hutter 2019; no weight decay on biases
and LayerNorm weights), a learning rate warmed up linearly over the first ``warmup`` fraction
of the steps and decayed linearly to 0 (``transformers.get_linear_schedule_with_warmup``),
gradients clipped to norm ``max_grad_norm``. A stratified (by label; QA: random), seeded
``validation_fraction`` of the train split is held out: after every epoch the held-out score
(macro-F1 for classification, SQuAD token F1 for QA) and loss are measured, the weights of the
best epoch are kept (ties: lower held-out loss), and training stops after ``patience`` epochs
without improvement.

``cv=K`` (K >= 2) first picks the learning rate from ``lr_grid`` (default: BERT's
``2e-5;3e-5;5e-5``) by stratified K-fold cross-validation on the train split: each rate trains
``epochs`` epochs on K-1 folds and is scored on the remaining fold; the rate with the best mean
fold score wins (ties: the smaller rate), and the final model is trained on the whole split at
that rate as above. Every fold's score is recorded.

Extractive QA (``task=qa``) encodes question and context as one pair truncated on the
context, split into windows of ``max_length`` tokens overlapping by ``doc_stride`` (default: a
third of ``max_length``, 128 at 384 as in BERT's SQuAD runs); a window's
target is the answer's first and last token (the first occurrence of the first gold answer in
the context, by the tokenizer's character offsets), or the ``[CLS]`` position when the answer
is not inside the window. At prediction the best span over all windows maximises start + end
logit with at most ``max_answer_length`` tokens (as ``hf:...,task=qa`` does).

Training is seeded: the head's initialisation, dropout, the shuffling of every epoch and the
held-out slice all follow ``seed``, with torch's deterministic kernels on
(:func:`~bench.adapters.torch_utils.torch_settings`) and attention in transformers' ``eager``
implementation (the fused SDPA kernels' backward passes are not deterministic on CUDA), so the
same spec on the same machine gives the same predictions. The device is ``device=``, else the
``BENCH_DEVICE`` environment variable, else CUDA when available, else the CPU.

The fingerprint covers the base weights (a local folder's SHA-256, or the cached hub commit),
every parameter but the device, the installed torch and transformers versions and the task's
labels; the runner adds the train split's content and preprocessing
(:func:`bench.stages.pair_fingerprint`), so the prediction cache never serves one fine-tune's
answers for another. ``model.info`` holds the training curve (``history``: training loss,
held-out score and loss, learning rate per epoch), the best epoch, the learning rate used and,
with ``cv``, every fold's score. Training reports ``epoch e/E`` and its steps through
:meth:`~bench.adapters.base.Adapter.report_fit` (the progress bar of ``bench run``).

References:
    Jacob Devlin, Ming-Wei Chang, Kenton Lee, Kristina Toutanova. 2019. "BERT: Pre-training of
    Deep Bidirectional Transformers for Language Understanding". NAACL 2019.
    https://aclanthology.org/N19-1423

    Ilya Loshchilov, Frank Hutter. 2019. "Decoupled Weight Decay Regularization". ICLR 2019.
    https://openreview.net/forum?id=Bkg6RiCqY7
"""

from __future__ import annotations

import copy
import math
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import ConfigDict, Field, field_validator, model_validator

from bench.adapters.base import Adapter, Resources, Seed
from bench.errors import AdapterError, MissingDependency, ModelSpecError
from bench.families.base import Family, Request, Response
from bench.identity import short_hash

if TYPE_CHECKING:
    from bench.spec import TaskSpec

__all__ = ["DEVICE_ENV", "BaseWeights", "FineTuneAdapter", "resolve_base_model"]

DEVICE_ENV = "BENCH_DEVICE"
"""The environment variable that picks the training device when the spec gives none."""

_BERT_LR_GRID = (2e-5, 3e-5, 5e-5)  # Devlin et al. 2019, appendix A.3
_FAMILIES = {"classifier": "sentiment", "qa": "qa"}
_FOLDER_MEMO: dict[tuple[str, tuple[tuple[str, int, int], ...]], str] = {}


def _transformers() -> Any:
    try:
        import transformers
    except ImportError as exc:
        raise MissingDependency(
            "finetune: fine-tuning needs transformers", fix="pip install 'bench[hf]'"
        ) from exc
    return transformers


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


@dataclass(frozen=True)
class BaseWeights:
    """Where a base model's files are, and what identifies them.

    Attributes:
        path: The folder ``from_pretrained`` reads.
        identity: ``{"sha256": ...}`` of a local folder, or ``{"hub": id, "commit": ...}`` of
            a hub snapshot in the local cache.
    """

    path: Path
    identity: dict[str, str]


def _folder_sha256(folder: Path) -> str:
    """:func:`bench.metrics.model_based.folder_sha256`, memoised by the files' sizes and mtimes."""
    from bench.metrics.model_based import folder_sha256

    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(x.startswith(".") for x in p.relative_to(folder).parts)
    )
    stamp = tuple(
        (p.relative_to(folder).as_posix(), p.stat().st_size, p.stat().st_mtime_ns) for p in files
    )
    key = (str(folder.resolve()), stamp)
    if key not in _FOLDER_MEMO:
        _FOLDER_MEMO[key] = folder_sha256(folder)
    return _FOLDER_MEMO[key]


def resolve_base_model(name: str) -> BaseWeights:
    """The base model ``name`` names: a local folder, or a hub id whose snapshot is already in
    the Hugging Face cache (never downloaded).

    Raises:
        ModelSpecError: ``name`` is neither; the fix names the download command.

    Example:
        >>> import pathlib, tempfile
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "config.json").write_text("{}")
        >>> sorted(resolve_base_model(str(folder)).identity)
        ['sha256']
    """
    from bench.metrics.model_based import hub_cache_snapshot

    folder = Path(name).expanduser()
    if folder.is_dir():
        return BaseWeights(folder, {"sha256": _folder_sha256(folder)})
    if not name.startswith((".", "/", "~")) and name.count("/") <= 1:
        snapshot = hub_cache_snapshot(name)
        if snapshot is not None:
            return BaseWeights(snapshot, {"hub": name, "commit": snapshot.name})
    raise ModelSpecError(
        f"finetune:{name}: '{name}' is neither a local folder nor a hub model in the Hugging "
        "Face cache on this machine (bench never downloads weights to fine-tune)",
        fix=f"download it first (`hf download {name}`), or give the folder save_pretrained wrote",
    )


@dataclass
class _Run:
    """One training run's outcome."""

    model: Any
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_score: float | None = None
    steps: int = 0


class FineTuneAdapter(Adapter):
    """A pretrained transformers encoder fine-tuned on the task's train split; see the module
    docstring for the recipe, the fingerprint and what is recorded.

    Attributes:
        history: One dict per trained epoch of the final run: ``epoch``, ``train_loss`` (mean
            over the epoch's batches), ``val_score`` and ``val_loss`` (``None`` without a
            held-out slice), ``lr`` (the scheduler's rate at the epoch's end), ``steps``.
        best_epoch: The epoch whose weights were kept.
        chosen_lr: The learning rate of the final run (``lr``, or the cross-validated one).
        cv_scores: ``{lr: [fold scores]}`` when ``cv`` > 0, else ``None``.

    Example:
        >>> FineTuneAdapter.Params(epochs=2, lr_grid="1e-5;3e-5").lr_grid
        (1e-05, 3e-05)
    """

    name = "finetune"
    version: ClassVar[int] = 1
    families: ClassVar[tuple[str, ...]] = ("sentiment", "qa")
    requires_training: ClassVar[bool] = True

    class Params(Adapter.Params):
        """Fine-tuning hyper-parameters (see the module docstring).

        ``lr_grid`` also accepts a string such as ``"2e-5;3e-5;5e-5"`` (a model spec on the
        command line separates its parameters with commas).
        """

        model_config = ConfigDict(extra="forbid", frozen=True)

        task: Literal["classifier", "qa"] = "classifier"
        epochs: int = Field(default=3, ge=1, le=1000)
        lr: float = Field(default=2e-5, gt=0.0, lt=1.0, description="AdamW peak learning rate")
        weight_decay: float = Field(default=0.01, ge=0.0)
        warmup: float = Field(default=0.1, ge=0.0, le=1.0, description="warm-up share of steps")
        batch_size: int = Field(default=16, ge=1)
        max_length: int = Field(default=256, ge=8, description="tokens per input (QA: window)")
        seed: Seed = 0
        cv: int = Field(default=0, ge=0, le=20, description="0: no cross-validation; K >= 2")
        lr_grid: tuple[float, ...] = _BERT_LR_GRID
        validation_fraction: float = Field(default=0.1, ge=0.0, lt=1.0)
        patience: int = Field(default=2, ge=1, description="epochs without improvement")
        max_grad_norm: float = Field(default=1.0, gt=0.0)
        doc_stride: int | None = Field(
            default=None, ge=0, description="QA: window overlap in tokens (max_length // 3)"
        )
        max_answer_length: int = Field(default=30, ge=1, description="QA: span tokens")
        threads: int = Field(default=2, ge=1, description="torch intra-op threads on CPU")
        device: str | None = None

        @field_validator("lr_grid", mode="before")
        @classmethod
        def _split_grid(cls, value: Any) -> Any:
            if isinstance(value, str):
                return tuple(part for part in value.replace(";", " ").split() if part)
            return value

        @field_validator("lr_grid")
        @classmethod
        def _check_grid(cls, value: tuple[float, ...]) -> tuple[float, ...]:
            if not value or any(not 0.0 < v < 1.0 for v in value):
                raise ValueError(f"give one or more learning rates in (0, 1), got {value}")
            return tuple(sorted(set(value)))

        @field_validator("cv")
        @classmethod
        def _check_cv(cls, value: int) -> int:
            if value == 1:
                raise ValueError("cv=1 is not cross-validation; use 0 (off) or K >= 2 folds")
            return value

        @property
        def stride(self) -> int:
            """The QA windows' overlap: ``doc_stride``, else a third of ``max_length`` (128
            tokens at 384, the SQuAD setting of Devlin et al.)."""
            return self.max_length // 3 if self.doc_stride is None else self.doc_stride

        @model_validator(mode="after")
        def _check_stride(self) -> FineTuneAdapter.Params:
            if self.task == "qa" and self.stride >= self.max_length // 2:
                raise ValueError(
                    f"doc_stride={self.doc_stride} leaves too little new context per window "
                    f"of max_length={self.max_length}; use a doc_stride below half of it"
                )
            return self

    params: Params

    def __init__(self, target: str | None = None, **params: Any) -> None:
        super().__init__(target, **params)
        if not target:
            raise ModelSpecError(
                "model 'finetune' needs a base model: a local folder or a cached hub id",
                fix="write finetune:PATH_OR_ID[,task=classifier|qa,epochs=3,lr=2e-5,...]",
            )
        _transformers()
        self.model_id = target
        self.base = resolve_base_model(target)
        self._labels: tuple[str, ...] | None = None
        self._model: Any = None
        self._tokenizer: Any = None
        self.history: list[dict[str, Any]] = []
        self.best_epoch: int | None = None
        self.chosen_lr: float | None = None
        self.cv_scores: dict[str, list[float]] | None = None
        self._n_train = 0
        self._n_val = 0
        self._steps = 0

    # ------------------------------------------------------------------ runner protocol

    def supports(self, family: str) -> bool:
        """Sentiment for ``task=classifier``, QA for ``task=qa``."""
        return family == _FAMILIES[self.params.task]

    def for_task(self, task: TaskSpec, family: Family) -> FineTuneAdapter:
        """A fresh, untrained copy for ``task``, holding its labels (classification)."""
        bound = copy.copy(self)
        bound._labels = tuple(task.labels) if task.labels else None
        bound._model = None
        bound.history, bound.best_epoch, bound.chosen_lr, bound.cv_scores = [], None, None, None
        return bound

    def identity(self) -> dict[str, Any]:
        """Code version, the base weights' identity, every parameter but ``device`` and the
        versions of torch and transformers (both change what training computes)."""
        return {
            "adapter": self.name,
            "version": self.version,
            "base": self.base.identity,
            "params": self.params.model_dump(mode="json", exclude={"device"}),
            "libraries": {"torch": _version("torch"), "transformers": _version("transformers")},
        }

    def fingerprint(self, task: TaskSpec | None = None) -> str:
        """:meth:`identity` and ``task``'s labels (their order is the head's). The runner adds
        the train split's content."""
        labels = list(task.labels) if task is not None and task.labels else None
        return short_hash({**self.identity(), "labels": labels})

    def resources(self) -> Resources:
        """``threads`` CPUs, and one GPU when training runs on CUDA."""
        return Resources(
            num_cpus=float(self.params.threads),
            num_gpus=1.0 if self._device_name().startswith("cuda") else 0.0,
        )

    def info(self) -> dict[str, Any]:
        """The base model, device, hyper-parameters and the training curve (empty when every
        answer came from the cache and nothing was trained)."""
        out: dict[str, Any] = {
            "task": self.params.task,
            "base_model": self.model_id,
            "base": self.base.identity,
            "device": self._device_name(),
            "trained": self._model is not None,
            "labels": list(self._labels) if self._labels else None,
            "history": self.history,
            "best_epoch": self.best_epoch,
            "chosen_lr": self.chosen_lr,
            "cv": None,
            "train_examples": self._n_train,
            "held_out_examples": self._n_val,
            "steps": self._steps,
        }
        if self.cv_scores is not None:
            means = {lr: float(np.mean(s)) for lr, s in self.cv_scores.items()}
            out["cv"] = {
                "folds": self.params.cv,
                "metric": self._score_name(),
                "fold_scores": self.cv_scores,
                "mean_scores": means,
            }
        if self._model is not None:
            out["model_class"] = type(self._model).__name__
            out["parameters"] = int(sum(p.numel() for p in self._model.parameters()))
        return out

    # ------------------------------------------------------------------ training

    def fit(self, examples: Sequence[tuple[Request, Any]]) -> None:
        """Fine-tune on ``(request, reference)`` pairs (cross-validating the learning rate
        first when ``cv`` > 0) and keep the best epoch's weights.

        Raises:
            AdapterError: The split is empty, a request is of the wrong family, a label is
                outside the task's labels, fewer than two labels occur, or ``cv`` asks for
                more folds than the rarest label has examples.
        """
        import torch

        tr = _transformers()
        tr.utils.logging.disable_progress_bar()
        if not examples:
            raise AdapterError(f"finetune:{self.model_id}: the train split is empty")
        p = self.params
        strategy = self._strategy([r for r, _ in examples], [ref for _, ref in examples])
        device = torch.device(self._device_name())
        if device.type == "cuda":
            # cuBLAS is deterministic only with a fixed workspace (torch's reproducibility notes).
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        with _torch_context(torch, p.threads, p.seed):
            tokenizer = tr.AutoTokenizer.from_pretrained(self.base.path)
            strategy.encode(tokenizer)
            n = len(examples)
            cv_scores: dict[str, list[float]] | None = None
            lr = p.lr
            if p.cv:
                cv_scores = {}
                folds = strategy.folds(p.cv, p.seed)
                for lr_i, candidate in enumerate(p.lr_grid):
                    scores = []
                    for k, (train_idx, val_idx) in enumerate(folds):
                        what = (
                            f"cv lr {lr_i + 1}/{len(p.lr_grid)} ({candidate:g}) fold {k + 1}/{p.cv}"
                        )
                        run = self._train(strategy, train_idx, val_idx, candidate, device, what)
                        scores.append(float(run.history[-1]["val_score"]))
                        del run
                    cv_scores[f"{candidate:g}"] = scores
                # The best mean fold score; ties go to the smaller rate (the grid is sorted).
                lr = max(p.lr_grid, key=lambda c: (float(np.mean(cv_scores[f"{c:g}"])), -c))
            val_idx = strategy.holdout(p.validation_fraction, p.seed)
            is_val = np.zeros(n, dtype=bool)
            is_val[val_idx] = True
            train_idx = np.flatnonzero(~is_val)
            run = self._train(strategy, train_idx, val_idx, lr, device, "", early_stopping=True)
        run.model.eval()
        self._model, self._tokenizer = run.model, tokenizer
        self.history, self.best_epoch, self.chosen_lr = run.history, run.best_epoch, lr
        self.cv_scores = cv_scores
        self._n_train, self._n_val, self._steps = len(train_idx), len(val_idx), run.steps

    def _train(
        self,
        strategy: _Strategy,
        train_idx: np.ndarray,
        val_idx: np.ndarray,
        lr: float,
        device: Any,
        what: str,
        *,
        early_stopping: bool = False,
    ) -> _Run:
        """One seeded training run from the base weights on ``train_idx``, scored on
        ``val_idx`` after every epoch."""
        import torch

        tr = _transformers()
        p = self.params
        torch.manual_seed(p.seed)  # the head's initialisation and dropout, equal for every run
        model = strategy.load(tr, self.base.path).to(device)
        units = strategy.train_units(train_idx)
        per_epoch = math.ceil(len(units) / p.batch_size)
        total = per_epoch * p.epochs
        decay: list[Any] = []
        no_decay: list[Any] = []
        for name, param in model.named_parameters():
            if not param.requires_grad:
                continue
            plain = param.ndim < 2 or "LayerNorm" in name or "layer_norm" in name
            (no_decay if plain else decay).append(param)
        optimiser = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": p.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=lr,
        )
        scheduler = tr.get_linear_schedule_with_warmup(
            optimiser, num_warmup_steps=round(p.warmup * total), num_training_steps=total
        )
        generator = torch.Generator().manual_seed(p.seed)
        run = _Run(model=model)
        best_key: tuple[float, float] | None = None
        best_state: dict[str, Any] | None = None
        stale = 0
        for epoch in range(1, p.epochs + 1):
            model.train()
            order = torch.randperm(len(units), generator=generator).tolist()
            label = f"epoch {epoch}/{p.epochs}"
            label = f"{what} {label}" if what else label
            total_loss, seen = 0.0, 0
            for b, start in enumerate(range(0, len(order), p.batch_size)):
                batch = [units[i] for i in order[start : start + p.batch_size]]
                optimiser.zero_grad(set_to_none=True)
                loss = strategy.loss(model, batch, device)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), p.max_grad_norm)
                optimiser.step()
                scheduler.step()
                total_loss += float(loss.item()) * len(batch)
                seen += len(batch)
                run.steps += 1
                self.report_fit(label, b + 1, per_epoch)
            record: dict[str, Any] = {
                "epoch": epoch,
                "train_loss": total_loss / max(seen, 1),
                "val_score": None,
                "val_loss": None,
                "lr": float(scheduler.get_last_lr()[0]),
                "steps": run.steps,
            }
            run.history.append(record)
            if len(val_idx) == 0:
                run.best_epoch = epoch
                continue
            score, val_loss = strategy.evaluate(model, val_idx, device, self)
            record["val_score"], record["val_loss"] = score, val_loss
            if not early_stopping:
                run.best_epoch, run.best_score = epoch, score
                continue
            key = (score, -val_loss)
            if best_key is None or key > best_key:
                best_key, stale = key, 0
                run.best_epoch, run.best_score = epoch, score
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                stale += 1
                if stale >= p.patience:
                    break
        if best_state is not None:
            model.load_state_dict(best_state)
        return run

    # ------------------------------------------------------------------ prediction

    def predict(self, requests: Sequence[Request]) -> Sequence[Response]:
        """One answer per request, in input order (batched by length internally).

        Raises:
            AdapterError: Called before :meth:`fit`, or a request is of another family or has
                other labels than the model was trained on.
        """
        import torch

        if self._model is None:
            raise AdapterError(
                f"finetune:{self.model_id}: predict() called before fit()",
                fix="train the model with fit() first",
            )
        if not requests:
            return []
        strategy = self._strategy(list(requests), None)
        strategy.encode(self._tokenizer)
        with _torch_context(torch, self.params.threads, None), torch.inference_mode():
            return strategy.answers(self._model, torch.device(self._device_name()), self)

    # ------------------------------------------------------------------ helpers

    def _device_name(self) -> str:
        if self.params.device:
            return self.params.device
        forced = os.environ.get(DEVICE_ENV)
        if forced:
            return forced
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def _score_name(self) -> str:
        return "macro_f1" if self.params.task == "classifier" else "squad_f1"

    def _strategy(self, requests: list[Request], references: list[Any] | None) -> _Strategy:
        if self.params.task == "classifier":
            return _Classification(self, requests, references)
        return _ExtractiveQA(self, requests, references)


def _torch_context(torch: Any, threads: int, seed: int | None) -> Any:
    """:func:`~bench.adapters.torch_utils.torch_settings` (threads, deterministic kernels, a
    forked and seeded RNG)."""
    from bench.adapters.torch_utils import torch_settings

    return torch_settings(torch, threads, seed)


# ---------------------------------------------------------------------- task strategies


class _Strategy(ABC):
    """What differs between classification and QA: encoding, loss, held-out score, answers."""

    def __init__(
        self, adapter: FineTuneAdapter, requests: list[Request], references: list[Any] | None
    ) -> None:
        self.adapter = adapter
        self.params = adapter.params
        self.requests = requests
        self.references = references
        self.tokenizer: Any = None

    @abstractmethod
    def encode(self, tokenizer: Any) -> None:
        """Tokenise :attr:`requests` (and references) once, keeping ``tokenizer``."""

    @abstractmethod
    def load(self, tr: Any, path: Path) -> Any:
        """The task's transformers model (``tr`` is the transformers module) from ``path``."""

    def strata(self) -> np.ndarray:
        """A class per example for stratified splits (one class: plain random splits)."""
        return np.zeros(len(self.requests), dtype=np.int64)

    def holdout(self, fraction: float, seed: int) -> np.ndarray:
        from bench.adapters.textcnn import _stratified_holdout

        y = self.strata()
        return _stratified_holdout(y, int(y.max()) + 1, fraction, np.random.default_rng(seed))

    def folds(self, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
        from sklearn.model_selection import KFold, StratifiedKFold

        y = self.strata()
        counts = np.bincount(y)
        counts = counts[counts > 0]  # a task label absent from train has no fold to fill
        name = self.adapter.model_id
        if len(y) < k:
            raise AdapterError(
                f"finetune:{name}: cv={k} folds for {len(y)} train examples",
                fix="use fewer folds (cv=) or a larger train split",
            )
        if len(counts) > 1:
            if counts.min() < k:
                raise AdapterError(
                    f"finetune:{name}: cv={k} needs at least {k} train examples of every label; "
                    f"the rarest has {int(counts.min())}",
                    fix="use fewer folds (cv=) or a larger train split",
                )
            splitter: Any = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        else:
            splitter = KFold(n_splits=k, shuffle=True, random_state=seed)
        return [(tr, va) for tr, va in splitter.split(np.zeros(len(y)), y)]

    def train_units(self, train_idx: np.ndarray) -> list[Any]:
        """What one training step batches (examples; QA: windows of the examples)."""
        return [int(i) for i in train_idx]

    @abstractmethod
    def loss(self, model: Any, batch: list[Any], device: Any) -> Any:
        """The training loss (a scalar tensor) of one batch of :meth:`train_units`."""

    @abstractmethod
    def evaluate(
        self, model: Any, idx: np.ndarray, device: Any, adapter: FineTuneAdapter
    ) -> tuple[float, float]:
        """``(score, loss)`` on the train examples ``idx`` (the held-out slice or a fold)."""

    @abstractmethod
    def answers(self, model: Any, device: Any, adapter: FineTuneAdapter) -> list[Response]:
        """One response per request, in order."""

    def _pad(self, rows: list[dict[str, list[int]]], device: Any) -> dict[str, Any]:
        import torch

        pad_id = self.tokenizer.pad_token_id or 0
        width = max(len(r["input_ids"]) for r in rows)
        out = {}
        for key in rows[0]:
            fill = pad_id if key == "input_ids" else 0
            out[key] = torch.tensor(
                [list(r[key]) + [fill] * (width - len(r[key])) for r in rows],
                dtype=torch.long,
                device=device,
            )
        return out


class _Classification(_Strategy):
    """Sequence classification over the task's labels (cross-entropy on the head's logits)."""

    def __init__(
        self, adapter: FineTuneAdapter, requests: list[Request], references: list[Any] | None
    ) -> None:
        super().__init__(adapter, requests, references)
        from bench.families.sentiment import SentimentRequest

        name = adapter.model_id
        for r in requests:
            if not isinstance(r, SentimentRequest):
                raise AdapterError(
                    f"finetune:{name} (task=classifier): expected sentiment requests, got "
                    f"{type(r).__name__}"
                )
        labels = adapter._labels or tuple(getattr(requests[0], "labels", ()))
        for r in requests:
            if set(getattr(r, "labels", ())) != set(labels):
                raise AdapterError(
                    f"finetune:{name}: request '{r.id}' has labels {getattr(r, 'labels', ())}, "
                    f"but the model's labels are {labels}",
                    fix="predict on the task the model was trained on",
                )
        self.labels = labels
        if adapter._labels is None:
            adapter._labels = labels
        self.y: np.ndarray | None = None
        if references is not None:
            refs = [str(ref) for ref in references]
            unknown = sorted(set(refs) - set(labels))
            if unknown:
                raise AdapterError(
                    f"finetune:{name}: train labels {unknown} are not among the task's labels "
                    f"{list(labels)}",
                    fix="map the data's labels onto the task's labels (source.label_map)",
                )
            if len(set(refs)) < 2:
                raise AdapterError(f"finetune:{name}: the train split has fewer than two labels")
            index = {lab: i for i, lab in enumerate(labels)}
            self.y = np.array([index[ref] for ref in refs], dtype=np.int64)

    def encode(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        enc = tokenizer(
            [getattr(r, "text", "") for r in self.requests],
            truncation=True,
            max_length=self.params.max_length,
        )
        keys = [k for k in ("input_ids", "token_type_ids", "attention_mask") if k in enc]
        self.rows = [{k: enc[k][i] for k in keys} for i in range(len(self.requests))]

    def load(self, tr: Any, path: Path) -> Any:
        labels = self.labels
        verbosity = tr.utils.logging.get_verbosity()
        tr.utils.logging.set_verbosity_error()  # "newly initialized" head weights: expected
        try:
            return tr.AutoModelForSequenceClassification.from_pretrained(
                path,
                num_labels=len(labels),
                id2label=dict(enumerate(labels)),
                label2id={lab: i for i, lab in enumerate(labels)},
                problem_type="single_label_classification",
                ignore_mismatched_sizes=True,
                dtype="float32",
                attn_implementation="eager",
            )
        except (OSError, ValueError) as exc:
            raise _load_error(self.adapter, exc) from exc
        finally:
            tr.utils.logging.set_verbosity(verbosity)

    def strata(self) -> np.ndarray:
        assert self.y is not None
        return self.y

    def loss(self, model: Any, batch: list[Any], device: Any) -> Any:
        import torch
        import torch.nn.functional as F

        assert self.y is not None
        logits = model(**self._pad([self.rows[i] for i in batch], device)).logits
        target = torch.tensor(self.y[batch], dtype=torch.long, device=device)
        return F.cross_entropy(logits.float(), target)

    def probabilities(self, model: Any, idx: Sequence[int], device: Any) -> np.ndarray:
        """Softmax probabilities (float64 rows summing to 1) of ``idx``, in that order."""
        import torch

        model.eval()
        out = np.empty((len(idx), len(self.labels)), dtype=np.float64)
        order = sorted(range(len(idx)), key=lambda j: (-len(self.rows[idx[j]]["input_ids"]), j))
        step = max(self.params.batch_size, 32)
        with torch.inference_mode():
            for start in range(0, len(order), step):
                chunk = order[start : start + step]
                logits = model(**self._pad([self.rows[idx[j]] for j in chunk], device)).logits
                out[chunk] = torch.softmax(logits.double(), dim=-1).cpu().numpy()
        out /= out.sum(axis=1, keepdims=True)
        return out

    def evaluate(
        self, model: Any, idx: np.ndarray, device: Any, adapter: FineTuneAdapter
    ) -> tuple[float, float]:
        from sklearn.metrics import f1_score

        assert self.y is not None
        probs = self.probabilities(model, [int(i) for i in idx], device)
        gold = self.y[idx]
        score = float(f1_score(gold, probs.argmax(axis=1), average="macro", zero_division=0))
        loss = float(-np.mean(np.log(np.maximum(probs[np.arange(len(gold)), gold], 1e-12))))
        return score, loss

    def answers(self, model: Any, device: Any, adapter: FineTuneAdapter) -> list[Response]:
        from bench.families.sentiment import SentimentResponse

        probs = self.probabilities(model, list(range(len(self.requests))), device)
        out: list[Response] = []
        for req, row in zip(self.requests, probs, strict=True):
            request_labels: tuple[str, ...] = getattr(req, "labels", ())
            dist = {lab: float(row[self.labels.index(lab)]) for lab in request_labels}
            best = max(request_labels, key=lambda lab: (dist[lab], -request_labels.index(lab)))
            out.append(SentimentResponse(label=best, probabilities=dist))
        return out


class _ExtractiveQA(_Strategy):
    """SQuAD-style span extraction: cross-entropy of the start and end logits of the gold
    span's first and last token in every window ([CLS] when the window misses it)."""

    def __init__(
        self, adapter: FineTuneAdapter, requests: list[Request], references: list[Any] | None
    ) -> None:
        super().__init__(adapter, requests, references)
        from bench.families.qa import QARequest

        for r in requests:
            if not isinstance(r, QARequest):
                raise AdapterError(
                    f"finetune:{adapter.model_id} (task=qa): expected QA requests, got "
                    f"{type(r).__name__}"
                )
        self.golds: list[tuple[str, ...]] | None = None
        self.spans: list[tuple[int, int] | None] = []
        if references is not None:
            self.golds = [tuple(ref or ()) for ref in references]
            for req, golds in zip(requests, self.golds, strict=True):
                context = getattr(req, "context", "")
                span = None
                for answer in golds:
                    at = context.find(answer) if answer else -1
                    if at >= 0:
                        span = (at, at + len(answer))
                        break
                self.spans.append(span)

    def encode(self, tokenizer: Any) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise AdapterError(
                f"finetune:{self.adapter.model_id}: extractive QA needs a fast tokenizer "
                "(character offsets)",
                fix="save the model with its tokenizer.json",
            )
        self.tokenizer = tokenizer
        enc = tokenizer(
            [getattr(r, "question", "") for r in self.requests],
            [getattr(r, "context", "") for r in self.requests],
            truncation="only_second",
            max_length=self.params.max_length,
            stride=self.params.stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
        )
        keys = [k for k in ("input_ids", "token_type_ids", "attention_mask") if k in enc]
        self.windows = [{k: enc[k][w] for k in keys} for w in range(len(enc["input_ids"]))]
        self.owner = list(enc["overflow_to_sample_mapping"])
        self.offsets = [list(enc["offset_mapping"][w]) for w in range(len(self.windows))]
        self.context_mask = [
            [s == 1 for s in enc.sequence_ids(w)] for w in range(len(self.windows))
        ]
        self.targets: list[tuple[int, int]] = []
        for w in range(len(self.windows)):
            span = self.spans[self.owner[w]] if self.spans else None
            self.targets.append(self._target(w, span))

    def _target(self, w: int, span: tuple[int, int] | None) -> tuple[int, int]:
        """The gold span's first and last token in window ``w``, or (0, 0) ([CLS])."""
        if span is None:
            return (0, 0)
        start_char, end_char = span
        ctx = [i for i, inside in enumerate(self.context_mask[w]) if inside]
        offsets = self.offsets[w]
        if not ctx or offsets[ctx[0]][0] > start_char or offsets[ctx[-1]][1] < end_char:
            return (0, 0)
        first = next(i for i in ctx if offsets[i][1] > start_char)
        last = next(i for i in reversed(ctx) if offsets[i][0] < end_char)
        return (first, max(first, last))

    def load(self, tr: Any, path: Path) -> Any:
        verbosity = tr.utils.logging.get_verbosity()
        tr.utils.logging.set_verbosity_error()
        try:
            return tr.AutoModelForQuestionAnswering.from_pretrained(
                path, dtype="float32", attn_implementation="eager"
            )
        except (OSError, ValueError) as exc:
            raise _load_error(self.adapter, exc) from exc
        finally:
            tr.utils.logging.set_verbosity(verbosity)

    def train_units(self, train_idx: np.ndarray) -> list[Any]:
        keep = {int(i) for i in train_idx}
        return [w for w, owner in enumerate(self.owner) if owner in keep]

    def loss(self, model: Any, batch: list[Any], device: Any) -> Any:
        import torch
        import torch.nn.functional as F

        out = model(**self._pad([self.windows[w] for w in batch], device))
        starts = torch.tensor([self.targets[w][0] for w in batch], device=device)
        ends = torch.tensor([self.targets[w][1] for w in batch], device=device)
        return (
            F.cross_entropy(out.start_logits.float(), starts)
            + F.cross_entropy(out.end_logits.float(), ends)
        ) / 2

    def _spans(self, model: Any, idx: Sequence[int], device: Any) -> tuple[list[str], float]:
        """The best span's text for each example of ``idx`` and the mean window loss."""
        import torch
        import torch.nn.functional as F

        from bench.adapters.hf import best_span

        model.eval()
        wanted = set(idx)
        windows = [w for w, owner in enumerate(self.owner) if owner in wanted]
        windows.sort(key=lambda w: (-len(self.windows[w]["input_ids"]), w))
        best: dict[int, tuple[float, str]] = {}
        losses: list[float] = []
        step = max(self.params.batch_size, 32)
        with torch.inference_mode():
            for start in range(0, len(windows), step):
                chunk = windows[start : start + step]
                out = model(**self._pad([self.windows[w] for w in chunk], device))
                s_logits = out.start_logits.float()
                e_logits = out.end_logits.float()
                starts = torch.tensor([self.targets[w][0] for w in chunk], device=device)
                ends = torch.tensor([self.targets[w][1] for w in chunk], device=device)
                per = (
                    F.cross_entropy(s_logits, starts, reduction="none")
                    + F.cross_entropy(e_logits, ends, reduction="none")
                ) / 2
                losses.extend(per.cpu().tolist())
                s_np, e_np = s_logits.cpu().numpy(), e_logits.cpu().numpy()
                for j, w in enumerate(chunk):
                    n = len(self.windows[w]["input_ids"])
                    mask = np.array(self.context_mask[w][:n])
                    found = best_span(s_np[j, :n], e_np[j, :n], mask, self.params.max_answer_length)
                    if found is None:
                        continue
                    score, a, b = found
                    r = self.owner[w]
                    if r not in best or score > best[r][0]:
                        context = getattr(self.requests[r], "context", "")
                        offsets = self.offsets[w]
                        best[r] = (score, context[offsets[a][0] : offsets[b][1]].strip())
        texts = [best[r][1] if r in best else "" for r in idx]
        return texts, float(np.mean(losses)) if losses else 0.0

    def evaluate(
        self, model: Any, idx: np.ndarray, device: Any, adapter: FineTuneAdapter
    ) -> tuple[float, float]:
        from bench.metrics.qa import squad_em_f1

        assert self.golds is not None
        ids = [int(i) for i in idx]
        texts, loss = self._spans(model, ids, device)
        f1s = [
            squad_em_f1(text, self.golds[i] or ("",))[1] for text, i in zip(texts, ids, strict=True)
        ]
        return float(np.mean(f1s)), loss

    def answers(self, model: Any, device: Any, adapter: FineTuneAdapter) -> list[Response]:
        from bench.families.generation import TextResponse

        texts, _ = self._spans(model, list(range(len(self.requests))), device)
        return [TextResponse(text=t) for t in texts]


def _load_error(adapter: FineTuneAdapter, exc: Exception) -> ModelSpecError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ModelSpecError(
        f"finetune:{adapter.model_id} cannot be loaded from {adapter.base.path}: {first[:300]}",
        fix="give a folder written by save_pretrained (config, weights and tokenizer) or a "
        "cached hub id",
    )
