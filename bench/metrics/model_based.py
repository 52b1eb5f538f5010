"""The shared machinery of model-based metrics (BERTScore, COMET, LLM judges).

A model-based metric scores each *segment* — ``(source, hypothesis, references)`` — with a
model, and the corpus value is the mean of the segment scores. :class:`ModelMetric` gives
every such metric the same rigour as BLEU:

* **a segment cache**: each segment's scores are stored in the prediction cache (the same
  SQLite file, under the key ``segment:<metric fingerprint>`` + the segment's content hash), so
  re-scoring a run, or scoring another model whose outputs overlap, never recomputes a
  segment. The fingerprint (:meth:`ModelMetric.fingerprint`) covers everything that changes a
  segment's score — the metric model's identity (hub id and commit, or a local folder's
  SHA-256), its settings and the package version — and nothing that does not (batch size,
  device). Hits and computed segments are counted per metric in the record
  (``segment_cache``);
* **batching** on the metric model, with ``batch_size: auto`` starting at
  :attr:`ModelMetric.auto_batch_start` and halving on out-of-memory; every finished batch is
  written to the cache at once, so an interrupted scoring run loses at most one batch;
* **progress** through the scoring context's callback (``bench run`` shows a bar);
* **intervals and paired tests** through the metric's declaration: each value is the mean of a
  per-example score (:class:`~bench.metrics.paired.PerExampleMean`: the paired permutation test
  in ``bench compare`` and the leaderboard's tie marks), with the seeded percentile bootstrap
  over segments.

A failed example (the model under test gave no answer) is scored as the empty output, as the
text metrics score it. A segment the metric model itself could not score is left out of the
mean and counted (``failed``), never scored as 0: either ``None`` (no answer at all, such as
an LLM judge's failed request: not cached, so the next scoring asks again) or a row whose
headline output is ``None`` (an answer that could not be read, kept in the cache with what
the metric stores beside it).
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from bench.errors import BenchError, MissingDependency
from bench.identity import short_hash
from bench.metrics.base import (
    Metric,
    MetricUnavailable,
    MetricValue,
    ScoringContext,
    percentile_ci,
)
from bench.metrics.paired import PerExampleMean
from bench.spec import TaskSpec

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "ModelMetric",
    "Segment",
    "SegmentScores",
    "env_device",
    "folder_sha256",
    "hub_cache_snapshot",
    "is_out_of_memory",
    "local_model",
    "quiet_transformers",
    "run_batches",
    "segments",
]


@dataclass(frozen=True)
class Segment:
    """One scored unit of a model-based metric.

    Attributes:
        source: What the model read (the source sentence, the document); ``""`` when the
            family has none.
        hypothesis: The output being scored (``""`` for a failed example).
        references: The references (may be empty for reference-free metrics' tasks).
    """

    source: str
    hypothesis: str
    references: tuple[str, ...]

    def key(self) -> str:
        """The segment's content hash: the cache key beside the metric's fingerprint."""
        return short_hash([self.source, self.hypothesis, list(self.references)], length=32)


def _hypothesis(response: Any) -> str:
    if response is None:
        return ""
    text = getattr(response, "text", None)
    if isinstance(text, str):
        return text
    answer = getattr(response, "answer", None)
    return answer if isinstance(answer, str) else ""


def _references(reference: Any) -> tuple[str, ...]:
    if isinstance(reference, str):
        return (reference,)
    if isinstance(reference, list | tuple):
        return tuple(str(r) for r in reference)
    return ()


def segments(ctx: ScoringContext) -> list[Segment]:
    """The segments of a scoring context, one per example: the family's metric source
    (:meth:`~bench.families.base.Family.metric_source`), the response's text and the
    references."""
    from bench.families.base import get_family

    family = get_family(ctx.spec.family)
    return [
        Segment(family.metric_source(req), _hypothesis(resp), _references(ref))
        for req, ref, resp in zip(ctx.requests, ctx.references, ctx.responses, strict=True)
    ]


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an accelerator (or host) out-of-memory error of torch.

    Example:
        >>> is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"))
        True
        >>> is_out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory: ..."))
        True
        >>> is_out_of_memory(ValueError("bad input"))
        False
    """
    if isinstance(exc, MemoryError):
        return True
    try:
        import torch

        if isinstance(exc, torch.OutOfMemoryError):
            return True
    except ImportError:  # pragma: no cover - torch is a core dependency
        pass
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text  # CUDA; torch's CPU allocator
    )


def _free_accelerator_memory() -> None:
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover
        pass


def run_batches(
    fn: Callable[[Sequence[Any]], list[Any]],
    items: Sequence[Any],
    batch_size: int | Literal["auto"],
    *,
    start: int = 32,
    on_batch: Callable[[Sequence[Any], list[Any]], None] | None = None,
    what: str = "metric",
) -> list[Any]:
    """``fn`` over ``items`` in batches, the results concatenated in order.

    With ``batch_size="auto"`` the first batch has ``start`` items and the size halves each
    time ``fn`` runs out of memory (:func:`is_out_of_memory`), down to 1; the size that worked
    is kept for the rest. A fixed ``batch_size`` that runs out of memory is an error naming
    the fix. ``on_batch(batch, results)`` runs after every batch (the segment cache writes
    there, so a batch that finished is never lost).

    Raises:
        BenchError: Out of memory with a fixed batch size, or with a batch of one.

    Example:
        >>> seen = []
        >>> def square(xs):
        ...     if len(xs) > 2:
        ...         raise MemoryError
        ...     seen.append(len(xs))
        ...     return [x * x for x in xs]
        >>> run_batches(square, [1, 2, 3, 4, 5], "auto", start=8)
        [1, 4, 9, 16, 25]
        >>> seen
        [2, 2, 1]
    """
    size = start if batch_size == "auto" else int(batch_size)
    out: list[Any] = []
    i = 0
    while i < len(items):
        batch = items[i : i + size]
        try:
            results = fn(batch)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            _free_accelerator_memory()
            if batch_size == "auto" and size > 1:
                size = max(1, size // 2)
                continue
            raise BenchError(
                f"{what}: out of memory scoring a batch of {len(batch)} segment(s) ({exc})",
                fix="set the metric's batch_size to auto (halves on out-of-memory) or to a "
                "smaller number, or score on a device with more memory",
            ) from exc
        if len(results) != len(batch):
            raise BenchError(
                f"{what}: {len(results)} score(s) for a batch of {len(batch)} segment(s)",
                fix="this is a bug in the metric; report it",
            )
        out.extend(results)
        if on_batch is not None:
            on_batch(batch, results)
        i += len(batch)
    return out


def folder_sha256(path: str | Path) -> str:
    """SHA-256 of a model folder: every file's relative path and bytes, in sorted order
    (hidden files and folders, such as ``.git`` and ``.cache``, left out).

    Example:
        >>> import pathlib, tempfile
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "config.json").write_text("{}")
        >>> len(folder_sha256(d))
        64
    """
    root = Path(path)
    digest = hashlib.sha256()
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    for p in files:
        digest.update(p.relative_to(root).as_posix().encode() + b"\0")
        with open(p, "rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class LocalModel:
    """A metric model found on this machine.

    Attributes:
        path: The folder to load it from.
        tag: Its identity in a signature: ``hub-id@commit`` for a model in the Hugging Face
            cache, ``local:<name>@sha256:<12 hex>`` for a local folder.
        identity: The same, as a dict for the metric's fingerprint (full commit or SHA-256).
    """

    path: Path
    tag: str
    identity: dict[str, str]


_FOLDER_HASHES: dict[tuple[str, float], str] = {}


def local_model(name: str, *, metric: str, install: str = "") -> LocalModel:
    """Find metric model ``name``: a local folder, or a hub id already in the Hugging Face
    cache (bench never downloads a metric model while scoring; the hub is often unreachable
    where models are scored, and a silent download would change what a number means).

    Raises:
        MissingDependency: ``name`` is neither a folder nor in the local hub cache; the fix
            names the download command.
    """
    if not name or not name.strip():
        raise BenchError(
            f"metric '{metric}': the model is empty", fix="name a hub id or a local folder"
        )
    folder = Path(name).expanduser()
    if folder.is_dir():
        stamp = max((p.stat().st_mtime for p in folder.rglob("*")), default=0.0)
        key = (str(folder.resolve()), stamp)
        sha = _FOLDER_HASHES.get(key) or folder_sha256(folder)
        _FOLDER_HASHES[key] = sha
        return LocalModel(folder, f"local:{folder.name}@sha256:{sha[:12]}", {"folder_sha256": sha})
    if not name.startswith((".", "/", "~")):
        snapshot = hub_cache_snapshot(name)
        if snapshot is not None:
            return LocalModel(
                snapshot, f"{name}@{snapshot.name[:12]}", {"hub": name, "commit": snapshot.name}
            )
    raise MissingDependency(
        f"metric '{metric}': model '{name}' is neither a local folder nor in the Hugging Face "
        "cache on this machine",
        fix=f"download it first (`hf download {name}`{install}), or set the metric's model to a "
        "local folder",
    )


def hub_cache_snapshot(repo_id: str) -> Path | None:
    """The cached snapshot folder of hub model ``repo_id`` (its name is the commit): the one
    ``refs/main`` names, else the newest. Found by reading the Hugging Face cache folder
    (``HF_HUB_CACHE``, ``HF_HOME``/hub, ``~/.cache/huggingface/hub``) without importing
    ``huggingface_hub`` and never touching the network; ``None`` when it is not there."""
    constants = sys.modules.get("huggingface_hub.constants")  # its resolution, once imported
    root = getattr(constants, "HF_HUB_CACHE", None) or (
        os.environ.get("HF_HUB_CACHE")
        or os.path.join(
            os.environ.get("HF_HOME")
            or os.path.join(os.path.expanduser("~"), ".cache", "huggingface"),
            "hub",
        )
    )
    repo = Path(root) / f"models--{repo_id.replace('/', '--')}"
    snapshots = repo / "snapshots"
    try:
        main = snapshots / (repo / "refs" / "main").read_text().strip()
        if main.is_dir() and any(main.iterdir()):
            return main
    except (OSError, ValueError):
        pass
    try:
        found = [p for p in snapshots.iterdir() if p.is_dir() and any(p.iterdir())]
    except OSError:
        return None
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


@dataclass(frozen=True)
class SegmentScores:
    """The per-segment scores of one metric on one scoring context.

    Attributes:
        columns: ``{output: float64 array}``; NaN where the segment could not be scored.
        failed: Segments the metric model could not score (left out of every mean).
        hits: Distinct segments read from the segment cache.
        computed: Distinct segments scored now.
        rows: Each segment's stored row (``None``: could not be scored), with any keys
            beyond the outputs a metric keeps (a judge's per-repeat scores).
    """

    columns: dict[str, np.ndarray]
    failed: int
    hits: int
    computed: int
    rows: list[dict[str, Any] | None]


class ModelMetric(Metric):
    """Base of a metric computed per segment by a model (see the module docstring).

    Subclasses set :attr:`outputs` (the per-segment scores it returns; the first is the
    headline value, named like the metric; override :meth:`output_names` when they depend on
    the parameters) and implement :meth:`identity`, :meth:`signature_parts` and
    :meth:`compute`. A row :meth:`compute` returns may hold keys beyond the outputs (kept in
    the cache and in :attr:`SegmentScores.rows`).
    """

    families: ClassVar[tuple[str, ...]] = ("translation", "summarization")
    outputs: ClassVar[tuple[str, ...]] = ("score",)
    auto_batch_start: ClassVar[int] = 32
    needs_references: ClassVar[bool] = True
    default_models: ClassVar[tuple[str, ...]] = ()
    """Hub ids of the models the metric uses by default (``bench doctor`` says which of them
    are in the local Hugging Face cache)."""
    range: ClassVar[tuple[float, float]] = (-math.inf, math.inf)

    batch_size: int | Literal["auto"] = Field(
        default="auto",
        description="Segments per call to the metric model; auto halves on out-of-memory. "
        "Changes no score.",
    )
    device: str | None = Field(
        default=None,
        description="Where the metric model runs (cpu, cuda, cuda:1; default: cuda when "
        "available). Changes no score beyond float rounding.",
    )

    # ------------------------------------------------------------------ subclass hooks

    @abstractmethod
    def identity(self, ctx: ScoringContext) -> dict[str, Any]:
        """Everything that changes a segment's score: the model's identity, its settings and
        the package version (and, for a corpus-dependent setting such as BERTScore's idf, a
        hash of what it was computed from). Not the batch size or the device."""

    @abstractmethod
    def signature_parts(self, ctx: ScoringContext) -> list[str]:
        """The signature's parts after the value name (``model:…``, ``L:17``, …); the
        bootstrap tag and the metric's version are appended."""

    @abstractmethod
    def compute(
        self, batch: Sequence[Segment], ctx: ScoringContext
    ) -> list[dict[str, float] | None]:
        """Scores of a batch of segments: one ``{output: float}`` per segment, or ``None``
        for a segment the metric model could not score (never a placeholder number)."""

    def check(self, spec: TaskSpec) -> None:
        """Raise :class:`~bench.errors.MissingDependency` now when the metric cannot run on
        task ``spec`` here (its package or model is missing); called before any model is
        asked for a prediction (:func:`bench.stages.check_metrics`). Default: nothing."""
        return None

    def prepare(self, ctx: ScoringContext, todo: Sequence[Segment]) -> None:
        """Called once before the first :meth:`compute` of a scoring pass, with the
        segments that will be computed (load the model here, lazily). Default: nothing."""
        return None

    # ------------------------------------------------------------------ machinery

    def output_names(self) -> tuple[str, ...]:
        """The per-segment scores this metric reports (default :attr:`outputs`)."""
        return self.outputs

    def value_name(self, output: str) -> str:
        """The record's name of an output: the metric's name for the first output,
        ``<name>/<output>`` for the others."""
        return self.name if output == self.output_names()[0] else f"{self.name}/{output}"

    def fingerprint(self, ctx: ScoringContext) -> str:
        """The segment cache's key for this metric: a hash of its name, version and
        :meth:`identity`."""
        return short_hash(
            {"metric": self.name, "version": self.version, **self.identity(ctx)}, length=32
        )

    def _memo_key(self) -> str:
        return f"model-metric|{self.name}|{short_hash(self.model_dump(mode='json'))}"

    def segment_scores(self, ctx: ScoringContext) -> SegmentScores:
        """Every segment's scores: from the cache where present, computed (in batches, with
        progress, each batch cached as it finishes) otherwise. Memoised on ``ctx``."""
        import numpy as np

        key = self._memo_key()
        if key in ctx.memo:
            cached: SegmentScores = ctx.memo[key]
            return cached
        segs = segments(ctx)
        fp = f"segment:{self.fingerprint(ctx)}"
        keys = [s.key() for s in segs]
        cache = ctx.segment_cache
        found: dict[str, Any] = cache.get_many(fp, list(dict.fromkeys(keys))) if cache else {}
        todo_keys = [k for k in dict.fromkeys(keys) if k not in found]
        first = {k: s for s, k in zip(segs, keys, strict=True)}
        todo = [first[k] for k in todo_keys]
        total, done = len(todo), 0
        report = ctx.progress

        def on_batch(batch: Sequence[Segment], results: list[Any]) -> None:
            nonlocal done
            rows = [(s.key(), r) for s, r in zip(batch, results, strict=True)]
            found.update(rows)
            if cache is not None:
                # No answer at all (None: an LLM judge's request failed) is never cached, as
                # the runner never caches a Failure: the next scoring asks again.
                cache.put_many(fp, [(k, r) for k, r in rows if r is not None])
            done += len(batch)
            if report is not None:
                report(self.name, done, total)

        if todo:
            self.prepare(ctx, todo)
            if report is not None:
                report(self.name, 0, total)
            run_batches(
                lambda b: self.compute(b, ctx),
                todo,
                self.batch_size,
                start=self.auto_batch_start,
                on_batch=on_batch,
                what=f"metric '{self.name}'",
            )
        outputs = self.output_names()
        columns = {o: np.full(len(segs), np.nan) for o in outputs}
        failed = 0
        rows: list[dict[str, Any] | None] = []
        for i, k in enumerate(keys):
            row = found.get(k)
            rows.append(row)
            if row is None or row.get(outputs[0]) is None:
                failed += 1  # no answer, or an answer without a headline score (unparsable)
            if row is None:
                continue
            for o in outputs:
                v = row.get(o)
                columns[o][i] = np.nan if v is None else float(v)
        unique = len(dict.fromkeys(keys))
        result = SegmentScores(columns, failed, unique - len(todo_keys), len(todo_keys), rows)
        ctx.memo[key] = result
        ctx.segment_counts[self.name] = {
            "segments": len(keys),
            "hits": result.hits,
            "computed": result.computed,
            "failed": failed,
        }
        return result

    def _signature(self, ctx: ScoringContext, output: str) -> str:
        parts = [self.name, output, *self.signature_parts(ctx)]
        return "|".join([*parts, ctx.bootstrap.tag(), f"v:{self.version}"])

    def unscored_hint(self, scores: SegmentScores) -> str:
        """Why segments could not be scored, for the reason recorded when none was (a judge
        quotes an answer it could not parse). Default: nothing."""
        return ""

    def extra_values(self, ctx: ScoringContext, scores: SegmentScores) -> list[MetricValue]:
        """Further values a subclass reports (a judge's spread over repeats). Default: none."""
        return []

    def score(self, ctx: ScoringContext) -> list[MetricValue]:
        import numpy as np

        scores = self.segment_scores(ctx)
        headline = scores.columns[self.output_names()[0]]
        if ctx.n and bool(np.isnan(headline).all()):
            hint = self.unscored_hint(scores)
            raise MetricUnavailable(
                f"no segment could be scored ({scores.failed} of {ctx.n} failed"
                + (f"; {hint}" if hint else "")
                + ")"
            )
        out = []
        for output in self.output_names():
            column = scores.columns[output]
            kept = column[~np.isnan(column)]
            m = int(kept.size)
            mean = math.fsum(kept.tolist()) / m if m else float("nan")
            low = high = None
            if m and ctx.bootstrap.resamples:
                boot = ctx.bootstrap.resample_means(kept)
                low, high = percentile_ci(boot, ctx.bootstrap.confidence)
            out.append(
                MetricValue(
                    name=self.value_name(output),
                    value=mean,
                    n=m,
                    ci_low=low,
                    ci_high=high,
                    signature=self._signature(ctx, output),
                    higher_is_better=self.higher_is_better,
                    scale=self.scale(output),
                )
            )
        return out + self.extra_values(ctx, scores)

    def scale(self, output: str) -> float:
        """The value of a perfect score (leaderboards divide by it). Default 1."""
        return 1.0

    def per_example(self, ctx: ScoringContext) -> dict[str, list[float | None]]:
        scores = self.segment_scores(ctx)
        return {
            self.value_name(o): [None if math.isnan(v) else float(v) for v in scores.columns[o]]
            for o in self.output_names()
        }

    def paired(self, value: str) -> PerExampleMean | None:
        """Every output is a mean of per-segment scores: the paired permutation test."""
        names = {self.value_name(o) for o in self.output_names()}
        return PerExampleMean(value) if value in names else None


def quiet_transformers() -> None:
    """Turn off transformers' own per-load progress bars (``Loading weights: ...``): bench
    shows its own progress, and the bars would interleave with it (and fill CI logs)."""
    try:
        from transformers.utils import logging as tr_logging
    except ImportError:  # the metric reports the missing package itself
        return
    tr_logging.disable_progress_bar()


def env_device(device: str | None) -> str:
    """The torch device a metric model runs on: ``device`` if given, else ``cuda`` when
    available (``BENCH_METRIC_DEVICE`` overrides), else ``cpu``."""
    if device:
        return device
    forced = os.environ.get("BENCH_METRIC_DEVICE")
    if forced:
        return forced
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
