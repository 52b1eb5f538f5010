"""Paired significance tests between two runs of one task, and the leaderboard's tie test.

Two runs of the same task on the same test set are compared example by example, each metric
value with the paired test its metric declares (:meth:`bench.metrics.base.Metric.paired`; the
declarations and the tests are in :mod:`bench.metrics.paired`):

* **Corpus metrics** (BLEU, chrF, TER): sacrebleu's paired bootstrap (``paired-bootstrap``,
  ``--paired-bs``) or approximate randomisation (``approximate-randomization``, ``--paired-ar``)
  on the per-segment sufficient statistics, reproducing ``sacrebleu.significance.PairedTest``
  exactly.
* **Accuracy and exact match** (0/1 per example): McNemar's test (``mcnemar-exact`` below 25
  discordant pairs, else ``mcnemar-chi2-cc``).
* **Other per-example means** (ROUGE, QA F1, per-user ranking metrics): a paired permutation
  (sign-flip) test (``paired-permutation``, or ``paired-permutation-exact``).
* **Classification metrics that are not means** (macro-F1, MCC, per-class P/R/F1): a paired
  randomisation test over the examples' confusion cells (``paired-randomization``; equal values
  give ``p = 1``), with the paired bootstrap interval of the difference.

A metric added by a plugin declares its own test the same way, and gets ``bench compare`` and
the leaderboard's tie marks from it. Every comparison also reports ``difference = value(A) −
value(B)`` on the metric's own scale and its 95% percentile interval from ``resamples`` paired
bootstrap resamples of the examples. Across several tests, :func:`holm` adjusts the p-values
(Holm–Bonferroni, controlling the family-wise error rate).

**Prompted runs with several units** (prompt variants × exemplar draws × samples, see
:mod:`bench.protocol`; ``samples.jsonl`` holds one line per unit and example, with its
``unit``) are paired unit by unit: both runs must have the same unit keys (the same variants,
draws and samples), else :class:`ComparisonError` says which units only one run has. Every
value is then compared with the two-level paired bootstrap over examples × units
(``two-level-paired-bootstrap``, :func:`bench.metrics.units.two_level_difference`): the same
resampled examples and the same resampled variants, draws and samples for both runs, each
unit's value recomputed from what the metric declares (per-example scores, or summed
per-example statistics). A run with one unit is compared exactly as before.

Runs are read from their folders (``record.json`` and ``samples.jsonl``). The metric objects are
rebuilt from the record's ``task.metric_specs`` (the task file's metric names and parameters)
through the registry. Two runs are only compared when they scored the same examples: the task
version, dataset fingerprint, example count, example ids and the metric's signature (bootstrap
settings aside, which change only intervals) must agree, otherwise :class:`ComparisonError`
names both runs.

References:
    Sture Holm. 1979. A simple sequentially rejective multiple test procedure. Scandinavian
    Journal of Statistics 6(2).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import numpy as np
from pydantic import ValidationError

from bench.errors import BenchError
from bench.metrics.base import MIN_CI_N, BootstrapConfig, Metric
from bench.metrics.mt import SEGMENT_STATS
from bench.metrics.paired import (
    AR_TRIALS,
    Comparison,
    ComparisonError,
    CorpusTest,
    MissingSamples,
    NoPairedTest,
    PairedOptions,
    PairedStatistics,
    PerExampleMean,
    approximate_randomization,
    mcnemar,
    paired_bootstrap,
    paired_permutation,
)
from bench.metrics.units import UnitView, two_level_difference
from bench.protocol import Unit
from bench.records import RunRecord, SampleLine, load_record
from bench.records import read_samples as read_sample_lines

__all__ = [
    "SEGMENT_STATS",
    "Comparison",
    "ComparisonError",
    "CorpusTest",
    "MissingSamples",
    "NoPairedTest",
    "Run",
    "approximate_randomization",
    "compare_metric",
    "compare_results",
    "compare_runs",
    "holm",
    "load_run",
    "mcnemar",
    "pairable_metrics",
    "paired_bootstrap",
    "paired_permutation",
    "tied_with_best",
]

T = TypeVar("T")


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the input order.

    With the ``m`` p-values sorted ascending, ``p̃₍ᵢ₎ = max_{j ≤ i} min(1, (m − j + 1) · p₍ⱼ₎)``;
    rejecting where ``p̃ < α`` controls the family-wise error rate at ``α``.

    Example:
        >>> holm([0.01, 0.04, 0.03])
        [0.03, 0.06, 0.06]
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: (p_values[i], i))
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(p_values[i])))
        out[i] = running
    return out


# --------------------------------------------------------------------------- runs


class SampleFields(NamedTuple):
    """What a paired test reads from one ``samples.jsonl`` line."""

    id: str
    reference: Any
    response: Mapping[str, Any] | None
    scores: Mapping[str, Any]
    segment_stats: Mapping[str, Any] | None
    unit: str | None = None


def unit_keys(record: RunRecord) -> list[str]:
    """The unit keys (``variant/dN/sN``) of a multi-unit run, in record order; ``[]`` for a run
    with one unit (its samples carry no ``unit``)."""
    protocol = record.protocol
    if protocol is None or len(protocol.units) <= 1:
        return []
    return [Unit(**u.unit).key for u in protocol.units]


def read_samples(path: Path, record: RunRecord, who: str) -> list[SampleFields]:
    """The lines of a run's ``samples.jsonl``, as the fields paired tests read.

    The lines are read and checked by :func:`bench.records.read_samples` (typed
    :class:`~bench.records.SampleLine` s that must carry the record's ``run_id``); this is the
    one place :mod:`bench.stats` reads them.

    Args:
        path: The file.
        record: The record beside it (its ``run_id`` and example count).
        who: The run, for the message when the file is missing.

    Raises:
        MissingSamples: The file is missing or unreadable.
        ComparisonError: The line count differs from the record's example count.
        SamplesMismatch: The file belongs to another run than the record.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MissingSamples(
            f"{path}: no per-example samples ({exc.strerror or exc}), so run {who} cannot be "
            "compared example by example",
            fix="re-run the task to write samples.jsonl beside record.json",
        ) from exc
    lines = read_sample_lines(path, record, text=text)
    units = max(1, len(unit_keys(record)))
    if len(lines) != record.task.n_examples * units:
        per = f" × {units} units" if units > 1 else ""
        raise ComparisonError(
            f"{path}: {len(lines)} lines for {record.task.n_examples} examples{per} in record.json",
            fix="re-run the task; the folder holds files of two different runs",
        )
    return [sample_fields(line) for line in lines]


def sample_fields(line: SampleLine) -> SampleFields:
    """The fields of one sample line that paired tests read."""
    return SampleFields(
        id=line.id,
        reference=line.reference,
        response=line.response,
        scores=line.scores or {},
        segment_stats=line.segment_stats,
        unit=line.unit,
    )


@dataclass
class Run:
    """One run folder: its record and (lazily) its ``samples.jsonl`` lines.

    It is what a metric's paired-test declaration reads
    (:class:`bench.metrics.paired.Examples`).

    Attributes:
        folder: The run folder (``RESULTS/<model>/<task>``).
        record: The validated ``record.json``.
    """

    folder: Path
    record: RunRecord
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        """The model's display name."""
        return self.record.model.name

    @property
    def samples_path(self) -> Path:
        """The run's ``samples.jsonl``."""
        return self.folder / "samples.jsonl"

    @cached_property
    def rows(self) -> list[SampleFields]:
        """The lines of ``samples.jsonl`` (see :func:`read_samples`)."""
        who = f"'{self.name}' on '{self.record.task.name}'"
        return read_samples(self.samples_path, self.record, who)

    @cached_property
    def ids(self) -> list[str]:
        """Example ids in file order (a multi-unit run's: its first unit's)."""
        if self.unit_keys:
            return [v for v in self.unit_views()[0].ids]
        return [r.id for r in self.rows]

    @cached_property
    def unit_keys(self) -> list[str]:
        """The run's unit keys (``[]`` for a run with one unit, see :func:`unit_keys`)."""
        return unit_keys(self.record)

    def unit_views(self) -> list[UnitView]:
        """A multi-unit run's samples split by unit, in the record's unit order.

        Raises:
            ComparisonError: A unit's lines are missing, or list other examples than the first
                unit's, or a line names a unit the record does not have.
        """

        def make() -> list[UnitView]:
            keys = self.unit_keys
            grouped: dict[str, list[SampleFields]] = {k: [] for k in keys}
            for number, row in enumerate(self.rows, 1):
                if row.unit not in grouped:
                    raise ComparisonError(
                        f"{self.samples_path}: line {number} has unit {row.unit!r}, not one of "
                        f"the record's units ({', '.join(keys)})",
                        fix="re-run the task; the folder holds files of two different runs",
                    )
                grouped[row.unit].append(row)
            views = []
            first_ids: list[str] | None = None
            for key in keys:
                rows = grouped[key]
                ids = [r.id for r in rows]
                if first_ids is not None and ids != first_ids:
                    raise ComparisonError(
                        f"{self.samples_path}: unit {key} lists other examples than unit "
                        f"{keys[0]} ({len(ids)} vs {len(first_ids)} lines)",
                        fix="re-run the task; every unit answers every example",
                    )
                first_ids = first_ids or ids
                views.append(
                    UnitView(
                        unit_key=key,
                        example_ids=ids,
                        refs=[r.reference for r in rows],
                        answers=[r.response for r in rows],
                        per_example=[r.scores for r in rows],
                        segments=_unit_segments(rows),
                        run_record=self.record,
                        path=self.samples_path,
                    )
                )
            return views

        return self.memo("unit_views", make)

    def has_scores(self, key: str) -> bool:
        """Whether the samples carry per-example score ``key`` (read from the first line)."""
        return bool(self.rows) and key in self.rows[0].scores

    def scores(self, key: str) -> np.ndarray:
        """Per-example score ``key`` as floats, NaN where the score is ``null``.

        Raises:
            ComparisonError: No example has that score.
        """

        def make() -> np.ndarray:
            values = [r.scores.get(key) for r in self.rows]
            if all(v is None for v in values):
                raise ComparisonError(
                    f"{self.samples_path}: no per-example '{key}' scores",
                    fix="re-run the task with this version of bench",
                )
            return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)

        return self.memo(f"col:{key}", make)

    def references(self) -> list[Any]:
        """Per-example references, as stored."""
        return [r.reference for r in self.rows]

    def responses(self) -> list[Mapping[str, Any] | None]:
        """Per-example responses (``None`` for a failed example)."""
        return [r.response for r in self.rows]

    def stored_statistics(self, metric: str) -> list[Any] | None:
        """The statistic rows stored for ``metric`` (:data:`SEGMENT_STATS`), or ``None`` unless
        every example stores them."""
        stored = []
        for r in self.rows:
            if r.segment_stats is None or metric not in r.segment_stats:
                return None
            stored.append(r.segment_stats[metric])
        return stored

    def memo(self, key: str, make: Callable[[], T]) -> T:
        """A value computed once per run (statistics shared between comparisons)."""
        if key not in self._memo:
            self._memo[key] = make()
        value: T = self._memo[key]
        return value

    def metrics(self) -> tuple[list[Metric], list[str]]:
        """The task's metric objects, rebuilt from the record's ``metric_specs`` through the
        registry, and why any could not be rebuilt (a plugin that is not installed here)."""

        def make() -> tuple[list[Metric], list[str]]:
            from bench.registry import registry

            built: list[Metric] = []
            problems: list[str] = []
            for spec in self.record.task.metric_specs:
                try:
                    cls = registry.get("metric", str(spec.get("name")))
                    built.append(cls(**dict(spec.get("params") or {})))
                except (BenchError, ValidationError) as exc:
                    problems.append(f"metric '{spec.get('name')}' cannot be rebuilt: {exc}")
            return built, problems

        return self.memo("metrics", make)


def _unit_segments(rows: Sequence[SampleFields]) -> dict[str, list[Any]]:
    """The statistic rows every one of ``rows`` stores, by metric."""
    names: set[str] | None = None
    for r in rows:
        have = set(r.segment_stats or {})
        names = have if names is None else names & have
    return {m: [r.segment_stats[m] for r in rows if r.segment_stats] for m in sorted(names or ())}


def load_run(folder: str | Path) -> Run:
    """Read a run folder (``record.json``; ``samples.jsonl`` is read when first needed).

    Raises:
        RecordError: ``record.json`` is missing or invalid.
    """
    folder = Path(folder)
    return Run(folder=folder, record=load_record(folder / "record.json"))


def declaration(run: Run, value: str) -> PairedStatistics | str:
    """The paired-test declaration of metric value ``value`` of ``run``, or why it has none.

    The metric that reports ``value`` is found among the record's metrics
    (``task.metric_specs``). A record written before bench stored them falls back to the
    registered metric named ``value`` with its default parameters, else to the mean of the
    per-example score named ``value`` (what bench compared for such records).
    """
    mv = run.record.metrics[value]
    if isinstance(mv.value, bool) or not isinstance(mv.value, (int, float)):
        return "a table, not a number"
    metrics, problems = run.metrics()
    legacy = not run.record.task.metric_specs
    if legacy:
        from bench.registry import registry

        if ("metric", value) in registry:
            metrics = [registry.get("metric", value)()]
    for metric in metrics:
        declared = metric.paired(value)
        if declared is not None:
            return declared
    if legacy:
        return PerExampleMean(value)
    return "; ".join(problems) or f"no metric of the task declares a paired test for '{value}'"


def _comparable_signature(run: Run, metric: str) -> str:
    value = run.record.metrics[metric]
    try:
        bootstrap = BootstrapConfig.recorded(run.record.bootstrap)
    except (ValidationError, ValueError):
        return value.signature
    return value.signature_without(bootstrap)


def _check_comparable(a: Run, b: Run, metrics: Iterable[str]) -> None:
    ta, tb = a.record.task, b.record.task
    who = f"'{a.name}' ({a.folder}) and '{b.name}' ({b.folder})"
    fix = "compare runs of the same task version on the same data (same --limit and --data)"
    if ta.name != tb.name:
        raise ComparisonError(f"{who} are runs of different tasks ({ta.name}, {tb.name})", fix=fix)
    for label, va, vb in (
        ("task version", ta.version, tb.version),
        ("dataset fingerprint", ta.dataset_fingerprint, tb.dataset_fingerprint),
        ("example count n", ta.n_examples, tb.n_examples),
    ):
        if va != vb:
            raise ComparisonError(
                f"task '{ta.name}': {who} differ in {label} ({va} vs {vb})", fix=fix
            )
    for metric in metrics:
        sa, sb = _comparable_signature(a, metric), _comparable_signature(b, metric)
        if sa != sb:
            raise ComparisonError(
                f"task '{ta.name}', metric '{metric}': {who} have different signatures "
                f"({sa} vs {sb})",
                fix="compare runs scored with the same metric settings and library versions",
            )


def _check_ids(a: Run, b: Run) -> None:
    if a.ids != b.ids:
        first = next((i for i, (x, y) in enumerate(zip(a.ids, b.ids, strict=True)) if x != y), None)
        raise ComparisonError(
            f"task '{a.record.task.name}': '{a.name}' and '{b.name}' list different examples "
            f"(line {first} of samples.jsonl: {a.ids[first or 0]!r} vs {b.ids[first or 0]!r})",
            fix="compare runs made on the same test set",
        )


# --------------------------------------------------------------------------- comparisons


def compare_metric(
    a: Run,
    b: Run,
    metric: str,
    *,
    resamples: int = 1000,
    seed: int = 12345,
    corpus_test: CorpusTest = "bs",
    confidence: float = 0.95,
    want_ci: bool = True,
    ar_trials: int = AR_TRIALS,
) -> Comparison:
    """Compare one metric of two runs of the same task with the metric's paired test.

    Args:
        a: Run A.
        b: Run B.
        metric: A metric value name present in both records.
        resamples: Bootstrap resamples, permutations or randomisation trials.
        seed: Seed of every random draw.
        corpus_test: ``bs`` (paired bootstrap) or ``ar`` (approximate randomisation) for
            BLEU, chrF and TER.
        ar_trials: Trials of approximate randomisation (:data:`~bench.metrics.paired.AR_TRIALS`).
        confidence: Coverage of the difference's interval.
        want_ci: Compute the difference's interval; without it (the tie test needs only the
            p-value) ``ci_low`` and ``ci_high`` are NaN. The p-value is the same either way.

    Raises:
        ComparisonError: The runs are not comparable.
        NoPairedTest: The metric declares no paired test (or its declaration cannot run).
        MissingSamples: A run has no ``samples.jsonl``.
    """
    for run in (a, b):
        if metric not in run.record.metrics:
            raise ComparisonError(
                f"run '{run.name}' ({run.folder}) has no metric '{metric}'"
                f" (it has {', '.join(sorted(run.record.metrics))})",
                fix="choose a metric both runs report",
            )
    _check_comparable(a, b, [metric])
    declared = declaration(a, metric)
    reason = declared if isinstance(declared, str) else declared.unavailable(a)
    if reason is not None or isinstance(declared, str):
        raise NoPairedTest(
            f"metric '{metric}' has no paired test: {reason}", fix="choose another --metric"
        )
    _check_ids(a, b)
    if a.unit_keys or b.unit_keys:
        return _compare_units(
            a,
            b,
            metric,
            declared,
            want_ci=want_ci,
            resamples=resamples,
            seed=seed,
            confidence=confidence,
        )
    options = PairedOptions(
        resamples=resamples,
        seed=seed,
        confidence=confidence,
        want_ci=want_ci,
        corpus_test=corpus_test,
        ar_trials=ar_trials,
    )
    comparison = declared.compare(a, b, metric, options)
    if comparison.n < MIN_CI_N:
        return replace(
            comparison,
            ci_low=math.nan,
            ci_high=math.nan,
            ci_reason=f"n={comparison.n} < {MIN_CI_N}: too few paired examples for a "
            "bootstrap interval",
        )
    return comparison


def _check_units(a: Run, b: Run) -> None:
    """Refuse two runs whose units differ (what differs, and how to fix it)."""
    ka, kb = a.unit_keys or ["default/d0/s0"], b.unit_keys or ["default/d0/s0"]
    if ka == kb:
        return
    only_a = [k for k in ka if k not in kb]
    only_b = [k for k in kb if k not in ka]
    parts = []
    if only_a:
        parts.append(f"only '{a.name}' has {', '.join(only_a)}")
    if only_b:
        parts.append(f"only '{b.name}' has {', '.join(only_b)}")
    if not parts:
        parts.append("they list the same units in another order")
    raise ComparisonError(
        f"task '{a.record.task.name}': '{a.name}' ({a.folder}) and '{b.name}' ({b.folder}) "
        f"were run on different units (prompt variant/exemplar draw/sample): {'; '.join(parts)}",
        fix="compare runs made with the same task file's prompts, fewshot draws and "
        "generation.n (and the same --num-fewshot), or re-run one of them",
    )


def _compare_units(
    a: Run,
    b: Run,
    metric: str,
    declared: PairedStatistics,
    *,
    resamples: int,
    seed: int,
    confidence: float,
    want_ci: bool,
) -> Comparison:
    """The two-level paired comparison of two multi-unit runs with the same units
    (:func:`bench.metrics.units.two_level_difference`)."""
    _check_units(a, b)
    views_a, views_b = a.unit_views(), b.unit_views()
    if views_a[0].ids != views_b[0].ids:
        raise ComparisonError(
            f"task '{a.record.task.name}': '{a.name}' and '{b.name}' list different examples",
            fix="compare runs made on the same test set",
        )

    def values(run: Run) -> list[float]:
        assert run.record.protocol is not None
        out = []
        for u in run.record.protocol.units:
            if metric not in u.metrics:
                raise ComparisonError(
                    f"run '{run.name}' ({run.folder}): unit {Unit(**u.unit).key} has no "
                    f"metric '{metric}'",
                    fix="choose a metric every unit reports",
                )
            out.append(float(u.metrics[metric].value))
        return out

    units = [Unit(**u.unit) for u in a.record.protocol.units] if a.record.protocol else []
    # The tie test asks for up to 1000 resamples but may ask for fewer: taken as given.
    boot = BootstrapConfig.model_construct(resamples=resamples, seed=seed, confidence=confidence)
    result = two_level_difference(
        declared,
        views_a,
        views_b,
        values(a),
        values(b),
        units,
        boot,
        labels=a.record.task.labels,
        metric=_metric_of(a, metric),
        want_ci=want_ci,
    )
    if isinstance(result, str):
        raise NoPairedTest(
            f"metric '{metric}' has no two-level paired test over units: {result}",
            fix="choose another --metric",
        )
    n = len(views_a[0].ids)
    comparison = Comparison(
        metric,
        result.difference,
        result.ci_low,
        result.ci_high,
        result.p_value,
        "two-level-paired-bootstrap",
        result.value_a,
        result.value_b,
        n,
        f"{resamples} resamples of examples × {len(units)} units (variants, draws, samples)",
    )
    if n < MIN_CI_N:
        return replace(
            comparison,
            ci_low=math.nan,
            ci_high=math.nan,
            ci_reason=f"n={n} < {MIN_CI_N}: too few paired examples for a bootstrap interval",
        )
    return comparison


def _metric_of(run: Run, value: str) -> str:
    """The name of the metric of ``run`` that reports ``value`` (where its statistics are
    stored), or ``""``."""
    for metric in run.metrics()[0]:
        if metric.paired(value) is not None:
            return metric.name
    return ""


def pairable_metrics(run: Run) -> tuple[list[str], dict[str, str]]:
    """The metric values of a run that have a paired test, and why the others have none."""
    ok, skipped = [], {}
    for name in run.record.metrics:
        declared = declaration(run, name)
        reason = declared if isinstance(declared, str) else declared.unavailable(run)
        if reason is None:
            ok.append(name)
        else:
            skipped[name] = reason
    return ok, skipped


def compare_runs(
    a: Run | str | Path,
    b: Run | str | Path,
    metrics: Sequence[str] | None = None,
    *,
    resamples: int = 1000,
    seed: int = 12345,
    corpus_test: CorpusTest = "bs",
    ar_trials: int = AR_TRIALS,
) -> dict[str, Comparison]:
    """Compare every (or the named) metric of two runs of one task.

    Args:
        a: Run A (a :class:`Run` or its folder).
        b: Run B.
        metrics: Metric value names (default: every metric with a paired test).
        resamples: Bootstrap resamples / permutations / randomisation trials.
        seed: Seed of every random draw.
        corpus_test: ``bs`` or ``ar`` for BLEU, chrF and TER.
        ar_trials: Trials of approximate randomisation (:data:`~bench.metrics.paired.AR_TRIALS`).

    Returns:
        ``{metric: Comparison}`` without Holm adjustment (see :func:`compare_results`).
    """
    run_a = a if isinstance(a, Run) else load_run(a)
    run_b = b if isinstance(b, Run) else load_run(b)
    names = list(metrics) if metrics else pairable_metrics(run_a)[0]
    from bench.metrics.base import single_blas_thread

    with single_blas_thread():  # the same sums, so the same p-values, on every machine
        return {
            m: compare_metric(
                run_a,
                run_b,
                m,
                resamples=resamples,
                seed=seed,
                corpus_test=corpus_test,
                ar_trials=ar_trials,
            )
            for m in names
        }


def _model_folders(results: Path) -> dict[str, dict[str, Path]]:
    """``{model display name: {task: run folder}}`` under a results folder."""
    out: dict[str, dict[str, Path]] = {}
    for path in sorted(results.glob("*/*/record.json")):
        record = load_record(path)
        # A full run's folder sorts before a limited run's beside it (task@limit-N): kept.
        out.setdefault(record.model.name, {}).setdefault(record.task.name, path.parent)
    return out


def _find_model(models: Mapping[str, dict[str, Path]], name: str, results: Path) -> str:
    if name in models:
        return name
    by_dir = {next(iter(tasks.values())).parent.name: m for m, tasks in models.items() if tasks}
    if name in by_dir:
        return by_dir[name]
    from bench.errors import did_you_mean

    raise ComparisonError(
        f"no runs of model '{name}' under {results}{did_you_mean(name, list(models))}",
        fix=f"use one of {sorted(models)}",
    )


def compare_results(
    results: str | Path,
    model_a: str,
    model_b: str,
    *,
    tasks: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    resamples: int = 1000,
    seed: int = 12345,
    corpus_test: CorpusTest = "bs",
    ar_trials: int = AR_TRIALS,
) -> dict[str, dict[str, Comparison]]:
    """Compare two models over tasks of a results folder, with Holm–Bonferroni across tests.

    Args:
        results: The results folder (``<model>/<task>/record.json`` + ``samples.jsonl``).
        model_a: Model A's display name (or its folder name).
        model_b: Model B's display name.
        tasks: Tasks to compare (default: every task both models ran).
        metrics: Metric names (default: every metric with a paired test, per task).
        resamples: Bootstrap resamples / permutations / randomisation trials.
        seed: Seed of every random draw.
        corpus_test: ``bs`` or ``ar`` for BLEU, chrF and TER.
        ar_trials: Trials of approximate randomisation (:data:`~bench.metrics.paired.AR_TRIALS`).

    Returns:
        ``{task: {metric: Comparison}}``; every comparison's ``p_holm`` is its p-value adjusted
        by Holm's procedure over all the tests returned (all tasks and metrics together).

    Raises:
        ComparisonError: A model or task is missing, or two runs are not comparable.
    """
    root = Path(results)
    if not root.is_dir():
        raise ComparisonError(f"{root}: no such results folder", fix="pass --results of a run")
    models = _model_folders(root)
    name_a, name_b = _find_model(models, model_a, root), _find_model(models, model_b, root)
    common = sorted(set(models[name_a]) & set(models[name_b]))
    wanted = list(tasks) if tasks else common
    if not wanted:
        raise ComparisonError(
            f"'{name_a}' and '{name_b}' have no task in common under {root}",
            fix="run both models on the same tasks",
        )
    out: dict[str, dict[str, Comparison]] = {}
    for task in wanted:
        for name in (name_a, name_b):
            if task not in models[name]:
                raise ComparisonError(
                    f"no run of '{name}' on task '{task}' under {root}",
                    fix=f"tasks both models ran: {', '.join(common) or 'none'}",
                )
        run_a, run_b = load_run(models[name_a][task]), load_run(models[name_b][task])
        chosen = list(metrics) if metrics else pairable_metrics(run_a)[0]
        out[task] = compare_runs(
            run_a,
            run_b,
            chosen,
            resamples=resamples,
            seed=seed,
            corpus_test=corpus_test,
            ar_trials=ar_trials,
        )
    flat = [(t, m) for t, comps in out.items() for m in comps]
    adjusted = holm([out[t][m].p_value for t, m in flat])
    for (t, m), p in zip(flat, adjusted, strict=True):
        c = out[t][m]
        out[t][m] = Comparison(**{**c.__dict__, "p_holm": p})
    return out


# --------------------------------------------------------------------------- leaderboard ties


def tied_with_best(
    runs: Mapping[str, Path],
    metric: str,
    *,
    alpha: float = 0.05,
    resamples: int = 1000,
    seed: int = 12345,
) -> dict[str, float]:
    """The models statistically tied with the best one on ``metric`` (one task).

    The best model is the one with the best recorded value of ``metric`` (highest, or lowest
    for a lower-is-better metric such as TER; on equal values the first in ``runs`` order).
    Every other model is compared with it by the metric's paired test (see the module
    docstring: paired bootstrap for BLEU/chrF/TER, paired randomisation for non-mean
    classification metrics, McNemar for accuracy and exact match, paired permutation for other
    per-example means),
    with ``resamples`` resamples and ``seed``, and the p-values are adjusted with Holm's
    procedure over the ``len(runs) − 1`` comparisons. A model is tied with the best when its
    adjusted p-value is at least ``alpha``.

    Args:
        runs: ``{model display name: run folder}`` (each with ``record.json`` and
            ``samples.jsonl``), all of the same task.
        metric: The metric value name (usually the task's primary metric).
        alpha: The family-wise significance level.
        resamples: Resamples, permutations or trials per test.
        seed: Seed of every random draw.

    Returns:
        ``{model: Holm-adjusted p-value against the best}`` for the best model (``1.0``) and
        every model not significantly worse than it; models significantly worse are absent.

    Raises:
        MissingSamples: A run folder has no ``samples.jsonl`` (the caller may fall back to
            comparing intervals).
        ComparisonError: The runs are of different tasks or test sets, a run lacks
            ``metric``, or the metric has no paired test.
        RecordError: A ``record.json`` is missing or invalid.

    Example:
        >>> # tied_with_best({"a": Path("res/a/sst2"), "b": Path("res/b/sst2")}, "accuracy")
        >>> # {'a': 1.0, 'b': 0.42}
    """
    loaded = [load_run(folder) for folder in runs.values()]
    names = list(runs)
    if not loaded:
        return {}
    for name, run in zip(names, loaded, strict=True):
        if metric not in run.record.metrics:
            raise ComparisonError(
                f"run '{name}' ({run.folder}) has no metric '{metric}'",
                fix="pass a metric every run reports",
            )
    higher = loaded[0].record.metrics[metric].higher_is_better
    values = [float(run.record.metrics[metric].value) for run in loaded]
    best = max(range(len(loaded)), key=lambda i: values[i] if higher else -values[i])
    others = [i for i in range(len(loaded)) if i != best]
    from bench.metrics.base import single_blas_thread

    # The products here are small ((resamples × n) by (n × statistics)): one BLAS thread does
    # each in a fraction of a millisecond, where several threads contend for ~40x longer; and
    # one thread sums in the same order everywhere (see single_blas_thread).
    with single_blas_thread():
        p_values = [
            compare_metric(
                loaded[best],
                loaded[i],
                metric,
                resamples=resamples,
                seed=seed,
                corpus_test="bs",
                want_ci=False,
            ).p_value
            for i in others
        ]
    out = {names[best]: 1.0}
    for i, p in zip(others, holm(p_values), strict=True):
        if p >= alpha:
            out[names[i]] = p
    return out
