"""Classification metrics through scikit-learn, with vectorised bootstrap intervals.

Point values come from scikit-learn. Intervals come from a percentile bootstrap over
(prediction, label) pairs: a resample of the n pairs with replacement has multinomial confusion
counts (n trials, the observed cell frequencies), so each resample's confusion matrix is drawn
directly as one multinomial vector (the cost does not grow with n) and the metric is read off
it with the same formulas scikit-learn uses (a test checks that the
confusion-matrix formulas reproduce scikit-learn's values exactly).

Choices stated once for every metric here (and in each signature):

* A missing or out-of-label-set prediction is its own column ``(none)``: it is never counted as
  correct, it is a false negative for the gold class, and it is a false positive for no class.
* Averages are over the task's label set (``labels=`` in scikit-learn), in the task's order.
* ``zero_division=0``: a precision, recall or F1 whose denominator is 0 is 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from bench.metrics.base import Metric, MetricValue, ScoringContext, percentile_ci
from bench.metrics.paired import (
    Comparison,
    ComparisonError,
    Examples,
    McNemar,
    PairedOptions,
    SufficientStatistics,
    Untestable,
)

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "ECE",
    "MCC",
    "Accuracy",
    "ConfusionMatrix",
    "ConfusionPaired",
    "MacroF1",
    "PerClass",
]

NONE_LABEL = "(none)"


def _sklearn_version() -> str:
    import sklearn

    return str(sklearn.__version__)


def _labels(ctx: ScoringContext) -> list[str]:
    return list(ctx.spec.labels or [])


def _encoded(ctx: ScoringContext) -> tuple[np.ndarray, np.ndarray, int]:
    """Gold and predicted label indices; index ``K`` is ``(none)``."""
    import numpy as np

    if "cls.encoded" not in ctx.memo:
        labels = _labels(ctx)
        index = {label: i for i, label in enumerate(labels)}
        k = len(labels)
        gold = np.fromiter((index[r] for r in ctx.references), dtype=np.int64, count=ctx.n)
        pred = np.fromiter(
            (
                index.get(getattr(resp, "label", None) or "", k) if resp is not None else k
                for resp in ctx.responses
            ),
            dtype=np.int64,
            count=ctx.n,
        )
        ctx.memo["cls.encoded"] = (gold, pred, k)
    encoded: tuple[np.ndarray, np.ndarray, int] = ctx.memo["cls.encoded"]
    return encoded


def _string_labels(ctx: ScoringContext) -> tuple[list[str], list[str]]:
    gold, pred, _ = _encoded(ctx)
    names = [*_labels(ctx), NONE_LABEL]
    return [names[i] for i in gold], [names[i] for i in pred]


def _boot_confusions(ctx: ScoringContext) -> np.ndarray | None:
    """``(B, K+1, K+1)`` confusion matrices of the bootstrap resamples (rows gold, cols pred)."""
    import numpy as np

    if ctx.bootstrap.resamples == 0 or ctx.n == 0:
        return None
    if "cls.boot" not in ctx.memo:
        gold, pred, k = _encoded(ctx)
        size = k + 1
        cells = np.bincount(gold * size + pred, minlength=size * size)
        # Resampling n (label, prediction) pairs with replacement gives confusion counts that
        # are exactly multinomial(n, observed cell frequencies): draw those directly, in
        # O(resamples × cells) instead of O(resamples × n).
        rng = np.random.default_rng(ctx.bootstrap.seed)
        counts = rng.multinomial(ctx.n, cells / ctx.n, size=ctx.bootstrap.resamples)
        ctx.memo["cls.boot"] = counts.reshape(-1, size, size).astype(np.float64)
    boot: np.ndarray = ctx.memo["cls.boot"]
    return boot


def _ci(ctx: ScoringContext, samples: np.ndarray | None) -> tuple[float | None, float | None]:
    if samples is None:
        return None, None
    return percentile_ci(samples, ctx.bootstrap.confidence)


def _prf_from_confusion(conf: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall, F1 (zero_division=0) from ``(..., K+1, K+1)`` matrices."""
    import numpy as np

    tp = np.diagonal(conf, axis1=-2, axis2=-1)[..., :k]
    pred_k = conf.sum(axis=-2)[..., :k]
    gold_k = conf.sum(axis=-1)[..., :k]
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(pred_k > 0, tp / np.where(pred_k > 0, pred_k, 1), 0.0)
        recall = np.where(gold_k > 0, tp / np.where(gold_k > 0, gold_k, 1), 0.0)
        denom = pred_k + gold_k
        f1 = np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), 0.0)
    return precision, recall, f1


def _mcc_from_confusion(conf: np.ndarray) -> np.ndarray:
    """Multiclass MCC (Gorodkin's R_K, as scikit-learn computes it); 0 when undefined."""
    import numpy as np

    t = conf.sum(axis=-1)
    p = conf.sum(axis=-2)
    c = np.trace(conf, axis1=-2, axis2=-1)
    s = conf.sum(axis=(-2, -1))
    cov_ytyp = c * s - (t * p).sum(axis=-1)
    cov_ypyp = s**2 - (p * p).sum(axis=-1)
    cov_ytyt = s**2 - (t * t).sum(axis=-1)
    denom = np.sqrt(cov_ytyt * cov_ypyp)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, cov_ytyp / np.where(denom > 0, denom, 1), 0.0)


def _macro_f1(conf: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    import numpy as np

    return np.asarray(_prf_from_confusion(conf, len(labels))[2].mean(axis=-1))


def _mcc(conf: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    import numpy as np

    return np.asarray(_mcc_from_confusion(conf))


def _class_score(conf: np.ndarray, labels: Sequence[str], *, which: int, label: str) -> np.ndarray:
    import numpy as np

    return np.asarray(_prf_from_confusion(conf, len(labels))[which][:, list(labels).index(label)])


_PER_CLASS = ("precision", "recall", "f1")


@dataclass(frozen=True)
class ConfusionPaired(SufficientStatistics):
    """A value read off the confusion matrix (macro-F1, MCC, per-class P/R/F1): each example
    contributes one cell of the ``(K+1) × (K+1)`` matrix (gold row, predicted column, the last
    column for ``(none)``), so a resample's matrix is the sum of its examples' one-hot cells and
    the paired bootstrap resamples cells, as sacrebleu's resamples segment statistics (the
    difference's interval). The p-value is the paired randomisation test's
    (:func:`~bench.metrics.paired.paired_randomization`: each example's cells swapped between
    the systems), so equal values give ``p = 1``; sacrebleu's centred bootstrap p-value, made
    for BLEU, reads about 0.4 there.

    The label set is the task's, as the record names it (``task.labels``); both runs must have
    the same gold labels.

    Attributes:
        read: ``(B, K+1, K+1)`` confusion matrices and the labels → the ``(B,)`` values.
        labels: The label set (bound from the runs' record when comparing).
    """

    read: Callable[[np.ndarray, Sequence[str]], np.ndarray]
    labels: tuple[str, ...] = ()

    p_test: ClassVar[Literal["paired-bootstrap", "paired-randomization"]] = "paired-randomization"

    def unavailable(self, run: Examples) -> str | None:
        if not run.record.task.labels:
            return "the record names no label set (written by an older bench)"
        return None

    def compare(self, a: Examples, b: Examples, value: str, options: PairedOptions) -> Comparison:
        reason = self.unavailable(a) or self.unavailable(b)
        if reason:
            raise ComparisonError(
                f"task '{a.record.task.name}', metric '{value}': {reason}",
                fix="re-run the task with this version of bench",
            )
        bound = replace(self, labels=tuple(a.record.task.labels or ()))
        return SufficientStatistics.compare(bound, a, b, value, options)

    def score(self, sums: np.ndarray) -> np.ndarray:
        size = len(self.labels) + 1
        return self.read(sums.reshape(-1, size, size), self.labels)

    def encoded(self, run: Examples) -> tuple[np.ndarray, np.ndarray]:
        """Gold and predicted label indices of ``run`` (``K``: no or an unknown label)."""
        import numpy as np

        def make() -> tuple[np.ndarray, np.ndarray]:
            index = {label: i for i, label in enumerate(self.labels)}
            k = len(self.labels)
            gold, pred = [], []
            for i, (ref, response) in enumerate(
                zip(run.references(), run.responses(), strict=True)
            ):
                if ref not in index:
                    raise ComparisonError(
                        f"{run.samples_path}: example {run.ids[i]!r} has gold label {ref!r}, "
                        f"not one of {list(self.labels)}",
                        fix="re-run the task",
                    )
                gold.append(index[ref])
                label = response.get("label") if response is not None else None
                pred.append(index.get(label, k) if isinstance(label, str) else k)
            return np.asarray(gold, dtype=np.int64), np.asarray(pred, dtype=np.int64)

        pairs: tuple[np.ndarray, np.ndarray] = run.memo(f"cls:{','.join(self.labels)}", make)
        return pairs

    def rows(self, run: Examples) -> np.ndarray:
        import numpy as np

        gold, pred = self.encoded(run)
        size = len(self.labels) + 1
        cells = np.zeros((gold.size, size * size), dtype=np.float64)
        cells[np.arange(gold.size), gold * size + pred] = 1.0
        return cells

    def check_pair(self, a: Examples, b: Examples) -> None:
        import numpy as np

        if not np.array_equal(self.encoded(a)[0], self.encoded(b)[0]):
            raise ComparisonError(
                f"task '{a.record.task.name}': '{a.record.model.name}' and "
                f"'{b.record.model.name}' have different gold labels",
                fix="compare runs made on the same test set",
            )


class _ClassificationMetric(Metric):
    families: ClassVar[tuple[str, ...]] = ("sentiment",)

    def _signature(self, ctx: ScoringContext, extra: str = "") -> str:
        parts = [
            f"{self.name}",
            f"labels:{','.join(_labels(ctx))}",
            "invalid:miss",
            "zero_division:0",
        ]
        if extra:
            parts.append(extra)
        parts += [ctx.bootstrap.tag(), f"sklearn:{_sklearn_version()}", f"v:{self.version}"]
        return "|".join(parts)


class Accuracy(_ClassificationMetric):
    """Accuracy: the fraction of examples whose predicted label equals the gold label.

    ``sklearn.metrics.accuracy_score``; a missing prediction counts as wrong.

    Example:
        >>> # 3 of 4 right -> 0.75 (see tests/unit/metrics for a runnable version)
    """

    name: ClassVar[str] = "accuracy"

    def score(self, ctx: ScoringContext) -> list[MetricValue]:
        import numpy as np
        from sklearn.metrics import accuracy_score

        gold, pred, _ = _encoded(ctx)  # label indices: the same value as the label strings
        value = float(accuracy_score(gold, pred)) if ctx.n else float("nan")
        boot = _boot_confusions(ctx)
        samples = None
        if boot is not None:
            samples = np.trace(boot, axis1=1, axis2=2) / ctx.n
        low, high = _ci(ctx, samples)
        return [
            MetricValue(
                name="accuracy",
                value=value,
                n=ctx.n,
                ci_low=low,
                ci_high=high,
                signature=self._signature(ctx),
            )
        ]

    def per_example(self, ctx: ScoringContext) -> dict[str, Any]:
        import numpy as np

        gold, pred, _ = _encoded(ctx)
        return {"correct": (gold == pred).astype(np.float64)}  # 1.0 or 0.0, as a column

    def paired(self, value: str) -> McNemar | None:
        """McNemar's test on the per-example ``correct`` scores."""
        return McNemar("correct") if value == self.name else None


class MacroF1(_ClassificationMetric):
    """Macro-averaged F1: the unweighted mean of per-class F1 over the task's labels.

    ``sklearn.metrics.f1_score(average="macro", labels=task_labels, zero_division=0)``.
    """

    name: ClassVar[str] = "macro_f1"

    def paired(self, value: str) -> ConfusionPaired | None:
        """Paired randomisation over the examples' confusion cells (bootstrap interval)."""
        return ConfusionPaired(_macro_f1) if value == self.name else None

    def score(self, ctx: ScoringContext) -> list[MetricValue]:
        from sklearn.metrics import f1_score

        # Label indices (labels 0..K-1, K for "(none)"): the same counts, in the same order, as
        # the label strings, without n Python strings.
        gold, pred, k = _encoded(ctx)
        labels = _labels(ctx)
        value = (
            float(f1_score(gold, pred, labels=list(range(k)), average="macro", zero_division=0))
            if ctx.n
            else float("nan")
        )
        boot = _boot_confusions(ctx)
        samples = None
        if boot is not None:
            samples = _prf_from_confusion(boot, len(labels))[2].mean(axis=-1)
        low, high = _ci(ctx, samples)
        return [
            MetricValue(
                name="macro_f1",
                value=value,
                n=ctx.n,
                ci_low=low,
                ci_high=high,
                signature=self._signature(ctx, "average:macro"),
            )
        ]


class PerClass(_ClassificationMetric):
    """Per-class precision, recall and F1 for every label (``precision/<label>`` etc.).

    ``sklearn.metrics.precision_recall_fscore_support(labels=task_labels, zero_division=0)``.
    """

    name: ClassVar[str] = "per_class"

    def paired(self, value: str) -> ConfusionPaired | None:
        """``precision/<label>``, ``recall/<label>``, ``f1/<label>``: paired randomisation over
        examples' confusion cells."""
        which, _, label = value.partition("/")
        if which not in _PER_CLASS or not label:
            return None
        return ConfusionPaired(partial(_class_score, which=_PER_CLASS.index(which), label=label))

    def score(self, ctx: ScoringContext) -> list[MetricValue]:
        from sklearn.metrics import precision_recall_fscore_support

        gold, pred, k = _encoded(ctx)  # label indices, as in MacroF1
        labels = _labels(ctx)
        p, r, f, support = precision_recall_fscore_support(
            gold, pred, labels=list(range(k)), average=None, zero_division=0
        )
        boot = _boot_confusions(ctx)
        boot_prf = _prf_from_confusion(boot, len(labels)) if boot is not None else None
        out = []
        for which, values in (("precision", p), ("recall", r), ("f1", f)):
            for i, label in enumerate(labels):
                samples = None
                if boot_prf is not None:
                    samples = boot_prf[("precision", "recall", "f1").index(which)][:, i]
                low, high = _ci(ctx, samples)
                out.append(
                    MetricValue(
                        name=f"{which}/{label}",
                        value=float(values[i]),
                        n=int(support[i]),
                        ci_low=low,
                        ci_high=high,
                        signature=self._signature(ctx, f"{which}:{label}"),
                    )
                )
        return out


class MCC(_ClassificationMetric):
    """Matthews correlation coefficient (multiclass R_K), in [-1, 1].

    ``sklearn.metrics.matthews_corrcoef``; ``(none)`` predictions take part as their own class.
    """

    name: ClassVar[str] = "mcc"
    range: ClassVar[tuple[float, float]] = (-1.0, 1.0)

    def paired(self, value: str) -> ConfusionPaired | None:
        """Paired randomisation over the examples' confusion cells (bootstrap interval)."""
        return ConfusionPaired(_mcc) if value == self.name else None

    def score(self, ctx: ScoringContext) -> list[MetricValue]:
        from sklearn.metrics import matthews_corrcoef

        gold, pred = _string_labels(ctx)
        value = float(matthews_corrcoef(gold, pred)) if ctx.n else float("nan")
        boot = _boot_confusions(ctx)
        low, high = _ci(ctx, _mcc_from_confusion(boot) if boot is not None else None)
        return [
            MetricValue(
                name="mcc",
                value=value,
                n=ctx.n,
                ci_low=low,
                ci_high=high,
                signature=self._signature(ctx),
            )
        ]


class ConfusionMatrix(_ClassificationMetric):
    """The confusion matrix: rows are gold labels, columns predicted labels plus ``(none)``.

    ``sklearn.metrics.confusion_matrix``. A table, so it has no interval.
    """

    name: ClassVar[str] = "confusion_matrix"

    def paired(self, value: str) -> Untestable | None:
        """A table: no paired test."""
        return Untestable("a table, not a number") if value == self.name else None

    def score(self, ctx: ScoringContext) -> list[MetricValue]:
        from sklearn.metrics import confusion_matrix

        gold, pred, k = _encoded(ctx)  # label indices, as in MacroF1
        labels = _labels(ctx)
        matrix = confusion_matrix(gold, pred, labels=list(range(k + 1)))[: len(labels)]
        table: dict[str, Any] = {
            "gold": labels,
            "predicted": [*labels, NONE_LABEL],
            "matrix": matrix.tolist(),
        }
        return [
            MetricValue(
                name="confusion_matrix", value=table, n=ctx.n, signature=self._signature(ctx)
            )
        ]


class ECE(_ClassificationMetric):
    """Expected calibration error (Guo et al., 2017), lower is better.

    Confidence is the probability the model gave its predicted label; examples are put in
    ``bins`` equal-width bins over (0, 1] and ECE = Σ_b (|b|/n) · |accuracy(b) − confidence(b)|.
    Computed over the examples whose response carries probabilities (``n`` says how many); when
    none does, the metric is reported as unavailable rather than given a value.
    """

    name: ClassVar[str] = "ece"
    higher_is_better: ClassVar[bool] = False
    bins: int = Field(default=15, ge=1, le=1000)

    def paired(self, value: str) -> Untestable | None:
        """A sum of per-bin gaps, not a mean of per-example scores: no paired test."""
        if value != self.name:
            return None
        return Untestable("not a mean of paired per-example scores")

    def unavailable(self, ctx: ScoringContext) -> str | None:
        if not any(getattr(r, "probabilities", None) for r in ctx.responses if r is not None):
            return "the adapter gave no class probabilities"
        return None

    def _stats(self, ctx: ScoringContext) -> tuple[np.ndarray, np.ndarray]:
        import numpy as np

        gold, pred, _ = _encoded(ctx)
        labels = _labels(ctx)
        conf, correct = [], []
        for i, resp in enumerate(ctx.responses):
            probs = getattr(resp, "probabilities", None) if resp is not None else None
            if not probs:
                continue
            predicted = labels[pred[i]] if pred[i] < len(labels) else None
            conf.append(float(probs.get(predicted, 0.0)) if predicted else 0.0)
            correct.append(float(gold[i] == pred[i]))
        return np.asarray(conf), np.asarray(correct)

    def _bin_of(self, conf: np.ndarray) -> np.ndarray:
        # Bins (0, 1/B], (1/B, 2/B], ...; a confidence of exactly 0 goes to the first bin.
        import numpy as np

        return np.clip(np.ceil(conf * self.bins).astype(np.int64) - 1, 0, self.bins - 1)

    def score(self, ctx: ScoringContext) -> list[MetricValue]:
        import numpy as np

        conf, correct = self._stats(ctx)
        m = conf.size
        gap = correct - conf
        bins = self._bin_of(conf)
        # Exactly rounded sums (fsum), so the value does not depend on the examples' order.
        value = math.fsum(abs(math.fsum(gap[bins == b])) for b in range(self.bins)) / m
        samples = None
        if ctx.bootstrap.resamples:
            idx = np.random.default_rng(ctx.bootstrap.seed).integers(
                0, m, size=(ctx.bootstrap.resamples, m)
            )
            b = idx.shape[0]
            flat = bins[idx] + (np.arange(b) * self.bins)[:, None]
            sums = np.bincount(flat.ravel(), weights=gap[idx].ravel(), minlength=b * self.bins)
            samples = np.abs(sums.reshape(b, self.bins)).sum(axis=1) / m
        low, high = _ci(ctx, samples)
        return [
            MetricValue(
                name="ece",
                value=value,
                n=m,
                ci_low=low,
                ci_high=high,
                signature=self._signature(ctx, f"bins:{self.bins}|conf:p(pred)"),
                higher_is_better=False,
            )
        ]
