"""COMET and CometKiwi: neural MT metrics scored from COMET checkpoints by bench's own code.

**What it computes.** COMET (Rei et al., 2020, "COMET: A Neural Framework for MT
Evaluation", EMNLP) scores a translation with a fine-tuned multilingual encoder and a small
feed-forward estimator. ``comet`` loads a ``RegressionMetric`` checkpoint (the class of
``Unbabel/wmt22-comet-da``): source, hypothesis and reference are encoded separately by an
XLM-R encoder; each sentence embedding is a layer mix of the encoder's hidden states
(learned weights normalised with softmax or sparsemax, times a learned gamma; optionally a
masked layer norm first) averaged over tokens (or CLS / max pooling); the estimator reads
``[h, r, h*r, |h-r|, h*s, |h-s|]``. ``cometkiwi`` loads a ``UnifiedMetric`` checkpoint
(the class of ``Unbabel/wmt22-cometkiwi-da``; Rei et al., 2022, "CometKiwi:
IST-Unbabel 2022 Submission for the Quality Estimation Shared Task", WMT): hypothesis and
source are one sequence, ``<s> hyp </s></s> src </s>``, and the estimator reads the layer
mix at the first token; it needs no reference. Each segment gets one score (``score``); the
corpus value is their mean, with bootstrap intervals and paired tests from the base class.
With several references ``comet`` scores against each and takes the mean (``refs:mean`` in
the signature): COMET itself takes one reference per segment.

**Why bench has its own estimator.** ``unbabel-comet`` pins ``numpy<2``,
``transformers<5``, ``huggingface-hub<1.0`` and ``torchmetrics<0.11``; installing it would
downgrade bench's own stack, and running it in a worker environment would need a second torch
and downloads at scoring time. The architecture above is small: bench rebuilds it in plain
torch on ``transformers``' XLM-R, loads the PyTorch Lightning checkpoint with
``torch.load(weights_only=True)`` (tensors and plain containers only, never arbitrary
pickle) and maps its state dict exactly: a missing or unknown key is an error, except
the few buffers that change no score (the layer mix's training-dropout buffers, a stored
``position_ids``, an unused pooler). Text is tokenised with the encoder's ``tokenizer.json``
through ``tokenizers`` as stored — as ``transformers<5`` did for COMET; ``transformers`` 5
rebuilds an XLM-R tokenizer's normaliser and can split some text differently — truncated
to the encoder's positions minus 4, as COMET truncates.

**How it was cross-checked.** ``tests/golden/comet/make_golden.py``, run in a throwaway
environment with ``unbabel-comet`` 2.2.7, builds tiny COMET checkpoints with COMET's own
classes (a ``RegressionMetric`` as ``wmt22-comet-da``, one with softmax, layer norm and a
sigmoid, and a ``UnifiedMetric`` as ``wmt22-cometkiwi-da``) on a tiny XLM-R-shaped encoder
with a trained tokenizer, and stores COMET's ``predict`` scores for English and Chinese
segments (including truncated ones and an empty hypothesis); the tests require bench's
scores to equal them to 1e-5.

**What must be downloaded for real use** (bench never downloads while scoring)::

    hf download Unbabel/wmt22-comet-da
    hf download FacebookAI/xlm-roberta-large config.json tokenizer.json
    hf download Unbabel/wmt22-cometkiwi-da      # gated: accept its licence on the hub first
    hf download microsoft/infoxlm-large config.json tokenizer.json sentencepiece.bpe.model

(the encoder's weights are not needed: they are in the COMET checkpoint). A checkpoint
folder (``hparams.yaml`` + ``checkpoints/model.ckpt``) can be given as ``model``, and the
encoder's folder as ``encoder``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from bench.errors import BenchError, MissingDependency
from bench.metrics.base import ScoringContext
from bench.metrics.model_based import (
    LocalModel,
    ModelMetric,
    Segment,
    env_device,
    local_model,
    quiet_transformers,
)
from bench.spec import TaskSpec

__all__ = ["COMET", "ESTIMATOR_VERSION", "CometKiwi", "CometModel", "load_comet", "sparsemax"]

ESTIMATOR_VERSION = 1
"""Version of bench's COMET estimator code (in every signature as ``impl:bench-<N>``)."""

_INSTALL = "pip install 'bench[neural]'"

_ENCODER_ALIASES = {
    "xlm-roberta-large": "FacebookAI/xlm-roberta-large",
    "xlm-roberta-base": "FacebookAI/xlm-roberta-base",
}

# Checkpoint entries that change no score: the layer mix's dropout buffers (used in
# training only), position ids stored by older transformers, and a pooler COMET never runs.
_IGNORED_KEYS = ("layerwise_attention.dropout_mask", "layerwise_attention.dropout_fill")
_IGNORED_PREFIXES = ("encoder.model.pooler.",)
_IGNORED_SUFFIXES = ("embeddings.position_ids", "embeddings.token_type_ids")


def _require_transformers(metric: str) -> Any:
    try:
        import transformers
    except ImportError as exc:
        raise MissingDependency(
            f"metric '{metric}' needs the 'transformers' package", fix=_INSTALL
        ) from exc
    return transformers


def sparsemax(weights: Any) -> Any:
    """Sparsemax of a 1-D tensor (Martins & Astudillo, 2016): the Euclidean projection onto
    the probability simplex, so low weights become exactly 0.

    Example:
        >>> import torch
        >>> sparsemax(torch.tensor([1.0, 0.0, -2.0])).tolist()
        [1.0, 0.0, 0.0]
        >>> [round(x, 4) for x in sparsemax(torch.tensor([0.5, 0.4, 0.0])).tolist()]
        [0.5333, 0.4333, 0.0333]
    """
    import torch

    z, _ = torch.sort(weights, descending=True)
    k = torch.arange(1, z.numel() + 1, dtype=z.dtype, device=z.device)
    cumulative = torch.cumsum(z, 0)
    support = 1 + k * z > cumulative
    k_max = int(support.nonzero().max().item()) + 1
    tau = (cumulative[k_max - 1] - 1) / k_max
    return torch.clamp(weights - tau, min=0)


@dataclass(frozen=True)
class _Checkpoint:
    folder: Path
    class_identifier: str
    hparams: dict[str, Any]


def _read_hparams(folder: Path, metric: str) -> _Checkpoint:
    import yaml

    hparams_file, ckpt = folder / "hparams.yaml", folder / "checkpoints" / "model.ckpt"
    if not hparams_file.is_file() or not ckpt.is_file():
        raise BenchError(
            f"metric '{metric}': '{folder}' is not a COMET checkpoint folder (it needs "
            "hparams.yaml and checkpoints/model.ckpt)",
            fix="set the metric's model to a COMET checkpoint (a hub id such as "
            "Unbabel/wmt22-comet-da, downloaded, or such a folder)",
        )
    hparams = yaml.safe_load(hparams_file.read_text(encoding="utf-8")) or {}
    return _Checkpoint(folder, str(hparams.get("class_identifier", "")), dict(hparams))


def _build_module(hparams: dict[str, Any], config: Any, kind: str) -> Any:
    import torch
    from torch import nn
    from transformers import XLMRobertaModel

    class Holder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = XLMRobertaModel(config, add_pooling_layer=False)

    class LayerwiseAttention(nn.Module):
        def __init__(self, n: int) -> None:
            super().__init__()
            self.scalar_parameters = nn.ParameterList(
                [nn.Parameter(torch.zeros(1)) for _ in range(n)]
            )
            self.gamma = nn.Parameter(torch.ones(1))

    class FeedForward(nn.Module):
        def __init__(self, in_dim: int) -> None:
            super().__init__()
            sizes = [int(s) for s in hparams.get("hidden_sizes", [3072, 1024])]
            act = str(hparams.get("activations", "Tanh"))
            final = hparams.get("final_activation")
            mods: list[nn.Module] = []
            prev = in_dim
            for size in sizes:
                mods += [nn.Linear(prev, size), _activation(act), nn.Dropout(0.0)]
                prev = size
            mods.append(nn.Linear(prev, 1))
            if final is not None:
                mods.append(_activation(str(final)))
            self.ff = nn.Sequential(*mods)

    module = nn.Module()
    module.encoder = Holder()
    hidden = int(config.hidden_size)
    if _mix_layer(hparams, kind) == "mix":
        module.layerwise_attention = LayerwiseAttention(int(config.num_hidden_layers) + 1)
    module.estimator = FeedForward(hidden * 6 if kind == "regression" else hidden)
    return module


def _activation(name: str) -> Any:
    from torch import nn

    cls = getattr(nn, name.title(), None)
    if cls is None:
        raise BenchError(
            f"COMET checkpoint: unknown activation '{name}'",
            fix="this checkpoint needs an activation bench's estimator does not know",
        )
    return cls()


def _mix_layer(hparams: dict[str, Any], kind: str) -> Any:
    return (
        hparams.get("sent_layer", hparams.get("layer"))
        if kind == "unified"
        else (hparams.get("layer", "mix"))
    )


def _ignorable(key: str) -> bool:
    return (
        key in _IGNORED_KEYS
        or key.startswith(_IGNORED_PREFIXES)
        or (key.startswith("encoder.") and key.endswith(_IGNORED_SUFFIXES))
    )


class CometModel:
    """A loaded COMET checkpoint, ready to score (eval mode, no gradients).

    Attributes:
        kind: ``regression`` (COMET) or ``unified`` (CometKiwi).
        input_segments: For a unified model, the sequences it joins (``["mt", "src"]``).
    """

    def __init__(self, checkpoint: _Checkpoint, encoder: Path, device: str, metric: str) -> None:
        import torch
        from tokenizers import Tokenizer
        from transformers import XLMRobertaConfig

        ckpt_file = checkpoint.folder / "checkpoints" / "model.ckpt"
        try:
            raw = torch.load(ckpt_file, map_location="cpu", weights_only=True)
        except Exception as exc:  # weights_only refusing an object: pickle's UnpicklingError
            if type(exc).__name__ != "UnpicklingError":
                raise
            raise BenchError(
                f"metric '{metric}': {ckpt_file} holds objects beyond tensors and plain "
                f"containers, and bench loads checkpoints with weights_only=True ({exc})",
                fix="re-save the checkpoint's state_dict and hyper_parameters with "
                "torch.save, or use a checkpoint from the hub",
            ) from exc
        if not isinstance(raw, dict) or "state_dict" not in raw:
            raise BenchError(
                f"metric '{metric}': {ckpt_file} has no state_dict (not a COMET checkpoint)",
                fix="point the metric's model at a COMET checkpoint folder",
            )
        # COMET builds the model from the checkpoint's own hyper-parameters (hparams.yaml
        # only names the class); 2.2.4+ reads "sparsemax_patch" as softmax.
        hparams = dict(checkpoint.hparams)
        hparams.update(raw.get("hyper_parameters") or {})
        if hparams.get("layer_transformation") == "sparsemax_patch":
            hparams["layer_transformation"] = "softmax"
        self.hparams = hparams
        self.kind = _kind(checkpoint.class_identifier, metric)
        encoder_model = str(hparams.get("encoder_model", "XLM-RoBERTa"))
        if encoder_model != "XLM-RoBERTa":
            raise BenchError(
                f"metric '{metric}': the checkpoint's encoder is {encoder_model}; bench's "
                "COMET estimator supports XLM-RoBERTa encoders (wmt22-comet-da, "
                "wmt22-cometkiwi-da)",
                fix="use a checkpoint with an XLM-RoBERTa encoder",
            )
        self.input_segments = [str(s) for s in hparams.get("input_segments", ["mt", "src"])]
        if self.kind == "unified" and self.input_segments != ["mt", "src"]:
            raise BenchError(
                f"metric '{metric}': unified checkpoints with input_segments "
                f"{self.input_segments} are not supported by bench's estimator (only "
                "[mt, src], as wmt22-cometkiwi-da)",
                fix="use wmt22-cometkiwi-da or a checkpoint of the same shape",
            )
        if self.kind == "unified" and hparams.get("word_level_training"):
            raise BenchError(
                f"metric '{metric}': word-level (XCOMET-style) unified checkpoints are not "
                "supported by bench's estimator",
                fix="use wmt22-cometkiwi-da or a checkpoint of the same shape",
            )
        config = XLMRobertaConfig.from_pretrained(str(encoder))
        self.module = _build_module(hparams, config, self.kind)
        self._load_state(raw["state_dict"], metric, ckpt_file)
        self.layer = _mix_layer(hparams, self.kind)
        self.pool = str(hparams.get("pool", "avg")) if self.kind == "regression" else "cls"
        if self.pool not in ("avg", "cls", "max"):
            raise BenchError(
                f"metric '{metric}': pooling '{self.pool}' is not supported by bench's "
                "estimator (avg, cls, max)",
                fix="use a checkpoint with avg, cls or max pooling",
            )
        self.transform = str(hparams.get("layer_transformation", "softmax"))
        self.layer_norm = bool(hparams.get("layer_norm", False))
        self.device = torch.device(device)
        self.module.to(self.device).eval()

        tok_file = encoder / "tokenizer.json"
        if tok_file.is_file():
            self.tokenizer = Tokenizer.from_file(str(tok_file))
        else:
            from transformers import XLMRobertaTokenizer

            self.tokenizer = XLMRobertaTokenizer.from_pretrained(str(encoder)).backend_tokenizer
        specials = _special_tokens(encoder)
        ids = {k: self.tokenizer.token_to_id(v) for k, v in specials.items()}
        if any(v is None for v in ids.values()):
            raise BenchError(
                f"metric '{metric}': the encoder's tokenizer in {encoder} lacks one of "
                f"{sorted(specials.values())}",
                fix="point the metric's encoder at the checkpoint's XLM-R encoder folder",
            )
        self.cls_id: int = int(ids["cls"] or 0)
        self.sep_id: int = int(ids["sep"] or 0)
        self.pad_id: int = int(ids["pad"] or 0)
        # COMET: max_positions = max_position_embeddings - 2; truncate at max_positions - 2.
        self.max_positions = int(config.max_position_embeddings) - 2
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.max_positions - 2)

    def _load_state(self, state: dict[str, Any], metric: str, ckpt_file: Path) -> None:
        own = self.module.state_dict()
        unexpected = sorted(k for k in state if k not in own and not _ignorable(k))
        missing = sorted(k for k in own if k not in state)
        if unexpected or missing:
            raise BenchError(
                f"metric '{metric}': the state dict of {ckpt_file} does not match bench's "
                f"{self.kind} estimator: missing keys {missing[:8]}"
                f"{' …' if len(missing) > 8 else ''}, unexpected keys {unexpected[:8]}"
                f"{' …' if len(unexpected) > 8 else ''}",
                fix="use a COMET checkpoint of the wmt22-comet-da / wmt22-cometkiwi-da "
                "architecture, with its own encoder",
            )
        try:
            self.module.load_state_dict({k: state[k] for k in own}, strict=True)
        except RuntimeError as exc:
            raise BenchError(
                f"metric '{metric}': the tensors of {ckpt_file} do not fit its encoder's "
                f"config ({exc})",
                fix="set the metric's encoder to the encoder the checkpoint was trained on",
            ) from exc

    # ------------------------------------------------------------------ scoring

    def _encode(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch(list(texts))]

    def _batch(self, seqs: Sequence[Sequence[int]]) -> tuple[Any, Any]:
        import torch

        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(list(s), dtype=torch.long)
            mask[i, : len(s)] = 1
        return ids.to(self.device), mask.to(self.device)

    def _embeddings(self, ids: Any, mask: Any) -> Any:
        import torch

        out = self.module.encoder.model(
            input_ids=ids, attention_mask=mask, output_hidden_states=True
        )
        layers = out.hidden_states
        if self.layer != "mix":
            index = int(self.layer)
            if not 0 <= index < len(layers):
                raise BenchError(
                    f"COMET checkpoint: layer {index} is out of range",
                    fix="use a checkpoint trained on this encoder",
                )
            return layers[index]
        mix = self.module.layerwise_attention
        weights = torch.cat(list(mix.scalar_parameters))
        normed = sparsemax(weights) if self.transform == "sparsemax" else torch.softmax(weights, 0)
        if self.layer_norm:
            m = mask.float()
            bm = m.unsqueeze(-1)
            count = m.sum(1) * layers[0].size(-1)
            pieces = []
            for w, h in zip(normed, layers, strict=True):
                masked = h * bm
                mean = (masked.reshape(h.size(0), -1).sum(1) / count).view(-1, 1, 1)
                var = (((masked - mean) * bm) ** 2).reshape(h.size(0), -1).sum(1) / count
                pieces.append(w * ((h - mean) / torch.sqrt(var + 1e-12).view(-1, 1, 1)))
        else:
            pieces = [w * h for w, h in zip(normed, layers, strict=True)]
        total = pieces[0]
        for p in pieces[1:]:
            total = total + p
        return mix.gamma * total

    def _sentence(self, seqs: Sequence[Sequence[int]]) -> Any:
        import torch

        ids, mask = self._batch(seqs)
        emb = self._embeddings(ids, mask)
        if self.pool == "cls":
            return emb[:, 0, :]
        pad = ids.eq(self.pad_id).unsqueeze(-1)
        if self.pool == "max":
            return emb.float().masked_fill(pad, float("-inf")).max(dim=1)[0]
        summed = torch.sum(emb.float().masked_fill(pad, 0.0), 1)
        return summed / mask.unsqueeze(-1).expand(emb.size()).float().sum(1)

    def regression(self, src: Sequence[str], mt: Sequence[str], ref: Sequence[str]) -> list[float]:
        """COMET scores of ``(src, mt, ref)`` triples (a ``RegressionMetric``)."""
        import torch

        with torch.inference_mode():
            s = self._sentence(self._encode(src))
            h = self._sentence(self._encode(mt))
            r = self._sentence(self._encode(ref))
            feats = torch.cat((h, r, h * r, torch.abs(h - r), h * s, torch.abs(h - s)), dim=1)
            return [float(x) for x in self.module.estimator.ff(feats).view(-1).tolist()]

    def unified(self, mt: Sequence[str], other: Sequence[str]) -> list[float]:
        """Scores of one joined ``<s> mt </s></s> src </s>`` sequence per segment (a
        ``UnifiedMetric`` with ``input_segments: [mt, src]``)."""
        import torch

        joined = []
        for a, b in zip(self._encode(mt), self._encode(other), strict=True):
            inner_a, inner_b = a[1:-1], b[1:-1]
            seq = [self.cls_id, *inner_a, self.sep_id, self.sep_id, *inner_b, self.sep_id]
            if len(inner_a) + len(inner_b) > self.max_positions - 5:
                seq = seq[: self.max_positions]
            joined.append(seq)
        with torch.inference_mode():
            emb = self._sentence(joined)
            return [float(x) for x in self.module.estimator.ff(emb).view(-1).tolist()]


def _kind(class_identifier: str, metric: str) -> str:
    kinds = {"regression_metric": "regression", "unified_metric": "unified"}
    if class_identifier not in kinds:
        raise BenchError(
            f"metric '{metric}': COMET checkpoints of class '{class_identifier}' are not "
            "supported by bench's estimator (regression_metric, unified_metric)",
            fix="use Unbabel/wmt22-comet-da (comet) or Unbabel/wmt22-cometkiwi-da (cometkiwi)",
        )
    return kinds[class_identifier]


def _special_tokens(encoder: Path) -> dict[str, str]:
    names = {"cls": "<s>", "sep": "</s>", "pad": "<pad>"}
    config = encoder / "tokenizer_config.json"
    if config.is_file():
        data = json.loads(config.read_text(encoding="utf-8"))
        for key in names:
            value = data.get(f"{key}_token")
            if isinstance(value, dict):
                value = value.get("content")
            if isinstance(value, str):
                names[key] = value
    return names


_LOADED: dict[tuple[str, str, str], CometModel] = {}


def load_comet(checkpoint: Path, encoder: Path, *, device: str, metric: str) -> CometModel:
    """The COMET checkpoint in folder ``checkpoint`` on encoder folder ``encoder``, loaded
    once per process (the last two kept)."""
    _require_transformers(metric)
    quiet_transformers()
    key = (str(checkpoint.resolve()), str(encoder.resolve()), device)
    if key not in _LOADED:
        if len(_LOADED) >= 2:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = CometModel(_read_hparams(checkpoint, metric), encoder, device, metric)
    return _LOADED[key]


class _CometBase(ModelMetric):
    """Shared code of :class:`COMET` and :class:`CometKiwi`."""

    families: ClassVar[tuple[str, ...]] = ("translation",)
    outputs: ClassVar[tuple[str, ...]] = ("score",)
    auto_batch_start: ClassVar[int] = 16
    kind: ClassVar[str] = "regression"
    default_model: ClassVar[str] = ""

    model: str = Field(
        default="",
        description="The COMET checkpoint: a hub id in the local Hugging Face cache, or a "
        "folder with hparams.yaml and checkpoints/model.ckpt.",
    )
    encoder: str | None = Field(
        default=None,
        description="The encoder's folder or hub id (config.json + tokenizer.json); default: "
        "the checkpoint's pretrained_model, which must be in the local cache.",
    )

    def _checkpoint(self) -> tuple[LocalModel, _Checkpoint]:
        name = self.model or self.default_model
        install = "" if self.kind == "regression" else "; it is gated: accept its licence first"
        found = local_model(name, metric=self.name, install=install)
        ckpt = _read_hparams(found.path, self.name)
        if _kind(ckpt.class_identifier, self.name) != self.kind:
            other = "cometkiwi" if self.kind == "regression" else "comet"
            raise BenchError(
                f"metric '{self.name}': {found.tag} is a {ckpt.class_identifier} checkpoint",
                fix=f"score it with the '{other}' metric, or give a {self.kind} checkpoint",
            )
        return found, ckpt

    def _encoder(self, ckpt: _Checkpoint) -> LocalModel:
        _require_transformers(self.name)
        if self.encoder:
            return local_model(self.encoder, metric=self.name)
        name = str(ckpt.hparams.get("pretrained_model", "xlm-roberta-large"))
        alias = _ENCODER_ALIASES.get(name)
        for candidate in (name, alias):
            if candidate is None:
                continue
            try:
                return local_model(candidate, metric=self.name)
            except MissingDependency:
                continue
        hub = alias or name
        raise MissingDependency(
            f"metric '{self.name}': the checkpoint's encoder '{name}' (its config and "
            "tokenizer) is neither a local folder nor in the Hugging Face cache",
            fix=f"download it first (`hf download {hub} config.json tokenizer.json`), or set "
            "the metric's encoder to a local folder",
        )

    def check(self, spec: TaskSpec) -> None:
        """Find the checkpoint and its encoder now (a missing one is reported before any
        prediction)."""
        self._resolved()

    def _resolved(self) -> tuple[LocalModel, _Checkpoint, LocalModel]:
        found, ckpt = self._checkpoint()
        return found, ckpt, self._encoder(ckpt)

    def identity(self, ctx: ScoringContext) -> dict[str, Any]:
        found, ckpt, enc = self._resolved()
        return {
            "checkpoint": found.identity,
            "encoder": enc.identity,
            "class": ckpt.class_identifier,
            "impl": f"bench-{ESTIMATOR_VERSION}",
            "transformers": metadata.version("transformers"),
            "tokenizers": metadata.version("tokenizers"),
            "refs": "mean" if self.kind == "regression" else "none",
        }

    def signature_parts(self, ctx: ScoringContext) -> list[str]:
        found, _, enc = self._resolved()
        parts = [f"model:{found.tag}", f"encoder:{enc.tag}", f"class:{self.kind}"]
        if self.kind == "regression":
            parts.append("refs:mean")
        return [
            *parts,
            f"impl:bench-{ESTIMATOR_VERSION}",
            f"transformers:{metadata.version('transformers')}",
        ]

    def _loaded(self) -> CometModel:
        found, _, enc = self._resolved()
        return load_comet(found.path, enc.path, device=env_device(self.device), metric=self.name)

    def prepare(self, ctx: ScoringContext, todo: Sequence[Segment]) -> None:
        self._loaded()


class COMET(_CometBase):
    """COMET (Rei et al., 2020): a reference-based neural MT metric from a COMET
    ``RegressionMetric`` checkpoint (default ``Unbabel/wmt22-comet-da``), scored by bench's
    own estimator (see the module docstring). With several references, the mean of the
    scores against each."""

    name: ClassVar[str] = "comet"
    kind: ClassVar[str] = "regression"
    default_model: ClassVar[str] = "Unbabel/wmt22-comet-da"
    default_models: ClassVar[tuple[str, ...]] = (
        "Unbabel/wmt22-comet-da",
        "FacebookAI/xlm-roberta-large",
    )
    needs_references: ClassVar[bool] = True

    def compute(
        self, batch: Sequence[Segment], ctx: ScoringContext
    ) -> list[dict[str, float] | None]:
        model = self._loaded()
        src, mt, ref, owner = [], [], [], []
        for i, seg in enumerate(batch):
            if not seg.references:
                raise BenchError(
                    f"metric '{self.name}' needs a reference for every segment; segment "
                    f"{i} of a batch has none",
                    fix="use cometkiwi (reference-free) for examples without references",
                )
            for r in seg.references:
                src.append(seg.source)
                mt.append(seg.hypothesis)
                ref.append(r)
                owner.append(i)
        scores = model.regression(src, mt, ref)
        sums = [0.0] * len(batch)
        counts = [0] * len(batch)
        for i, s in zip(owner, scores, strict=True):
            sums[i] += s
            counts[i] += 1
        return [{"score": sums[i] / counts[i]} for i in range(len(batch))]


class CometKiwi(_CometBase):
    """CometKiwi (Rei et al., 2022): a reference-free neural MT metric (quality estimation)
    from a COMET ``UnifiedMetric`` checkpoint (default ``Unbabel/wmt22-cometkiwi-da``, a
    gated model: accept its licence on the hub), scored by bench's own estimator."""

    name: ClassVar[str] = "cometkiwi"
    kind: ClassVar[str] = "unified"
    default_model: ClassVar[str] = "Unbabel/wmt22-cometkiwi-da"
    default_models: ClassVar[tuple[str, ...]] = (
        "Unbabel/wmt22-cometkiwi-da",
        "FacebookAI/xlm-roberta-large",
    )
    needs_references: ClassVar[bool] = False

    def compute(
        self, batch: Sequence[Segment], ctx: ScoringContext
    ) -> list[dict[str, float] | None]:
        model = self._loaded()
        scores = model.unified([s.hypothesis for s in batch], [s.source for s in batch])
        return [{"score": s} for s in scores]
