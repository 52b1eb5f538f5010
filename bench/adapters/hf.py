"""``hf:`` — Hugging Face transformers models, loaded with ``from_pretrained``.

::

    hf:Helsinki-NLP/opus-mt-zh-en,task=seq2seq
    hf:facebook/nllb-200-distilled-600M,task=seq2seq,src_lang=zho_Hans,tgt_lang=eng_Latn
    hf:Qwen/Qwen2.5-0.5B-Instruct,task=causal,dtype=bfloat16
    hf:./my-bert-sst2,task=classifier,label_map=LABEL_0:negative|LABEL_1:positive
    hf:deepset/roberta-base-squad2,task=qa,no_answer=true
    hf:./bert-base-uncased,task=embed,layer=6

``task=embed`` is a vector model for the word-similarity and word-analogy families (static
word vectors of the encoder), built by :mod:`bench.adapters.hf_embed`; the rest of this page is
about the other tasks.

``PATH_OR_ID`` is a hub id or a local folder; both go through the same ``from_pretrained``
call (with ``revision=`` and ``trust_remote_code=``, which is off unless the spec turns it on).

What each ``task=`` answers, and how:

* ``seq2seq`` (Marian, mT5, NLLB, M2M100, mBART): translation and summarization through
  ``generate`` on the raw source (with ``prefix=`` prepended, e.g. ``summarize:`` for T5).
  Tokenizers with a ``src_lang`` (NLLB, M2M100, mBART-50) get the source language, and the
  target language is forced as the first generated token (``forced_bos_token_id``); the codes
  come from ``src_lang=``/``tgt_lang=`` or are derived from the task's languages (``zh`` →
  ``zho_Hans``, ``zh_CN`` or ``__zh__``, whichever the vocabulary has).
* ``causal``: every family through the task's prompt (:mod:`bench.adapters.prompting`,
  in-context examples included), scored as the task's ``scoring.mode`` says (the family's
  default when unset: ``loglik`` for sentiment and recommendation, else ``generate``):

  - ``loglik``: each answer choice (a label's verbaliser, a candidate id) is scored by the
    summed log-probability of its continuation (:func:`bench.adapters.loglik.continuation`)
    after the prompt, normalised by ``scoring.normalization``
    (:func:`bench.adapters.loglik.normalize`: ``none``, ``token``, ``char``, ``byte``;
    ``pmi`` subtracts the same continuation's log-probability after the answer-only context,
    the prompt's last line, in a user turn of the chat template when that applies). An empty
    context is scored after the BOS token the tokenizer adds, else the tokenizer's BOS (or,
    GPT-2 style, EOS) token. The family turns the scores into its answer (sentiment: softmax
    over labels; recommendation: the ranking, candidates scored against the prompt's shared
    key/value cache). Log-probabilities are taken in float64 after the forward pass.
  - ``generate``: decode and cut the text at the first stop string, then parse it through
    the family (``scoring.extract``, ``strip_reasoning``). Each setting is the model spec's
    explicit value (``max_new_tokens=``, ``stop=`` ``|``-separated with ``\\n`` for a newline
    and empty for none, ``temperature=``, ``top_p=``), else the task's ``generation:``, else
    bench's default (greedy, 128 new tokens, the family's stop strings: ``\\n`` for QA and
    translation, ``\\n\\n`` for summarization); the effective values are recorded in
    ``model.info["generation"]`` and fingerprinted. Stop strings are matched by transformers'
    own ``StopStringCriteria`` (what ``generate(stop_strings=...)`` builds) on the generated
    tokens only, so a stop string never straddles the prompt's end and no batch is decoded
    per step. With ``temperature > 0`` each request is sampled with its own generator, seeded
    from the unit's ``generation.seed``, the spec's ``seed=`` and the request's content hash,
    by the Gumbel-max trick (the argmax of the tempered, top-p filtered scores plus Gumbel
    noise is a sample of their softmax): a request's answer is the same at any batch size and
    position.

  Every response carries a transcript: the prompt the model was given (after the chat
  template) and the raw completion, or the normalised score of each choice.

  The chat template is applied when ``chat=true`` (an error if the tokenizer has none); never
  with ``chat=false``; otherwise only when the tokenizer has a template *and* the model's name
  (the hub id's or the folder's last component) marks an instruct/chat model: it contains
  ``instruct`` or ``chat``, or has ``it``, ``sft``, ``dpo`` or ``rlhf`` as a ``-``/``_``/``.``
  separated part (``Qwen2.5-0.5B-Instruct``, ``Llama-2-7b-chat-hf``, ``gemma-2-2b-it``). A
  base model's tokenizer may carry a template too; it is not applied. The decision and its
  reason are recorded (``chat_template``, ``chat_rule``) and fingerprinted. The system prompt
  is ``system=`` on the spec (empty drops the task's), else the prompt variant's ``system``:
  a system turn under the chat template, else the text's first paragraph. With
  ``fewshot.as_multiturn`` and a chat template the exemplars are user/assistant turns;
  otherwise they are inline in one prompt.
* ``classifier`` (``AutoModelForSequenceClassification``): sentiment. The model's
  ``id2label`` is mapped onto the task's labels case-insensitively (``neg``/``pos`` count as
  ``negative``/``positive``); ``label_map=`` gives the mapping explicitly, either as
  ``MODEL_LABEL:task_label`` pairs or as task labels in the model's label order. Several model
  labels may map to one task label (their probabilities add up); model labels left out of an
  explicit map are ignored (the others renormalised).
* ``qa`` (``AutoModelForQuestionAnswering``): contexts longer than ``max_seq_length`` tokens are
  split into windows overlapping by ``doc_stride`` tokens; the best span over all windows
  maximises start + end logit with at most ``max_answer_length`` tokens, and is cut from the
  context by the tokenizer's character offsets. ``no_answer=true`` (SQuAD v2 models) answers
  "" when the [CLS] score beats the best span by more than ``null_threshold``.

Requests are sorted by token length (longest first) and run in batches of ``batch_size``
(``auto``: on CUDA start at 128 and halve on out-of-memory until a batch fits, on CPU 16);
answers come back in input order. The device defaults to CUDA when available; ``dtype=auto``
is float32 on CPU and the checkpoint's dtype on CUDA. Inference runs under
``torch.inference_mode()`` with the model in eval mode, greedy and seeded.

The fingerprint covers the code version, every parameter that changes answers, the resolved
device type and dtype, the weights (a SHA-256 of a local folder's files, or the hub commit the
revision resolves to) and, for causal models, the task's prompt, the chat decision, the system
prompt, the scoring and exemplar settings and the effective decoding settings.
:meth:`HFAdapter.sort_key` gives the runner each request's prompt length in tokens, to sort a
whole test set by before batching.
"""

from __future__ import annotations

import copy
import gc
import hashlib
import inspect
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from pydantic import ConfigDict, Field

from bench.adapters.base import Adapter, Seed
from bench.adapters.loglik import answer_only_context, continuation, normalize
from bench.adapters.prompting import (
    family_of,
    messages,
    parse,
    render,
    system_prompt,
    template_for,
)
from bench.errors import AdapterError, MissingDependency, ModelSpecError, did_you_mean
from bench.families.base import Failure, Family, Request, Response, Transcript, family_class
from bench.families.generation import TextResponse
from bench.families.sentiment import SentimentResponse
from bench.identity import short_hash

if TYPE_CHECKING:
    from bench.spec import TaskSpec

__all__ = ["HFAdapter", "map_labels"]

T = TypeVar("T")
R = TypeVar("R")

_TASK_FAMILIES: dict[str, tuple[str, ...]] = {
    "seq2seq": ("translation", "summarization"),
    "causal": ("sentiment", "translation", "summarization", "qa", "recommendation", "judge"),
    "classifier": ("sentiment",),
    "qa": ("qa",),
}
_AUTO_CLASSES = {
    "seq2seq": "AutoModelForSeq2SeqLM",
    "causal": "AutoModelForCausalLM",
    "classifier": "AutoModelForSequenceClassification",
    "qa": "AutoModelForQuestionAnswering",
}
_AUTO_BATCH_CUDA = 128
_AUTO_BATCH_CPU = 16
_DEFAULT_NEW_TOKENS = 128
# Language codes of the multilingual seq2seq families, by ISO 639-1 code.
_NLLB = {
    "en": "eng_Latn", "zh": "zho_Hans", "zh-hans": "zho_Hans", "zh-hant": "zho_Hant",
    "de": "deu_Latn", "fr": "fra_Latn", "es": "spa_Latn", "it": "ita_Latn", "pt": "por_Latn",
    "ru": "rus_Cyrl", "ja": "jpn_Jpan", "ko": "kor_Hang", "ar": "arb_Arab", "cs": "ces_Latn",
}  # fmt: skip
_MBART = {
    "en": "en_XX", "zh": "zh_CN", "de": "de_DE", "fr": "fr_XX", "es": "es_XX", "it": "it_IT",
    "pt": "pt_XX", "ru": "ru_RU", "ja": "ja_XX", "ko": "ko_KR", "ar": "ar_AR", "cs": "cs_CZ",
}  # fmt: skip
_ALIASES = {"neg": "negative", "pos": "positive", "neu": "neutral"}
_WEIGHTS_MEMO: dict[tuple[str, tuple[tuple[str, int, int], ...]], str] = {}


def _transformers() -> Any:
    try:
        import transformers
    except ImportError as exc:
        raise MissingDependency(
            "the hf adapter needs transformers", fix="pip install 'bench[hf]'"
        ) from exc
    return transformers


def _unescape(text: str) -> str:
    return text.replace("\\n", "\n").replace("\\t", "\t")


def map_labels(
    id2label: dict[int, str], task_labels: Sequence[str], label_map: str | None, *, where: str
) -> dict[int, str]:
    """``{model label id: task label}`` for a classifier.

    Args:
        id2label: The model's ``config.id2label``.
        task_labels: The task's labels.
        label_map: ``MODEL:task`` pairs or task labels in model-id order, ``|``-separated; or
            ``None`` for the automatic, case-insensitive match.
        where: The model, named in errors.

    Raises:
        AdapterError: The labels cannot be mapped; the message names both label sets and the
            ``label_map=`` that would fix it.

    Example:
        >>> map_labels({0: "NEG", 1: "POS"}, ["negative", "positive"], None, where="m")
        {0: 'negative', 1: 'positive'}
    """
    model_labels = [id2label[i] for i in sorted(id2label)]
    tasks = list(task_labels)
    by_lower = {t.lower(): t for t in tasks}
    example_pairs = "|".join(
        f"{m}:{tasks[i] if i < len(tasks) else tasks[-1]}" for i, m in enumerate(model_labels)
    )
    fix = (
        f"pass label_map={example_pairs} (model label:task label) or "
        f"label_map={'|'.join(tasks)} (task labels in the model's label order)"
    )

    def fail(why: str) -> AdapterError:
        return AdapterError(
            f"{where}: cannot map the model's labels {model_labels} onto the task's labels "
            f"{tasks}: {why}",
            fix=fix,
        )

    def task_label(name: str) -> str:
        found = by_lower.get(name.strip().lower())
        if found is None:
            raise fail(f"'{name}' is not a task label{did_you_mean(name, tasks)}")
        return found

    mapping: dict[int, str] = {}
    if label_map:
        entries = [e.strip() for e in re.split(r"[|;]", label_map) if e.strip()]
        if all(":" in e for e in entries):
            ids = {m.lower(): i for i, m in id2label.items()} | {str(i): i for i in id2label}
            for entry in entries:
                model, _, task = entry.rpartition(":")
                key = model.strip().lower()
                if key not in ids:
                    raise fail(f"label_map names '{model}', which is not a model label")
                mapping[ids[key]] = task_label(task)
        elif any(":" in e for e in entries):
            raise fail("label_map mixes MODEL:task pairs with plain labels")
        else:
            if len(entries) != len(model_labels):
                raise fail(
                    f"label_map lists {len(entries)} labels for the model's {len(model_labels)}"
                )
            mapping = {i: task_label(e) for i, e in zip(sorted(id2label), entries, strict=True)}
    else:
        for i, name in id2label.items():
            key = name.strip().lower()
            found = by_lower.get(key) or by_lower.get(_ALIASES.get(key, ""))
            if found is None:
                raise fail(f"model label '{name}' matches no task label")
            mapping[i] = found
    missing = [t for t in tasks if t not in mapping.values()]
    if missing:
        raise fail(f"no model label maps to {missing}")
    return dict(sorted(mapping.items()))


def _pad(
    rows: Sequence[dict[str, list[int]]], pad_id: int, side: str, torch: Any, device: Any
) -> dict[str, Any]:
    """Pad token-id lists (``input_ids`` with ``pad_id``, other keys with 0) into tensors."""
    width = max(len(r["input_ids"]) for r in rows)
    out: dict[str, Any] = {}
    for key in rows[0]:
        fill = pad_id if key == "input_ids" else 0
        padded = []
        for r in rows:
            extra = [fill] * (width - len(r[key]))
            padded.append(extra + list(r[key]) if side == "left" else list(r[key]) + extra)
        out[key] = torch.tensor(padded, dtype=torch.long, device=device)
    return out


@dataclass
class _Loaded:
    """The loaded state an :class:`HFAdapter` shares with its :meth:`~HFAdapter.for_task`
    copies."""

    tokenizer: Any = None
    model: Any = None
    weights: dict[str, str] | None = None
    batch: int | None = None
    light: Any = None  # the tokenizer alone, loaded before (or without) the model
    chat: tuple[bool, str] | None = None  # whether the chat template applies, and why


class HFAdapter(Adapter):
    """A Hugging Face transformers model; see the module docstring."""

    name = "hf"
    version: ClassVar[int] = 1
    families: ClassVar[tuple[str, ...]] = (
        "sentiment",
        "translation",
        "summarization",
        "qa",
        "recommendation",
        "judge",
    )

    class Params(Adapter.Params):
        """Model kind, placement, batching and decoding settings (see the module docstring)."""

        model_config = ConfigDict(extra="forbid", frozen=True)

        task: Literal["seq2seq", "causal", "classifier", "qa"]
        device: str | None = None
        dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
        batch_size: int | Literal["auto"] = "auto"
        max_new_tokens: int | None = Field(default=None, ge=1)
        temperature: float | None = Field(default=None, ge=0)
        top_p: float | None = Field(default=None, gt=0, le=1)
        system: str | None = None
        num_beams: int = Field(default=1, ge=1)
        revision: str | None = None
        trust_remote_code: bool = False
        src_lang: str | None = None
        tgt_lang: str | None = None
        prefix: str = ""
        chat: bool | None = None
        stop: str | None = None
        label_map: str | None = None
        max_length: int | None = Field(default=None, ge=8)
        max_seq_length: int = Field(default=384, ge=16)
        doc_stride: int = Field(default=128, ge=0)
        max_answer_length: int = Field(default=30, ge=1)
        no_answer: bool = False
        null_threshold: float = 0.0
        seed: Seed = 0

    params: Params

    def __new__(cls, target: str | None = None, **params: Any) -> Any:
        """``task=embed`` builds :class:`~bench.adapters.hf_embed.HFEmbedAdapter` (static word
        vectors, a vector model) instead; every other task builds this class."""
        if cls is HFAdapter and params.get("task") == "embed":
            from bench.adapters.hf_embed import HFEmbedAdapter

            return HFEmbedAdapter(target, **params)
        return super().__new__(cls)

    def __init__(self, target: str | None = None, **params: Any) -> None:
        super().__init__(target, **params)
        if not target:
            raise ModelSpecError(
                "model 'hf' needs a hub id or a local folder",
                fix="write hf:PATH_OR_ID,task=seq2seq|causal|classifier|qa",
            )
        if isinstance(self.params.batch_size, int) and self.params.batch_size < 1:
            raise ModelSpecError("hf: batch_size must be a positive integer or 'auto'")
        if self.params.task == "qa" and self.params.doc_stride >= self.params.max_seq_length // 2:
            raise ModelSpecError(
                f"hf: doc_stride={self.params.doc_stride} leaves too little new context per "
                f"window of max_seq_length={self.params.max_seq_length}",
                fix="use a doc_stride below half of max_seq_length",
            )
        _transformers()
        self.model_id: str = target
        self._spec: TaskSpec | None = None
        # What is loaded once and shared by every for_task() copy: tokenizer, model, weights
        # identity, the calibrated batch size.
        self._shared = _Loaded(
            batch=self.params.batch_size if isinstance(self.params.batch_size, int) else None
        )
        self._labels: dict[int, str] | None = None
        self._truncated = 0

    @property
    def _model(self) -> Any:
        return self._shared.model

    @_model.setter
    def _model(self, value: Any) -> None:
        self._shared.model = value

    @property
    def _tokenizer(self) -> Any:
        return self._shared.tokenizer

    @_tokenizer.setter
    def _tokenizer(self, value: Any) -> None:
        self._shared.tokenizer = value

    @property
    def _weights(self) -> dict[str, str] | None:
        return self._shared.weights

    @_weights.setter
    def _weights(self, value: dict[str, str] | None) -> None:
        self._shared.weights = value

    @property
    def _batch(self) -> int | None:
        return self._shared.batch

    @_batch.setter
    def _batch(self, value: int | None) -> None:
        self._shared.batch = value

    # ------------------------------------------------------------------ runner protocol

    def supports(self, family: str) -> bool:
        """Whether ``family`` can be answered by this kind of model (see the module docstring)."""
        return family in _TASK_FAMILIES[self.params.task]

    def for_task(self, task: TaskSpec, family: Family) -> HFAdapter:
        """A copy for ``task`` (sharing the loaded model); a classifier checks here that its
        labels map onto the task's."""
        bound = copy.copy(self)
        bound._spec = task
        bound._truncated = 0
        if self.params.task == "classifier" and task.labels:
            config = self._config()
            id2label = {int(k): str(v) for k, v in config.id2label.items()}
            bound._labels = map_labels(
                id2label, task.labels, self.params.label_map, where=f"hf:{self.model_id}"
            )
        return bound

    @property
    def prompted(self) -> bool:
        """``True`` for ``task=causal``: it answers through the task's prompt, exemplars,
        scoring mode and generation settings."""
        return self.params.task == "causal"

    def protocol_support(self, task: TaskSpec) -> str | None:
        """Why a causal model cannot honour ``task``'s protocol, or ``None``: it does
        ``loglik`` for families with answer choices and ``generate`` for every family."""
        if self.params.task != "causal":
            return None
        mode, _ = self._scoring(task, task.family)
        cls = family_class(task.family)
        if mode == "loglik" and cls is not None and cls.answer_choices is Family.answer_choices:
            return (
                f"hf causal models score log-likelihoods of answer choices, and {task.family} "
                "answers have none (use scoring: {mode: generate})"
            )
        if self._decoding(task, task.family).temperature > 0 and self.params.num_beams > 1:
            return "hf causal models do not sample with num_beams > 1"
        return None

    def identity(self) -> dict[str, Any]:
        """Code version, answer-changing parameters (``dtype`` as asked, not as resolved on this
        machine) and the weights' identity (content of a local folder, or hub commit).

        Parameters left unset (``temperature``, ``top_p``, ``system``) are left out, and an
        unset ``max_new_tokens`` of a seq2seq model counts as its default 128, so the
        fingerprints of specs written before those parameters existed are unchanged.
        """
        params = self.params.model_dump(mode="json", exclude={"device", "batch_size"})
        for key in ("temperature", "top_p", "system"):
            if params.get(key) is None:
                params.pop(key, None)
        if self.params.task != "causal" and params.get("max_new_tokens") is None:
            params["max_new_tokens"] = _DEFAULT_NEW_TOKENS
        return {
            "adapter": self.name,
            "version": self.version,
            "weights": self.weights_id(),
            "params": params,
        }

    def fingerprint(self, task: TaskSpec | None = None) -> str:
        """:meth:`identity` and, for causal models, ``task``'s prompt, the chat-template
        decision, the system prompt, scoring and exemplar settings and the effective decoding
        settings. Pure: the same before and after loading, with or without a visible GPU."""
        if self.params.task == "causal" and task is not None:
            prompt = task.prompt_hash()
            if prompt is None:
                prompt = "default:" + short_hash(template_for(task.family, None))
            causal = self._causal_identity(task)
            return short_hash({**self.identity(), "prompt": prompt, "causal": causal})
        return short_hash({**self.identity(), "prompt": None})

    def weights_id(self) -> dict[str, str]:
        """``{"sha256": ...}`` of a local folder's files, or ``{"commit": ...}`` on the hub.

        Raises:
            ModelSpecError: A hub id whose revision cannot be resolved (offline and not cached).
        """
        if self._weights is None:
            folder = Path(self.model_id).expanduser()
            if folder.is_dir():
                self._weights = {"sha256": _folder_sha256(folder)}
            else:
                self._weights = {"commit": self._hub_commit()}
        return self._weights

    def info(self) -> dict[str, Any]:
        """Model class, parameter count, dtype, device, revision and loading options."""
        torch = _torch()
        if self._model is not None:
            model = self._model
        else:
            # Answers all came from the cache: describe the model without loading weights.
            auto = getattr(_transformers(), _AUTO_CLASSES[self.params.task])
            with torch.device("meta"):
                model = auto.from_config(
                    self._config(), trust_remote_code=self.params.trust_remote_code
                )
        weights = self.weights_id()
        out: dict[str, Any] = {
            "task": self.params.task,
            "model_class": type(model).__name__,
            "parameters": int(sum(p.numel() for p in model.parameters())),
            "dtype": self._dtype_name(),
            "device": str(self._device()),
            "revision": weights.get("commit", self.params.revision),
            "weights_sha256": weights.get("sha256"),
            "trust_remote_code": self.params.trust_remote_code,
            "batch_size": self._batch or self.params.batch_size,
        }
        if self.params.task == "seq2seq":
            out["max_new_tokens"] = self.params.max_new_tokens or _DEFAULT_NEW_TOKENS
            out["num_beams"] = self.params.num_beams
        if self.params.task == "causal":
            family = self._spec.family if self._spec is not None else None
            decoding = self._decoding(self._spec, family)
            out["max_new_tokens"] = decoding.max_new_tokens
            out["num_beams"] = self.params.num_beams
            out["generation"] = decoding.to_json()
            if family is not None:
                mode, normalization = self._scoring(self._spec, family)
                out["scoring"] = {"mode": mode, "normalization": normalization}
            chat, why = self._chat_decision()
            out["chat_template"] = chat
            out["chat_rule"] = why
            out["system"] = self._system()
            out["truncated_prompts"] = self._truncated
        if self._labels is not None:
            out["label_map"] = {str(i): label for i, label in self._labels.items()}
        return out

    def predict(self, requests: Sequence[Request]) -> Sequence[Response | Failure]:
        """One response per request, in input order (batched by length internally)."""
        for req in requests:
            if not self.supports(req.family):
                raise AdapterError(
                    f"hf:{self.model_id} (task={self.params.task}) cannot answer "
                    f"{req.family} requests",
                    fix=f"task={self.params.task} serves {', '.join(self._families())}",
                )
        if not requests:
            return []
        torch = _torch()
        self._load()
        with torch.random.fork_rng(devices=[]), torch.inference_mode():
            torch.manual_seed(self.params.seed)
            task = self.params.task
            if task == "classifier":
                return list(self._classify(requests))
            if task == "qa":
                return list(self._extract(requests))
            if task == "seq2seq":
                return list(self._seq2seq(requests))
            return list(self._causal(requests))

    # ------------------------------------------------------------------ loading

    def _families(self) -> tuple[str, ...]:
        return _TASK_FAMILIES[self.params.task]

    def _load_kwargs(self) -> dict[str, Any]:
        return {
            "revision": self.params.revision,
            "trust_remote_code": self.params.trust_remote_code,
        }

    def _config(self) -> Any:
        try:
            return _transformers().AutoConfig.from_pretrained(self.model_id, **self._load_kwargs())
        except (OSError, ValueError) as exc:
            raise self._load_error(exc) from exc

    def _load_error(self, exc: Exception) -> ModelSpecError:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return ModelSpecError(
            f"hf:{self.model_id} cannot be loaded: {first[:300]}",
            fix="give a folder written by save_pretrained or a hub id available offline "
            "(and trust_remote_code=true only for code you trust)",
        )

    def _device(self) -> Any:
        torch = _torch()
        if self.params.device:
            return torch.device(self.params.device)
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def _device_type(self) -> str:
        return str(self._device().type)

    def _dtype_name(self) -> str:
        if self.params.dtype != "auto":
            return self.params.dtype
        if self._model is not None:
            return str(self._model.dtype).removeprefix("torch.")
        if self._device_type() == "cpu":
            return "float32"
        stored = getattr(self._config(), "dtype", None) or "float32"
        return str(stored).removeprefix("torch.")

    def _hub_commit(self) -> str:
        revision = self.params.revision
        if revision and re.fullmatch(r"[0-9a-f]{40}", revision):
            return revision
        from transformers.utils.hub import cached_file, extract_commit_hash

        try:
            resolved = cached_file(self.model_id, "config.json", revision=revision)
        except (OSError, ValueError) as exc:
            raise self._load_error(exc) from exc
        commit = extract_commit_hash(resolved, None)
        if commit is None:
            raise ModelSpecError(
                f"hf:{self.model_id}: the hub commit of revision '{revision or 'main'}' "
                "cannot be resolved",
                fix="pass revision=<40-hex commit> or a local folder",
            )
        return str(commit)

    def _load(self) -> None:
        if self._model is not None:
            return
        tr, torch = _transformers(), _torch()
        # bench shows its own progress; transformers' per-load bars would interleave with it.
        tr.utils.logging.disable_progress_bar()
        kwargs = self._load_kwargs()
        dtype = self._dtype_name()
        try:
            tokenizer = tr.AutoTokenizer.from_pretrained(self.model_id, **kwargs)
            auto = getattr(tr, _AUTO_CLASSES[self.params.task])
            model = auto.from_pretrained(self.model_id, dtype=getattr(torch, dtype), **kwargs)
        except (OSError, ValueError) as exc:
            raise self._load_error(exc) from exc
        model.to(self._device()).eval()
        if self.params.task == "causal":
            tokenizer.padding_side = "left"
            if tokenizer.pad_token is None:
                if tokenizer.eos_token is None:
                    raise AdapterError(
                        f"hf:{self.model_id}: the tokenizer has neither a pad nor an eos token",
                        fix="save the tokenizer with a pad_token or eos_token",
                    )
                tokenizer.pad_token = tokenizer.eos_token
            model.generation_config.pad_token_id = tokenizer.pad_token_id
        if self.params.task == "qa" and not getattr(tokenizer, "is_fast", True):
            raise AdapterError(
                f"hf:{self.model_id}: extractive QA needs a fast tokenizer (character offsets)",
                fix="save the model with its tokenizer.json",
            )
        self._tokenizer, self._model = tokenizer, model

    def _max_input(self) -> int:
        """The longest input the model takes, in tokens."""
        limits = [self.params.max_length] if self.params.max_length else []
        config = self._model.config
        for name in ("max_position_embeddings", "n_positions", "max_seq_len"):
            value = getattr(config, name, None)
            if isinstance(value, int) and value > 0:
                limits.append(value)
                break
        model_max = getattr(self._tokenizer, "model_max_length", None)
        if isinstance(model_max, int) and 0 < model_max < 1_000_000:
            limits.append(model_max)
        return min(limits) if limits else 1024

    # ------------------------------------------------------------------ batching

    def _batched(
        self, items: Sequence[T], length: Callable[[T], int], run: Callable[[list[T]], list[R]]
    ) -> list[R]:
        """``run`` over batches of ``items`` sorted longest first; results in input order.

        With ``batch_size=auto`` a batch that runs out of memory is halved and retried; the
        size that fits is kept for later batches.
        """
        torch = _torch()
        order = sorted(range(len(items)), key=lambda i: (-length(items[i]), i))
        out: list[Any] = [None] * len(items)
        if self._batch is None:
            self._batch = _AUTO_BATCH_CUDA if self._device_type() == "cuda" else _AUTO_BATCH_CPU
        pos = 0
        while pos < len(order):
            idx = order[pos : pos + self._batch]
            oom = False
            try:
                got = run([items[i] for i in idx])
            except RuntimeError as exc:  # torch.OutOfMemoryError is a RuntimeError
                auto = self.params.batch_size == "auto"
                if not (auto and "out of memory" in str(exc).lower() and self._batch > 1):
                    raise
                oom = True
            if oom:
                self._batch = max(1, self._batch // 2)
                gc.collect()
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                continue
            for i, value in zip(idx, got, strict=True):
                out[i] = value
            pos += len(idx)
        return out

    # ------------------------------------------------------------------ classifier

    def _classify(self, requests: Sequence[Request]) -> list[Response]:
        torch = _torch()
        if self._labels is None:
            labels = tuple(getattr(requests[0], "labels", ()))
            id2label = {int(k): str(v) for k, v in self._model.config.id2label.items()}
            self._labels = map_labels(
                id2label, labels, self.params.label_map, where=f"hf:{self.model_id}"
            )
        mapping = self._labels
        enc = self._tokenizer(
            [getattr(r, "text", "") for r in requests],
            truncation=True,
            max_length=self._max_input(),
        )
        rows = [{k: enc[k][i] for k in enc} for i in range(len(requests))]
        pad_id = self._tokenizer.pad_token_id or 0
        device = self._device()

        def run(batch: list[dict[str, list[int]]]) -> list[list[float]]:
            logits = self._model(**_pad(batch, pad_id, "right", torch, device)).logits
            return [row.tolist() for row in torch.softmax(logits.float(), dim=-1).cpu()]

        probs = self._batched(rows, lambda r: len(r["input_ids"]), run)
        out: list[Response] = []
        for req, p in zip(requests, probs, strict=True):
            task_labels = tuple(getattr(req, "labels", ()))
            totals = dict.fromkeys(task_labels, 0.0)
            for i, label in mapping.items():
                totals[label] += p[i]
            norm = sum(totals.values())
            scores = {k: v / norm for k, v in totals.items()}
            best = max(task_labels, key=lambda k: scores[k])  # first label on ties
            out.append(SentimentResponse(label=best, probabilities=scores))
        return out

    # ------------------------------------------------------------------ extractive QA

    def _extract(self, requests: Sequence[Request]) -> list[Response]:
        torch, np = _torch(), _numpy()
        tok = self._tokenizer
        max_len = min(self.params.max_seq_length, self._max_input())
        enc = tok(
            [getattr(r, "question", "") for r in requests],
            [getattr(r, "context", "") for r in requests],
            truncation="only_second",
            max_length=max_len,
            stride=self.params.doc_stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
        )
        keys = [k for k in enc if k not in ("offset_mapping", "overflow_to_sample_mapping")]
        windows = [{k: enc[k][w] for k in keys} for w in range(len(enc["input_ids"]))]
        pad_id = tok.pad_token_id or 0
        device = self._device()

        def run(batch: list[dict[str, list[int]]]) -> list[tuple[Any, Any]]:
            out = self._model(**_pad(batch, pad_id, "right", torch, device))
            starts = out.start_logits.float().cpu().numpy()
            ends = out.end_logits.float().cpu().numpy()
            return [
                (starts[j, : len(b["input_ids"])], ends[j, : len(b["input_ids"])])
                for j, b in enumerate(batch)
            ]

        logits = self._batched(windows, lambda w: len(w["input_ids"]), run)
        best: list[tuple[float, str] | None] = [None] * len(requests)
        null: list[float] = [math.inf] * len(requests)
        for w, (start, end) in enumerate(logits):
            r = enc["overflow_to_sample_mapping"][w]
            seq_ids = enc.sequence_ids(w)
            ctx = np.array([s == 1 for s in seq_ids])
            null[r] = min(null[r], float(start[0] + end[0]))
            span = best_span(start, end, ctx, self.params.max_answer_length)
            if span is None:
                continue
            score, s, e = span
            current = best[r]
            if current is None or score > current[0]:
                offsets = enc["offset_mapping"][w]
                context = getattr(requests[r], "context", "")
                best[r] = (score, context[offsets[s][0] : offsets[e][1]].strip())
        out: list[Response] = []
        for r in range(len(requests)):
            found = best[r]
            text = "" if found is None else found[1]
            if self.params.no_answer and (
                found is None or null[r] > found[0] + self.params.null_threshold
            ):
                text = ""
            out.append(TextResponse(text=text))
        return out

    # ------------------------------------------------------------------ seq2seq

    def _language_token(
        self, code: str, vocab: dict[str, int], *, explicit: bool
    ) -> tuple[str, str] | None:
        """``(code as the tokenizer names it, its token)`` for a language, or ``None``.

        A code from the spec is taken as written; one derived from the task (``zh``) is
        looked up as NLLB, mBART-50 and M2M100 name it, among the added (special) tokens only,
        so an ordinary word piece such as ``en`` is never taken for a language code.
        """
        key = code.lower()
        if explicit:
            candidates: list[str | None] = [code]
            allowed: Any = vocab
        else:
            base = key.split("-")[0]
            candidates = [_NLLB.get(key), _NLLB.get(base), _MBART.get(base), code]
            tok = self._tokenizer
            allowed = set(tok.all_special_tokens) | set(tok.get_added_vocab())
        for candidate in candidates:
            if not candidate:
                continue
            for token in (candidate, f"__{candidate}__"):
                if token in allowed and token in vocab:
                    return candidate, token
        return None

    def _seq2seq_languages(self, request: Request) -> int | None:
        """Set the tokenizer's source language; return the forced first token, if any."""
        tok = self._tokenizer
        multilingual = hasattr(tok, "src_lang")
        language = str(getattr(request, "language", ""))
        src = self.params.src_lang or str(getattr(request, "source_language", language))
        tgt = self.params.tgt_lang or str(getattr(request, "target_language", language))
        if self.params.src_lang and not multilingual:
            raise ModelSpecError(
                f"hf:{self.model_id}: the tokenizer ({type(tok).__name__}) takes no source "
                "language",
                fix="drop src_lang= (it is for NLLB, M2M100 and mBART-50 style tokenizers)",
            )
        if not multilingual and not self.params.tgt_lang:
            return None
        vocab = tok.get_vocab()
        codes = [t for t in vocab if re.fullmatch(r"(__[a-z]{2,3}__|[a-z]{2,3}_[A-Z][A-Za-z]+)", t)]
        found_tgt = self._language_token(tgt, vocab, explicit=bool(self.params.tgt_lang))
        if found_tgt is None:
            raise ModelSpecError(
                f"hf:{self.model_id}: no language token for target '{tgt}'"
                f"{did_you_mean(tgt, codes)}",
                fix=f"pass tgt_lang= as the model names it (e.g. {', '.join(sorted(codes)[:4])})",
            )
        if multilingual:
            found_src = self._language_token(src, vocab, explicit=bool(self.params.src_lang))
            if found_src is None:
                raise ModelSpecError(
                    f"hf:{self.model_id}: no language token for source '{src}'"
                    f"{did_you_mean(src, codes)}",
                    fix=f"pass src_lang= as the model names it (e.g. "
                    f"{', '.join(sorted(codes)[:4])})",
                )
            if tok.src_lang != found_src[0]:
                tok.src_lang = found_src[0]
        return int(vocab[found_tgt[1]])

    def _seq2seq(self, requests: Sequence[Request]) -> list[Response]:
        torch = _torch()
        tok = self._tokenizer
        forced = self._seq2seq_languages(requests[0])
        texts = [
            self.params.prefix
            + str(getattr(r, "source", None) or getattr(r, "document", None) or "")
            for r in requests
        ]
        enc = tok(texts, truncation=True, max_length=self._max_input())
        rows = [{k: enc[k][i] for k in ("input_ids", "attention_mask")} for i in range(len(texts))]
        pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
        device = self._device()
        kwargs: dict[str, Any] = {
            "max_new_tokens": self.params.max_new_tokens or _DEFAULT_NEW_TOKENS,
            "num_beams": self.params.num_beams,
            "do_sample": False,
        }
        if forced is not None:
            kwargs["forced_bos_token_id"] = forced

        def run(batch: list[dict[str, list[int]]]) -> list[str]:
            inputs = _pad(batch, pad_id, "right", torch, device)
            generated = self._model.generate(**inputs, **kwargs)
            return [t.strip() for t in tok.batch_decode(generated, skip_special_tokens=True)]

        outputs = self._batched(rows, lambda r: len(r["input_ids"]), run)
        return [TextResponse(text=text) for text in outputs]

    # ------------------------------------------------------------------ causal LMs

    def _light_tokenizer(self) -> Any:
        """The tokenizer alone (for prompts, sort keys and the chat rule before loading)."""
        if self._tokenizer is not None:
            return self._tokenizer
        if self._shared.light is None:
            self._shared.light = self._load_tokenizer_only()
        return self._shared.light

    def _chat_decision(self) -> tuple[bool, str]:
        """Whether the chat template is applied, and why (see the module docstring)."""
        if self._shared.chat is not None:
            return self._shared.chat
        has = bool(getattr(self._light_tokenizer(), "chat_template", None))
        name = _model_name(self.model_id)
        decision: tuple[bool, str]
        if self.params.chat is False:
            decision = (False, "chat=false")
        elif self.params.chat:
            if not has:
                raise ModelSpecError(
                    f"hf:{self.model_id}: chat=true but the tokenizer has no chat template",
                    fix="drop chat=true, or save a tokenizer with a chat_template",
                )
            decision = (True, "chat=true")
        elif not has:
            decision = (False, "the tokenizer has no chat template")
        elif _CHAT_NAME.search(name):
            decision = (True, f"the model's name '{name}' marks an instruct/chat model")
        else:
            decision = (
                False,
                f"the model's name '{name}' does not mark an instruct/chat model "
                "(chat=true applies the template)",
            )
        self._shared.chat = decision
        return decision

    def _use_chat(self) -> bool:
        return self._chat_decision()[0]

    def _load_tokenizer_only(self) -> Any:
        try:
            return _transformers().AutoTokenizer.from_pretrained(
                self.model_id, **self._load_kwargs()
            )
        except (OSError, ValueError) as exc:
            raise self._load_error(exc) from exc

    def _system(self, task: TaskSpec | None = None) -> str | None:
        """The system prompt: ``system=`` on the spec (``""`` drops the task's), else the
        task's (its prompt variant's) ``system``; ``task`` defaults to the bound task."""
        if self.params.system is not None:
            return _unescape(self.params.system) or None
        return system_prompt(task if task is not None else self._spec)

    def _messages(self, request: Request) -> list[dict[str, str]]:
        """The chat messages for ``request`` (exemplars as turns with ``as_multiturn``)."""
        out = [m for m in messages(request, self._spec) if m["role"] != "system"]
        system = self._system()
        return [{"role": "system", "content": system}, *out] if system else out

    def prompt_text(self, request: Request) -> str:
        """The text the causal model is given for ``request``: its in-context examples and
        prompt, after the chat template when it applies, else after the system prompt."""
        if self._use_chat():
            return str(
                self._light_tokenizer().apply_chat_template(
                    self._messages(request), tokenize=False, add_generation_prompt=True
                )
            )
        text = render(request, self._spec)
        system = self._system()
        return f"{system}\n\n{text}" if system else text

    def _answer_only_text(self, request: Request) -> str:
        """PMI's answer-only context for ``request``: the last line of its prompt
        (:func:`~bench.adapters.loglik.answer_only_context`), in a user turn of the chat
        template when that applies; no system prompt, no exemplars."""
        context = answer_only_context(render(request, self._spec))
        if self._use_chat():
            return str(
                self._light_tokenizer().apply_chat_template(
                    [{"role": "user", "content": context}],
                    tokenize=False,
                    add_generation_prompt=True,
                )
            )
        return context

    def sort_key(self, request: Request) -> int:
        """How long ``request``'s input is, for the runner to sort the whole test set by:
        causal models, the prompt's token count; other kinds, the characters of its text
        fields (a cheap proxy)."""
        if self.params.task == "causal":
            tok = self._light_tokenizer()
            return len(tok(self.prompt_text(request), add_special_tokens=False)["input_ids"])
        return sum(len(v) for v in request.model_dump().values() if isinstance(v, str))

    def _scoring(self, task: TaskSpec | None, family: str) -> tuple[str, str]:
        """``(mode, normalization)``: the task's, else the family's default mode."""
        scoring = task.scoring if task is not None else None
        mode = scoring.mode if scoring is not None else None
        if mode is None:
            cls = family_class(family)
            mode = cls.default_scoring if cls is not None else "generate"
        return mode, scoring.normalization if scoring is not None else "none"

    def _decoding(self, task: TaskSpec | None, family: str | None) -> _Decoding:
        """The effective decoding settings: the model spec's explicit value, else the task's
        ``generation:``, else bench's default (greedy, 128 new tokens, the family's stops)."""
        gen = task.generation if task is not None else None
        if self.params.stop is not None:
            stop = self._stops()
        elif gen is not None and gen.stop is not None:
            stop = tuple(s for s in gen.stop if s)
        else:
            cls = family_class(family) if family else None
            stop = tuple(cls.stop_sequences) if cls is not None else ()

        def pick(own: Any, task_value: Any, default: Any) -> Any:
            return own if own is not None else task_value if task_value is not None else default

        return _Decoding(
            max_new_tokens=int(
                pick(
                    self.params.max_new_tokens,
                    gen.max_new_tokens if gen else None,
                    _DEFAULT_NEW_TOKENS,
                )
            ),
            stop=stop,
            temperature=float(pick(self.params.temperature, gen.temperature if gen else None, 0)),
            top_p=float(pick(self.params.top_p, gen.top_p if gen else None, 1)),
            seed=gen.seed if gen is not None else 0,
        )

    def _causal_identity(self, task: TaskSpec) -> dict[str, Any]:
        """What a causal model's answers depend on beyond its parameters and the prompt."""
        mode, normalization = self._scoring(task, task.family)
        scoring = task.scoring.model_dump(mode="json") if task.scoring is not None else None
        return {
            "chat": self._use_chat(),
            "system": self._system(task),
            "mode": mode,
            "normalization": normalization,
            "scoring": scoring,
            "fewshot": task.fewshot.model_dump(mode="json") if task.fewshot else None,
            "decoding": self._decoding(task, task.family).to_json(),
        }

    def _causal(self, requests: Sequence[Request]) -> list[Response]:
        """Answer through the family: score its answer choices (``loglik``) or generate and
        parse (``generate``), as the task's scoring mode says."""
        family = family_of(requests[0])
        mode, normalization = self._scoring(self._spec, requests[0].family)
        prompts = [self.prompt_text(r) for r in requests]
        if mode == "generate":
            return self._generate(requests, prompts)
        choices = [family.answer_choices(r, self._spec) for r in requests]
        if any(c is None for c in choices):
            raise AdapterError(
                f"hf:{self.model_id}: {requests[0].family} requests have no answer choices to "
                "score by log-likelihood",
                fix="use scoring: {mode: generate} in the task",
            )
        words = [list(c or ()) for c in choices]
        conts = [[continuation(p, w) for w in ws] for p, ws in zip(prompts, words, strict=True)]
        shared = family.choices_share_prompt
        scored = self._logliks(prompts, conts, shared)
        unconditional: list[list[tuple[float, int]]] | None = None
        if normalization == "pmi":
            contexts = [self._answer_only_text(r) for r in requests]
            unconditional = self._logliks(contexts, conts, shared)
        out: list[Response] = []
        for i, (req, prompt) in enumerate(zip(requests, prompts, strict=True)):
            scores = [
                normalize(
                    logprob,
                    tokens=n,
                    text=conts[i][j],
                    mode=normalization,
                    unconditional=unconditional[i][j][0] if unconditional is not None else None,
                )
                for j, (logprob, n) in enumerate(scored[i])
            ]
            response = family.from_choice_scores(req, self._spec, scores)
            transcript = Transcript(prompt=prompt, choices=dict(zip(words[i], scores, strict=True)))
            out.append(response.model_copy(update={"transcript": transcript}))
        return out

    def _encode_prompts(self, prompts: Sequence[str], reserve: int) -> list[list[int]]:
        """Token ids of ``prompts``, left-truncated to leave ``reserve`` positions.

        An empty prompt (PMI's answer-only context when the prompt's last line is empty, on a
        tokenizer that adds no BOS) becomes the BOS token, else the EOS token (GPT-2's
        convention), so every continuation is scored after at least one token.
        """
        tok = self._tokenizer
        chat = self._use_chat()
        ids = tok(list(prompts), add_special_tokens=not chat)["input_ids"]
        limit = max(1, self._max_input() - reserve)
        first = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        out = []
        for row in ids:
            if len(row) > limit:
                self._truncated += 1
                row = row[-limit:]
            out.append(list(row) or [int(first)])
        return out

    def _continuations(self, prompt: str, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each continuation text (:func:`~bench.adapters.loglik.continuation`)
        after ``prompt``.

        The prompt and continuation are encoded together and the prompt's tokens cut off, so
        the continuation is tokenized as it would appear after the prompt (lm-eval's rule); if
        the boundary merges into one token, the continuation is encoded on its own instead.
        """
        tok = self._tokenizer
        chat = self._use_chat()
        whole_ids = tok([prompt + t for t in texts], add_special_tokens=not chat)["input_ids"]
        alone = tok(prompt, add_special_tokens=not chat)["input_ids"]
        out = []
        for text, whole in zip(texts, whole_ids, strict=True):
            if list(whole[: len(alone)]) == list(alone) and len(whole) > len(alone):
                cont = list(whole[len(alone) :])
            else:
                cont = list(tok(text, add_special_tokens=False)["input_ids"])
            out.append(cont)
        return out

    def _logliks(
        self, prompts: Sequence[str], conts: Sequence[Sequence[str]], shared: bool
    ) -> list[list[tuple[float, int]]]:
        """``(summed log-probability, token count)`` of each continuation after its prompt.

        ``shared``: many continuations of each prompt (a catalogue), scored against the
        prompt's key/value cache; otherwise every (prompt, continuation) pair is batched
        together.
        """
        tokenized = [self._continuations(p, list(c)) for p, c in zip(prompts, conts, strict=True)]
        if shared:
            out: list[list[tuple[float, int]]] = []
            for prompt, toks in zip(prompts, tokenized, strict=True):
                if not toks:
                    out.append([])
                    continue
                (ids,) = self._encode_prompts([prompt], reserve=max(len(t) for t in toks))
                scores = self._score_shared_prompt(ids, toks)
                out.append([(s, len(t)) for s, t in zip(scores, toks, strict=True)])
            return out
        if not any(tokenized):
            return [[] for _ in prompts]
        longest = max(len(c) for cs in tokenized for c in cs)
        prompt_ids = self._encode_prompts(prompts, reserve=longest)
        pairs = [(ids, c) for ids, cs in zip(prompt_ids, tokenized, strict=True) for c in cs]
        flat = self._batched(pairs, lambda p: len(p[0]) + len(p[1]), self._score_pairs)
        grouped: list[list[tuple[float, int]]] = []
        k = 0
        for cs in tokenized:
            grouped.append([(flat[k + j], len(c)) for j, c in enumerate(cs)])
            k += len(cs)
        return grouped

    def _score_pairs(self, batch: list[tuple[list[int], list[int]]]) -> list[float]:
        """Summed log-probability of each continuation after its prompt (one forward pass)."""
        torch = _torch()
        rows = [{"input_ids": p + c, "attention_mask": [1] * (len(p) + len(c))} for p, c in batch]
        inputs = _pad(rows, self._tokenizer.pad_token_id, "right", torch, self._device())
        logits = self._model(**inputs).logits
        out = []
        for j, (p, c) in enumerate(batch):
            # logits at position t predict token t + 1
            span = logits[j, len(p) - 1 : len(p) + len(c) - 1].double().log_softmax(-1)
            target = torch.tensor(c, device=span.device)
            out.append(float(span.gather(1, target[:, None]).sum()))
        return out

    def _score_shared_prompt(self, prompt: list[int], conts: list[list[int]]) -> list[float]:
        """Summed log-probabilities of many continuations of one prompt.

        The prompt runs once; its key/value cache is repeated to the batch size and cropped
        back to the prompt after each batch of continuations. Models whose cache cannot be
        repeated and cropped fall back to full sequences.
        """
        torch = _torch()
        device = self._device()
        first = self._model(input_ids=torch.tensor([prompt], device=device), use_cache=True)
        cache = getattr(first, "cache", None) or getattr(first, "past_key_values", None)
        head = first.logits[0, -1].double().log_softmax(-1)
        if not all(hasattr(cache, m) for m in ("batch_repeat_interleave", "crop")):
            pairs = [(prompt, c) for c in conts]
            return self._batched(pairs, lambda p: len(p[1]), self._score_pairs)
        pad_id = self._tokenizer.pad_token_id
        # the keyword the model's forward takes for its cache (renamed in transformers 5)
        kw = (
            "cache"
            if "cache" in inspect.signature(self._model.forward).parameters
            else ("past_key_values")
        )
        repeated: dict[int, Any] = {}

        def run(batch: list[list[int]]) -> list[float]:
            scores = [float(head[c[0]]) for c in batch]
            if max(len(c) for c in batch) == 1:
                return scores
            rows = [{"input_ids": c, "attention_mask": [1] * len(c)} for c in batch]
            inputs = _pad(rows, pad_id, "right", torch, device)
            ones = torch.ones(len(batch), len(prompt), dtype=torch.long, device=device)
            mask = torch.cat([ones, inputs["attention_mask"]], dim=1)
            if len(batch) not in repeated:
                repeated[len(batch)] = copy.deepcopy(cache)
                repeated[len(batch)].batch_repeat_interleave(len(batch))
            past = repeated[len(batch)]
            extra = past.get_seq_length() - len(prompt)
            if extra > 0:
                past.crop(-extra)  # back to the prompt (crop takes tokens to remove)
            logits = self._model(
                input_ids=inputs["input_ids"], attention_mask=mask, **{kw: past}
            ).logits
            for j, c in enumerate(batch):
                if len(c) > 1:
                    span = logits[j, : len(c) - 1].double().log_softmax(-1)
                    target = torch.tensor(c[1:], device=span.device)
                    scores[j] += float(span.gather(1, target[:, None]).sum())
            return scores

        return self._batched(conts, len, run)

    def _stops(self) -> tuple[str, ...]:
        """The spec's ``stop=`` (``|``-separated, ``\\n`` for a newline)."""
        raw = self.params.stop or ""
        return tuple(s for s in (_unescape(x) for x in raw.split("|")) if s)

    def _generate(self, requests: Sequence[Request], prompts: list[str]) -> list[Response]:
        """Decode each prompt (greedy, or sampled with a per-request seed), cut the text at
        the first stop string and parse it through the family."""
        torch, tr = _torch(), _transformers()
        tok = self._tokenizer
        dec = self._decoding(self._spec, requests[0].family)
        sampling = dec.temperature > 0
        if sampling and self.params.num_beams > 1:
            raise ModelSpecError(
                f"hf:{self.model_id}: sampling (temperature {dec.temperature}) with "
                f"num_beams={self.params.num_beams}",
                fix="drop num_beams= (beam search is greedy) or set temperature=0",
            )
        ids = self._encode_prompts(prompts, reserve=dec.max_new_tokens)
        items = [
            ({"input_ids": r, "attention_mask": [1] * len(r)}, _request_seed(dec.seed, self, q))
            for r, q in zip(ids, requests, strict=True)
        ]
        device = self._device()
        # transformers' own stop-string matcher (what generate(stop_strings=...) builds), on
        # the generated tokens only: a stop string may not straddle the prompt's end (a chat
        # template's final "\n" and a first generated "\n" are not "\n\n").
        stop_matcher: Any = (
            tr.StopStringCriteria(tokenizer=tok, stop_strings=list(dec.stop)) if dec.stop else None
        )

        class GeneratedStop(tr.StoppingCriteria):  # type: ignore[name-defined]
            """A stop string ends the generated text (checked on the last tokens only)."""

            def __init__(self, start: int) -> None:
                self.start = start

            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return stop_matcher(input_ids[:, self.start :], scores)

        class SeededSample(tr.LogitsProcessor):  # type: ignore[name-defined]
            """Sampling by the Gumbel-max trick with one generator per row: the argmax of
            (tempered, top-p filtered) scores plus Gumbel noise is a sample of their softmax,
            and row ``i``'s noise at step ``t`` is the ``t``-th draw of its own generator,
            whatever the batch it shares."""

            def __init__(self, seeds: Sequence[int]) -> None:
                self.gens = [torch.Generator().manual_seed(s) for s in seeds]

            def __call__(self, input_ids: Any, scores: Any) -> Any:
                size = scores.shape[-1]
                noise = torch.stack(
                    [torch.rand(size, generator=g, dtype=torch.float64) for g in self.gens]
                )
                gumbel = -torch.log(-torch.log(noise))
                return scores + gumbel.to(device=scores.device, dtype=scores.dtype)

        def run(batch: list[tuple[dict[str, list[int]], int]]) -> list[str]:
            inputs = _pad([row for row, _ in batch], tok.pad_token_id, "left", torch, device)
            start = inputs["input_ids"].shape[1]
            kwargs: dict[str, Any] = {
                "max_new_tokens": dec.max_new_tokens,
                "num_beams": self.params.num_beams,
                "do_sample": False,
                "pad_token_id": tok.pad_token_id,
                "stopping_criteria": tr.StoppingCriteriaList(
                    [GeneratedStop(start)] if stop_matcher is not None else []
                ),
            }
            if sampling:
                processors = [tr.TemperatureLogitsWarper(dec.temperature)]
                if dec.top_p < 1:
                    processors.append(tr.TopPLogitsWarper(dec.top_p))
                processors.append(SeededSample([seed for _, seed in batch]))
                kwargs["logits_processor"] = tr.LogitsProcessorList(processors)
            generated = self._model.generate(**inputs, **kwargs)
            texts = tok.batch_decode(generated[:, start:], skip_special_tokens=True)
            return [_cut(t, dec.stop) for t in texts]

        texts = self._batched(items, lambda item: len(item[0]["input_ids"]), run)
        out: list[Response] = []
        for text, req, prompt in zip(texts, requests, prompts, strict=True):
            response = parse(text, req, self._spec)
            if isinstance(response, Response):
                transcript = Transcript(prompt=prompt, completion=text)
                response = response.model_copy(update={"transcript": transcript})
            out.append(response)
        return out


@dataclass(frozen=True)
class _Decoding:
    """A causal model's effective decoding settings (recorded and fingerprinted)."""

    max_new_tokens: int
    stop: tuple[str, ...]
    temperature: float
    top_p: float
    seed: int

    def to_json(self) -> dict[str, Any]:
        return {
            "max_new_tokens": self.max_new_tokens,
            "stop": list(self.stop),
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
        }


# Names of instruct/chat models: "Qwen2.5-0.5B-Instruct", "Llama-2-7b-chat-hf", "chatglm3-6b",
# "gemma-2-2b-it", "zephyr-7b-sft-full", "...-dpo"; not "gpt2", "Llama-3.2-1B", "bert-base".
_CHAT_NAME = re.compile(r"(?i)(instruct|chat|(^|[-_.])(it|sft|dpo|rlhf)($|[-_.]))")


def _model_name(model_id: str) -> str:
    """The last component of a hub id or folder path (``Qwen2.5-0.5B-Instruct``)."""
    return Path(model_id.rstrip("/\\")).name or model_id


def _request_seed(seed: int, adapter: HFAdapter, request: Request) -> int:
    """The sampling seed of ``request``: from the unit's ``generation.seed``, the model spec's
    ``seed`` and the request's content hash (so not from its batch or position)."""
    blob = f"{seed}:{adapter.params.seed}:{request.content_hash()}".encode()
    return int(hashlib.sha256(blob).hexdigest()[:16], 16)


def _cut(text: str, stops: Sequence[str]) -> str:
    """``text`` up to the first stop string."""
    cut = len(text)
    for stop in stops:
        at = text.find(stop)
        if at != -1:
            cut = min(cut, at)
    return text[:cut]


def best_span(
    start: Any, end: Any, context: Any, max_answer_length: int
) -> tuple[float, int, int] | None:
    """``(score, first token, last token)`` maximising ``start + end`` over context tokens.

    Spans lie inside the context tokens (``context`` is a boolean mask), end at or after
    their start and are at most ``max_answer_length`` tokens long; ties go to the earliest
    start, then the shortest span. ``None`` when the window has no context token.
    """
    np = _numpy()
    idx = np.flatnonzero(context)
    if idx.size == 0:
        return None
    s, e = start[idx].astype(np.float64), end[idx].astype(np.float64)
    scores = s[:, None] + e[None, :]
    i, j = np.indices(scores.shape)
    # context tokens are contiguous, so index distance is token distance
    valid = (j >= i) & (j - i < max_answer_length)
    scores = np.where(valid, scores, -np.inf)
    flat = int(np.argmax(scores))
    a, b = divmod(flat, scores.shape[1])
    return float(scores[a, b]), int(idx[a]), int(idx[b])


def _folder_sha256(folder: Path) -> str:
    """SHA-256 over the names and contents of a model folder's files (memoised by mtime)."""
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(x.startswith(".") for x in p.relative_to(folder).parts)
    )
    stamp = tuple(
        (str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in files
    )
    key = (str(folder.resolve()), stamp)
    if key not in _WEIGHTS_MEMO:
        digest = hashlib.sha256()
        for p in files:
            digest.update(str(p.relative_to(folder).as_posix()).encode() + b"\0")
            with p.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
            digest.update(b"\0")
        _WEIGHTS_MEMO[key] = digest.hexdigest()
    return _WEIGHTS_MEMO[key]


def _torch() -> Any:
    import torch

    return torch


def _numpy() -> Any:
    import numpy

    return numpy
