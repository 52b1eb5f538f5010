"""BERTScore (Zhang et al., 2020) through the ``bert-score`` package.

BERTScore compares a hypothesis with a reference by their contextual token embeddings (one
layer of a pretrained encoder). Each token is matched greedily to its most similar token on the
other side (cosine similarity): **precision** is the mean, over the hypothesis' tokens, of the
best similarity to a reference token; **recall** the mean over the reference's tokens of the
best similarity to a hypothesis token; **F1** their harmonic mean. With ``idf`` the means are
weighted by each word piece's inverse document frequency. bench reports all three per segment
(values ``bertscore`` = F1, ``bertscore/precision``, ``bertscore/recall``); a task's value is
the mean over segments, with the seeded bootstrap interval and the paired permutation test of
every model-based metric (:mod:`bench.metrics.model_based`). The numbers are bert-score's own
(``bert_score.BERTScorer``): bench chooses only what it is given.

Parameters (the metric's params in a task file, or ``--metrics +bertscore:k=v``):

* ``model``: a hub id or a local folder. Default, as bert-score chooses by the target
  language: ``roberta-large`` for English, ``bert-base-chinese`` for Chinese (``zh``,
  ``zh-Hant``, ...), ``bert-base-multilingual-cased`` for other languages (bert-score's
  ``lang2model``). bench never downloads a metric model: a hub id must already be in the
  Hugging Face cache (:func:`~bench.metrics.model_based.local_model`).
* ``num_layers``: the layer whose embeddings are compared. Default: bert-score's tuned layer
  for a known hub model (``model2layers``: 17 for roberta-large, 8 for bert-base-chinese, 9
  for bert-base-multilingual-cased); a local folder needs it set.
* ``idf``: weight tokens by idf computed over **all references of the test set** (each
  reference one document, as ``bert_score.score(..., idf=True)`` does). The segment cache's
  key then includes a hash of that reference corpus, so a segment scored on one test set is
  never reused for another.
* ``rescale_with_baseline`` and ``baseline_path``: rescale each score linearly with a baseline
  ``b`` of the model and layer, ``(s - b) / (1 - b)`` (bert-score's rule: applied after the
  best reference is chosen). The baseline is bert-score's shipped file for a known hub model
  and language (``rescale_baseline/<lang>/<model>.tsv``), or ``baseline_path``; the file's
  SHA-256 is part of the identity and the signature.
* ``lang``: the language code for the default model and the shipped baseline (default: the
  task's target language).
* ``dtype``: ``float32`` only. bert-score has no precision setting; transformers 5 would load a
  checkpoint in its saved dtype, so bench casts the encoder to float32.
* ``batch_size`` (``auto``: 32 segments, halving on out-of-memory) and ``device``.

**Several references**: bert-score's own rule, which bench calls: each candidate is scored
against every reference and precision, recall and F1 are each the maximum over the references
(so the three may come from different references). **A failed example** is the empty
hypothesis, which bert-score scores 0 (before rescaling).

**transformers 5**: bert-score 0.3.13 was written for transformers 4, and two of its calls
silently change meaning or fail on transformers 5; bench adjusts the tokenizer it hands to
bert-score (never bert-score itself) so the scores are bert-score's on transformers 4:

* its RoBERTa and GPT-2 branch passes ``add_prefix_space=True`` to ``tokenizer.encode``, which
  transformers 5 tokenizers ignore (the option is now a constructor argument), so the first
  word would be tokenized without its leading space: bench loads those tokenizers with
  ``add_prefix_space=True``;
* it encodes an empty sentence with ``tokenizer.build_inputs_with_special_tokens([])``, which
  transformers 5 tokenizers no longer have: bench gives its tokenizer that method for the empty
  sequence (the special tokens alone, ``tokenizer.encode("")``), so a failed example scores 0
  instead of crashing the run;
* it truncates to ``tokenizer.model_max_length``, which for a tokenizer saved without one is
  transformers' 1e30 and overflows the Rust tokenizers transformers 5 always uses: bench caps
  it at 2**31 - 1 (nothing is truncated, as on transformers 4).

The signature names everything that changes a number: ``model:<hub id>@<commit>`` or
``model:local:<folder>@sha256:<12 hex>``, ``L:<layer>``, ``idf:yes|no``, ``rescale:yes|no``
(with ``baseline:sha256:<12 hex>``), ``prec:fp32``, and the ``bert-score`` and
``transformers`` versions.

Real use needs the models downloaded once (bench never downloads while scoring):
``hf download roberta-large`` (English), ``hf download bert-base-chinese`` (Chinese),
``hf download bert-base-multilingual-cased`` (others), and ``pip install 'bench[neural]'``.

Reference: Tianyi Zhang, Varsha Kishore, Felix Wu, Kilian Q. Weinberger and Yoav Artzi (2020),
"BERTScore: Evaluating Text Generation with BERT", ICLR 2020.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from bench.errors import BenchError, DataError, MissingDependency
from bench.identity import file_digest
from bench.metrics.base import ScoringContext
from bench.metrics.model_based import (
    LocalModel,
    ModelMetric,
    Segment,
    env_device,
    local_model,
    quiet_transformers,
)
from bench.metrics.mt import target_language
from bench.spec import TaskSpec

__all__ = ["BERTScore", "default_model"]

INSTALL = "pip install 'bench[neural]'"


def _bert_score() -> ModuleType:
    """The ``bert_score`` package (with transformers), or :class:`MissingDependency`."""
    try:
        import bert_score
        import transformers  # noqa: F401
    except ImportError as exc:
        raise MissingDependency(
            f"metric 'bertscore' needs the bert-score and transformers packages ({exc})",
            fix=INSTALL,
        ) from exc
    return bert_score


def _require_packages() -> None:
    """:class:`MissingDependency` unless bert-score and transformers are installed (found
    without importing them: importing bert_score costs seconds, matplotlib included)."""
    import importlib.util

    for module in ("bert_score", "transformers"):
        if importlib.util.find_spec(module) is None:
            raise MissingDependency(
                f"metric 'bertscore' needs the bert-score and transformers packages "
                f"({module} is not installed)",
                fix=INSTALL,
            )


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError as exc:
        raise MissingDependency(
            f"metric 'bertscore' needs the {dist} package, which is not installed", fix=INSTALL
        ) from exc


def _lang_key(lang: str, table: Any) -> str:
    """bert-score's key for ``lang``: the code itself when bert-score knows it (``en-sci``),
    else its base code (``zh-Hant`` → ``zh``)."""
    code = lang.strip().lower().replace("_", "-")
    return code if code in table else code.split("-", 1)[0]


def default_model(lang: str) -> str:
    """bert-score's default model for language ``lang`` (its ``lang2model``): roberta-large for
    English, bert-base-chinese for Chinese, bert-base-multilingual-cased for most others."""
    table = _bert_score().utils.lang2model
    return str(table[_lang_key(lang, table)])


@dataclass(frozen=True)
class _Resolved:
    """The metric's settings with every default filled in, for one scoring context."""

    model: LocalModel
    hub_name: str | None
    lang: str
    num_layers: int
    baseline: Path | None
    baseline_sha256: str | None
    idf_sha256: str | None


def _reference_corpus(ctx: ScoringContext) -> list[str]:
    """Every reference of the test set, one document each (bert-score's idf corpus)."""
    out: list[str] = []
    for ref in ctx.references:
        if isinstance(ref, str):
            out.append(ref)
        elif isinstance(ref, list | tuple):
            out.extend(str(r) for r in ref)
    return out


class BERTScore(ModelMetric):
    """BERTScore precision, recall and F1 per segment through ``bert_score.BERTScorer`` (see
    the module docstring for the parameters, defaults and the transformers 5 adjustments)."""

    name: ClassVar[str] = "bertscore"
    version: ClassVar[int] = 1
    outputs: ClassVar[tuple[str, ...]] = ("f1", "precision", "recall")
    default_models: ClassVar[tuple[str, ...]] = ("roberta-large", "bert-base-chinese")

    model: str | None = Field(
        default=None,
        description="Hub id (already downloaded) or local folder; default by the target "
        "language as bert-score chooses: roberta-large (en), bert-base-chinese (zh), "
        "bert-base-multilingual-cased (others).",
    )
    num_layers: int | None = Field(
        default=None,
        ge=0,
        description="The layer compared; default bert-score's tuned layer for a known hub model "
        "(required for a local folder).",
    )
    idf: bool = Field(
        default=False, description="Weight word pieces by idf over the test set's references."
    )
    rescale_with_baseline: bool = Field(
        default=False, description="Rescale with bert-score's baseline for the model and layer."
    )
    baseline_path: str | None = Field(
        default=None,
        description="A baseline file (bert-score's LAYER,P,R,F format) instead of the shipped one.",
    )
    lang: str | None = Field(
        default=None,
        description="Language code for the default model and baseline (default: the task's "
        "target language).",
    )
    dtype: Literal["float32"] = Field(
        default="float32", description="The encoder's precision (bert-score supports float32)."
    )

    @model_validator(mode="after")
    def _baseline_needs_rescaling(self) -> BERTScore:
        if self.baseline_path is not None and not self.rescale_with_baseline:
            raise ValueError("baseline_path is used only with rescale_with_baseline: true")
        return self

    # ------------------------------------------------------------------ settings

    def _resolve(self, ctx: ScoringContext) -> _Resolved:
        key = f"{self._memo_key()}|resolved"
        if key in ctx.memo:
            cached: _Resolved = ctx.memo[key]
            return cached
        _require_packages()  # bert_score itself is imported only where its tables are needed
        lang = (self.lang or target_language(ctx)).strip().lower()
        name = self.model or default_model(lang)
        found = local_model(name, metric=self.name, install=f" and `{INSTALL}`")
        is_folder = Path(name).expanduser().is_dir()
        hub_name = None if is_folder else name
        num_layers = self.num_layers
        if num_layers is None:
            layers = _bert_score().utils.model2layers
            if hub_name is None or hub_name not in layers:
                what = f"local folder '{name}'" if hub_name is None else f"model '{name}'"
                raise BenchError(
                    f"metric 'bertscore': no default layer for {what} (bert-score knows tuned "
                    "layers only for the hub models in its model2layers table)",
                    fix="set the metric's num_layers, e.g. `--metrics +bertscore:model=PATH,"
                    "num_layers=17` or `num_layers: 17` in the task file (17 is roberta-large's)",
                )
            num_layers = int(layers[hub_name])
        baseline = baseline_sha = None
        if self.rescale_with_baseline:
            baseline = self._baseline_file(_bert_score(), hub_name, name, lang)
            baseline_sha = file_digest(baseline)
        idf_sha = None
        if self.idf:
            corpus = json.dumps(sorted(_reference_corpus(ctx)), ensure_ascii=False)
            idf_sha = hashlib.sha256(corpus.encode()).hexdigest()
        resolved = _Resolved(found, hub_name, lang, num_layers, baseline, baseline_sha, idf_sha)
        ctx.memo[key] = resolved
        return resolved

    def check(self, spec: TaskSpec) -> None:
        """Resolve the model, layer and baseline for ``spec`` now (a missing package, model or
        layer is reported before any prediction)."""
        self._resolve(ScoringContext(spec, [], [], []))

    def _baseline_file(
        self, bert_score: ModuleType, hub_name: str | None, name: str, lang: str
    ) -> Path:
        if self.baseline_path is not None:
            path = Path(self.baseline_path).expanduser()
            if not path.is_file():
                raise DataError(
                    f"metric 'bertscore': baseline file '{self.baseline_path}' does not exist",
                    fix="set baseline_path to a bert-score baseline file (a CSV with the header "
                    "LAYER,P,R,F and one row per layer)",
                )
            return path
        fix = (
            "set the metric's baseline_path to a baseline file for this model (a CSV with the "
            "header LAYER,P,R,F and one row per layer), or rescale_with_baseline: false"
        )
        if hub_name is None:
            raise BenchError(
                f"metric 'bertscore': bert-score ships rescaling baselines only for hub models "
                f"(by name), not for local folder '{name}'",
                fix=fix,
            )
        shipped = Path(str(bert_score.__file__)).parent / "rescale_baseline"
        path = shipped / _lang_key(lang, {p.name for p in shipped.iterdir()}) / f"{hub_name}.tsv"
        if not path.is_file():
            raise BenchError(
                f"metric 'bertscore': bert-score ships no rescaling baseline for model "
                f"'{hub_name}' in language '{lang}'",
                fix=fix,
            )
        return path

    def identity(self, ctx: ScoringContext) -> dict[str, Any]:
        """The model's identity (folder SHA-256 or hub id and commit), the layer, idf (with the
        reference corpus' SHA-256), the baseline's SHA-256, the precision and the versions of
        bert-score and transformers."""
        r = self._resolve(ctx)
        return {
            "model": r.model.identity,
            "num_layers": r.num_layers,
            "idf": self.idf,
            "idf_references_sha256": r.idf_sha256,
            "rescale_with_baseline": self.rescale_with_baseline,
            "baseline_sha256": r.baseline_sha256,
            "dtype": self.dtype,
            "bert_score": _version("bert-score"),
            "transformers": _version("transformers"),
        }

    def signature_parts(self, ctx: ScoringContext) -> list[str]:
        """``model:…``, ``L:…``, ``idf:…``, ``rescale:…`` (and ``baseline:sha256:…``),
        ``prec:fp32``, ``bert-score:…``, ``transformers:…``."""
        r = self._resolve(ctx)
        parts = [
            f"model:{r.model.tag}",
            f"L:{r.num_layers}",
            f"idf:{'yes' if self.idf else 'no'}",
            f"rescale:{'yes' if self.rescale_with_baseline else 'no'}",
        ]
        if r.baseline_sha256:
            parts.append(f"baseline:sha256:{r.baseline_sha256[:12]}")
        parts += [
            "prec:fp32",
            f"bert-score:{_version('bert-score')}",
            f"transformers:{_version('transformers')}",
        ]
        return parts

    # ------------------------------------------------------------------ scoring

    def _scorer_key(self, ctx: ScoringContext) -> str:
        return f"{self._memo_key()}|scorer"

    def prepare(self, ctx: ScoringContext, todo: Sequence[Segment]) -> None:
        """Load the encoder once (``bert_score.BERTScorer`` on the local folder), with its
        tokenizer adjusted for transformers 5, and compute the idf weights over every reference
        of the test set when ``idf`` is on."""
        key = self._scorer_key(ctx)
        if key in ctx.memo:
            return
        bert_score = _bert_score()
        quiet_transformers()
        r = self._resolve(ctx)
        device = env_device(self.device)
        try:
            scorer = bert_score.BERTScorer(
                model_type=str(r.model.path),
                num_layers=r.num_layers,
                idf=self.idf,
                device=device,
                lang=r.lang,
                rescale_with_baseline=self.rescale_with_baseline,
                baseline_path=str(r.baseline) if r.baseline else None,
                nthreads=0,
            )
        except AssertionError as exc:  # bert-score checks the layer with assert
            raise BenchError(
                f"metric 'bertscore': model '{r.model.tag}' cannot be used at layer "
                f"{r.num_layers} ({exc})",
                fix="set num_layers to a layer the model has (0 to its number of layers)",
            ) from exc
        import torch

        scorer._model.to(dtype=torch.float32)
        scorer._tokenizer = _fit_tokenizer(scorer._tokenizer, r.model.path)
        if self.rescale_with_baseline:
            _check_baseline(scorer, r)
        if self.idf:
            # bert-score's own idf (get_idf_dict), on the adjusted tokenizer, in-process
            scorer.compute_idf(_reference_corpus(ctx))
        ctx.memo[key] = scorer

    def compute(
        self, batch: Sequence[Segment], ctx: ScoringContext
    ) -> list[dict[str, float] | None]:
        """bert-score's P, R and F1 of each segment (the best over its references)."""
        if self._scorer_key(ctx) not in ctx.memo:
            self.prepare(ctx, batch)
        scorer = ctx.memo[self._scorer_key(ctx)]
        for seg in batch:
            if not seg.references:
                raise DataError(
                    f"task '{ctx.spec.name}': an example has no reference, which BERTScore needs",
                    fix="give every example at least one reference, or drop bertscore from the "
                    "task's metrics",
                )
        cands = [s.hypothesis for s in batch]
        refs = [list(s.references) for s in batch]
        p, r, f = scorer.score(cands, refs, batch_size=max(1, len(batch)))
        return [
            {"f1": float(fi), "precision": float(pi), "recall": float(ri)}
            for pi, ri, fi in zip(p.tolist(), r.tolist(), f.tolist(), strict=True)
        ]


_NO_LIMIT = 2**31 - 1
"""The truncation length of a tokenizer that sets none (transformers' "very large integer",
1e30, overflows the Rust tokenizer that bert-score's ``truncation=True`` reaches on
transformers 5): as long as any text, so nothing is truncated, as on transformers 4."""


def _fit_tokenizer(tokenizer: Any, path: Path) -> Any:
    """The tokenizer bert-score should see, on transformers 5 (see the module docstring):
    RoBERTa and GPT-2 tokenizers loaded with ``add_prefix_space=True``; no truncation length
    beyond :data:`_NO_LIMIT`; and a ``build_inputs_with_special_tokens`` for the empty
    sequence where it is missing."""
    import transformers
    from transformers import AutoTokenizer, GPT2Tokenizer, RobertaTokenizer

    major = int(transformers.__version__.split(".", 1)[0])
    if (
        major >= 5
        and isinstance(tokenizer, GPT2Tokenizer | RobertaTokenizer)
        and not getattr(tokenizer, "add_prefix_space", False)
    ):
        tokenizer = AutoTokenizer.from_pretrained(str(path), use_fast=False, add_prefix_space=True)
    if tokenizer.model_max_length > _NO_LIMIT:
        tokenizer.model_max_length = _NO_LIMIT
    if not hasattr(tokenizer, "build_inputs_with_special_tokens"):
        specials = list(tokenizer.encode("", add_special_tokens=True))

        def build_inputs_with_special_tokens(
            token_ids_0: list[int], token_ids_1: list[int] | None = None
        ) -> list[int]:
            if token_ids_0 or token_ids_1:
                raise NotImplementedError(
                    "bench supplies this method only for the empty sequence bert-score encodes"
                )
            return list(specials)

        tokenizer.build_inputs_with_special_tokens = build_inputs_with_special_tokens
    return tokenizer


def _check_baseline(scorer: Any, r: _Resolved) -> None:
    """The baseline file has a row for the layer (bert-score reads row ``num_layers``)."""
    try:
        scorer.baseline_vals  # noqa: B018 - reads and caches the file
    except (IndexError, ValueError, KeyError) as exc:
        raise DataError(
            f"metric 'bertscore': baseline file '{r.baseline}' has no usable row for layer "
            f"{r.num_layers} ({type(exc).__name__}: {exc})",
            fix="use a baseline file with the header LAYER,P,R,F and one row per layer from 0, "
            "computed for this model",
        ) from exc
