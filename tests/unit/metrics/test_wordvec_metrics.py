"""Word-vector metrics: correlations with bootstrap intervals, Williams' test, analogy accuracy."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import stats

from bench.catalog import builtin_tasks_root
from bench.families.wordvec import (
    WordAnalogyRequest,
    WordAnalogyResponse,
    WordSimilarityRequest,
    WordSimilarityResponse,
)
from bench.metrics.base import BootstrapConfig, ScoringContext, score_task
from bench.metrics.paired import McNemar, PairedOptions
from bench.metrics.wordvec import (
    Analogy3CosAdd,
    Analogy3CosMul,
    AnalogyCoverage,
    DependentCorrelation,
    PairCoverage,
    Pearson,
    Spearman,
    _resampled_correlations,
    williams_test,
)
from bench.spec import TaskSpec, load_task


def _spec(name: str, **options: Any) -> TaskSpec:
    spec = load_task(builtin_tasks_root() / "smoke" / f"{name}.yaml")
    return spec.model_copy(update={"options": {**spec.options, **options}})


def _pairs_ctx(
    human: list[float], model: list[float | None], resamples: int = 0, **options: Any
) -> ScoringContext:
    requests = [
        WordSimilarityRequest(id=str(i), language="en", word1=f"a{i}", word2=f"b{i}")
        for i in range(len(human))
    ]
    responses = [WordSimilarityResponse(similarity=m) for m in model]
    return ScoringContext(
        spec=_spec("wordsim-en", **options),
        requests=requests,
        references=human,
        responses=responses,
        bootstrap=BootstrapConfig(resamples=resamples),
    )


def test_correlations_equal_scipy_under_each_oov_policy() -> None:
    rng = np.random.default_rng(0)
    human = rng.uniform(0, 10, 60).round(2).tolist()
    model: list[float | None] = [h / 10 + rng.normal(0, 0.2) for h in human]
    model[3] = model[10] = None  # out of vocabulary
    values, _, per = score_task(_pairs_ctx(human, model), [Spearman(), Pearson(), PairCoverage()])
    keep = [i for i, m in enumerate(model) if m is not None]
    h, y = np.array(human)[keep], np.array([model[i] for i in keep])
    assert values["spearman"].value == stats.spearmanr(h, y).statistic
    assert values["pearson"].value == stats.pearsonr(h, y).statistic
    assert values["spearman"].n == 58 and values["pair_coverage"].value == 58 / 60
    assert per[3]["pair_similarity"] is None and per[3]["pair_covered"] == 0.0
    const = _pairs_ctx(human, model, oov="constant", oov_similarity=0.0)
    values, _, _ = score_task(const, [Spearman()])
    filled = [0.0 if m is None else m for m in model]
    assert values["spearman"].value == stats.spearmanr(human, filled).statistic
    assert values["spearman"].n == 60 and "oov:constant=0" in values["spearman"].signature


def test_bootstrap_intervals_are_seeded_resampled_correlations() -> None:
    rng = np.random.default_rng(1)
    human = rng.uniform(0, 10, 80)
    model = (human / 10 + rng.normal(0, 0.3, 80)).tolist()
    ctx = _pairs_ctx(human.tolist(), model, resamples=300)
    first, _, _ = score_task(ctx, [Spearman()])
    again, _, _ = score_task(_pairs_ctx(human.tolist(), model, resamples=300), [Spearman()])
    v = first["spearman"]
    assert v.ci_low is not None and v.ci_low < v.value < v.ci_high
    assert (v.ci_low, v.ci_high) == (again["spearman"].ci_low, again["spearman"].ci_high)
    # The vectorised resamples equal scipy on each resample.
    idx = ctx.bootstrap.resample_indices(80)[:20]
    y = np.array(model)
    fast = _resampled_correlations("spearman", human, y, idx)
    slow = [stats.spearmanr(human[r], y[r]).statistic for r in idx]
    assert np.allclose(fast, slow, atol=1e-12)


def test_williams_test_is_calibrated_and_detects_a_better_system() -> None:
    rng = np.random.default_rng(2)
    hits = 0
    for _ in range(300):
        h = rng.normal(size=60)
        a = h + rng.normal(0, 1.5, 60)
        b = h + rng.normal(0, 1.5, 60)  # equally good: H0 holds
        r12, r13 = np.corrcoef(h, a)[0, 1], np.corrcoef(h, b)[0, 1]
        _, p = williams_test(r12, r13, np.corrcoef(a, b)[0, 1], 60)
        hits += p < 0.05
    assert 0.02 <= hits / 300 <= 0.09  # about 5% false positives
    h = rng.normal(size=200)
    good, bad = h + rng.normal(0, 0.5, 200), h + rng.normal(0, 2.0, 200)
    t, p = williams_test(
        np.corrcoef(h, good)[0, 1], np.corrcoef(h, bad)[0, 1], np.corrcoef(good, bad)[0, 1], 200
    )
    assert t > 0 and p < 1e-6


class _Run:
    """Per-example data of one run, as :class:`bench.stats.Run` gives a declaration."""

    def __init__(self, human: list[float], sims: list[float | None]) -> None:
        self.human, self.sims = human, sims
        self.record = type("R", (), {"task": type("T", (), {"name": "t"})()})()

    def references(self) -> list[float]:
        return self.human

    def has_scores(self, key: str) -> bool:
        return key == "pair_similarity"

    def scores(self, key: str) -> np.ndarray:
        return np.array([np.nan if s is None else s for s in self.sims], dtype=np.float64)


def test_dependent_correlation_compares_on_pairs_scored_in_both() -> None:
    rng = np.random.default_rng(3)
    human = rng.uniform(0, 10, 100).tolist()
    good: list[float | None] = [h / 10 + rng.normal(0, 0.1) for h in human]
    bad: list[float | None] = [h / 10 + rng.normal(0, 0.6) for h in human]
    good[0] = None
    cmp = DependentCorrelation("spearman").compare(
        _Run(human, good),
        _Run(human, bad),
        "spearman",
        PairedOptions(resamples=200),  # type: ignore[arg-type]
    )
    h, g = np.array(human[1:]), np.array(good[1:])
    assert cmp.n == 99 and cmp.method == "williams"
    assert cmp.value_a == stats.spearmanr(h, g).statistic
    assert cmp.difference == cmp.value_a - cmp.value_b > 0
    assert cmp.p_value < 0.001 and cmp.ci_low > 0
    same = DependentCorrelation("pearson").compare(
        _Run(human, good),
        _Run(human, good),
        "pearson",
        PairedOptions(resamples=200),  # type: ignore[arg-type]
    )
    assert same.p_value == 1.0 and same.difference == 0.0


def _analogy_ctx(
    rows: list[tuple[str, str, str | None, str | None]], **options: Any
) -> ScoringContext:
    """rows: (category, expected, cosadd, cosmul); cosadd None: out of vocabulary, "FAIL": the
    adapter failed."""
    requests, responses = [], []
    for i, (category, d, add, mul) in enumerate(rows):
        requests.append(
            WordAnalogyRequest(
                id=str(i), language="en", a="a", b="b", c="c", d=d, category=category
            )
        )
        responses.append(None if add == "FAIL" else WordAnalogyResponse(cosadd=add, cosmul=mul))
    return ScoringContext(
        spec=_spec("analogy-en", **options),
        requests=requests,
        references=[r[1] for r in rows],
        responses=responses,
        bootstrap=BootstrapConfig(resamples=0),
    )


ROWS = [
    ("capital", "Paris", "paris", "Rome"),  # right by 3CosAdd (case-insensitive)
    ("capital", "Oslo", "Bergen", "Oslo"),
    ("capital", "Rome", None, None),  # out of vocabulary
    ("plural", "cats", "cats", "cats"),
    ("plural", "dogs", "FAIL", None),  # a failure: wrong
]


def test_analogy_accuracy_per_category_case_and_oov_policy() -> None:
    metrics = [Analogy3CosAdd(), Analogy3CosMul(), AnalogyCoverage()]
    values, _, per = score_task(_analogy_ctx(ROWS), metrics)
    assert values["analogy_3cosadd"].value == 2 / 4 and values["analogy_3cosadd"].n == 4
    assert values["analogy_3cosmul"].value == 2 / 4
    assert values["analogy_3cosadd/capital"].value == 1 / 2
    assert values["analogy_3cosadd/plural"].value == 1 / 2
    assert values["analogy_coverage"].value == 3 / 5
    assert per[2]["correct_3cosadd"] is None and per[4]["correct_3cosadd"] == 0.0
    wrong, _, _ = score_task(_analogy_ctx(ROWS, oov="wrong"), metrics)
    assert wrong["analogy_3cosadd"].value == 2 / 5
    cased, _, _ = score_task(_analogy_ctx(ROWS, case_insensitive=False), metrics)
    assert cased["analogy_3cosadd"].value == 1 / 4  # 'paris' is not 'Paris'
    assert isinstance(Analogy3CosAdd().paired("analogy_3cosadd"), McNemar)
    assert Analogy3CosAdd().paired("analogy_3cosadd/capital") is not None


def test_cosmul_is_unavailable_without_cosmul_answers() -> None:
    rows = [("c", "x", "x", None), ("c", "y", "z", None)]
    values, skipped, _ = score_task(_analogy_ctx(rows), [Analogy3CosAdd(), Analogy3CosMul()])
    assert values["analogy_3cosadd"].value == 0.5
    assert "analogy_3cosmul" in skipped


@pytest.mark.parametrize("metric", [Spearman(), Pearson()])
def test_too_few_pairs_is_unavailable_not_nan(metric: Any) -> None:
    _, skipped, _ = score_task(_pairs_ctx([1.0, 2.0, 3.0], [0.1, None, None]), [metric])
    assert "only 1 of 3 pairs" in skipped[metric.name]


def test_the_docstring_examples_run() -> None:
    import doctest

    import bench.adapters.vectors
    import bench.families.wordvec
    import bench.metrics.wordvec

    for module in (bench.metrics.wordvec, bench.families.wordvec, bench.adapters.vectors):
        result = doctest.testmod(module)
        assert result.attempted >= 2 and result.failed == 0, module.__name__
